"""Live training: one config, 1 to 5 seeds, trained in short chunks between redraws.

The live page calls ``advance(seconds)`` once per tick (through pg.app.pacing) and draws from
the recorded columns (through pg.app.live_view), so all it shows is tested without Streamlit:

=================  ======================================================================
method             what for
=================  ======================================================================
advance(seconds)   train every unfinished seed, round-robin, for about ``seconds``
step()             exactly one update of every unfinished seed (the Step button)
history(i)         seed i's columns (pg.runs.history.HISTORY_FIELDS plus ``ma_return``)
episode_points(i)  seed i's individual episode returns, downsampled
band(field)        per update: median, min and max across seeds (seeds that stopped keep
                   their last value), downsampled
=================  ======================================================================

A LiveRun may be shared by several sessions (runs are deterministic, pg.app.registry):
``advance`` holds a lock, and readers only read rows below ``n``, which never change once
written.
"""

from __future__ import annotations

import threading
import time
import warnings
from collections import deque
from dataclasses import dataclass, replace

import numpy as np

from pg.algo.reinforce import TrainConfig, TrainingDiverged, initial_policy, train
from pg.runs.checkpoint import Run, policy_to_bytes
from pg.runs.history import HISTORY_FIELDS, Columns, RunRecorder, downsample_index

MAX_SEEDS = 5
MOVING_AVERAGE_EPISODES = 100  # the CartPole convention: average over 100 consecutive episodes


@dataclass
class Solved:
    """When and how a seed first met the solve rule."""

    iteration: int
    wall_time: float
    env_steps: int
    episodes: int
    eval_return: float


class SeedRun:
    """One seed: its generator, recorded columns, latest policy and status."""

    def __init__(self, cfg: TrainConfig, max_snapshots: int):
        self.cfg = cfg
        self.updates = train(cfg)
        self.recorder = RunRecorder(max_snapshots)
        self.policy = initial_policy(cfg)
        self.recorder.keeper.add(0, self.policy.params.copy())
        self.ma = Columns(("ma_return",))
        self.episodes = Columns(("episode", "return", "iteration"))
        self._window: deque = deque(maxlen=MOVING_AVERAGE_EPISODES)
        self.finished = False
        self.stop_reason: str | None = None
        self.solved: Solved | None = None
        self.error: str | None = None

    def next_update(self) -> None:
        try:
            update = next(self.updates)
        except StopIteration:
            self.finished = True
            return
        except TrainingDiverged as error:
            self.finished, self.stop_reason, self.error = True, "diverged", str(error)
            self.policy = error.policy  # the last policy whose numbers were finite
            return
        # readers gate on recorder.n, so the recorder is written last
        first_episode = self.recorder.episodes
        for k, ret in enumerate(update.episode_returns):
            self._window.append(ret)
            self.episodes.append({"episode": first_episode + k + 1, "return": ret, "iteration": update.iteration})
        self.ma.append({"ma_return": float(np.mean(self._window))})
        self.policy = update.policy
        self.recorder.add(update)
        if update.solved and self.solved is None:
            self.solved = Solved(update.iteration, update.wall_time, update.env_steps,
                                 self.recorder.episodes, update.eval_return)
        if update.stop_reason:
            self.finished, self.stop_reason = True, update.stop_reason
            self.updates.close()  # free the rollout and evaluation buffers a finished run no longer needs


class LiveRun:
    def __init__(self, cfg: TrainConfig, n_seeds: int = 1, max_snapshots: int = 200):
        if not 1 <= n_seeds <= MAX_SEEDS:
            raise ValueError(f"number of seeds must be an integer in [1, {MAX_SEEDS}], got {n_seeds!r}")
        self.cfg = cfg
        # seeds cfg.seed, cfg.seed + 1, ...; past the largest seed (2**32 - 1) they wrap to 0
        self.seeds = [SeedRun(replace(cfg, seed=(cfg.seed + i) % 2**32), max_snapshots) for i in range(n_seeds)]
        self.compute_seconds = 0.0
        self.clock = Columns(("seconds", "updates"))  # after each round: training time, updates done
        self._lock = threading.Lock()

    def matches(self, cfg: TrainConfig, n_seeds: int) -> bool:
        """Whether this is the run of these settings (Start and Step reuse it if so)."""
        return self.cfg == cfg and len(self.seeds) == n_seeds

    # -- training --------------------------------------------------------------------------
    @property
    def finished(self) -> bool:
        return all(s.finished for s in self.seeds)

    def step(self) -> int:
        """One update of every unfinished seed. Returns the number of updates made."""
        with self._lock:
            return self._step()

    def _step(self) -> int:
        start, made = time.perf_counter(), 0
        for seed in self.seeds:
            if not seed.finished:
                before = seed.recorder.n
                seed.next_update()
                made += seed.recorder.n - before
        self.compute_seconds += time.perf_counter() - start
        if made:
            self.clock.append({"seconds": self.compute_seconds, "updates": self.n})
        return made

    def advance(self, seconds: float, max_updates: int | None = None) -> int:
        """Train for about ``seconds`` (at least one round), or until ``max_updates`` more
        updates of seed 0 are recorded. Returns the number of updates made.

        A round that would likely end past the deadline (it takes about as long as the last
        one) is left for the next call: the page redraws every ``seconds``, and a late
        evaluation of 100 long episodes would otherwise stretch a 0.2 s tick by a third."""
        deadline = time.perf_counter() + seconds
        made, target = 0, None if max_updates is None else self.n + max_updates
        with self._lock:
            while not self.finished:
                start = time.perf_counter()
                made += self._step()
                now = time.perf_counter()
                if now + (now - start) > deadline or (target is not None and self.n >= target):
                    break
        return made

    def updates_at(self, seconds: float) -> int:
        """How many updates (of seed 0) had been computed after ``seconds`` of training: a
        viewer replaying a shared run at the speed it was computed shows this many."""
        times = self.clock.column("seconds")
        k = int(np.searchsorted(times, seconds, side="right"))
        return 0 if k == 0 else int(self.clock.column("updates")[k - 1])

    # -- reading ---------------------------------------------------------------------------
    @property
    def n(self) -> int:
        """Updates recorded for seed 0."""
        return self.seeds[0].recorder.n

    @property
    def policy(self):
        """Seed 0's latest policy (the last good one if it diverged)."""
        return self.seeds[0].policy

    def policy_at(self, iteration: int, i: int = 0):
        """Seed i's policy after update ``iteration`` (the nearest kept snapshot at or before
        it, when the run is long enough for snapshots to be thinned)."""
        seed = self.seeds[i]
        if iteration >= seed.recorder.n:
            return seed.policy
        kept = [(it, p) for it, p in seed.recorder.keeper.snapshots() if it <= iteration]
        return seed.policy.with_params(kept[-1][1])

    @property
    def error(self) -> str | None:
        errors = [s.error for s in self.seeds if s.error]
        return errors[0] if errors else None

    def history(self, i: int = 0, upto: int | None = None, max_points: int | None = None) -> dict:
        """Seed i's columns (first ``upto`` rows), downsampled to ``max_points`` if given."""
        seed = self.seeds[i]
        n = seed.recorder.n if upto is None else min(upto, seed.recorder.n)
        index = np.arange(n) if max_points is None else downsample_index(n, max_points)
        out = {name: seed.recorder.columns.column(name)[index] for name in HISTORY_FIELDS}
        out["ma_return"] = seed.ma.column("ma_return")[index]
        return out

    def episode_points(self, i: int = 0, upto: int | None = None, max_points: int = 1500) -> dict:
        """Seed i's episode returns up to update ``upto``, downsampled."""
        seed = self.seeds[i]
        iterations = seed.episodes.column("iteration")
        n = len(iterations) if upto is None else int(np.searchsorted(iterations, upto, side="right"))
        index = downsample_index(n, max_points)
        return {name: seed.episodes.column(name)[index] for name in ("episode", "return", "iteration")}

    def band(self, field: str, upto: int | None = None, max_points: int = 400) -> dict:
        """Per update index: median, min and max of ``field`` across seeds. A seed that has
        stopped (solved, or out of budget) keeps its last value."""
        lengths = [s.recorder.n for s in self.seeds]
        n = max(lengths) if upto is None else min(upto, max(lengths))
        index = downsample_index(n, max_points)
        rows = []
        for seed, length in zip(self.seeds, lengths):
            if length == 0:
                continue
            values = seed.ma.column("ma_return") if field == "ma_return" else seed.recorder.columns.column(field)
            rows.append(values[np.minimum(index, length - 1)])
        if not rows:
            return {"iteration": index + 1.0, "median": index * 0.0, "low": index * 0.0, "high": index * 0.0}
        stack = np.vstack(rows)
        with warnings.catch_warnings():  # all-NaN columns (no evaluation there) stay NaN
            warnings.simplefilter("ignore", RuntimeWarning)
            return {
                "iteration": index + 1.0,
                "median": np.nanmedian(stack, axis=0),
                "low": np.nanmin(stack, axis=0),
                "high": np.nanmax(stack, axis=0),
            }

    # -- export ----------------------------------------------------------------------------
    def to_run(self, i: int = 0) -> Run:
        """Seed i as a checkpoint Run (what Heatmap and Replay show)."""
        seed = self.seeds[i]
        policies = [(it, seed.policy.with_params(p)) for it, p in seed.recorder.keeper.snapshots()]
        return Run(policy=seed.policy, config=seed.cfg.to_dict(), history=seed.recorder.history(),
                   snapshots=policies, meta={"source": "live training"})

    def policy_file(self, i: int = 0) -> bytes:
        seed = self.seeds[i]
        return policy_to_bytes(seed.policy, config=seed.cfg, history=seed.recorder.history(),
                               snapshots=seed.recorder.keeper.snapshots())

    def history_csv(self) -> str:
        """Every seed's history as CSV: one row per (seed, update)."""
        lines = [",".join(("seed", *HISTORY_FIELDS, "ma_return"))]
        for seed in self.seeds:
            h = seed.recorder.columns
            ma = seed.ma.column("ma_return")
            for r in range(h.n):
                values = [h.column(name)[r] for name in HISTORY_FIELDS] + [ma[r]]
                lines.append(",".join([str(seed.cfg.seed)] + [_fmt(v) for v in values]))
        return "\n".join(lines) + "\n"


def _fmt(value: float) -> str:
    if np.isnan(value):
        return ""
    return str(int(value)) if float(value).is_integer() else repr(float(value))
