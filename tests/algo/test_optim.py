"""pg.algo.optim: SGD and Adam (gradient *ascent*) against hand-written reference loops, and
gradient-norm clipping."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pg.algo.optim import SGD, Adam, clip_grad_norm, make_optimizer


def gradient_sequence(steps=6, size=5, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.normal(0, 1, size) * 10.0 ** rng.integers(-3, 3) for _ in range(steps)]


# ---------------------------------------------------------------------------------------------
# SGD
# ---------------------------------------------------------------------------------------------
def test_sgd_moves_params_along_plus_grad():
    """Plain SGD is ascent: theta_{k+1} = theta_k + lr g_k, in place, element by element."""
    params = np.array([1.0, -2.0, 0.5])
    alias = params
    optimizer = SGD(3, lr=0.1)
    expected = [1.0, -2.0, 0.5]
    for g in gradient_sequence(4, 3):
        optimizer.step(params, g)
        expected = [p + 0.1 * gi for p, gi in zip(expected, g)]
        np.testing.assert_allclose(params, expected, rtol=1e-15, atol=0)
    assert alias is params


# ---------------------------------------------------------------------------------------------
# Adam
# ---------------------------------------------------------------------------------------------
def reference_adam(grads, lr, beta1=0.9, beta2=0.999, eps=1e-8, theta0=None):
    """Kingma & Ba's Algorithm 1, with the step sign flipped for ascent, in Python floats."""
    size = len(grads[0])
    theta = [0.0] * size if theta0 is None else list(theta0)
    m, v = [0.0] * size, [0.0] * size
    history = []
    for t, g in enumerate(grads, start=1):
        for i in range(size):
            m[i] = beta1 * m[i] + (1 - beta1) * g[i]
            v[i] = beta2 * v[i] + (1 - beta2) * g[i] ** 2
            m_hat = m[i] / (1 - beta1**t)
            v_hat = v[i] / (1 - beta2**t)
            theta[i] += lr * m_hat / (math.sqrt(v_hat) + eps)
        history.append(list(theta))
    return history


@pytest.mark.parametrize("lr", [1e-3, 0.2])
def test_adam_matches_reference_loop(lr):
    """Adam with bias correction equals the reference loop for 6 steps of gradients of very
    different sizes."""
    grads = gradient_sequence(6, 5, seed=2)
    theta0 = [0.3, -0.1, 0.0, 2.0, -1.0]
    params = np.array(theta0)
    optimizer = Adam(5, lr)
    for g, expected in zip(grads, reference_adam(grads, lr, theta0=theta0)):
        optimizer.step(params, g)
        np.testing.assert_allclose(params, expected, rtol=1e-12, atol=1e-15)
    assert optimizer.t == 6


def test_adam_custom_betas_match_reference_loop():
    grads = gradient_sequence(5, 4, seed=3)
    params = np.zeros(4)
    optimizer = Adam(4, 0.01, beta1=0.5, beta2=0.9, eps=1e-6)
    for g, expected in zip(grads, reference_adam(grads, 0.01, 0.5, 0.9, 1e-6)):
        optimizer.step(params, g)
        np.testing.assert_allclose(params, expected, rtol=1e-12, atol=1e-15)


def test_adam_first_step_is_lr_times_sign_of_grad():
    """After bias correction the first step is lr * g / (|g| + eps): about lr along sign(g),
    whatever the gradient's scale (ascent: +)."""
    g = np.array([1e-3, -5.0, 200.0, 0.0])
    params = np.zeros(4)
    Adam(4, lr=0.1).step(params, g)
    np.testing.assert_allclose(params, 0.1 * g / (np.abs(g) + 1e-8), rtol=1e-12)
    assert params[0] > 0 and params[1] < 0 and params[3] == 0.0


def test_adam_converges_on_a_concave_quadratic():
    """Maximising J(theta) = -1/2 (theta - c)' A (theta - c) (A positive definite, badly
    conditioned): after 3000 Adam steps theta is within 1e-3 of c and J rose monotonically
    over the first 50 steps."""
    rng = np.random.default_rng(4)
    Q, _ = np.linalg.qr(rng.normal(size=(4, 4)))
    A = Q @ np.diag([10.0, 3.0, 1.0, 0.1]) @ Q.T
    c = np.array([1.0, -2.0, 0.5, 3.0])

    def J(theta):
        return -0.5 * (theta - c) @ A @ (theta - c)

    params = np.zeros(4)
    optimizer = Adam(4, lr=0.05)
    values = [J(params)]
    for _ in range(3000):
        optimizer.step(params, -A @ (params - c))
        values.append(J(params))
    assert np.linalg.norm(params - c) < 1e-3
    assert all(b > a for a, b in zip(values[:50], values[1:51]))


def test_sgd_converges_on_a_concave_quadratic():
    A = np.diag([2.0, 1.0, 0.5])
    c = np.array([1.0, -1.0, 2.0])
    params = np.zeros(3)
    optimizer = SGD(3, lr=0.2)
    for _ in range(200):
        optimizer.step(params, -A @ (params - c))
    np.testing.assert_allclose(params, c, atol=1e-6)


def test_make_optimizer_builds_the_named_optimizer_and_rejects_others():
    assert isinstance(make_optimizer("adam", 3, 0.1), Adam)
    sgd = make_optimizer("sgd", 3, 0.1)
    assert isinstance(sgd, SGD) and sgd.lr == 0.1
    with pytest.raises(ValueError, match="'rmsprop'"):
        make_optimizer("rmsprop", 3, 0.1)


# ---------------------------------------------------------------------------------------------
# clip_grad_norm
# ---------------------------------------------------------------------------------------------
def test_clip_grad_norm_leaves_short_gradients_alone():
    """A gradient shorter than max_norm comes back unchanged, with its norm."""
    g = np.array([3.0, 4.0])
    clipped, norm = clip_grad_norm(g, 5.5)
    assert np.array_equal(clipped, [3.0, 4.0]) and norm == 5.0
    clipped, norm = clip_grad_norm(g, None)
    assert np.array_equal(clipped, [3.0, 4.0]) and norm == 5.0


@pytest.mark.parametrize("max_norm", [1e-3, 0.5, 4.99])
def test_clip_grad_norm_scales_long_gradients_to_max_norm(max_norm):
    """Longer than max_norm: same direction, norm exactly max_norm; the pre-clip norm is
    returned and the caller's array is not modified."""
    g = np.array([3.0, -4.0, 0.0])
    clipped, norm = clip_grad_norm(g, max_norm)
    assert norm == 5.0
    assert np.linalg.norm(clipped) == pytest.approx(max_norm, rel=1e-14)
    np.testing.assert_allclose(clipped / np.linalg.norm(clipped), g / 5.0, rtol=1e-14)
    assert np.array_equal(g, [3.0, -4.0, 0.0])


def test_clip_grad_norm_of_zero_gradient():
    clipped, norm = clip_grad_norm(np.zeros(3), 1.0)
    assert norm == 0.0 and np.array_equal(clipped, np.zeros(3))
