"""Not a page: the loop of the pages that compute while they draw (Live training, Compare).

A page's fragment draws what exists, then, while its session's "running" flag is set and the
computation is not done, computes about one tick and draws again. A click (Stop, Reset, a new
Start, a widget) or a closed tab ends the fragment's run at its next Streamlit call, which comes
within a tick: ``advance`` returns on time even in the middle of an update (pg.runs.live), so
the loop never outlives the session's wishes by more than a tick, and what it leaves half done
is resumed by whoever goes on with the run (or cancelled by the registry if nobody does). When
the computation ends by itself, the whole page reruns so that what lies outside the fragment
(the buttons, the downloads) is drawn again.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import streamlit as st


def started(key: str, hint: str):
    """The session's computation under ``key`` (a LiveRun, a Comparison), or None once ``hint``
    (what to press to start one) is shown in its place."""
    computation = st.session_state.get(key)
    if computation is None:
        st.info(hint)
    return computation


def placeholders(rows: Sequence[Sequence], names: Sequence[str]) -> dict:
    """{name: st.empty()} for each of ``names``, one per column of ``rows`` (lists of
    st.columns), row by row: the slots a redraw fills."""
    return dict(zip(names, (column.empty() for row in rows for column in row)))


def run_and_redraw(draw: Callable[[], None], advance: Callable[[], None], done: Callable[[], bool],
                   running_key: str, on_done: Callable[[], None]) -> None:
    """``draw()``; then, while ``st.session_state[running_key]`` and not ``done()``:
    ``advance()`` (about one tick of computing) and ``draw()``. If the computation got done
    while running: ``on_done()`` (which clears the flag) and a rerun of the whole page."""
    draw()
    while st.session_state[running_key] and not done():
        advance()
        draw()
    if st.session_state[running_key]:
        on_done()
        st.rerun()
