"""A tanh multilayer perceptron on a flat parameter vector, with a hand-written backward pass.

Shared by the MLP policy (pg.algo.policies) and the MLP value function (pg.algo.baselines).
theta = [W1, b1, W2, b2, ..., W_out, b_out], each W (fan_in x fan_out) row-major; the last
layer is linear.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def n_params(sizes: Sequence[int]) -> int:
    return sum((fan_in + 1) * fan_out for fan_in, fan_out in zip(sizes[:-1], sizes[1:]))


def layers(params: np.ndarray, sizes: Sequence[int]) -> list[tuple[np.ndarray, np.ndarray]]:
    """[(W, b)] as views into ``params`` (writing to them writes to params)."""
    out, i = [], 0
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        W = params[i : i + fan_in * fan_out].reshape(fan_in, fan_out)
        i += fan_in * fan_out
        out.append((W, params[i : i + fan_out]))
        i += fan_out
    return out


def forward(params: np.ndarray, sizes: Sequence[int], X: np.ndarray):
    """Activations [X, h1, ..., h_L] (kept for the backward pass) and the output (M, out)."""
    acts = [np.asarray(X, dtype=np.float64)]
    all_layers = layers(params, sizes)
    for W, b in all_layers[:-1]:
        acts.append(np.tanh(acts[-1] @ W + b))
    W, b = all_layers[-1]
    return acts, acts[-1] @ W + b


def backward(params: np.ndarray, sizes: Sequence[int], acts: list, d_out: np.ndarray) -> np.ndarray:
    """(P,) d/dtheta of sum(d_out * output), given the activations of ``forward``."""
    grads = []
    delta = d_out
    for (W, _b), a in zip(reversed(layers(params, sizes)), reversed(acts)):
        grads.append(((a.T @ delta).ravel(), delta.sum(axis=0)))
        if a is not acts[0]:
            delta = (delta @ W.T) * (1.0 - a * a)  # tanh' = 1 - tanh^2
    return np.concatenate([g for pair in reversed(grads) for g in pair])


def glorot_init(sizes: Sequence[int], rng: np.random.Generator, last_scale: float = 1.0) -> np.ndarray:
    """Glorot-uniform weights, zero biases; the last layer's weights times ``last_scale``."""
    params = np.zeros(n_params(sizes))
    all_layers = layers(params, sizes)
    for j, (W, _b) in enumerate(all_layers):
        limit = np.sqrt(6.0 / sum(W.shape))
        W[...] = rng.uniform(-limit, limit, W.shape)
        if j == len(all_layers) - 1:
            W *= last_scale
    return params
