"""Which run of a session is the first of a visit to a page: then, and only then, the URL is the
link the visitor opened (st.navigation clears the query string on every page switch, so later
reruns never read a stale URL back). streamlit_app.py calls ``note_page`` before every page runs;
pages/links.py and pages/linked_run.py ask ``entered``."""

from __future__ import annotations

import streamlit as st

ENTERED = "_links_entered"  # True during the first run of a visit to a page
PAGE = "_links_page"  # url_path of the page this session ran last ("" for Home)


def note_page(url_path: str) -> None:
    """Called by streamlit_app.py on every run, before the page runs."""
    ss = st.session_state
    ss[ENTERED] = ss.get(PAGE) != url_path
    ss[PAGE] = url_path


def entered() -> bool:
    """Whether this run is the first of a visit to the page (so the URL is the link's)."""
    return st.session_state.get(ENTERED, True)


def query() -> dict[str, list[str]]:
    """The URL's parameters, every value of a repeated key kept."""
    return {key: st.query_params.get_all(key) for key in st.query_params}
