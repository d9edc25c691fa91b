"""Charts of a training run, built for live redraws.

The chart *specs* use named data sources (``alt.NamedData``) and are built once per layout;
each redraw only supplies fresh, downsampled ``datasets`` (``training_datasets``). Vega then
updates the data in place instead of re-embedding the chart, and no Altair validation runs
per redraw. ``training_chart`` returns the Altair chart (tested on its encodings);
``live_spec`` is its Vega-Lite dict, cached by the page.

Datasets (all NaN-free, columns as NumPy arrays):

===========  =================================================================
name         columns
===========  =================================================================
episodes     episode, return           one seed: every episode's return (sampled)
history      iteration, episode, ma_return, mean_length, grad_norm, entropy,
             baseline_value            one seed, per update
evals        iteration, eval_return    updates with a completed greedy evaluation
band         iteration, field, median, low, high   several seeds, per update
bars         value, label              the solve bars (475 for v1, 195 for v0)
===========  =================================================================
"""

from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd

from pg.charts.style import INK, MUTED, PUSH_LEFT, PUSH_RIGHT, SERIES, finite_rows, styled

RETURN_TITLE = "episode return (steps balanced)"
DIAGNOSTICS = [
    ("mean_length", "episode length (steps)"),
    ("grad_norm", "gradient norm ‖ĝ‖"),
    ("entropy", "policy entropy (nats)"),
    ("baseline_value", "baseline b (mean)"),
]
BAND_FIELDS = ["ma_return", "eval_return"] + [f for f, _ in DIAGNOSTICS]
V0_BAR, V1_BAR = 195.0, 475.0


def _bars(max_steps: int) -> alt.Chart:
    rules = alt.Chart(alt.NamedData("bars")).mark_rule(strokeDash=[6, 4], color=MUTED)
    labels = alt.Chart(alt.NamedData("bars")).mark_text(align="left", dx=4, dy=-7, color=MUTED, fontSize=12)
    return rules.encode(y="value:Q") + labels.encode(y="value:Q", x=alt.value(0), text="label:N")


def _returns_panel(multi_seed: bool, max_steps: int, width, height: int):
    y = alt.Y("return:Q", title=RETURN_TITLE, scale=alt.Scale(domain=[0, max_steps]))
    if multi_seed:
        base = alt.Chart(alt.NamedData("band")).transform_filter(alt.datum.field == "ma_return")
        x = alt.X("iteration:Q", title="update")
        band = base.mark_area(opacity=0.25, color=PUSH_RIGHT).encode(
            x=x, y=alt.Y("low:Q", title="return, moving average of 100 episodes", scale=alt.Scale(domain=[0, max_steps])),
            y2="high:Q",
        )
        line = base.mark_line(color=PUSH_RIGHT, strokeWidth=2.5).encode(x=x, y="median:Q")
        panel = band + line + _bars(max_steps)
        title = "Returns: median and min-max over seeds (moving average of 100 episodes)"
    else:
        x = alt.X("episode:Q", title="episode")
        points = alt.Chart(alt.NamedData("episodes")).mark_circle(size=14, opacity=0.35, color=PUSH_LEFT).encode(x=x, y=y)
        average = alt.Chart(alt.NamedData("history")).mark_line(color=PUSH_RIGHT, strokeWidth=2.5).encode(
            x="episode:Q", y="ma_return:Q"
        )
        panel = points + average + _bars(max_steps)
        title = "Episode returns (dots) and their moving average over 100 episodes (line)"
    return panel.properties(width=width, height=height, title=title)


def _eval_panel(multi_seed: bool, max_steps: int, width, height: int):
    scale = alt.Scale(domain=[0, max_steps])
    x = alt.X("iteration:Q", title="update")
    if multi_seed:
        base = alt.Chart(alt.NamedData("band")).transform_filter(alt.datum.field == "eval_return")
        panel = base.mark_area(opacity=0.25, color=INK).encode(
            x=x, y=alt.Y("low:Q", title="greedy mean return", scale=scale), y2="high:Q"
        ) + base.mark_line(point=True, color=INK).encode(x=x, y="median:Q")
    else:
        panel = alt.Chart(alt.NamedData("evals")).mark_line(point=True, color=INK).encode(
            x=x, y=alt.Y("eval_return:Q", title="greedy mean return", scale=scale)
        )
    return (panel + _bars(max_steps)).properties(
        width=width, height=height, title="Greedy evaluation (100 episodes, no sampling)"
    )


def _diagnostic_panel(field: str, title: str, multi_seed: bool, color: str, width, height: int):
    x = alt.X("iteration:Q", title="update")
    if multi_seed:
        base = alt.Chart(alt.NamedData("band")).transform_filter(alt.datum.field == field)
        chart = base.mark_area(opacity=0.25, color=color).encode(
            x=x, y=alt.Y("low:Q", title=title, scale=alt.Scale(zero=False)), y2="high:Q"
        ) + base.mark_line(color=color).encode(x=x, y="median:Q")
    else:
        chart = alt.Chart(alt.NamedData("history")).mark_line(color=color).encode(
            x=x, y=alt.Y(f"{field}:Q", title=title, scale=alt.Scale(zero=False))
        )
    return chart.properties(width=width, height=height)


def training_chart(multi_seed: bool = False, max_steps: int = 500, large: bool = False):
    """The whole live dashboard as one chart: returns and greedy evaluation on top, four
    diagnostics below. Data comes from the named datasets of ``training_datasets``."""
    top_height, small_height = (300, 150) if large else (240, 120)
    width = "container"
    top = alt.hconcat(
        _returns_panel(multi_seed, max_steps, width, top_height),
        _eval_panel(multi_seed, max_steps, width, top_height),
    )
    colors = [SERIES[2], SERIES[3], SERIES[4], SERIES[5]]
    bottom = alt.hconcat(
        *[
            _diagnostic_panel(field, title, multi_seed, color, width, small_height)
            for (field, title), color in zip(DIAGNOSTICS, colors)
        ]
    )
    return styled(alt.vconcat(top, bottom, spacing=18).resolve_scale(color="independent"), large=large)


def live_spec(multi_seed: bool = False, max_steps: int = 500, large: bool = False) -> dict:
    """The Vega-Lite dict of ``training_chart``: build once, reuse for every redraw."""
    spec = training_chart(multi_seed, max_steps, large).to_dict()
    spec.pop("datasets", None)
    return spec


def training_datasets(live, upto: int | None = None, max_points: int = 400) -> dict[str, pd.DataFrame]:
    """The named datasets of the dashboard for a pg.live.LiveRun, up to update ``upto``."""
    max_steps = live.cfg.max_episode_steps
    bars = [(V1_BAR, "475: CartPole-v1 solved")] if max_steps >= V1_BAR else []
    bars.append((V0_BAR, "195: CartPole-v0 (200-step episodes) solved"))
    data = {"bars": pd.DataFrame({"value": [b for b, _ in bars], "label": [t for _, t in bars]})}
    if len(live.seeds) > 1:
        frames = []
        for field in BAND_FIELDS:
            band = finite_rows(live.band(field, upto=upto, max_points=max_points))
            frames.append(pd.DataFrame({**band, "field": field}))
        data["band"] = pd.concat(frames, ignore_index=True)
        return data
    history = live.history(0, upto=upto, max_points=max_points)
    data["history"] = pd.DataFrame(finite_rows({k: history[k] for k in ("iteration", "episodes", "ma_return",
                                                                       *[f for f, _ in DIAGNOSTICS])}))
    data["history"].rename(columns={"episodes": "episode"}, inplace=True)
    evals = finite_rows({"iteration": history["iteration"], "eval_return": history["eval_return"]})
    data["evals"] = pd.DataFrame(evals)
    points = live.episode_points(0, upto=upto, max_points=3 * max_points)
    data["episodes"] = pd.DataFrame({"episode": points["episode"], "return": points["return"]})
    return data


def with_datasets(spec: dict, datasets: dict) -> dict:
    """A shallow copy of ``spec`` carrying ``datasets`` (what st.vega_lite_chart takes)."""
    return {**spec, "datasets": datasets}


def solved_summary(live) -> list[dict]:
    """One row per seed for the banner/table: solved when, and the budget or reason if not."""
    rows = []
    for seed in live.seeds:
        row = {"seed": seed.cfg.seed, "updates": seed.recorder.n, "status": seed.stop_reason or "running"}
        if seed.solved is not None:
            s = seed.solved
            row.update(solved_update=s.iteration, seconds=round(s.wall_time, 3), episodes=s.episodes,
                       env_steps=s.env_steps, greedy_return=round(s.eval_return, 1))
        rows.append(row)
    return rows


def episodes_domain(live) -> list[float]:
    n = max(1, int(np.max([s.recorder.episodes for s in live.seeds])))
    return [0.0, float(n)]
