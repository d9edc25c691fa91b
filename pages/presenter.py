"""Presenter mode (``?present=1`` or the sidebar switch): type and charts that read from the
back of a room, less chrome, and a guided story through the pages in teaching order.

streamlit_app.py calls ``follow_story()``, ``presenter_switch()`` and ``story_bar()`` on every
run; Home calls ``story_panel()``. Pages read the flag as ``st.session_state.get("present")``.
"""

from __future__ import annotations

import streamlit as st

from pages.links import app_params, entered, show_warnings
from pages.nav import PAGES as STORY  # the story is the page list, in its order
from pages.nav import position
from pg.app.state import AppState, from_query

_GOTO = "_story_goto"  # the page a story button asked for


# Streamlit sizes nearly everything in rem, so a larger root font scales type, widgets and
# spacing together; metric values and the title get a little more. The header stays (it holds
# the button that reopens a collapsed sidebar), transparent.
CSS = """<style>
html { font-size: 22px; }
[data-testid="stDecoration"], [data-testid="stToolbar"], [data-testid="stMainMenu"] { display: none; }
[data-testid="stHeader"] { background: transparent; }
[data-testid="stMainBlockContainer"] { max-width: 100%; padding: 2.5rem 2.5rem 4rem; }
[data-testid="stMetricValue"] { font-size: 2.6rem; }
[data-testid="stMetricLabel"] p { font-size: 1rem; }
[data-testid="stCaptionContainer"] { font-size: 0.9rem; }
h1 { font-size: 2.9rem !important; }
.st-key-story_panel [data-testid="stPageLink"] a { padding: 0; }
.st-key-story_panel [data-testid="stPageLink"] p { font-size: 1rem; }
</style>"""


def presenter_switch() -> bool:
    """The sidebar switch (key "present"), set from ``?present=`` when a link opens a page
    (a page switch clears the URL: the mode carries on); in presenter mode, the CSS.
    Returns whether presenter mode is on."""
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
        help="Large type and charts for a projector, less chrome, and a guided story "
        "through the pages (Next and Back). The same as ?present=1 in the link.",
    )
    if ss["present"]:
        st.html(CSS)
    return ss["present"]


def _buttons(k: int, where) -> None:
    """Back and Next: each asks for the story's previous or next page (``follow_story``)."""
    back, forward = where
    back.button(
        "Back",
        key="story_back",
        icon=":material/arrow_back:",
        disabled=k == 0,
        width="stretch",
        on_click=_go,
        args=(STORY[max(k - 1, 0)].script,),
    )
    last = k == len(STORY) - 1
    forward.button(
        "The end" if last else f"Next: {STORY[k + 1].title}",
        key="story_next",
        type="primary",
        icon=":material/arrow_forward:",
        icon_position="right",
        disabled=last,
        width="stretch",
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
    """On a page of the story other than Home: where we are, the notes, Back and Next."""
    k = position(url_path)
    if k <= 0:
        return
    with st.container(border=True, key="story_bar"):
        where, notes, back, forward = st.columns([3.2, 1, 1, 2.2], vertical_alignment="center")
        where.markdown(f"**Story: step {k + 1} of {len(STORY)}** · {STORY[k].title}")
        with notes.popover("Notes", icon=":material/sticky_note_2:", width="stretch"):
            st.markdown(STORY[k].notes)
        _buttons(k, (back, forward))


def story_panel() -> None:
    """Home in presenter mode: the story's stops in teaching order, what to show at each."""
    with st.container(border=True, key="story_panel"):
        st.subheader("The story", anchor=False)
        for k, stop in enumerate(STORY):
            title, notes = st.columns([1, 3.4], vertical_alignment="top")
            if k == 0:
                title.markdown(f"**{k + 1}. {stop.title}** (here)")
            else:
                title.page_link(stop.script, label=f"**{k + 1}. {stop.title}**")
            notes.markdown(stop.notes)
        _, back, forward = st.columns([3.2, 1, 2.2])
        _buttons(0, (back, forward))
