"""Charts of a policy: the P(push right) heatmap, the linear policy's weights, and the traces
of one episode under its replay. Pure functions: arrays in, ``alt.Chart`` out (``*_chart``), or
the same as a Vega-Lite dict whose layout is built once (``*_spec``, pg.viz.spec): what the
pages draw, since building a chart costs more than computing its data.

Colour always means the same thing: blue = push left, white = undecided (P = 0.5), red =
push right (pg.viz.style).
"""

from __future__ import annotations

import math

import altair as alt
import numpy as np
import pandas as pd

from pg.envs.cartpole import THETA_THRESHOLD, X_THRESHOLD
from pg.viz.spec import ANY_END, arrow_datasets, chart_spec, template_spec, with_data, with_datasets, with_domain
from pg.viz.style import (
    BOUNDARY,
    GREEN,
    INK,
    MUTED,
    NEUTRAL,
    ORANGE,
    PURPLE,
    PUSH_LEFT,
    PUSH_RIGHT,
    TEXT_SIZES,
    UNDECIDED_DOT,
    finite_rows,
    styled,
)

THETA_LIMIT_DEG = math.degrees(THETA_THRESHOLD)
P_RIGHT_SCALE = alt.Scale(domain=[0, 0.5, 1], range=[PUSH_LEFT, NEUTRAL, PUSH_RIGHT])
P_TRACE_SCALE = alt.Scale(domain=[0, 0.5, 1], range=[PUSH_LEFT, UNDECIDED_DOT, PUSH_RIGHT])
"""for dots on white: undecided is grey, not white"""
THETA_TITLE = "pole angle θ (degrees)"
THETA_DOT_TITLE = "pole angular velocity (rad/s)"
FEATURE_LABELS = {
    "x": "cart position (m)",
    "x_dot": "cart velocity (m/s)",
    "theta": "pole angle (rad)",
    "theta_dot": "pole ang. velocity (rad/s)",
    "bias": "bias",
}


def _frame(columns: dict) -> pd.DataFrame:
    return pd.DataFrame(finite_rows(columns))


# ---------------------------------------------------------------------------------------------
# The heatmap
# ---------------------------------------------------------------------------------------------
def heatmap_chart(grid: dict, boundary: dict | None = None, visited=None, large: bool = False, height: int = 440):
    """P(push right) over (theta, theta_dot): one rectangle per grid cell, coloured blue
    (0) through white (0.5) to red (1), with the P = 0.5 boundary as a black line and the
    ``visited`` states ((M, 4) array: x, x_dot, theta in rad, theta_dot) as small dots.

    ``grid`` and ``boundary`` are the columns of pg.viz.policy_grid.policy_grid / decision_boundary.
    """
    return with_data(heatmap_template(*heatmap_layout(grid, boundary, visited, large, height)),
                     heatmap_datasets(grid, boundary, visited))


def heatmap_spec(grid: dict, boundary: dict | None = None, visited=None, large: bool = False, height: int = 440):
    """``heatmap_chart`` as a Vega-Lite dict for ``st.vega_lite_chart``: the layout built once,
    with the dots and boundary layers always there (empty when there are none), so that turning
    the dots on or off sends new data to the chart drawn, not a new chart to draw from scratch."""
    data = {**EMPTY_LAYERS, **heatmap_datasets(grid, boundary, visited)}
    return chart_spec(heatmap_template, heatmap_layout(grid, boundary, visited, large, height)[:-2] + (True, True), data)


EMPTY_LAYERS = {
    "dots": pd.DataFrame({"theta": np.zeros(0, np.float32), "theta_dot": np.zeros(0, np.float32)}),
    "boundary": pd.DataFrame({"theta": np.zeros(0), "theta_dot": np.zeros(0), "segment": np.zeros(0, np.int64),
                              "order": np.zeros(0, np.int64)}),
}


def heatmap_datasets(grid: dict, boundary: dict | None = None, visited=None) -> dict[str, pd.DataFrame]:
    """The heatmap's named datasets: "cells", and "dots" and "boundary" when there are any."""
    # each cell reaches a third of a cell into its right and upper neighbours, which are drawn
    # over it: no hairline seams between cells (the rect layer is clipped at the grid's edge).
    # Computed here, not in the spec: the browser's Vega evaluates a spec's expressions with an
    # interpreter, per cell and per redraw
    over = {f"{axis}_hi_drawn": grid[f"{axis}_hi"] + 0.35 * float(np.min(grid[f"{axis}_hi"] - grid[f"{axis}_lo"]))
            for axis in ("theta", "theta_dot")}
    cells = {k: grid[k] for k in GRID_COLUMNS} | over
    # single precision: half the bytes to send and decode, and more digits than the tooltips show
    data = {"cells": _frame({k: np.asarray(v, dtype=np.float32) for k, v in cells.items()})}
    if visited is not None and len(visited):
        states = np.asarray(visited, dtype=np.float64).reshape(-1, 4)
        states = states[np.isfinite(states[:, 2:]).all(axis=1)]  # here, not by a filter expression per dot
        data["dots"] = _frame({"theta": np.degrees(states[:, 2]).astype(np.float32),
                               "theta_dot": states[:, 3].astype(np.float32)})
    if boundary is not None and len(boundary["theta"]):
        data["boundary"] = _frame({k: boundary[k] for k in ("theta", "theta_dot", "segment", "order")})
    return data


GRID_COLUMNS = ("theta", "theta_lo", "theta_dot", "theta_dot_lo", "p_right")
"""the grid's columns a cell is drawn from (with its drawn upper edges) and named by in its tooltip"""


def heatmap_layout(grid: dict, boundary: dict | None, visited, large: bool, height: int) -> tuple:
    """The arguments of ``heatmap_template`` for these data: what stays put between two reruns."""
    theta_domain = (float(np.min(grid["theta_lo"])), float(np.max(grid["theta_hi"])))
    theta_dot_domain = (float(np.min(grid["theta_dot_lo"])), float(np.max(grid["theta_dot_hi"])))
    dots = visited is not None and len(visited) > 0
    return theta_domain, theta_dot_domain, bool(large), int(height), dots, boundary is not None and len(boundary["theta"]) > 0


def heatmap_template(theta_domain, theta_dot_domain, large: bool = False, height: int = 440,
                     dots: bool = False, boundary: bool = False):
    """The heatmap reading datasets "cells" (and "dots", "boundary" when asked for)."""
    x_scale = alt.Scale(domain=list(theta_domain), nice=False, zero=False)
    y_scale = alt.Scale(domain=list(theta_dot_domain), nice=False, zero=False)
    legend = alt.Legend(
        title="P(push right)",
        type="gradient",
        orient="right",
        gradientLength=max(120, height - 140),
        gradientThickness=16,
        values=[0, 0.25, 0.5, 0.75, 1],
        format=".2f",
    )
    layers = [
        alt.Chart(alt.NamedData("cells"))
        .mark_rect(clip=True, invalid=None)  # no NaN in a grid: no filter expression evaluated per cell
        .encode(
            x=alt.X("theta_lo:Q", title=THETA_TITLE, scale=x_scale, axis=alt.Axis(values=list(range(-12, 13, 3)))),
            x2="theta_hi_drawn:Q",
            y=alt.Y("theta_dot_lo:Q", title=THETA_DOT_TITLE, scale=y_scale),
            y2="theta_dot_hi_drawn:Q",
            color=alt.Color("p_right:Q", scale=P_RIGHT_SCALE, legend=legend),
            tooltip=[
                alt.Tooltip("theta:Q", title="θ (degrees)", format=".1f"),
                alt.Tooltip("theta_dot:Q", title="angular velocity (rad/s)", format=".2f"),
                alt.Tooltip("p_right:Q", title="P(push right)", format=".3f"),
            ],
        )
    ]
    if dots:
        layers.append(
            alt.Chart(alt.NamedData("dots"))
            .mark_circle(size=18 if large else 12, opacity=0.22, color=INK, clip=True, invalid=None)
            .encode(x=alt.X("theta:Q", scale=x_scale), y=alt.Y("theta_dot:Q", scale=y_scale))
        )
    if boundary:
        layers.append(
            alt.Chart(alt.NamedData("boundary"))
            .mark_line(color=BOUNDARY, strokeWidth=4 if large else 3, clip=True)
            .encode(
                x=alt.X("theta:Q", scale=x_scale),
                y=alt.Y("theta_dot:Q", scale=y_scale),
                detail="segment:N",
                order="order:Q",
            )
        )
    return styled(alt.layer(*layers).properties(height=height, width="container"), large=large)


# ---------------------------------------------------------------------------------------------
# The linear policy's weights
# ---------------------------------------------------------------------------------------------
def weights_chart(weights: dict, large: bool = False, height: int = 220):
    """Diverging bars: each feature's weight toward pushing right (pg.viz.policy_grid.linear_weights).
    Red bars push right when the feature is positive, blue bars push left."""
    return with_data(weights_template(*weights_layout(weights, large, height)), weights_datasets(weights))


def weights_spec(weights: dict, large: bool = False, height: int = 220) -> dict:
    """``weights_chart`` as a Vega-Lite dict for ``st.vega_lite_chart``: the layout built once."""
    return chart_spec(weights_template, weights_layout(weights, large, height), weights_datasets(weights))


def weights_datasets(weights: dict) -> dict[str, pd.DataFrame]:
    """Dataset "weights": feature, label, weight, direction and the printed value of each."""
    features = [str(f) for f in weights["feature"]]
    values = np.asarray(weights["weight"], dtype=np.float64)
    return {"weights": _frame({
        "feature": np.array(features),
        "label": np.array([FEATURE_LABELS.get(f, f) for f in features]),
        "weight": values,
        "direction": np.where(values >= 0, "push right", "push left"),
        "text": np.array([f"{w:+.{weight_decimals(values)}f}" for w in values]),
    })}


def weights_layout(weights: dict, large: bool, height: int) -> tuple:
    """(labels in order, the x axis's reach, large, height): the reach is at least 1.75 times the
    largest weight, rounded up to the next of 1, 1.5, 2, 3, 4, 5, 6 or 8 times a power of ten, so
    that nearby checkpoints share one layout (and the value labels keep room beside the bars)."""
    features = [str(f) for f in weights["feature"]]
    values = np.asarray(weights["weight"], dtype=np.float64)
    reach = 1.75 * (float(np.max(np.abs(values[np.isfinite(values)]), initial=0.0)) or 1.0)
    power = 10.0 ** math.floor(math.log10(reach))
    nice = next(m for m in (1, 1.5, 2, 3, 4, 5, 6, 8, 10) if m * power >= reach * (1 - 1e-12)) * power
    return tuple(FEATURE_LABELS.get(f, f) for f in features), float(nice), bool(large), int(height)


def weights_template(labels: tuple, reach: float, large: bool = False, height: int = 220):
    """The diverging bars reading dataset "weights"; the x axis from -reach to +reach."""
    x_scale = alt.Scale(domain=[-reach, reach], nice=False)
    y = alt.Y("label:N", sort=list(labels), title=None, axis=alt.Axis(labelLimit=320))
    bars = (
        alt.Chart(alt.NamedData("weights"))
        .mark_bar(height={"band": 0.7})
        .encode(
            x=alt.X("weight:Q", title="weight toward push right", scale=x_scale),
            y=y,
            color=alt.Color(
                "direction:N",
                scale=alt.Scale(domain=["push left", "push right"], range=[PUSH_LEFT, PUSH_RIGHT]),
                legend=None,
            ),
            tooltip=[alt.Tooltip("label:N", title="feature"), alt.Tooltip("weight:Q", format=".4f")],
        )
    )
    font = TEXT_SIZES["large" if large else "normal"]
    text_right = (
        bars.transform_filter("datum.weight >= 0")
        .mark_text(align="left", dx=4, fontSize=font, color=INK)
        .encode(text="text:N", color=alt.value(INK))
    )
    text_left = (
        bars.transform_filter("datum.weight < 0")
        .mark_text(align="right", dx=-4, fontSize=font, color=INK)
        .encode(text="text:N", color=alt.value(INK))
    )
    zero = alt.Chart(alt.InlineData(values=[{"weight": 0.0}])).mark_rule(color=MUTED).encode(x="weight:Q")
    return styled(
        alt.layer(bars, text_right, text_left, zero).properties(height=height, width="container"), large=large
    )


def weight_decimals(values) -> int:
    """Enough decimals that the largest weight shows two significant digits (at least 2)."""
    values = np.asarray(values, dtype=np.float64)
    reach = float(np.max(np.abs(values[np.isfinite(values)]), initial=0.0))
    return 2 if reach >= 0.1 or reach == 0 else min(6, 1 - math.floor(math.log10(reach)))


# ---------------------------------------------------------------------------------------------
# Traces of one episode
# ---------------------------------------------------------------------------------------------
TRACES = (  # (name, title, dashed limits)
    ("theta", "θ (degrees)", (-THETA_LIMIT_DEG, THETA_LIMIT_DEG)),
    ("x", "x (m)", (-X_THRESHOLD, X_THRESHOLD)),
    ("p_right", "P(push right)", (0.5,)),
)
TRACE_COLOURS = {"theta": PURPLE, "x": GREEN}
FEW_STEPS = 80  # P(push right) dots are drawn larger for an episode this short


def traces_chart(episode, large: bool = False, panel_height: int = 95, steps: int | None = None):
    """Pole angle (degrees), cart position (m) and P(push right) against the time step, as
    three stacked panels sharing the time axis. The failure thresholds (+-12 degrees,
    +-2.4 m) are dashed rules, P = 0.5 a dotted one; a nudge is an orange vertical rule.
    P(push right) is drawn as dots coloured like the heatmap (blue left, red right).

    ``episode`` is a pg.viz.episode.Episode: states (T + 1, 4), p_right (T,), nudges (T,).
    ``steps`` fixes the time axis at 0 ... steps (default T), so that two episodes side by side
    share one time axis; a shorter episode's traces then end where it ended.
    """
    return with_data(traces_template(*traces_layout(episode, large, panel_height, steps)), traces_datasets(episode))


def traces_spec(episode, large: bool = False, panel_height: int = 95, steps: int | None = None) -> dict:
    """``traces_chart`` as a Vega-Lite dict for ``st.vega_lite_chart``: the layout built once."""
    end, *rest = traces_layout(episode, large, panel_height, steps)
    spec = with_domain(template_spec(traces_template, ANY_END, *rest), [0, ANY_END], [0, end])  # built once for any end
    return with_datasets(spec, arrow_datasets(traces_datasets(episode)))


def traces_datasets(episode) -> dict[str, pd.DataFrame]:
    """Datasets "theta", "x", "p_right" (t, value), their limits "<name>_limits" (value), and
    "nudges" (t) when the episode was nudged."""
    states = np.asarray(episode.states, dtype=np.float64)
    p_right = np.asarray(episode.p_right, dtype=np.float64)
    steps = np.arange(len(states))
    values = {"theta": np.degrees(states[:, 2]), "x": states[:, 0], "p_right": p_right}
    data = {}
    for name, _, limits in TRACES:
        data[name] = _frame({"t": steps[: len(values[name])], "value": values[name]})
        data[f"{name}_limits"] = _frame({"value": np.array(limits, dtype=np.float64)})
    nudges = np.flatnonzero(np.asarray(episode.nudges, dtype=np.float64) != 0)
    if len(nudges):
        data["nudges"] = _frame({"t": nudges.astype(np.float64)})
    return data


def traces_layout(episode, large: bool, panel_height: int, steps: int | None) -> tuple:
    """(time axis end, few steps?, nudged?, large, panel height) for ``traces_template``."""
    end = max(len(episode.states) - 1 if steps is None else int(steps), 1)
    nudged = bool(np.any(np.asarray(episode.nudges, dtype=np.float64) != 0))
    return end, len(episode.p_right) <= FEW_STEPS, nudged, bool(large), int(panel_height)


def traces_template(end: int, few: bool = False, nudged: bool = False, large: bool = False, panel_height: int = 95):
    """The three panels over time steps 0 ... ``end``, reading ``traces_datasets``'s names. Each
    y scale spans the trace and its limits (Vega-Lite unions a layer's domains)."""
    charts = []
    for index, (name, title, _) in enumerate(TRACES):
        bottom = index == len(TRACES) - 1
        x = alt.X(
            "t:Q",
            scale=alt.Scale(domain=[0, end], nice=False),
            title="time step" if bottom else None,
            axis=alt.Axis(labels=bottom, ticks=bottom, domain=bottom, tickCount=6),
        )
        scale = alt.Scale(domain=[0, 1], nice=False) if name == "p_right" else alt.Scale(nice=True, zero=False)
        y = alt.Y("value:Q", title=title, scale=scale, axis=alt.Axis(tickCount=3, minExtent=48, maxExtent=48))
        if name == "p_right":
            # dots, not a line: a trained policy flips between ~0 and ~1 every few steps, which
            # a line turns into a solid block; dots show "sure, one way or the other"
            line = (
                alt.Chart(alt.NamedData(name))
                .mark_circle(size=36 if few else 12, opacity=0.85)
                .encode(x=x, y=y, color=alt.Color("value:Q", scale=P_TRACE_SCALE, legend=None))
            )
        else:
            line = (
                alt.Chart(alt.NamedData(name))
                .mark_line(color=TRACE_COLOURS[name], strokeWidth=2.5 if large else 2)
                .encode(x=x, y=y)
            )
        limits = (
            alt.Chart(alt.NamedData(f"{name}_limits"))
            .mark_rule(color=MUTED, strokeDash=[2, 3] if name == "p_right" else [6, 4], strokeWidth=1.5)
            .encode(y="value:Q")
        )
        layer = [line, limits]
        if nudged:
            layer.append(
                alt.Chart(alt.NamedData("nudges"))
                .mark_rule(color=ORANGE, strokeWidth=3)
                .encode(x="t:Q", tooltip=[alt.Tooltip("t:Q", title="nudge at step")])
            )
        charts.append(alt.layer(*layer).properties(height=panel_height))
    chart = alt.vconcat(*charts, spacing=12).resolve_scale(x="shared")
    # fit-x: the stacked panels fill the column's width (Streamlit's default for a vconcat of
    # layers is "pad", which overflows the column)
    chart = chart.properties(autosize=alt.AutoSizeParams(type="fit-x", contains="padding"))
    return styled(chart, large=large)


# ---------------------------------------------------------------------------------------------
# The nudges a policy recovers from, as a mark under the strength slider
# ---------------------------------------------------------------------------------------------
def nudge_range_chart(low: float | None, high: float | None, strength: float, max_nudge: float,
                      large: bool = False, height: int = 16):
    """A strip from -max_nudge to +max_nudge rad/s (the slider's range): the strengths the policy
    recovers from (pg.viz.nudge.NudgeRange.low ... high) as a green band, the chosen ``strength``
    as a dot, green inside the band and orange outside it."""
    return with_data(nudge_range_template(*nudge_range_layout(low, high, strength, max_nudge, large, height)),
                     nudge_range_datasets(low, high, strength))


def nudge_range_spec(low: float | None, high: float | None, strength: float, max_nudge: float,
                     large: bool = False, height: int = 16) -> dict:
    """``nudge_range_chart`` as a Vega-Lite dict for ``st.vega_lite_chart``: the layout built once."""
    return chart_spec(nudge_range_template, nudge_range_layout(low, high, strength, max_nudge, large, height),
                      nudge_range_datasets(low, high, strength))


def nudge_range_datasets(low: float | None, high: float | None, strength: float) -> dict[str, pd.DataFrame]:
    data = {"strength": _frame({"strength": np.array([float(strength)])})}
    if low is not None:
        data["band"] = _frame({"strength": np.array([low]), "high": np.array([high])})
    return data


def nudge_range_layout(low, high, strength, max_nudge, large, height) -> tuple:
    """(max_nudge, band?, inside?, large, height) for ``nudge_range_template``."""
    inside = low is not None and low <= strength <= high
    return float(max_nudge), low is not None, inside, bool(large), int(height)


def nudge_range_template(max_nudge: float, band: bool, inside: bool, large: bool = False, height: int = 16):
    scale = alt.Scale(domain=[-max_nudge, max_nudge], nice=False)
    x = alt.X("strength:Q", scale=scale, title=None, axis=None)  # the slider above carries the numbers
    layers = []
    if band:
        layers.append(alt.Chart(alt.NamedData("band")).mark_bar(color=GREEN, opacity=0.45, height=height).encode(
            x=x, x2="high:Q", tooltip=[alt.Tooltip("strength:Q", title="recovers from", format="+.1f"),
                                       alt.Tooltip("high:Q", title="up to", format="+.1f")]))
    layers.append(alt.Chart(alt.NamedData("strength")).mark_point(
        filled=True, size=120 if large else 80, opacity=1, color=GREEN if inside else ORANGE).encode(x=x))
    chart = alt.layer(*layers).properties(height=height, width="container", padding=0)
    return styled(chart.properties(autosize=alt.AutoSizeParams(type="fit-x", contains="padding")), large=large)


__all__ = ["heatmap_chart", "heatmap_spec", "nudge_range_chart", "nudge_range_spec", "traces_chart", "traces_spec",
           "weight_decimals", "weights_chart", "weights_spec"]
