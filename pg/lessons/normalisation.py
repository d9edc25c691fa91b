"""Advantage normalisation, measured: what it does to the direction and the scale of g_hat.

Training (TrainConfig's default) replaces each batch's advantages by (adv - mean) / std over
the batch's steps before g_hat = 1/N sum grad log pi * adv. On the theorem page's tiny problem
this module draws many independent batches from one policy and computes, on each batch, the
estimate without and with that step (reward-to-go minus the batch-mean baseline, gamma = 1, as
the page's step 7), then compares both with the exact gradient:

* direction: the average cosine between one batch's estimate and grad J, each with its SE;
* scale: the average ratio ||normalised|| / ||plain|| (normalising divides by the spread of the
  advantages, a number that depends on the batch, so the learning rate's meaning changes);
* bias: the mean of the normalised estimates is *not* c * grad J for any c (mean and std come
  from the same batch as the steps they rescale). ``orthogonal`` is the part of that mean
  perpendicular to grad J, beside ``orthogonal_noise``: the size noise alone gives it
  (sqrt of the trace of the projected covariance / M). For the plain, unbiased estimator the
  ratio is about 1; a ratio of many units is a bias that noise cannot explain.

The estimates are computed for all batches at once (``batch_estimates``);
tests/lessons/test_normalisation.py checks them against pg.algo.reinforce.reinforce_gradient
batch by batch, so they are what training computes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pg.algo.returns import reward_to_go
from pg.lessons.derivation import GAMMA, Setup, _rng
from pg.lessons.stats import cosines

NORMALISATION_BATCHES = 2000  # the most batches a page draws
NORMALISATION_EPISODES = 16_384  # the most episodes a page draws in all (about 0.05 s on the tiny problem)


def page_batches(episodes: int) -> int:
    """How many batches of ``episodes`` episodes the page draws: NORMALISATION_BATCHES, fewer
    for large N so that the episodes stay within NORMALISATION_EPISODES (at least 64)."""
    return max(64, min(NORMALISATION_BATCHES, NORMALISATION_EPISODES // max(int(episodes), 1)))


def batch_estimates(setup: Setup, batch, episodes: int, normalize: bool) -> np.ndarray:
    """(M, 3) one estimate per batch of ``episodes`` consecutive episodes of ``batch`` (T, M * N):
    reward-to-go minus the leave-one-out batch mean (pg.algo.baselines.BatchMean), normalised
    per batch as pg.algo.baselines.normalize_advantages if ``normalize``."""
    return _batch_estimates(setup, batch, episodes, (normalize,))[0]


def _batch_estimates(setup: Setup, batch, episodes: int, flags) -> list[np.ndarray]:
    """``batch_estimates`` for each ``normalize`` of ``flags``, the returns and scores computed once."""
    T, total = batch.alive.shape
    M, N = total // episodes, episodes
    alive = batch.alive.reshape(T, M, N)
    G = reward_to_go(batch.rewards, batch.alive, GAMMA).reshape(T, M, N)
    others = alive.sum(axis=2, keepdims=True) - 1
    b = np.divide(G.sum(axis=2, keepdims=True) - G, others, out=np.zeros_like(G), where=others > 0) * alive
    plain = (G - b) * alive
    score = setup.step_scores(batch).reshape(T, M, N, -1)
    out = []
    for normalize in flags:
        adv = plain
        if normalize:
            count = alive.sum(axis=(0, 2), keepdims=True)
            mean = adv.sum(axis=(0, 2), keepdims=True) / count
            std = np.sqrt((((adv - mean) * alive) ** 2).sum(axis=(0, 2), keepdims=True) / count)
            adv = np.where(count >= 2, (adv - mean) / (std + 1e-8), adv) * alive
        out.append(np.einsum("tmnp,tmn->mp", score, adv) / N)
    return out


def _mean_se(x: np.ndarray) -> tuple[float, float]:
    return float(x.mean()), float(x.std(ddof=1) / np.sqrt(len(x)))


def _orthogonal(estimates: np.ndarray, direction: np.ndarray) -> tuple[float, float]:
    """(||part of the mean perpendicular to direction||, the size noise alone gives it)."""
    unit = direction / np.linalg.norm(direction)
    perp = estimates - np.outer(estimates @ unit, unit)
    return _bias(perp, np.zeros_like(direction))


def _bias(estimates: np.ndarray, target: np.ndarray) -> tuple[float, float]:
    """(||mean - target||, sqrt(trace Cov / M): the size noise alone gives it)."""
    noise = np.sqrt(estimates.var(axis=0, ddof=1).sum() / len(estimates))
    return float(np.linalg.norm(estimates.mean(axis=0) - target)), float(noise)


@dataclass(frozen=True)
class NormalisationStudy:
    """Plain against normalised advantages over the same M batches (see the module docstring)."""

    episodes: int  # N, episodes per batch
    n_batches: int  # M
    exact: np.ndarray  # (3,) grad J
    cosine_plain: float  # mean over batches of cos(g_plain, grad J)
    cosine_plain_se: float  # its standard error
    cosine_normalised: float  # mean over batches of cos(g_normalised, grad J)
    cosine_normalised_se: float
    rms_ratio: float  # sqrt(mean ||g_normalised||^2 / mean ||g_plain||^2): the typical rescaling
    mean_plain: np.ndarray  # (3,) the average plain estimate (-> grad J)
    mean_normalised: np.ndarray  # (3,) the average normalised estimate
    scale: float  # mean_normalised . grad J / ||grad J||^2: its length in units of grad J
    scale_se: float  # its standard error
    bias_plain: float  # ||mean_plain - grad J||
    bias_plain_noise: float  # what noise alone gives it, sqrt(trace Cov / M): the two are alike
    bias_normalised: float  # ||mean_normalised - grad J||: normalisation's bias (length and direction)
    bias_normalised_noise: float  # what noise alone would give it
    orthogonal_plain: float  # ||mean_plain perpendicular to grad J||
    orthogonal_plain_noise: float  # what noise alone gives it
    orthogonal_normalised: float  # ||mean_normalised perpendicular to grad J||: the bias in direction
    orthogonal_normalised_noise: float

    @property
    def bias_z(self) -> float:
        """bias_normalised in units of its noise: a few units or more is a bias noise cannot make."""
        return self.bias_normalised / self.bias_normalised_noise if self.bias_normalised_noise > 0 else float("inf")

    @property
    def direction_bias_degrees(self) -> float:
        """The angle between the mean normalised estimate and grad J."""
        c = self.mean_normalised @ self.exact / (np.linalg.norm(self.mean_normalised) * np.linalg.norm(self.exact))
        return float(np.degrees(np.arccos(np.clip(c, -1.0, 1.0))))


def normalisation_study(setup: Setup, episodes: int, seed, n_batches: int = NORMALISATION_BATCHES) -> NormalisationStudy:
    """``n_batches`` batches of ``episodes`` episodes at the setup's theta, each estimated
    without and with advantage normalisation (see the module docstring)."""
    if not 2 <= episodes <= 4096 or n_batches < 2:
        raise ValueError(f"episodes must be in [2, 4096] and n_batches >= 2, got {episodes!r}, {n_batches!r}")
    batch = setup.problem.sample(setup.policy, n_batches * episodes, _rng(seed))
    plain, normalised = _batch_estimates(setup, batch, episodes, (False, True))  # batch_estimates' two
    exact = setup.exact_grad
    if not np.linalg.norm(exact) > 0:
        raise ValueError("grad J is 0 at this theta: there is no direction to compare with")
    rms = float(np.sqrt((normalised**2).sum(axis=1).mean() / max((plain**2).sum(axis=1).mean(), 1e-300)))
    along = normalised @ exact / (exact @ exact)
    cos_p, cos_p_se = _mean_se(cosines(plain, exact))
    cos_n, cos_n_se = _mean_se(cosines(normalised, exact))
    mean_n = normalised.mean(axis=0)
    return NormalisationStudy(
        episodes, n_batches, exact, cos_p, cos_p_se, cos_n, cos_n_se, rms, plain.mean(axis=0), mean_n,
        *_mean_se(along), *_bias(plain, exact), *_bias(normalised, exact),
        *_orthogonal(plain, exact), *_orthogonal(normalised, exact),
    )
