"""A link from a session's own training run, under AppTest: opened in a fresh session it
recomputes the run and shows the same checkpoint, bit for bit; a run that cannot be reproduced
gets one warning line and the shipped run; a run from a file offers no link."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from app_helpers import texts
from test_deep_links import assert_clean, link, visit, warnings_of
from test_replay import quick_video  # noqa: F401  (a fixture: fast stand-in for the encoder)

from pg.algo.reinforce import TrainConfig
from pg.runs.live import LiveRun

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
CFG = TrainConfig(batch_episodes=4, eval_every=1000, max_updates=30, max_episode_steps=100, stop_on_solve=False,
                  seed=4)


@pytest.fixture(autouse=True)
def fresh_registry():
    """Runs are shared by the sessions of a server (one registry per process): a test's fresh
    session must recompute, not find the first session's run."""
    from pages.shared import run_registry

    run_registry.clear()
    yield
    run_registry.clear()


def with_run(page: str, n_seeds: int = 1, shown: int = 0, updates: int = 30):
    """A session that trained CFG (``n_seeds`` side by side, as Live training keeps a run) and
    shows seed ``shown`` on ``page``."""
    live = LiveRun(CFG, n_seeds)
    while live.seeds[shown].recorder.n < updates:
        live.step()
    at = visit(page)
    at.session_state["live"], at.session_state["run"] = live, live.to_run(shown)
    at.session_state["run_label"] = "your training run"
    return at.run(), live


def query_of(at) -> dict:
    return {key: values[-1] for key, values in parse_qs(urlsplit(link(at)).query).items()}


def checkpoint_params(at, iteration: int) -> bytes:
    return dict(at.session_state["run"].checkpoints())[iteration].params.tobytes()


def metrics(at) -> list[str]:
    return [f"{m.label} {m.value}" for m in at.metric]


@pytest.mark.parametrize("n_seeds, shown", [(1, 0), (3, 2)])
def test_a_heatmap_link_to_your_run_opens_the_same_checkpoint_in_a_fresh_session(n_seeds, shown):
    first, live = with_run("heatmap", n_seeds, shown, updates=21)
    first.select_slider(key="heatmap_checkpoint").set_value(13).run()
    assert_clean(first)
    query = query_of(first)
    assert query["run"] == "21" and query["checkpoint"] == "13" and query.get("run_shown", "0") == str(shown)
    from pages.shared import run_registry

    run_registry.clear()  # a fresh server as far as runs go: the link's run is computed again
    second = visit("heatmap", query)
    assert_clean(second)
    assert warnings_of(second) == []
    assert second.select_slider(key="heatmap_checkpoint").value == 13
    assert second.select_slider(key="heatmap_checkpoint").options == first.select_slider(key="heatmap_checkpoint").options
    assert checkpoint_params(second, 13) == checkpoint_params(first, 13)
    assert checkpoint_params(second, 13) == live.policy_at(13, shown).params.tobytes()
    assert metrics(second) == metrics(first)
    assert "the training run in this link" in texts(second)
    assert query_of(second) == query  # its own link is the same link
    assert not second.get("progress"), "the progress bar is gone once the run is recomputed"


def test_the_same_link_opened_twice_is_computed_once():
    first, _ = with_run("heatmap", updates=8)
    query = query_of(first)
    from pages.shared import run_registry

    run_registry.clear()
    sessions = [visit("heatmap", query) for _ in range(2)]  # two people open it, one after the other
    for at in sessions:
        assert_clean(at)
    assert run_registry().created == 1
    assert checkpoint_params(sessions[0], 8) == checkpoint_params(sessions[1], 8)


def test_a_replay_link_to_your_run_shows_the_same_trained_agent(quick_video):  # noqa: F811
    first, _ = with_run("replay", updates=12)
    first.number_input(key="replay_seed").set_value(5).run()
    query = query_of(first)
    assert query["run"] == "12" and query["seed"] == "5"
    from pages.shared import run_registry

    run_registry.clear()
    second = visit("replay", query)
    assert_clean(second)
    assert warnings_of(second) == []
    assert metrics(second) == metrics(first)
    assert second.session_state["run"].policy.params.tobytes() == first.session_state["run"].policy.params.tobytes()


@pytest.mark.parametrize("bad, named", [
    ({"run_lr": "abc"}, "`?run_lr=abc`"),
    ({"run_shown": "4"}, "`?run_shown=4`"),
    ({"run_batch_episodes": "4096", "run_max_episode_steps": "100000"}, "more than the 120 MB"),
])
def test_a_run_that_cannot_be_reproduced_is_one_warning_and_the_shipped_run(bad, named):
    at = visit("heatmap", {"run": "221", "checkpoint": "221"} | bad)
    assert_clean(at)
    (message,) = warnings_of(at)
    assert named in message and "Could not reproduce the training run in this link" in message
    assert "Showing the pre-trained policy shipped with the app instead" in message
    assert "pre-trained policy" in texts(at) and "run" not in at.session_state


def test_a_server_without_room_for_the_run_is_one_warning(monkeypatch):
    from pages.shared import server_budget

    monkeypatch.setattr(server_budget(), "limit", 1)
    at = visit("heatmap", {"run": "5"})
    assert_clean(at)
    (message,) = warnings_of(at)
    assert "The server is busy" in message and "Showing the pre-trained policy" in message


def test_a_run_from_a_file_offers_no_link():
    at, live = with_run("heatmap", updates=3)
    at.session_state["run_label"], at.session_state["run_file"] = "your file mine.npz", "mine.npz"
    at.run()
    assert not [c for c in at.code if c.value.startswith("/")]
    assert any("No link to this view" in c.value for c in at.sidebar.caption)


def test_the_shipped_run_link_carries_no_run():
    at = visit("heatmap")
    assert not any(key.startswith("run") for key in query_of(at))
