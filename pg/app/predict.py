"""Predict, then check, on Live training: before Start the learner guesses how many updates the
run needs to be solved; when the run has ended the page says whether the guess matched, from
the run's own record (the update its first seed was solved at, or why it stopped).

Pure functions of the run's numbers; the page only asks and shows (pages/live_dashboard.py).
"""

from __future__ import annotations

import math

SOLVE_GUESSES = ("fewer than 10 updates", "10 to 30 updates", "more than 30 updates", "it will not be solved")
"""the answers offered, in order; each but the last is a range of updates (both ends included)"""
_RANGES = ((1, 9), (10, 30), (31, math.inf))


def solve_outcome(solved_at: int | None) -> str:
    """The answer that is right for a run solved at update ``solved_at`` (None: not solved)."""
    if solved_at is None:
        return SOLVE_GUESSES[-1]
    if isinstance(solved_at, bool) or not isinstance(solved_at, int) or solved_at < 1:
        raise ValueError(f"solved_at must be an update number (1 or more) or None, got {solved_at!r}")
    return next(guess for guess, (low, high) in zip(SOLVE_GUESSES, _RANGES) if low <= solved_at <= high)


def solve_verdict(guess: str | None, solved_at: int | None, stop_reason: str | None = None,
                  seed: int | None = None) -> tuple[bool | None, str]:
    """(matched, the sentence the page shows) once a run has ended. ``guess`` is one of
    SOLVE_GUESSES or None (no answer given: matched is None); ``solved_at`` the update the run
    (its first seed, ``seed``) was solved at, or None with ``stop_reason`` saying why it stopped."""
    if guess is not None and guess not in SOLVE_GUESSES:
        raise ValueError(f"guess must be one of {', '.join(SOLVE_GUESSES)} or None, got {guess!r}")
    right = solve_outcome(solved_at)
    who = f"seed {seed}" if seed is not None else "the run"
    if solved_at is None:
        why = f" (it stopped: {stop_reason.replace('_', ' ')})" if stop_reason else ""
        what = f"{who} was not solved{why}"
    else:
        what = f"{who} was solved at update {solved_at}"
    if guess is None:
        return None, f"You made no prediction; {what}: “{right}”."
    if guess == right:
        return True, f"Your prediction matched: {what}, “{right}”."
    return False, f"Your prediction was “{guess}”; {what}, “{right}”."
