"""pg.viz.policy_grid: the grid is the policy evaluated at the cell centres, the boundary is P = 0.5,
the weights are W[:, right] - W[:, left]."""

import math

import numpy as np
import pytest

from pg.algo.policies import LinearSoftmax, make_policy
from pg.viz.policy_grid import (
    THETA_LIMIT_DEG,
    THETA_RANGE_DEG,
    decision_boundary,
    linear_weights,
    policy_grid,
    theta_dot_range,
)


def _obs(x, x_dot, theta_deg, theta_dot):
    theta_deg = np.asarray(theta_deg, float)
    return np.stack(
        [np.full_like(theta_deg, x), np.full_like(theta_deg, x_dot), np.radians(theta_deg), theta_dot], axis=-1
    )


def _linear(w, bias=0.0):
    """A linear policy whose weights toward push right are w (4,) and bias."""
    W = np.zeros((4, 2))
    W[:, 1] = w
    return LinearSoftmax(params=np.concatenate([W.ravel(), [0.0, bias]]))


POLICIES = {
    "linear-random": make_policy("linear", seed=1, init_scale=3.0),
    "linear-trained-like": _linear([0.8, 0.2, 7.0, 5.4], 0.01),
    "mlp": make_policy("mlp", hidden=(16,), seed=3, init_scale=3.0),
    "mlp-deep": make_policy("mlp", hidden=(8, 8), seed=5, init_scale=4.0),
}


# --- the grid ---------------------------------------------------------------------------------
@pytest.mark.parametrize("name", POLICIES)
def test_grid_values_are_the_policy_at_the_cell_centres(name):
    policy = POLICIES[name]
    grid = policy_grid(policy, x=0.4, x_dot=-0.3, theta_range=(-12, 12), theta_dot_range=(-2, 1), resolution=(7, 5))
    assert len(grid["p_right"]) == 35
    expected = policy.probs(_obs(0.4, -0.3, grid["theta"], grid["theta_dot"]))[:, 1]
    np.testing.assert_allclose(grid["p_right"], expected, rtol=0, atol=1e-15)
    # the centres sit midway between the edges, and the edges tile the ranges
    np.testing.assert_allclose(grid["theta"], (grid["theta_lo"] + grid["theta_hi"]) / 2)
    np.testing.assert_allclose(grid["theta_dot"], (grid["theta_dot_lo"] + grid["theta_dot_hi"]) / 2)
    assert grid["theta_lo"].min() == -12 and grid["theta_hi"].max() == 12
    assert grid["theta_dot_lo"].min() == -2 and grid["theta_dot_hi"].max() == 1
    np.testing.assert_allclose(grid["theta_hi"] - grid["theta_lo"], 24 / 7)
    np.testing.assert_allclose(grid["theta_dot_hi"] - grid["theta_dot_lo"], 3 / 5)
    assert len({(a, b) for a, b in zip(grid["theta"], grid["theta_dot"])}) == 35  # every cell once


def test_grid_is_in_degrees_for_display_and_radians_for_the_policy():
    # a policy that only looks at theta: P(right) = sigmoid(theta in rad)
    policy = _linear([0, 0, 1.0, 0])
    grid = policy_grid(policy, resolution=3, theta_range=(-12, 12), theta_dot_range=(-1, 1))
    row = grid["theta"] == grid["theta"].max()
    assert grid["theta"].max() == pytest.approx(8.0)  # degrees
    np.testing.assert_allclose(grid["p_right"][row], 1 / (1 + math.exp(-math.radians(8.0))))


def test_grid_default_spans_the_termination_angle():
    grid = policy_grid(make_policy("linear", seed=0), resolution=4)
    assert THETA_RANGE_DEG == (-THETA_LIMIT_DEG, THETA_LIMIT_DEG)
    assert THETA_LIMIT_DEG == pytest.approx(12.0)
    assert grid["theta_lo"].min() == pytest.approx(-12) and grid["theta_hi"].max() == pytest.approx(12)


@pytest.mark.parametrize("bad", [dict(theta_range=(1, 1)), dict(theta_dot_range=(0, np.nan)), dict(resolution=1)])
def test_grid_refuses_bad_arguments(bad):
    with pytest.raises(ValueError):
        policy_grid(make_policy("linear", seed=0), **bad)


# --- the decision boundary ----------------------------------------------------------------------
@pytest.mark.parametrize("name", POLICIES)
@pytest.mark.parametrize("x, x_dot", [(0.0, 0.0), (1.2, -0.7)])
def test_boundary_points_have_p_one_half(name, x, x_dot):
    policy = POLICIES[name]
    boundary = decision_boundary(policy, x, x_dot, (-12, 12), (-1.5, 1.5), 41)
    grid = policy_grid(policy, x, x_dot, (-12, 12), (-1.5, 1.5), 41)
    if grid["p_right"].min() < 0.5 < grid["p_right"].max():
        assert len(boundary["theta"]) >= 2, "P crosses 0.5 on the grid, so there is a boundary"
    else:
        assert len(boundary["theta"]) == 0 or name.startswith("linear")
    for column in boundary.values():
        assert np.all(np.isfinite(column))
    p = policy.probs(_obs(x, x_dot, boundary["theta"], boundary["theta_dot"]))[:, 1]
    np.testing.assert_allclose(p, 0.5, rtol=0, atol=1e-6)
    # inside the box
    assert np.all(np.abs(boundary["theta"]) <= 12 + 1e-9)
    assert np.all(np.abs(boundary["theta_dot"]) <= 1.5 + 1e-9)


def test_linear_boundary_is_the_exact_line_clipped_to_the_box():
    # margin = 7 theta_rad + 5 theta_dot + 0.5 * 0.3: a line crossing the whole theta range
    policy = _linear([0.5, 0, 7.0, 5.0])
    boundary = decision_boundary(policy, 0.3, 0.0, (-12, 12), (-1, 1), 61)
    assert list(boundary["segment"]) == [0, 0] and list(boundary["order"]) == [0, 1]
    np.testing.assert_allclose(boundary["theta"], [-12, 12])
    np.testing.assert_allclose(boundary["theta_dot"], -(0.15 + 7 * np.radians([-12, 12])) / 5)


def test_linear_boundary_is_clipped_where_it_leaves_the_box():
    policy = _linear([0, 0, 100.0, 1.0])  # nearly vertical: theta_rad = -theta_dot / 100
    boundary = decision_boundary(policy, 0, 0, (-12, 12), (-1, 1), 61)
    np.testing.assert_allclose(sorted(boundary["theta_dot"]), [-1, 1])
    np.testing.assert_allclose(sorted(boundary["theta"]), np.degrees([-0.01, 0.01]))


@pytest.mark.parametrize("w", [[0, 0, 0, 0], [0, 0, 1e-3, 0], [0, 0, 0, 1e-3]])
def test_boundary_is_empty_when_the_policy_never_crosses_one_half(w):
    policy = _linear(w, bias=2.0)  # P(right) ~ 0.88 everywhere in the box
    boundary = decision_boundary(policy, 0, 0, (-12, 12), (-1, 1), 21)
    assert all(len(column) == 0 for column in boundary.values())
    mlp = make_policy("mlp", hidden=(4,), seed=0, init_scale=0.0)  # exactly 0.5 nowhere crossed
    assert len(decision_boundary(mlp, 0, 0, (-12, 12), (-1, 1), 11)["theta"]) == 0


def test_traced_boundary_can_have_several_segments_and_matches_the_exact_line():
    # a ring: P(right) > 0.5 outside an ellipse, traced as one closed loop
    class Ring:
        kind, n_actions = "ring", 2

        def logits(self, obs):
            r = (np.degrees(obs[..., 2]) / 6) ** 2 + (obs[..., 3] / 0.5) ** 2 - 1
            return np.stack([np.zeros_like(r), r], axis=-1)

        def probs(self, obs):
            z = self.logits(obs)
            return np.exp(z) / np.exp(z).sum(-1, keepdims=True)

    ring = decision_boundary(Ring(), 0, 0, (-12, 12), (-1, 1), 40)
    assert set(ring["segment"]) == {0}
    first, last = np.argmin(ring["order"]), np.argmax(ring["order"])
    assert (ring["theta"][first], ring["theta_dot"][first]) == (ring["theta"][last], ring["theta_dot"][last])
    np.testing.assert_allclose((ring["theta"] / 6) ** 2 + (ring["theta_dot"] / 0.5) ** 2, 1, atol=1e-9)

    # two parallel lines (|theta| = 6 degrees): two open segments
    class Band(Ring):
        def logits(self, obs):
            r = np.abs(np.degrees(obs[..., 2])) - 6
            return np.stack([np.zeros_like(r), r], axis=-1)

    band = decision_boundary(Band(), 0, 0, (-12, 12), (-1, 1), 40)
    assert set(band["segment"]) == {0, 1}
    np.testing.assert_allclose(np.abs(band["theta"]), 6, atol=1e-9)
    for segment in (0, 1):
        ordered = band["theta_dot"][band["segment"] == segment][np.argsort(band["order"][band["segment"] == segment])]
        assert np.all(np.diff(ordered) > 0) or np.all(np.diff(ordered) < 0), "points run along the line"


# --- the theta_dot range --------------------------------------------------------------------------
def test_theta_dot_range_is_symmetric_robust_and_has_a_default():
    assert theta_dot_range(None) == theta_dot_range(np.zeros((0, 4))) == (-1.5, 1.5)
    states = np.zeros((1000, 4))
    states[:, 3] = np.linspace(-0.4, 0.4, 1000)
    states[0, 3] = 40.0  # one wild state does not stretch the axis
    low, high = theta_dot_range(states)
    assert low == -high
    assert 0.4 < high <= 0.75 and high % 0.25 == 0
    assert theta_dot_range(np.full((10, 4), 1e-6)) == (-0.5, 0.5)  # never thinner than +-0.5
    assert theta_dot_range(np.full((10, 4), 100.0)) == (-5.0, 5.0)  # never wider than +-5


# --- the weights ----------------------------------------------------------------------------
def test_weights_are_the_difference_of_the_action_columns():
    policy = make_policy("linear", seed=2, init_scale=1.0)
    policy.params[-2:] = [0.3, -0.2]
    W = policy.params[:8].reshape(4, 2)
    table = linear_weights(policy)
    assert list(table["feature"]) == ["x", "x_dot", "theta", "theta_dot", "bias"]
    assert list(table["unit"]) == ["m", "m/s", "rad", "rad/s", ""]
    np.testing.assert_array_equal(table["weight"][:4], W[:, 1] - W[:, 0])
    assert table["weight"][4] == -0.2 - 0.3
    # and they are what the policy computes: logit(P(right)) = s . w + c
    obs = np.random.default_rng(0).normal(size=(5, 4))
    p = policy.probs(obs)[:, 1]
    np.testing.assert_allclose(np.log(p / (1 - p)), obs @ table["weight"][:4] + table["weight"][4])


def test_weights_refuse_an_mlp():
    with pytest.raises(ValueError, match="linear"):
        linear_weights(make_policy("mlp", hidden=(4,), seed=0))
