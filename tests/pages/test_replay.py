"""The Replay page under AppTest: two videos, their traces, and every control changes the episodes."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pytest
from app_helpers import open_page, texts
from test_heatmap import short_run

from pg.algo.policies import make_policy
from pg.runs.checkpoint import Run
from pg.viz.episode import MAX_NUDGE, run_episode

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def lengths(at) -> list[int]:
    """The two episode-length metrics: [untrained, trained]."""
    shown = list(at.metric)
    assert len(shown) == 2 and all(m.value.endswith(" steps") for m in shown)
    return [int(m.value.split()[0]) for m in shown]


def theta_traces(at) -> list[np.ndarray]:
    """The pole-angle trace (degrees) of each column, from the charts' data."""
    traces = []
    for chart in at.get("vega_lite_chart"):
        spec = json.loads(chart.proto.spec)
        top = spec["vconcat"][0]["layer"][0]
        data = {d.name: pa.ipc.open_stream(d.data.data).read_all().to_pandas() for d in chart.proto.datasets}
        traces.append(data[top["data"]["name"]]["value"].to_numpy())
    return traces


def nudge_layers(at) -> int:
    return sum(len(json.loads(c.proto.spec)["vconcat"][0]["layer"]) == 3 for c in at.get("vega_lite_chart"))


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
    assert [untrained, trained] == [run_episode(first_policy, seed=0).length, run_episode(last_policy, seed=0).length]
    assert untrained < trained
    assert [m.label for m in at.metric] == [f"**Untrained** · update {first}", f"**Trained** · update {last}"]
    assert [m.delta for m in at.metric] == ["pole fell past 12°", "balanced to the 500-step limit"]
    charts = at.get("vega_lite_chart")
    assert len(charts) == 2
    assert [len(t) for t in theta_traces(at)] == [untrained + 1, trained + 1]
    assert "pre-trained policy" in texts(at)
    assert not at.slider, "the start-state and nudge sliders appear only when asked for"


def test_seed_and_action_mode_change_the_episodes(shipped, quick_video):
    at = open_page("replay")
    before = lengths(at)
    at.number_input(key="replay_seed").set_value(1).run()
    assert not at.exception
    seeded = lengths(at)
    assert seeded != before
    assert seeded[0] == run_episode(shipped.snapshots[0][1], seed=1).length
    at.radio(key="replay_mode").set_value("sampled").run()
    assert not at.exception
    sampled = lengths(at)
    assert sampled[0] == run_episode(shipped.snapshots[0][1], seed=1, greedy=False).length
    assert sampled != seeded


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
    assert lengths(at)[0] == run_episode(shipped.snapshots[0][1], seed=0, init_state=start).length


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
    assert [m.label for m in at.metric] == ["**Untrained** · update 1", "**Trained** · update 3"]
    assert lengths(at) == [run_episode(run.snapshots[0][1], seed=0).length, run_episode(run.policy, seed=0).length]
    assert "your training run" in texts(at)
    assert len(at.get("video")) == 2


def test_a_run_without_snapshots_says_both_sides_are_its_final_policy(quick_video):
    at = open_page("replay")
    at.session_state["run"] = Run(policy=make_policy("linear", seed=3, init_scale=1.0))
    at.run()
    assert not at.exception
    assert "both sides show its final policy" in texts(at)
    assert len(at.get("video")) == 2
