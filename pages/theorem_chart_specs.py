"""The theorem page's charts as Vega-Lite dicts, cached like its checks (pages/theorem_compute.py,
whose ``clear`` empties these too): each chart's layout is built once (pg/viz/spec.py templates)
and its data once per the inputs of the check it draws."""

from __future__ import annotations

import numpy as np

from pages import theorem_compute as compute
from pg.viz import theorem_charts as charts


# ---------------------------------------------------------------------------------------------
# The charts, as Vega-Lite dicts: building and validating an Altair chart costs more than most
# checks, so each layout is built once (pg.viz.spec templates) and each chart's data once per its
# inputs; the slider's b is added per b (theorem_charts.with_b_rule)
# ---------------------------------------------------------------------------------------------
@compute.cached
def components_spec(problem: str, theta: tuple, episodes: int, seed: int) -> dict:
    est = compute.estimate(problem, theta, episodes, seed)
    labels = list(compute.setup_of(problem, theta).theta_labels)
    return charts.gradient_components_spec(labels, est.exact, est.g_hat, f"one estimate, N = {episodes}", large=True)


@compute.cached
def rmse_spec(problem: str, theta: tuple, episodes: int, seed: int) -> dict:
    rm = compute.rmse_study(problem, theta, seed)
    return charts.rmse_spec(rm.n, rm.measured, rm.rmse_exact, highlight_n=episodes, large=True, height=420)


@compute.cached
def variance_bars_spec(problem: str, theta: tuple, episodes: int, seed: int) -> dict:
    var = compute.variance(problem, theta, episodes, seed)
    return charts.variance_spec([r.estimator for r in var.rows], [r.variance for r in var.rows],
                                [r.has_baseline for r in var.rows], signal=var.exact_sq_norm, large=True)


@compute.cached
def baseline_curve_spec(problem: str, theta: tuple, episodes: int, seed: int) -> dict:
    """Var(b) / N exactly, the measured points over it, b* and J marked (without the slider's b)."""
    curve, pts = compute.variance_curve(problem, theta), compute.variance_points(problem, theta, seed)
    grid = np.linspace(float(pts.b.min()), float(pts.b.max()), 121)
    return charts.baseline_variance_spec(grid, curve.variance(grid, episodes), pts.b, pts.variance / episodes,
                                         pts.se / episodes, curve.landmarks(), large=True)
