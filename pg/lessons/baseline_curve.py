"""The variance of the estimate as a function of a constant baseline b, exactly.

One episode gives the estimate g(b) = sum_t grad log pi(a_t|s_t) (W_t - b), with W_t the whole
return R(tau) (``returns="episode"``: the form of the theorem page's baseline step, whose check
is b * sum_t grad log pi) or the reward-to-go G_t. Write S = sum_t grad log pi(a_t|s_t) (the
score, (3,)) and A = sum_t grad log pi(a_t|s_t) W_t. Then E[g(b)] = E[A] - b E[S] = E[A] (E[S] = 0)
and the trace of its covariance is a quadratic in b:

    Var(b) = a2 b^2 + a1 b + a0,   a2 = E|S|^2 - |E S|^2,   a1 = -2 (E[A.S] - E[A].E[S]),
                                   a0 = E|A|^2 + noise - |E A|^2

every expectation a sum over the enumerated trajectories (``noise``: the Gaussian reward
noise's share, sigma^2 sum_t' |sum_{t: W_t contains r_t'} grad log pi(a_t|s_t)|^2). Its minimiser
is b* = -a1 / (2 a2); for the whole return (A = R S) that is E[|S|^2 R] / E[|S|^2]
(``b_star_formula``), a weighted mean of the returns that favours the episodes with large
scores, so the mean return E[R] = J is close to, not at, the best constant. The estimate from
N independent episodes has variance Var(b) / N.

``measured_points`` draws episodes (seeded) and measures the variance at a few b with a
standard error, to lay over the exact curve.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pg.algo.returns import reward_to_go
from pg.lessons.derivation import GAMMA, Setup, _rng

RETURNS = ("episode", "reward_to_go")


class ConstantBaseline:
    """b_t = b for every step (pg.algo.baselines' interface): what the page's slider sets."""

    name = "constant"

    def __init__(self, b: float):
        self.b = float(b)

    def values(self, batch, G):
        return self.b * batch.alive

    def update(self, batch, G):
        pass


def _weights(rewards: np.ndarray, alive: np.ndarray, returns: str) -> np.ndarray:
    if returns not in RETURNS:
        raise ValueError(f"returns must be one of {', '.join(RETURNS)}, got {returns!r}")
    G = reward_to_go(rewards, alive, GAMMA)
    return G if returns == "reward_to_go" else G[0][None, :] * alive


def _terms(setup: Setup, batch, rewards: np.ndarray, returns: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(A (n, 3), S (n, 3), per-step scores (T, n, 3)) of each episode of ``batch``."""
    steps = setup.step_scores(batch, masked=True)
    W = _weights(rewards, batch.alive, returns)
    return (steps * W[..., None]).sum(axis=0), steps.sum(axis=0), steps


@dataclass(frozen=True)
class VarianceCurve:
    """The exact Var(b) of a one-episode estimate (module docstring) and its landmarks."""

    returns: str  # "episode" or "reward_to_go"
    a2: float  # Var(b) = a2 b^2 + a1 b + a0
    a1: float
    a0: float
    b_star: float  # -a1 / (2 a2): the variance-minimising constant
    b_star_formula: float  # E[|S|^2 W_0] / E[|S|^2] (for "episode", = b_star up to rounding)
    mean_return: float  # J = E[R], the usual choice of b

    def landmarks(self) -> dict[str, float]:
        """The two baselines the page marks, by label: the best constant b* and the mean return J."""
        return {f"b* = {self.b_star:.2f}": self.b_star, f"J = {self.mean_return:.2f}": self.mean_return}

    def variance(self, b, episodes: int = 1):
        """Var(b) / episodes, for a number or an array of b."""
        b = np.asarray(b, dtype=np.float64)
        return (self.a2 * b * b + self.a1 * b + self.a0) / episodes

    @property
    def at_zero(self) -> float:
        return float(self.variance(0.0))

    @property
    def at_mean_return(self) -> float:
        return float(self.variance(self.mean_return))

    @property
    def at_b_star(self) -> float:
        return float(self.variance(self.b_star))


def variance_curve(setup: Setup, returns: str = "episode") -> VarianceCurve:
    """Var(b) of the one-episode estimate at the setup's theta, by enumeration."""
    traj = setup.problem.trajectories(setup.policy)
    p, alive = traj.prob, traj.batch.alive
    A, S, steps = _terms(setup, traj.batch, traj.mean_reward, returns)
    # the reward noise: r_t' enters W_t for every t whose weight contains it
    contains = np.tril(np.ones((len(alive), len(alive)))) if returns == "reward_to_go" else np.ones((len(alive),) * 2)
    V = np.einsum("ut,tnp->unp", contains.T, steps) * alive[..., None]  # (t', n, 3): sum_{t: t' in W_t} s_t
    noise = setup.problem.noise**2 * float(p @ (V**2).sum(axis=(0, 2)))
    EA, ES = p @ A, p @ S
    a2 = float(p @ (S * S).sum(axis=1) - ES @ ES)
    a1 = float(-2 * (p @ (A * S).sum(axis=1) - EA @ ES))
    a0 = float(p @ (A * A).sum(axis=1) + noise - EA @ EA)
    R = traj.mean_reward.sum(axis=0)
    S_sq = (S * S).sum(axis=1)
    return VarianceCurve(returns, a2, a1, a0, -a1 / (2 * a2), float(p @ (S_sq * R) / (p @ S_sq)), float(p @ R))


@dataclass(frozen=True)
class MeasuredPoints:
    """The variance of one-episode estimates measured at a few b, from the same episodes."""

    b: np.ndarray  # (K,)
    variance: np.ndarray  # (K,) trace of the sample covariance (ddof 1)
    se: np.ndarray  # (K,) its standard error, std_i ||g_i - mean||^2 / sqrt(M)
    episodes: int  # M, episodes drawn


def episode_estimates(setup: Setup, batch, b: float, returns: str = "episode") -> np.ndarray:
    """(M, 3) the one-episode estimates sum_t grad log pi (W_t - b) of each episode of ``batch``."""
    A, S, _ = _terms(setup, batch, batch.rewards, returns)
    return A - b * S


def measured_points(setup: Setup, bs, seed, episodes: int = 4000, returns: str = "episode") -> MeasuredPoints:
    """``episodes`` sampled episodes; at each b of ``bs`` the variance of their one-episode
    estimates, with its standard error."""
    batch = setup.problem.sample(setup.policy, episodes, _rng(seed))
    bs = np.asarray(bs, dtype=np.float64)
    var, se = np.zeros(len(bs)), np.zeros(len(bs))
    A, S, _ = _terms(setup, batch, batch.rewards, returns)  # episode_estimates' terms, which b leaves alone
    for k, b in enumerate(bs):
        g = A - b * S
        d = ((g - g.mean(axis=0)) ** 2).sum(axis=1) * episodes / (episodes - 1)
        var[k], se[k] = d.mean(), d.std(ddof=1) / np.sqrt(episodes)
    return MeasuredPoints(bs, var, se, episodes)
