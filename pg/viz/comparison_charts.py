"""Charts of the Compare page: learning curves of several estimators with seed bands, and the
relative variance and the cosine to a reference gradient, measured at fixed policies.

As in pg.viz.training_charts, the specs read named data sources (``alt.NamedData``) and are built
once per set of estimators; each redraw only sends fresh data (``compare_datasets``), so Vega
updates in place. Builders are pure: data in, chart out; NaN rows are dropped, never drawn.

Datasets (columns):

==================  ===============================================================
name                columns
==================  ===============================================================
curves_env_steps    estimator, x, median, low, high     (pg.lessons.comparison.Comparison.curves)
curves_wall_time    the same against seconds of training
solved              estimator, seed, env_steps, wall_time, mean_return: one row per solved seed
variance            estimator, checkpoint (CHECKPOINT_TITLES' words), variance, relative_variance,
                    cosine_mean, cosine_std, floor (the bars' base: bar_floor) (VARIANCE_KEYS)
cosine              estimator, checkpoint, the cosines to the reference gradient and the angles of
                    pg.lessons.reference.DirectionCheck (COSINE_KEYS): once a reference is measured
bars                value, label                        the solve bar
==================  ===============================================================
"""

from __future__ import annotations

import math

import altair as alt
import numpy as np
import pandas as pd

from pg.algo.reinforce import CARTPOLE_V1_SOLVED
from pg.viz.style import INK, MUTED, SERIES, TEXT_SIZES, finite_rows, styled

X_TITLES = {"env_steps": "environment steps (training episodes)", "wall_time": "seconds of training (wall time)"}
RETURN_TITLE = "training episodes' mean return"
CHECKPOINT_TITLES = {"start": "at the untrained policy", "mid": "at a policy on its way"}
DECADES = [10.0**k for k in range(-6, 13)]  # the log axis's ticks and grid: powers of ten only


def estimator_color(labels) -> alt.Scale:
    """One colour per estimator, in the order given (the same in every chart)."""
    return alt.Scale(domain=list(labels), range=SERIES[: len(labels)])


def _title(large: bool, text: str, subtitle: list[str]) -> alt.Title:
    """A title with its subtitle lines in a size that reads at the chart's scale."""
    return alt.Title(text, subtitle=subtitle, subtitleFontSize=TEXT_SIZES["large" if large else "normal"], subtitleColor=MUTED,
                     subtitlePadding=4)


def _legend() -> alt.Legend:
    return alt.Legend(orient="top", columns=2, labelLimit=360, labelColor=INK)


def curves_chart(labels, x: str = "env_steps", max_steps: int = 500, large: bool = False, height: int = 320):
    """Median (line) and min-max over seeds (band) of each estimator's training return against
    ``x``; a dot where each seed solved; the solve bar dashed."""
    color = alt.Color("estimator:N", scale=estimator_color(labels), title=None,
                      legend=alt.Legend(orient="top", columns=2, symbolType="stroke", symbolStrokeWidth=4,
                                        symbolOpacity=1, labelLimit=360, labelColor=INK))
    x_enc = alt.X("x:Q", title=X_TITLES[x], axis=alt.Axis(format="~s" if x == "env_steps" else "~g"))
    y_scale = alt.Scale(domain=[0, max_steps])
    curves = alt.Chart(alt.NamedData(f"curves_{x}"))
    band = curves.mark_area(opacity=0.18).encode(
        x=x_enc, y=alt.Y("low:Q", title=RETURN_TITLE, scale=y_scale), y2="high:Q", color=color)
    tooltip = [alt.Tooltip("estimator:N"), alt.Tooltip("x:Q", title=X_TITLES[x], format=",.4~g"),
               alt.Tooltip("median:Q", format=".0f"), alt.Tooltip("low:Q", title="min", format=".0f"),
               alt.Tooltip("high:Q", title="max", format=".0f")]
    line = curves.mark_line(strokeWidth=3.5 if large else 2.5).encode(
        x=x_enc, y=alt.Y("median:Q", scale=y_scale), color=color, tooltip=tooltip)
    solved = alt.Chart(alt.NamedData("solved")).mark_point(
        filled=True, size=160 if large else 90, opacity=1, stroke=INK, strokeWidth=1).encode(
        x=alt.X(f"{x}:Q"), y=alt.Y("mean_return:Q", scale=y_scale), color=color,
        tooltip=[alt.Tooltip("estimator:N"), alt.Tooltip("seed:Q"),
                 alt.Tooltip("env_steps:Q", title="env steps", format=","),
                 alt.Tooltip("wall_time:Q", title="seconds", format=".2f")])
    rule = alt.Chart(alt.NamedData("bars")).mark_rule(strokeDash=[6, 4], color=MUTED).encode(y="value:Q")
    text = alt.Chart(alt.NamedData("bars")).mark_text(align="left", dx=4, dy=-8, color=MUTED,
                                                      fontSize=TEXT_SIZES["large" if large else "normal"]).encode(
        y="value:Q", x=alt.value(0), text="label:N")
    title = ("Against environment steps: sample efficiency" if x == "env_steps"
             else "Against seconds of training: what a step costs")
    chart = alt.layer(band, line, rule, text, solved).properties(
        height=height, width="container",
        title=_title(large, title, subtitle=["line: median over seeds, band: min to max;",
                                         "dot: a seed solved there (its run stops, its line stays)"]))
    return styled(chart.properties(autosize=alt.AutoSizeParams(type="fit-x", contains="padding")), large=large)


def _grouped(labels):
    """The x (checkpoint) and xOffset (estimator) of the bar charts."""
    x = alt.X("checkpoint:N", title=None, sort=list(CHECKPOINT_TITLES.values()),
              axis=alt.Axis(labelAngle=0, labelLimit=400))
    offset = alt.XOffset("estimator:N", sort=list(labels), scale=alt.Scale(paddingInner=0.08))
    return x, offset


def variance_chart(labels, large: bool = False, height: int = 320):
    """Bars: the relative variance of one update's gradient estimate (the trace of its
    covariance over the squared norm of the estimator's mean estimate: noise per unit of
    signal, comparable across estimators whose advantages are on different scales), per
    estimator, at each checkpoint (log scale), the value written above each bar; the raw
    variance in the tooltip."""
    color = alt.Color("estimator:N", scale=estimator_color(labels), title=None, legend=_legend())
    x, offset = _grouped(labels)
    y = alt.Y("relative_variance:Q", scale=alt.Scale(type="log"), title="variance / ‖mean‖² (log scale)",
              axis=alt.Axis(format="~g", values=DECADES), stack=None)  # stacked bars cannot sit on a log scale
    tooltip = [alt.Tooltip("estimator:N"), alt.Tooltip("checkpoint:N"),
               alt.Tooltip("relative_variance:Q", title="relative variance: E‖ĝ − E ĝ‖² / ‖E ĝ‖²", format=".3g"),
               alt.Tooltip("variance:Q", title="variance E‖ĝ − E ĝ‖² (raw)", format=".4g"),
               alt.Tooltip("cosine_mean:Q", title="cos(ĝ, mean of the others)", format=".2f")]
    data = alt.Chart(alt.NamedData("variance"))
    # a log axis has no 0: the bars grow from ``floor``, a power of ten below the smallest value
    bars = data.mark_bar().encode(x=x, xOffset=offset, y=y, y2="floor:Q", color=color, tooltip=tooltip)
    text = data.mark_text(dy=-7, fontSize=15 if large else 11, color=INK).encode(
        x=x, xOffset=offset, y=y, text=alt.Text("relative_variance:Q", format=".3~r"))
    chart = alt.layer(bars, text).properties(
        height=height, width="container",
        title=_title(large, "Relative variance at a fixed policy",
                     subtitle=["noise per unit of signal: variance of one update's estimate / ‖its mean‖²;",
                               "the same batches for every estimator"]))
    return styled(chart.properties(autosize=alt.AutoSizeParams(type="fit-x", contains="padding")), large=large)


def cosine_chart(labels, large: bool = False, height: int = 320):
    """Bars: the mean cosine between one update's estimate and the reference gradient (a
    large-sample estimate of the gradient at the same policy; 1: one batch points the right
    way, 0: it says nothing about the direction), a rule at +-1 standard deviation; a diamond:
    the cosine of the estimator's mean estimate (all its batches) to the reference, and a dash
    at cos(3 x the angle the noises explain): a diamond below its dash is a bias."""
    color = alt.Color("estimator:N", scale=estimator_color(labels), title=None, legend=_legend())
    x, offset = _grouped(labels)
    y_scale = alt.Scale(domain=[-1, 1])
    tooltip = [alt.Tooltip("estimator:N"), alt.Tooltip("checkpoint:N"),
               alt.Tooltip("cosine_reference:Q", title="mean cos(one batch, reference)", format=".2f"),
               alt.Tooltip("cosine_reference_se:Q", title="its standard error", format=".2f"),
               alt.Tooltip("cosine_reference_std:Q", title="spread over batches (std)", format=".2f"),
               alt.Tooltip("cosine_mean_reference:Q", title="cos(mean of all batches, reference)", format=".3f"),
               alt.Tooltip("angle_reference:Q", title="angle of that mean to the reference (°)", format=".0f"),
               alt.Tooltip("noise_angle:Q", title="angle the noises explain (°)", format=".0f"),
               alt.Tooltip("cosine_mean:Q", title="cos(one batch, its own mean): blind to bias", format=".2f"),
               alt.Tooltip("reference_relative_noise:Q", title="reference's relative noise", format=".3f")]
    data = alt.Chart(alt.NamedData("cosine"))
    bars = data.mark_bar(opacity=0.85).encode(
        x=x, xOffset=offset, color=color, tooltip=tooltip,
        y=alt.Y("cosine_reference:Q", title="cos(one estimate, reference gradient)", scale=y_scale, stack=None))
    spread = data.transform_calculate(lo="datum.cosine_reference - datum.cosine_reference_std",
                                      hi="datum.cosine_reference + datum.cosine_reference_std").mark_rule(
        color=INK, strokeWidth=2 if large else 1.5).encode(x=x, xOffset=offset, y=alt.Y("lo:Q", scale=y_scale),
                                                           y2="hi:Q")
    threshold = data.mark_tick(color=INK, thickness=2, strokeDash=[3, 2], size=22 if large else 16).encode(
        x=x, xOffset=offset, y=alt.Y("threshold_cosine:Q", scale=y_scale), tooltip=tooltip)
    mean = data.mark_point(shape="diamond", filled=True, size=150 if large else 90, stroke=INK, strokeWidth=1,
                           opacity=1).encode(x=x, xOffset=offset, color=color, tooltip=tooltip,
                                             y=alt.Y("cosine_mean_reference:Q", scale=y_scale))
    chart = alt.layer(bars, spread, threshold, mean).properties(
        height=height, width="container",
        title=_title(large, "Does one batch point the right way?",
                     subtitle=["bar: mean cosine of one estimate to the reference gradient, line: ± one std;",
                               "◆: the mean of all batches; below its dash, off by more than noise: a bias"]))
    return styled(chart.properties(autosize=alt.AutoSizeParams(type="fit-x", contains="padding")), large=large)


PANELS = ("env_steps", "wall_time", "variance", "cosine")


def panel_chart(panel: str, labels, max_steps: int = 500, large: bool = False):
    if panel in ("env_steps", "wall_time"):
        return curves_chart(labels, panel, max_steps, large)
    if panel == "variance":
        return variance_chart(labels, large)
    if panel == "cosine":
        return cosine_chart(labels, large)
    raise ValueError(f"panel must be one of {', '.join(PANELS)}; got {panel!r}")


def compare_specs(labels, max_steps: int = 500, large: bool = False) -> dict[str, dict]:
    """Every panel's Vega-Lite dict, without data: build once per set of estimators."""
    specs = {}
    for panel in PANELS:
        spec = panel_chart(panel, tuple(labels), max_steps, large).to_dict()
        spec.pop("datasets", None)
        specs[panel] = spec
    return specs


VARIANCE_KEYS = ("estimator", "checkpoint", "variance", "relative_variance", "cosine_mean", "cosine_std", "floor")
COSINE_KEYS = ("estimator", "checkpoint", "cosine_reference", "cosine_reference_std", "cosine_reference_se",
               "cosine_mean_reference", "threshold_cosine", "angle_reference", "noise_angle", "cosine_mean",
               "reference_relative_noise")
DATASETS = {"env_steps": ("curves_env_steps", "solved", "bars"), "wall_time": ("curves_wall_time", "solved", "bars"),
            "variance": ("variance",), "cosine": ("cosine",)}


def bar_floor(values) -> float:
    """Where log-scale bars start: the power of ten at or below half the smallest value (so the
    smallest bar has a visible height)."""
    return 10.0 ** math.floor(math.log10(min(values) / 2)) if len(values) else 1.0


def _frame(columns: dict) -> pd.DataFrame:
    return pd.DataFrame(finite_rows({k: np.asarray(v) for k, v in columns.items()}))


def compare_datasets(curves: dict[str, dict], solved: dict, variance_rows: list[dict],
                     max_steps: int = 500) -> dict[str, pd.DataFrame]:
    """The named datasets, from plain columns (a pg.lessons.comparison.Comparison gives them):
    ``curves`` {"env_steps" and "wall_time": Comparison.curves(x)}, ``solved``
    (Comparison.solve_points()), ``variance_rows`` (Comparison.variance_rows()); ``max_steps``
    is the episode limit, the y scale's top (the solve bar is drawn if it holds it)."""
    rows = [{**r, "checkpoint": CHECKPOINT_TITLES.get(r["checkpoint"], r["checkpoint"])} for r in variance_rows]
    variance = [r for r in rows if r["variance"] > 0 and 0 < r["relative_variance"] < np.inf]  # a log axis shows no 0
    floor = [bar_floor([r["relative_variance"] for r in variance])] * len(variance)
    cosine = [r for r in rows if r.get("cosine_reference") is not None]  # once the reference is measured
    bar = CARTPOLE_V1_SOLVED
    return {
        "curves_env_steps": _frame(curves["env_steps"]),
        "curves_wall_time": _frame(curves["wall_time"]),
        "solved": _frame(solved),
        "variance": _frame({**{k: [r[k] for r in variance] for k in VARIANCE_KEYS[:-1]}, "floor": floor}),
        "cosine": _frame({k: [r[k] for r in cosine] for k in COSINE_KEYS}),
        "bars": pd.DataFrame({"value": [bar], "label": [f"{bar:g}: solved (greedy, 100 episodes)"]})
        if max_steps >= bar else pd.DataFrame({"value": [], "label": []}),
    }


def with_data(spec: dict, panel: str, datasets: dict) -> dict:
    """A shallow copy of a panel's spec carrying the datasets it reads."""
    return {**spec, "datasets": {name: datasets[name] for name in DATASETS[panel]}}
