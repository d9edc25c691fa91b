"""pg.lessons.tightened: the page's one call for issue 15's checks."""

import numpy as np
import pytest

from pg.lessons import derivation as d
from pg.lessons.tightened import STREAMS, stream, tightened_checks


@pytest.mark.parametrize("problem", d.PROBLEMS)
def test_tightened_checks_run_and_are_deterministic(problem):
    a, b = tightened_checks(problem, (0.5, 0.0, -0.5), 8, 3), tightened_checks(problem, (0.5, 0.0, -0.5), 8, 3)
    np.testing.assert_array_equal(a.normalisation.mean_normalised, b.normalisation.mean_normalised)
    assert a.rmse.slope == b.rmse.slope
    assert a.on_policy.stale_error > 0.01 and a.on_policy.weighted_error < 1e-10
    assert len(a.variance_points.b) == len(a.variance_points.variance)


def test_streams_are_apart_from_the_derivation_s():
    ours = {tuple(stream(0, s).entropy) for s in STREAMS}
    theirs = {tuple(d.stream(0, s).entropy) for s in d.STREAMS}
    assert not ours & theirs


def test_bad_input_is_a_clear_error():
    with pytest.raises(ValueError, match="episodes"):
        tightened_checks("tiny_cartpole", (0, 0, 0), 1, 0)
    with pytest.raises(ValueError, match="problem"):
        tightened_checks("pong", (0, 0, 0), 8, 0)


@pytest.mark.parametrize("problem", d.PROBLEMS)
def test_the_measured_bs_cover_the_slider_and_both_landmarks(problem):
    from pg.lessons.baseline_curve import variance_curve
    from pg.lessons.tightened import BASELINE_POINTS, baseline_grid

    curve = variance_curve(d.make_setup(problem, (0.5, 0.0, -0.5)), "episode")
    grid = baseline_grid(curve)
    assert len(grid) == BASELINE_POINTS and grid[0] <= -5 and grid[-1] >= 5
    assert grid[0] < min(curve.b_star, curve.mean_return) and grid[-1] > max(curve.b_star, curve.mean_return)
