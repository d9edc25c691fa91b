"""Independent references shared by the tests: finite differences and random padded batches."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def central_fd(f: Callable[[np.ndarray], float], x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """Central finite-difference gradient of a scalar function f at x (float64, (P,))."""
    x = np.asarray(x, dtype=np.float64)
    grad = np.zeros_like(x)
    for i in range(x.size):
        step = np.zeros_like(x)
        step[i] = eps
        grad[i] = (f(x + step) - f(x - step)) / (2 * eps)
    return grad


def rel_err(a: np.ndarray, b: np.ndarray) -> float:
    """Norm-based relative error ||a - b|| / max(||a||, ||b||), 0 when both are 0."""
    scale = max(np.linalg.norm(a), np.linalg.norm(b))
    return 0.0 if scale == 0 else float(np.linalg.norm(a - b) / scale)


def random_padded_batch(rng: np.random.Generator, T: int, N: int, min_length: int = 1):
    """Random (T, N) rewards, values and alive mask with random episode lengths.

    Every episode is alive on a prefix of its column (how rollouts are padded). Entries past an
    episode's end hold large junk rewards / values, so a function that forgets the mask fails.
    Returns (rewards, values, alive, lengths).
    """
    lengths = rng.integers(min_length, T + 1, size=N)
    alive = np.arange(T)[:, None] < lengths[None, :]
    rewards = np.where(alive, rng.normal(size=(T, N)), rng.normal(1e3, 1.0, size=(T, N)))
    values = np.where(alive, rng.normal(size=(T, N)), rng.normal(-1e3, 1.0, size=(T, N)))
    return rewards, values, alive, lengths


def balancing_actions(states: np.ndarray, gains=(0.0, 0.0, 1.0, 1.0)) -> np.ndarray:
    """A simple controller: push right iff gains . state > 0. The default gains keep most
    episodes up for the full 500 steps and let a few fall, so both endings occur."""
    return (np.asarray(states) @ np.asarray(gains, dtype=np.float64) > 0).astype(np.int64)
