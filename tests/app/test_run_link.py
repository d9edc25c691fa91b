"""A training run inside a link: the recipe round-trips, bad links give a reason, and the
recomputed run is the session's run bit for bit."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pg.algo.reinforce import TrainConfig
from pg.app.presets import preset_config
from pg.app.registry import run_registry
from pg.app.run_link import Recompute, RunRecipe, recipe_from_query, recipe_of, recipe_query, run_at
from pg.runs.live import LiveRun

FAST = dict(batch_episodes=4, eval_every=1000, max_updates=60, max_episode_steps=100)


def as_params(query: dict) -> dict:
    return {key: [value] for key, value in query.items()}


def assert_same_run(a, b):
    """Bit for bit: every checkpoint's parameters, the final policy and the history (but the
    wall-clock time of each update, which is the machine's, not the run's)."""
    assert [it for it, _ in a.checkpoints()] == [it for it, _ in b.checkpoints()]
    for (_, p), (_, q) in zip(a.checkpoints(), b.checkpoints()):
        assert p.params.tobytes() == q.params.tobytes()
    assert a.policy.params.tobytes() == b.policy.params.tobytes()
    assert a.config == b.config
    assert a.history.keys() == b.history.keys()
    for name in set(a.history) - {"wall_time"}:
        np.testing.assert_array_equal(a.history[name], b.history[name])


@pytest.mark.parametrize("recipe", [
    RunRecipe(TrainConfig(), 1, 0, 18),
    RunRecipe(TrainConfig(lr=0.05, seed=7), 5, 4, 221),
    RunRecipe(preset_config("neural network", hidden=(16, 8), max_grad_norm=0.123456789), 2, 1, 3),
    RunRecipe(preset_config("the seed blog post", solve_return=123.456789, seed=2**32 - 1), 1, 0, 0),
    RunRecipe(preset_config("CartPole-v0 (the 195 bar)", gamma=0.97, entropy_coef=0.001), 3, 0, 40),
])
def test_a_recipe_round_trips_through_the_query(recipe):
    query = recipe_query(recipe)
    assert all(isinstance(v, str) for v in query.values())
    assert recipe_from_query(as_params(query)) == (recipe, None)


def test_the_default_run_is_one_parameter_and_a_preset_shortens_the_link():
    assert recipe_query(RunRecipe(TrainConfig(), 1, 0, 18)) == {"run": "18"}
    mlp = recipe_query(RunRecipe(preset_config("neural network"), 1, 0, 5))
    assert mlp == {"run": "5", "run_preset": "neural-network"}


def test_a_link_without_a_run_is_not_a_run_link():
    assert recipe_from_query({"checkpoint": ["3"], "x": ["0.5"]}) == (None, None)


@pytest.mark.parametrize("params, named", [
    ({"run": "5", "run_lr": "abc"}, "`?run_lr=abc`"),
    ({"run": "5", "run_lr": "0"}, "`?run_lr=0`"),
    ({"run": "-1"}, "`?run=-1`"),
    ({"run": "5", "run_shown": "1"}, "`?run_shown=1`"),
    ({"run": "5000"}, "`?run=5000`"),
    ({"run_lr": "0.1"}, "`?run=` is missing"),
    ({"run": "5", "run_speed": "human-pace"}, "`speed`"),
    ({"run": "5", "run_hidden": "600", "run_policy": "mlp"}, "`?run_hidden=600`"),
    ({"run": "5", "run_batch_episodes": "4096", "run_max_episode_steps": "100000"}, "more than the"),
])
def test_a_run_that_cannot_be_reproduced_gives_one_reason_naming_the_parameter(params, named):
    recipe, reason = recipe_from_query(params)
    assert recipe is None
    assert named in reason and "\n" not in reason


@given(st.dictionaries(st.sampled_from(["run", "run_lr", "run_seed", "run_shown", "run_n_seeds", "run_hidden",
                                        "run_policy", "run_x"]), st.text(max_size=30), min_size=1))
def test_no_query_makes_the_recipe_raise(params):
    recipe, reason = recipe_from_query(params)
    assert (recipe is None) != (reason is None)


def session_run(cfg, n_seeds, shown, stop_at):
    """A run as Live training keeps it: trained in ticks, stopped after ``stop_at`` updates of
    seed ``shown``, then trained on (as if the session pressed Start again)."""
    live = LiveRun(cfg, n_seeds, max_snapshots=6)  # few snapshots: later updates thin them out
    while live.seeds[shown].recorder.n < stop_at:
        live.step()
    return live, live.to_run(shown)


@pytest.mark.parametrize("n_seeds, shown, stop_at", [(1, 0, 9), (3, 2, 7), (2, 0, 1)])
def test_the_run_as_it_stood_is_rebuilt_from_a_run_that_went_on(n_seeds, shown, stop_at):
    live, then = session_run(TrainConfig(**FAST, seed=3), n_seeds, shown, stop_at)
    assert_same_run(run_at(live, shown, stop_at), then)
    live.step()  # one more: no thinning yet at this size
    rebuilt = run_at(live, shown, stop_at)
    if rebuilt is not None:  # (None only when a checkpoint was thinned away)
        assert_same_run(rebuilt, then)
    assert run_at(live, shown, live.seeds[shown].recorder.n + 1) is None


def test_a_thinned_out_checkpoint_means_the_run_cannot_be_rebuilt_from_it():
    live, then = session_run(TrainConfig(**FAST, seed=3), 1, 0, 7)
    for _ in range(30):
        live.step()
    assert run_at(live, 0, 7) is None  # update 7 was kept then; with stride 8 it is gone


@pytest.mark.parametrize("n_seeds, shown, stop_at", [(1, 0, 9), (3, 1, 12)])
def test_a_recompute_in_a_fresh_registry_is_the_session_run_bit_for_bit(n_seeds, shown, stop_at):
    cfg = TrainConfig(**FAST, seed=5)
    live = LiveRun(cfg, n_seeds)
    while live.seeds[shown].recorder.n < stop_at:
        live.advance(0.01)
    recipe = recipe_of(live, live.to_run(shown))
    assert recipe is not None and recipe.shown == shown
    then = run_at(live, shown, recipe.updates)
    recipe = recipe_from_query(as_params(recipe_query(recipe)))[0]
    recompute = Recompute(recipe, run_registry(idle_seconds=None))
    seen = []
    while not recompute.advance(0.005):
        seen.append(recompute.done)
    assert recompute.problem is None
    assert seen == sorted(seen) and all(k <= recipe.updates for k in seen)
    assert_same_run(recompute.run, then)


def test_opening_the_same_link_twice_computes_once():
    registry = run_registry(idle_seconds=None)
    recipe = RunRecipe(TrainConfig(**FAST), 1, 0, 5)
    for _ in range(2):
        recompute = Recompute(recipe, registry)
        while not recompute.advance(0.05):
            pass
        assert recompute.run is not None
    assert registry.created == 1


def test_a_shared_run_that_moved_on_is_recomputed_privately():
    registry = run_registry(idle_seconds=None)
    cfg = TrainConfig(**FAST, seed=3)
    shared = registry.get((cfg, 1))
    while shared.n < 7:
        shared.step()
    then = shared.to_run()
    for _ in range(5):
        shared.step()
    keeper = shared.seeds[0].recorder.keeper
    keeper.kept = {0: keeper.kept[0]}  # as a much longer run's keeper would have thinned it
    recompute = Recompute(RunRecipe(cfg, 1, 0, 7), registry)
    while not recompute.advance(0.05):
        pass
    assert recompute.live is not shared and recompute.live.cancelled
    assert_same_run(recompute.run, then)


def test_a_run_that_stops_before_the_update_asked_is_a_problem_in_words():
    cfg = TrainConfig(**(FAST | {"max_updates": 4}))
    recompute = Recompute(RunRecipe(cfg, 1, 0, 4), run_registry(idle_seconds=None))
    recompute.recipe = RunRecipe(cfg, 1, 0, 9)  # a recipe the checks would refuse, to reach the guard
    while not recompute.advance(0.05):
        pass
    assert recompute.run is None and "stopped at update 4" in recompute.problem


def test_an_uploaded_run_has_no_recipe():
    live = LiveRun(TrainConfig(**FAST), 1)
    live.step()
    other = LiveRun(TrainConfig(**FAST, seed=9), 1)
    other.step()
    assert recipe_of(live, other.to_run()) is None
    assert recipe_of(live, live.to_run()) == RunRecipe(TrainConfig(**FAST), 1, 0, 1)
