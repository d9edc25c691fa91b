"""Presenter mode (``?present=1`` or the sidebar switch): type and charts that read from the
back of a room, less chrome, and a guided story through the pages in teaching order.

streamlit_app.py calls ``follow_story()``, ``presenter_switch()`` and ``story_bar()`` on every
run; Home calls ``story_panel()``. Pages read the flag as ``st.session_state.get("present")``.
"""

from __future__ import annotations

import streamlit as st

from pages.links import app_params, show_warnings
from pages.nav import PAGES as STORY  # the story is the page list, in its order
from pages.nav import position
from pages.visit import entered
from pg.app.state import AppState, from_query

_GOTO = "_story_goto"  # the page a story button asked for


# Streamlit sizes nearly everything in rem, so a larger root font scales type, widgets and
# spacing together. It grows with the viewport's width (about 21 px at 1280x720, 25 px at
# 1920x1080): a fixed 22 px cut equations, metrics and button labels off at 1280 wide. Metric
# values shrink with their own column (a container query) so a number is never cut to "-3.…".
# The header and its toolbar stay: the toolbar holds the button that reopens the sidebar,
# folded away in this mode (only the toolbar's actions and the menu go).
CSS = """<style>
html { font-size: clamp(18px, calc(11px + 0.75vw), 28px); }
[data-testid="stDecoration"], [data-testid="stToolbarActions"], [data-testid="stMainMenu"] { display: none; }
[data-testid="stHeader"] { background: transparent; }
[data-testid="stMainBlockContainer"] { max-width: 100%; padding: 2.5rem 2.5rem 4rem; }
[data-testid="stMetric"] { container-type: inline-size; }
[data-testid="stMetricValue"] { font-size: min(2.6rem, 28cqi); }
[data-testid="stMetricLabel"] p { font-size: 1rem; }
[data-testid="stCaptionContainer"] { font-size: 0.9rem; }
h1 { font-size: 2.9rem !important; }
.st-key-story_panel [data-testid="stPageLink"] a { padding: 0; }
.st-key-story_panel [data-testid="stPageLink"] p { font-size: 1rem; }
</style>"""

# On every screen: a display equation is never wider than a phone (KaTeX's 1.21em, down to
# 4.1% of the viewport's width, which fits Home's equation in 390 px), and one that is still
# too wide for its column scrolls sideways instead of being cut.
SCREEN_CSS = """<style>
.katex-display > .katex { font-size: min(1.21em, 4.1vw); }
.katex-display { overflow-x: auto; overflow-y: hidden; }
</style>"""


def presenter_switch() -> bool:
    """The sidebar switch (key "present"), set from ``?present=`` when a link opens a page
    (a page switch clears the URL: the mode carries on); the CSS of every screen and, in
    presenter mode, the presenter's. Returns whether presenter mode is on (streamlit_app.py
    then collapses the sidebar)."""
    ss = st.session_state
    params = app_params()
    if "present" not in ss or (entered() and params):
        state, warnings = from_query(AppState, params)
        if "present" not in ss or not warnings:
            ss["present"] = state.present
        show_warnings(warnings)
    st.sidebar.toggle(
        "Presenter mode",
        key="present",
        help="Large type and charts for a projector, the sidebar folded away, and a guided story "
        "through the pages (Next and Back). The same as ?present=1 in the link.",
    )
    st.html(SCREEN_CSS + (CSS if ss["present"] else ""))
    return ss["present"]


def _buttons(k: int) -> None:
    """Back and Next, as wide as their labels: each asks for the story's previous or next page
    (``follow_story``)."""
    st.button(
        "Back",
        key="story_back",
        icon=":material/arrow_back:",
        disabled=k == 0,
        on_click=_go,
        args=(STORY[max(k - 1, 0)].script,),
    )
    last = k == len(STORY) - 1
    st.button(
        "The end" if last else f"Next: {STORY[k + 1].title}",
        key="story_next",
        type="primary",
        icon=":material/arrow_forward:",
        icon_position="right",
        disabled=last,
        on_click=_go,
        args=(STORY[min(k + 1, len(STORY) - 1)].script,),
    )


def _go(path: str) -> None:
    st.session_state[_GOTO] = path


def follow_story() -> None:
    """Switch to the page a story button asked for. The buttons only note it (in a callback,
    which no rerun can lose); streamlit_app.py calls this once st.navigation has run."""
    path = st.session_state.pop(_GOTO, None)
    if path is not None:  # the story is told in presenter mode: the next page's link says so
        st.switch_page(path, query_params={"present": "1"})


def story_bar(url_path: str) -> None:
    """On a page of the story other than Home: where we are, the notes (a popover: the
    presenter opens it, the room does not see it by default), Back and Next. One row that wraps
    rather than squeezing a label to "N…"."""
    k = position(url_path)
    if k <= 0:
        return
    with st.container(border=True, key="story_bar", horizontal=True, vertical_alignment="center"):
        st.markdown(f"**Story: step {k + 1} of {len(STORY)}** · {STORY[k].title}", width="stretch")
        with st.popover("Notes", icon=":material/sticky_note_2:", help="What to say here: for the presenter"):
            st.markdown(STORY[k].notes)
        _buttons(k)


def story_panel() -> None:
    """Home in presenter mode: the story's stops in teaching order, each with the line the room
    may read; what to say at each is in "Speaker notes", closed until the presenter opens it."""
    with st.container(border=True, key="story_panel"):
        st.subheader("The story", anchor=False)
        for k, stop in enumerate(STORY):
            with st.container(horizontal=True, gap="small"):
                if k == 0:
                    st.markdown(f"**{k + 1}. {stop.title}** (here)")
                else:
                    st.page_link(stop.script, label=f"**{k + 1}. {stop.title}**")
                st.markdown(stop.blurb, width="stretch")
        with st.expander("Speaker notes", icon=":material/sticky_note_2:", key="story_notes"):
            for stop in STORY:
                st.markdown(f"**{stop.title}.** {stop.notes}")
        with st.container(horizontal=True, horizontal_alignment="right", key="story_buttons"):
            _buttons(0)
