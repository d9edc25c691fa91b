"""pg.viz.nudge: the nudges a policy recovers from, exact to the slider's step, checked by
running the replay's own episodes at the bounds and one step beyond."""

from __future__ import annotations

import numpy as np
import pytest

from pg.algo.policies import make_policy
from pg.runs.checkpoint import load_run
from pg.viz.episode import MAX_NUDGE, run_episode
from pg.viz.nudge import NUDGE_RESOLUTION, recoverable_range

TRAINED = load_run("assets/policy.npz").policy


def recovers(policy, strength, **kwargs) -> bool:
    return not run_episode(policy, nudge=float(strength), **kwargs).terminated


@pytest.mark.parametrize(
    "kwargs",
    [
        {"seed": 0, "nudge_step": 100},
        {"seed": 0, "nudge_step": 50},
        {"seed": 3, "nudge_step": 300, "greedy": False},
        {"seed": 1, "nudge_step": 200, "init_state": [0.04, -0.03, 0.05, -0.05]},
    ],
)
def test_the_range_is_exact_to_the_slider_step(kwargs):
    found = recoverable_range(TRAINED, **kwargs)
    assert found.recovers and found.low <= 0 <= found.high
    step = NUDGE_RESOLUTION
    for strength in (found.low, found.high, 0.0, round((found.low + found.high) / 2, 1)):
        assert recovers(TRAINED, strength, **kwargs), f"recovers from {strength:+.1f}"
    for beyond in (round(found.low - step, 10), round(found.high + step, 10)):
        if abs(beyond) <= MAX_NUDGE:
            assert not recovers(TRAINED, beyond, **kwargs), f"one step beyond, {beyond:+.1f}, it fails"
    every = np.round(np.arange(round(found.low / step), round(found.high / step) + 1) * step, 10)
    assert all(recovers(TRAINED, s, **kwargs) for s in every[:: max(1, len(every) // 6)])


def test_the_sentence_states_the_computed_bounds():
    found = recoverable_range(TRAINED, seed=0, nudge_step=100)
    assert found.sentence() == (
        f"The trained policy recovers from nudges between {found.low:+.1f} and "
        f"{found.high:+.1f} rad/s at step 100; stronger nudges make it fail."
    )


def test_nothing_to_recover_from_when_the_episode_fails_on_its_own():
    untrained = make_policy("linear", seed=0)
    early = recoverable_range(untrained, seed=0, greedy=False, nudge_step=100)
    length = run_episode(untrained, seed=0, greedy=False).length
    assert not early.recovers and early.unnudged_length == length < 100
    assert early.sentence() == (
        f"This episode of the trained policy ends at step {length}, before the nudge at step 100."
    )
    late = recoverable_range(untrained, seed=0, greedy=False, nudge_step=5)
    assert not late.recovers and "does not last 500 steps" in late.sentence()


def test_the_range_is_deterministic():
    assert recoverable_range(TRAINED, seed=4, nudge_step=120) == recoverable_range(TRAINED, seed=4, nudge_step=120)


def test_a_batched_answer_the_replay_disagrees_with_is_recomputed(monkeypatch):
    """The bounds are checked with run_episode itself; a wrong batched answer is not returned."""
    right = recoverable_range(TRAINED, seed=0, nudge_step=100)
    monkeypatch.setattr("pg.viz.nudge._recovers_batched", lambda *args: np.ones(2 * 30 + 1, dtype=bool))
    assert recoverable_range(TRAINED, seed=0, nudge_step=100) == right
