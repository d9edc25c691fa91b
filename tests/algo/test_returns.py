"""pg.algo.returns (and normalize_advantages) against plain Python loops, episode by episode and
step by step, on random padded (T, N) batches whose dead entries hold junk."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import random_padded_batch
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from pg.algo.baselines import normalize_advantages
from pg.algo.returns import episode_returns, gae, reward_to_go, whole_episode_weights

GAMMAS = [0.0, 0.5, 0.99, 1.0]
RTOL, ATOL = 1e-12, 1e-12


# ---------------------------------------------------------------------------------------------
# The references: one episode at a time, one step at a time, in Python floats
# ---------------------------------------------------------------------------------------------
def loop_reward_to_go(rewards, lengths, gamma):
    T, N = rewards.shape
    G = np.zeros((T, N))
    for n in range(N):
        for t in range(lengths[n]):
            G[t, n] = sum(gamma ** (k - t) * float(rewards[k, n]) for k in range(t, lengths[n]))
    return G


def loop_gae(rewards, values, lengths, gamma, lam, bootstrap=None):
    T, N = rewards.shape
    A = np.zeros((T, N))
    for n in range(N):
        L = lengths[n]
        after_end = 0.0 if bootstrap is None else float(bootstrap[n])
        v = [float(values[t, n]) for t in range(L)] + [after_end]
        deltas = [float(rewards[t, n]) + gamma * v[t + 1] - v[t] for t in range(L)]
        for t in range(L):
            A[t, n] = sum((gamma * lam) ** (k - t) * deltas[k] for k in range(t, L))
    return A


batches = st.tuples(st.integers(1, 25), st.integers(1, 8), st.integers(0, 2**31))
gammas = st.one_of(st.sampled_from(GAMMAS), st.floats(0.0, 1.0))


# ---------------------------------------------------------------------------------------------
# reward_to_go, episode_returns, whole_episode_weights
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("gamma", GAMMAS)
def test_reward_to_go_matches_loop(gamma):
    """G_t = sum_{k=t}^{L-1} gamma^(k-t) r_k per episode, 0 after the episode's end, for
    random lengths (junk rewards in the padding are ignored)."""
    rewards, _, alive, lengths = random_padded_batch(np.random.default_rng(0), 30, 9)
    G = reward_to_go(rewards, alive, gamma)
    assert G.shape == (30, 9) and G.dtype == np.float64
    np.testing.assert_allclose(G, loop_reward_to_go(rewards, lengths, gamma), rtol=RTOL, atol=ATOL)


@settings(max_examples=40, deadline=None)
@given(shape=batches, gamma=gammas)
def test_reward_to_go_property(shape, gamma):
    """reward_to_go equals the loop for random sizes, lengths and discounts."""
    T, N, seed = shape
    rewards, _, alive, lengths = random_padded_batch(np.random.default_rng(seed), T, N)
    np.testing.assert_allclose(
        reward_to_go(rewards, alive, gamma), loop_reward_to_go(rewards, lengths, gamma), rtol=1e-10, atol=1e-10
    )


def test_reward_to_go_of_cartpole_rewards_has_closed_form():
    """All-ones rewards: G_t = (1 - gamma^(L - t)) / (1 - gamma), and L - t when gamma = 1."""
    lengths = np.array([1, 5, 12])
    alive = np.arange(12)[:, None] < lengths
    rewards = alive.astype(float)
    t = np.arange(12)[:, None]
    np.testing.assert_allclose(reward_to_go(rewards, alive, 1.0), np.maximum(lengths - t, 0))
    expected = np.where(alive, (1 - 0.9 ** (lengths - t)) / 0.1, 0.0)
    np.testing.assert_allclose(reward_to_go(rewards, alive, 0.9), expected, rtol=1e-13)


def test_reward_to_go_accepts_bool_alive_and_int_rewards():
    alive = np.array([[True, True], [True, False]])
    rewards = np.array([[1, 1], [1, 7]])
    np.testing.assert_array_equal(reward_to_go(rewards, alive, 1.0), [[2.0, 1.0], [1.0, 0.0]])


@pytest.mark.parametrize("gamma", GAMMAS)
def test_episode_returns_and_whole_episode_weights_match_loop(gamma):
    """episode_returns = G_0 per episode; whole_episode_weights repeats G_0 on every alive step
    and is 0 elsewhere."""
    rewards, _, alive, lengths = random_padded_batch(np.random.default_rng(1), 20, 7)
    G0 = np.array([sum(gamma**k * rewards[k, n] for k in range(lengths[n])) for n in range(7)])
    returns = episode_returns(rewards, alive, gamma)
    assert returns.shape == (7,)
    np.testing.assert_allclose(returns, G0, rtol=RTOL, atol=ATOL)
    weights = whole_episode_weights(rewards, alive, gamma)
    expected = np.array([[G0[n] if t < lengths[n] else 0.0 for n in range(7)] for t in range(20)])
    np.testing.assert_allclose(weights, expected, rtol=RTOL, atol=ATOL)


def test_episode_returns_of_an_empty_batch_are_zero():
    assert np.array_equal(episode_returns(np.zeros((0, 3)), np.zeros((0, 3), bool), 0.9), np.zeros(3))


# ---------------------------------------------------------------------------------------------
# GAE
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("gamma", GAMMAS)
@pytest.mark.parametrize("lam", [0.0, 0.5, 0.95, 1.0])
def test_gae_matches_loop(gamma, lam):
    """A_t = sum_k (gamma lam)^k delta_{t+k}, delta_t = r_t + gamma V_{t+1} - V_t, with V = 0
    after the episode's last step; 0 outside the episode."""
    rewards, values, alive, lengths = random_padded_batch(np.random.default_rng(2), 25, 8)
    A = gae(rewards, values, alive, gamma, lam)
    assert A.shape == (25, 8)
    np.testing.assert_allclose(A, loop_gae(rewards, values, lengths, gamma, lam), rtol=1e-11, atol=1e-11)


@pytest.mark.parametrize("gamma", GAMMAS)
@pytest.mark.parametrize("lam", [0.0, 0.9, 1.0])
def test_gae_with_bootstrap_matches_loop(gamma, lam):
    """With bootstrap[n], V after episode n's last step is bootstrap[n] (the value of the state
    the time limit cut off), including episodes alive in the last row."""
    rng = np.random.default_rng(3)
    rewards, values, alive, lengths = random_padded_batch(rng, 15, 8)
    alive[:, 0] = True  # at least one episode runs to the end of the padded array
    lengths[0] = 15
    bootstrap = rng.normal(size=8)
    A = gae(rewards, values, alive, gamma, lam, bootstrap=bootstrap)
    np.testing.assert_allclose(A, loop_gae(rewards, values, lengths, gamma, lam, bootstrap), rtol=1e-11, atol=1e-11)


@settings(max_examples=40, deadline=None)
@given(shape=batches, gamma=gammas, lam=st.floats(0.0, 1.0), use_bootstrap=st.booleans())
def test_gae_property(shape, gamma, lam, use_bootstrap):
    """gae equals the loop for random sizes, lengths, discounts, lambdas, with and without
    bootstrap values."""
    T, N, seed = shape
    rng = np.random.default_rng(seed)
    rewards, values, alive, lengths = random_padded_batch(rng, T, N)
    bootstrap = rng.normal(size=N) if use_bootstrap else None
    np.testing.assert_allclose(
        gae(rewards, values, alive, gamma, lam, bootstrap),
        loop_gae(rewards, values, lengths, gamma, lam, bootstrap),
        rtol=1e-9,
        atol=1e-9,
    )


@pytest.mark.parametrize("gamma", GAMMAS)
def test_gae_lambda_one_is_reward_to_go_minus_values(gamma):
    """lam = 1 without bootstrap: A = G - V on alive steps (the Monte Carlo advantage)."""
    rewards, values, alive, _ = random_padded_batch(np.random.default_rng(4), 20, 6)
    expected = (reward_to_go(rewards, alive, gamma) - values) * alive
    np.testing.assert_allclose(gae(rewards, values, alive, gamma, 1.0), expected, rtol=1e-11, atol=1e-11)


@pytest.mark.parametrize("gamma", GAMMAS)
def test_gae_lambda_one_with_bootstrap_adds_discounted_tail_value(gamma):
    """lam = 1 with bootstrap: A_t = G_t + gamma^(L - t) bootstrap - V_t."""
    rng = np.random.default_rng(5)
    rewards, values, alive, lengths = random_padded_batch(rng, 20, 6)
    bootstrap = rng.normal(size=6)
    t = np.arange(20)[:, None]
    tail = np.where(alive, gamma ** np.maximum(lengths - t, 0) * bootstrap, 0.0)
    expected = (reward_to_go(rewards, alive, gamma) + tail - values) * alive
    np.testing.assert_allclose(gae(rewards, values, alive, gamma, 1.0, bootstrap), expected, rtol=1e-11, atol=1e-11)


@pytest.mark.parametrize("gamma", GAMMAS)
def test_gae_lambda_zero_is_the_td_error(gamma):
    """lam = 0: A_t = r_t + gamma V_{t+1} - V_t, with V_{t+1} = 0 past the episode's end."""
    rewards, values, alive, lengths = random_padded_batch(np.random.default_rng(6), 20, 6)
    expected = np.zeros((20, 6))
    for n in range(6):
        for t in range(lengths[n]):
            next_value = values[t + 1, n] if t + 1 < lengths[n] else 0.0
            expected[t, n] = rewards[t, n] + gamma * next_value - values[t, n]
    np.testing.assert_allclose(gae(rewards, values, alive, gamma, 0.0), expected, rtol=1e-12, atol=1e-12)


def test_gae_bootstrap_only_changes_the_last_step_when_lambda_is_zero():
    """lam = 0: a bootstrap value changes exactly one entry per episode, its last step, by
    gamma * bootstrap."""
    rng = np.random.default_rng(7)
    rewards, values, alive, lengths = random_padded_batch(rng, 12, 5)
    bootstrap = rng.normal(size=5)
    difference = gae(rewards, values, alive, 0.9, 0.0, bootstrap) - gae(rewards, values, alive, 0.9, 0.0)
    expected = np.zeros((12, 5))
    expected[lengths - 1, np.arange(5)] = 0.9 * bootstrap
    np.testing.assert_allclose(difference, expected, rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------------------------------------
# normalize_advantages
# ---------------------------------------------------------------------------------------------
@settings(max_examples=30, deadline=None)
@given(shape=batches)
def test_normalize_advantages_mean_zero_std_one_over_alive(shape):
    """Over the alive entries: mean 0 and standard deviation 1; dead entries are exactly 0;
    the order of the alive entries is kept (an increasing affine map)."""
    T, N, seed = shape
    rng = np.random.default_rng(seed)
    adv, _, alive, _ = random_padded_batch(rng, T, N)
    adv = np.where(alive, 10.0 * adv + 3.0, adv)
    assume(alive.sum() >= 2 and np.ptp(adv[alive]) > 1e-3)
    out = normalize_advantages(adv, alive)
    assert out.shape == adv.shape
    assert abs(out[alive].mean()) < 1e-12
    assert abs(out[alive].std() - 1.0) < 1e-6
    assert not out[~alive].any()
    order = np.argsort(adv[alive], kind="stable")
    assert np.all(np.diff(out[alive][order]) >= 0)


def test_normalize_advantages_with_one_alive_entry_leaves_it():
    """With fewer than two alive entries there is no spread to normalise: values are kept,
    dead ones zeroed."""
    adv = np.array([[2.5, 7.0], [9.0, 9.0]])
    alive = np.array([[True, False], [False, False]])
    np.testing.assert_array_equal(normalize_advantages(adv, alive), [[2.5, 0.0], [0.0, 0.0]])


def test_normalize_advantages_constant_input_stays_finite():
    """All alive advantages equal: the 1e-8 guard gives zeros, not NaN."""
    adv = np.full((4, 3), 5.0)
    alive = np.ones((4, 3), bool)
    out = normalize_advantages(adv, alive)
    assert np.isfinite(out).all() and np.abs(out).max() < 1e-6
