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


def reference_probe(policy, episodes: int = REFERENCE_EPISODES, seed=0, gamma: float = 0.99,
                    max_steps: int = 500, problem=None, batch_episodes: int = REFERENCE_BATCH,
                    estimator: str = REFERENCE_ESTIMATOR) -> GradientProbe:
    """The probe that computes a reference at ``policy`` (on CartPole, or on a pg.lessons.theory
    ``problem``): run it (``run(seconds)`` in steps, or ``run()``), then ``reference_from_probe``."""
    n_batches = max(2, -(-int(episodes) // batch_episodes))
    return GradientProbe(policy, [estimator], n_batches, batch_episodes, seed=seed, problem=problem,
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


def reference_cosines(probe: GradientProbe, reference: ReferenceGradient) -> dict[str, dict]:
    """{estimator name: row} over a probe's estimates so far (>= 2) at the reference's policy:
    ``cosine_reference`` (mean cosine of one batch's estimate to the reference), its std and SE,
    ``cosine_mean_reference`` (the estimator's mean estimate to the reference: below 1 beyond
    the reference's noise is bias), ``relative_variance`` (variance / ||own mean||^2) and
    ``variance_per_signal`` (variance / ||reference||^2)."""
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
            "variance_per_signal": relative_variance(estimates, reference.mean),
        }
    return rows


def checkpoint_reference_probes(comparison, episodes: int = REFERENCE_EPISODES) -> dict[str, GradientProbe]:
    """{checkpoint name: reference probe} for a pg.lessons.comparison.Comparison whose checkpoints
    exist (training finished), at each checkpoint's policy with the comparison's gamma and seed."""
    s, base = comparison.settings, comparison.settings.base_config()
    return {c.name: reference_probe(c.policy, episodes, seed=[s.seed, REFERENCE_STREAM], gamma=base.gamma,
                                    max_steps=base.max_episode_steps)
            for c in comparison.checkpoints}


def comparison_reference_rows(comparison, references: dict[str, ReferenceGradient]) -> list[dict]:
    """Comparison.variance_rows() with the reference columns of ``reference_cosines`` added,
    for the checkpoints that have a reference (``references``: {checkpoint name: reference})."""
    rows = []
    for c in comparison.checkpoints:
        if c.probe is None or c.probe.n < 2 or c.name not in references:
            continue
        ref = references[c.name]
        for name, row in reference_cosines(c.probe, ref).items():
            rows.append({"name": name, "checkpoint": c.name, "reference_norm": ref.norm,
                         "reference_relative_noise": ref.relative_noise, **row})
    return rows
