"""pg.envs.CartPole: Gymnasium CartPole-v1/v0 semantics, bit for bit, plus batch semantics.

The reference is Gymnasium itself (a test-only dependency): same start states, same actions,
and every step our float64 state must equal ``gym_env.unwrapped.state`` exactly, with the same
terminated / truncated flags and rewards.
"""

from __future__ import annotations

import doctest
import math

import numpy as np
import pytest
from helpers import balancing_actions

import pg.envs.cartpole
from pg.envs import CartPole
from pg.envs.cartpole import THETA_THRESHOLD, X_THRESHOLD

gym = pytest.importorskip("gymnasium")

THETA_T = 12 * 2 * math.pi / 360


# ---------------------------------------------------------------------------------------------
# (a) Step by step against Gymnasium
# ---------------------------------------------------------------------------------------------
class Tally:
    """What the reference runs covered, so a test cannot pass by comparing almost nothing."""

    def __init__(self):
        self.steps = 0
        self.max_abs_diff = 0.0
        self.truncated = 0
        self.terminated = 0
        self.both = 0
        self.x_out = 0
        self.theta_out = 0


def _near_threshold_starts() -> list[np.ndarray]:
    """Start states on, just inside and just outside the termination thresholds, moving
    outwards and inwards."""
    eps = 1e-9
    states = []
    for sign in (-1.0, 1.0):
        for x in (X_THRESHOLD - 0.01, X_THRESHOLD - eps, X_THRESHOLD, X_THRESHOLD + eps):
            for x_dot in (-0.5, 0.0, 0.5):
                states.append(np.array([sign * x, sign * x_dot, 0.01, -0.02]))
        for theta in (THETA_THRESHOLD - 0.005, THETA_THRESHOLD - eps, THETA_THRESHOLD, THETA_THRESHOLD + eps):
            for theta_dot in (-0.3, 0.0, 0.3):
                states.append(np.array([0.02, -0.01, sign * theta, sign * theta_dot]))
    # both thresholds at once, and a fast pole in the middle of the track
    states.append(np.array([2.39, 1.0, 0.2, 1.0]))
    states.append(np.array([-2.39, -1.0, -0.2, -1.0]))
    states.append(np.array([0.0, 0.0, 0.0, 3.0]))
    return states


def _run_pair(gym_env, ours: CartPole, tally: Tally, seed: int, mode: str, rng,
              start: np.ndarray | None = None, set_at: tuple[int, np.ndarray] | None = None):
    """One episode in both envs from the same start, with the same actions, compared every
    step. ``mode``: "random" or "balance". ``set_at=(k, s)`` overwrites both states after k
    steps (to force an ending at a chosen step)."""
    gym_env.reset(seed=seed)
    obs, _ = ours.reset(seed=seed)
    assert np.array_equal(obs[0], gym_env.unwrapped.state)
    if start is not None:
        gym_env.unwrapped.state = start.copy()
        ours.state = start[None, :]
    k = 0
    while True:
        if set_at is not None and k == set_at[0]:
            gym_env.unwrapped.state = set_at[1].copy()
            ours.state = set_at[1][None, :]
        state = ours.state
        if mode == "random":
            action = int(rng.integers(2))
        else:
            action = int(balancing_actions(state)[0])
        g_obs, g_reward, g_term, g_trunc, _ = gym_env.step(action)
        obs, reward, term, trunc, _ = ours.step(np.array([action]))
        k += 1
        tally.steps += 1
        g_state = np.asarray(gym_env.unwrapped.state, dtype=np.float64)
        diff = float(np.abs(ours.state[0] - g_state).max())
        tally.max_abs_diff = max(tally.max_abs_diff, diff)
        assert diff <= 1e-12, f"seed {seed} step {k}: state differs by {diff}"
        assert np.array_equal(ours.state[0], g_state), f"seed {seed} step {k}: not bit-identical"
        assert np.array_equal(obs[0], g_state)
        assert np.array_equal(obs[0].astype(np.float32), g_obs)
        assert (bool(term[0]), bool(trunc[0])) == (g_term, g_trunc), f"seed {seed} step {k}"
        assert reward[0] == g_reward == 1.0
        assert ours.steps[0] == k
        assert bool(ours.alive[0]) == (not (g_term or g_trunc))
        if g_term or g_trunc:
            tally.terminated += g_term
            tally.truncated += g_trunc
            tally.both += g_term and g_trunc
            tally.x_out += abs(g_state[0]) > X_THRESHOLD
            tally.theta_out += abs(g_state[2]) > THETA_THRESHOLD
            return k


def test_thresholds_are_gymnasiums():
    """The constants the comparison relies on: 12 degrees in radians and 2.4 m."""
    env = gym.make("CartPole-v1").unwrapped
    assert THETA_THRESHOLD == env.theta_threshold_radians == THETA_T
    assert X_THRESHOLD == env.x_threshold


@pytest.mark.slow
def test_v1_trajectories_bit_identical_to_gymnasium():
    """>= 10,000 steps of CartPole-v1 (random actions, a balancing controller that reaches the
    500-step limit, starts on the thresholds, an episode terminating exactly at step 500): our
    state equals Gymnasium's bit for bit, flags and rewards agree on every step."""
    gym_env, ours = gym.make("CartPole-v1"), CartPole(1)
    rng = np.random.default_rng(1234)
    tally = Tally()
    lengths = []
    for seed in range(40):
        lengths.append(_run_pair(gym_env, ours, tally, seed, "random", rng))
    for seed in range(100, 125):
        lengths.append(_run_pair(gym_env, ours, tally, seed, "balance", rng))
    for i, start in enumerate(_near_threshold_starts()):
        mode = "random" if i % 2 else "balance"
        lengths.append(_run_pair(gym_env, ours, tally, 1000 + i, mode, rng, start=start))
    # terminated on the very step the time limit hits: both flags set
    cliff = np.array([X_THRESHOLD - 0.001, 1.0, 0.0, 0.0])
    lengths.append(_run_pair(gym_env, ours, tally, 7, "balance", rng, set_at=(499, cliff)))
    assert lengths[-1] == 500
    assert tally.steps >= 10_000, tally.steps
    assert tally.truncated >= 5 and tally.terminated >= 40
    assert tally.both == 1
    assert tally.x_out >= 5 and tally.theta_out >= 5
    assert tally.max_abs_diff == 0.0


@pytest.mark.filterwarnings("ignore:.*CartPole-v0 is out of date")
def test_v0_trajectories_bit_identical_to_gymnasium():
    """max_steps=200 is CartPole-v0: the same physics and a 200-step limit."""
    gym_env, ours = gym.make("CartPole-v0"), CartPole(1, max_steps=200)
    rng = np.random.default_rng(5)
    tally = Tally()
    lengths = [_run_pair(gym_env, ours, tally, seed, "balance", rng) for seed in range(12)]
    lengths += [_run_pair(gym_env, ours, tally, seed, "random", rng) for seed in range(12, 30)]
    assert max(lengths) == 200 and tally.truncated >= 3
    assert all(length <= 200 for length in lengths)
    assert tally.max_abs_diff == 0.0


def test_batched_env_matches_independent_gymnasium_envs():
    """A batch of 24 stepped in lock-step equals 24 separate Gymnasium envs; an episode that
    ended keeps Gymnasium's final state (frozen) while the others go on."""
    n = 24
    ours = CartPole(n)
    gym_envs = [gym.make("CartPole-v1") for _ in range(n)]
    ours.reset(seed=0)
    start = ours.state
    for i, env in enumerate(gym_envs):
        env.reset(seed=i)
        env.unwrapped.state = start[i].copy()
    final = [None] * n
    rng = np.random.default_rng(0)
    # half the batch balances (long episodes), half acts at random (short ones)
    controller = np.arange(n) % 2 == 0
    steps = 0
    while ours.alive.any():
        state = ours.state
        actions = np.where(controller, balancing_actions(state), rng.integers(0, 2, n))
        alive_before = ours.alive.copy()
        _, reward, term, trunc, _ = ours.step(actions)
        assert np.array_equal(reward, alive_before.astype(float))
        for i, env in enumerate(gym_envs):
            if not alive_before[i]:
                assert np.array_equal(ours.state[i], final[i]), "an ended episode moved"
                continue
            _, g_reward, g_term, g_trunc, _ = env.step(int(actions[i]))
            steps += 1
            assert np.array_equal(ours.state[i], env.unwrapped.state)
            assert (term[i], trunc[i], reward[i]) == (g_term, g_trunc, g_reward)
            if g_term or g_trunc:
                final[i] = np.array(env.unwrapped.state)
    assert steps > 3000
    assert ours.truncated.any() and ours.terminated.any()


# ---------------------------------------------------------------------------------------------
# (b) Reset distribution
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("seed", [0, 1, 42, 2**31 - 1, 123456789])
def test_single_reset_equals_gymnasium_reset(seed):
    """CartPole(1).reset(seed=s) draws exactly Gymnasium CartPole-v1's start state."""
    gym_env = gym.make("CartPole-v1")
    g_obs, _ = gym_env.reset(seed=seed)
    obs, info = CartPole(1).reset(seed=seed)
    assert obs.shape == (1, 4) and obs.dtype == np.float64 and info == {}
    assert np.array_equal(obs[0], gym_env.unwrapped.state)
    assert np.array_equal(obs[0].astype(np.float32), g_obs)


@pytest.mark.parametrize("num_envs", [1, 3, 16])
@pytest.mark.parametrize("seed", [0, 7, 99])
def test_batched_reset_equals_gymnasium_vector_env(num_envs, seed):
    """CartPole(N).reset(seed=s) equals make_vec("CartPole-v1", N, vector_entry_point),
    which holds its state as (4, N); later unseeded resets continue the same stream; steps
    agree until the vector env's first auto-reset."""
    vec = gym.make_vec("CartPole-v1", num_envs=num_envs, vectorization_mode="vector_entry_point")
    vec.reset(seed=seed)
    ours = CartPole(num_envs)
    ours.reset(seed=seed)
    assert vec.unwrapped.state.shape == (4, num_envs)
    assert np.array_equal(ours.state, vec.unwrapped.state.T)
    vec.reset()
    ours.reset()
    assert np.array_equal(ours.state, vec.unwrapped.state.T)
    rng = np.random.default_rng(seed)
    for _ in range(500):
        actions = rng.integers(0, 2, num_envs)
        _, g_reward, g_term, g_trunc, _ = vec.step(actions)
        _, reward, term, trunc, _ = ours.step(actions)
        assert np.array_equal(ours.state, vec.unwrapped.state.T)
        assert np.array_equal(term, g_term) and np.array_equal(trunc, g_trunc)
        assert np.array_equal(reward, g_reward)
        if (g_term | g_trunc).any():
            break
    else:
        pytest.fail("no episode ended in 500 random steps")


def test_reset_states_are_uniform_on_plus_minus_005():
    """100,000 start-state components are uniform on [-0.05, 0.05]: all inside the bounds,
    reaching near both ends, mean within 5 standard errors of 0, variance within 2% of
    0.1^2/12, and the Kolmogorov-Smirnov distance below 1.95/sqrt(n) (alpha = 0.001) for each
    of the four components."""
    n = 25_000
    states, _ = CartPole(n).reset(seed=2024)
    assert states.min() >= -0.05 and states.max() <= 0.05
    assert states.min() < -0.0499 and states.max() > 0.0499
    sd = 0.1 / math.sqrt(12)
    for j in range(4):
        column = np.sort(states[:, j])
        assert abs(column.mean()) < 5 * sd / math.sqrt(n), (j, column.mean())
        assert abs(column.var() / sd**2 - 1) < 0.02, (j, column.var())
        cdf = (column + 0.05) / 0.1
        ks = max((np.arange(1, n + 1) / n - cdf).max(), (cdf - np.arange(n) / n).max())
        assert ks < 1.95 / math.sqrt(n), (j, ks)


def test_reset_statistics_detect_a_wrong_distribution():
    """The KS bound used above rejects a start distribution on [-0.05, 0.045] (a sanity check
    that the statistical test has power)."""
    n = 25_000
    column = np.sort(np.random.default_rng(0).uniform(-0.05, 0.045, n))
    cdf = (column + 0.05) / 0.1
    ks = max((np.arange(1, n + 1) / n - cdf).max(), (cdf - np.arange(n) / n).max())
    assert ks >= 1.95 / math.sqrt(n)


# ---------------------------------------------------------------------------------------------
# (c) Batch semantics
# ---------------------------------------------------------------------------------------------
def test_ended_episodes_stay_ended_until_reset():
    """An episode that terminated keeps its state, gets reward 0, keeps its flag and its step
    count, and is not reset automatically, while the others go on."""
    env = CartPole(3, max_steps=500)
    env.reset(seed=3)
    pushes_left = np.array([0, 0, 0])
    ended_at = None
    for _ in range(200):
        state = env.state
        actions = np.where(np.arange(3) == 0, pushes_left, balancing_actions(state))
        obs, reward, term, trunc, _ = env.step(actions)
        if term[0] and ended_at is None:
            ended_at = (env.steps[0], obs[0].copy())
            assert reward[0] == 1.0, "the terminating step is rewarded"
            continue
        if ended_at is not None:
            assert np.array_equal(obs[0], ended_at[1]) and np.array_equal(env.state[0], ended_at[1])
            assert reward[0] == 0.0 and term[0] and not trunc[0] and not env.alive[0]
            assert env.steps[0] == ended_at[0]
            assert reward[1] == 1.0 and env.alive[1]
    assert ended_at is not None and 5 <= ended_at[0] < 100
    assert env.alive.tolist() == [False, True, True]
    assert env.terminated.tolist() == [True, False, False]
    env.reset()
    assert env.alive.all() and not env.terminated.any() and not env.truncated.any()
    assert (env.steps == 0).all()
    assert np.abs(env.state).max() <= 0.05


def test_truncation_at_max_steps_and_alive_and_steps():
    """With max_steps=50 a balanced episode is truncated (not terminated) on exactly its 50th
    step; after that the whole batch is dead and further steps change nothing."""
    env = CartPole(4, max_steps=50)
    env.reset(seed=0)
    for k in range(1, 51):
        assert env.alive.all()
        _, reward, term, trunc, _ = env.step(balancing_actions(env.state, (0.5, 1, 10, 3)))
        assert (env.steps == k).all() and (reward == 1.0).all()
        assert not term.any()
        assert trunc.all() == (k == 50) and trunc.any() == (k == 50)
    assert not env.alive.any()
    frozen = env.state
    obs, reward, term, trunc, _ = env.step(np.zeros(4, dtype=int))
    assert np.array_equal(obs, frozen) and (reward == 0).all()
    assert trunc.all() and not term.any() and (env.steps == 50).all()


def test_termination_on_the_last_step_sets_both_flags():
    """An episode that falls on step max_steps is terminated and truncated (as Gymnasium's
    TimeLimit reports it); one that falls earlier is terminated only."""
    env = CartPole(2, max_steps=3)
    env.reset(seed=0)
    env.step(np.array([1, 1]))
    env.step(np.array([1, 1]))
    env.state = np.array([[X_THRESHOLD - 1e-3, 1.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]])
    _, reward, term, trunc, _ = env.step(np.array([1, 1]))
    assert term.tolist() == [True, False] and trunc.tolist() == [True, True]
    assert reward.tolist() == [1.0, 1.0]
    env.reset(seed=0)
    env.state = np.array([[X_THRESHOLD - 1e-3, 1.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]])
    _, _, term, trunc, _ = env.step(np.array([1, 1]))
    assert term.tolist() == [True, False] and trunc.tolist() == [False, False]
    assert env.alive.tolist() == [False, True]


def test_state_is_settable_with_shape_check_and_copies():
    """``state`` can be set with a (num_envs, 4) array (others raise ValueError naming both
    shapes); getter and setter copy, so outside arrays never alias the env."""
    env = CartPole(2)
    env.reset(seed=0)
    new = np.array([[0.1, 0.2, 0.03, 0.04], [-0.1, -0.2, -0.03, -0.04]])
    env.state = new
    assert np.array_equal(env.state, new)
    new[:] = 9.0
    got = env.state
    got[:] = 7.0
    assert env.state[0, 0] == 0.1
    for bad in (np.zeros(4), np.zeros((4, 2)), np.zeros((2, 5)), np.zeros((1, 4))):
        with pytest.raises(ValueError, match=r"\(2, 4\)") as info:
            env.state = bad
        assert str(bad.shape) in str(info.value)
    obs, *_ = env.step(np.array([0, 1]))
    obs[:] = 5.0
    assert np.abs(env.state).max() < 1


def test_constructor_rejects_bad_sizes():
    """num_envs and max_steps must be integers >= 1; the message shows the value given."""
    for kwargs, shown in [({"num_envs": 0}, "0"), ({"num_envs": 2.5}, "2.5"),
                          ({"num_envs": True}, "True"), ({"max_steps": 0}, "0")]:
        with pytest.raises(ValueError, match=shown):
            CartPole(**kwargs)


# ---------------------------------------------------------------------------------------------
# (d) Invalid actions
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "actions, shown",
    [
        (np.array([0, 1]), r"\(2,\)"),
        (np.array([[0], [1], [0]]), r"\(3, 1\)"),
        (np.int64(1), r"\(\)"),
        (np.array([0, 2, 1]), "2"),
        (np.array([0, -1, 1]), "-1"),
        (np.array([0, 1, 255], dtype=np.uint8), "255"),
        (np.array([0, -1, 1], dtype=np.int8), "-1"),
        (np.array([0.0, 1.0, 0.0]), "float64"),
        (np.array([0.5, 1.0, 0.0]), "float"),
        (np.array(["0", "1", "0"]), "<U1"),
        (["left", "right", "left"], "left"),
        ([0, 1, None], "object"),
    ],
)
def test_invalid_actions_raise_value_error_naming_them(actions, shown):
    """Wrong shape, values outside {0, 1}, floats, strings: ValueError naming what was given,
    raised before the state changes."""
    env = CartPole(3)
    env.reset(seed=0)
    before = env.state
    with pytest.raises(ValueError, match=shown):
        env.step(actions)
    assert np.array_equal(env.state, before) and (env.steps == 0).all()


def test_bool_and_list_actions_are_accepted_as_indices():
    """Bool arrays mean 0/1 (not a mask) and Python lists work: same trajectory as ints."""
    envs = [CartPole(3) for _ in range(3)]
    for env in envs:
        env.reset(seed=5)
    for _ in range(5):
        ints = np.array([1, 0, 1])
        outs = [envs[0].step(ints), envs[1].step(ints.astype(bool)), envs[2].step([1, 0, 1])]
        for out in outs[1:]:
            assert np.array_equal(out[0], outs[0][0]) and np.array_equal(out[1], outs[0][1])
    assert envs[0].state[0, 1] > 0 > envs[0].state[1, 1]


def test_advance_is_step_without_the_copies_bit_for_bit():
    """advance (the rollout's fast path) moves the env exactly as step does, for uint8, int64
    and bool-viewed-as-uint8 actions, through terminations and truncation; its results are
    read through buffers(), which show what step returns."""
    stepped, advanced = CartPole(6, max_steps=120), CartPole(6, max_steps=120)
    stepped.reset(seed=8)
    advanced.reset(seed=8)
    state, alive, reward = advanced.buffers()
    ended = 0
    for t in range(130):
        actions = balancing_actions(stepped.state)
        actions[:2] = 0  # two episodes fall (pushed left), the others reach the time limit
        obs, r, term, trunc, _ = stepped.step(actions)
        fast = [actions.astype(np.uint8), actions, actions.astype(bool).view(np.uint8)][t % 3]
        advanced.advance(fast)
        assert np.array_equal(state.T, obs) and np.array_equal(reward, r)
        assert np.array_equal(alive, stepped.alive) and np.array_equal(advanced.steps, stepped.steps)
        assert np.array_equal(advanced.terminated, term) and np.array_equal(advanced.truncated, trunc)
        ended = int(term.sum()), int(trunc.sum())
    assert ended[0] >= 1 and ended[1] >= 1, "the comparison must cover both endings"


def test_buffers_are_read_only_views_that_stay_current_through_reset():
    env = CartPole(3)
    state, alive, reward = env.buffers()
    assert (state.shape, alive.shape, reward.shape) == ((4, 3), (3,), (3,))
    for view in (state, alive, reward):
        assert not view.flags.writeable
        with pytest.raises(ValueError):
            view[0] = 1
    obs, _ = env.reset(seed=2)
    assert np.array_equal(state.T, obs) and alive.all()
    env.step(np.array([1, 0, 1]))
    assert np.array_equal(state.T, env.state) and reward.tolist() == [1.0, 1.0, 1.0]


# ---------------------------------------------------------------------------------------------
# (e) Seeding
# ---------------------------------------------------------------------------------------------
def test_reset_seed_is_deterministic():
    """The same seed gives the same start states and (with the same actions) the same
    trajectory; another seed gives other states; unseeded resets draw fresh ones."""
    a, b, c = CartPole(5), CartPole(5), CartPole(5)
    obs_a, _ = a.reset(seed=11)
    obs_b, _ = b.reset(seed=11)
    obs_c, _ = c.reset(seed=12)
    assert np.array_equal(obs_a, obs_b) and not np.array_equal(obs_a, obs_c)
    for _ in range(20):
        actions = balancing_actions(a.state)
        assert np.array_equal(a.step(actions)[0], b.step(actions)[0])
    next_a, _ = a.reset()
    next_b, _ = b.reset()
    assert np.array_equal(next_a, next_b) and not np.array_equal(next_a, obs_a)
    again, _ = a.reset(seed=11)
    assert np.array_equal(again, obs_a)


def test_module_docstring_examples_run():
    """The docstring is the spec: its >>> examples run and print what they claim."""
    result = doctest.testmod(pg.envs.cartpole)
    assert result.attempted >= 4 and result.failed == 0
