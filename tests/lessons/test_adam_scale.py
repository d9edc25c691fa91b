"""pg.lessons.adam_scale: SGD's update scales with c, Adam's does not (up to a stated bound)."""

import numpy as np
import pytest

from pg.lessons import derivation as d
from pg.lessons.adam_scale import adam_scale_study, scale_check


@pytest.mark.parametrize("c", (0.05, 0.5, 3.0))
def test_constant_factor_sgd_scales_adam_does_not(c):
    grads = np.random.default_rng(0).normal(0, 0.2, size=(15, 4))
    check = scale_check(grads, c)
    np.testing.assert_allclose(check.sgd_ratio, c, rtol=1e-12)
    assert check.adam_max_rel_diff <= check.adam_bound * (1 + 1e-6) + 1e-12
    assert np.abs(check.adam_ratio - 1).max() <= check.adam_bound * (1 + 1e-6) + 1e-12
    assert check.adam_bound < 1e-4


def test_the_bound_is_not_vacuous():
    """With an eps as large as the gradients the difference is large, and still within the bound."""
    grads = np.random.default_rng(1).normal(0, 1e-3, size=(10, 3))
    check = scale_check(grads, 0.1, eps=1e-3)
    assert check.adam_max_rel_diff > 0.1
    assert check.adam_max_rel_diff <= check.adam_bound * (1 + 1e-6)


def test_mean_vs_sum_on_the_page_problem():
    study = adam_scale_study(d.make_setup("tiny_cartpole", (0.5, 0.0, -0.5)), 16, 0)
    const, varying = study.constant, study.varying_scale
    np.testing.assert_allclose(const.sgd_ratio, const.c, rtol=1e-12)
    assert const.c[0] < 0.5  # the mean over steps is a much smaller gradient
    assert np.abs(const.adam_ratio - 1).max() < 1e-6
    np.testing.assert_allclose(varying.sgd_ratio, varying.c, rtol=1e-12)
    assert np.ptp(varying.c) > 0.01  # c varies with the batch, so Adam cancels only its average
    assert np.abs(varying.adam_ratio - 1).max() < 0.1


def test_scale_check_rejects_non_positive_c():
    with pytest.raises(ValueError, match="positive"):
        scale_check(np.ones((2, 2)), 0.0)


def test_a_zero_gradient_has_no_step_ratio_rather_than_a_warning():
    grads = np.array([[0.0, 0.0, 0.0], [1e-2, -2e-2, 3e-2]])
    with np.errstate(all="raise"):
        check = scale_check(grads, 0.5)
    assert np.isnan(check.sgd_ratio[0]) and check.sgd_ratio[1] == pytest.approx(0.5, rel=1e-12)
    assert np.isnan(check.adam_ratio[0]) and check.adam_ratio[1] == pytest.approx(1.0, abs=1e-6)
