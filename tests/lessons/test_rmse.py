"""pg.lessons.rmse: RMSE * sqrt(N) is exact and constant; the measured RMSE agrees with it; the
slope's bootstrap interval contains -0.5 at the page's defaults."""

import numpy as np
import pytest

from pg.lessons import derivation as d
from pg.lessons.rmse import rmse_study

DEFAULT = ("tiny_cartpole", (0.5, 0.0, -0.5))  # the page's problem and theta


@pytest.fixture(scope="module")
def study():
    return rmse_study(d.make_setup(*DEFAULT), d.stream(0, "convergence"))


def test_exact_rmse_times_sqrt_n_is_constant(study):
    np.testing.assert_allclose(study.rmse_exact * np.sqrt(study.n), study.rmse_sqrt_n, rtol=1e-12)


def test_exact_trace_cov_is_the_variance_of_the_enumerated_estimates():
    setup = d.make_setup(*DEFAULT)
    traj = setup.problem.trajectories(setup.policy)
    g = d.episode_estimates(setup, traj.batch)  # noise-free problem: one estimate per trajectory
    mean = traj.prob @ g
    np.testing.assert_allclose(mean, setup.exact_grad, atol=1e-12)
    trace_cov = traj.prob @ ((g - mean) ** 2).sum(axis=1)
    assert rmse_study(setup, 0, repeats=4, bootstraps=10).rmse_sqrt_n == pytest.approx(np.sqrt(trace_cov), rel=1e-12)


def test_measured_rmse_agrees_with_exact(study):
    # each RMSE^2 averages `repeats` squared errors: allow a generous 40% on the RMSE at 40 repeats
    np.testing.assert_allclose(study.measured, study.rmse_exact, rtol=0.4)
    assert np.mean(study.measured / study.rmse_exact) == pytest.approx(1.0, abs=0.15)


def test_slope_interval_contains_minus_one_half_at_the_page_defaults(study):
    assert study.slope_low < study.slope < study.slope_high
    assert study.interval_contains_theory
    assert study.slope_high - study.slope_low < 0.2  # an interval that could miss


def test_the_interval_can_miss():
    """A biased 'gradient' (the exact one shifted) makes the error stop shrinking: the slope's
    interval then excludes -0.5, so the check is not true by construction."""
    setup = d.make_setup(*DEFAULT)
    shifted = d.Setup(setup.name, setup.problem, setup.theta, setup.theta_index, setup.theta_labels,
                      setup.state_names, setup.action_names)
    shifted.__dict__["exact_grad"] = setup.exact_grad + 0.2  # cached_property, overridden
    assert not rmse_study(shifted, d.stream(0, "convergence")).interval_contains_theory


def test_rmse_study_is_deterministic_and_checks_input():
    setup = d.make_setup("bandit", (0.3, -0.2, 0.5))
    a, b = rmse_study(setup, 5, ns=(1, 4, 16), repeats=10), rmse_study(setup, 5, ns=(1, 4, 16), repeats=10)
    assert (a.slope, a.slope_low) == (b.slope, b.slope_low)
    with pytest.raises(ValueError, match="repeats"):
        rmse_study(setup, 0, repeats=1)
