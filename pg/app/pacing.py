"""A viewer's next frame of a live run: how many updates the page shows after its next tick.

The live page redraws every ``tick`` seconds (0.2 s). A viewer's place in a run (``shown``) is a
number of updates, fractional at human pace (see human_pace). Between two redraws it calls one of
these, which train only what nobody has trained yet: a run may be shared by many sessions
(pg.app.registry), and each session keeps its own place in it. Each call tells the run it is
in use (``LiveRun.touch``), computing or not: the registry cancels only runs nobody watches.

=============  ==============================================================================
function       speed
=============  ==============================================================================
follow         "As fast as possible": compute the next tick, or replay it at computed speed
human_pace     "Human pace": computed at full speed, replayed ``pace`` updates a second
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


def human_pace(live: LiveRun, position: float, clock: float | None, pace: float, tick: float,
               sleep=time.sleep, now=time.perf_counter) -> tuple[float, float]:
    """"Human pace": a replay of what was computed, ``pace`` updates a second. The run is
    computed at full speed in the first half of the time between two frames (the other half
    is the redraw's), so its real compute time can be shown beside the replay. Each frame moves
    the viewer's ``position`` on by ``pace * tick`` updates, a fractional number: 3.4 shows
    three updates and 40 % of the fourth's batch of episodes (pg.runs.live.LiveRun
    .episode_points), so even a run solved in 11 updates takes dozens of redraws. A frame that
    comes late (a busy server) does not skip ahead: the replay slows down rather than drop a
    frame. ``clock`` is the time of the last frame (None before the first: the first frame then
    comes a whole ``tick`` from now).

    Returns (the position to show, never past what was computed; the time of this frame)."""
    live.touch()
    if clock is None:
        clock = now()
    frame_at = clock + tick
    if live.computing and frame_at - tick / 2 > now():
        live.advance(frame_at - tick / 2 - now())
    sleep(max(0.0, frame_at - now()))
    return min(round(position + pace * tick, 9), float(live.n)), now()  # (no 11.999999 for 12)
