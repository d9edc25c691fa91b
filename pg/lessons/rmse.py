"""Step 4's convergence, tightened: the root-mean-square error of the N-episode estimate.

The estimate of step 4 (whole return, no baseline) is the mean of N independent one-episode
estimates, each unbiased with covariance Cov (trace: pg.lessons.baseline_curve's Var(0)). So

    RMSE(N)^2 = E||g_hat_N - grad J||^2 = trace(Cov) / N,   i.e.  RMSE(N) * sqrt(N) = sqrt(trace Cov)

for every N: an exact identity (``rmse_exact``), not a measurement. The average *error*
E||g_hat_N - grad J|| that pg.lessons.derivation.convergence_study plots follows 1/sqrt(N) only
for large N (its small-N slope depends on theta), which is why the page showed -0.40 to -0.50.

What is measured (``measured``): RMSE from ``repeats`` independent repeats at each N (repeat r
at size N averages the first N episodes of its own pool, as convergence_study does), the
least-squares slope of log RMSE against log N, and a confidence interval for that slope from
a bootstrap over the repeats (repeats resampled with replacement, seeded): the repeats are the
independent units, so the interval accounts for the points at different N sharing episodes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pg.lessons.baseline_curve import variance_curve
from pg.lessons.derivation import CONVERGENCE_NS, CONVERGENCE_REPEATS, Setup, _rng, episode_estimates

BOOTSTRAPS = 1000
LEVEL = 0.95


@dataclass(frozen=True)
class RmseStudy:
    """RMSE against N: exact, measured, and the measured slope with its interval."""

    n: np.ndarray  # (K,) episodes per estimate
    rmse_exact: np.ndarray  # (K,) sqrt(trace Cov / n): exact (an identity, by enumeration)
    rmse_sqrt_n: float  # sqrt(trace Cov): RMSE * sqrt(n), the same for every n
    measured: np.ndarray  # (K,) sqrt(mean over repeats of ||g_hat_n - grad J||^2)
    slope: float  # least-squares slope of log measured against log n (theory: exactly -0.5)
    slope_low: float  # the bootstrap interval of the slope, at ``level``
    slope_high: float
    level: float  # 0.95
    repeats: int  # independent repeats at each n
    bootstraps: int

    @property
    def interval_contains_theory(self) -> bool:
        return self.slope_low <= -0.5 <= self.slope_high


def _slopes(log_n: np.ndarray, log_rmse: np.ndarray) -> np.ndarray:
    """(B,) the least-squares slope of each row of ``log_rmse`` (B, K) against ``log_n`` (K,)."""
    x = log_n - log_n.mean()
    return (log_rmse - log_rmse.mean(axis=-1, keepdims=True)) @ x / (x @ x)


def rmse_study(setup: Setup, seed, ns=CONVERGENCE_NS, repeats: int = CONVERGENCE_REPEATS,
               bootstraps: int = BOOTSTRAPS, level: float = LEVEL) -> RmseStudy:
    """Exact and measured RMSE of the step-4 estimate for each n of ``ns`` (see the module
    docstring). ``seed`` seeds the episodes and, through a spawned stream, the bootstrap."""
    if repeats < 2 or bootstraps < 10 or not 0 < level < 1:
        raise ValueError("repeats must be >= 2, bootstraps >= 10 and level in (0, 1)")
    ns = np.asarray(ns, dtype=int)
    episode_seed, boot_seed = _seed_sequence(seed).spawn(2)
    n_max = int(ns.max())
    pool = episode_estimates(setup, setup.problem.sample(setup.policy, repeats * n_max, _rng(episode_seed)))
    running = np.cumsum(pool.reshape(repeats, n_max, -1), axis=1)
    sq_err = ((running[:, ns - 1] / ns[None, :, None] - setup.exact_grad) ** 2).sum(axis=-1)  # (repeats, K)
    measured = np.sqrt(sq_err.mean(axis=0))
    log_n = np.log(ns)
    slope = float(_slopes(log_n, np.log(measured)))
    picks = _rng(boot_seed).integers(0, repeats, size=(bootstraps, repeats))
    boot = _slopes(log_n, 0.5 * np.log(sq_err[picks].mean(axis=1)))  # (bootstraps,)
    low, high = np.quantile(boot, [(1 - level) / 2, (1 + level) / 2])
    trace_cov = variance_curve(setup, "episode").at_zero
    return RmseStudy(n=ns, rmse_exact=np.sqrt(trace_cov / ns), rmse_sqrt_n=float(np.sqrt(trace_cov)),
                     measured=measured, slope=slope, slope_low=float(low), slope_high=float(high),
                     level=level, repeats=repeats, bootstraps=bootstraps)


def _seed_sequence(seed) -> np.random.SeedSequence:
    """``seed`` (an int or a SeedSequence, e.g. pg.lessons.derivation.stream's) as a SeedSequence."""
    return seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
