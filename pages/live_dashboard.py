"""Live training's dashboard: the seven charts of a run as it computes (or is replayed at human
pace), the banner and the downloads; before Start, the same charts on empty axes with the
untrained policy. Called by pages/views/train.py with the form's settings."""

from __future__ import annotations

from dataclasses import replace

import streamlit as st

from pages.live_loop import ChartSlot, placeholders, run_and_redraw
from pages.live_session import picked, publish_run, stop
from pg.algo.reinforce import initial_policy
from pg.app import pacing
from pg.app.live_view import (
    chart_columns,
    empty_columns,
    progress_text,
    run_status,
    solve_rule,
    untrained,
    untrained_config,
)
from pg.app.predict import SOLVE_GUESSES, solve_verdict
from pg.app.state import SPEEDS
from pg.viz.spec import arrow_datasets, titled, with_datasets
from pg.viz.training_charts import build_layouts_ahead, live_heatmap_datasets, page_specs, training_datasets

TICK = 0.2  # seconds of training between two redraws: 4 to 5 redraws a second
BANNER = {"solved": "success", "diverged": "error", "failed": "error", "collapsed": "warning",
          "unsolved": "warning"}  # level -> st element
ss = st.session_state


@st.cache_data(max_entries=64, show_spinner=False)
def _untrained(config):
    return untrained(config)


def untrained_of(config):
    """The untrained agent's returns, cached per policy, seed and episodes: not per learning rate."""
    return _untrained(untrained_config(config))


@st.cache_resource(show_spinner=False)
def _layouts_ahead() -> bool:
    """Once per server: the chart layouts of the other seed counts and of presenter mode, built on
    a low-priority thread while the visitor reads (pg.viz.training_charts.build_layouts_ahead)."""
    build_layouts_ahead()
    return True


@st.fragment
def dashboard(cfg, n_seeds: int, speed: str, pace: int):
    """The charts, the banner and the downloads; before Start, what will move. A fragment: the
    seed picker and the redraws rerun only this part of the page. ``cfg`` is the form's config
    (None if it cannot train), ``speed`` and ``pace`` the sidebar's."""
    _layouts_ahead()
    live = ss.get("live")
    if live is None:
        return before_start(cfg, n_seeds)
    status, slots = panels(len(live.seeds), live.cfg.seed)
    banner, progress = status.empty(), status.empty()
    spec = page_specs(len(live.seeds) > 1, live.cfg.max_episode_steps, ss.get("present", False))
    i = picked()
    last = None  # (update, run length) the panels other than the returns were last drawn at

    def draw():
        # between two updates (a replay shows a batch's episodes one by one) only the returns
        # chart changes: the others are left as drawn, which halves a browser's work per frame
        nonlocal last
        upto, seed = ss.shown, live.seeds[i]
        k = min(int(upto), seed.recorder.n)
        data = training_datasets(**chart_columns(live, upto))
        names = list(slots) if (k, live.n) != last else ["returns"]
        if len(names) > 1:
            data |= live_heatmap_datasets(live.policy_at(k, i))
        data = arrow_datasets(data)
        specs = {**spec, "heatmap": titled(spec["heatmap"], f"Policy of seed {seed.cfg.seed}, update {k}")}
        for name in names:
            slots[name].vega_lite_chart(with_datasets(specs[name], data), width="stretch")
        last = (k, live.n)
        progress.caption(progress_text(live, upto, seed=i, paced=speed == SPEEDS[1]))
        if status := run_status(live, upto):
            getattr(banner, BANNER[status.level])(status.text)

    clock = None  # the time of the last frame at human pace (None: before the first)

    def advance():
        nonlocal clock
        if speed == SPEEDS[0]:  # compute what nobody has computed yet, else replay it at its speed
            ss.shown, ss.view_seconds = pacing.follow(live, ss.view_seconds, TICK)
        else:  # human pace: a replay of the run (computed at full speed), `pace` updates a second
            ss.shown, clock = pacing.human_pace(live, ss.shown, clock, pace, TICK)

    run_and_redraw(draw, advance, done=lambda: not live.computing and ss.shown >= live.n, running_key="running",
                   on_done=stop)
    if not ss.running and live.n:
        downloads(live, i)
        if live.finished and ss.shown >= live.n and ss.get("train_prediction") is not None:  # under the banner
            first = live.seeds[0]
            matched, text = solve_verdict(ss.train_prediction, first.solved.iteration if first.solved else None,
                                          first.stop_reason, first.cfg.seed)
            (status.success if matched else status.warning)(text, icon=":material/psychology_alt:")


def downloads(live, i: int):
    """The picked seed's policy and every seed's history (in the fragment: the seed picker
    reruns only the fragment, and the policy's label names the seed)."""
    name = f"seed {live.seeds[i].cfg.seed}" if len(live.seeds) > 1 else ""
    d1, d2, _ = st.columns([1, 1, 2])
    d1.download_button(f"Policy of {name} (.npz)" if name else "Policy (.npz)", live.policy_file(i),
                       f"policy-{name.replace(' ', '-')}.npz" if name else "policy.npz", key="train_download_policy",
                       icon=":material/download:", width="stretch")
    d2.download_button("History (CSV)", live.history_csv(), "history.csv", key="train_download_history",
                       icon=":material/table:", width="stretch")


def panels(seeds: int, first_seed: int):
    """(the banner's container, the chart slots). The returns and the policy side by side on
    top, the seed picker under the policy, then the evaluation and the diagnostics. In
    presenter mode the banner and the caption go under the top row, so that the two charts
    fill one 1280 x 720 screen."""
    present = ss.get("present", False)
    status = None if present else st.container()
    top = st.columns([2, 1])
    slots = {"returns": ChartSlot(top[0].container()), "heatmap": ChartSlot(top[1].container())}
    if seeds > 1:
        top[1].selectbox("Policy of seed", range(seeds), key="train_policy_seed",
                         format_func=lambda i: f"seed {(first_seed + i) % 2**32}",
                         on_change=lambda: ss.get("live") is not None and publish_run(),
                         help="The seed whose policy the heatmap shows and the download holds.")
    status = status or st.container()
    rows = [st.columns([1, 1]), st.columns(3)]
    return status, slots | placeholders(rows, ["eval", "mean_length", "grad_norm", "entropy", "baseline_value"])


def before_start(cfg, n_seeds: int):
    """What will move, before Start: empty axes with the solve bars, the untrained policy and
    its return, and what to press."""
    if cfg is None:
        return
    status, slots = panels(n_seeds, cfg.seed)
    seed_cfg = replace(cfg, seed=(cfg.seed + picked()) % 2**32)
    agent = untrained_of(seed_cfg)
    status.info(f"Press **Start** to watch REINFORCE learn, or **Step** for one update at a time. {solve_rule(cfg)}")
    status.caption(f"update 0 · the untrained policy returns {agent.sampled_mean:.1f} on average with sampled "
                   f"actions ({agent.greedy_mean:.1f} taking its likelier push every step), over {agent.episodes} "
                   "episodes")
    status.radio(f"Predict, then check: how many updates will seed {cfg.seed} need to be solved?", SOLVE_GUESSES,
                 index=None, horizontal=True, key="train_predict",
                 help="Answer before Start, or don't: when the run has ended, the page says whether you were "
                 "right, from the run itself.")
    spec = page_specs(n_seeds > 1, cfg.max_episode_steps, ss.get("present", False))
    data = arrow_datasets(training_datasets(**empty_columns(cfg, n_seeds)) | live_heatmap_datasets(initial_policy(seed_cfg)))
    specs = {**spec, "heatmap": titled(spec["heatmap"], f"Policy of seed {seed_cfg.seed}, untrained")}
    for name, slot in slots.items():
        slot.vega_lite_chart(with_datasets(specs[name], data), width="stretch")
