"""Compare estimators: REINFORCE, baselines, actor-critic and GAE trained side by side, with
the relative variance of each and its direction against a reference gradient, measured at the
same policies; a prediction asked before Run and checked after."""

import time

import pandas as pd
import streamlit as st

from pages.compare_panels import code_expander, prediction_question, show_findings
from pages.links import publish, restore
from pages.live_loop import placeholders, run_and_redraw, started
from pages.shared import comparison_registry
from pg.algo.estimators import gae_spec
from pg.algo.reinforce import ConfigError
from pg.app.state import CompareState, defaults
from pg.lessons.comparison import (
    COMPARE_CHOICES,
    COMPARE_EPISODES,
    MAX_ESTIMATORS,
    CompareSettings,
    describe,
    formatted_table,
)
from pg.runs.live import MAX_SEEDS
from pg.viz.comparison_charts import compare_datasets, compare_specs, with_data

TICK = 0.2  # seconds of computing between two redraws
ss = st.session_state
large = bool(ss.get("present"))


@st.cache_resource(show_spinner=False, max_entries=32)  # one per layout; bounded (links can ask for many)
def specs(labels: tuple, large: bool) -> dict[str, dict]:
    return compare_specs(labels, large=large)


SHORT = {"reinforce": "REINFORCE (G₀)", "rtg": "Gₜ", "rtg-moving-average": "Gₜ − moving avg",
         "rtg-batch-mean": "Gₜ − batch mean", "rtg-value": "Gₜ − V(s)", "td0": "TD(0)", "gae": "GAE(λ)"}


st.title("Compare estimators")
st.markdown("Every estimator below is the same REINFORCE update with a different weight on ∇log π(aₜ|sₜ). "
            "Each trains on CartPole from the same seeds; then each one's gradient is measured many times at "
            "the same fixed policies, so the *variance* the theory talks about is a number you can read, and "
            "each one's direction is measured against a reference gradient from many more episodes.")

restore(CompareState, "compare_")  # a link's settings, on the first run of a visit
for name, value in defaults(CompareState).items():  # the widgets' defaults (keys, not arguments)
    ss.setdefault(f"compare_{name}", list(value) if isinstance(value, tuple) else value)
with st.sidebar:
    chosen = st.multiselect(f"Estimators (up to {MAX_ESTIMATORS})", COMPARE_CHOICES, format_func=SHORT.get,
                            max_selections=MAX_ESTIMATORS, key="compare_estimators",
                            help="The charts and the table name each in full. GAE(λ) uses the λ below.")
    lam = st.slider("GAE λ", 0.0, 1.0, step=0.05, key="compare_gae_lambda", disabled="gae" not in chosen,
                    help="λ = 1 is reward-to-go minus V(s); λ = 0 is TD(0)")
    n_seeds = st.slider("Seeds per estimator", 1, MAX_SEEDS, key="compare_seeds")
    episodes = st.select_slider("Episodes per update", COMPARE_EPISODES, key="compare_episodes")
    critic = st.radio("Critic V(s) (value baseline, TD(0), GAE)", ("mlp", "linear"), key="compare_critic",
                      format_func={"mlp": "neural network (32 tanh units)", "linear": "linear"}.get)
    normalize = st.toggle("Normalise advantages", key="compare_normalize",
                          help="Off: each estimator as the theory defines it. On: rescaled per batch, which hides "
                               "much of the difference.")
if chosen:  # (no estimator is not a state a link can hold: the page warns instead)
    publish(CompareState(tuple(chosen), lam, n_seeds, episodes, critic, normalize))

names = tuple(gae_spec(lam).name if c == "gae" else c for c in chosen)
settings = None
if names:
    settings = CompareSettings(names, n_seeds=n_seeds, batch_episodes=episodes, value_model=critic,
                               normalize_advantages=normalize)
else:
    st.warning("Pick at least one estimator in the sidebar.")


def run():
    try:
        comparison = comparison_registry().get(settings)
    except ConfigError as refused:  # e.g. over the server's memory budget (pg.runs.footprint)
        ss.compare_refused = str(refused)
        return
    guess = ss.get("compare_prediction")  # the prediction as it stood at Run: the one checked
    ss.compare_predicted = (settings, names[chosen.index(guess)] if guess in chosen else None)
    ss.compare_comparison, ss.compare_running = comparison, True
    ss.compare_watching = comparison_registry().watch(comparison)  # dropped with the session: abandoned


def stop():
    ss.compare_running = False


ss.setdefault("compare_running", False)
if refused := ss.pop("compare_refused", None):
    st.error(f"Cannot compare with these settings: {refused}")
prediction_question(chosen, SHORT)
left, right, _ = st.columns([1, 1, 2])
left.button("Run comparison", on_click=run, disabled=settings is None or ss.compare_running, type="primary",
            icon=":material/play_arrow:", key="compare_run", width="stretch")
right.button("Stop", on_click=stop, disabled=not ss.compare_running, icon=":material/stop:", key="compare_stop",
             width="stretch")


@st.fragment
def results():
    comparison = started("compare_comparison", "Press **Run comparison**: the curves grow while the estimators "
                         "train, then the variance bars, the cosines to the reference and the table fill in.")
    if comparison is None:
        return
    if settings is not None and comparison.settings != settings:
        st.caption(":material/info: The results below are for the last settings you ran; press Run to compare "
                   "with the new ones.")
    progress, failure = st.empty(), st.empty()
    spec = specs(tuple(s.label for s in comparison.specs), large)
    rows = [st.columns(2), st.columns(2)]
    slots = placeholders(rows, ("env_steps", "wall_time", "variance", "cosine"))
    table, found, verdict, caption = st.empty(), st.empty(), st.empty(), st.empty()

    def draw():
        fraction, text = comparison.progress()
        progress.progress(fraction, text=text)
        if comparison.failure:
            failure.error(f"The comparison stopped: {comparison.failure}. What it computed before is shown.")
        measured = comparison.variance_rows()
        data = compare_datasets({x: comparison.curves(x) for x in ("env_steps", "wall_time")}, comparison.solve_points(),
                                measured, comparison.settings.base_config().max_episode_steps)
        for panel, slot in slots.items():
            slot.vega_lite_chart(with_data(spec[panel], panel, data), width="stretch")
        frame = pd.DataFrame(formatted_table(comparison.table())).set_index("Estimator")
        table.table(frame)
        caption.caption(describe(comparison))
        show_findings(comparison, measured, ss.get("compare_predicted"), found, verdict)

    def advance():
        start = time.perf_counter()
        comparison.advance(TICK)
        time.sleep(max(0.0, 0.05 - (time.perf_counter() - start)))  # another session may hold the lock

    run_and_redraw(draw, advance, done=lambda: comparison.done, running_key="compare_running", on_done=stop)


results()
code_expander(CompareSettings().reference_episodes)
