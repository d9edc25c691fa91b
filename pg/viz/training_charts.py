"""Charts of a training run, built for live redraws.

The chart *specs* use named data sources (``alt.NamedData``) and are built once per layout;
each redraw only supplies fresh, downsampled ``datasets`` (``training_datasets``). Vega then
updates the data in place instead of re-embedding the chart, and no Altair validation runs
per redraw. ``panel_chart`` returns each panel's Altair chart (tested on its encodings);
``live_specs`` are their Vega-Lite dicts; ``page_specs`` keeps them for the most recent
``SPEC_CACHE_SIZE`` layouts, shared by every session.

Redraws are cheap for the browser too, which must keep up with 4 to 5 redraws a second
beside the training (a browser that falls behind queues the redraws, and a Stop click waits
behind them): the live specs draw on a canvas, not SVG, with no ARIA label per mark; the
lines carry at most 200 points, the episode dots 600 and the live heatmap 25 x 25 cells
(measured in Chromium: 85 ms of CPU per redraw of the seven charts, against 310 ms with SVG,
ARIA, 400 / 1200 points and 31 x 31 cells). pg.viz.spec.arrow_datasets encodes each dataset once.

Datasets (all NaN-free, columns as NumPy arrays):

===========  =================================================================
name         columns
===========  =================================================================
episodes     episode, return           one seed: every episode's return (sampled)
history      iteration, episode, ma_return, mean_length, grad_norm, entropy,
             baseline_value            one seed, per update
evals        iteration, value, kind, note   one seed: every greedy evaluation, completed
                                       (its mean) or cut short (its upper bound)
band         iteration, field, median, low, high   several seeds, per update
seeds        iteration, seed, value    several seeds: each seed's moving average, to its end
bars         value, label              the solve bars (solve_bars: v1's, and v0's)
===========  =================================================================
"""

from __future__ import annotations

from functools import lru_cache

import altair as alt
import numpy as np
import pandas as pd

from pg.algo.reinforce import CARTPOLE_V0_SOLVED, CARTPOLE_V1_SOLVED, MOVING_AVERAGE_EPISODES
from pg.viz.ahead import ahead_pool
from pg.viz.spec import ANY_END, for_redraws, with_domain
from pg.viz.style import BOUNDARY, INK, MUTED, PUSH_LEFT, PUSH_RIGHT, SERIES, TEXT_SIZES, finite_rows, styled

RETURN_TITLE = "episode return (steps balanced)"
DIAGNOSTICS = [
    ("mean_length", "episode length (steps)"),
    ("grad_norm", "gradient norm ||ĝ||"),  # (‖ is missing from fonts a canvas falls back to)
    ("entropy", "policy entropy (nats)"),
    ("baseline_value", "baseline b (mean)"),
]
BAND_FIELDS = ["ma_return", "eval_value"] + [f for f, _ in DIAGNOSTICS]
"""the fields drawn as bands over seeds; "eval_value" is each evaluation's number: its mean, or
the upper bound of one cut short (pg.runs.live.LiveRun.band)"""
EVAL_KINDS = ("mean of the evaluation", "cut short: at most")
"""the two kinds of point of the evaluation panel: a completed evaluation's mean (filled) and a
cut-short evaluation's upper bound (open): it stopped once the bar was out of reach"""
UPDATE_X = alt.X("iteration:Q", title="update", axis=alt.Axis(format="d", tickMinStep=1))


def _bars(large: bool = False) -> alt.Chart:
    rules = alt.Chart(alt.NamedData("bars")).mark_rule(strokeDash=[6, 4], color=MUTED)
    size = TEXT_SIZES["large" if large else "normal"]
    labels = alt.Chart(alt.NamedData("bars")).mark_text(align="left", dx=4, dy=-size * 0.6, color=MUTED,
                                                       fontSize=size)
    return rules.encode(y="value:Q") + labels.encode(y="value:Q", x=alt.value(0), text="label:N")


def _returns_panel(multi_seed: bool, max_steps: int, width, height: int, large: bool = False):
    y = alt.Y("return:Q", title=RETURN_TITLE, scale=alt.Scale(domain=[0, max_steps]))
    if multi_seed:
        base = alt.Chart(alt.NamedData("band")).transform_filter(alt.datum.field == "ma_return")
        x = UPDATE_X
        band = base.mark_area(opacity=0.25, color=PUSH_RIGHT).encode(
            x=x, y=alt.Y("low:Q", title="average of 100 returns", scale=alt.Scale(domain=[0, max_steps])),
            y2="high:Q",
        )
        line = base.mark_line(color=PUSH_RIGHT, strokeWidth=2.5).encode(x=x, y="median:Q")
        seeds = alt.Chart(alt.NamedData("seeds")).mark_line(color=PUSH_LEFT, strokeWidth=1, opacity=0.6).encode(
            x=x, y="value:Q", detail="seed:N", tooltip=[alt.Tooltip("seed:N"), alt.Tooltip("iteration:Q", title="update"),
                                                        alt.Tooltip("value:Q", title="moving average", format=".1f")])
        panel = band + seeds + line + _bars(large)
        title = alt.TitleParams("Returns of every seed", subtitle="thin: each seed to its end · band: min to max")
    else:
        x = alt.X("episode:Q", title="episode", axis=alt.Axis(format="d", tickMinStep=1))
        points = alt.Chart(alt.NamedData("episodes")).mark_circle(size=14, opacity=0.35, color=PUSH_LEFT).encode(x=x, y=y)
        average = alt.Chart(alt.NamedData("history")).mark_line(color=PUSH_RIGHT, strokeWidth=2.5).encode(
            x="episode:Q", y="ma_return:Q"
        )
        panel = points + average + _bars(large)
        title = alt.TitleParams("Episode returns", subtitle=f"dots: episodes · line: average of the last {MOVING_AVERAGE_EPISODES}")
    return panel.properties(width=width, height=height, title=title)


def _eval_panel(multi_seed: bool, max_steps: int, width, height: int, large: bool = False):
    scale = alt.Scale(domain=[0, max_steps])
    x = UPDATE_X
    if multi_seed:
        base = alt.Chart(alt.NamedData("band")).transform_filter(alt.datum.field == "eval_value")
        panel = base.mark_area(opacity=0.25, color=INK).encode(
            x=x, y=alt.Y("low:Q", title="greedy mean return", scale=scale), y2="high:Q"
        ) + base.mark_line(point=True, color=INK).encode(x=x, y="median:Q")
        title = alt.TitleParams("Greedy evaluation, all seeds", subtitle="one cut short counts with its bound")
    else:
        kind = alt.Scale(domain=list(EVAL_KINDS), range=["circle", "triangle-down"])
        panel = alt.Chart(alt.NamedData("evals")).mark_point(size=70 if large else 50, color=INK, strokeWidth=1.5).encode(
            x=x, y=alt.Y("value:Q", title="greedy mean return", scale=scale),
            shape=alt.Shape("kind:N", scale=kind, legend=alt.Legend(title=None, orient="bottom")),
            fill=alt.Fill("kind:N", scale=alt.Scale(domain=list(EVAL_KINDS), range=[INK, "transparent"]), legend=None),
            tooltip=[alt.Tooltip("iteration:Q", title="update"), alt.Tooltip("kind:N", title="evaluation"),
                     alt.Tooltip("value:Q", title="return", format=".1f"), alt.Tooltip("note:N", title="solve rule")],
        )
        title = alt.TitleParams("Greedy evaluation", subtitle="its mean, or its bound if cut short")
    return (panel + _bars(large)).properties(width=width, height=height, title=title)


def evaluation_points(history: dict, solve_return: float) -> dict:
    """The "evals" dataset from a seed's history columns: one row per evaluation, its mean if
    it completed, else its upper bound (``EVAL_KINDS``), and a note on the solve rule for a
    pass: confirmed (at what mean) or not."""
    done = np.asarray(history["eval_return"], dtype=np.float64)
    bound = np.asarray(history.get("eval_upper_bound", np.full(len(done), np.nan)), dtype=np.float64)
    confirm = np.asarray(history.get("confirm_return", np.full(len(done), np.nan)), dtype=np.float64)
    rows = ~np.isnan(done) | ~np.isnan(bound)
    value = np.where(np.isnan(done), bound, done)[rows]
    kind = np.where(np.isnan(done[rows]), EVAL_KINDS[1], EVAL_KINDS[0]).astype(object)
    note = np.full(len(value), "", dtype=object)
    passed = ~np.isnan(done[rows]) & (value >= solve_return)
    for k in np.flatnonzero(passed):
        c = confirm[rows][k]
        note[k] = "passed, not confirmed (the confirmation was cut short)" if np.isnan(c) else (
            f"passed, confirmed at {c:.1f}" if c >= solve_return else f"passed, not confirmed ({c:.1f})")
    return {"iteration": history["iteration"][rows], "value": value, "kind": kind, "note": note}


def _diagnostic_panel(field: str, title: str, multi_seed: bool, color: str, width, height: int):
    x = UPDATE_X
    if multi_seed:
        base = alt.Chart(alt.NamedData("band")).transform_filter(alt.datum.field == field)
        chart = base.mark_area(opacity=0.25, color=color).encode(
            x=x, y=alt.Y("low:Q", title=None, scale=alt.Scale(zero=False)), y2="high:Q"
        ) + base.mark_line(color=color).encode(x=x, y="median:Q")
    else:
        chart = alt.Chart(alt.NamedData("history")).mark_line(color=color, strokeWidth=2).encode(
            x=x, y=alt.Y(f"{field}:Q", title=None, scale=alt.Scale(zero=False))
        )
    return chart.properties(width=width, height=height)


PANELS = ("returns", "eval", *[f for f, _ in DIAGNOSTICS])


def panel_chart(panel: str, multi_seed: bool = False, max_steps: int = 500, large: bool = False):
    """One panel of the dashboard ("returns", "eval" or a DIAGNOSTICS field) on named data."""
    width = "container"
    # large (presenter mode): the returns and the heatmap share a 1280 x 720 screen with the
    # title and the buttons, so they stay short; the panels below them can be taller
    height = {"returns": 210 if large else 250, "eval": 300 if large else 250}.get(panel, 190 if large else 150)
    if panel == "returns":
        chart = _returns_panel(multi_seed, max_steps, width, height, large)
    elif panel == "eval":
        chart = _eval_panel(multi_seed, max_steps, width, height, large)
    else:
        title, color = dict(DIAGNOSTICS)[panel], SERIES[2 + [f for f, _ in DIAGNOSTICS].index(panel)]
        chart = _diagnostic_panel(panel, title, multi_seed, color, width, height).properties(title=title)
    # fit the width to the column, keep the height: the plot area stays `height` pixels tall
    return styled(chart.properties(autosize=alt.AutoSizeParams(type="fit-x", contains="padding")), large=large)


def live_specs(multi_seed: bool = False, max_steps: int = 500, large: bool = False) -> dict[str, dict]:
    """Every panel's Vega-Lite dict: build once, reuse for every redraw."""
    return {panel: for_redraws(panel_chart(panel, multi_seed, max_steps, large).to_dict()) for panel in PANELS}


def solve_bars(max_steps: int) -> pd.DataFrame:
    """The solve bars (columns value, label) that a y scale of 0 to ``max_steps`` holds: a bar
    above the scale would wreck the layout."""
    bars = [(CARTPOLE_V1_SOLVED, f"{CARTPOLE_V1_SOLVED:g}: CartPole-v1 solved"),
            (CARTPOLE_V0_SOLVED, f"{CARTPOLE_V0_SOLVED:g}: CartPole-v0 (200-step episodes) solved")]
    bars = [(b, t) for b, t in bars if b <= max_steps]
    return pd.DataFrame({"value": pd.Series([b for b, _ in bars], dtype=float),
                         "label": pd.Series([t for _, t in bars], dtype=object)})


def training_datasets(max_steps: int, history: dict | None = None, episodes: dict | None = None,
                      bands: dict[str, dict] | None = None, seed_lines: dict | None = None,
                      solve_return: float | None = None) -> dict[str, pd.DataFrame]:
    """The named datasets of the dashboard, from plain columns (pg.app.live_view.chart_columns
    extracts them from a run, downsampled):

    - one seed: ``history`` {iteration, episodes, ma_return, eval_return, eval_upper_bound,
      confirm_return and the DIAGNOSTICS fields: (U,) arrays} and ``episodes`` {episode,
      return: (E,) arrays};
    - several seeds: ``bands`` {field: {iteration, median, low, high}} for each of BAND_FIELDS
      and ``seed_lines`` {iteration, seed, value} (each seed's moving average).

    ``max_steps`` is the episode limit: the y scale's top, which decides the solve bars;
    ``solve_return`` the bar a pass is judged against (the evaluation notes; None: 475)."""
    data = {"bars": solve_bars(max_steps)}
    if bands is not None:
        frames = [pd.DataFrame({**finite_rows(bands[field]), "field": field}) for field in BAND_FIELDS]
        data["band"] = pd.concat(frames, ignore_index=True)
        if seed_lines is not None:
            data["seeds"] = pd.DataFrame(finite_rows(seed_lines))
        return data
    columns = {"iteration": history["iteration"], "episode": history["episodes"], "ma_return": history["ma_return"]}
    data["history"] = pd.DataFrame(finite_rows(columns | {f: history[f] for f, _ in DIAGNOSTICS}))
    bar = CARTPOLE_V1_SOLVED if solve_return is None else solve_return
    data["evals"] = pd.DataFrame(evaluation_points(history, bar))
    data["episodes"] = pd.DataFrame({"episode": episodes["episode"], "return": episodes["return"]})
    return data


# ---------------------------------------------------------------------------------------------
# The small live heatmap: the same picture as the Policy heatmap page, on named data
# ---------------------------------------------------------------------------------------------
LIVE_THETA_DOT = (-1.5, 1.5)  # rad/s: fixed while training, so the picture does not jump


def live_heatmap_chart(large: bool = False, height: int | None = None):
    """P(push right) over (theta, theta_dot) at x = x_dot = 0, from datasets "grid" and
    "boundary" (columns of pg.viz.policy_grid.policy_grid / decision_boundary)."""
    from pg.viz.policy_charts import P_RIGHT_SCALE, THETA_DOT_TITLE, THETA_TITLE

    x_scale = alt.Scale(domain=[-12, 12], nice=False, zero=False)
    y_scale = alt.Scale(domain=list(LIVE_THETA_DOT), nice=False, zero=False)
    if large:  # presenter mode: beside the map, whose height the projector's screen is short of
        legend = alt.Legend(title="P(right)", values=[0, 0.5, 1], orient="right", direction="vertical",
                            gradientLength=140)
    else:
        legend = alt.Legend(title="P(push right)", values=[0, 0.5, 1], orient="bottom", direction="horizontal",
                            gradientLength=150)
    cells = alt.Chart(alt.NamedData("grid")).mark_rect(invalid=None).encode(  # no NaN: no filter per cell
        x=alt.X("theta_lo:Q", title=THETA_TITLE, scale=x_scale, axis=alt.Axis(values=list(range(-12, 13, 6)))),
        x2="theta_hi:Q",
        y=alt.Y("theta_dot_lo:Q", title=THETA_DOT_TITLE, scale=y_scale),
        y2="theta_dot_hi:Q",
        # the legend below the map: beside it, it took a third of the narrow column's width
        color=alt.Color("p_right:Q", scale=P_RIGHT_SCALE, legend=legend),
    )
    line = alt.Chart(alt.NamedData("boundary")).mark_line(color=BOUNDARY, strokeWidth=3, clip=True).encode(
        x=alt.X("theta:Q", scale=x_scale), y=alt.Y("theta_dot:Q", scale=y_scale), detail="segment:N", order="order:Q"
    )
    chart = (cells + line).properties(height=height or (200 if large else 250), width="container",
                                      title="The policy now: P(push right)")
    # as the other panels: the width fits the column, the map itself keeps its height (a plain
    # "fit" squeezed it to leave room for the titles and the legend inside the height)
    return styled(chart.properties(autosize=alt.AutoSizeParams(type="fit-x", contains="padding")), large=large)


def live_heatmap_spec(large: bool = False) -> dict:
    return for_redraws(live_heatmap_chart(large).to_dict())


SPEC_CACHE_SIZE = 32
"""layouts whose specs are kept. A layout is (several seeds?, time limit, presenter mode), and
the time limit takes any value up to 100,000: with no bound, 300 time limits held 42 MB
(about 140 KB a layout); 32 hold about 4.5 MB and cover a room's usual settings."""


@lru_cache(maxsize=SPEC_CACHE_SIZE)
def page_specs(multi_seed: bool = False, max_steps: int = 500, large: bool = False) -> dict[str, dict]:
    """The Live training page's specs for one layout: every panel's and the live heatmap's.

    Built once per (several seeds?, presenter mode) (building validates, which takes far longer
    than a redraw: about a second for the seven charts), then given the y scales' top for each
    time limit (a copy, in milliseconds), and kept for the ``SPEC_CACHE_SIZE`` most recently
    used layouts. The dicts are shared by every session: read them, never modify them
    (pg.viz.spec.with_datasets makes a copy).
    """
    return _with_top(_built_specs(bool(multi_seed), bool(large)), int(max_steps))


_TOP = ANY_END
"""the time limit the layouts are built with: no form allows it, so ``[0, _TOP]`` marks exactly
the y scales whose top is the time limit"""


def build_layouts_ahead() -> None:
    """Build every layout ``page_specs`` uses (one seed or several, presenter mode or not) on the
    low-priority thread (pg.viz.ahead): the first change to several seeds or to presenter mode
    then finds its seven charts built (about 0.4 s each otherwise, once per server)."""
    for multi_seed in (False, True):
        for large in (False, True):
            ahead_pool().submit(_built_specs, multi_seed, large)


@lru_cache(maxsize=4)
def _built_specs(multi_seed: bool, large: bool) -> dict[str, dict]:
    return {**live_specs(multi_seed, _TOP, large), "heatmap": live_heatmap_spec(large)}


def _with_top(node, top: int):
    """A copy of a built spec with every y scale's top (``_TOP``) set to ``top``."""
    return with_domain(node, [0, _TOP], [0, top])


def live_heatmap_datasets(policy, resolution: int = 25) -> dict[str, pd.DataFrame]:
    from pg.viz.policy_grid import decision_boundary, policy_grid

    box = {"theta_dot_range": LIVE_THETA_DOT, "resolution": resolution}
    grid = policy_grid(policy, **box)
    boundary = decision_boundary(policy, **box)
    return {
        "grid": pd.DataFrame({k: grid[k] for k in ("theta_lo", "theta_hi", "theta_dot_lo", "theta_dot_hi", "p_right")}),
        "boundary": pd.DataFrame(finite_rows({k: boundary[k] for k in ("theta", "theta_dot", "segment", "order")})),
    }
