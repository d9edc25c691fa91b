"""pages/live_loop.ChartSlot: a chart redrawn in place, with no placeholder sent before it."""

from streamlit.delta_generator import DeltaGenerator
from streamlit.testing.v1 import AppTest


def _script():
    import streamlit as st

    from pages.live_loop import placeholders

    slots = placeholders([st.columns(2)], ["a", "b"])
    st.caption("after the charts")
    for i in range(3):  # a loop's redraws
        for name, slot in slots.items():
            slot.vega_lite_chart({"mark": "point", "data": {"values": [{"x": i}]},
                                  "encoding": {"x": {"field": "x", "type": "quantitative"}}, "title": f"{name} {i}"})


def test_redraws_replace_the_chart_in_its_place_and_send_no_empty_placeholder(monkeypatch):
    sent = []  # an st.empty() placeholder is a delta of its own, gone from the final tree
    real_empty = DeltaGenerator.empty
    monkeypatch.setattr(DeltaGenerator, "empty", lambda self: sent.append("empty") or real_empty(self))
    at = AppTest.from_function(_script).run()
    assert not at.exception
    charts = at.get("vega_lite_chart")
    assert ['"title": "a 2"' in charts[0].proto.spec, '"title": "b 2"' in charts[1].proto.spec] == [True, True]
    assert len(charts) == 2  # each slot holds the last draw only
    assert sent == []  # st.empty's placeholder would make the browser embed the chart again
    # the charts sit in their columns, above the caption written after the slots were made
    assert list(at.main.children.values())[-1].type == "caption"

