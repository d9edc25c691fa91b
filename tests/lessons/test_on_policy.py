"""pg.lessons.on_policy: stale episodes are biased, importance weights fix it; the surrogate loss's
value is not J. Every expectation exact, by enumeration."""

import numpy as np
import pytest

from pg.algo.reinforce import surrogate_loss
from pg.algo.returns import reward_to_go
from pg.lessons import derivation as d
from pg.lessons.on_policy import expected_surrogate_loss, loss_check, on_policy_check

THETA = (0.5, 0.0, -0.5)


@pytest.mark.parametrize("problem", d.PROBLEMS)
def test_old_episodes_are_biased_and_importance_weights_fix_it(problem):
    check = on_policy_check(d.make_setup(problem, THETA), (-0.5, 1.0, 0.5))
    assert check.stale_error > 0.05 * np.linalg.norm(check.exact)
    assert check.weighted_error < 1e-10
    assert check.max_weight > 1.0


def test_same_policy_needs_no_weights():
    check = on_policy_check(d.make_setup("tiny_cartpole", THETA), THETA)
    assert check.stale_error < 1e-12 and check.max_weight == pytest.approx(1.0)


def test_expected_surrogate_loss_is_the_mean_of_surrogate_loss():
    setup = d.make_setup("tiny_cartpole", THETA)
    batch = setup.problem.sample(setup.policy, 40_000, np.random.default_rng(0))
    alive = batch.alive
    adv = (reward_to_go(batch.rewards, alive, 1.0) - 1.5) * alive
    logp = np.zeros(alive.shape)
    logp[alive] = setup.policy.log_prob(batch.obs[alive], batch.actions[alive])
    per_episode = -(logp * adv).sum(axis=0)  # surrogate_loss of each episode alone
    assert surrogate_loss(setup.policy, batch, adv) == pytest.approx(per_episode.mean(), rel=1e-12)
    se = per_episode.std(ddof=1) / np.sqrt(len(per_episode))
    assert abs(per_episode.mean() - expected_surrogate_loss(setup, setup.theta, 1.5)) < 4.5 * se


@pytest.mark.parametrize("problem", d.PROBLEMS)
def test_loss_moves_with_b_while_J_does_not(problem):
    check = loss_check(d.make_setup(problem, THETA))
    np.testing.assert_allclose(np.diff(check.loss_vs_b), check.loss_slope * np.diff(check.bs), rtol=1e-10)
    assert check.loss_slope < -0.1


def test_loss_rises_while_J_rises_on_the_tiny_cartpole():
    check = loss_check(d.make_setup("tiny_cartpole", THETA))
    assert check.J_rose == len(check.path_J) - 1  # exact gradient ascent with a small step
    assert check.both_rose >= 5  # ... and the loss rose too, on most steps


def test_loss_check_losses_are_expected_surrogate_loss_at_each_b():
    """loss_check computes its losses against b from one enumeration: the same numbers as
    expected_surrogate_loss at each b, and its path starts at theta."""
    setup = d.make_setup("tiny_cartpole", (0.5, 0.0, -0.5))
    lc = loss_check(setup)
    assert list(lc.loss_vs_b) == [expected_surrogate_loss(setup, setup.theta, b) for b in lc.bs]
    assert lc.path_loss[0] == expected_surrogate_loss(setup, setup.theta, 0.0)
