"""Discounting: the gradient of J_gamma, and what training computes instead.

The discounted objective J_gamma(theta) = E[sum_t gamma^t r_t] has, by the theorem applied
step by step, the gradient

    grad J_gamma = E[ sum_t gamma^t grad log pi(a_t|s_t) G_t^gamma ],   G_t^gamma = sum_{k>=t} gamma^(k-t) r_k

(the gamma^t factor: a decision at time t only affects rewards already discounted by gamma^t).
Training (pg.algo.reinforce.reinforce_gradient, like most code) drops the factor and follows

    E[ sum_t grad log pi(a_t|s_t) G_t^gamma ]

which is not the gradient of J_gamma, nor of any objective in general: the common, biased
practice. On pg.lessons.theory's problems both expectations are sums over every trajectory
(rewards at their means: both estimators are linear in the rewards and the noise has mean 0),
so the bias is exact, not estimated. At gamma = 1 the two are the same estimator.

================  =======  ===================================================================
symbol            shape    meaning
================  =======  ===================================================================
exact             (3,)     grad J_gamma by the theorem (pg.lessons.theory.exact_gradient)
with_factor       (3,)     E[sum_t gamma^t grad log pi G_t]: equals ``exact``
without_factor    (3,)     E[sum_t grad log pi G_t]: what training follows (variance.expected_estimate)
================  =======  ===================================================================
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pg.algo.baselines import NoBaseline
from pg.algo.returns import reward_to_go
from pg.lessons.derivation import Setup
from pg.lessons.theory import exact_gradient, trajectory_scores
from pg.lessons.variance import expected_estimate

GAMMAS = (1.0, 0.99, 0.9, 0.5)  # what a page shows, training's 0.99 among them


def expected_discounted_estimate(problem, policy, gamma: float, factor: bool = True) -> np.ndarray:
    """(P,) the exact expectation of one episode's sum_t [gamma^t] grad log pi(a_t|s_t) G_t^gamma
    over every trajectory (with the gamma^t factor if ``factor``, else training's estimator)."""
    traj = problem.trajectories(policy)
    b = traj.batch
    G = reward_to_go(traj.mean_reward, b.alive, gamma)
    discounts = gamma ** np.arange(len(G))[:, None] if factor else np.ones((len(G), 1))
    weights = discounts * G * traj.prob[None, :]  # each step's weight, times its trajectory's probability
    return policy.grad_log_prob(b.obs[b.alive], b.actions[b.alive], weights[b.alive])


def _cosine(u: np.ndarray, v: np.ndarray) -> float:
    denom = float(np.linalg.norm(u) * np.linalg.norm(v))
    return float(u @ v / denom) if denom > 0 else float("nan")


@dataclass(frozen=True)
class DiscountingCheck:
    """At one gamma: the gradient of J_gamma against the two estimators' exact expectations."""

    gamma: float
    exact: np.ndarray  # (3,) grad J_gamma (the theorem, by enumeration)
    with_factor: np.ndarray  # (3,) E[sum_t gamma^t grad log pi G_t]
    without_factor: np.ndarray  # (3,) E[sum_t grad log pi G_t], what pg.algo.reinforce computes
    with_factor_error: float  # ||with_factor - exact||: 0 up to rounding (unbiased)
    bias: float  # ||without_factor - exact||: the common practice's bias, exactly
    relative_bias: float  # bias / ||exact|| (nan if grad J_gamma is 0)
    length_ratio: float  # the c in without_factor ~ c * exact (least squares; nan if exact is 0)
    cosine: float  # cos(without_factor, exact): 1 would be "biased in length only"
    angle_degrees: float  # the angle between them


def _theorem_gradient(problem, policy, gamma: float, scores: np.ndarray) -> np.ndarray:
    """(P,) pg.lessons.theory.exact_gradient with the trajectories' scores computed once:
    sum_tau P(tau) R_gamma(tau) grad log P(tau) (tests check it against exact_gradient)."""
    traj = problem.trajectories(policy)
    R = ((gamma ** np.arange(len(traj.mean_reward)))[:, None] * traj.mean_reward).sum(axis=0)
    return (traj.prob * R) @ scores


def discounting_check(setup: Setup, gamma: float, scores: np.ndarray | None = None) -> DiscountingCheck:
    """The gradient of J_gamma at the setup's theta, and what each estimator follows on average.
    ``scores``: pg.lessons.theory.trajectory_scores at the setup's policy, if already computed
    (they do not depend on gamma); by default the theorem's gradient is exact_gradient's."""
    if not 0.0 < gamma <= 1.0:
        raise ValueError(f"gamma must be in (0, 1], got {gamma!r}")
    problem, policy = setup.problem, setup.policy
    exact = setup.d_theta(exact_gradient(problem, policy, gamma) if scores is None
                          else _theorem_gradient(problem, policy, gamma, scores))
    with_factor = setup.d_theta(expected_discounted_estimate(problem, policy, gamma, factor=True))
    without = setup.d_theta(expected_estimate(problem, policy, "rtg", NoBaseline(), gamma))
    bias, norm = float(np.linalg.norm(without - exact)), float(np.linalg.norm(exact))
    cosine = _cosine(without, exact)
    return DiscountingCheck(
        gamma=float(gamma), exact=exact, with_factor=with_factor, without_factor=without,
        with_factor_error=float(np.linalg.norm(with_factor - exact)), bias=bias,
        relative_bias=bias / norm if norm > 0 else float("nan"),
        length_ratio=float(without @ exact / norm**2) if norm > 0 else float("nan"), cosine=cosine,
        angle_degrees=float(np.degrees(np.arccos(np.clip(cosine, -1.0, 1.0)))),
    )


def discounting_table(setup: Setup, gammas=GAMMAS) -> tuple[DiscountingCheck, ...]:
    """``discounting_check`` at each gamma, in order (the trajectories' scores computed once)."""
    scores = trajectory_scores(setup.policy, setup.problem.trajectories(setup.policy))
    return tuple(discounting_check(setup, g, scores) for g in gammas)
