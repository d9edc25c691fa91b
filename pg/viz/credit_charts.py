"""Charts of one episode's credit (pg.lessons.credit): the return, the baseline and the advantage
at every step, and how one update moved each step's log-probability. Arrays in, ``alt.Chart`` out
(``*_chart``), or its Vega-Lite dict with the layout built once (``*_spec``, pg/viz/spec.py).

Colour means the sign of the advantage in both charts: green where it is positive (the step did
better than the baseline), orange where it is negative, grey where it is 0. So in the second chart
a green bar pointing up or an orange bar pointing down is a step that moved as the rule says.
"""

from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd

from pg.viz.spec import ANY_END, arrow_datasets, chart_spec, template_spec, with_data, with_datasets, with_domain
from pg.viz.style import GREEN, GREY, INK, MUTED, ORANGE, PURPLE, finite_rows, styled

POSITIVE, NEGATIVE, ZERO = "advantage > 0", "advantage < 0", "advantage = 0"
SIGN_LABELS = {1: POSITIVE, -1: NEGATIVE, 0: ZERO}
SIGN_COLOURS = {POSITIVE: GREEN, NEGATIVE: ORANGE, ZERO: GREY}
RETURN_LABEL, BASELINE_LABEL = "return Gₜ", "baseline bₜ"
LINE_COLOURS = {RETURN_LABEL: INK, BASELINE_LABEL: PURPLE}


def _frame(columns: dict) -> pd.DataFrame:
    return pd.DataFrame(finite_rows(columns))


def _signs(adv_sign) -> np.ndarray:
    signs = np.asarray(adv_sign, dtype=np.int64)
    if not np.isin(signs, (-1, 0, 1)).all():
        raise ValueError("adv_sign must hold -1, 0 or +1 per step")
    return signs


def _domain(length: int) -> list[float]:
    return [-0.5, max(length, 1) - 0.5]


def _time_axis(length: int, title: bool = True) -> alt.X:
    return alt.X("t:Q", title="time step t" if title else None,
                 scale=alt.Scale(domain=_domain(length), nice=False), axis=alt.Axis(tickCount=6))


def _step_rule() -> alt.Chart:
    """The vertical rule at the step the slider shows (dataset "rule": t)."""
    return (alt.Chart(alt.NamedData("rule"))
            .mark_rule(color=INK, strokeWidth=2, strokeDash=[4, 3])
            .encode(x="t:Q", tooltip=[alt.Tooltip("t:Q", title="step shown")]))


def _zero() -> alt.Chart:
    return alt.Chart(alt.NamedData("zero")).mark_rule(color=MUTED, strokeWidth=1).encode(y="value:Q")


def _colour(labels, colours: dict, title: str | None) -> alt.Color:
    """One legend above the chart, at most 2 entries a row (a phone's column holds 2)."""
    labels = list(labels)
    return alt.Color("series:N", title=title, scale=alt.Scale(domain=labels, range=[colours[k] for k in labels]),
                     legend=alt.Legend(orient="top", direction="horizontal", columns=2, symbolStrokeWidth=3))


def _present(signs: np.ndarray) -> tuple[str, ...]:
    return tuple(SIGN_LABELS[s] for s in (1, -1, 0) if (signs == s).any())


def _shared(signs: np.ndarray, values: np.ndarray, step: int) -> dict[str, pd.DataFrame]:
    t = np.arange(len(values), dtype=np.float64)
    return {"bars": _frame({"t": t, "value": values, "series": np.array([SIGN_LABELS[s] for s in signs])}),
            "zero": _frame({"value": np.array([0.0])}), "rule": _frame({"t": np.array([float(step)])})}


def credit_chart(G, b, adv, adv_sign, step: int, large: bool = False, height: int = 230):
    """Over the whole episode: the advantage of each step as a bar (green > 0, orange < 0, grey
    0), the return G_t and the baseline b_t as lines, and a dashed rule at ``step``.

    ``G``, ``b``, ``adv``: (T,) floats; ``adv_sign``: (T,) -1 / 0 / +1 (pg.lessons.credit's
    CreditAssignment.adv_sign, which reads a rounding error as 0).
    """
    layout, data = _credit(G, b, adv, adv_sign, step, large, height)
    return with_data(credit_template(*layout), data)


def credit_spec(G, b, adv, adv_sign, step: int, large: bool = False, height: int = 230) -> dict:
    """``credit_chart`` as a Vega-Lite dict for ``st.vega_lite_chart``: the layout built once per
    signs present, whatever the step and the episode's length."""
    layout, data = _credit(G, b, adv, adv_sign, step, large, height)
    return _any_length(credit_template, layout, data)


def _any_length(template, layout: tuple, data: dict) -> dict:
    length, rest = layout[0], layout[1:]
    if length < 3:  # a line of 1 or 2 points is drawn as steps: a layout of its own
        return chart_spec(template, layout, data)
    spec = with_domain(template_spec(template, ANY_END, *rest), _domain(ANY_END), _domain(length))
    return with_datasets(spec, arrow_datasets(data))


def _credit(G, b, adv, adv_sign, step, large, height) -> tuple[tuple, dict]:
    G, b, adv = (np.asarray(v, dtype=np.float64) for v in (G, b, adv))
    signs = _signs(adv_sign)
    if not len(G) == len(b) == len(adv) == len(signs):
        raise ValueError(f"G, b, adv and adv_sign must have one value per step, got {len(G)}, {len(b)}, "
                         f"{len(adv)} and {len(signs)}")
    t = np.arange(len(G), dtype=np.float64)
    data = _shared(signs, adv, step) | {"lines": _frame({
        "t": np.concatenate([t, t]), "value": np.concatenate([G, b]),
        "series": np.repeat([RETURN_LABEL, BASELINE_LABEL], len(t))})}
    return (len(G), _present(signs), bool(large), int(height)), data


def credit_template(length: int, present: tuple, large: bool = False, height: int = 230):
    """``credit_chart``'s layout, reading datasets "bars", "zero", "lines" and "rule"."""
    colour = _colour(present + (RETURN_LABEL, BASELINE_LABEL), {**SIGN_COLOURS, **LINE_COLOURS}, None)
    x = _time_axis(length)
    y = alt.Y("value:Q", title="return units")
    bars = (alt.Chart(alt.NamedData("bars"))
            .mark_bar(opacity=0.8)
            .encode(x=x, y=y, color=colour,
                    tooltip=[alt.Tooltip("t:Q", title="step"), alt.Tooltip("value:Q", title="Gₜ − bₜ", format=".3g")]))
    lines = (alt.Chart(alt.NamedData("lines"))
             .mark_line(strokeWidth=3 if large else 2, interpolate="step-after" if length < 3 else "linear")
             .encode(x=x, y=y, color=colour, strokeDash=alt.StrokeDash(
                 "series:N", scale=alt.Scale(domain=[RETURN_LABEL, BASELINE_LABEL], range=[[1, 0], [6, 3]]),
                 legend=None),
                     tooltip=[alt.Tooltip("series:N", title="line"), alt.Tooltip("t:Q", title="step"),
                              alt.Tooltip("value:Q", format=".3g")]))
    chart = alt.layer(bars, _zero(), lines, _step_rule()).properties(height=height, width="container")
    return styled(chart.properties(autosize=alt.AutoSizeParams(type="fit-x", contains="padding")), large=large)


def delta_chart(delta_logp, adv_sign, step: int, large: bool = False, height: int = 200):
    """Δ log π(a_t|s_t) after one update, one bar per step, coloured by the sign of that step's
    advantage (as in ``credit_chart``), with a dashed rule at ``step``: a green bar up or an
    orange bar down moved the way the rule says."""
    layout, data = _delta(delta_logp, adv_sign, step, large, height)
    return with_data(delta_template(*layout), data)


def delta_spec(delta_logp, adv_sign, step: int, large: bool = False, height: int = 200) -> dict:
    """``delta_chart`` as a Vega-Lite dict for ``st.vega_lite_chart``: the layout built once."""
    layout, data = _delta(delta_logp, adv_sign, step, large, height)
    return _any_length(delta_template, layout, data)


def _delta(delta_logp, adv_sign, step, large, height) -> tuple[tuple, dict]:
    delta = np.asarray(delta_logp, dtype=np.float64)
    signs = _signs(adv_sign)
    if len(delta) != len(signs):
        raise ValueError(f"delta_logp and adv_sign must have one value per step, got {len(delta)} and {len(signs)}")
    return (len(delta), _present(signs), bool(large), int(height)), _shared(signs, delta, step)


def delta_template(length: int, present: tuple, large: bool = False, height: int = 200):
    """``delta_chart``'s layout, reading datasets "bars", "zero" and "rule"."""
    bars = (alt.Chart(alt.NamedData("bars"))
            .mark_bar(opacity=0.85)
            .encode(x=_time_axis(length), y=alt.Y("value:Q", title="Δ log π(aₜ|sₜ)"),
                    color=_colour(present, SIGN_COLOURS, None),
                    tooltip=[alt.Tooltip("t:Q", title="step"),
                             alt.Tooltip("value:Q", title="Δ log π(aₜ|sₜ)", format="+.3g"),
                             alt.Tooltip("series:N", title="sign")]))
    chart = alt.layer(bars, _zero(), _step_rule()).properties(height=height, width="container")
    return styled(chart.properties(autosize=alt.AutoSizeParams(type="fit-x", contains="padding")), large=large)


__all__ = ["credit_chart", "credit_spec", "delta_chart", "delta_spec"]
