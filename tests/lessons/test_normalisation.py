"""pg.lessons.normalisation: the vectorised estimates are training's, and what normalising does
(direction kept, scale changed, a bias noise cannot explain) on the tiny problem."""

import numpy as np
import pytest

from pg.algo.baselines import make_baseline
from pg.algo.reinforce import reinforce_gradient
from pg.lessons import derivation as d
from pg.lessons.normalisation import (
    NORMALISATION_BATCHES,
    NORMALISATION_EPISODES,
    batch_estimates,
    normalisation_study,
    page_batches,
)

THETA = (0.5, 0.0, -0.5)  # the page's default


@pytest.mark.parametrize("problem", d.PROBLEMS)
@pytest.mark.parametrize("normalize", (False, True))
def test_batch_estimates_are_what_training_computes(problem, normalize):
    setup = d.make_setup(problem, (1.0, -0.5, 0.3))
    batch = setup.problem.sample(setup.policy, 6 * 5, np.random.default_rng(2))
    ours = batch_estimates(setup, batch, 5, normalize)
    for m in range(6):
        grad = reinforce_gradient(setup.policy, d._columns(batch, 5 * m, 5 * m + 5), d.GAMMA,
                                  make_baseline("batch_mean"), normalize=normalize)[0]
        np.testing.assert_allclose(ours[m], setup.d_theta(grad), atol=1e-12)


@pytest.fixture(scope="module")
def study():
    return normalisation_study(d.make_setup("tiny_cartpole", THETA), 16, 0, n_batches=20_000)


def test_plain_estimate_is_unbiased_and_normalised_is_not(study):
    assert study.bias_plain < 4.5 * study.bias_plain_noise
    assert study.bias_normalised > 8 * study.bias_normalised_noise  # a bias, not noise
    assert study.scale > 1 + 5 * study.scale_se  # here: a longer step than grad J, on average


def test_normalisation_keeps_the_direction_of_one_batch(study):
    assert abs(study.cosine_normalised - study.cosine_plain) < 0.01
    assert study.orthogonal_plain < 4.5 * study.orthogonal_plain_noise
    assert 0.9 < study.rms_ratio < 1.2


def test_normalisation_study_is_deterministic_and_checks_input():
    setup = d.make_setup("bandit", THETA)
    a, b = normalisation_study(setup, 8, 3, 50), normalisation_study(setup, 8, 3, 50)
    np.testing.assert_array_equal(a.mean_normalised, b.mean_normalised)
    with pytest.raises(ValueError, match="episodes"):
        normalisation_study(setup, 1, 0, 50)


def test_the_page_draws_a_bounded_number_of_episodes():
    assert page_batches(2) == NORMALISATION_BATCHES and page_batches(16) == NORMALISATION_EPISODES // 16
    for n in (32, 64, 256):
        assert page_batches(n) * n <= NORMALISATION_EPISODES and page_batches(n) >= 64
    assert page_batches(256) == NORMALISATION_EPISODES // 256 and page_batches(4096) == 64
