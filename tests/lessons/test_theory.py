"""pg.lessons.theory's exact gradients, and the REINFORCE estimator (with every baseline) against them.

The estimates come from the path the theorem page runs: pg.lessons.derivation.sample_batches,
then reinforce_estimates (pg.algo.reinforce.reinforce_gradient, one batch after another, the
stateful baselines learning as in training); pg.lessons.stats summarises them.

The bound: with M independent estimates, each component of their mean is within Z standard
errors of the exact gradient. Z = 4.5 makes a false alarm about 7e-6 per component (normal
approximation, M = 1500); the seeds are fixed, so the outcome is reproducible either way.
"""

import numpy as np
import pytest

from pg.algo.baselines import BASELINES
from pg.algo.policies import MLPSoftmax
from pg.algo.rollout import Batch
from pg.lessons.derivation import reinforce_estimates, sample_batches
from pg.lessons.stats import estimate_statistics
from pg.lessons.theory import (
    SoftmaxBandit,
    TabularMDP,
    exact_gradient,
    exact_objective,
    finite_difference_gradient,
    trajectory_scores,
    trajectory_scores_loop,
)

Z = 4.5
M = 1500
EPISODES = 8

PROBLEMS = {
    "bandit": (SoftmaxBandit(), np.array([0.3, -0.2, 0.5])),
    "tiny_cartpole": (TabularMDP.tiny_cartpole(), np.array([[0.4, -0.4], [0.1, 0.0], [-0.3, 0.2]])),
    "random_mdp": (TabularMDP.random(seed=1), np.array([[0.2, -0.5], [0.0, 0.3], [-0.4, 0.1]])),
}


def _problem(name):
    problem, logits = PROBLEMS[name]
    return problem, problem.make_policy(logits)


def _estimates(problem, policy, n_estimates, episodes, seed, baseline="none", returns="reward_to_go"):
    """(n_estimates, P) independent REINFORCE estimates at a fixed policy, as the page draws them."""
    batches = sample_batches(problem, policy, n_estimates, episodes, seed)
    return reinforce_estimates(problem, policy, batches, returns, baseline)


def _variance(estimates) -> float:
    return estimate_statistics(estimates).variance


@pytest.mark.parametrize("name", PROBLEMS)
def test_enumerated_trajectories_are_a_distribution(name):
    problem, policy = _problem(name)
    traj = problem.trajectories(policy)
    assert np.all(traj.prob > 0)
    assert traj.prob.sum() == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("name", PROBLEMS)
def test_exact_gradient_matches_finite_differences_of_exact_objective(name):
    """The policy-gradient theorem itself: sum_tau P R grad log P == dJ/dtheta."""
    problem, policy = _problem(name)
    exact = exact_gradient(problem, policy)
    fd = finite_difference_gradient(problem, policy, eps=1e-6)
    assert np.linalg.norm(exact - fd) <= 1e-6 * max(1.0, np.linalg.norm(fd))
    assert np.linalg.norm(exact) > 0.05  # a non-trivial gradient


def test_bandit_objective_closed_form():
    bandit = SoftmaxBandit(means=(1.0, 2.0, 0.5))
    logits = np.array([0.3, -0.2, 0.5])
    pi = np.exp(logits) / np.exp(logits).sum()
    assert exact_objective(bandit, bandit.make_policy(logits)) == pytest.approx(pi @ bandit.means, abs=1e-12)
    # d/dtheta_k sum_a pi_a mu_a = pi_k (mu_k - J)
    grad = exact_gradient(bandit, bandit.make_policy(logits))
    np.testing.assert_allclose(grad[3:], pi * (np.array(bandit.means) - pi @ bandit.means), atol=1e-12)
    np.testing.assert_allclose(grad[:3], 0.0, atol=1e-12)  # the state feature is 0


def test_tiny_cartpole_sampler_matches_enumeration():
    """Episode lengths sampled by TabularMDP.sample follow the enumerated distribution."""
    problem, policy = _problem("tiny_cartpole")
    traj = problem.trajectories(policy)
    lengths = traj.batch.alive.sum(axis=0)
    exact = np.array([traj.prob[lengths == k].sum() for k in range(1, problem.horizon + 1)])
    sample = problem.sample(policy, 40_000, np.random.default_rng(0))
    counts = np.array([(sample.alive.sum(axis=0) == k).sum() for k in range(1, problem.horizon + 1)])
    expected = exact * 40_000
    chi2 = ((counts - expected) ** 2 / expected).sum()
    assert chi2 < 20.0  # 3 degrees of freedom: P(chi2 > 20) ~ 2e-4


def _z_scores(estimates, exact):
    mean = estimates.mean(axis=0)
    se = estimates.std(axis=0, ddof=1) / np.sqrt(len(estimates))
    moving = se > 1e-12
    return np.abs(mean - exact)[moving] / se[moving]


@pytest.mark.parametrize("returns", ["reward_to_go", "episode"])
@pytest.mark.parametrize("baseline", BASELINES)
@pytest.mark.parametrize("name", PROBLEMS)
def test_reinforce_is_unbiased_with_every_baseline(name, baseline, returns):
    problem, policy = _problem(name)
    exact = exact_gradient(problem, policy)
    estimates = _estimates(problem, policy, M, EPISODES, 7, baseline, returns)
    assert _z_scores(estimates, exact).max() < Z


class _ActionDependentBaseline:
    """A wrong 'baseline' that peeks at the action: the same test must flag its bias."""

    def values(self, batch, G):
        return 2.0 * batch.actions * batch.alive

    def update(self, batch, G):
        pass


def test_unbiasedness_check_detects_an_action_dependent_baseline():
    """The same estimator path, the same M, episodes and bound as the test above: it must fail."""
    problem, policy = _problem("tiny_cartpole")
    exact = exact_gradient(problem, policy)
    estimates = _estimates(problem, policy, M, EPISODES, 7, _ActionDependentBaseline())
    assert _z_scores(estimates, exact).max() > Z


@pytest.mark.parametrize("baseline", [b for b in BASELINES if b != "none"])
@pytest.mark.parametrize("name", PROBLEMS)
def test_every_baseline_lowers_the_variance(name, baseline):
    problem, policy = _problem(name)
    without = _estimates(problem, policy, M, EPISODES, 3, "none")
    with_b = _estimates(problem, policy, M, EPISODES, 3, baseline)
    assert _variance(with_b) < 0.8 * _variance(without)


@pytest.mark.parametrize("name", ["tiny_cartpole", "random_mdp"])
def test_reward_to_go_lowers_the_variance(name):
    problem, policy = _problem(name)
    whole = _estimates(problem, policy, M, EPISODES, 5, returns="episode")
    to_go = _estimates(problem, policy, M, EPISODES, 5, returns="reward_to_go")
    assert _variance(to_go) < 0.8 * _variance(whole)


def test_estimate_error_shrinks_like_one_over_sqrt_n():
    """Mean squared error of the average of n single-episode estimates ~ variance / n."""
    problem, policy = _problem("tiny_cartpole")
    exact = exact_gradient(problem, policy)
    per_episode = _estimates(problem, policy, 4096, 1, 11)
    var1 = _variance(per_episode)
    for n in (16, 256):
        groups = per_episode[: (4096 // n) * n].reshape(-1, n, exact.size).mean(axis=1)
        mse = ((groups - exact) ** 2).sum(axis=1).mean()
        assert 0.5 * var1 / n < mse < 2.0 * var1 / n


def test_batches_share_the_rollout_layout():
    problem, policy = _problem("random_mdp")
    batch = problem.sample(policy, 5, np.random.default_rng(0))
    assert isinstance(batch, Batch)
    assert batch.obs.shape == (problem.horizon, 5, problem.n_states)
    assert batch.alive[0].all()
    # once an episode ends it stays ended
    assert np.all(batch.alive[1:] <= batch.alive[:-1])


# ---------------------------------------------------------------------------------------------
# The vectorised paths against the step-by-step references they replace
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["tiny_cartpole", "random_mdp"])
def test_sample_draws_exactly_what_stepping_policy_act_draws(name):
    """TabularMDP.sample reads the policy's probabilities from a table: the same batch, bit for
    bit, as sample_stepwise (policy.act on every episode's observation), noise and all."""
    problem, policy = _problem(name)
    for seed, n in ((0, 1), (1, 7), (2, 500)):
        fast = problem.sample(policy, n, np.random.default_rng(seed))
        slow = problem.sample_stepwise(policy, n, np.random.default_rng(seed))
        for field in ("obs", "actions", "rewards", "alive"):
            np.testing.assert_array_equal(getattr(fast, field), getattr(slow, field))
    one, other = problem.sample(policy, 200, np.random.default_rng(0)), problem.sample(policy, 200, np.random.default_rng(1))
    assert not np.array_equal(one.actions, other.actions)  # the comparison can fail: seeds matter


@pytest.mark.parametrize("name", PROBLEMS)
def test_trajectory_scores_match_the_loop_over_trajectories(name):
    problem, policy = _problem(name)
    traj = problem.trajectories(policy)
    fast, slow = trajectory_scores(policy, traj), trajectory_scores_loop(policy, traj)
    assert fast.shape == slow.shape == (len(traj.prob), policy.params.size)
    np.testing.assert_allclose(fast, slow, rtol=0, atol=1e-12)
    assert np.abs(slow).max() > 0.1


def test_trajectory_scores_of_another_policy_go_through_the_loop():
    problem = TabularMDP.tiny_cartpole()
    policy = MLPSoftmax(3, 2, hidden=(4,))
    policy = policy.with_params(np.random.default_rng(0).normal(size=policy.params.size))
    traj = problem.trajectories(policy)
    np.testing.assert_array_equal(trajectory_scores(policy, traj), trajectory_scores_loop(policy, traj))
