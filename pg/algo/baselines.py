"""Baselines b(s_t): subtracted from the return to cut variance without adding bias.

A baseline keeps the estimator unbiased as long as it does not depend on the action it
multiplies: E[grad log pi(a|s) * b(s)] = b(s) * sum_a grad pi(a|s) = b(s) * grad 1 = 0. So
every baseline here is computed from *other* data than the sample it is subtracted from:

===============  =====================================================================
name             b for episode n at time t
===============  =====================================================================
none             0
moving_average   exponential moving average of past batches' episode returns (the seeds)
batch_mean       mean reward-to-go at time t over the *other* episodes of the batch
                 (leave-one-out, so episode n's own actions do not enter its baseline)
value            a learned V(s_t, t) fitted by regression on past batches' returns
===============  =====================================================================

Interface: ``values(batch, G) -> (T, N)`` before the gradient step, ``update(batch, G)`` after
it. tests/lessons/test_theory.py checks, on pg.lessons.theory's exactly solvable problems, that each
keeps the estimate unbiased and lowers its variance; tests/algo/test_baselines.py checks the value
models against finite differences and least squares.
"""

from __future__ import annotations

import numpy as np

from pg.algo import nn
from pg.algo.optim import Adam

BASELINES = ("none", "moving_average", "batch_mean", "value")
VALUE_MODELS = ("linear", "mlp")


class NoBaseline:
    name = "none"

    def values(self, batch, G: np.ndarray) -> np.ndarray:
        return np.zeros_like(G)

    def update(self, batch, G: np.ndarray) -> None:
        pass

    @property
    def summary(self) -> float:
        return 0.0


class MovingAverage:
    """b = running average of whole-episode returns G_0 from earlier batches."""

    name = "moving_average"

    def __init__(self, decay: float = 0.9):
        self.decay = decay
        self.average: float | None = None

    def values(self, batch, G):
        return np.full_like(G, 0.0 if self.average is None else self.average) * batch.alive

    def update(self, batch, G):
        batch_mean = float(G[0].mean())
        if self.average is None:
            self.average = batch_mean
        else:
            self.average = self.decay * self.average + (1 - self.decay) * batch_mean

    @property
    def summary(self) -> float:
        return 0.0 if self.average is None else self.average


class BatchMean:
    """b_t for episode n = mean of G_t over the other episodes alive at t (0 if none)."""

    name = "batch_mean"

    def __init__(self):
        self.last_mean = 0.0

    def values(self, batch, G):
        alive = batch.alive
        total = G.sum(axis=1, keepdims=True)
        others = alive.sum(axis=1, keepdims=True) - 1
        b = np.divide(total - G, others, out=np.zeros_like(G), where=others > 0) * alive
        self.last_mean = float(b[alive].mean()) if alive.any() else 0.0
        return b

    def update(self, batch, G):
        pass

    @property
    def summary(self) -> float:
        return self.last_mean


def value_features(obs: np.ndarray, time_fraction: np.ndarray) -> np.ndarray:
    """(M, obs_dim + 1): the state and t / max_steps, because with a time limit the return
    to expect depends on how much time is left."""
    return np.concatenate([obs, time_fraction[:, None]], axis=1)


class LinearValue:
    """V(x) = x . w + c, fitted by ridge regression (closed form)."""

    def __init__(self, n_features: int, ridge: float = 1e-3):
        self.ridge = ridge
        self.params = np.zeros(n_features + 1)

    def predict(self, X: np.ndarray) -> np.ndarray:
        return X @ self.params[:-1] + self.params[-1]

    def loss(self, X: np.ndarray, y: np.ndarray) -> float:
        return 0.5 * float(np.mean((self.predict(X) - y) ** 2))

    def grad_loss(self, X: np.ndarray, y: np.ndarray) -> np.ndarray:
        err = (self.predict(X) - y) / len(y)
        return np.concatenate([X.T @ err, [err.sum()]])

    def fit(self, X: np.ndarray, y: np.ndarray) -> None:
        A = np.hstack([X, np.ones((len(X), 1))])
        reg = self.ridge * len(X) * np.eye(A.shape[1])
        reg[-1, -1] = 0.0  # do not shrink the intercept
        self.params = np.linalg.solve(A.T @ A + reg, A.T @ y)


class MLPValue:
    """V(x) = tanh-MLP(x), fitted by a few full-batch Adam steps on the squared error."""

    def __init__(self, n_features: int, hidden=(32,), lr: float = 1e-2, epochs: int = 20, seed=0):
        self.sizes = (n_features, *hidden, 1)
        self.params = nn.glorot_init(self.sizes, np.random.default_rng(seed))
        self.epochs = epochs
        self.optimizer = Adam(self.params.size, lr)
        self.scale = 1.0  # targets are divided by a running scale so one lr fits any return size

    def predict(self, X: np.ndarray) -> np.ndarray:
        return nn.forward(self.params, self.sizes, X)[1][:, 0] * self.scale

    def loss(self, X: np.ndarray, y: np.ndarray) -> float:
        """0.5 mean squared error in scaled units (what the optimiser minimises)."""
        out = nn.forward(self.params, self.sizes, X)[1][:, 0]
        return 0.5 * float(np.mean((out - y / self.scale) ** 2))

    def grad_loss(self, X: np.ndarray, y: np.ndarray) -> np.ndarray:
        acts, out = nn.forward(self.params, self.sizes, X)
        d_out = (out - (y / self.scale)[:, None]) / len(y)
        return nn.backward(self.params, self.sizes, acts, d_out)

    def fit(self, X: np.ndarray, y: np.ndarray) -> None:
        new_scale = max(self.scale, float(np.abs(y).max(initial=0.0)))
        if new_scale > self.scale:  # keep the predictions: shrink the linear output layer
            W, bias = nn.layers(self.params, self.sizes)[-1]
            W *= self.scale / new_scale
            bias *= self.scale / new_scale
            self.scale = new_scale
        for _ in range(self.epochs):
            self.optimizer.step(self.params, -self.grad_loss(X, y))  # descent on the loss


class ValueBaseline:
    """b = V(s_t, t / max_steps), refitted on each batch's returns *after* that batch's
    gradient, so a sample never meets a baseline fitted to itself."""

    name = "value"

    def __init__(self, obs_dim: int, max_steps: int, model: str = "linear", seed=0):
        if model == "linear":
            self.model = LinearValue(obs_dim + 1)
        elif model == "mlp":
            self.model = MLPValue(obs_dim + 1, seed=seed)
        else:
            raise ValueError(f"value model must be one of {VALUE_MODELS}, got {model!r}")
        self.max_steps = max_steps
        self.last_mean = 0.0

    def _features(self, batch):
        t = np.broadcast_to(np.arange(len(batch.alive))[:, None], batch.alive.shape)
        alive = batch.alive
        return value_features(batch.obs[: len(alive)][alive], t[alive] / self.max_steps)

    def values(self, batch, G):
        b = np.zeros_like(G)
        b[batch.alive] = self.model.predict(self._features(batch))
        self.last_mean = float(b[batch.alive].mean()) if batch.alive.any() else 0.0
        return b

    def update(self, batch, G):
        self.model.fit(self._features(batch), G[batch.alive])

    def fit_fixed(self, batch, G, rounds: int = 1, max_states: int | None = None, rng=None) -> None:
        """Fit ``rounds`` times on (a random subset of at most ``max_states`` of) the batch's
        states: a critic prepared once, then held fixed (pg.lessons.variance's probe)."""
        X, y = self._features(batch), G[batch.alive]
        if max_states is not None and len(y) > max_states:
            keep = np.sort(np.random.default_rng(rng).choice(len(y), max_states, replace=False))
            X, y = X[keep], y[keep]
        for _ in range(rounds):
            self.model.fit(X, y)

    @property
    def summary(self) -> float:
        return self.last_mean


def make_baseline(name: str, obs_dim: int = 4, max_steps: int = 500, value_model: str = "linear", seed=0):
    if name == "none":
        return NoBaseline()
    if name == "moving_average":
        return MovingAverage()
    if name == "batch_mean":
        return BatchMean()
    if name == "value":
        return ValueBaseline(obs_dim, max_steps, value_model, seed=seed)
    raise ValueError(f"baseline must be one of {BASELINES}, got {name!r}")


def normalize_advantages(adv: np.ndarray, alive: np.ndarray) -> np.ndarray:
    """(adv - mean) / std over the alive entries; dead entries stay 0."""
    values = adv[alive]
    if values.size < 2:
        return adv * alive
    return (adv - values.mean()) / (values.std() + 1e-8) * alive
