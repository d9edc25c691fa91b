"""pg.lessons.baseline_curve: the exact variance as a quadratic in b, its minimiser b* (formula,
vertex and grid search agree), and Monte-Carlo points on the curve within their errors."""

import numpy as np
import pytest

from pg.algo.reinforce import reinforce_gradient
from pg.lessons import derivation as d
from pg.lessons.baseline_curve import RETURNS, ConstantBaseline, episode_estimates, measured_points, variance_curve
from pg.lessons.stats import estimate_statistics

Z = 4.5
CASES = [("tiny_cartpole", (0.5, 0.0, -0.5)), ("tiny_cartpole", (1.5, -1.0, 0.5)), ("bandit", (0.3, -0.2, 0.5))]


@pytest.mark.parametrize("problem,theta", CASES)
@pytest.mark.parametrize("returns", RETURNS)
def test_exact_variance_is_the_variance_of_the_enumerated_estimates(problem, theta, returns):
    """Independent route: every trajectory's estimate, weighted by its probability (noise-free
    problem only, where an enumerated trajectory has one estimate)."""
    setup = d.make_setup(problem, theta)
    if setup.problem.noise:
        pytest.skip("rewards are noisy: covered by the Monte-Carlo test")
    traj = setup.problem.trajectories(setup.policy)
    for b in (-1.0, 0.0, 2.5):
        g = episode_estimates(setup, traj.batch, b, returns)
        mean = traj.prob @ g
        assert traj.prob @ ((g - mean) ** 2).sum(axis=1) == pytest.approx(variance_curve(setup, returns).variance(b),
                                                                            rel=1e-12)


@pytest.mark.parametrize("problem,theta", CASES)
@pytest.mark.parametrize("returns", RETURNS)
def test_b_star_is_the_vertex_and_the_grid_minimum(problem, theta, returns):
    curve = variance_curve(d.make_setup(problem, theta), returns)
    grid = np.arange(-10, 10, 1e-3)
    assert abs(grid[np.argmin(curve.variance(grid))] - curve.b_star) <= 1e-3
    assert curve.at_b_star <= min(curve.at_zero, curve.at_mean_return)
    if returns == "episode":
        assert curve.b_star_formula == pytest.approx(curve.b_star, rel=1e-10)


def test_the_mean_return_is_close_to_not_at_the_best_constant():
    curve = variance_curve(d.make_setup("tiny_cartpole", (0.5, 0.0, -0.5)))
    assert curve.at_b_star < curve.at_mean_return < 0.25 * curve.at_zero
    assert abs(curve.b_star - curve.mean_return) > 0.1


@pytest.mark.parametrize("problem,theta", CASES)
@pytest.mark.parametrize("returns", RETURNS)
def test_measured_points_lie_on_the_exact_curve(problem, theta, returns):
    setup = d.make_setup(problem, theta)
    points = measured_points(setup, np.linspace(-2, 6, 5), seed=7, episodes=6000, returns=returns)
    exact = variance_curve(setup, returns).variance(points.b)
    assert (np.abs(points.variance - exact) < Z * points.se).all()


def test_episode_estimates_are_reinforce_gradient_with_a_constant_baseline():
    setup = d.make_setup("tiny_cartpole", (1.0, 0.0, -0.5))
    batch = setup.problem.sample(setup.policy, 6, np.random.default_rng(0))
    for returns in RETURNS:
        ours = episode_estimates(setup, batch, 1.5, returns)
        for n in range(6):
            grad = reinforce_gradient(setup.policy, d._columns(batch, n, n + 1), d.GAMMA, ConstantBaseline(1.5), returns)[0]
            np.testing.assert_allclose(ours[n], setup.d_theta(grad), atol=1e-12)


def test_the_n_episode_variance_is_var_over_n():
    setup = d.make_setup("bandit", (0.3, -0.2, 0.5))
    batches = d.sample_batches(setup.problem, setup.policy, 3000, 4, 1)
    g = np.array([setup.d_theta(reinforce_gradient(setup.policy, b, d.GAMMA, ConstantBaseline(0.0), "episode")[0])
                  for b in batches])
    spread = ((g - g.mean(axis=0)) ** 2).sum(axis=1) * len(g) / (len(g) - 1)
    assert spread.mean() == pytest.approx(estimate_statistics(g).variance, rel=1e-10)
    se = spread.std(ddof=1) / np.sqrt(len(g))
    assert abs(spread.mean() - variance_curve(setup).variance(0.0, episodes=4)) < Z * se


def test_the_landmarks_are_b_star_and_the_mean_return_by_label():
    from pg.lessons.baseline_curve import variance_curve
    from pg.lessons.derivation import make_setup

    curve = variance_curve(make_setup("tiny_cartpole", (0.5, 0.0, -0.5)), "episode")
    assert curve.landmarks() == {f"b* = {curve.b_star:.2f}": curve.b_star, f"J = {curve.mean_return:.2f}": curve.mean_return}
    assert list(curve.landmarks()) == ["b* = 3.38", "J = 2.54"]


def test_measured_points_are_the_variance_of_episode_estimates_at_each_b():
    setup = d.make_setup("tiny_cartpole", (0.5, 0.0, -0.5))
    pts = measured_points(setup, [-2.0, 1.0], 3, episodes=300)
    batch = setup.problem.sample(setup.policy, 300, np.random.default_rng(3))
    for b, var in zip(pts.b, pts.variance, strict=True):
        g = episode_estimates(setup, batch, b)
        assert var == pytest.approx(((g - g.mean(axis=0)) ** 2).sum(axis=1).mean() * 300 / 299, rel=1e-12)
