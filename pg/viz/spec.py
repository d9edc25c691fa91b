"""Charts built once, drawn many times: a chart's Vega-Lite spec without its data, kept per
layout, and its data sent beside it as named datasets.

Building an Altair chart validates every encoding against the Vega-Lite schema, and turning it
into a dict validates it again: for the policy heatmap that took longer than computing the
policy over 3,721 states (issue "Instant"). So a chart whose layout does not change between two
reruns (same axes, same type size, only new numbers) is built once: a *template* is a function
of hashable layout arguments that returns an ``alt.Chart`` reading ``alt.NamedData`` sources;
``template_spec`` keeps its dict for the ``TEMPLATE_CACHE_SIZE`` most recently used layouts, and
``chart_spec`` returns a copy carrying the datasets, Arrow-encoded straight from NumPy columns
(no pandas-to-Arrow conversion in Streamlit), ready for ``st.vega_lite_chart``.

Shared specs are read, never modified: every function here returns a shallow copy.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pandas as pd

TEMPLATE_CACHE_SIZE = 64
"""layouts whose specs are kept, per template. A spec is 10 to 140 KB; a layout is a handful of
numbers (presenter mode, a time limit, an axis's range), and a room uses few of them."""


@lru_cache(maxsize=TEMPLATE_CACHE_SIZE)
def template_spec(template, *layout) -> dict:
    """``template(*layout).to_dict()`` without inline data, built once per (template, layout),
    drawn on a canvas (``for_redraws``): as SVG, the policy heatmap's 3,721 cells, each a node
    with its own ARIA label, took the browser 0.25 s to build again after every slider move."""
    return for_redraws(template(*layout).to_dict())


ANY_END = 987_654_321
"""a scale's end that no page uses (no time limit, episode or axis is as long): a layout built
with it is given each chart's own end by ``with_domain``"""


def with_domain(node, old: list, new: list):
    """A copy of a built spec with every scale domain equal to ``old`` set to ``new``: a layout
    built once with a placeholder domain (ending at ``ANY_END``) serves
    every axis range, which would otherwise be a layout of its own (a build takes 0.1 to 1 s)."""
    return _rewritten(node, lambda n: {**n, "domain": list(new)} if isinstance(n, dict) and n.get("domain") == old
                      else None)


def with_text(node, slot: str, text: str):
    """A copy of a built spec with every string equal to ``slot`` set to ``text``: a label that
    changes with the data (a legend entry naming N) kept out of the layout, which is then built
    once for all its values."""
    return _rewritten(node, lambda n: text if isinstance(n, str) and n == slot else None)


def _rewritten(node, change):
    """A copy of a spec's dicts and lists in which every node that ``change`` maps to something
    other than None is replaced by it (and not looked into)."""
    replaced = change(node)
    if replaced is not None:
        return replaced
    if isinstance(node, dict):
        return {key: _rewritten(value, change) for key, value in node.items()}
    if isinstance(node, list):
        return [_rewritten(value, change) for value in node]
    return node


def chart_spec(template, layout: tuple, datasets: dict) -> dict:
    """The spec of ``template(*layout)`` with ``datasets`` (name -> DataFrame or columns)
    Arrow-encoded beside it: what ``st.vega_lite_chart`` draws."""
    return with_datasets(template_spec(template, *layout), arrow_datasets(datasets))


def with_data(chart, datasets: dict):
    """``chart`` (reading named data) carrying ``datasets`` inline, as rows: a whole chart for
    tests and for ``st.altair_chart``."""
    return chart.properties(datasets={name: _frame(d).to_dict("records") for name, d in datasets.items()})


def used_datasets(spec: dict) -> set[str]:
    """The names of the named data sources a spec reads."""
    found, stack = set(), [spec]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            data = node.get("data")
            if isinstance(data, dict) and "name" in data:
                found.add(data["name"])
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return found


def with_datasets(spec: dict, datasets: dict) -> dict:
    """A shallow copy of ``spec`` carrying the ``datasets`` it reads (what st.vega_lite_chart
    takes): each chart is sent only its own data."""
    return {**spec, "datasets": {name: datasets[name] for name in used_datasets(spec) if name in datasets}}


def titled(spec: dict, title: str) -> dict:
    """A shallow copy of a built spec with another title (the heatmap names its seed)."""
    old = spec.get("title")
    return {**spec, "title": {**old, "text": title} if isinstance(old, dict) else title}


def _frame(data) -> pd.DataFrame:
    return data if isinstance(data, pd.DataFrame) else pd.DataFrame({k: np.asarray(v) for k, v in data.items()})


def arrow_datasets(datasets: dict) -> dict[str, bytes]:
    """Each dataset (a DataFrame, or a dict of equal-length columns) as Arrow IPC stream bytes,
    the form st.vega_lite_chart sends (and passes on untouched when given bytes). Encoding
    straight from the columns spares Streamlit a pandas-to-Arrow conversion per chart and per
    dataset (pyarrow's starts a thread pool for each)."""
    import pyarrow as pa

    out = {}
    for name, data in datasets.items():
        columns = data.items() if isinstance(data, dict) else ((c, data[c].to_numpy()) for c in data.columns)
        table = pa.table({column: np.asarray(values) for column, values in columns})
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(table)
        out[name] = sink.getvalue().to_pybytes()
    return out


def for_redraws(spec: dict) -> dict:
    """No inline data; drawn on a canvas (Streamlit's own choice past 2,000 marks) without an
    ARIA label per mark: SVG nodes and their labels are most of a redraw's cost in the browser."""
    spec = dict(spec)
    spec.pop("datasets", None)
    spec["usermeta"] = {**spec.get("usermeta", {}), "embedOptions": {"renderer": "canvas"}}
    config = spec["config"] = dict(spec.get("config", {}))
    config["mark"] = {**config.get("mark", {}), "aria": False}
    return spec
