"""Softmax policies on one flat float64 parameter vector, with analytic gradients.

=========  ======================  ==================================================
symbol     shape                   meaning
=========  ======================  ==================================================
obs        (..., obs_dim)          states; any leading shape, e.g. (N,) or (T, N)
actions    (...)                   integer actions in [0, n_actions)
weights    (...)                   per-sample weights (advantages) in the gradient
logits     (..., n_actions)        unnormalised log-probabilities
theta      (P,)                    ``policy.params``: every weight and bias, flat
=========  ======================  ==================================================

``grad_log_prob(obs, actions, weights)`` is d/dtheta of ``sum_i weights_i * log pi(a_i|s_i)``:
the REINFORCE estimate is this with weights = advantages / number of episodes. Gradients are
written out by hand (no autodiff); tests/algo/test_policies.py checks each one against central
finite differences.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence

import numpy as np

from pg.algo import nn

POLICY_KINDS = ("linear", "mlp")


class SoftmaxPolicy(ABC):
    """Shared machinery: subclasses provide ``logits`` and ``_backward``."""

    kind: str

    def __init__(self, obs_dim: int, n_actions: int, params: np.ndarray):
        self.obs_dim = int(obs_dim)
        self.n_actions = int(n_actions)
        self.params = np.asarray(params, dtype=np.float64).copy()

    # -- subclass interface ----------------------------------------------------------
    @abstractmethod
    def logits(self, obs: np.ndarray) -> np.ndarray:
        """(..., obs_dim) -> (..., n_actions)."""

    @abstractmethod
    def _backward(self, obs2d: np.ndarray, dlogits: np.ndarray) -> np.ndarray:
        """d/dtheta of sum(dlogits * logits(obs2d)), for (M, obs_dim) obs: (P,)."""

    @property
    def spec(self) -> dict:
        """What is needed to rebuild the policy around a parameter vector."""
        return {"kind": self.kind, "obs_dim": self.obs_dim, "n_actions": self.n_actions}

    # -- probabilities ---------------------------------------------------------------
    def log_probs(self, obs: np.ndarray) -> np.ndarray:
        """(..., n_actions) log pi(.|s), computed stably."""
        z = self.logits(obs)
        z = z - z.max(axis=-1, keepdims=True)
        return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))

    def probs(self, obs: np.ndarray) -> np.ndarray:
        """(..., n_actions) pi(.|s)."""
        return np.exp(self.log_probs(obs))

    def log_prob(self, obs: np.ndarray, actions: np.ndarray) -> np.ndarray:
        """(...) log pi(a|s) of the given actions."""
        logp = self.log_probs(obs)
        return np.take_along_axis(logp, _as_index(actions, logp.shape[:-1]), axis=-1)[..., 0]

    def entropy(self, obs: np.ndarray) -> np.ndarray:
        """(...) entropy of pi(.|s) in nats."""
        logp = self.log_probs(obs)
        return -(np.exp(logp) * logp).sum(axis=-1)

    def act(self, obs: np.ndarray, rng: np.random.Generator | None = None, greedy: bool = False):
        """(...) actions: the most probable one if ``greedy``, else sampled with ``rng``."""
        if greedy:
            return self.logits(obs).argmax(axis=-1)
        if rng is None:
            raise ValueError("act(greedy=False) needs rng, a np.random.Generator")
        p = self.probs(obs)
        u = rng.random(p.shape[:-1] + (1,))
        # inverse CDF; the clip guards against a cumulative sum that ends below u by rounding
        return np.minimum((u > np.cumsum(p, axis=-1)).sum(axis=-1), self.n_actions - 1)

    def binary_margin(self) -> Callable[[np.ndarray], np.ndarray]:
        """For two actions: a function obs (N, obs_dim) -> logit(pi(1|s)) = l1 - l0, (N,),
        for the current parameters. Sampling is then ``margin(obs) > logit(u)``."""
        if self.n_actions != 2:
            raise ValueError(f"binary_margin needs n_actions == 2, this policy has {self.n_actions}")

        def margin(obs: np.ndarray) -> np.ndarray:
            z = self.logits(obs)
            return z[..., 1] - z[..., 0]

        return margin

    # -- gradients ---------------------------------------------------------------------
    def grad_log_prob(self, obs: np.ndarray, actions: np.ndarray, weights: np.ndarray | None = None):
        """(P,) d/dtheta of sum_i weights_i * log pi(a_i | s_i).

        Uses d log pi(a|s) / d logits = onehot(a) - pi(.|s), without building the one-hot.
        """
        obs2d = np.asarray(obs, dtype=np.float64).reshape(-1, self.obs_dim)
        actions1d = np.asarray(actions).reshape(-1).astype(np.intp, copy=False)
        w = np.ones(len(obs2d)) if weights is None else np.asarray(weights, np.float64).reshape(-1)
        if not len(obs2d) == len(actions1d) == len(w):
            raise ValueError(
                f"obs, actions and weights must describe the same samples, got {len(obs2d)}, "
                f"{len(actions1d)} and {len(w)}"
            )
        dlogits = self.probs(obs2d)
        dlogits *= -w[:, None]
        dlogits[np.arange(len(actions1d)), actions1d] += w
        return self._backward(obs2d, dlogits)

    def grad_entropy(self, obs: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
        """(P,) d/dtheta of sum_i weights_i * H(pi(.|s_i))."""
        obs2d = np.asarray(obs, dtype=np.float64).reshape(-1, self.obs_dim)
        w = np.ones(len(obs2d)) if weights is None else np.asarray(weights, np.float64).reshape(-1)
        logp = self.log_probs(obs2d)
        p = np.exp(logp)
        entropy = -(p * logp).sum(axis=-1, keepdims=True)
        # dH/dz_k = -p_k (log p_k + H)
        return self._backward(obs2d, -p * (logp + entropy) * w[:, None])

    # -- bookkeeping -------------------------------------------------------------------
    def copy(self) -> SoftmaxPolicy:
        return type(self)(params=self.params, **_ctor_args(self.spec))

    def with_params(self, params: np.ndarray) -> SoftmaxPolicy:
        return type(self)(params=params, **_ctor_args(self.spec))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.spec}, params={self.params.size})"


class LinearSoftmax(SoftmaxPolicy):
    """pi(a|s) = softmax(s W + b): the policy of the classic REINFORCE-on-CartPole posts.

    theta = [W.ravel() (obs_dim x n_actions, row-major), b (n_actions)].
    """

    kind = "linear"

    def __init__(self, obs_dim: int = 4, n_actions: int = 2, params: np.ndarray | None = None):
        size = (obs_dim + 1) * n_actions
        super().__init__(obs_dim, n_actions, np.zeros(size) if params is None else params)
        if self.params.shape != (size,):
            raise ValueError(
                f"a linear policy with obs_dim={obs_dim}, n_actions={n_actions} has {size} "
                f"parameters, got an array of shape {self.params.shape}"
            )

    def _split(self):
        k = self.obs_dim * self.n_actions
        return self.params[:k].reshape(self.obs_dim, self.n_actions), self.params[k:]

    def logits(self, obs):
        W, b = self._split()
        return np.asarray(obs, dtype=np.float64) @ W + b

    def _backward(self, obs2d, dlogits):
        return np.concatenate([(obs2d.T @ dlogits).ravel(), dlogits.sum(axis=0)])

    def binary_margin(self):
        if self.n_actions != 2:
            return super().binary_margin()
        W, b = self._split()
        w_diff, b_diff = W[:, 1] - W[:, 0], b[1] - b[0]

        def margin(obs):  # two NumPy calls: this runs once per environment step
            z = obs @ w_diff
            z += b_diff
            return z

        return margin


class MLPSoftmax(SoftmaxPolicy):
    """pi(a|s) = softmax(MLP(s)) with tanh hidden layers of sizes ``hidden``.

    theta = [W1, b1, W2, b2, ..., W_out, b_out], each W (fan_in x fan_out) row-major.
    """

    kind = "mlp"

    def __init__(
        self,
        obs_dim: int = 4,
        n_actions: int = 2,
        hidden: Sequence[int] = (32,),
        params: np.ndarray | None = None,
    ):
        self.hidden = tuple(int(h) for h in hidden)
        if not self.hidden or any(h < 1 for h in self.hidden):
            raise ValueError(f"hidden must be a non-empty list of sizes >= 1, got {hidden!r}")
        self.layer_sizes = (int(obs_dim), *self.hidden, int(n_actions))
        size = nn.n_params(self.layer_sizes)
        super().__init__(obs_dim, n_actions, np.zeros(size) if params is None else params)
        if self.params.shape != (size,):
            raise ValueError(
                f"an MLP policy with layers {list(self.layer_sizes)} has {size} parameters, "
                f"got an array of shape {self.params.shape}"
            )

    @property
    def spec(self):
        return {**super().spec, "hidden": list(self.hidden)}

    def logits(self, obs):
        return nn.forward(self.params, self.layer_sizes, obs)[1]

    def _backward(self, obs2d, dlogits):
        acts, _ = nn.forward(self.params, self.layer_sizes, obs2d)
        return nn.backward(self.params, self.layer_sizes, acts, dlogits)


def make_policy(
    kind: str = "linear",
    obs_dim: int = 4,
    n_actions: int = 2,
    hidden: Sequence[int] = (32,),
    seed: int | np.random.Generator | None = 0,
    init_scale: float = 0.01,
) -> SoftmaxPolicy:
    """A freshly initialised policy.

    Linear: weights ~ N(0, init_scale^2), so the first policy is close to uniform.
    MLP: hidden layers Glorot-uniform, output layer scaled by init_scale (near-uniform start,
    as in CleanRL's small last-layer init); biases zero.
    """
    rng = np.random.default_rng(seed)
    if kind == "linear":
        policy = LinearSoftmax(obs_dim, n_actions)
        W, _ = policy._split()
        W[...] = rng.normal(0.0, init_scale, W.shape)
        return policy
    if kind == "mlp":
        sizes = (obs_dim, *hidden, n_actions)
        return MLPSoftmax(obs_dim, n_actions, hidden, params=nn.glorot_init(sizes, rng, init_scale))
    raise ValueError(f"policy kind must be one of {POLICY_KINDS}, got {kind!r}")


def policy_from_spec(spec: dict, params: np.ndarray) -> SoftmaxPolicy:
    """Rebuild a policy from ``policy.spec`` and a parameter vector (raises ValueError)."""
    kind = spec.get("kind")
    if kind == "linear":
        return LinearSoftmax(spec["obs_dim"], spec["n_actions"], params=params)
    if kind == "mlp":
        return MLPSoftmax(spec["obs_dim"], spec["n_actions"], spec["hidden"], params=params)
    raise ValueError(f"policy kind must be one of {POLICY_KINDS}, got {kind!r}")


def _ctor_args(spec: dict) -> dict:
    return {k: v for k, v in spec.items() if k != "kind"}


def _as_index(actions, lead_shape) -> np.ndarray:
    a = np.asarray(actions)
    if a.shape != tuple(lead_shape):
        raise ValueError(f"actions must have shape {tuple(lead_shape)}, got {a.shape}")
    return a.astype(np.intp, copy=False)[..., None]
