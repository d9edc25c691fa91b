"""Two sentences of the theorem page, each as a check that could fail.

**On-policy.** The theorem's expectation is over trajectories of pi_theta itself. Episodes
from an older policy pi_old (a replay buffer, a batch reused after an update) give an estimator
whose expectation is not grad J(theta); weighting each episode by
w(tau) = P(tau; theta) / P(tau; theta_old) = prod_t pi_theta(a_t|s_t) / pi_old(a_t|s_t)
(the dynamics cancel) restores it. ``on_policy_check`` computes both expectations exactly, by
enumeration, with w from the two policies' log-probabilities of each step.

**The loss is not the performance.** The surrogate L = -1/N sum logp * adv
(pg.algo.reinforce.surrogate_loss) is built so that its gradient is -g_hat; its value means
nothing. ``loss_check`` shows it exactly: its expected value moves with a constant baseline b
(by b E[sum_t log pi], while J does not move at all), and along exact gradient-ascent steps it
need not fall while J rises.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pg.algo.returns import reward_to_go
from pg.lessons.derivation import GAMMA, Setup
from pg.lessons.theory import exact_objective


def _weighted_score_sum(policy, traj, weights: np.ndarray) -> np.ndarray:
    """(P,) sum over trajectories and steps of weights[t, j] grad log pi(a_t|s_t)."""
    b = traj.batch
    return policy.grad_log_prob(b.obs[b.alive], b.actions[b.alive], weights[b.alive])


def _log_prob_steps(policy, traj) -> np.ndarray:
    """(T, n) log pi(a_t|s_t) of each step of each enumerated trajectory (0 after its end)."""
    b = traj.batch
    out = np.zeros(b.alive.shape)
    out[b.alive] = policy.log_prob(b.obs[b.alive], b.actions[b.alive])
    return out


@dataclass(frozen=True)
class OnPolicyCheck:
    """Episodes of pi_old, used to estimate grad J at theta: exactly, with and without weights."""

    theta_old: np.ndarray  # (3,) the policy the episodes come from
    exact: np.ndarray  # (3,) grad J(theta)
    stale: np.ndarray  # (3,) E_{tau ~ pi_old}[sum_t grad log pi_theta(a_t|s_t) G_t]
    weighted: np.ndarray  # (3,) E_{tau ~ pi_old}[w(tau) sum_t grad log pi_theta(a_t|s_t) G_t]
    stale_error: float  # ||stale - exact||: > 0 unless theta_old = theta
    weighted_error: float  # ||weighted - exact||: 0 up to rounding
    max_weight: float  # the largest w(tau): how far apart the policies are


def on_policy_check(setup: Setup, theta_old) -> OnPolicyCheck:
    """Reward-to-go estimates at the setup's theta from episodes of theta_old, exactly."""
    old = setup.policy_at(np.asarray(theta_old, dtype=np.float64))
    traj = setup.problem.trajectories(old)  # the same paths as under theta, with pi_old's probabilities
    G = reward_to_go(traj.mean_reward, traj.batch.alive, GAMMA)
    log_w = (_log_prob_steps(setup.policy, traj) - _log_prob_steps(old, traj)).sum(axis=0)  # (n,)
    w = np.exp(log_w)
    stale = setup.d_theta(_weighted_score_sum(setup.policy, traj, G * traj.prob))
    weighted = setup.d_theta(_weighted_score_sum(setup.policy, traj, G * (traj.prob * w)))
    exact = setup.exact_grad
    return OnPolicyCheck(np.asarray(theta_old, dtype=np.float64), exact, stale, weighted,
                         float(np.linalg.norm(stale - exact)), float(np.linalg.norm(weighted - exact)),
                         float(w.max()))


def _enumerated(setup: Setup, theta):
    """(policy, trajectories, alive, G, log pi of each step) at ``theta``: one enumeration."""
    policy = setup.policy_at(theta)
    traj = setup.problem.trajectories(policy)
    alive = traj.batch.alive
    return policy, traj, alive, reward_to_go(traj.mean_reward, alive, GAMMA), _log_prob_steps(policy, traj)


def _expected_loss(traj, alive, G, logp, b: float) -> float:
    return float(-(traj.prob * (logp * (G - b) * alive).sum(axis=0)).sum())


def _loss_J_grad(setup: Setup, theta, b: float = 0.0, enumerated=None) -> tuple[float, float, np.ndarray]:
    """(E[surrogate loss] with baseline b, J, grad J (3,)) at ``theta``, from one enumeration
    (``enumerated``: ``_enumerated(setup, theta)``, if already computed)."""
    policy, traj, alive, G, logp = _enumerated(setup, theta) if enumerated is None else enumerated
    J = float(traj.prob @ G[0])
    grad = setup.d_theta(_weighted_score_sum(policy, traj, G[0][None, :] * alive * traj.prob))  # R(tau) grad log P
    return _expected_loss(traj, alive, G, logp, b), J, grad


def expected_surrogate_loss(setup: Setup, theta, b: float = 0.0) -> float:
    """E_tau[-sum_t log pi_theta(a_t|s_t) (G_t - b)] at ``theta``, exactly: the expectation of
    pg.algo.reinforce.surrogate_loss with a constant baseline b."""
    return _loss_J_grad(setup, theta, b)[0]


@dataclass(frozen=True)
class LossCheck:
    """The surrogate's expected value against J: against b, and along gradient ascent."""

    bs: np.ndarray  # (K,) constant baselines
    loss_vs_b: np.ndarray  # (K,) E[L] at theta for each b: a straight line in b
    J: float  # J(theta): the same for every b
    loss_slope: float  # d E[L] / db = E[sum_t log pi(a_t|s_t)] (< 0: never 0)
    path_J: np.ndarray  # (S + 1,) J along theta_{k+1} = theta_k + lr grad J(theta_k)
    path_loss: np.ndarray  # (S + 1,) E[L] (b = 0) along the same path
    both_rose: int  # steps where J rose and the loss rose too (a loss that "got worse")

    @property
    def J_rose(self) -> int:
        """Steps where J rose."""
        return int((np.diff(self.path_J) > 0).sum())


def loss_check(setup: Setup, bs=(-2.0, 0.0, 2.0, 4.0), steps: int = 10, lr: float = 0.5) -> LossCheck:
    """The expected surrogate loss at theta for each b in ``bs`` beside J, and both along
    ``steps`` exact gradient-ascent steps of size ``lr`` from theta."""
    bs = np.asarray(bs, dtype=np.float64)
    at_theta = _enumerated(setup, setup.theta)  # the losses against b, the slope and the path's start share it
    _, traj, alive, G, logp = at_theta
    losses = np.array([_expected_loss(traj, alive, G, logp, b) for b in bs])  # expected_surrogate_loss at each b
    slope = float(traj.prob @ logp.sum(axis=0))
    theta, path_J, path_loss = setup.theta.copy(), [], []
    for k in range(steps + 1):
        loss, J, grad = _loss_J_grad(setup, theta, enumerated=at_theta if k == 0 else None)
        path_J.append(J)
        path_loss.append(loss)
        theta = theta + lr * grad
    path_J, path_loss = np.array(path_J), np.array(path_loss)
    both = int(((np.diff(path_J) > 0) & (np.diff(path_loss) > 0)).sum())
    return LossCheck(bs, losses, exact_objective(setup.problem, setup.policy, GAMMA), slope, path_J, path_loss, both)
