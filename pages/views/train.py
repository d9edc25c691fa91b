"""Live training: press Start and watch REINFORCE learn, the policy forming beside the curves."""

import streamlit as st

from pages.links import publish, restore
from pages.live_loop import placeholders, run_and_redraw, started
from pages.shared import form_widget, run_registry
from pg.algo.reinforce import ConfigError
from pg.app.live_view import chart_columns, progress_text, run_status
from pg.app.pacing import follow, pace_through, step_view
from pg.app.presets import FORM_ADVANCED, FORM_MAIN, PRESETS, form_values, preset_config, try_config
from pg.app.state import SPEEDS, TrainState
from pg.runs.live import MAX_SEEDS
from pg.viz.training_charts import (
    arrow_datasets,
    live_heatmap_datasets,
    page_specs,
    training_datasets,
    with_datasets,
)

TICK = 0.2  # seconds of training between two redraws: 4 to 5 redraws a second
BANNER = {"solved": "success", "diverged": "error", "failed": "error", "unsolved": "warning"}  # level -> st element
ss = st.session_state


def apply_preset():
    for name, value in form_values(preset_config(ss.train_preset)).items():
        ss[f"train_{name}"] = value


restore(TrainState, "train_")  # a link's settings (preset first), on the first run of a visit
if "train_policy" not in ss:  # first visit: the default preset's values
    ss.train_preset = "fastest"
    apply_preset()

st.title("Live training")
with st.sidebar:
    st.selectbox("Preset", list(PRESETS), key="train_preset", on_change=apply_preset)
    st.caption(PRESETS[ss.train_preset]["description"])
    values = {name: form_widget(name, kind, label, opts) for name, kind, label, opts in FORM_MAIN}
    n_seeds = st.slider("Seeds trained side by side", 1, MAX_SEEDS, key="train_n_seeds")
    with st.expander("Evaluation, budgets and more"):
        values |= {name: form_widget(name, kind, label, opts) for name, kind, label, opts in FORM_ADVANCED}
    speed = st.radio("Speed", SPEEDS, key="train_speed")
    ss.setdefault("train_pace", TrainState().pace)  # (a default here and a link's value would clash)
    pace = st.slider("Human pace: updates per second", 1, 30, key="train_pace", disabled=speed != SPEEDS[1])

cfg, problem = try_config(values, n_seeds)
problem = problem or ss.pop("train_refused", None)  # (a Start or Step the registry refused)
if problem:
    st.error(f"Cannot train with these settings: {problem}.")
publish(TrainState(preset=ss.train_preset, **values, n_seeds=n_seeds, speed=speed, pace=pace))


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
    ss.live_watching = run_registry().watch(live)  # dropped with the session: the run is then abandoned
    return True


def ensure_run(restart_finished: bool) -> bool:
    """The session's run of the form's settings, made (or taken from the registry) if need be:
    a run that can compute no more (cancelled for nobody watching it, or failed) is made again."""
    cfg, n_seeds = form_config()
    if cfg is None:
        return False
    live = ss.get("live")
    if (live is None or live.cancelled or live.failure is not None or (restart_finished and live.finished)
            or not live.matches(cfg, n_seeds)):
        return new_run(cfg, n_seeds)
    return True


def start():
    ss.running = ensure_run(restart_finished=True) and ss.train_speed != SPEEDS[2]


def stop():
    ss.running = False
    if ss.get("live") is not None:
        ss.run, ss.run_label = ss.live.to_run(), "your training run"  # Heatmap and Replay show it


def step():
    ss.running = False
    if not ensure_run(restart_finished=False):
        return
    ss.shown = step_view(ss.live, ss.shown)
    ss.run, ss.run_label = ss.live.to_run(), "your training run"


def reset():
    for key in ("live", "live_watching", "run", "running", "shown", "view_seconds"):
        ss.pop(key, None)


ss.setdefault("running", False)
buttons = st.columns(4)
buttons[0].button("Start", on_click=start, disabled=cfg is None or ss.running, type="primary", key="train_start",
                  icon=":material/play_arrow:", width="stretch")
buttons[1].button("Stop", on_click=stop, disabled=not ss.running, key="train_stop", icon=":material/stop:",
                  width="stretch")
buttons[2].button("Step", on_click=step, disabled=cfg is None or ss.running, key="train_step",
                  icon=":material/skip_next:", width="stretch")
buttons[3].button("Reset", on_click=reset, key="train_reset", icon=":material/restart_alt:", width="stretch")


@st.fragment
def dashboard():
    live = started("live", "Press **Start** to train with these settings, or **Step** for one update at a time. "
                   "The curves and the policy on the right redraw several times a second while REINFORCE learns.")
    if live is None:
        return
    banner, progress = st.empty(), st.empty()
    spec = page_specs(len(live.seeds) > 1, live.cfg.max_episode_steps, ss.get("present", False))
    rows = [st.columns([2, 1]), st.columns([1, 1]), st.columns(3)]
    layout = ["returns", "heatmap", "eval", "mean_length", "grad_norm", "entropy", "baseline_value"]
    slots = placeholders(rows, layout)

    def draw():
        upto = ss.shown
        data = arrow_datasets(training_datasets(**chart_columns(live, upto))
                              | live_heatmap_datasets(live.policy_at(upto)))
        for name, slot in slots.items():
            slot.vega_lite_chart(with_datasets(spec[name], data), width="stretch")
        progress.caption(progress_text(live, upto))
        if status := run_status(live, upto):
            getattr(banner, BANNER[status.level])(status.text)

    clock = None  # the time of the last frame at human pace (None: before the first)

    def advance():
        nonlocal clock
        if speed == SPEEDS[0]:  # compute what nobody has computed yet, else replay it at its speed
            ss.shown, ss.view_seconds = follow(live, ss.view_seconds, TICK)
        else:  # human pace: show `pace` updates a second, computing only just ahead
            ss.shown, clock = pace_through(live, ss.shown, clock, pace, TICK)

    run_and_redraw(draw, advance, done=lambda: not live.computing and ss.shown >= live.n, running_key="running",
                   on_done=stop)


dashboard()
if ss.get("live") is not None and not ss.running and ss.live.n:
    d1, d2, _ = st.columns([1, 1, 2])
    d1.download_button("Policy (.npz)", ss.live.policy_file(), "policy.npz", key="train_download_policy",
                       icon=":material/download:", width="stretch")
    d2.download_button("History (CSV)", ss.live.history_csv(), "history.csv", key="train_download_history",
                       icon=":material/table:", width="stretch")
