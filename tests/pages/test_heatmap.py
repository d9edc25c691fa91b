"""The Policy heatmap page under AppTest: every widget moves what the page shows."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pytest
from app_helpers import chart_specs, open_page, texts
from live_helpers import recorded_history

from pg.algo.policies import make_policy
from pg.algo.reinforce import TrainConfig, train
from pg.runs.checkpoint import Run
from pg.viz.policy_grid import linear_weights, policy_grid

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def layer_data(at, mark: str) -> list:
    """[DataFrame] of the page's chart layers drawn with ``mark``."""
    frames = []
    for chart in at.get("vega_lite_chart"):
        spec = json.loads(chart.proto.spec)
        datasets = {d.name: pa.ipc.open_stream(d.data.data).read_all().to_pandas() for d in chart.proto.datasets}
        for layer in spec.get("layer", [spec]):
            kind = layer["mark"]["type"] if isinstance(layer["mark"], dict) else layer["mark"]
            name = layer.get("data", spec.get("data", {})).get("name")
            if kind == mark and name in datasets:
                frames.append(datasets[name])
    return frames


def heatmap_cells(at):
    (cells,) = layer_data(at, "rect")
    return cells


def heatmap_span(at) -> tuple[float, float]:
    """The heatmap's theta_dot range: its y scale's domain (the cells are sent in single precision)."""
    (spec,) = [s for s in chart_specs(at) if "p_right" in json.dumps(s)]
    (domain,) = {tuple(layer["encoding"]["y"]["scale"]["domain"]) for layer in spec["layer"]
                 if "scale" in layer["encoding"].get("y", {})}
    return domain


def shown_weights(at) -> np.ndarray:
    (bars,) = layer_data(at, "bar")
    return bars["weight"].to_numpy()


def short_run(kind: str = "linear", updates: int = 3) -> Run:
    """A few updates of real training, kept as the live page keeps a run."""
    cfg = TrainConfig(policy=kind, hidden=(8,), batch_episodes=4, max_updates=updates, eval_every=1000, seed=1)
    updates_seen = list(train(cfg))
    return Run(
        policy=updates_seen[-1].policy,
        config=cfg.to_dict(),
        history=recorded_history(updates_seen),
        snapshots=[(u.iteration, u.policy) for u in updates_seen],
    )


@pytest.fixture(scope="module")
def shipped():
    from pages.shared import SHIPPED_POLICY
    from pg.runs.checkpoint import load_run

    return load_run(SHIPPED_POLICY)


def test_default_view_is_the_final_policy(shipped):
    at = open_page("heatmap")
    slider = at.select_slider(key="heatmap_checkpoint")
    iterations = [it for it, _ in shipped.snapshots]
    assert slider.value == iterations[-1]
    assert slider.options == [str(it) for it in iterations]
    cells = heatmap_cells(at)
    assert len(cells) == 61 * 61
    assert cells["theta_lo"].min() == pytest.approx(-12) and cells["theta_lo"].max() == pytest.approx(12 - 24 / 61)
    np.testing.assert_allclose(shown_weights(at), linear_weights(shipped.policy)["weight"])
    assert layer_data(at, "line"), "the decision boundary is drawn"
    assert layer_data(at, "circle"), "visited states are overlaid"
    assert "pre-trained policy" in texts(at)
    assert at.latex and "sigma" in at.latex[0].value
    assert not at.exception


def test_checkpoint_slider_changes_the_picture_and_the_weights(shipped):
    at = open_page("heatmap")
    final_cells = heatmap_cells(at)["p_right"].to_numpy()
    final_length = at.metric[0].value
    first_iteration, first_policy = shipped.snapshots[0]
    at.select_slider(key="heatmap_checkpoint").set_value(first_iteration).run()
    assert not at.exception
    cells = heatmap_cells(at)
    assert not np.allclose(cells["p_right"], final_cells)
    np.testing.assert_allclose(shown_weights(at), linear_weights(first_policy)["weight"])
    expected = policy_grid(first_policy, 0.0, 0.0, (-12, 12), heatmap_span(at), 61)
    np.testing.assert_allclose(cells["p_right"], expected["p_right"], rtol=1e-6, atol=1e-7)  # single precision
    assert at.metric[0].value != final_length  # the untrained policy's greedy episodes are short
    # the theta_dot axis stays put as the slider moves
    assert heatmap_span(at) == heatmap_span(open_page("heatmap"))


@pytest.mark.parametrize("key, value, position", [("heatmap_x", 1.5, "x"), ("heatmap_x_dot", -1.2, "x_dot")])
def test_cart_sliders_move_the_slice(shipped, key, value, position):
    at = open_page("heatmap")
    before = heatmap_cells(at)
    at.slider(key=key).set_value(value).run()
    assert not at.exception
    after = heatmap_cells(at)
    assert not np.allclose(after["p_right"], before["p_right"])
    x, x_dot = (value, 0.0) if position == "x" else (0.0, value)
    np.testing.assert_allclose(  # sent in single precision
        after["p_right"], policy_grid(shipped.policy, x, x_dot, (-12, 12), heatmap_span(at), 61)["p_right"],
        rtol=1e-6, atol=1e-7)
    assert f"{value:.1f}" in texts(at)


def test_overlay_toggle_hides_the_visited_states():
    at = open_page("heatmap")
    assert layer_data(at, "circle")
    at.toggle(key="heatmap_overlay").set_value(False).run()
    assert not at.exception
    (dots,) = layer_data(at, "circle")
    assert len(dots) == 0  # the layer stays, empty: the browser updates the chart's data, draws nothing new
    assert len(layer_data(at, "rect")[0]) and len(layer_data(at, "line")[0])


def test_a_run_in_session_state_replaces_the_shipped_policy():
    run = short_run("linear", updates=3)
    at = open_page("heatmap")
    at.select_slider(key="heatmap_checkpoint").set_value(at.select_slider(key="heatmap_checkpoint").options[5]).run()
    at.session_state["run"] = run
    at.run()
    assert not at.exception
    slider = at.select_slider(key="heatmap_checkpoint")
    assert slider.options == ["1", "2", "3"]
    assert slider.value == 3, "a new run starts at its final policy"
    assert "your training run" in texts(at)
    np.testing.assert_allclose(shown_weights(at), linear_weights(run.policy)["weight"])
    slider.set_value(1).run()
    np.testing.assert_allclose(shown_weights(at), linear_weights(run.snapshots[0][1])["weight"])


def test_an_mlp_run_shows_its_size_instead_of_weights():
    run = short_run("mlp", updates=2)
    at = open_page("heatmap")
    at.session_state["run"] = run
    at.run()
    assert not at.exception
    assert not layer_data(at, "bar")
    assert heatmap_cells(at) is not None
    assert f"{run.policy.params.size:,} parameters" in texts(at)


def test_a_run_without_snapshots_shows_its_final_policy():
    policy = make_policy("linear", seed=3, init_scale=1.0)
    at = open_page("heatmap")
    at.session_state["run"] = Run(policy=policy)
    at.run()
    assert not at.exception
    assert at.select_slider(key="heatmap_checkpoint").options == ["0"]
    np.testing.assert_allclose(shown_weights(at), linear_weights(policy)["weight"])


def test_an_untrained_checkpoint_is_called_undecided(shipped):
    at = open_page("heatmap")
    assert not at.info
    first_iteration, first_policy = shipped.snapshots[0]
    at.select_slider(key="heatmap_checkpoint").set_value(first_iteration).run()
    p_right = heatmap_cells(at)["p_right"]
    # the shipped run starts near-uniform (weights ~ N(0, 0.01^2)): P within 0.5 +- 0.05 everywhere
    assert ("Undecided everywhere" in texts(at)) == (p_right.max() - p_right.min() < 0.1)


def test_each_control_recomputes_only_what_it_feeds(monkeypatch):
    """Issue "Instant": the overlay switch recomputes nothing; a slice slider recomputes the
    grid but not the visited states, and no control rebuilds the chart's layout once seen."""
    import pages.cached as cached
    from pg.viz.spec import template_spec

    calls = {"grid": 0, "boundary": 0, "visited": 0}

    def counted(name, function):
        def wrapper(*args, **kwargs):
            calls[name] += 1
            return function(*args, **kwargs)
        return wrapper

    cached._picture.clear()  # the cache is the server's: earlier tests drew slices too
    monkeypatch.setattr(cached, "policy_grid", counted("grid", cached.policy_grid))
    monkeypatch.setattr(cached, "decision_boundary", counted("boundary", cached.decision_boundary))
    monkeypatch.setattr(cached, "visited_states", counted("visited", cached.visited_states))
    at = open_page("heatmap")

    def after(change) -> dict:
        before, builds = dict(calls), template_spec.cache_info().misses
        change()
        at.run()
        assert not at.exception
        return {k: calls[k] - before[k] for k in calls} | {"layouts": template_spec.cache_info().misses - builds}

    at.toggle(key="heatmap_overlay").set_value(False)
    at.run()
    at.toggle(key="heatmap_overlay").set_value(True)
    at.run()  # both layouts seen
    nothing = {"grid": 0, "boundary": 0, "visited": 0, "layouts": 0}
    assert after(lambda: at.toggle(key="heatmap_overlay").set_value(False)) == nothing
    assert after(lambda: at.toggle(key="heatmap_overlay").set_value(True)) == nothing
    assert after(lambda: at.slider(key="heatmap_x").set_value(1.7)) == nothing | {"grid": 1, "boundary": 1}
    assert after(lambda: at.slider(key="heatmap_x").set_value(0.0)) == nothing, "seen before: cached"
