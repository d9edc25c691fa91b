"""pg.app.predict: Live training's predict-then-check question, judged from the run's record."""

import pytest

from pg.algo.reinforce import TrainConfig, train
from pg.app.predict import SOLVE_GUESSES, solve_outcome, solve_verdict


@pytest.mark.parametrize("solved_at, answer", [(1, 0), (9, 0), (10, 1), (30, 1), (31, 2), (999, 2), (None, 3)])
def test_each_update_falls_in_exactly_one_answer(solved_at, answer):
    assert solve_outcome(solved_at) == SOLVE_GUESSES[answer]


@pytest.mark.parametrize("bad", [0, -3, 2.5, True, "7"])
def test_a_solve_update_that_is_not_one_is_refused(bad):
    with pytest.raises(ValueError, match="solved_at"):
        solve_outcome(bad)


def test_the_verdict_says_matched_missed_or_no_guess_and_what_happened():
    assert solve_verdict(SOLVE_GUESSES[1], 17, seed=0) == (
        True, "Your prediction matched: seed 0 was solved at update 17, “10 to 30 updates”.")
    matched, text = solve_verdict(SOLVE_GUESSES[0], 17)
    assert matched is False and "“fewer than 10 updates”" in text and "solved at update 17" in text
    matched, text = solve_verdict(None, None, "max_updates", seed=3)
    assert matched is None and text == ("You made no prediction; seed 3 was not solved (it stopped: max updates): "
                                        "“it will not be solved”.")
    assert solve_verdict(SOLVE_GUESSES[3], None, "collapsed")[0] is True
    with pytest.raises(ValueError, match="guess"):
        solve_verdict("soon", 5)


def test_the_default_run_is_judged_from_its_own_record():
    """The default config solves seed 0 in some update: the right answer is the range holding it."""
    updates = list(train(TrainConfig(seed=0)))
    solved_at = next(u.iteration for u in updates if u.solved)
    right = solve_outcome(solved_at)
    assert solve_verdict(right, solved_at)[0] is True
    assert all(solve_verdict(g, solved_at)[0] is False for g in SOLVE_GUESSES if g != right)
