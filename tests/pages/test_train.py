"""The Live training page under AppTest: every widget reaches the config, Start, Step, Stop and
Reset drive the state, a bad value shows st.error, a diverging run shows its message and keeps
its last good policy, and several sessions with the same settings share one computation.

AppTest runs the page in this process, so the page's fragment loop (train a 0.2 s chunk, redraw,
until finished or stopped) runs to its end inside one ``at.run()``. A Stop click in the middle of
a run is emulated the way a browser causes it: a stop request arrives while the page trains, and
the script ends at its next Streamlit call (``interrupt_after``); then Stop is clicked.
"""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pytest
from app_helpers import open_page

from pg.algo.policies import SoftmaxPolicy
from pg.algo.reinforce import TrainConfig, initial_policy, train
from pg.app.live_view import progress_text, run_status, solve_rule, untrained
from pg.app.presets import FORM_ADVANCED, FORM_MAIN, PRESETS, config_from_form, form_values, preset_config
from pg.app.state import TrainState
from pg.runs.checkpoint import load_run
from pg.runs.live import LiveRun
from pg.viz.training_charts import live_heatmap_datasets

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

FORM = FORM_MAIN + FORM_ADVANCED
BUTTONS = ("train_start", "train_stop", "train_step", "train_reset")
PANELS = 7  # returns, heatmap, eval and four diagnostics
# A run that does not stop by itself within a test: tiny updates, no stop on solve, a big budget
ENDLESS = {"stop_on_solve": False, "max_updates": 100_000, "max_episode_steps": 50, "eval_every": 1000}


@pytest.fixture(autouse=True)
def fresh_registry():
    """Runs are shared by every session of a server (one registry per process): start each
    test without the runs of the others."""
    from pages.shared import run_registry

    run_registry.clear()
    yield
    run_registry.clear()


@pytest.fixture
def fresh():
    """The page as a new visitor opens it: the default speed (a replay at human pace)."""
    return open_page("train")


@pytest.fixture
def at(fresh):
    """The page at "As fast as possible", so that a run takes a fraction of a second."""
    fresh.radio(key="train_speed").set_value("As fast as possible").run()
    return fresh


def widget(at, name: str, kind: str):
    key = f"train_{name}"
    return {"choice": at.selectbox, "bool": at.toggle, "text": at.text_input}.get(kind, at.number_input)(key=key)


def set_form(at, **values):
    """Set form widgets by field name (the kind is looked up in the form)."""
    kinds = {name: kind for name, kind, _, _ in FORM}
    for name, value in values.items():
        w = widget(at, name, kinds[name])
        w.input(value) if kinds[name] == "text" else w.set_value(value)
    return at.run()


def click(at, key: str):
    return at.button(key=key).click().run()


def disabled(at) -> dict[str, bool]:
    return {key: at.button(key=key).disabled for key in BUTTONS}


def charts(at) -> list[tuple[dict, dict]]:
    """[(spec, {dataset name: DataFrame})] of the page's charts."""
    out = []
    for chart in at.get("vega_lite_chart"):
        datasets = {d.name: pa.ipc.open_stream(d.data.data).read_all().to_pandas() for d in chart.proto.datasets}
        out.append((json.loads(chart.proto.spec), datasets))
    return out


def dataset(at, name: str):
    frames = [data[name] for _, data in charts(at) if name in data]
    assert frames, f"no chart reads {name!r}"
    return frames[0]


def caption(at) -> str:
    (text,) = [c.value for c in at.caption if c.value.startswith("update ")]
    return text


def banner(at) -> tuple[str, str] | None:
    shown = [(kind, e.value) for kind in ("error", "success", "warning") for e in getattr(at, kind)]
    shown = [(k, v) for k, v in shown if not v.startswith("Cannot train")]
    assert len(shown) <= 1, shown
    return shown[0] if shown else None


def interrupt_after(monkeypatch, ticks: int):
    """Emulate a browser click arriving while the page trains: after ``ticks`` chunks of
    training, ask the script runner to stop; the script ends at its next Streamlit call."""
    from streamlit.runtime.scriptrunner_utils.script_run_context import get_script_run_ctx

    original = LiveRun.advance
    count = {"n": 0}

    def advance(self, *args, **kwargs):
        made = original(self, *args, **kwargs)
        count["n"] += 1
        if count["n"] == ticks:
            get_script_run_ctx().script_requests.request_stop()
        return made

    monkeypatch.setattr(LiveRun, "advance", advance)
    return count


# ---------------------------------------------------------------------------------------------
# Opening the page; the widgets
# ---------------------------------------------------------------------------------------------
def test_the_page_opens_on_the_default_preset_with_nothing_trained(fresh):
    at = fresh
    assert at.title[0].value == "Live training"
    assert at.selectbox(key="train_preset").value == "fastest"
    for name, value in form_values(preset_config("fastest")).items():
        kind = {n: k for n, k, _, _ in FORM}.get(name)
        if kind:
            assert widget(at, name, kind).value == value, name
    assert at.slider(key="train_n_seeds").value == 1
    assert at.radio(key="train_speed").value == "Human pace", "watchable by default"
    assert not at.slider(key="train_pace").disabled and at.slider(key="train_pace").value == TrainState().pace
    assert disabled(at) == {"train_start": False, "train_stop": True, "train_step": False, "train_reset": False}
    assert "Press **Start**" in at.info[0].value and solve_rule(TrainConfig()) in at.info[0].value
    assert not at.get("download_button")
    assert "live" not in at.session_state and not at.exception


def test_before_start_the_page_shows_what_will_move(fresh):
    """Empty axes with the config's solve bars, the untrained policy's heatmap and its return."""
    at = fresh
    cfg = TrainConfig()
    assert len(charts(at)) == PANELS
    assert list(dataset(at, "bars")["value"]) == [475.0, 195.0]
    assert len(dataset(at, "episodes")) == len(dataset(at, "history")) == len(dataset(at, "evals")) == 0
    np.testing.assert_allclose(dataset(at, "grid")["p_right"],
                               live_heatmap_datasets(initial_policy(cfg))["grid"]["p_right"])
    agent = untrained(cfg)
    assert agent.sampled_mean < 100 and agent.episodes == cfg.eval_episodes
    assert caption(at).startswith(f"update 0 · the untrained policy returns {agent.sampled_mean:.1f} on average")
    heatmap = [spec for spec, data in charts(at) if "grid" in data][0]
    assert heatmap["title"] == "Policy of seed 0, untrained"
    # a shorter time limit: the bars the y axis holds, from the config
    set_form(at, max_episode_steps=300)
    assert list(dataset(at, "bars")["value"]) == [195.0] and not at.exception


def test_the_default_run_is_a_replay_at_human_pace(fresh):
    """Start at the default speed: the run is computed at full speed and shown 3 updates a
    second, its real compute time in the caption; the viewer's place ends on the last update."""
    at = click(fresh, "train_start")
    live = at.session_state["live"]
    assert live.finished and at.session_state["shown"] == live.n == 18 and not at.exception
    assert caption(at) == progress_text(live, paced=True)
    assert caption(at).endswith(f"computed in {live.compute_seconds:.2f} s; shown at human pace")
    assert banner(at) == ("success", run_status(live).text)
    assert "confirmed at" in banner(at)[1] and "on 100 fresh episodes" in banner(at)[1]


def test_every_widget_reaches_the_config(at):
    """Each form widget set to a value other than the default's: one Step trains with exactly
    the config those values describe, with the number of seeds of the slider."""
    chosen = {
        "policy": "mlp", "hidden": "8,4", "optimizer": "sgd", "lr": 0.05, "batch_episodes": 2, "gamma": 0.9,
        "returns": "episode", "baseline": "value", "normalize_advantages": False, "seed": 9,
        "value_model": "mlp", "advantage": "gae", "gae_lambda": 0.8, "max_grad_norm": "1.5", "entropy_coef": 0.01, "max_episode_steps": 60,
        "eval_every": 3, "eval_episodes": 5, "solve_return": "55", "eval_early_stop": False,
        "stop_on_solve": False, "max_updates": 7, "max_env_steps": 200_000, "max_seconds": 30.0,
    }  # fmt: skip
    defaults = form_values(TrainConfig())
    assert all(chosen[name] != defaults[name] for name in chosen)
    set_form(at, **{name: value for name, value in chosen.items() if name in {row[0] for row in FORM}})
    at.slider(key="train_n_seeds").set_value(2).run()
    assert not at.error, [e.value for e in at.error]
    click(at, "train_step")
    live = at.session_state["live"]
    assert live.cfg == config_from_form({**defaults, **chosen})
    assert (live.cfg.hidden, live.cfg.max_grad_norm, live.cfg.solve_return) == ((8, 4), 1.5, 55.0)
    assert len(live.seeds) == 2 and [s.cfg.seed for s in live.seeds] == [9, 10]
    assert live.n == 1 and not at.exception
    click(at, "train_start")
    assert live.finished and live.n == 7 and at.session_state["live"] is live


@pytest.mark.parametrize("preset", [p for p in PRESETS if p != "fastest"])
def test_choosing_a_preset_fills_the_form(at, preset):
    at.selectbox(key="train_preset").set_value(preset).run()
    for name, value in form_values(preset_config(preset)).items():
        kind = {n: k for n, k, _, _ in FORM}.get(name)
        if kind:
            assert widget(at, name, kind).value == value, name
    assert PRESETS[preset]["description"] in [c.value for c in at.sidebar.caption]
    assert not at.exception


def test_a_replay_stopped_midway_goes_on_from_there(fresh, monkeypatch):
    """At human pace the run is computed ahead at full speed: Stop in the middle of the replay
    keeps the viewer's place, and Start goes on watching from it rather than from update 0."""
    from streamlit.runtime.scriptrunner_utils.script_run_context import get_script_run_ctx

    import pg.app.pacing

    original, frames = pg.app.pacing.human_pace, []

    def human_pace(*args, **kwargs):
        shown, clock = original(*args, **kwargs)
        frames.append(shown)
        if len(frames) == 5:
            get_script_run_ctx().script_requests.request_stop()
        return shown, clock

    monkeypatch.setattr(pg.app.pacing, "human_pace", human_pace)
    at = click(fresh, "train_start")
    click(at, "train_stop")
    live = at.session_state["live"]
    assert 0 < at.session_state["shown"] < live.n, "computed ahead of what is shown"
    assert caption(at) == progress_text(live, at.session_state["shown"], paced=True) and not banner(at)
    stopped_at = at.session_state["shown"]
    click(at, "train_start")
    assert at.session_state["live"] is live and at.session_state["shown"] == live.n == 18
    assert frames[5] == pytest.approx(stopped_at + 0.6), "went on from where it stopped, not from update 0"
    assert banner(at)[0] == "success" and not at.exception


def test_speed_and_pace(at):
    assert at.slider(key="train_pace").disabled, "the pace only matters at human pace"
    at.radio(key="train_speed").set_value("Human pace").run()
    assert not at.slider(key="train_pace").disabled
    at.slider(key="train_pace").set_value(30).run()
    click(at, "train_start")  # 18 updates shown 30 a second
    live = at.session_state["live"]
    assert live.finished and at.session_state["shown"] == live.n == 18
    assert caption(at) == progress_text(live, paced=True)
    at.radio(key="train_speed").set_value("One step at a time").run()
    assert at.slider(key="train_pace").disabled


# ---------------------------------------------------------------------------------------------
# Start, Step, Stop, Reset
# ---------------------------------------------------------------------------------------------
def test_start_trains_to_the_end_and_publishes_the_run(at):
    click(at, "train_start")
    assert not at.exception
    live = at.session_state["live"]
    assert live.finished and live.n == 18 and live.seeds[0].stop_reason == "solved"
    assert at.session_state["running"] is False and at.session_state["shown"] == 18
    assert run_status(live).level == "solved" and banner(at) == ("success", run_status(live).text)
    assert caption(at) == progress_text(live) and caption(at).startswith("update 18 · 23,967 env steps · ")
    assert disabled(at) == {"train_start": False, "train_stop": True, "train_step": False, "train_reset": False}
    # what Heatmap and Replay read
    run = at.session_state["run"]
    np.testing.assert_array_equal(run.policy.params, live.policy.params)
    assert len(run.history["iteration"]) == 18
    # the charts: seven panels fed with this run's data
    assert len(charts(at)) == PANELS
    history = dataset(at, "history")
    assert len(history) == 18 and history["iteration"].iloc[-1] == 18
    assert len(dataset(at, "episodes")) == 18 * 16
    evals = dataset(at, "evals")  # every evaluation: the cut-short ones as their upper bound
    assert list(evals["iteration"]) == list(range(1, 19))
    assert list(evals["kind"]) == ["cut short: at most"] * 17 + ["mean of the evaluation"]
    np.testing.assert_allclose(evals["value"].iloc[-1], live.seeds[0].solved.eval_return)
    assert (evals["value"].iloc[:-1] < 475).all()
    assert evals["note"].iloc[-1] == f"passed, confirmed at {live.seeds[0].solved.confirm_return:.1f}"
    np.testing.assert_allclose(dataset(at, "grid")["p_right"], live_heatmap_datasets(live.policy)["grid"]["p_right"])
    # the downloads
    downloads = {d.proto.label: d for d in at.get("download_button")}
    assert set(downloads) == {"Policy (.npz)", "History (CSV)"}


def test_start_and_step_train_the_values_changed_in_the_same_click(at):
    """A browser sends a number typed and not committed with Enter together with the click that
    blurs it: the button's callback must train the new value, not the last script run's."""
    at.number_input(key="train_seed").set_value(7)
    at.number_input(key="train_max_updates").set_value(3)
    at.button(key="train_start").click().run()
    assert not at.exception
    live = at.session_state["live"]
    assert live.cfg.seed == 7 and live.cfg.max_updates == 3 and live.n <= 3
    at.number_input(key="train_seed").set_value(8)
    at.button(key="train_step").click().run()
    assert at.session_state["live"].cfg.seed == 8 and at.session_state["live"].n == 1


def test_the_downloads_are_the_run(at):
    click(at, "train_start")
    live = at.session_state["live"]
    loaded = load_run(live.policy_file())
    np.testing.assert_array_equal(loaded.policy.params, live.policy.params)
    assert loaded.config == live.cfg.to_dict()
    assert live.history_csv().count("\n") == 1 + 18


def test_step_makes_one_update_at_a_time_and_start_continues_it(at):
    click(at, "train_step")
    live = at.session_state["live"]
    assert live.n == 1 and at.session_state["shown"] == 1 and not at.session_state["running"]
    assert caption(at).startswith("update 1 · ")
    assert len(at.session_state["run"].history["iteration"]) == 1, "Heatmap and Replay show the stepped run"
    click(at, "train_step")
    assert at.session_state["live"] is live and live.n == 2 and caption(at).startswith("update 2 · ")
    assert len(dataset(at, "history")) == 2
    assert disabled(at)["train_stop"], "nothing is running"
    click(at, "train_start")
    assert at.session_state["live"] is live, "Start goes on from the stepped run"
    assert live.finished and live.n == 18


def test_stop_in_the_middle_keeps_the_policy_and_nothing_trains_after_it(at, monkeypatch):
    set_form(at, **ENDLESS)
    ticks = interrupt_after(monkeypatch, 3)
    click(at, "train_start")  # three chunks of training, then the browser's Stop click arrives
    live = at.session_state["live"]
    assert at.session_state["running"] is True and not live.finished and live.n > 3
    assert disabled(at) == {"train_start": True, "train_stop": False, "train_step": True, "train_reset": False}
    assert not at.get("download_button"), "no downloads while running"
    n = live.n
    click(at, "train_stop")
    assert at.session_state["running"] is False and live.n == n and ticks["n"] == 3
    run = at.session_state["run"]
    np.testing.assert_array_equal(run.policy.params, live.policy.params)
    assert len(run.history["iteration"]) == n
    assert disabled(at) == {"train_start": False, "train_stop": True, "train_step": False, "train_reset": False}
    assert {d.proto.label for d in at.get("download_button")} == {"Policy (.npz)", "History (CSV)"}
    at.run()
    at.run()
    assert live.n == n and ticks["n"] == 3, "no training after Stop"
    # Start goes on with the same run
    interrupt_after(monkeypatch, 1)
    click(at, "train_start")
    assert at.session_state["live"] is live and live.n > n


def test_reset_forgets_the_run(at):
    click(at, "train_start")
    assert at.get("vega_lite_chart")
    click(at, "train_reset")
    for key in ("live", "run", "shown"):
        assert key not in at.session_state
    assert not at.get("download_button") and "Press **Start**" in at.info[0].value
    assert len(dataset(at, "episodes")) == 0, "back to the empty axes"
    assert "Press **Start**" in at.info[0].value
    assert not at.session_state["running"] and not at.exception


def test_one_step_at_a_time_start_only_prepares_the_run(at):
    at.radio(key="train_speed").set_value("One step at a time").run()
    click(at, "train_start")
    live = at.session_state["live"]
    assert live.n == 0 and not at.session_state["running"]
    assert caption(at) == "update 0 · nothing trained yet"
    click(at, "train_step")
    assert live.n == 1 and caption(at).startswith("update 1 · ")


def test_new_settings_start_a_new_run(at):
    click(at, "train_start")
    first = at.session_state["live"]
    set_form(at, seed=1)
    click(at, "train_start")
    assert at.session_state["live"] is not first and at.session_state["live"].cfg.seed == 1
    set_form(at, seed=2)
    click(at, "train_step")
    assert at.session_state["live"].cfg.seed == 2 and at.session_state["live"].n == 1


def test_several_seeds_are_drawn_as_bands(at):
    at.slider(key="train_n_seeds").set_value(3).run()
    click(at, "train_start")
    live = at.session_state["live"]
    assert len(live.seeds) == 3 and live.finished
    kind, text = banner(at)
    assert run_status(live).level == "solved" and (kind, text) == ("success", run_status(live).text)
    assert text.startswith("3 of 3 seeds solved: seed 0 at update 18")
    assert caption(at).endswith("(seed 0; 3 seeds in all)")
    band = dataset(at, "band")
    assert set(band["field"]) >= {"ma_return", "mean_length", "grad_norm", "entropy", "baseline_value"}
    assert band.groupby("field").size()["ma_return"] == max(s.recorder.n for s in live.seeds)
    assert len(charts(at)) == PANELS


def test_every_seed_is_plotted_to_its_own_end_and_the_viewer_picks_whose_policy(at):
    """Seeds 1, 2, 3: seed 1 solves first (update 13); the charts go on to the last seed's end,
    each seed's line ends at its own end, and the heatmap and the download name their seed."""
    set_form(at, seed=1)
    at.slider(key="train_n_seeds").set_value(3).run()
    click(at, "train_start")
    live = at.session_state["live"]
    ends = {s.cfg.seed: s.recorder.n for s in live.seeds}
    assert ends[1] < max(ends.values()) == live.n, ends
    seeds = dataset(at, "seeds")
    assert seeds.groupby("seed")["iteration"].max().to_dict() == {float(k): float(v) for k, v in ends.items()}
    assert dataset(at, "band").groupby("field")["iteration"].max()["ma_return"] == live.n
    eval_band = dataset(at, "band").query("field == 'eval_value'")
    assert len(eval_band) == live.n, "a band on every update: cut-short evaluations count with their bound"
    heatmap = [spec for spec, data in charts(at) if "grid" in data][0]
    assert heatmap["title"] == f"Policy of seed 1, update {ends[1]}"
    at.selectbox(key="train_policy_seed").set_value(2).run()
    heatmap, data = [(spec, data) for spec, data in charts(at) if "grid" in data][0]
    assert heatmap["title"] == f"Policy of seed 3, update {ends[3]}"
    np.testing.assert_allclose(data["grid"]["p_right"], live_heatmap_datasets(live.seeds[2].policy)["grid"]["p_right"])
    (policy,) = [d for d in at.get("download_button") if d.proto.label.startswith("Policy")]
    assert policy.proto.label == "Policy of seed 3 (.npz)"
    assert at.session_state["run_label"] == "your training run (seed 3)"
    assert caption(at).endswith("(seed 3; 3 seeds in all)") and not at.exception


def test_a_collapsed_policy_is_explained_and_stops_the_run(at):
    """MLP, SGD, learning rate 5: "always push left" within a few updates; the run stops and
    the banner says why and what to try."""
    at.selectbox(key="train_preset").set_value("neural network").run()
    set_form(at, optimizer="sgd", lr=5.0)
    click(at, "train_start")
    live = at.session_state["live"]
    assert live.seeds[0].stop_reason == "collapsed" and live.n < 20
    kind, text = banner(at)
    assert kind == "warning" and text == run_status(live).text
    assert text.startswith(f"Collapsed at update {live.n}: the policy became nearly deterministic")
    assert "pushes left in 100% of the heatmap's states" in text
    assert "smaller learning rate" in text and "entropy bonus" in text


def test_two_sessions_with_the_same_settings_share_one_computation():
    from pages.shared import run_registry

    first, second = open_page("train"), open_page("train")
    click(first, "train_start")
    click(second, "train_start")  # replays the first's run at the speed it was computed
    assert second.session_state["live"] is first.session_state["live"]
    assert run_registry().created == 1
    assert caption(second) == caption(first) and banner(second) == banner(first)


# ---------------------------------------------------------------------------------------------
# Bad values and divergence
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "values, message",
    [
        ({"policy": "mlp", "hidden": "a,b"}, "hidden must be layer sizes separated by commas, like 32 or 64,64"),
        ({"max_grad_norm": "lots"}, "max_grad_norm must be a number or 'none', got 'lots'"),
        ({"solve_return": "600"}, "solve_return must be a number in (0, 500], got 600.0"),
    ],
)
def test_a_bad_value_shows_an_error_and_nothing_can_start(at, values, message):
    set_form(at, **values)
    (error,) = at.error
    assert error.value.startswith("Cannot train with these settings: ") and message in error.value
    assert disabled(at)["train_start"] and disabled(at)["train_step"]
    assert not at.exception
    set_form(at, **{name: form_values(TrainConfig())[name] for name in values})
    assert not at.error and not disabled(at)["train_start"]


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_a_run_forced_to_diverge_shows_why_and_keeps_the_last_good_policy(at, monkeypatch):
    """Plain SGD at lr 10 with a gradient of 1e308 on the third update: the parameters
    overflow. The page shows pg.runs.live's message and keeps the policy after update 2."""
    settings = {"optimizer": "sgd", "lr": 10.0, "batch_episodes": 1, "normalize_advantages": False,
                "baseline": "none", "stop_on_solve": False, "max_updates": 50, "eval_every": 1000}
    set_form(at, **settings)
    cfg = config_from_form({**form_values(TrainConfig()), **settings})
    updates = train(cfg)
    reference = [next(updates).policy.params.copy() for _ in range(2)]  # before the overflow
    original = SoftmaxPolicy.grad_log_prob
    calls = {"n": 0}

    def overflowing(self, *args, **kwargs):
        calls["n"] += 1
        grad = original(self, *args, **kwargs)
        return np.full_like(grad, 1e308) if calls["n"] == 3 else grad

    monkeypatch.setattr(SoftmaxPolicy, "grad_log_prob", overflowing)
    click(at, "train_start")
    live = at.session_state["live"]
    assert live.cfg == cfg
    assert live.finished and live.seeds[0].stop_reason == "diverged" and live.n == 2
    (error,) = at.error
    assert run_status(live).level == "diverged" and error.value == run_status(live).text
    assert error.value.startswith("training diverged at update 3: a parameter is not finite. The run stopped and "
                                  "kept the last policy whose numbers were finite")
    params = live.policy.params
    assert np.isfinite(params).all()
    np.testing.assert_array_equal(params, reference[1])
    np.testing.assert_array_equal(at.session_state["run"].policy.params, reference[1])
    np.testing.assert_array_equal(load_run(live.policy_file()).policy.params, reference[1])
    assert not at.session_state["running"] and not at.exception
    assert caption(at).startswith("update 2 · ")


# ---------------------------------------------------------------------------------------------
# Failures and runs the server gave up
# ---------------------------------------------------------------------------------------------
def test_a_run_that_runs_out_of_memory_says_so_and_start_works_again(at, monkeypatch):
    """A MemoryError inside the run (injected in the gradient of the third update): the run ends
    with what happened, the session is not left running, Start is enabled and trains again."""
    settings = {"stop_on_solve": False, "max_updates": 5, "eval_every": 1000}
    set_form(at, **settings)
    original = SoftmaxPolicy.grad_log_prob
    calls = {"n": 0}

    def failing(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise MemoryError("Unable to allocate 12.2 GiB for an array with shape (100000, 4096, 4)")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(SoftmaxPolicy, "grad_log_prob", failing)
    click(at, "train_start")
    assert not at.exception
    live = at.session_state["live"]
    assert live.n == 2 and live.failure.startswith("ran out of memory at update 3: Unable to allocate 12.2 GiB")
    assert at.session_state["running"] is False
    assert banner(at) == ("error", run_status(live).text)
    assert banner(at)[1].startswith("The run ran out of memory at update 3") and "budget" not in banner(at)[1]
    assert disabled(at) == {"train_start": False, "train_stop": True, "train_step": False, "train_reset": False}
    assert caption(at).startswith("update 2 · ")
    monkeypatch.setattr(SoftmaxPolicy, "grad_log_prob", original)
    click(at, "train_start")  # a failed run is not kept: Start trains it again
    again = at.session_state["live"]
    assert again is not live and again.finished and again.n == 5 and again.failure is None and not at.exception


def test_a_run_given_up_while_stopped_is_trained_again_on_start(at):
    """The registry cancels a run nobody uses (pg.app.registry); the session that stopped it
    still shows what it recorded, and Start or Step trains the same settings again."""
    set_form(at, stop_on_solve=False, max_updates=4, eval_every=1000)
    click(at, "train_step")
    live = at.session_state["live"]
    assert live.n == 1 and live.cancel() and live.cancelled
    at.run()
    assert caption(at).startswith("update 1 · ") and not at.exception and banner(at) is None
    click(at, "train_start")
    again = at.session_state["live"]
    assert again is not live and again.finished and again.n == 4 and not at.exception


def test_predict_then_check_asks_before_start_and_answers_from_the_run(at):
    """Issue 15, point 7: one question before Start, no answer given by default, never in the
    way; when the run has ended the page says whether the guess matched, from the run itself."""
    from pg.app.predict import SOLVE_GUESSES, solve_outcome

    question = at.radio(key="train_predict")
    assert question.value is None and list(question.options) == list(SOLVE_GUESSES)
    assert not at.button(key="train_start").disabled, "Start does not wait for an answer"
    cfg = preset_config("fastest")  # the page's first settings
    solved_at = next(u.iteration for u in train(cfg) if u.solved)
    right = solve_outcome(solved_at)
    wrong = next(g for g in SOLVE_GUESSES if g != right)
    for guess, matched in ((right, True), (wrong, False)):
        at.radio(key="train_predict").set_value(guess).run()
        click(at, "train_start")
        assert not at.exception and at.session_state["live"].finished
        verdicts = [e.value for e in (at.success if matched else at.warning) if "prediction" in e.value]
        assert verdicts and f"solved at update {solved_at}" in verdicts[0], [e.value for e in at.success]
        assert ("matched" in verdicts[0]) is matched
        click(at, "train_reset")
    click(at, "train_start")  # no answer: no verdict
    assert not [e for e in list(at.success) + list(at.warning) if "prediction" in e.value]
