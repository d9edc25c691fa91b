"""App logic without Streamlit: each page's URL state, the live form and presets, the server's
memory janitor. pages/ draws what these compute; nothing here imports Streamlit."""
