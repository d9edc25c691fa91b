"""pg.lessons.variance: the probe's variance against a variance known exactly (the bandit, by
enumeration), its rows against pg.lessons.stats (itself tested against plain loops in
test_stats.py), unbiasedness against exact gradients (pg.lessons.theory), GAE's bias for each
lambda computed exactly (every trajectory enumerated, with the true and with a wrong critic),
and the probe on CartPole."""

from __future__ import annotations

import numpy as np
import pytest

from pg.algo.baselines import BatchMean, NoBaseline
from pg.algo.estimators import parse_estimator
from pg.algo.policies import make_policy
from pg.lessons.theory import SoftmaxBandit, TabularMDP, exact_gradient, exact_objective
from pg.lessons.variance import GradientProbe, estimate_statistics, expected_estimate, gradient_probe


def bandit_variance(problem, policy, b: float = 0.0, episodes: int = 1) -> float:
    """Exact trace of the covariance of the mean of ``episodes`` single-pull estimates
    grad log pi(a) * (r - b), r ~ N(mu_a, noise^2):
    (sum_a pi(a) ||grad log pi(a)||^2 ((mu_a - b)^2 + noise^2) - ||grad J||^2) / episodes."""
    obs = np.zeros((1, 1))
    pi = policy.probs(obs)[0]
    second_moment = 0.0
    for a, mu in enumerate(problem.means):
        score = policy.grad_log_prob(obs, np.array([a]))
        second_moment += pi[a] * (score @ score) * ((mu - b) ** 2 + problem.noise**2)
    grad = exact_gradient(problem, policy, 1.0)
    return (second_moment - grad @ grad) / episodes


@pytest.mark.parametrize("episodes, seed", [(1, 0), (1, 1), (4, 2)])
def test_variance_matches_the_exact_variance_on_the_bandit(episodes, seed):
    """No baseline, and a constant baseline (the moving average, fitted before the probe and
    then held fixed): the probe's variance is within 8% of the exact one (3000 estimates; the
    standard error is about 2.5%)."""
    bandit = SoftmaxBandit(means=(1.0, 2.0, 0.5), noise=1.0)
    policy = bandit.make_policy([0.3, -0.2, 0.1])
    probe = GradientProbe(policy, ["reinforce", "rtg-moving-average"], n_estimates=3000, episodes=episodes,
                          seed=seed, problem=bandit, gamma=1.0, fit_episodes=16)
    probe.run()
    stats = probe.results()
    b = probe.baselines[1].average
    assert 0.5 < b < 2.0  # the fitted average reward
    exact_none = bandit_variance(bandit, policy, 0.0, episodes)
    exact_b = bandit_variance(bandit, policy, b, episodes)
    assert exact_b < 0.6 * exact_none  # the baseline matters here, so the test can tell them apart
    assert stats["reinforce"]["variance"] == pytest.approx(exact_none, rel=0.08)
    assert stats["rtg-moving-average"]["variance"] == pytest.approx(exact_b, rel=0.08)


def test_the_probe_reports_the_shared_statistics():
    """Each row of results() is estimate_statistics of that estimator's estimates (tested against
    plain loops in tests/lessons/test_stats.py), plus the label, the episodes and the mean return."""
    bandit = SoftmaxBandit()
    policy = bandit.make_policy([0.2, 0.0, -0.3])
    probe = GradientProbe(policy, ["rtg", "rtg-batch-mean"], n_estimates=12, episodes=3, seed=2, problem=bandit,
                          gamma=1.0)
    probe.run()
    exact = exact_gradient(bandit, policy, 1.0)
    for k, (name, row) in enumerate(probe.results().items()):
        expected = estimate_statistics(probe.estimates[k], exact).as_dict()
        assert list(row) == ["label", *expected, "episodes", "mean_return"]
        for key, value in expected.items():
            np.testing.assert_array_equal(row[key], value, err_msg=f"{name}: {key}")
        assert row["episodes"] == 3 and row["mean_return"] == probe.returns.mean()


@pytest.fixture(scope="module")
def mdp_probe():
    """A random tabular MDP, 500 estimates of 16 episodes each; critics fitted on 64 episodes."""
    mdp = TabularMDP.random(seed=3, horizon=4)
    policy = mdp.make_policy(np.random.default_rng(0).normal(size=(3, 2)))
    names = ["reinforce", "rtg", "rtg-batch-mean", "rtg-value", "gae:1", "gae:0.5", "td0"]
    return gradient_probe(policy, names, n_estimates=500, episodes=16, seed=0, problem=mdp, gamma=1.0)


@pytest.mark.parametrize("name", ["reinforce", "rtg", "rtg-batch-mean", "rtg-value", "gae:1"])
def test_unbiased_estimators_average_to_the_exact_gradient(mdp_probe, name):
    """For an unbiased estimator E||mean - grad J||^2 = variance / n: the measured squared
    error of the mean stays within 4 times that (its 99.9th percentile is about 3 times)."""
    s = mdp_probe[name]
    assert s["bias_sq"] < 4 * s["variance"] / s["n_estimates"], (s["bias_sq"], s["variance"] / s["n_estimates"])
    assert s["cosine_exact"] > 0


def test_lower_lambda_lowers_the_variance_and_the_ladder_holds(mdp_probe):
    """From lambda = 1 to 0.5 to 0 (TD(0)) the variance falls; and each step of the textbook
    ladder (whole return, reward-to-go, a baseline) lowers it too. GAE(1) is rtg-value."""
    assert mdp_probe["td0"]["variance"] < mdp_probe["gae:0.5"]["variance"] < mdp_probe["gae:1"]["variance"]
    ladder = [mdp_probe[n]["variance"] for n in ("reinforce", "rtg", "rtg-batch-mean")]
    assert ladder[0] > ladder[1] > ladder[2] and mdp_probe["rtg-value"]["variance"] < ladder[1]
    assert mdp_probe["gae:1"]["variance"] == pytest.approx(mdp_probe["rtg-value"]["variance"], rel=1e-9)


class TrueValue:
    """The exact V_t(s) of a tabular MDP under a policy (backward recursion over the horizon),
    or any table ``V`` (H, S) given: a critic that reads the one-hot state and the time."""

    def __init__(self, mdp, policy, gamma=1.0, V=None):
        if V is None:
            pi = policy.probs(np.eye(mdp.n_states))
            V = np.zeros((mdp.horizon + 1, mdp.n_states))
            for t in range(mdp.horizon - 1, -1, -1):
                q = mdp.rewards + gamma * mdp.transitions[:, :, : mdp.n_states] @ V[t + 1]
                V[t] = (pi * q).sum(axis=1)
        self.V = V

    def values(self, batch, G):
        T = len(batch.alive)
        states = batch.obs.argmax(axis=2)
        return np.where(batch.alive, self.V[np.arange(T)[:, None], states], 0.0)


@pytest.fixture(scope="module")
def exact_setup():
    mdp = TabularMDP.random(seed=3, horizon=4)
    policy = mdp.make_policy(np.random.default_rng(0).normal(size=(3, 2)))
    true = TrueValue(mdp, policy)
    wrong = TrueValue(mdp, policy, V=true.V + np.random.default_rng(1).normal(0.0, 1.0, true.V.shape))
    return mdp, policy, exact_gradient(mdp, policy, 1.0), true, wrong


def test_true_value_is_the_expected_return_to_go(exact_setup):
    mdp, policy, _, true, _ = exact_setup
    assert mdp.start @ true.V[0] == pytest.approx(exact_objective(mdp, policy, 1.0), rel=1e-12)


@pytest.mark.parametrize("name", ["gae:1", "gae:0.7", "gae:0.3", "td0"])
def test_with_the_true_value_every_lambda_is_unbiased_exactly(exact_setup, name):
    mdp, policy, grad, true, _ = exact_setup
    np.testing.assert_allclose(expected_estimate(mdp, policy, name, true), grad, atol=1e-12)


def test_with_a_wrong_critic_only_lambda_one_stays_unbiased_and_bias_grows_as_lambda_falls(exact_setup):
    """Exact expectations (every trajectory enumerated) with a critic off by N(0, 1) noise:
    GAE(1) and the "returns" estimators are unbiased whatever the critic; the bias of
    GAE(lambda) grows as lambda goes from 1 to 0 (TD(0))."""
    mdp, policy, grad, _, wrong = exact_setup
    np.testing.assert_allclose(expected_estimate(mdp, policy, "gae:1", wrong), grad, atol=1e-12)
    np.testing.assert_allclose(expected_estimate(mdp, policy, "rtg-value", wrong), grad, atol=1e-12)
    np.testing.assert_allclose(expected_estimate(mdp, policy, "reinforce", NoBaseline()), grad, atol=1e-12)
    bias = [float(np.sum((expected_estimate(mdp, policy, f"gae:{lam}", wrong) - grad) ** 2))
            for lam in (1.0, 0.75, 0.5, 0.25, 0.0)]
    assert bias[0] < 1e-24 and all(a < b for a, b in zip(bias, bias[1:])), bias
    assert bias[-1] > 0.01 * float(grad @ grad)
    with pytest.raises(ValueError, match="other episodes"):
        expected_estimate(mdp, policy, "rtg-batch-mean", BatchMean())


def test_probe_is_deterministic_and_chunking_changes_nothing():
    bandit = SoftmaxBandit()
    policy = bandit.make_policy([0.2, 0.0, -0.3])
    kwargs = {"n_estimates": 40, "episodes": 3, "problem": bandit, "gamma": 1.0}
    a = gradient_probe(policy, ["rtg-batch-mean", "rtg-value"], seed=4, **kwargs)
    probe = GradientProbe(policy, ["rtg-batch-mean", "rtg-value"], seed=4, **kwargs)
    while not probe.run(seconds=0.0):  # one step per call
        pass
    b = probe.results()
    c = gradient_probe(policy, ["rtg-batch-mean", "rtg-value"], seed=5, **kwargs)
    for name in a:
        np.testing.assert_array_equal(a[name]["mean"], b[name]["mean"])
        assert a[name]["variance"] == b[name]["variance"]
        assert a[name]["variance"] != c[name]["variance"]


@pytest.fixture(scope="module")
def cartpole_probe():
    policy = make_policy("linear", seed=0, init_scale=0.5)
    probe = GradientProbe(policy, ["reinforce", "rtg-moving-average", "rtg-value", "td0", "gae:0.9"],
                          n_estimates=6, episodes=4, seed=1, max_steps=200, fit_episodes=16, value_model="mlp")
    critic_before = probe.baselines[3].model.params.copy()
    probe.run()
    return probe, critic_before


def test_probe_on_cartpole_fits_the_critics_then_holds_them(cartpole_probe):
    probe, critic_before = cartpole_probe
    stats = probe.results()
    assert list(stats) == ["reinforce", "rtg-moving-average", "rtg-value", "td0", "gae:0.9"]
    np.testing.assert_array_equal(probe.baselines[3].model.params, critic_before)  # held fixed while probing
    assert probe.baselines[1].average > 0  # the moving average was fitted first
    for s in stats.values():
        assert s["mean"].shape == (probe.policy.params.size,) and s["n_estimates"] == 6
        assert np.isfinite([s["variance"], s["relative_variance"], s["cosine_mean"], s["cosine_std"]]).all()
        assert -1 <= s["cosine_mean"] <= 1 and "bias_sq" not in s
    assert stats["reinforce"]["variance"] > stats["td0"]["variance"]
    assert probe.returns.shape == (6, 4) and (probe.returns >= 1).all()


def test_probe_refuses_bad_sizes_and_needs_two_estimates():
    policy = make_policy("linear", seed=0)
    with pytest.raises(ValueError, match=r"n_estimates must be an integer in \[2, 100000\], got 1"):
        GradientProbe(policy, ["rtg"], n_estimates=1)
    with pytest.raises(ValueError, match=r"episodes must be an integer in \[1, 4096\], got 0"):
        GradientProbe(policy, ["rtg"], episodes=0)
    probe = GradientProbe(policy, [parse_estimator("rtg")], n_estimates=3, episodes=2, max_steps=50)
    with pytest.raises(ValueError, match="at least 2 estimates, has 0"):
        probe.results()
