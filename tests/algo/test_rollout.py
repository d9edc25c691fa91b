"""pg.algo.rollout: Roller (N episodes in lock-step), its pausable form Roller.rollout, and
StepBudget (a shared cap on environment steps).

A rollout paused between any two time steps must give the batch of one never paused, bit for
bit; a budget must stop a rollout before the time step that would take it past its cap by more
than one time step's batch.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from pg.algo.policies import LinearSoftmax, make_policy
from pg.algo.reinforce import Evaluator
from pg.algo.rollout import Roller, StepBudget, to_end
from pg.envs import CartPole


def margin_policy(gains, bias=0.0) -> LinearSoftmax:
    """A linear policy whose logit of 'push right' is gains . s + bias."""
    gains = np.asarray(gains, dtype=np.float64)
    W = np.stack([-gains / 2, gains / 2], axis=1)
    return LinearSoftmax(4, 2, params=np.concatenate([W.ravel(), [-bias / 2, bias / 2]]))


def copied(batch):
    return None if batch is None else tuple(a.copy() for a in (batch.obs, batch.actions, batch.rewards, batch.alive))


def assert_same_batch(a, b):
    for x, y in zip(copied(a), copied(b), strict=True):
        np.testing.assert_array_equal(x, y)


def test_roller_batch_shapes_masks_and_rewards():
    """obs (T, N, 4), actions (T, N) in {0, 1}, rewards and alive (T, N); T is the longest
    episode; alive is a prefix of each column whose length is the episode's; rewards equal
    alive; every episode ended (terminated or truncated)."""
    env = CartPole(12, max_steps=100)
    roller = Roller(env, seed=0)
    batch = roller.run(margin_policy((0, 0, 1, 1), bias=0.2), np.random.default_rng(0))
    T = len(batch.alive)
    assert batch.obs.shape == (T, 12, 4) and batch.actions.shape == (T, 12)
    assert batch.rewards.shape == (T, 12) and batch.alive.shape == (T, 12) and batch.alive.dtype == bool
    assert set(np.unique(batch.actions)) <= {0, 1}
    lengths = batch.lengths
    assert T == lengths.max() and lengths.min() >= 1
    assert np.array_equal(batch.alive, np.arange(T)[:, None] < lengths[None, :])
    assert np.array_equal(batch.rewards, batch.alive.astype(float))
    assert np.array_equal(batch.episode_returns, lengths.astype(float))
    assert batch.env_steps == lengths.sum()
    assert not env.alive.any() and np.array_equal(env.steps, lengths)
    assert (lengths == 100).any() and (lengths < 100).any()
    assert np.abs(batch.obs[0]).max() <= 0.05


def test_roller_observations_are_the_env_trajectory():
    """Replaying the batch's actions from its start states in a fresh CartPole reproduces
    every alive observation exactly."""
    policy = margin_policy((0, 0, 1, 1))
    batch = Roller(CartPole(10), seed=3).run(policy, np.random.default_rng(3))
    env = CartPole(10)
    env.reset()
    env.state = batch.obs[0]
    for t in range(len(batch.alive) - 1):
        obs, *_ = env.step(batch.actions[t])
        alive_next = batch.alive[t + 1]
        assert np.array_equal(obs[alive_next], batch.obs[t + 1][alive_next])


def test_roller_runs_draw_fresh_start_states_and_are_seeded():
    policy = margin_policy((0, 0, 1, 1))
    a, b = Roller(CartPole(4, 50), seed=7), Roller(CartPole(4, 50), seed=7)
    first_a = a.run(policy, greedy=True).obs[0].copy()
    second_a = a.run(policy, greedy=True).obs[0].copy()
    assert np.array_equal(first_a, b.run(policy, greedy=True).obs[0])
    assert not np.array_equal(first_a, second_a)


@pytest.mark.parametrize("kind", ["linear", "mlp"])
def test_roller_sampled_actions_follow_policy_probabilities(kind):
    """Over all visited states, the number of 'push right' actions is within 5 standard
    deviations (sqrt of sum p(1-p)) of sum p = expected count, overall and within each of 4
    probability bins (false alarm < 1e-5 per check)."""
    rng = np.random.default_rng(11)
    if kind == "linear":
        policy = margin_policy((0.5, 1.0, 8.0, 4.0), bias=0.3)
    else:
        policy = make_policy("mlp", hidden=(8,), seed=3, init_scale=3.0)
    batch = Roller(CartPole(300), seed=2).run(policy, rng)
    alive = batch.alive
    p1 = policy.probs(batch.obs[alive])[:, 1]
    actions = batch.actions[alive].astype(float)
    assert len(p1) > 3000 and p1.min() < 0.25 and p1.max() > 0.75
    edges = np.quantile(p1, [0, 0.25, 0.5, 0.75, 1.0])
    bins = [np.ones_like(p1, bool)] + [(p1 >= lo) & (p1 <= hi) for lo, hi in zip(edges[:-1], edges[1:], strict=True)]
    for in_bin in bins:
        expected = p1[in_bin].sum()
        sd = np.sqrt((p1[in_bin] * (1 - p1[in_bin])).sum())
        assert abs(actions[in_bin].sum() - expected) < 5 * sd, (actions[in_bin].sum(), expected, sd)


@pytest.mark.parametrize("kind", ["linear", "mlp"])
def test_roller_greedy_run_takes_the_argmax(kind):
    policy = margin_policy((0, 0, 1, 1), bias=0.05) if kind == "linear" else make_policy("mlp", seed=1, init_scale=2.0)
    batch = Roller(CartPole(20), seed=4).run(policy, greedy=True)
    alive = batch.alive
    assert np.array_equal(batch.actions[alive], policy.act(batch.obs[alive], greedy=True))


def test_stop_below_cuts_a_hopeless_evaluation_short_with_a_valid_bound():
    """A policy averaging ~360 cannot reach 475: with stop_below=475 the run stops early
    (at a multiple of 8 steps, some episodes still alive) and the evaluator reports no mean
    but an upper bound that is below 475 and above the true mean of the full run."""
    policy = margin_policy((0, -0.5, 1, 1))
    full = Roller(CartPole(100), seed=0).run(policy, greedy=True)
    full_returns = full.episode_returns.copy()
    cut_roller = Roller(CartPole(100), seed=0)
    cut = cut_roller.run(policy, greedy=True, stop_below=475.0)
    assert len(cut.alive) < len(full.alive) and len(cut.alive) % 8 == 0
    assert cut_roller.env.alive.any()
    np.testing.assert_array_equal(cut.obs, full.obs[: len(cut.alive)])
    returns, upper = Evaluator(100, 500, 0)(policy, stop_below=475.0)
    assert returns is None and full_returns.mean() <= upper < 475
    returns, upper = Evaluator(100, 500, 0)(policy, stop_below=100.0)
    assert upper is None and np.array_equal(returns, full_returns)



# ---------------------------------------------------------------------------------------------
# Roller.rollout: paused between time steps, the same batch
# ---------------------------------------------------------------------------------------------
def pauser(pattern):
    """A pause hook answering from ``pattern`` (cycled), counting its calls."""
    answers = itertools.cycle(pattern)
    calls = {"n": 0}

    def pause():
        calls["n"] += 1
        return next(answers)

    return pause, calls


def drive(steps) -> tuple[object, int]:
    """Run a rollout generator to its value; returns (value, times it paused)."""
    paused = 0
    while True:
        try:
            next(steps)
        except StopIteration as end:
            return end.value, paused
        paused += 1


@pytest.mark.parametrize("pattern", [[True], [False, True], [False, False, True, False, True], [False]])
@pytest.mark.parametrize("greedy", [False, True])
def test_a_rollout_paused_anywhere_is_the_batch_of_one_never_paused(pattern, greedy):
    policy = make_policy("mlp", hidden=(8,), seed=3, init_scale=2.0)
    reference = Roller(CartPole(7, 120), seed=5)
    paused_roller = Roller(CartPole(7, 120), seed=5)
    rng_a, rng_b = np.random.default_rng(1), np.random.default_rng(1)
    for _ in range(3):  # successive batches: the generators' states go on alike too
        want = reference.run(policy, None if greedy else rng_a, greedy=greedy)
        pause, calls = pauser(pattern)
        got, paused = drive(paused_roller.rollout(policy, None if greedy else rng_b, greedy=greedy, pause=pause))
        assert_same_batch(got, want)
        T = len(want.alive)
        assert calls["n"] == T, "asked once before each time step"
        assert paused == sum(itertools.islice(itertools.cycle(pattern), T))
    assert rng_a.random() == rng_b.random()


def test_run_never_asks_a_pause_hook_and_to_end_refuses_a_generator_that_pauses():
    roller = Roller(CartPole(3, 50), seed=0)
    assert to_end(roller.rollout(margin_policy((0, 0, 1, 1)), greedy=True)) is not None
    with pytest.raises(RuntimeError, match="yielded"):
        to_end(roller.rollout(margin_policy((0, 0, 1, 1)), greedy=True, pause=lambda: True))


def test_an_evaluation_paused_anywhere_gives_the_same_result():
    policy = margin_policy((0, -0.5, 1, 1))
    for stop_below in (None, 475.0):
        want = Evaluator(30, 500, 4)(policy, stop_below)
        pause, _ = pauser([False, True, True])
        got, paused = drive(Evaluator(30, 500, 4).evaluation(policy, stop_below, pause))
        assert paused > 10
        if want[0] is None:
            assert got[0] is None and got[1] == want[1]
        else:
            np.testing.assert_array_equal(got[0], want[0])


# ---------------------------------------------------------------------------------------------
# StepBudget: a cap on env steps, exact to one time step's batch
# ---------------------------------------------------------------------------------------------
def test_a_batch_within_the_budget_is_whole_and_charged_exactly():
    policy = margin_policy((0, 0, 1, 1))
    want = Roller(CartPole(6, 200), seed=2).run(policy, np.random.default_rng(0))
    budget = StepBudget(10_000)
    got = to_end(Roller(CartPole(6, 200), seed=2).rollout(policy, np.random.default_rng(0), budget=budget))
    assert_same_batch(got, want)
    assert budget.left == 10_000 - want.env_steps


@pytest.mark.parametrize("cap", [1, 5, 6, 7, 50, 333, 1000])
def test_a_budget_stops_the_rollout_mid_batch_past_its_cap_by_less_than_one_time_step(cap):
    """N = 6 episodes: the rollout stops before the first time step at which the steps taken
    reach the cap, so it takes at least ``cap`` and fewer than cap + 6 steps, and returns None;
    the steps taken are those of the same batch run without a budget, cut there."""
    policy = margin_policy((0, -0.5, 1, 1))  # greedy: four episodes of 500 steps, two shorter
    full = Roller(CartPole(6, 500), seed=2).run(policy, greedy=True)
    assert full.env_steps == 2177
    budget = StepBudget(cap)
    result = to_end(Roller(CartPole(6, 500), seed=2).rollout(policy, greedy=True, budget=budget))
    taken = cap - budget.left
    assert result is None and cap <= taken < cap + 6
    so_far = np.cumsum(full.alive.sum(axis=1))  # steps taken after each time step
    assert taken == so_far[np.searchsorted(so_far, cap)]


def test_a_spent_budget_takes_no_step_and_pausing_does_not_move_the_stop():
    policy = margin_policy((0, 0.3, 1, 0.5))  # episodes of different lengths
    assert to_end(Roller(CartPole(5, 300), seed=1).rollout(policy, np.random.default_rng(0),
                                                            budget=StepBudget(0))) is None
    for cap in (40, 401, 777):
        plain, paused = StepBudget(cap), StepBudget(cap)
        a = to_end(Roller(CartPole(5, 300), seed=1).rollout(policy, np.random.default_rng(0), budget=plain))
        pause, _ = pauser([False, True, False])
        b, _ = drive(Roller(CartPole(5, 300), seed=1).rollout(policy, np.random.default_rng(0), pause=pause,
                                                              budget=paused))
        assert plain.left == paused.left and (a is None) == (b is None)


def test_one_budget_shared_by_two_rollouts_caps_them_together():
    policy = margin_policy((0, 0, 1, 1))  # greedy: balances to the 500-step limit
    budget = StepBudget(700)
    first = Roller(CartPole(4, 500), seed=0).rollout(policy, greedy=True, budget=budget)
    second = Roller(CartPole(4, 500), seed=1).rollout(policy, greedy=True, budget=budget)
    assert to_end(first) is None and 700 <= 700 - budget.left < 704
    assert to_end(second) is None and 700 - budget.left < 704, "a spent budget: not one step more"
