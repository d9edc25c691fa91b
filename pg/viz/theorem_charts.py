"""Charts of the gradient theorem page: the estimator converging like 1/sqrt(N), the exact
gradient beside one estimate, and the variance of each estimator. Pure functions: arrays in
(from pg.lessons.derivation), ``alt.Chart`` out; NaN or infinite rows are dropped, never drawn.
"""

from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd

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
def gradient_components_chart(labels, exact, estimate, estimate_label: str = "estimate ĝ",
                              large: bool = False, height: int = 340):
    """Grouped horizontal bars: for each component of theta, the exact grad J and one
    estimate side by side, values written at the bar ends."""
    labels = [str(v) for v in labels]
    series = [EXACT] * len(labels) + [estimate_label] * len(labels)
    data = _frame({"component": np.array(labels * 2, dtype=object), "series": np.array(series, dtype=object),
                   "value": np.concatenate([np.asarray(exact, float), np.asarray(estimate, float)])})
    data["text"] = [f"{v:+.3f}" for v in data["value"]]
    extent = float(np.abs(data["value"]).max()) if len(data) else 1.0
    extent = extent if extent > 0 else 1.0
    x_scale = alt.Scale(domain=[-1.35 * extent, 1.35 * extent], nice=False)
    y = alt.Y("component:N", sort=labels, title=None, axis=alt.Axis(labelFontWeight="bold"))
    y_offset = alt.YOffset("series:N", sort=[EXACT, estimate_label])
    color = alt.Color("series:N", title=None, sort=[EXACT, estimate_label],
                      scale=alt.Scale(domain=[EXACT, estimate_label], range=[INK, PUSH_LEFT]),
                      legend=alt.Legend(orient="top", direction="vertical", labelColor=INK))
    x = alt.X("value:Q", scale=x_scale, title="∂J/∂θ (change of J per unit of θ)", axis=alt.Axis(tickCount=5))
    bars = alt.Chart(data).mark_bar(height={"band": 0.9}).encode(
        x=x, y=y, yOffset=y_offset, color=color,
        tooltip=["component:N", "series:N", alt.Tooltip("value:Q", format=".4f")])
    font = 16 if large else 13
    right = alt.Chart(data).transform_filter(alt.datum.value >= 0).mark_text(align="left", dx=4, fontSize=font) \
        .encode(x=x, y=y, yOffset=y_offset, text="text:N", color=alt.value(INK))
    left = alt.Chart(data).transform_filter(alt.datum.value < 0).mark_text(align="right", dx=-4, fontSize=font) \
        .encode(x=x, y=y, yOffset=y_offset, text="text:N", color=alt.value(INK))
    zero = alt.Chart(pd.DataFrame({"value": [0.0]})).mark_rule(color=MUTED).encode(x="value:Q")
    return styled(alt.layer(bars, right, left, zero).properties(height=height, width="container"), large=large)


# ---------------------------------------------------------------------------------------------
# Variance of each estimator
# ---------------------------------------------------------------------------------------------
def variance_chart(labels, variances, uses_baseline=None, signal: float | None = None,
                   log: bool | None = None, large: bool = False, height: int | None = None):
    """Horizontal bars, one per estimator (in the given order), each labelled with its value.

    ``uses_baseline`` colours the bars (grey: no baseline, blue: a baseline); ``signal``
    (||grad J||^2) is drawn as a dashed rule for scale. ``log``: a log x axis (default: when
    the values span more than a factor 30)."""
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
        data = data[data["variance"] > 0]
    data["text"] = [f"{v:.3g}" for v in data["variance"]]
    top = max([float(data["variance"].max()) if len(data) else 1.0] + ([signal] if signal is not None else []))
    if log:
        low = min([float(positive.min()) if len(positive) else 1e-3] + ([signal] if signal is not None else []))
        scale = alt.Scale(type="log", domain=[low / 2, top * 4], nice=False)
        title = ["variance of ĝ,", "tr Cov[ĝ] (log scale)"]
    else:
        scale = alt.Scale(domain=[0, top * 1.22], nice=False)
        title = ["variance of ĝ,", "tr Cov[ĝ]"]
    x = alt.X("variance:Q", scale=scale, title=title, axis=alt.Axis(tickCount=6))
    y = alt.Y("estimator:N", sort=labels, title=None, axis=alt.Axis(labelLimit=320))
    color = alt.Color("kind:N", title=None, scale=alt.Scale(domain=["no baseline", "with a baseline"],
                                                            range=["#9ca3af", PUSH_LEFT]),
                      legend=alt.Legend(orient="bottom", direction="horizontal", labelColor=INK))
    bars = alt.Chart(data).mark_bar(height={"band": 0.75}).encode(
        x=x, y=y, color=color, tooltip=["estimator:N", alt.Tooltip("variance:Q", format=".4g")])
    text = alt.Chart(data).mark_text(align="left", dx=5, fontSize=17 if large else 14, color=INK) \
        .encode(x=x, y=y, text="text:N")
    layers = [bars, text]
    if signal is not None:
        rule = pd.DataFrame({"variance": [float(signal)], "label": [f"‖∇J‖² = {signal:.3g}"]})
        room_right = signal < 0.6 * top  # the label sits on the side of the line with more room
        layers = [  # the rule under the bars, so that a bar's value stays readable where they cross
            alt.Chart(rule).mark_rule(strokeDash=[6, 4], strokeWidth=2, color=PUSH_RIGHT).encode(x=x),
            *layers,
            alt.Chart(rule).mark_text(align="left" if room_right else "right", dx=6 if room_right else -6, dy=-6,
                                      baseline="bottom", fontSize=17 if large else 14, fontWeight="bold",
                                      color=PUSH_RIGHT).encode(x=x, y=alt.value(0), text="label:N"),
        ]
    # the height includes the axis and the legend (Streamlit fits container-width charts)
    height = height or (64 if large else 48) * max(len(data), 1) + 130
    return styled(alt.layer(*layers).properties(height=height, width="container"), large=large)
