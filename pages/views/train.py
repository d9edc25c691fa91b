"""Live training: press Start and watch REINFORCE learn, the policy forming beside the curves.

The form and the buttons; the run's lifecycle is pages/live_session.py, the charts
pages/live_dashboard.py."""

import streamlit as st

from pages.links import publish, restore
from pages.live_dashboard import dashboard
from pages.live_session import reset, start, step, stop
from pages.shared import form_widget
from pg.app.presets import FORM_ADVANCED, FORM_MAIN, PRESETS, form_values, preset_config, try_config
from pg.app.state import SPEEDS, TrainState
from pg.runs.live import MAX_SEEDS

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


dashboard(cfg, n_seeds, speed, pace)

