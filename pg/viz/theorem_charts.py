"""Charts of the gradient theorem page: the estimator converging like 1/sqrt(N), the exact
gradient beside one estimate, the variance of each estimator and as a function of a baseline b.
Pure functions: arrays in (from pg.lessons), ``alt.Chart`` out; NaN or infinite rows are dropped,
never drawn.

The page's charts are templates (pg.viz.spec): a chart's layout (labels, type size, log or
linear) is built and validated once, its numbers travel as named datasets, and the axes' ranges
come from the data (an invisible "pad" layer reaches the ends, leaving room for labels). Each
``<name>_chart`` returns the whole ``alt.Chart`` (tests, st.altair_chart); ``<name>_spec`` the
same as a Vega-Lite dict for st.vega_lite_chart, without rebuilding the chart when only the
numbers change.
"""

from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd

from pg.viz.spec import arrow_datasets, chart_spec, template_spec, with_data, with_datasets, with_text
from pg.viz.style import INK, MUTED, PUSH_LEFT, PUSH_RIGHT, finite_rows, nice_log_ticks, styled

MEASURED = "mean error over repeats"
REFERENCE = "c / √N, slope −1/2"
EXACT = "exact ∇J (enumeration)"


def _frame(columns: dict) -> pd.DataFrame:
    return pd.DataFrame(finite_rows(columns))


def _positive(columns: dict, keys) -> dict:
    """Log axes cannot show 0 or negatives: mark those rows non-finite so they are dropped."""
    out = dict(columns)
    for k in keys:
        v = np.asarray(out[k], dtype=np.float64)
        out[k] = np.where(v > 0, v, np.nan)
    return out


# ---------------------------------------------------------------------------------------------
# Convergence: error of the estimate against the number of episodes, log-log
# ---------------------------------------------------------------------------------------------
def convergence_chart(n, error, low, high, reference, highlight_n: int | None = None,
                      large: bool = False, height: int = 340):
    """Points: mean error ||g_hat_N - grad J|| over repeats, with bars from ``low`` to
    ``high`` (10th to 90th percentile); dashed line: the reference c / sqrt(N). Both axes
    log. ``highlight_n`` rings the point of the page's N."""
    points = _frame(_positive({"n": np.asarray(n, dtype=np.float64), "error": error, "low": low, "high": high},
                              ["n", "error", "low", "high"]))
    points["series"] = MEASURED
    ref = _frame(_positive({"n": np.asarray(n, dtype=np.float64), "error": reference}, ["n", "error"]))
    ref["series"] = REFERENCE
    values = np.concatenate([points[["error", "low", "high"]].to_numpy().ravel(), ref["error"].to_numpy()])
    values = values[np.isfinite(values) & (values > 0)]
    ns = points["n"].to_numpy() if len(points) else np.array([1.0, 10.0])
    x_scale = alt.Scale(type="log", domain=[float(ns.min()) / 1.4, float(ns.max()) * 1.4], nice=False)
    y_lo, y_hi = (float(values.min()) / 1.3, float(values.max()) * 1.3) if len(values) else (0.01, 1.0)
    y_scale = alt.Scale(type="log", domain=[y_lo, y_hi], nice=False)
    # every other N when there are many, so that labels never touch at projector sizes
    x_ticks = [float(v) for v in (ns if len(ns) <= 6 else ns[::2])]
    x = alt.X("n:Q", scale=x_scale, title=["episodes per estimate, N", "(log scale)"],
              axis=alt.Axis(values=x_ticks, format="d", labelFlush=False))
    y = alt.Y("error:Q", scale=y_scale, title="error ‖ĝ − ∇J‖ (log scale)",
              axis=alt.Axis(values=[m * p for p in nice_log_ticks(y_lo, y_hi) for m in (1, 3)], format="~g"))
    color = alt.Color("series:N", title=None,
                      scale=alt.Scale(domain=[MEASURED, REFERENCE], range=[PUSH_RIGHT, MUTED]),
                      legend=alt.Legend(orient="top", direction="vertical", symbolStrokeWidth=3, labelColor=INK,
                                        labelLimit=400))
    tooltip = [alt.Tooltip("n:Q", title="N"), alt.Tooltip("error:Q", title="mean error", format=".4f"),
               alt.Tooltip("low:Q", title="10th percentile", format=".4f"),
               alt.Tooltip("high:Q", title="90th percentile", format=".4f")]
    layers = [
        alt.Chart(ref).mark_line(strokeDash=[7, 5], strokeWidth=3 if large else 2.5).encode(x=x, y=y, color=color),
        alt.Chart(points).mark_rule(strokeWidth=3 if large else 2, opacity=0.55, color=PUSH_RIGHT)
        .encode(x=x, y=alt.Y("low:Q", scale=y_scale), y2="high:Q"),
        alt.Chart(points).mark_circle(size=150 if large else 90, opacity=1)
        .encode(x=x, y=y, color=color, tooltip=tooltip),
    ]
    if highlight_n is not None and len(points) and float(highlight_n) in set(points["n"]):
        ring = points[points["n"] == float(highlight_n)].assign(label=f"your N = {int(highlight_n)}")
        layers += [
            alt.Chart(ring).mark_rule(color=INK, opacity=0.4, strokeDash=[2, 3]).encode(x=x),
            alt.Chart(ring).mark_point(size=600 if large else 420, strokeWidth=2.5, color=INK, filled=False)
            .encode(x=x, y=y),
            alt.Chart(ring).mark_text(align="left", baseline="top", dx=6, dy=4, fontSize=18 if large else 14,
                                      fontWeight="bold", color=INK).encode(x=x, y=alt.value(0), text="label:N"),
        ]
    return styled(alt.layer(*layers).properties(height=height, width="container"), large=large)


# ---------------------------------------------------------------------------------------------
# One estimate beside the exact gradient, component by component
# ---------------------------------------------------------------------------------------------
def _pad(column: str, low: float, high: float, **others) -> pd.DataFrame:
    """Two invisible points at the ends an axis must reach."""
    return pd.DataFrame({column: [float(low), float(high)], **{k: [v, v] for k, v in others.items()}})


def _pad_layer(name: str, **encoding):
    return alt.Chart(alt.NamedData(name)).mark_point(opacity=0, size=1).encode(**encoding)


def gradient_components_parts(labels, exact, estimate, estimate_label: str = "estimate ĝ",
                              large: bool = False, height: int = 340) -> tuple[tuple, dict]:
    labels = [str(v) for v in labels]
    series = [EXACT] * len(labels) + [estimate_label] * len(labels)
    data = _frame({"component": np.array(labels * 2, dtype=object), "series": np.array(series, dtype=object),
                   "value": np.concatenate([np.asarray(exact, float), np.asarray(estimate, float)])})
    data["text"] = [_signed(v) for v in data["value"]]
    extent = float(np.abs(data["value"]).max()) if len(data) else 1.0
    extent = extent if extent > 0 else 1.0
    datasets = {"bars": data, "pad": _pad("value", -1.35 * extent, 1.35 * extent), "zero": pd.DataFrame({"value": [0.0]})}
    return (tuple(labels), str(estimate_label), bool(large), int(height)), datasets


def _signed(value: float) -> str:
    """``value`` to 3 decimals with its sign; one that rounds to zero is "0.000", not "-0.000"."""
    text = f"{value:+.3f}"
    return text if float(text) != 0 else f"{0.0:.3f}"


def gradient_components_template(labels: tuple, estimate_label: str, large: bool, height: int):
    labels = list(labels)
    x_scale = alt.Scale(nice=False, zero=False)
    y = alt.Y("component:N", sort=labels, title=None, axis=alt.Axis(labelFontWeight="bold"))
    y_offset = alt.YOffset("series:N", sort=[EXACT, estimate_label])
    color = alt.Color("series:N", title=None, sort=[EXACT, estimate_label],
                      scale=alt.Scale(domain=[EXACT, estimate_label], range=[INK, PUSH_LEFT]),
                      legend=alt.Legend(orient="top", direction="vertical", labelColor=INK))
    x = alt.X("value:Q", scale=x_scale, title="∂J/∂θ (change of J per unit of θ)", axis=alt.Axis(tickCount=5))
    data = alt.NamedData("bars")
    bars = alt.Chart(data).mark_bar(height={"band": 0.9}).encode(
        x=x, y=y, yOffset=y_offset, color=color,
        tooltip=["component:N", "series:N", alt.Tooltip("value:Q", format=".4f")])
    font = 16 if large else 13
    right = alt.Chart(data).transform_filter(alt.datum.value >= 0).mark_text(align="left", dx=4, fontSize=font) \
        .encode(x=x, y=y, yOffset=y_offset, text="text:N", color=alt.value(INK))
    left = alt.Chart(data).transform_filter(alt.datum.value < 0).mark_text(align="right", dx=-4, fontSize=font) \
        .encode(x=x, y=y, yOffset=y_offset, text="text:N", color=alt.value(INK))
    zero = alt.Chart(alt.NamedData("zero")).mark_rule(color=MUTED).encode(x="value:Q")
    layers = [bars, right, left, zero, _pad_layer("pad", x=x)]
    return styled(alt.layer(*layers).properties(height=height, width="container"), large=large)


def gradient_components_chart(labels, exact, estimate, estimate_label: str = "estimate ĝ",
                              large: bool = False, height: int = 340):
    """Grouped horizontal bars: for each component of theta, the exact grad J and one
    estimate side by side, values written at the bar ends."""
    layout, datasets = gradient_components_parts(labels, exact, estimate, estimate_label, large, height)
    return with_data(gradient_components_template(*layout), datasets)


ESTIMATE_SLOT = "\x00estimate"
"""the estimate's legend label in the layout built once (it names N: one layout per N otherwise,
100 ms each), put back per chart by pg.viz.spec.with_text"""


def gradient_components_spec(*args, **kwargs) -> dict:
    """``gradient_components_chart`` as a Vega-Lite dict: the layout built once for every
    estimate label."""
    (labels, estimate_label, *rest), datasets = gradient_components_parts(*args, **kwargs)
    shared = template_spec(gradient_components_template, labels, ESTIMATE_SLOT, *rest)
    return with_datasets(with_text(shared, ESTIMATE_SLOT, estimate_label), arrow_datasets(datasets))


# ---------------------------------------------------------------------------------------------
# Variance of each estimator
# ---------------------------------------------------------------------------------------------
def variance_parts(labels, variances, uses_baseline=None, signal: float | None = None,
                   log: bool | None = None, large: bool = False, height: int | None = None) -> tuple[tuple, dict]:
    labels = [str(v) for v in labels]
    uses_baseline = [False] * len(labels) if uses_baseline is None else list(uses_baseline)
    kind = ["with a baseline" if u else "no baseline" for u in uses_baseline]
    signal = float(signal) if signal is not None and np.isfinite(signal) and signal > 0 else None
    data = _frame({"estimator": np.array(labels, dtype=object), "variance": variances,
                   "kind": np.array(kind, dtype=object)})
    positive = data["variance"][data["variance"] > 0]
    if log is None:
        log = len(positive) > 1 and positive.max() / positive.min() > 30
    if log:
        data = data[data["variance"] > 0].reset_index(drop=True)
    data["text"] = [f"{v:.3g}" for v in data["variance"]]
    top = max([float(data["variance"].max()) if len(data) else 1.0] + ([signal] if signal is not None else []))
    if log:
        low = min([float(positive.min()) if len(positive) else 1e-3] + ([signal] if signal is not None else []))
        pad = _pad("variance", low / 2, top * 4)
    else:
        pad = _pad("variance", 0.0, top * 1.22)
    datasets = {"bars": data, "pad": pad}
    if signal is not None:
        datasets["signal"] = pd.DataFrame({"variance": [signal], "label": [f"‖∇J‖² = {signal:.3g}"]})
    room_right = signal is not None and signal < 0.6 * top  # the label sits on the side of the line with more room
    # the height includes the axis and the legend (Streamlit fits container-width charts)
    height = height or (64 if large else 48) * max(len(data), 1) + 130
    return (tuple(labels), bool(log), signal is not None, room_right, bool(large), int(height)), datasets


def variance_template(labels: tuple, log: bool, has_signal: bool, room_right: bool, large: bool, height: int):
    labels = list(labels)
    if log:
        scale = alt.Scale(type="log", nice=False)
        title = ["variance of ĝ,", "tr Cov[ĝ] (log scale)"]
    else:
        scale = alt.Scale(nice=False)
        title = ["variance of ĝ,", "tr Cov[ĝ]"]
    x = alt.X("variance:Q", scale=scale, title=title, axis=alt.Axis(tickCount=6))
    y = alt.Y("estimator:N", sort=labels, title=None, axis=alt.Axis(labelLimit=320))
    color = alt.Color("kind:N", title=None, scale=alt.Scale(domain=["no baseline", "with a baseline"],
                                                            range=["#9ca3af", PUSH_LEFT]),
                      legend=alt.Legend(orient="bottom", direction="horizontal", labelColor=INK))
    data = alt.NamedData("bars")
    bars = alt.Chart(data).mark_bar(height={"band": 0.75}).encode(
        x=x, y=y, color=color, tooltip=["estimator:N", alt.Tooltip("variance:Q", format=".4g")])
    text = alt.Chart(data).mark_text(align="left", dx=5, fontSize=17 if large else 14, color=INK) \
        .encode(x=x, y=y, text="text:N")
    layers = [bars, text]
    if has_signal:
        rule = alt.NamedData("signal")
        layers = [  # the rule under the bars, so that a bar's value stays readable where they cross
            alt.Chart(rule).mark_rule(strokeDash=[6, 4], strokeWidth=2, color=PUSH_RIGHT).encode(x=x),
            *layers,
            alt.Chart(rule).mark_text(align="left" if room_right else "right", dx=6 if room_right else -6, dy=-6,
                                      baseline="bottom", fontSize=17 if large else 14, fontWeight="bold",
                                      color=PUSH_RIGHT).encode(x=x, y=alt.value(0), text="label:N"),
        ]
    layers.append(_pad_layer("pad", x=x))
    return styled(alt.layer(*layers).properties(height=height, width="container"), large=large)


def variance_chart(labels, variances, uses_baseline=None, signal: float | None = None,
                   log: bool | None = None, large: bool = False, height: int | None = None):
    """Horizontal bars, one per estimator (in the given order), each labelled with its value.

    ``uses_baseline`` colours the bars (grey: no baseline, blue: a baseline); ``signal``
    (||grad J||^2) is drawn as a dashed rule for scale. ``log``: a log x axis (default: when
    the values span more than a factor 30)."""
    layout, datasets = variance_parts(labels, variances, uses_baseline, signal, log, large, height)
    return with_data(variance_template(*layout), datasets)


def variance_spec(*args, **kwargs) -> dict:
    """``variance_chart`` as a Vega-Lite dict (the layout built once)."""
    layout, datasets = variance_parts(*args, **kwargs)
    return chart_spec(variance_template, layout, datasets)


# ---------------------------------------------------------------------------------------------
# RMSE against N: exact sqrt(tr Cov / N), measured over repeats (pg.lessons.rmse)
# ---------------------------------------------------------------------------------------------
RMSE_MEASURED = "RMSE over the repeats"
RMSE_EXACT = "exact √(tr Cov / N)"


def rmse_parts(n, measured, exact, highlight_n: int | None = None, large: bool = False,
               height: int = 340) -> tuple[tuple, dict]:
    n = np.asarray(n, dtype=np.float64)
    points = _frame(_positive({"n": n, "rmse": measured}, ["n", "rmse"]))
    points["series"] = RMSE_MEASURED
    line = _frame(_positive({"n": n, "rmse": exact}, ["n", "rmse"]))
    line["series"] = RMSE_EXACT
    values = np.concatenate([points["rmse"].to_numpy(), line["rmse"].to_numpy()])
    ns = points["n"].to_numpy() if len(points) else np.array([1.0, 10.0])
    y_lo, y_hi = (float(values.min()) / 1.3, float(values.max()) * 1.3) if len(values) else (0.01, 1.0)
    pad = pd.DataFrame({"n": [float(ns.min()) / 1.4, float(ns.max()) * 1.4], "rmse": [y_lo, y_hi]})
    x_ticks = tuple(float(v) for v in (ns if len(ns) <= 6 else ns[::2]))
    datasets = {"points": points, "line": line, "pad": pad}
    ring = highlight_n is not None and len(points) and float(highlight_n) in set(points["n"])
    if ring:
        datasets["ring"] = points[points["n"] == float(highlight_n)].assign(label=f"your N = {int(highlight_n)}")
    return (x_ticks, bool(ring), bool(large), int(height)), datasets


def rmse_template(x_ticks: tuple, ring: bool, large: bool, height: int):
    x = alt.X("n:Q", scale=alt.Scale(type="log", nice=False), title=["episodes per estimate, N", "(log scale)"],
              axis=alt.Axis(values=list(x_ticks), format="d", labelFlush=False))
    y = alt.Y("rmse:Q", scale=alt.Scale(type="log", nice=False), title="RMSE √E‖ĝ − ∇J‖² (log scale)",
              axis=alt.Axis(format="~g"))
    color = alt.Color("series:N", title=None,
                      scale=alt.Scale(domain=[RMSE_MEASURED, RMSE_EXACT], range=[PUSH_RIGHT, MUTED]),
                      legend=alt.Legend(orient="top", direction="vertical", symbolStrokeWidth=3, labelColor=INK,
                                        labelLimit=400))
    layers = [
        alt.Chart(alt.NamedData("line")).mark_line(strokeDash=[7, 5], strokeWidth=3 if large else 2.5)
        .encode(x=x, y=y, color=color),
        alt.Chart(alt.NamedData("points")).mark_circle(size=150 if large else 90, opacity=1).encode(
            x=x, y=y, color=color, tooltip=[alt.Tooltip("n:Q", title="N"), alt.Tooltip("rmse:Q", format=".4f")]),
        _pad_layer("pad", x=x, y=y),
    ]
    if ring:
        data = alt.NamedData("ring")
        layers += [
            alt.Chart(data).mark_point(size=600 if large else 420, strokeWidth=2.5, color=INK, filled=False)
            .encode(x=x, y=y),
            alt.Chart(data).mark_text(align="left", baseline="top", dx=6, dy=4, fontSize=18 if large else 14,
                                      fontWeight="bold", color=INK).encode(x=x, y=alt.value(0), text="label:N"),
        ]
    return styled(alt.layer(*layers).properties(height=height, width="container"), large=large)


def rmse_chart(n, measured, exact, highlight_n: int | None = None, large: bool = False, height: int = 340):
    """Points: the RMSE measured over repeats at each N; dashed line: the exact sqrt(tr Cov / N)
    (enumeration). Both axes log; ``highlight_n`` rings the point of the page's N."""
    layout, datasets = rmse_parts(n, measured, exact, highlight_n, large, height)
    return with_data(rmse_template(*layout), datasets)


def rmse_spec(*args, **kwargs) -> dict:
    """``rmse_chart`` as a Vega-Lite dict (the layout built once)."""
    layout, datasets = rmse_parts(*args, **kwargs)
    return chart_spec(rmse_template, layout, datasets)


# ---------------------------------------------------------------------------------------------
# The variance of the estimate as a function of a constant baseline b (pg.lessons.baseline_curve)
# ---------------------------------------------------------------------------------------------
CURVE = "exact Var(b)"
POINTS = "measured"


def baseline_variance_parts(b_grid, variance, points_b, points_variance, points_se, marks: dict,
                            large: bool = False, height: int = 360) -> tuple[tuple, dict]:
    curve = _frame(_positive({"b": b_grid, "variance": variance}, ["variance"]))
    curve["series"] = CURVE
    pv, se = np.asarray(points_variance, float), np.asarray(points_se, float)
    pts = _frame(_positive({"b": points_b, "variance": pv, "low": pv - se, "high": pv + se}, ["variance"]))
    pts["series"] = POINTS
    pts["low"] = np.where(pts["low"] > 0, pts["low"], pts["variance"] / 10)  # a log axis: bars stop above 0
    values = np.concatenate([curve["variance"].to_numpy(), pts["low"].to_numpy(), pts["high"].to_numpy()])
    values = values[np.isfinite(values) & (values > 0)]
    low, top = (float(values.min()), float(values.max())) if len(values) else (0.01, 1.0)
    b_grid = np.asarray(b_grid, float)
    datasets = {"curve": curve, "points": pts,
                "pad": pd.DataFrame({"b": [float(b_grid.min()), float(b_grid.max())], "variance": [low / 1.6, top * 2.5]})}
    shown = [(k, float(v)) for k, v in marks.items() if np.isfinite(v)]
    for i, (label, b) in enumerate(shown):
        datasets[f"mark{i}"] = pd.DataFrame({"b": [b], "label": [label]})
    return (len(shown), bool(large), int(height)), datasets


def baseline_variance_template(n_marks: int, large: bool, height: int):
    x = alt.X("b:Q", title="constant baseline b", scale=alt.Scale(zero=False, nice=False))
    y_scale = alt.Scale(type="log", nice=False)
    y = alt.Y("variance:Q", title="variance of ĝ, tr Cov (log scale)", scale=y_scale, axis=alt.Axis(format="~g"))
    color = alt.Color("series:N", title=None, scale=alt.Scale(domain=[CURVE, POINTS], range=[INK, PUSH_RIGHT]),
                      legend=alt.Legend(orient="top", direction="horizontal", labelColor=INK))
    points = alt.NamedData("points")
    layers = [
        alt.Chart(alt.NamedData("curve")).mark_line(strokeWidth=3 if large else 2.5).encode(x=x, y=y, color=color),
        alt.Chart(points).mark_rule(strokeWidth=3 if large else 2, opacity=0.6, color=PUSH_RIGHT)
        .encode(x=x, y=alt.Y("low:Q", scale=y_scale), y2="high:Q"),
        alt.Chart(points).mark_circle(size=130 if large else 80, opacity=1).encode(
            x=x, y=y, color=color, tooltip=[alt.Tooltip("b:Q", format=".2f"), alt.Tooltip("variance:Q", format=".4g")]),
        _pad_layer("pad", x=x, y=y),
    ]
    font = 17 if large else 13
    for i in range(n_marks):
        data = alt.NamedData(f"mark{i}")
        layers += [  # labels one under the other, so that close marks stay legible
            alt.Chart(data).mark_rule(strokeWidth=2, color=PUSH_LEFT).encode(x=x),
            alt.Chart(data).mark_text(align="left", baseline="top", dx=5, dy=4 + i * (font + 6), fontSize=font,
                                      fontWeight="bold", color=PUSH_LEFT).encode(x=x, y=alt.value(0), text="label:N"),
        ]
    return styled(alt.layer(*layers).properties(height=height, width="container"), large=large)


def baseline_variance_chart(b_grid, variance, points_b, points_variance, points_se, marks: dict,
                            large: bool = False, height: int = 360):
    """Line: the exact variance at each b of ``b_grid``; points with ±1 s.e. bars: measured; a
    log y axis, so that the bottom of the parabola (where b* and the mean return differ) shows.
    ``marks``: {label: b} drawn as labelled vertical rules (b*, the mean return). The slider's b
    is added to the spec by ``with_b_rule``, so that moving it never rebuilds the chart."""
    layout, datasets = baseline_variance_parts(b_grid, variance, points_b, points_variance, points_se, marks,
                                               large, height)
    return with_data(baseline_variance_template(*layout), datasets)


def baseline_variance_spec(*args, **kwargs) -> dict:
    """``baseline_variance_chart`` as a Vega-Lite dict (the layout built once)."""
    layout, datasets = baseline_variance_parts(*args, **kwargs)
    return chart_spec(baseline_variance_template, layout, datasets)


def with_b_rule(spec: dict, b: float, below: int = 0, large: bool = False) -> dict:
    """A copy of a ``baseline_variance`` spec with the slider's b as a dashed rule and a label
    (``below``: how many mark labels sit above it). Plain Vega-Lite layers on the chart's x
    scale, so that moving b never rebuilds the chart."""
    if not np.isfinite(b):
        return spec
    font = 17 if large else 13
    x = {"datum": float(b), "type": "quantitative"}
    one_row = {"values": [{}]}  # a mark is drawn once per row of its data
    layers = [
        {"data": one_row, "mark": {"type": "rule", "strokeDash": [6, 4], "strokeWidth": 2, "color": MUTED},
         "encoding": {"x": x}},
        {"data": one_row, "mark": {"type": "text", "align": "left", "baseline": "top", "dx": 5,
                                   "dy": 4 + below * (font + 6), "fontSize": font, "color": MUTED,
                                   "text": f"your b = {b:g}"},
         "encoding": {"x": x, "y": {"value": 0}}},
    ]
    return {**spec, "layer": [*spec["layer"], *layers]}
