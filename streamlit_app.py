"""Policy Gradients, Visually: the entry point. ``streamlit run streamlit_app.py``

Page config, the page list (st.navigation over pages/) and the shared sidebar. Everything a
page computes comes from the NumPy core in pg/; the pages only read widgets and draw.
"""

from pathlib import Path

import streamlit as st

st.set_page_config(
    page_title="Policy Gradients, Visually",
    page_icon=str(Path(__file__).parent / "assets" / "favicon.png"),  # local: no CDN fetch
    layout="wide",
    initial_sidebar_state="expanded",
)

PAGES = [
    st.Page("pages/home.py", title="Home", icon=":material/home:", default=True),
    st.Page("pages/theorem.py", title="The gradient theorem", icon=":material/functions:"),
    st.Page("pages/train.py", title="Live training", icon=":material/monitoring:"),
    st.Page("pages/heatmap.py", title="Policy heatmap", icon=":material/grid_on:"),
    st.Page("pages/replay.py", title="Replay", icon=":material/movie:"),
]

navigation = st.navigation(PAGES)
with st.sidebar:
    st.caption("REINFORCE on CartPole, in NumPy, with every number computed on the page.")
navigation.run()
