"""Gradient *ascent* on flat parameter vectors: SGD and Adam, with optional norm clipping.

``step(params, grad)`` moves ``params`` in place along ``grad`` (we maximise the expected
return J, so the step is +lr * direction).
"""

from __future__ import annotations

import numpy as np

OPTIMIZERS = ("adam", "sgd")


def clip_grad_norm(grad: np.ndarray, max_norm: float | None) -> tuple[np.ndarray, float]:
    """Scale ``grad`` down to norm ``max_norm`` if it is longer. Returns (grad, norm before)."""
    norm = float(np.sqrt(grad @ grad))
    if max_norm is not None and norm > max_norm:
        grad = grad * (max_norm / norm)
    return grad, norm


class SGD:
    """theta <- theta + lr * grad: plain gradient ascent. ``size`` is unused; it keeps the
    constructor the same as Adam's, which needs it for its moment buffers."""

    def __init__(self, size: int, lr: float):
        self.lr = lr

    def step(self, params: np.ndarray, grad: np.ndarray) -> None:
        params += self.lr * grad


class Adam:
    """Adam (Kingma & Ba, 2015) with bias correction, as gradient ascent."""

    def __init__(self, size: int, lr: float, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8):
        self.lr, self.beta1, self.beta2, self.eps = lr, beta1, beta2, eps
        self.m = np.zeros(size)
        self.v = np.zeros(size)
        self.t = 0

    def step(self, params: np.ndarray, grad: np.ndarray) -> None:
        self.t += 1
        self.m *= self.beta1
        self.m += (1 - self.beta1) * grad
        self.v *= self.beta2
        self.v += (1 - self.beta2) * grad * grad
        m_hat = self.m / (1 - self.beta1**self.t)
        v_hat = self.v / (1 - self.beta2**self.t)
        params += self.lr * m_hat / (np.sqrt(v_hat) + self.eps)


def make_optimizer(name: str, size: int, lr: float):
    if name == "adam":
        return Adam(size, lr)
    if name == "sgd":
        return SGD(size, lr)
    raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {name!r}")
