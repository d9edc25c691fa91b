"""Small live runs for the tests of pg.runs.live and of what pg.app reads from it, and the
history a run records."""

from __future__ import annotations

from pg.algo.reinforce import TrainConfig
from pg.runs.history import RunRecorder
from pg.runs.live import LiveRun

# small and quick: short episodes, few evaluation episodes
QUICK = dict(batch_episodes=4, eval_episodes=10, max_episode_steps=100, seed=3)


def quick(**overrides) -> TrainConfig:
    return TrainConfig(**{**QUICK, **overrides})


def finish(live: LiveRun) -> LiveRun:
    """Train ``live`` to its end."""
    while not live.finished:
        live.advance(5.0)
    return live


def recorded_history(updates) -> dict:
    """{field: (U,) array} of ``updates`` as pg.runs.history.RunRecorder records them (what the
    live page, the CLI and checkpoints keep; tests/runs/test_history.py checks it by hand)."""
    recorder = RunRecorder(max_snapshots=0)
    for update in updates:
        recorder.add(update)
    return recorder.history()
