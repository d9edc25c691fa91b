"""A Live training session's run: made or taken from the server's registry when Start or Step
is pressed, published to Heatmap and Replay when it stops, dropped on Reset. The buttons'
callbacks read the form from the session state (a button's callback runs before the script,
with this click's values), so nothing here depends on the page script's variables."""

from __future__ import annotations

import streamlit as st

from pages.shared import run_registry
from pg.algo.reinforce import ConfigError
from pg.app import pacing
from pg.app.presets import FORM_ADVANCED, FORM_MAIN, try_config
from pg.app.state import SPEEDS

ss = st.session_state


def form_config():
    """(config, seeds) from the form as it is now. In a button's callback that is this click's
    values, a number typed and not yet committed with Enter included: the `cfg` above is the
    previous script run's. None if the settings cannot train."""
    values = {name: ss[f"train_{name}"] for name, *_ in FORM_MAIN + FORM_ADVANCED}
    return try_config(values, ss.train_n_seeds)[0], ss.train_n_seeds


def new_run(cfg, n_seeds) -> bool:
    def announce(_run):  # once per computed run (the load test and the session tests count these)
        print(f"[pg] computing a new run: seed {cfg.seed}, {n_seeds} seed(s)", flush=True)

    try:
        live = run_registry().get((cfg, n_seeds), announce)
    except ConfigError as refused:  # e.g. over the server's memory budget (pg.runs.footprint)
        ss.train_refused = str(refused).rstrip(".")
        return False
    ss.live, ss.shown, ss.run, ss.view_seconds = live, 0, None, 0.0
    ss.train_prediction = ss.get("train_predict")  # the guess made before this run (the question hides now)
    ss.live_watching = run_registry().watch(live)  # dropped with the session: the run is then abandoned
    return True


def ensure_run(restart_finished: bool) -> bool:
    """The session's run of the form's settings, made (or taken from the registry) if need be:
    a run that can compute no more (cancelled for nobody watching it, or failed) is made again."""
    cfg, n_seeds = form_config()
    if cfg is None:
        return False
    live = ss.get("live")
    replayed = live is not None and ss.get("shown", 0) >= live.n  # (a viewer behind a run goes on watching it)
    if (live is None or live.cancelled or live.failure is not None or (restart_finished and live.finished and replayed)
            or not live.matches(cfg, n_seeds)):
        return new_run(cfg, n_seeds)
    return True


def start():
    ss.running = ensure_run(restart_finished=True) and ss.train_speed != SPEEDS[2]


def picked() -> int:
    """The index of the seed whose policy the heatmap and the downloads show."""
    return min(ss.get("train_policy_seed", 0), ss.train_n_seeds - 1)


def publish_run():
    """The run Heatmap and Replay show: the picked seed's."""
    i = picked()
    label = f" (seed {ss.live.seeds[i].cfg.seed})" if len(ss.live.seeds) > 1 else ""
    ss.run, ss.run_label = ss.live.to_run(i), f"your training run{label}"


def stop():
    ss.running = False
    if ss.get("live") is not None:
        publish_run()


def step():
    ss.running = False
    if not ensure_run(restart_finished=False):
        return
    ss.shown = pacing.step_view(ss.live, int(ss.shown))
    publish_run()


def reset():
    for key in ("live", "live_watching", "run", "running", "shown", "view_seconds"):
        ss.pop(key, None)
