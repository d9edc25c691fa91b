"""Policy Gradients, Visually: the entry point. ``streamlit run streamlit_app.py``

Page config, the navigation over the one page list (pages/nav.py), the shared sidebar and
presenter mode. Everything a page computes comes from the NumPy core in pg/; the pages only read
widgets and draw.
"""

from pathlib import Path

import streamlit as st

from pages.nav import navigation_pages
from pages.presenter import follow_story, presenter_switch, story_bar
from pages.shared import memory_janitor
from pages.visit import note_page

st.set_page_config(
    page_title="Policy Gradients, Visually",
    page_icon=str(Path(__file__).parent / "assets" / "favicon.png"),  # local: no CDN fetch
    layout="wide",
)


memory_janitor()  # one per server: what finished sessions freed goes back to the system
navigation = st.navigation(navigation_pages())
follow_story()  # a story Next or Back was clicked: go there
note_page(navigation.url_path)  # a new visit to a page reads its settings from the URL (pages/links.py)
with st.sidebar:
    st.caption("REINFORCE on CartPole, in NumPy, with every number computed on the page.")
presenting = presenter_switch()  # ?present=1 or the sidebar switch: large type, the guided story
# Presenter mode folds the sidebar away (the header's button reopens it); otherwise "auto" shows
# it on a desktop and keeps it closed on a phone, where it would open over the page. One call per
# run, after the mode is known: two calls would fold and unfold it on every rerun.
st.set_page_config(initial_sidebar_state="collapsed" if presenting else "auto")
if presenting:
    story_bar(navigation.url_path)
navigation.run()
