"""The theorem page's checks, one cached function per step, each keyed by its own inputs only.

A widget that feeds one step (b, the learning rate) therefore recomputes that step and nothing
else; a new seed recomputes only the steps that sample (the exact ones are hits); the sidebar's
problem, theta and N reach every step, each computed once. Each function looks its pg function
up at call time (``derivation.objective_check``, not an imported name), so a test can count the
calls by patching the pg module (tests/pages/test_theorem.py).

Inputs are plain values (the problem's name, theta as a tuple, N, the seed): what st.cache_data
hashes. Each step has its own random stream (pg.lessons.derivation.stream, tightened.stream),
so the steps' numbers do not depend on which other steps ran.
"""

from __future__ import annotations

import functools

import numpy as np
import streamlit as st

from pg.lessons import adam_scale, baseline_curve, derivation, discounting, normalisation, on_policy, rmse, tightened

ENTRIES = 32  # per step: a room's sessions at a few settings each, bounded
CACHED = []  # every cached function of this module, for clear()


def cached(f):
    """st.cache_data with this page's bound, noted in CACHED."""
    f = st.cache_data(max_entries=ENTRIES, show_spinner=False)(f)
    CACHED.append(f)
    return f


def clear() -> None:
    """Empty this page's caches (a test that counts computations starts from nothing)."""
    for f in CACHED:
        f.clear()
    setup_of.cache_clear()


@functools.lru_cache(maxsize=ENTRIES)
def setup_of(problem: str, theta: tuple) -> derivation.Setup:
    """One Setup per (problem, theta), shared by the steps (and sessions), so that its exact
    gradient is computed once. The checks only read a setup; its cached properties are
    idempotent."""
    return derivation.make_setup(problem, theta)


@cached
def objective(problem: str, theta: tuple, episodes: int, seed: int):
    """Step 1."""
    return derivation.objective_check(setup_of(problem, theta), episodes, derivation.stream(seed, "objective"))


@cached
def log_derivative(problem: str, theta: tuple):
    """Step 2 (exact: no seed)."""
    return derivation.log_derivative_check(setup_of(problem, theta))


@cached
def dynamics(problem: str, theta: tuple, seed: int):
    """Step 3."""
    return derivation.dynamics_check(setup_of(problem, theta), derivation.stream(seed, "dynamics"))


@cached
def estimate(problem: str, theta: tuple, episodes: int, seed: int):
    """Step 4: one estimate."""
    return derivation.estimate_check(setup_of(problem, theta), episodes, derivation.stream(seed, "estimate"))


@cached
def rmse_study(problem: str, theta: tuple, seed: int):
    """Step 4: RMSE against N, with the slope's interval."""
    return rmse.rmse_study(setup_of(problem, theta), tightened.stream(seed, "rmse"))


@cached
def variance(problem: str, theta: tuple, episodes: int, seed: int):
    """Steps 5 and 6: every estimator on the same batches."""
    return derivation.variance_study(setup_of(problem, theta), episodes, derivation.stream(seed, "variance"))


@cached
def baseline_zero(problem: str, theta: tuple, b: float, seed: int):
    """Step 6, beside the b slider."""
    return derivation.baseline_zero_check(setup_of(problem, theta), b, derivation.stream(seed, "baseline_zero"))


@cached
def variance_curve(problem: str, theta: tuple):
    """Step 6: Var(b) exactly (no seed)."""
    return baseline_curve.variance_curve(setup_of(problem, theta), "episode")


@cached
def variance_points(problem: str, theta: tuple, seed: int):
    """Step 6: the variance measured at a few b (the grid depends on theta only)."""
    setup = setup_of(problem, theta)
    curve = variance_curve(problem, theta)
    return baseline_curve.measured_points(setup, tightened.baseline_grid(curve), tightened.stream(seed, "baseline_points"))


@cached
def update(problem: str, theta: tuple, episodes: int, lr: float, seed: int):
    """Step 7, beside the learning-rate slider."""
    return derivation.update_check(setup_of(problem, theta), episodes, lr, derivation.stream(seed, "update"))


@cached
def loss_device(problem: str, theta: tuple, episodes: int, seed: int):
    """Step 8: the loss's gradient, and mean against sum, on one batch."""
    setup = setup_of(problem, theta)
    return (derivation.loss_device_check(setup, episodes, derivation.stream(seed, "loss")),
            derivation.mean_vs_sum_check(setup, episodes, derivation.stream(seed, "loss")))  # the same batch


@cached
def discounting_table(problem: str, theta: tuple):
    """Step 9 (exact: no seed)."""
    return discounting.discounting_table(setup_of(problem, theta), discounting.GAMMAS)


@cached
def normalisation_study(problem: str, theta: tuple, episodes: int, seed: int):
    """Step 10 (None for N = 1: a batch of one episode has no spread to normalise by)."""
    if episodes < 2:
        return None
    return normalisation.normalisation_study(setup_of(problem, theta), episodes, tightened.stream(seed, "normalisation"),
                                             normalisation.page_batches(episodes))


@cached
def adam_study(problem: str, theta: tuple, episodes: int, seed: int):
    """Step 11."""
    return adam_scale.adam_scale_study(setup_of(problem, theta), episodes, tightened.stream(seed, "adam"))


@cached
def on_policy_check(problem: str, theta: tuple):
    """Step 12 (exact: no seed)."""
    setup = setup_of(problem, theta)
    return on_policy.on_policy_check(setup, setup.theta + np.asarray(tightened.OLD_POLICY_SHIFT))


@cached
def loss_check(problem: str, theta: tuple):
    """Step 13 (exact: no seed)."""
    return on_policy.loss_check(setup_of(problem, theta))
