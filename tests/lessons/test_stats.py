"""pg.lessons.stats: every statistic of a stack of gradient estimates against plain loops."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pg.lessons.stats import EstimateStatistics, estimate_statistics


def cos(u, v) -> float:
    dot = sum(a * b for a, b in zip(u, v))
    return dot / math.sqrt(sum(a * a for a in u)) / math.sqrt(sum(b * b for b in v))


@pytest.fixture
def stack():
    rng = np.random.default_rng(0)
    estimates = rng.normal(size=(9, 4)) + np.array([1.0, -2.0, 0.0, 0.5])
    exact = np.array([1.0, -2.0, 0.1, 0.4])
    return estimates, exact


def test_statistics_match_plain_loops(stack):
    estimates, exact = stack
    s = estimate_statistics(estimates, exact)
    n, P = estimates.shape
    rows = [list(e) for e in estimates]
    mean = [sum(e[j] for e in rows) / n for j in range(P)]
    per_component = [sum((e[j] - mean[j]) ** 2 for e in rows) / (n - 1) for j in range(P)]
    variance = sum(per_component)
    assert s.n_estimates == n
    np.testing.assert_allclose(s.mean, mean, rtol=1e-12)
    np.testing.assert_allclose(s.standard_error, [math.sqrt(v / n) for v in per_component], rtol=1e-12)
    assert s.variance == pytest.approx(variance, rel=1e-12)
    assert s.relative_variance == pytest.approx(variance / sum(m * m for m in mean), rel=1e-12)

    loo = []  # each estimate against the mean of the others
    for i in range(n):
        others = [rows[k] for k in range(n) if k != i]
        loo.append(cos(rows[i], [sum(e[j] for e in others) / (n - 1) for j in range(P)]))
    loo_mean = sum(loo) / n
    assert s.cosine_mean == pytest.approx(loo_mean, rel=1e-12)
    assert s.cosine_std == pytest.approx(math.sqrt(sum((c - loo_mean) ** 2 for c in loo) / n), rel=1e-12)

    bias_sq = sum((m - x) ** 2 for m, x in zip(mean, exact))
    assert s.bias == pytest.approx(math.sqrt(bias_sq), rel=1e-12)
    assert s.bias_sq == pytest.approx(bias_sq, rel=1e-12)
    assert s.bias_se == pytest.approx(math.sqrt(variance / n), rel=1e-12)
    mse = sum(sum((e[j] - exact[j]) ** 2 for j in range(P)) for e in rows) / n
    assert s.mse == pytest.approx(mse, rel=1e-12)
    assert s.mse == pytest.approx(bias_sq + variance * (n - 1) / n, rel=1e-12)  # the decomposition in the docstring
    assert s.cosine_exact == pytest.approx(sum(cos(e, exact) for e in rows) / n, rel=1e-12)
    assert s.exact_norm == pytest.approx(math.sqrt(sum(x * x for x in exact)), rel=1e-12)


def test_small_hand_example():
    """Two estimates (1, 1) and (1, -1) of (1, 0): their mean is exact, each is 45 degrees off,
    and each component's variance is 0 and 2."""
    s = estimate_statistics(np.array([[1.0, 1.0], [1.0, -1.0]]), np.array([1.0, 0.0]))
    assert s.variance == pytest.approx(2.0)
    assert s.bias_sq == pytest.approx(0.0) and s.bias == pytest.approx(0.0)
    assert s.cosine_exact == pytest.approx(1 / math.sqrt(2))
    np.testing.assert_allclose(s.standard_error, [0.0, 1.0])


def test_without_the_exact_gradient_the_error_fields_are_absent(stack):
    estimates, exact = stack
    s = estimate_statistics(estimates)
    assert not s.has_exact and s.bias is None and s.bias_sq is None and s.mse is None
    assert estimate_statistics(estimates, exact).has_exact
    assert s.variance == estimate_statistics(estimates, exact).variance  # the spread does not need grad J
    assert set(s.as_dict()) == {"n_estimates", "mean", "variance", "relative_variance", "cosine_mean", "cosine_std"}


def test_as_dict_is_the_probe_row(stack):
    estimates, exact = stack
    s = estimate_statistics(estimates, exact)
    row = s.as_dict()
    assert list(row) == ["n_estimates", "mean", "variance", "relative_variance", "cosine_mean", "cosine_std",
                         "bias_sq", "mse", "cosine_exact", "exact_norm"]
    for key, value in row.items():
        np.testing.assert_array_equal(value, getattr(s, key))


def test_zero_estimates_give_no_nan_cosines():
    """A baseline of 0 makes every estimate 0: no direction, cosines 0 (not nan), variance 0."""
    s = estimate_statistics(np.zeros((5, 3)), np.array([1.0, 0.0, 0.0]))
    assert s.variance == 0.0 and s.relative_variance == math.inf
    assert s.cosine_mean == 0.0 and s.cosine_std == 0.0 and s.cosine_exact == 0.0
    np.testing.assert_array_equal(s.standard_error, 0.0)


def test_the_layout_of_the_stack_does_not_change_a_bit():
    """A column selection (Setup.d_theta's fancy index) is not C-contiguous, and NumPy sums a
    strided column in another order (on these 200 rows, with NumPy 2, np.var differs in the last
    bit between the two layouts); the
    statistics must not depend on that, or the page's numbers would depend on how the stack was
    built."""
    estimates = np.random.default_rng(1).normal(size=(200, 3)) + np.array([1.0, -2.0, 0.3])
    picked = np.concatenate([estimates, estimates], axis=1)[..., np.arange(3)]
    assert not picked.flags.c_contiguous
    exact = np.array([1.0, -2.0, 0.3])
    a, b = estimate_statistics(picked, exact), estimate_statistics(estimates, exact)
    assert a.variance == b.variance and a.bias == b.bias and a.mse == b.mse
    np.testing.assert_array_equal(a.standard_error, b.standard_error)


@pytest.mark.parametrize("shape", [(1, 3), (4,), (2, 3, 1)])
def test_refuses_fewer_than_two_estimates_or_a_wrong_shape(shape):
    with pytest.raises(ValueError, match=r"\(M, P\) array with M >= 2"):
        estimate_statistics(np.ones(shape))


def test_results_are_frozen(stack):
    s = estimate_statistics(*stack)
    assert isinstance(s, EstimateStatistics)
    with pytest.raises(AttributeError):
        s.variance = 0.0
