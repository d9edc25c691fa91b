"""A reference gradient for the Compare page: does one batch point the right way?

The variance probe's ``cosine_mean`` compares each estimate with the mean of the same
estimator's other estimates, so it cannot see an estimator's bias (a biased estimator agrees
with itself). Here the direction is measured against a *reference*: a large-sample estimate of
the gradient at the same policy, from many more episodes than one batch, with its own error.

What the reference estimates: by default (``estimator="rtg-batch-mean"``)
E[sum_t grad log pi(a_t|s_t) G_t^gamma], the expectation of reward-to-go as training computes it
(gamma = 0.99, no gamma^t factor: see pg.lessons.discounting). The reward-to-go estimators, with
any of the baselines (fitted on other data), are unbiased for it; TD(0) and GAE(lambda < 1) are
not unless the critic is exact, and the cosine to the reference shows it. The whole-return
estimator ("reinforce") is not either when gamma < 1: G_0 = (rewards before t) + gamma^t G_t, so
its expectation carries the gamma^t factor and is grad J_gamma itself (``estimator="reinforce"``
makes that the reference; a noisier one). At gamma = 1 all these targets are grad J. The
reference runs on pg.lessons.variance.GradientProbe, so it runs in steps like the probes.

=====================  ======  ============================================================
field                  shape   meaning
=====================  ======  ============================================================
mean                   (P,)    the reference gradient
standard_error         (P,)    per component, over its batches
noise                  float   sqrt(trace Cov / K): the typical ||mean - truth||
relative_noise         float   noise / ||mean||: small means the reference's direction is sure
=====================  ======  ============================================================

Cost, measured (2 shared cores, 2048 episodes in batches of 64): 0.3 s at the untrained policy
(episodes of about 20 steps; relative noise 0.05) and 2.4 s at the policy of update 17 of the
default config (training episodes averaging 194 steps; relative noise 0.09): about 8 us per
environment step. ``reference_probe(..., episodes=...)`` trades error for time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pg.lessons.stats import cosines, estimate_statistics
from pg.lessons.variance import GradientProbe

REFERENCE_ESTIMATOR = "rtg-batch-mean"
REFERENCE_EPISODES = 2048
REFERENCE_STREAM = 15  # the reference's episodes: [seed, 15], apart from the runs' and the probes'
REFERENCE_BATCH = 64  # episodes per batch: long lock-step rollouts, and a leave-one-out mean of 63


@dataclass(frozen=True)
class ReferenceGradient:
    """A large-sample estimate of the gradient at one policy (see the module docstring)."""

    mean: np.ndarray  # (P,)
    standard_error: np.ndarray  # (P,)
    noise: float  # sqrt(trace Cov / K)
    episodes: int  # episodes behind it
    seconds: float  # what it cost

    @property
    def norm(self) -> float:
        return float(np.linalg.norm(self.mean))

    @property
    def relative_noise(self) -> float:
        return self.noise / self.norm if self.norm > 0 else float("inf")


def reference_batches(episodes: int, batch_episodes: int = REFERENCE_BATCH) -> int:
    """The batches a reference of ``episodes`` episodes runs (at least 2: its noise needs them)."""
    return max(2, -(-int(episodes) // batch_episodes))


def reference_probe(policy, episodes: int = REFERENCE_EPISODES, seed=0, gamma: float = 0.99,
                    max_steps: int = 500, problem=None, batch_episodes: int = REFERENCE_BATCH,
                    estimator: str = REFERENCE_ESTIMATOR) -> GradientProbe:
    """The probe that computes a reference at ``policy`` (on CartPole, or on a pg.lessons.theory
    ``problem``): run it (``run(seconds)`` in steps, or ``run()``), then ``reference_from_probe``."""
    return GradientProbe(policy, [estimator], reference_batches(episodes, batch_episodes), batch_episodes, seed=seed, problem=problem,
                         gamma=gamma, max_steps=max_steps)


def reference_from_probe(probe: GradientProbe) -> ReferenceGradient:
    """The reference from a probe of ``reference_probe`` with at least 2 batches done."""
    if probe.n < 2:
        raise ValueError(f"the reference needs at least 2 batches, has {probe.n}")
    stats = estimate_statistics(probe.estimates[0, : probe.n])
    return ReferenceGradient(stats.mean, stats.standard_error, float(np.sqrt(stats.variance / probe.n)),
                             probe.n * probe.episodes, probe.seconds)


def reference_gradient(policy, episodes: int = REFERENCE_EPISODES, seed=0, gamma: float = 0.99,
                       max_steps: int = 500, problem=None, estimator: str = REFERENCE_ESTIMATOR) -> ReferenceGradient:
    """The whole reference at once (a page runs ``reference_probe`` in steps instead)."""
    probe = reference_probe(policy, episodes, seed, gamma, max_steps, problem, estimator=estimator)
    probe.run()
    return reference_from_probe(probe)


def relative_variance(estimates: np.ndarray, signal: np.ndarray | None = None) -> float:
    """Trace of the covariance of ``estimates`` (M, P) over ||signal||^2 (default: their own
    mean): noise per unit of signal, comparable across estimators whose scales differ."""
    stats = estimate_statistics(estimates)
    signal = stats.mean if signal is None else np.asarray(signal, dtype=np.float64)
    sq = float(signal @ signal)
    return stats.variance / sq if sq > 0 else float("inf")


def relative_variance_se(estimates: np.ndarray) -> float:
    """The standard error of ``relative_variance(estimates)`` from its numerator: the spread
    over the M estimates of ||g_i - mean||^2 (the terms the variance averages), over sqrt(M),
    over ||mean||^2. (The denominator's own noise is left out: a lower bound for small M.)"""
    estimates = np.asarray(estimates, dtype=np.float64)
    n = len(estimates)
    mean = estimates.mean(axis=0)
    terms = ((estimates - mean) ** 2).sum(axis=1) * n / (n - 1)  # their mean is the variance (ddof 1)
    sq = float(mean @ mean)
    return float(terms.std(ddof=1) / np.sqrt(n) / sq) if sq > 0 else float("inf")


def reference_cosines(probe: GradientProbe, reference: ReferenceGradient) -> dict[str, dict]:
    """{estimator name: row} over a probe's estimates so far (>= 2) at the reference's policy:
    ``cosine_reference`` (mean cosine of one batch's estimate to the reference), its std and SE,
    ``cosine_mean_reference`` (the estimator's mean estimate to the reference: below 1 beyond
    the reference's noise is bias), ``relative_variance`` (variance / ||own mean||^2) and its
    standard error ``relative_variance_se``,
    ``variance_per_signal`` (variance / ||reference||^2) and DirectionCheck's ``angle_reference``,
    ``noise_angle``, ``beyond_noise`` and ``threshold_cosine``."""
    if probe.n < 2:
        raise ValueError(f"the probe needs at least 2 estimates, has {probe.n}")
    rows = {}
    for spec, estimates in zip(probe.specs, probe.estimates[:, : probe.n]):
        cos = cosines(estimates, reference.mean)
        rows[spec.name] = {
            "label": spec.label, "n_estimates": probe.n, "cosine_reference": float(cos.mean()),
            "cosine_reference_std": float(cos.std()), "cosine_reference_se": float(cos.std(ddof=1) / np.sqrt(len(cos))),
            "cosine_mean_reference": float(cosines(estimates.mean(axis=0)[None], reference.mean)[0]),
            "relative_variance": relative_variance(estimates),
            "relative_variance_se": relative_variance_se(estimates),
            "variance_per_signal": relative_variance(estimates, reference.mean),
            **direction_check(estimates, reference).as_dict(),
        }
    return rows


BEYOND_NOISE = 3.0  # an angle this many times the noise angle is bias, not luck (see DirectionCheck)


@dataclass(frozen=True)
class DirectionCheck:
    """Does an estimator's *average* estimate point where the reference points, up to noise?

    The mean of M estimates m and the reference r both carry noise: m's direction is uncertain by
    about theta_m = arctan(sqrt(variance / M) / ||m||) radians, r's by arctan(relative_noise). If
    the estimator is unbiased (for a multiple of the reference's target: normalised advantages
    rescale, they do not turn), the angle between m and r comes from these two alone, so it stays
    near ``noise_angle`` = sqrt(theta_m^2 + theta_r^2); ``BEYOND_NOISE`` times that is a bias.
    (Only the noise across the direction turns a vector: the check errs towards "within noise".)
    """

    angle: float  # degrees between the estimator's mean estimate and the reference
    noise_angle: float  # degrees the two noises explain
    beyond_noise: bool  # angle > BEYOND_NOISE * noise_angle: the estimator points elsewhere on average

    @property
    def threshold_cosine(self) -> float:
        """cos(BEYOND_NOISE * noise_angle) (at most 180°): a mean estimate's cosine to the
        reference below it is a bias."""
        return float(np.cos(np.radians(min(180.0, BEYOND_NOISE * self.noise_angle))))

    def as_dict(self) -> dict:
        return {"angle_reference": self.angle, "noise_angle": self.noise_angle, "beyond_noise": self.beyond_noise,
                "threshold_cosine": self.threshold_cosine}


def direction_check(estimates: np.ndarray, reference: ReferenceGradient) -> DirectionCheck:
    """The DirectionCheck of ``estimates`` (M, P), M >= 2, against ``reference``."""
    stats = estimate_statistics(estimates)
    cos = float(np.clip(cosines(stats.mean[None], reference.mean)[0], -1.0, 1.0))
    norm = float(np.linalg.norm(stats.mean))
    own = np.arctan(np.sqrt(stats.variance / stats.n_estimates) / norm) if norm > 0 else np.pi / 2
    noise = float(np.degrees(np.hypot(own, np.arctan(reference.relative_noise))))
    angle = float(np.degrees(np.arccos(cos)))
    return DirectionCheck(angle, noise, angle > BEYOND_NOISE * noise)
