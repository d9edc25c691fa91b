"""pg.lessons.reference: the reference gradient estimates the right expectation (checked exactly
on the tabular MDP), and the cosines to it see a bias that the cosine to an estimator's own mean
cannot."""

from types import SimpleNamespace

import numpy as np
import pytest

from pg.algo.baselines import NoBaseline, make_baseline
from pg.algo.estimators import parse_estimator
from pg.algo.reinforce import TrainConfig, initial_policy
from pg.lessons.reference import (
    BEYOND_NOISE,
    ReferenceGradient,
    direction_check,
    reference_cosines,
    reference_from_probe,
    reference_gradient,
    reference_probe,
    relative_variance,
    relative_variance_se,
)
from pg.lessons.stats import cosines, estimate_statistics
from pg.lessons.theory import TabularMDP, exact_gradient
from pg.lessons.variance import GradientProbe, expected_estimate

Z = 4.5


@pytest.fixture(scope="module")
def mdp():
    problem = TabularMDP.random(n_states=3, n_actions=2, horizon=4, seed=3, noise=0.5)
    return problem, problem.make_policy(np.random.default_rng(1).normal(size=(3, 2)))


@pytest.mark.parametrize("gamma", (1.0, 0.9))
def test_reference_estimates_training_s_expectation_exactly(mdp, gamma):
    problem, policy = mdp
    ref = reference_gradient(policy, episodes=8192, seed=0, gamma=gamma, problem=problem)
    target = expected_estimate(problem, policy, "rtg", NoBaseline(), gamma)
    assert (np.abs(ref.mean - target) < Z * ref.standard_error + 1e-12).all()
    assert ref.episodes == 8192 and ref.relative_noise < 0.2
    if gamma == 1.0:
        np.testing.assert_allclose(target, exact_gradient(problem, policy, 1.0), atol=1e-12)


def test_whole_return_reference_is_grad_J_gamma(mdp):
    """At gamma < 1 the whole return carries the gamma^t factor: its reference is grad J_gamma,
    which differs from training's target by more than the noise."""
    problem, policy = mdp
    ref = reference_gradient(policy, episodes=16384, seed=1, gamma=0.5, problem=problem, estimator="reinforce")
    exact = exact_gradient(problem, policy, 0.5)
    assert (np.abs(ref.mean - exact) < Z * ref.standard_error + 1e-12).all()
    training = expected_estimate(problem, policy, "rtg", NoBaseline(), 0.5)
    assert np.linalg.norm(training - exact) > 5 * ref.noise


def test_reference_in_steps_is_the_reference_at_once(mdp):
    problem, policy = mdp
    probe = reference_probe(policy, 512, seed=4, gamma=0.9, problem=problem)
    while not probe.done:
        probe.step()
    at_once = reference_gradient(policy, 512, seed=4, gamma=0.9, problem=problem)
    np.testing.assert_array_equal(reference_from_probe(probe).mean, at_once.mean)


def test_unbiased_estimators_point_at_the_reference(mdp):
    problem, policy = mdp
    ref = reference_gradient(policy, episodes=8192, seed=0, gamma=0.9, problem=problem)
    probe = GradientProbe(policy, ["rtg", "rtg-batch-mean"], n_estimates=200, episodes=16, seed=1,
                          problem=problem, gamma=0.9)
    probe.run()
    rows = reference_cosines(probe, ref)
    for name in ("rtg", "rtg-batch-mean"):
        assert rows[name]["cosine_mean_reference"] > 0.99
        assert rows[name]["n_estimates"] == 200 and rows[name]["cosine_reference_se"] > 0


def test_cosine_to_the_reference_sees_a_bias_that_the_cosine_to_the_own_mean_cannot():
    """A biased estimator, 60 degrees off the truth with little noise, agrees with itself."""
    truth = np.array([1.0, 0.0, 0.0])
    biased = np.array([0.5, np.sqrt(3) / 2, 0.0])
    estimates = biased + np.random.default_rng(0).normal(0, 0.05, size=(100, 3))
    probe = SimpleNamespace(n=100, specs=[parse_estimator("td0")], estimates=estimates[None])
    ref = ReferenceGradient(truth, np.full(3, 0.01), 0.01, 4096, 0.0)
    row = reference_cosines(probe, ref)["td0"]
    assert estimate_statistics(estimates).cosine_mean > 0.99  # what the Compare page plotted
    assert row["cosine_reference"] == pytest.approx(0.5, abs=0.05)
    assert row["cosine_mean_reference"] == pytest.approx(0.5, abs=0.02)


def test_relative_variance():
    estimates = np.array([[1.0, 0.0], [3.0, 0.0], [2.0, 1.0], [2.0, -1.0]])
    assert relative_variance(estimates) == pytest.approx((2 / 3 + 2 / 3) / 4)
    assert relative_variance(estimates, np.array([0.0, 1.0])) == pytest.approx(4 / 3)
    assert relative_variance(np.zeros((3, 2))) == float("inf")
    # ||g_i - mean||^2 = 1, 1, 1, 1 (mean (2, 0)): every term alike, so no spread
    assert relative_variance_se(estimates) == 0.0
    skewed = np.vstack([[0.0, 0.0], estimates[1:]])
    mean = skewed.mean(axis=0)
    loop = [sum((g - mean) ** 2) * 4 / 3 for g in skewed]  # the terms the variance (ddof 1) averages
    mean_sq = float(mean @ mean)
    assert relative_variance_se(skewed) == pytest.approx(np.std(loop, ddof=1) / 2 / mean_sq)
    assert np.mean(loop) / mean_sq == pytest.approx(relative_variance(skewed))


def test_reference_on_cartpole_is_cheap_and_sure_at_the_untrained_policy():
    ref = reference_gradient(initial_policy(TrainConfig()), episodes=512, seed=0)
    assert ref.relative_noise < 0.25 and ref.norm > 0


def test_td0_with_an_untrained_critic_points_further_from_the_reference_than_reward_to_go(mdp):
    """V = 0 makes TD(0)'s advantage the immediate reward alone: a bias known exactly
    (expected_estimate). With batches large enough for the noise to be small, its cosine to the
    reference is lower than reward-to-go's, the mean estimate's cosine is the exact one, and the
    direction check calls it a bias, while the cosine to its own mean (what the page plotted
    before) is as high as reward-to-go's. (With small batches, one batch's cosine mixes noise
    and bias; the mean's cosine is the one that isolates the bias.)"""
    problem, policy = mdp
    gamma = 0.9
    ref = reference_gradient(policy, episodes=8192, seed=0, gamma=gamma, problem=problem)
    probe = GradientProbe(policy, ["rtg", "td0"], n_estimates=16, episodes=256, seed=2, problem=problem, gamma=gamma)
    untrained = make_baseline("value", problem.obs_dim, problem.horizon, "linear")
    probe.baselines[1] = untrained  # the probe fitted a critic: put an untrained one (V = 0) back
    probe.run()
    rows = reference_cosines(probe, ref)
    rtg, td0 = rows["rtg"], rows["td0"]
    biased = expected_estimate(problem, policy, "td0", untrained, gamma)
    exact_cos = float(cosines(biased[None], exact_gradient(problem, policy, gamma))[0])
    assert exact_cos < 0.9  # the bias is large on this problem
    assert td0["cosine_reference"] + 3 * td0["cosine_reference_se"] < rtg["cosine_reference"] - 3 * rtg["cosine_reference_se"]
    assert td0["cosine_mean_reference"] == pytest.approx(exact_cos, abs=0.05)
    assert td0["beyond_noise"] and not rtg["beyond_noise"]
    own = probe.results()
    assert own["td0"]["cosine_mean"] > own["rtg"]["cosine_mean"] - 0.05  # blind to the bias
    assert own["td0"]["cosine_mean"] > 0.95 and td0["cosine_reference"] < 0.9


def test_direction_check_angles():
    ref = ReferenceGradient(np.array([1.0, 0.0, 0.0]), np.zeros(3), 0.1, 4096, 0.0)  # relative noise 0.1
    on = np.array([[2.0, 0.1, 0.0], [2.0, -0.1, 0.0]])  # mean (2, 0, 0): on the reference
    check = direction_check(on, ref)
    own = np.arctan(np.sqrt(0.02 / 2) / 2.0)  # variance 0.02 over M = 2, over ||mean|| = 2
    assert check.angle == pytest.approx(0.0, abs=1e-6)
    assert check.noise_angle == pytest.approx(np.degrees(np.hypot(own, np.arctan(0.1))))
    assert not check.beyond_noise and check.threshold_cosine == pytest.approx(np.cos(np.radians(3 * check.noise_angle)))
    off = direction_check(on[:, [1, 0, 2]] + np.array([1.0, 0.0, 0.0]), ref)  # mean (1, 2, 0): 63° off
    assert off.angle == pytest.approx(np.degrees(np.arctan(2.0))) and off.beyond_noise
    assert off.angle > BEYOND_NOISE * off.noise_angle
    noisy = direction_check(np.array([[1.0, 5.0, 0.0], [1.0, -5.0, 0.0]]), ref)  # noise swamps the direction
    assert noisy.threshold_cosine == -1.0 and not noisy.beyond_noise
