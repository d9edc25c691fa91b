"""The Replay page under AppTest: two videos, their traces on one time axis, sentences computed
from the episodes shown, the nudge range, and every control changes the episodes."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pytest
from app_helpers import open_page, texts
from test_heatmap import short_run

from pg.algo.policies import make_policy
from pg.algo.reinforce import initial_policy
from pg.app.presets import preset_config
from pg.runs.checkpoint import Run
from pg.viz.episode import MAX_NUDGE, agent_sentence, run_episode
from pg.viz.nudge import recoverable_range

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def lengths(at) -> list[int]:
    """The two episode-length metrics: [untrained, trained]."""
    shown = list(at.metric)
    assert len(shown) == 2 and all(m.value.endswith(" steps") for m in shown)
    return [int(m.value.split()[0]) for m in shown]


def trace_charts(at) -> list:
    """The two traces charts (stacked panels), not the nudge range's strip."""
    return [c for c in at.get("vega_lite_chart") if "vconcat" in json.loads(c.proto.spec)]


def chart_data(chart, layer: dict):
    """The rows of one layer of a chart, as sent to the browser."""
    data = {d.name: pa.ipc.open_stream(d.data.data).read_all().to_pandas() for d in chart.proto.datasets}
    return data[layer["data"]["name"]]


def theta_traces(at) -> list[np.ndarray]:
    """The pole-angle trace (degrees) of each column, from the charts' data."""
    traces = []
    for chart in trace_charts(at):
        spec = json.loads(chart.proto.spec)
        top = spec["vconcat"][0]["layer"][0]
        data = {d.name: pa.ipc.open_stream(d.data.data).read_all().to_pandas() for d in chart.proto.datasets}
        traces.append(data[top["data"]["name"]]["value"].to_numpy())
    return traces


def time_domains(at) -> list[list]:
    """The x domain of every traces panel, both columns."""
    return [panel["layer"][0]["encoding"]["x"]["scale"]["domain"]
            for chart in trace_charts(at) for panel in json.loads(chart.proto.spec)["vconcat"]]


def nudge_layers(at) -> int:
    return sum(len(json.loads(c.proto.spec)["vconcat"][0]["layer"]) == 3 for c in trace_charts(at))


@pytest.fixture
def quick_video(monkeypatch):
    """Encoding is pg.viz.render's business (and its own tests'); a stand-in keeps these page
    tests fast. The default-view test uses the real encoder."""
    monkeypatch.setattr("pg.viz.render.replay_video", lambda states, *args, **kwargs: b"mp4 of %d frames" % len(states))


@pytest.fixture(scope="module")
def shipped():
    from pages.shared import SHIPPED_POLICY
    from pg.runs.checkpoint import load_run

    return load_run(SHIPPED_POLICY)


def test_default_view_two_videos_metrics_and_traces(shipped):
    at = open_page("replay")
    assert not at.exception
    videos = at.get("video")
    assert len(videos) == 2
    untrained, trained = lengths(at)
    (first, first_policy), (last, last_policy) = shipped.snapshots[0], shipped.snapshots[-1]
    shown = [run_episode(first_policy, seed=0, greedy=False), run_episode(last_policy, seed=0)]
    assert [untrained, trained] == [e.length for e in shown], "the untrained agent samples; the trained is greedy"
    assert untrained < trained
    assert [m.label for m in at.metric] == [
        f"**Untrained** · update {first} · sampled", f"**Trained** · update {last} · greedy"]
    words = texts(at)
    assert agent_sentence("untrained", shown[0], greedy=False) in words
    assert agent_sentence("trained", shown[1], greedy=True) in words
    assert f"The trained agent lasted {trained - untrained} steps longer than the untrained one." in words
    assert time_domains(at) == [[0, trained]] * 6, "both agents on one time axis"
    assert [m.delta for m in at.metric] == ["pole fell past 12°", "balanced to the 500-step limit"]
    charts = at.get("vega_lite_chart")
    assert len(charts) == 2
    assert [len(t) for t in theta_traces(at)] == [untrained + 1, trained + 1]
    assert "few dozen" not in words
    assert "pre-trained policy" in texts(at)
    assert not at.slider, "the start-state and nudge sliders appear only when asked for"


def test_seed_and_action_mode_change_the_episodes(shipped, quick_video):
    at = open_page("replay")
    before = lengths(at)
    at.number_input(key="replay_seed").set_value(1).run()
    assert not at.exception
    seeded = lengths(at)
    assert seeded != before
    assert seeded[0] == run_episode(shipped.snapshots[0][1], seed=1, greedy=False).length
    assert seeded[1] == run_episode(shipped.policy, seed=1).length
    at.radio(key="replay_mode").set_value("sampled").run()
    assert not at.exception
    sampled = lengths(at)
    assert sampled[0] == seeded[0], "the actions control is the trained agent's; the untrained one always samples"
    trained_sampled = run_episode(shipped.policy, seed=1, greedy=False)
    assert sampled[1] == trained_sampled.length
    assert at.metric[1].label.endswith("· sampled")
    assert agent_sentence("trained", trained_sampled, greedy=False) in texts(at)


def test_start_state_by_hand(shipped, quick_video):
    at = open_page("replay")
    at.toggle(key="replay_start_by_hand").set_value(True).run()
    keys = [s.key for s in at.slider]
    assert keys == ["replay_x", "replay_x_dot", "replay_theta", "replay_theta_dot"]
    for slider in at.slider:
        assert slider.min == -0.05 and slider.max == 0.05 and slider.value == 0
    at.slider(key="replay_x").set_value(0.02)
    at.slider(key="replay_x_dot").set_value(-0.01)
    at.slider(key="replay_theta").set_value(0.05)
    at.slider(key="replay_theta_dot").set_value(0.03).run()
    assert not at.exception
    start = [0.02, -0.01, 0.05, 0.03]
    for trace in theta_traces(at):
        assert trace[0] == pytest.approx(np.degrees(0.05))
    assert lengths(at)[0] == run_episode(shipped.snapshots[0][1], seed=0, init_state=start, greedy=False).length


def test_nudge_knocks_the_trained_agent(shipped, quick_video):
    at = open_page("replay")
    assert lengths(at)[1] == 500
    assert nudge_layers(at) == 0
    at.toggle(key="replay_nudge").set_value(True).run()
    assert [s.key for s in at.slider] == ["replay_nudge_step", "replay_nudge_strength"]
    strength = at.slider(key="replay_nudge_strength")
    assert strength.min == -MAX_NUDGE and strength.max == MAX_NUDGE
    assert nudge_layers(at) == 1, "the untrained agent fell before step 100; the trained one is marked"
    assert "ended before the nudge" in texts(at)
    recovery = recoverable_range(shipped.policy, seed=0, nudge_step=100)
    assert recovery.recovers and any(c.value.startswith(recovery.sentence()) for c in at.caption)
    assert recovery.sentence() in strength.help
    (marks,) = [c for c in at.get("vega_lite_chart") if "vconcat" not in json.loads(c.proto.spec)]
    band = chart_data(marks, json.loads(marks.proto.spec)["layer"][0])
    assert band.to_dict("records") == [{"strength": recovery.low, "high": recovery.high}], "the slider's mark"
    strength.set_value(MAX_NUDGE).run()
    assert not at.exception
    knocked = lengths(at)[1]
    assert knocked < 500
    assert knocked == run_episode(shipped.policy, seed=0, nudge_step=100, nudge=MAX_NUDGE).length
    at.slider(key="replay_nudge_step").set_value(50).run()
    assert not at.exception
    assert lengths(at)[1] == run_episode(shipped.policy, seed=0, nudge_step=50, nudge=MAX_NUDGE).length


def test_a_run_in_session_state_is_replayed(quick_video):
    run = short_run("linear", updates=3)
    at = open_page("replay")
    at.session_state["run"] = run
    at.run()
    assert not at.exception
    assert [m.label for m in at.metric] == ["**Untrained** · update 1 · sampled", "**Trained** · update 3 · greedy"]
    assert lengths(at) == [
        run_episode(run.snapshots[0][1], seed=0, greedy=False).length, run_episode(run.policy, seed=0).length]
    assert "your training run" in texts(at)
    assert len(at.get("video")) == 2


def test_a_run_without_snapshots_says_both_sides_are_its_final_policy(quick_video):
    at = open_page("replay")
    at.session_state["run"] = Run(policy=make_policy("linear", seed=3, init_scale=1.0))
    at.run()
    assert not at.exception
    assert "both sides show its final policy" in texts(at)
    assert len(at.get("video")) == 2


def test_the_mlp_presets_untrained_agent_is_shown_sampling(quick_video):
    """Greedy, this untrained MLP 'balances' all 500 steps (argmax of probabilities at 0.5 is a
    fixed controller); the page shows it as the stochastic policy it is, and says what it did."""
    untrained = initial_policy(preset_config("neural network"))
    assert run_episode(untrained, seed=0).length == 500
    at = open_page("replay")
    at.session_state["run"] = Run(policy=untrained, snapshots=[(0, untrained), (1, untrained.copy())])
    at.run()
    assert not at.exception
    sampled = run_episode(untrained, seed=0, greedy=False)
    assert sampled.length < 500
    assert lengths(at) == [sampled.length, 500]
    words = texts(at)
    assert agent_sentence("untrained", sampled, greedy=False) in words
    assert f"The trained agent lasted {500 - sampled.length} steps longer" in words
    at.radio(key="replay_mode").set_value("sampled").run()
    assert lengths(at) == [sampled.length, sampled.length]
    assert "Both lasted" in texts(at), "the same policy sampled with the same seed: said, not hidden"


def test_a_nudge_range_warns_when_the_trained_agent_fails_on_its_own(quick_video):
    run = short_run("linear", updates=3)
    at = open_page("replay")
    at.session_state["run"] = run
    at.run()
    at.toggle(key="replay_nudge").set_value(True).run()
    assert not at.exception
    expected = recoverable_range(run.policy, seed=0, nudge_step=100)
    assert not expected.recovers
    assert [w.value for w in at.warning] == [expected.sentence()]


def test_a_change_renders_only_the_clips_it_changes(monkeypatch):
    """Issue "Instant": a setting already seen renders nothing; the trained agent's mode renders
    the trained clip alone when the time axis stays (the untrained agent samples either way)."""
    import pages.cached as cached

    rendered = []
    monkeypatch.setattr("pg.viz.render.replay_video",
                        lambda states, *a, **k: rendered.append(len(states)) or b"mp4 %d" % len(states))
    cached._replay.clear()
    at = open_page("replay")  # through Home, whose clip may be made here too
    assert len(rendered) >= 2, "two clips on the first visit"

    def renders(change) -> list[int]:
        rendered.clear()
        change()
        at.run()
        assert not at.exception
        return list(rendered)

    trained = lengths(at)[1]
    sampled = renders(lambda: at.radio(key="replay_mode").set_value("sampled"))
    assert lengths(at)[1] == trained == 500, "sampled, the shipped agent also lasts 500 steps: the same time axis"
    assert sampled == [trained + 1], "so the untrained clip is reused; only the trained one is new"
    assert renders(lambda: at.radio(key="replay_mode").set_value("greedy")) == [], "seen before: cached"
    assert renders(lambda: at.toggle(key="replay_nudge").set_value(False)) == [], "unchanged: nothing"
    assert len(renders(lambda: at.number_input(key="replay_seed").set_value(7))) == 2, "a new start: both"


def test_two_visitors_on_one_new_setting_share_its_clips(monkeypatch):
    """The clips live in one store per server: a second session asking for the clips a first one
    made (or is making) gets those bytes, and nothing is rendered again."""
    import pages.cached as cached

    rendered = []
    monkeypatch.setattr("pg.viz.render.replay_video",
                        lambda states, *a, **k: rendered.append(len(states)) or b"mp4 %d" % len(states))
    first, second = open_page("replay"), open_page("replay")
    cached._replay.clear()
    made = []
    for at in (first, second):
        rendered.clear()
        at.number_input(key="replay_seed").set_value(11).run()
        assert not at.exception
        made.append(len(rendered))
    assert made == [2, 0], "the second visitor's seed 11 clips were the first one's"
    assert lengths(first) == lengths(second)
    assert len(cached._replay()) >= 2


@pytest.mark.clips_ahead
def test_the_next_seed_the_other_mode_and_the_nudge_are_made_ahead_and_cost_nothing_when_picked(monkeypatch):
    """While a visitor watches, the clips of the next seed, of the trained agent's other mode and
    of the nudge switched on are made on a low-priority thread: picking one then renders nothing
    in the page's run."""
    import threading

    import pages.cached as cached

    rendered = []  # (thread, frames)
    monkeypatch.setattr("pg.viz.render.replay_video", lambda states, *a, **k: rendered.append(
        (threading.current_thread().name, len(states))) or b"mp4 %d" % len(states))
    cached._replay.clear()
    at = open_page("replay")
    at.number_input(key="replay_seed").set_value(21).run()
    cached._replay().wait_ahead(timeout=60)
    ahead = [name for name, _ in rendered if name.startswith("pg-ahead")]
    assert len(ahead) >= 3, rendered  # seed 22's two clips, and the other mode's trained clip
    for change in (lambda: at.number_input(key="replay_seed").set_value(22),
                   lambda: at.radio(key="replay_mode").set_value("sampled"),
                   lambda: at.toggle(key="replay_nudge").set_value(True)):
        cached._replay().wait_ahead(timeout=60)
        rendered.clear()
        change()
        at.run()
        assert not at.exception
        assert [frames for name, frames in rendered if not name.startswith("pg-ahead")] == [], "made ahead"
