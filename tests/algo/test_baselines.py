"""Value functions (pg.algo.baselines.LinearValue / MLPValue) and the MLP in pg.algo.nn, against finite
differences, least squares and plain-loop forward passes."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import central_fd, rel_err
from hypothesis import given, settings
from hypothesis import strategies as st

from pg.algo import nn
from pg.algo.baselines import LinearValue, MLPValue

FD_TOL = 1e-6


def regression_data(n=40, d=5, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    y = np.sin(X[:, 0]) + X[:, 1] * X[:, 2] + rng.normal(0, 0.1, n)
    return X, y


# ---------------------------------------------------------------------------------------------
# pg.algo.nn
# ---------------------------------------------------------------------------------------------
def loop_forward(params, sizes, x):
    """One sample through the MLP with Python loops, from the documented layout."""
    h, i = list(x), 0
    for j, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        W = params[i : i + fan_in * fan_out].reshape(fan_in, fan_out)
        i += fan_in * fan_out
        b = params[i : i + fan_out]
        i += fan_out
        z = [sum(h[r] * W[r, c] for r in range(fan_in)) + b[c] for c in range(fan_out)]
        h = z if j == len(sizes) - 2 else [float(np.tanh(v)) for v in z]
    assert i == len(params)
    return np.array(h)


@pytest.mark.parametrize("sizes", [(3, 1), (4, 8, 2), (5, 4, 6, 3), (2, 3, 3, 3, 1)])
def test_nn_forward_matches_plain_loop_and_param_count(sizes):
    """n_params counts (fan_in + 1) * fan_out per layer; forward computes tanh hidden layers
    and a linear output exactly as the loop does; activations are [X, h1, ...]."""
    assert nn.n_params(sizes) == sum((a + 1) * b for a, b in zip(sizes[:-1], sizes[1:]))
    rng = np.random.default_rng(0)
    params = rng.normal(size=nn.n_params(sizes))
    X = rng.normal(size=(6, sizes[0]))
    acts, out = nn.forward(params, sizes, X)
    assert out.shape == (6, sizes[-1]) and len(acts) == len(sizes) - 1
    assert [a.shape[1] for a in acts] == list(sizes[:-1])
    expected = np.array([loop_forward(params, sizes, x) for x in X])
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-12)


@settings(max_examples=30, deadline=None)
@given(
    sizes=st.lists(st.integers(1, 6), min_size=2, max_size=5),
    m=st.integers(1, 7),
    seed=st.integers(0, 2**31),
)
def test_nn_backward_matches_finite_differences(sizes, m, seed):
    """backward(d_out) = d/dtheta sum(d_out * forward(theta)) for random layer sizes."""
    rng = np.random.default_rng(seed)
    params = rng.normal(0, 0.8, nn.n_params(sizes))
    X = rng.normal(size=(m, sizes[0]))
    d_out = rng.normal(size=(m, sizes[-1]))

    def objective(theta):
        return float((d_out * nn.forward(theta, sizes, X)[1]).sum())

    acts, _ = nn.forward(params, sizes, X)
    analytic = nn.backward(params, sizes, acts, d_out)
    assert analytic.shape == params.shape
    assert rel_err(analytic, central_fd(objective, params)) < FD_TOL


def test_nn_layers_are_views_into_params():
    """Writing to a layer's W or b writes into the flat parameter vector."""
    sizes = (3, 4, 2)
    params = np.zeros(nn.n_params(sizes))
    (W1, b1), (W2, b2) = nn.layers(params, sizes)
    assert W1.shape == (3, 4) and b1.shape == (4,) and W2.shape == (4, 2) and b2.shape == (2,)
    W2[...] = 1.0
    b1[...] = 2.0
    assert params.sum() == 8 + 4 * 2.0


def test_glorot_init_bounds_zero_biases_and_last_scale():
    """Weights within +-sqrt(6 / (fan_in + fan_out)), biases zero, last layer scaled; the
    same Generator state gives the same parameters."""
    sizes = (4, 32, 16, 2)
    params = nn.glorot_init(sizes, np.random.default_rng(0), last_scale=0.01)
    again = nn.glorot_init(sizes, np.random.default_rng(0), last_scale=0.01)
    assert np.array_equal(params, again)
    layers = nn.layers(params, sizes)
    for j, (W, b) in enumerate(layers):
        limit = np.sqrt(6.0 / sum(W.shape)) * (0.01 if j == len(layers) - 1 else 1.0)
        assert np.abs(W).max() <= limit and np.abs(W).max() > 0.5 * limit
        assert not b.any()


# ---------------------------------------------------------------------------------------------
# LinearValue
# ---------------------------------------------------------------------------------------------
def test_linear_value_grad_loss_matches_finite_differences():
    """LinearValue.grad_loss = d/dparams of .loss (0.5 mean squared error)."""
    X, y = regression_data()
    value = LinearValue(X.shape[1])
    value.params = np.random.default_rng(1).normal(size=X.shape[1] + 1)

    def loss(theta):
        value_at = LinearValue(X.shape[1])
        value_at.params = theta
        return value_at.loss(X, y)

    assert rel_err(value.grad_loss(X, y), central_fd(loss, value.params)) < FD_TOL


def test_linear_value_loss_is_half_mean_squared_error():
    X, y = regression_data(n=10)
    value = LinearValue(X.shape[1])
    value.params = np.arange(X.shape[1] + 1, dtype=float)
    prediction = X @ value.params[:-1] + value.params[-1]
    assert value.loss(X, y) == pytest.approx(0.5 * np.mean((prediction - y) ** 2), rel=1e-14)


def test_linear_value_fit_recovers_a_linear_function_exactly():
    """Noise-free targets y = X w + c: fit with ridge 0 returns w and c (to 1e-10) and zero
    loss; with the default small ridge it is close but shrunk (the intercept is not)."""
    rng = np.random.default_rng(2)
    X = rng.normal(size=(200, 5))
    w, c = np.array([1.5, -2.0, 0.25, 3.0, -0.7]), 4.2
    y = X @ w + c
    value = LinearValue(5, ridge=0.0)
    value.fit(X, y)
    np.testing.assert_allclose(value.params, np.append(w, c), rtol=0, atol=1e-10)
    assert value.loss(X, y) < 1e-20
    np.testing.assert_allclose(value.predict(X), y, atol=1e-9)
    shrunk = LinearValue(5, ridge=0.1)
    shrunk.fit(X, y)
    assert np.linalg.norm(shrunk.params[:-1]) < np.linalg.norm(w)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_linear_value_fit_matches_lstsq_without_ridge(seed):
    """With ridge ~0 the closed form equals np.linalg.lstsq on [X, 1] for noisy targets."""
    X, y = regression_data(n=60, d=4, seed=seed)
    value = LinearValue(4, ridge=1e-14)
    value.fit(X, y)
    A = np.hstack([X, np.ones((len(X), 1))])
    expected, *_ = np.linalg.lstsq(A, y, rcond=None)
    np.testing.assert_allclose(value.params, expected, rtol=1e-8, atol=1e-10)


def test_linear_value_ridge_fit_is_the_stationary_point_of_the_ridge_objective():
    """With ridge r, the fit zeroes the gradient of loss + 0.5 r |w|^2 (intercept unpenalised)."""
    X, y = regression_data(n=50, d=3, seed=4)
    value = LinearValue(3, ridge=0.05)
    value.fit(X, y)
    penalty_grad = np.append(0.05 * value.params[:-1], 0.0)
    np.testing.assert_allclose(value.grad_loss(X, y) + penalty_grad, 0.0, atol=1e-12)


# ---------------------------------------------------------------------------------------------
# MLPValue
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("hidden", [(8,), (5, 7)])
@pytest.mark.parametrize("scale", [1.0, 37.5])
def test_mlp_value_grad_loss_matches_finite_differences(hidden, scale):
    """MLPValue.grad_loss = d/dparams of .loss, also with a target scale != 1."""
    X, y = regression_data(n=25, d=5, seed=3)
    value = MLPValue(5, hidden=hidden, seed=1)
    value.scale = scale
    y = y * scale
    params = value.params.copy()

    def loss(theta):
        value.params[:] = theta
        return value.loss(X, y)

    numeric = central_fd(loss, params)
    value.params[:] = params
    assert rel_err(value.grad_loss(X, y), numeric) < FD_TOL


def test_mlp_value_predict_is_scaled_network_output():
    X, _ = regression_data(n=5)
    value = MLPValue(5, hidden=(4,), seed=0)
    value.scale = 3.0
    np.testing.assert_allclose(value.predict(X), 3.0 * nn.forward(value.params, value.sizes, X)[1][:, 0])


def test_mlp_value_fit_reduces_the_error_over_fits():
    """Repeated fits on the same data keep lowering the squared error (in target units);
    after 15 fits the error is below a tenth of the variance of the targets."""
    X, y = regression_data(n=100, d=5, seed=5)
    y = 50.0 * y + 100.0  # returns are large: the scale mechanism must cope
    value = MLPValue(5, hidden=(16,), seed=0)

    def mse():
        return float(np.mean((value.predict(X) - y) ** 2))

    errors = [mse()]
    for _ in range(15):
        value.fit(X, y)
        errors.append(mse())
    assert value.scale == pytest.approx(np.abs(y).max())
    assert errors[5] < errors[0] and errors[10] < errors[5] and errors[15] < errors[10]
    assert errors[-1] < 0.1 * np.var(y)


def test_mlp_value_rescaling_keeps_predictions():
    """When larger targets grow the scale, the output layer shrinks so predictions before the
    first gradient step are unchanged (fit with epochs=0)."""
    X, y = regression_data(n=20, d=5, seed=6)
    value = MLPValue(5, hidden=(8,), seed=2, epochs=0)
    before = value.predict(X)
    value.fit(X, 1000.0 * y)
    assert value.scale > 1.0
    np.testing.assert_allclose(value.predict(X), before, rtol=1e-12, atol=1e-12)


def test_mlp_value_init_is_seeded():
    a, b, c = MLPValue(5, seed=0), MLPValue(5, seed=0), MLPValue(5, seed=1)
    assert np.array_equal(a.params, b.params) and not np.array_equal(a.params, c.params)
