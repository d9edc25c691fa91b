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


class ChartSlot:
    """A place for one chart that a loop redraws: the first draw adds the chart to ``container``
    (a st.container that holds its place on the page), each later draw replaces it through the
    element the first one returned (as an ``st.empty`` would).

    Not ``st.empty()`` itself: its placeholder, sent before the chart, replaces the chart drawn
    there a rerun ago, and the browser then builds the chart again from scratch even when its
    spec and data did not change. Live training lost 0.25 s per form change to that (six charts
    embedded again after every rerun; benchmarks/bench_interactions.py)."""

    def __init__(self, container) -> None:
        self._container, self._element = container, None

    def vega_lite_chart(self, spec: dict, **kwargs) -> None:
        if self._element is None:
            self._element = self._container.vega_lite_chart(spec, **kwargs)
        else:
            self._element.vega_lite_chart(spec, **kwargs)


def placeholders(rows: Sequence[Sequence], names: Sequence[str]) -> dict:
    """{name: ChartSlot} for each of ``names``, one per column of ``rows`` (lists of
    st.columns), row by row: the slots a redraw fills."""
    return dict(zip(names, (ChartSlot(column.container()) for row in rows for column in row)))


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
