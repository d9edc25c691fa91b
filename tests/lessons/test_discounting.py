"""pg.lessons.discounting: grad J_gamma, the unbiased gamma^t estimator and training's biased one,
each against exact values on pg.lessons.theory's enumerable problems."""

import numpy as np
import pytest

from pg.algo.baselines import NoBaseline
from pg.lessons import derivation as d
from pg.lessons.discounting import discounting_check, discounting_table, expected_discounted_estimate
from pg.lessons.theory import TabularMDP, exact_gradient, exact_objective, finite_difference_gradient
from pg.lessons.variance import expected_estimate

GAMMAS = (1.0, 0.99, 0.9, 0.5)


@pytest.fixture(scope="module")
def mdp():
    problem = TabularMDP.random(n_states=3, n_actions=2, horizon=4, seed=3, noise=0.5)
    return problem, problem.make_policy(np.random.default_rng(1).normal(size=(3, 2)))


@pytest.mark.parametrize("gamma", GAMMAS)
def test_exact_gradient_is_the_gradient_of_the_discounted_objective(mdp, gamma):
    problem, policy = mdp
    np.testing.assert_allclose(exact_gradient(problem, policy, gamma),
                               finite_difference_gradient(problem, policy, gamma), atol=1e-8)


@pytest.mark.parametrize("gamma", GAMMAS)
def test_the_gamma_t_estimator_is_unbiased_for_grad_J_gamma(mdp, gamma):
    problem, policy = mdp
    np.testing.assert_allclose(expected_discounted_estimate(problem, policy, gamma, factor=True),
                               exact_gradient(problem, policy, gamma), atol=1e-10)


@pytest.mark.parametrize("gamma", (0.99, 0.9, 0.5))
def test_training_drops_gamma_t_and_is_biased(mdp, gamma):
    problem, policy = mdp
    without = expected_discounted_estimate(problem, policy, gamma, factor=False)
    # the same expectation as training's own estimator code (pg.algo.estimators via expected_estimate)
    np.testing.assert_allclose(without, expected_estimate(problem, policy, "rtg", NoBaseline(), gamma), atol=1e-12)
    bias = np.linalg.norm(without - exact_gradient(problem, policy, gamma))
    assert bias > 1e-3 * np.linalg.norm(exact_gradient(problem, policy, gamma))


def test_gamma_one_makes_the_two_estimators_equal(mdp):
    problem, policy = mdp
    np.testing.assert_allclose(expected_discounted_estimate(problem, policy, 1.0, factor=False),
                               expected_discounted_estimate(problem, policy, 1.0, factor=True), atol=1e-12)


def test_discounting_check_on_the_page_problem():
    setup = d.make_setup("tiny_cartpole", (0.5, 0.0, -0.5))
    table = discounting_table(setup, GAMMAS)
    assert [c.gamma for c in table] == list(GAMMAS)
    for c in table:
        assert c.with_factor_error < 1e-10
        J = lambda th: exact_objective(setup.problem, setup.policy_at(th), c.gamma)  # noqa: B023, E731
        np.testing.assert_allclose(c.exact, d._central_difference(J, setup.theta, 1e-6), atol=1e-7)
    assert table[0].bias < 1e-12  # gamma = 1
    biases = [c.bias for c in table[1:]]
    assert biases == sorted(biases) and biases[0] > 1e-3  # more discounting, more bias
    assert 1.0 < table[1].length_ratio < 1.01 and table[1].cosine > 0.999  # here: mostly a longer step


def test_discounting_check_direction_bias_where_the_problem_is_asymmetric():
    c = discounting_check(d.make_setup("tiny_cartpole", (-1.0, 0.5, 1.0)), 0.5)
    assert c.angle_degrees > 1.0 and c.relative_bias > 0.3


def test_discounting_check_rejects_bad_gamma():
    with pytest.raises(ValueError, match="gamma"):
        discounting_check(d.make_setup("bandit", (0, 0, 0)), 1.5)


@pytest.mark.parametrize("problem", ("tiny_cartpole", "bandit"))
def test_the_table_computes_the_theorems_gradient_as_exact_gradient_does(problem):
    setup = d.make_setup(problem, (1.0, -0.5, 0.3))
    for row, gamma in zip(discounting_table(setup), GAMMAS):
        np.testing.assert_allclose(row.exact, setup.d_theta(exact_gradient(setup.problem, setup.policy, gamma)),
                                   rtol=1e-12, atol=1e-15)
        assert row.bias == pytest.approx(discounting_check(setup, gamma).bias, rel=1e-9, abs=1e-15)
