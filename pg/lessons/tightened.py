"""The theorem page's newer checks (issue 15) from its widgets, in one call, like derivation.all_checks.

The page itself calls each check on its own, cached by its own inputs (pages/theorem_compute.py),
with the streams and constants defined here; ``tightened_checks`` gathers the same checks in one
call for tests and scripts. Each check has its own random stream, apart from derivation.stream's
(so adding these leaves the page's existing numbers alone): ``stream(seed, name)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pg.lessons.adam_scale import AdamScaleStudy, adam_scale_study
from pg.lessons.baseline_curve import MeasuredPoints, VarianceCurve, measured_points, variance_curve
from pg.lessons.derivation import Setup, make_setup
from pg.lessons.discounting import GAMMAS, DiscountingCheck, discounting_table
from pg.lessons.normalisation import NormalisationStudy, normalisation_study
from pg.lessons.on_policy import LossCheck, OnPolicyCheck, loss_check, on_policy_check
from pg.lessons.rmse import RmseStudy, rmse_study

STREAMS = ("normalisation", "adam", "baseline_points", "rmse")
OLD_POLICY_SHIFT = (-1.0, 0.5, 1.0)  # theta_old = theta + this: another policy (a uniform shift would
# leave the bandit's softmax unchanged)
BASELINE_POINTS = 9  # measured b values, evenly over baseline_grid's range


def baseline_grid(curve: VarianceCurve) -> np.ndarray:
    """The b values measured over the exact curve: the page's slider range (-5 to 5), widened
    to reach b* and the mean return with a margin of 1."""
    low = min(-5.0, curve.b_star - 1.0, curve.mean_return - 1.0)
    high = max(5.0, curve.b_star + 1.0, curve.mean_return + 1.0)
    return np.linspace(low, high, BASELINE_POINTS)


def stream(seed: int, check: str) -> np.random.SeedSequence:
    """The random stream of one check of this module (100 + its index, apart from derivation's)."""
    return np.random.SeedSequence([int(seed), 100 + STREAMS.index(check)])


@dataclass(frozen=True)
class TightenedChecks:
    """Issue 15's checks at one problem, theta, N and seed."""

    setup: Setup
    discounting: tuple[DiscountingCheck, ...]  # one per gamma of discounting.GAMMAS
    normalisation: NormalisationStudy
    adam: AdamScaleStudy
    on_policy: OnPolicyCheck
    loss: LossCheck
    variance_curve: VarianceCurve  # the whole-return form of the page's baseline step
    variance_points: MeasuredPoints  # measured over it
    rmse: RmseStudy  # step 4


def tightened_checks(problem: str, theta, episodes: int, seed: int) -> TightenedChecks:
    """Every check of this module for the page's widgets (``episodes`` >= 2 for normalisation)."""
    setup = make_setup(problem, theta)
    if isinstance(episodes, bool) or not 2 <= int(episodes) <= 4096:
        raise ValueError(f"episodes must be an integer in [2, 4096], got {episodes!r}")
    curve = variance_curve(setup, "episode")
    return TightenedChecks(
        setup=setup,
        discounting=discounting_table(setup, GAMMAS),
        normalisation=normalisation_study(setup, int(episodes), stream(seed, "normalisation")),
        adam=adam_scale_study(setup, int(episodes), stream(seed, "adam")),
        on_policy=on_policy_check(setup, setup.theta + np.asarray(OLD_POLICY_SHIFT)),
        loss=loss_check(setup),
        variance_curve=curve,
        variance_points=measured_points(setup, baseline_grid(curve), stream(seed, "baseline_points")),
        rmse=rmse_study(setup, stream(seed, "rmse")),
    )
