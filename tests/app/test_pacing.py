"""pg.app.pacing: a viewer's next frame of a (perhaps shared) live run, on a fake clock: follow
(as fast as possible), human_pace (a replay at human pace) and step_view (Step) compute only what nobody
has computed, and show a shared run at the speed it was computed."""

from __future__ import annotations

import math

import pytest
from live_helpers import finish, quick

from pg.app.pacing import follow, human_pace, step_view
from pg.runs.live import LiveRun


class FakeClock:
    """now() and sleep() on a clock that only moves when slept on."""

    def __init__(self):
        self.t, self.slept = 0.0, []

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.t += seconds


def test_follow_computes_what_nobody_has_and_shows_all_of_it():
    live = LiveRun(quick(max_updates=30, stop_on_solve=False))
    shown, view = follow(live, 0.0, 0.05)
    assert live.n >= 1 and shown == live.n and view >= live.compute_seconds > 0


def test_follow_replays_a_computed_run_at_the_speed_it_was_computed():
    live = finish(LiveRun(quick(max_updates=60, stop_on_solve=False, eval_every=5)))
    n, computed = live.n, live.compute_seconds
    clock, view, frames = FakeClock(), 0.0, []
    while not frames or frames[-1] < n:
        shown, view = follow(live, view, 0.01, clock.sleep, clock.now)
        frames.append(shown)
        assert shown == (n if view >= computed else live.updates_at(view))
        assert len(frames) < 10_000
    assert live.n == n and live.compute_seconds == computed, "nothing computed again"
    assert frames == sorted(frames) and len(frames) == math.ceil(computed / 0.01 - 1e-9)
    assert clock.slept == [0.01] * len(frames)


def test_human_pace_replays_a_run_computed_at_full_speed_pace_updates_a_second():
    live = LiveRun(quick(max_updates=12, stop_on_solve=False, eval_every=100))
    clock = FakeClock()
    shown, last, frames = 0.0, clock.now(), []
    while shown < 12:
        shown, last = human_pace(live, shown, last, pace=3, tick=0.2, sleep=clock.sleep, now=clock.now)
        frames.append(shown)
        assert len(frames) < 100
    assert live.finished, "computed to the end at full speed, long before it is all shown"
    assert frames == pytest.approx([0.6 * k for k in range(1, 21)]), "3 updates a second, 5 frames a second"
    assert clock.slept == pytest.approx([0.2] * 20)
    # a frame that comes late does not skip ahead (no frame is dropped); never past the run's end
    shown, last = human_pace(live, 5.0, clock.now() - 1.0, pace=3, tick=0.2, sleep=clock.sleep, now=clock.now)
    assert shown == pytest.approx(5.6) and clock.slept[-1] == 0.0
    shown, last = human_pace(live, 11.5, last, pace=3, tick=0.2, sleep=clock.sleep, now=clock.now)
    assert shown == 12.0


def test_human_pace_never_shows_more_than_was_computed():
    """A run slower to compute than to show: the position waits at the last computed update."""
    live = LiveRun(quick(max_updates=12, stop_on_solve=False, eval_every=100))
    clock = FakeClock()
    slow = lambda seconds, max_updates=None: 0  # noqa: E731 (a computation that gets nothing done)
    live.advance = slow
    shown, last = human_pace(live, 0.0, None, pace=30, tick=0.2, sleep=clock.sleep, now=clock.now)
    assert shown == 0.0 and live.n == 0


def test_a_fractional_place_shows_that_share_of_the_next_batch():
    live = finish(LiveRun(quick(max_updates=4, stop_on_solve=False, eval_every=100, batch_episodes=8)))
    counts = [len(live.episode_points(0, upto=u)["return"]) for u in (0, 0.5, 1, 2.25, 2.99, 3, 4)]
    assert counts == [0, 4, 8, 18, 23, 24, 32]


def test_step_view_computes_only_what_nobody_has_and_matches_names_the_settings():
    live = LiveRun(quick(max_updates=3, stop_on_solve=False, eval_every=100))
    assert step_view(live, 0) == 1 and live.n == 1, "the first Step computes the first update"
    other_viewer = step_view(live, 0)
    assert other_viewer == 1 and live.n == 1, "a viewer behind the run is shown what exists, nothing computed"
    shown = 1
    for _ in range(5):
        shown = step_view(live, shown)
    assert shown == live.n == 3 and live.finished, "never past the end of the run"
    assert live.matches(quick(max_updates=3, stop_on_solve=False, eval_every=100), 1)
    assert not live.matches(quick(max_updates=4, stop_on_solve=False, eval_every=100), 1)
    assert not live.matches(quick(max_updates=3, stop_on_solve=False, eval_every=100), 2)

def test_human_pace_without_a_last_frame_shows_the_first_a_whole_tick_from_now():
    """The page starts at None: its first frame comes one tick after the first draw, as if
    that draw had been the last frame."""
    live = LiveRun(quick(max_updates=12, stop_on_solve=False, eval_every=100))
    clock = FakeClock()
    clock.t = 5.0
    shown, last = human_pace(live, 0, None, pace=10, tick=0.2, sleep=clock.sleep, now=clock.now)
    assert clock.slept == pytest.approx([0.2]) and last == clock.t == pytest.approx(5.2)
    assert shown == pytest.approx(2.0) and live.n >= 2


def test_every_viewer_tick_tells_the_run_it_is_in_use():
    """A viewer that only replays (computes nothing) still keeps the run from being swept."""
    clock = FakeClock()
    used = {"t": 0.0}
    live = finish(LiveRun(quick(max_updates=6, stop_on_solve=False), clock=lambda: used["t"]))
    for call in (lambda: follow(live, 0.0, 0.01, clock.sleep, clock.now),
                 lambda: human_pace(live, 0, None, 10, 0.2, clock.sleep, clock.now),
                 lambda: step_view(live, 0)):
        used["t"] += 100.0
        assert live.idle_for() == 100.0
        call()
        assert live.idle_for() == 0.0
