"""Statistics of a stack of gradient estimates: the one place they are computed.

The variance probe (pg.lessons.variance), the theorem page's variance study and its
E[grad log pi * b] = 0 check (pg.lessons.derivation), and the unbiasedness tests all summarise
M independent estimates g_1 .. g_M of one gradient, drawn at one fixed theta, with
``estimate_statistics``:

==================  ========  ================================================================
field               shape     meaning
==================  ========  ================================================================
n_estimates         int       M, the number of estimates (rows of the stack)
mean                (P,)      the average estimate: the direction the estimator points on average
standard_error      (P,)      per component, std(g) / sqrt(M) (ddof 1): the noise of ``mean``
variance            float     trace of the covariance of one estimate, E||g - E g||^2 (ddof 1)
relative_variance   float     variance / ||mean||^2: noise per unit of signal (inf if mean is 0)
cosine_mean         float     average cosine between one estimate and the mean of the *others*
cosine_std          float     its spread over the estimates (near 1: one batch is enough)
==================  ========  ================================================================

Given the exact gradient grad J (P,), also (None without it):

==================  ========  ================================================================
bias                float     ||mean - grad J||: what averaging M estimates leaves
bias_sq             float     its square
mse                 float     E||g - grad J||^2 of one estimate: bias_sq + variance (M - 1) / M
cosine_exact        float     average cosine between one estimate and grad J
exact_norm          float     ||grad J||
==================  ========  ================================================================

``bias_se`` (sqrt(variance / M)) is the ``bias`` that noise alone gives an unbiased estimator.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class EstimateStatistics:
    """Statistics of M gradient estimates (the table in the module docstring)."""

    n_estimates: int  # M
    mean: np.ndarray  # (P,) average estimate
    standard_error: np.ndarray  # (P,) std(g) / sqrt(M), ddof 1
    variance: float  # trace of the covariance of one estimate, ddof 1
    relative_variance: float  # variance / ||mean||^2
    cosine_mean: float  # average cosine between g_i and the mean of the others
    cosine_std: float  # its standard deviation over i
    bias: float | None = None  # ||mean - grad J||  (None: no exact gradient given)
    mse: float | None = None  # average ||g_i - grad J||^2
    cosine_exact: float | None = None  # average cosine between g_i and grad J
    exact_norm: float | None = None  # ||grad J||

    @property
    def has_exact(self) -> bool:
        """Whether the exact gradient was given (then the fields from ``bias`` on are numbers)."""
        return self.bias is not None

    @property
    def bias_sq(self) -> float | None:
        """||mean - grad J||^2."""
        return None if self.bias is None else self.bias**2

    @property
    def bias_se(self) -> float:
        """sqrt(variance / M): the typical ``bias`` of an unbiased estimator, from noise alone."""
        return float(np.sqrt(self.variance / self.n_estimates))

    def as_dict(self) -> dict:
        """The variance probe's row: every statistic by name, those that need grad J only if
        it was given (a CartPole probe has no exact gradient)."""
        row = {"n_estimates": self.n_estimates, "mean": self.mean, "variance": self.variance,
               "relative_variance": self.relative_variance, "cosine_mean": self.cosine_mean,
               "cosine_std": self.cosine_std}
        if self.has_exact:
            row |= {"bias_sq": self.bias_sq, "mse": self.mse, "cosine_exact": self.cosine_exact,
                    "exact_norm": self.exact_norm}
        return row


def cosines(estimates: np.ndarray, directions: np.ndarray) -> np.ndarray:
    """(M,) cosine between each row of ``estimates`` (M, P) and the matching row of
    ``directions`` (M, P) (or one (P,) direction for all); 0 where either has length 0."""
    norms = np.linalg.norm(estimates, axis=1) * np.linalg.norm(directions, axis=-1)
    dots = (estimates * directions).sum(axis=1)
    return np.divide(dots, norms, out=np.zeros_like(dots), where=norms > 0)


def estimate_statistics(estimates: np.ndarray, exact: np.ndarray | None = None) -> EstimateStatistics:
    """Summarise ``estimates`` (M, P), M >= 2 independent estimates of one gradient, and,
    given ``exact`` (P,) grad J, their error (see the module docstring)."""
    estimates = np.ascontiguousarray(estimates, dtype=np.float64)  # sums in one order, whatever the layout
    if estimates.ndim != 2 or len(estimates) < 2:
        raise ValueError(f"estimates must be an (M, P) array with M >= 2, got shape {estimates.shape}")
    n = len(estimates)
    mean = estimates.mean(axis=0)
    variance = float(estimates.var(axis=0, ddof=1).sum())
    others = (n * mean[None, :] - estimates) / (n - 1)  # leave-one-out means: g_i is not in its own
    loo = cosines(estimates, others)
    mean_sq = float(mean @ mean)
    spread = {
        "n_estimates": n,
        "mean": mean,
        "standard_error": estimates.std(axis=0, ddof=1) / np.sqrt(n),
        "variance": variance,
        "relative_variance": variance / mean_sq if mean_sq > 0 else float("inf"),
        "cosine_mean": float(loo.mean()),
        "cosine_std": float(loo.std()),
    }
    if exact is None:
        return EstimateStatistics(**spread)
    exact = np.asarray(exact, dtype=np.float64)
    return EstimateStatistics(
        **spread,
        bias=float(np.linalg.norm(mean - exact)),
        mse=float(((estimates - exact) ** 2).sum(axis=1).mean()),
        cosine_exact=float(cosines(estimates, np.broadcast_to(exact, estimates.shape)).mean()),
        exact_norm=float(np.linalg.norm(exact)),
    )
