"""A viewer's next frame of a live run: how many updates the page shows after its next tick.

The live page redraws every ``tick`` seconds (0.2 s). Between two redraws it calls one of
these, which train only what nobody has trained yet: a run may be shared by many sessions
(pg.app.registry), and each session keeps its own place in it. Each call tells the run it is
in use (``LiveRun.touch``), computing or not: the registry cancels only runs nobody watches.

=============  ==============================================================================
function       speed
=============  ==============================================================================
follow         "As fast as possible": compute the next tick, or replay it at computed speed
pace_through   "Human pace": ``pace`` updates a second, computing only just ahead
step_view      "Step": one more update
=============  ==============================================================================
"""

from __future__ import annotations

import time

from pg.runs.live import LiveRun


def follow(live: LiveRun, view_seconds: float, tick: float, sleep=time.sleep,
           now=time.perf_counter) -> tuple[int, float]:
    """"As fast as possible": a viewer ``view_seconds`` into a run (perhaps shared) computes the
    next ``tick`` seconds if nobody has, else waits ``tick`` and replays what was computed then.

    Returns (updates to show, the viewer's new time). A finished run shows every update once
    the viewer has caught up with its computing time; so fifty viewers of one run see it at
    the speed it was computed, whoever computed it."""
    start = now()
    live.touch()
    if live.updates_at(view_seconds + tick) >= live.n and live.computing:
        live.advance(tick)
    else:
        sleep(tick)
    view_seconds += now() - start
    caught_up = not live.computing and view_seconds >= live.compute_seconds
    return (live.n if caught_up else live.updates_at(view_seconds)), view_seconds


def step_view(live: LiveRun, shown: int) -> int:
    """Step: show one more update, computing it if nobody has. Returns the updates to show."""
    live.touch()
    if shown >= live.n:
        live.step()
    return min(shown + 1, live.n)


def pace_through(live: LiveRun, shown: int, clock: float | None, pace: float, tick: float,
                 sleep=time.sleep, now=time.perf_counter) -> tuple[int, float]:
    """"Human pace": show ``pace`` updates a second (at least one per tick), computing only just
    ahead of what is shown. ``clock`` is the time of the last frame (None before the first:
    the first frame then comes a whole ``tick`` from now).

    Returns (updates to show, the time of this frame)."""
    live.touch()
    if clock is None:
        clock = now()
    sleep(max(0.0, tick - (now() - clock)))
    frame = now()
    target = shown + max(1, round(pace * (frame - clock)))
    if live.n < target:
        live.advance(tick, max_updates=target - live.n)
    return min(target, live.n), frame
