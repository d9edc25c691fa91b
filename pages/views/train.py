"""Live training: press Start and watch REINFORCE learn, the policy forming beside the curves."""

from dataclasses import replace

import streamlit as st

from pages.links import publish, restore
from pages.live_loop import placeholders, run_and_redraw
from pages.shared import form_widget, run_registry
from pg.algo.reinforce import ConfigError, initial_policy
from pg.app.live_view import (
    chart_columns,
    empty_columns,
    progress_text,
    run_status,
    solve_rule,
    untrained,
    untrained_config,
)
from pg.app.pacing import follow, human_pace, step_view
from pg.app.presets import FORM_ADVANCED, FORM_MAIN, PRESETS, form_values, preset_config, try_config
from pg.app.state import SPEEDS, TrainState
from pg.runs.live import MAX_SEEDS
from pg.viz.spec import arrow_datasets, titled, with_datasets
from pg.viz.training_charts import live_heatmap_datasets, page_specs, training_datasets

TICK = 0.2  # seconds of training between two redraws: 4 to 5 redraws a second
BANNER = {"solved": "success", "diverged": "error", "failed": "error", "collapsed": "warning",
          "unsolved": "warning"}  # level -> st element
ss = st.session_state


def apply_preset():
    for name, value in form_values(preset_config(ss.train_preset)).items():
        ss[f"train_{name}"] = value


restore(TrainState, "train_")  # a link's settings (preset first), on the first run of a visit
if "train_policy" not in ss:  # first visit: the default preset's values
    ss.train_preset = "fastest"
    apply_preset()

# presenter mode: the buttons beside the title, so that the charts' top row fits a 1280 x 720 screen
head = st.columns([2, 3], vertical_alignment="center") if ss.get("present", False) else [st, st]
head[0].title("Live training")
with st.sidebar:
    st.selectbox("Preset", list(PRESETS), key="train_preset", on_change=apply_preset)
    st.caption(PRESETS[ss.train_preset]["description"])
    values = {name: form_widget(name, kind, label, opts) for name, kind, label, opts in FORM_MAIN}
    n_seeds = st.slider("Seeds trained side by side", 1, MAX_SEEDS, key="train_n_seeds")
    with st.expander("Evaluation, budgets and more"):
        values |= {name: form_widget(name, kind, label, opts) for name, kind, label, opts in FORM_ADVANCED}
    ss.setdefault("train_speed", TrainState().speed)  # (a default here and a link's value would clash)
    speed = st.radio("Speed", SPEEDS, key="train_speed", help="Human pace replays the run, computed at full "
                     "speed, a few updates a second, each update's episodes appearing one by one.")
    ss.setdefault("train_pace", TrainState().pace)
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
    ss.shown = step_view(ss.live, int(ss.shown))
    publish_run()


def reset():
    for key in ("live", "live_watching", "run", "running", "shown", "view_seconds"):
        ss.pop(key, None)


ss.setdefault("running", False)
# one row that wraps (columns would stack into four rows on a phone)
bar = head[1].container(horizontal=True, gap="small", key="train_buttons")
buttons = [bar] * 4
buttons[0].button("Start", on_click=start, disabled=cfg is None or ss.running, type="primary", key="train_start",
                  icon=":material/play_arrow:", width="stretch")
buttons[1].button("Stop", on_click=stop, disabled=not ss.running, key="train_stop", icon=":material/stop:",
                  width="stretch")
buttons[2].button("Step", on_click=step, disabled=cfg is None or ss.running, key="train_step",
                  icon=":material/skip_next:", width="stretch")
buttons[3].button("Reset", on_click=reset, key="train_reset", icon=":material/restart_alt:", width="stretch")


@st.cache_data(max_entries=64, show_spinner=False)
def _untrained(config):
    return untrained(config)


def untrained_of(config):
    """The untrained agent's returns, cached per policy, seed and episodes: not per learning rate."""
    return _untrained(untrained_config(config))


@st.fragment
def dashboard():
    live = ss.get("live")
    if live is None:
        return before_start()
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
            ss.shown, ss.view_seconds = follow(live, ss.view_seconds, TICK)
        else:  # human pace: a replay of the run (computed at full speed), `pace` updates a second
            ss.shown, clock = human_pace(live, ss.shown, clock, pace, TICK)

    run_and_redraw(draw, advance, done=lambda: not live.computing and ss.shown >= live.n, running_key="running",
                   on_done=stop)
    if not ss.running and live.n:
        downloads(live, i)


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
    slots = {"returns": top[0].empty(), "heatmap": top[1].empty()}
    if seeds > 1:
        top[1].selectbox("Policy of seed", range(seeds), key="train_policy_seed",
                         format_func=lambda i: f"seed {(first_seed + i) % 2**32}",
                         on_change=lambda: ss.get("live") is not None and publish_run(),
                         help="The seed whose policy the heatmap shows and the download holds.")
    status = status or st.container()
    rows = [st.columns([1, 1]), st.columns(3)]
    return status, slots | placeholders(rows, ["eval", "mean_length", "grad_norm", "entropy", "baseline_value"])


def before_start():
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
    spec = page_specs(n_seeds > 1, cfg.max_episode_steps, ss.get("present", False))
    data = arrow_datasets(training_datasets(**empty_columns(cfg, n_seeds)) | live_heatmap_datasets(initial_policy(seed_cfg)))
    specs = {**spec, "heatmap": titled(spec["heatmap"], f"Policy of seed {seed_cfg.seed}, untrained")}
    for name, slot in slots.items():
        slot.vega_lite_chart(with_datasets(specs[name], data), width="stretch")


dashboard()
