"""Live training: one config, 1 to 5 seeds, trained in short chunks between redraws.

The live page calls ``advance(seconds)`` once per tick (through pg.app.pacing) and draws from
the recorded columns (through pg.app.live_view), so all it shows is tested without Streamlit:

=================  ======================================================================
method             what for
=================  ======================================================================
advance(seconds)   train every unfinished seed, round-robin, for about ``seconds`` (it
                   returns within about ``seconds`` even in the middle of an update)
step()             exactly one update of every unfinished seed (the Step button)
cancel()           give the computation up for good, keeping what was recorded
history(i)         seed i's columns (pg.runs.history.HISTORY_FIELDS plus ``ma_return``)
episode_points(i)  seed i's individual episode returns, downsampled; at a fractional place
                   (3.5: three updates and half of the fourth's batch) part of a batch
band(field)        per update: median, min and max across seeds (seeds that stopped keep
                   their last value), downsampled; "eval_value" is each evaluation's number
                   (the mean, or a cut-short one's upper bound)
seed_lines(field)  every seed's own line of ``field``, each to its own end
=================  ======================================================================

A LiveRun may be shared by several sessions (runs are deterministic, pg.app.registry):
``advance`` holds a lock, and readers only read rows below ``n``, which never change once
written. A session that finds the lock taken (another is computing) does not queue: it gets
nothing done after waiting at most its ``seconds``.

How a run stays within its tick, its caps and its memory:

* An update is suspended, not abandoned, when a tick ends: each seed's ``train`` generator is
  given a ``pause`` hook (asked between time steps), and the next ``advance`` resumes the seed
  that was paused, so the run is the same, bit for bit, however it was cut into ticks.
* The caps (``max_env_steps``, ``max_seconds``) apply to all seeds together: the seeds' rollouts
  share one pg.algo.rollout.StepBudget (never more than the cap plus one time step's batch), and
  the training time of all seeds counts against ``max_seconds``. The run then ends with the
  cap's name as stop_reason; a batch the cap cut short is dropped.
* Once finished, failed or cancelled, a run keeps only its history, snapshots and policies: the
  generators (with their rollout and evaluation buffers) are closed and dropped.
* Any exception inside a seed's training (MemoryError included) ends the whole run with a
  message in ``failure``; nothing is raised to the page.
* A seed whose policy collapsed (pg.runs.collapse: nearly deterministic without solving, so its
  gradient vanishes) stops with stop_reason "collapsed"; the other seeds go on.

Seeds end when they end: ``n`` counts the updates of the seed that has gone furthest, and each
seed's columns end at its own last update.
"""

from __future__ import annotations

import math
import threading
import time
import warnings
from collections import deque
from dataclasses import dataclass, replace

import numpy as np

from pg.algo.reinforce import MOVING_AVERAGE_EPISODES, TrainConfig, TrainingDiverged, initial_policy, train
from pg.algo.rollout import StepBudget
from pg.runs.checkpoint import Run, policy_to_bytes
from pg.runs.collapse import collapsed
from pg.runs.footprint import live_snapshots, require_fits
from pg.runs.history import HISTORY_FIELDS, Columns, RunRecorder, downsample_index

MAX_SEEDS = 5


@dataclass
class Solved:
    """When and how a seed first met the solve rule."""

    iteration: int
    wall_time: float
    env_steps: int
    episodes: int
    eval_return: float
    """the greedy mean of the evaluation that passed the bar"""
    confirm_return: float | None = None
    """the greedy mean of the confirming evaluation on as many fresh episodes"""


class SeedRun:
    """One seed: its generator, recorded columns, latest policy and status."""

    def __init__(self, cfg: TrainConfig, max_snapshots: int, pause=None, budget: StepBudget | None = None):
        self.cfg = cfg
        self.updates = train(cfg, pause=pause, budget=budget)
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
        self.failure: str | None = None

    def next_update(self) -> bool:
        """Train on until the next update is recorded or the seed ends (True), or until the
        pause hook stops it in the middle of an update (False: the next call goes on there)."""
        try:
            update = next(self.updates)
            if update is None:  # paused in the middle of an update
                return False
            self.record(update)
        except StopIteration:  # train() ends without a last Update only when the step budget ran out
            self.end("max_env_steps")
            return True
        except TrainingDiverged as error:
            self.policy = error.policy  # the last policy whose numbers were finite
            self.end("diverged")
            self.error = str(error)
            return True
        except MemoryError as error:
            self.fail(f"ran out of memory at update {self.recorder.n + 1}" + (f": {error}" if str(error) else ""))
            return True
        except Exception as error:  # noqa: BLE001 (any failure ends the run with words, not a traceback)
            self.fail(f"failed at update {self.recorder.n + 1}: {type(error).__name__}: {error}")
            return True
        return True

    def record(self, update) -> None:
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
                                 self.recorder.episodes, update.eval_return, update.confirm_return)
        if update.stop_reason:
            self.end(update.stop_reason)
        elif self.solved is None and collapsed(self.recorder.columns.column("entropy")):
            self.end("collapsed")

    def end(self, reason: str | None) -> None:
        """Finish (if not finished yet) with ``reason`` and free the rollout and evaluation
        buffers: a finished seed keeps its columns, snapshots and policy only."""
        if not self.finished:
            self.finished, self.stop_reason = True, reason
        self.drop_generator()

    def fail(self, message: str) -> None:
        self.failure = message
        self.end("failed")

    def drop_generator(self) -> None:
        updates, self.updates = self.updates, None
        if updates is not None:
            try:
                updates.close()
            except Exception:  # noqa: BLE001 (a generator that fails on closing is gone all the same)
                pass


class Used:
    """When a session last used a computation (computed or replayed it): the registry
    (pg.app.registry) cancels one nobody has used for a while. Set ``_clock`` and call
    ``touch()`` in ``__init__``."""

    _clock = staticmethod(time.monotonic)
    last_used = 0.0

    def touch(self) -> None:
        """Note that a session uses this now."""
        self.last_used = self._clock()

    def idle_for(self) -> float:
        """Seconds since a session last used this."""
        return self._clock() - self.last_used


class LiveRun(Used):
    """1 to 5 seeds of one config, trained in chunks (see the module docstring).

    ``shared_caps``: the config's ``max_env_steps`` and ``max_seconds`` bound all seeds together
    (the live page); False leaves them to each seed, as ``train`` applies them (a comparison,
    whose budget is per seed). ``clock`` tells when the run was last used (pg.app.registry
    cancels a run nobody uses)."""

    def __init__(self, cfg: TrainConfig, n_seeds: int = 1, max_snapshots: int | None = None, *,
                 shared_caps: bool = True, clock=time.monotonic):
        if not 1 <= n_seeds <= MAX_SEEDS:
            raise ValueError(f"number of seeds must be an integer in [1, {MAX_SEEDS}], got {n_seeds!r}")
        if max_snapshots is None:  # 200 per seed, fewer for a wide network (pg.runs.footprint)
            max_snapshots = live_snapshots(cfg, n_seeds)
        require_fits(cfg, n_seeds, max_snapshots=max_snapshots)  # a run too big for the server is refused here
        self.cfg = cfg
        self.budget = StepBudget(cfg.max_env_steps) if shared_caps else None
        self.shared_caps = shared_caps
        # seeds cfg.seed, cfg.seed + 1, ...; past the largest seed (2**32 - 1) they wrap to 0
        self.seeds = [SeedRun(replace(cfg, seed=(cfg.seed + i) % 2**32), max_snapshots, self._pause, self.budget)
                      for i in range(n_seeds)]
        self.compute_seconds = 0.0
        self.clock = Columns(("seconds", "updates"))  # after each round: training time, updates done
        self.cancelled = False
        self._clock = clock
        self.last_used = clock()
        self._turn = 0  # the seed whose update is next (or under way): the round-robin's place
        self._pause_at = math.inf  # perf_counter time at which the update under way pauses
        self._first_ask = False
        self._lock = threading.Lock()

    def matches(self, cfg: TrainConfig, n_seeds: int) -> bool:
        """Whether this is the run of these settings (Start and Step reuse it if so)."""
        return self.cfg == cfg and len(self.seeds) == n_seeds

    # -- training --------------------------------------------------------------------------
    @property
    def finished(self) -> bool:
        return all(s.finished for s in self.seeds)

    @property
    def computing(self) -> bool:
        """Whether more can be computed: not finished, not cancelled."""
        return not self.finished and not self.cancelled

    def step(self) -> int:
        """One update of every unfinished seed. Returns the number of updates made."""
        self.touch()
        with self._lock:
            return self._step(turns=len(self.seeds))

    def _pause(self) -> bool:
        """The seeds' pause hook, asked between time steps: time to give control back? Never
        at the first time it is asked in a chunk, so that every chunk makes progress."""
        if self._first_ask:
            self._first_ask = False
            return False
        return time.perf_counter() >= self._pause_at

    def _step(self, deadline: float = math.inf, turns: int | None = None) -> int:
        """The seeds take turns, round-robin from the one whose turn it is, each making one
        update (a finished seed skips its turn): ``turns`` turns, or to the end of the round
        (the last seed) if None. ``deadline`` (a perf_counter time) pauses the seed under way,
        whose turn it then stays. Returns the updates made."""
        start, made, n_seeds = time.perf_counter(), 0, len(self.seeds)
        turns = n_seeds - self._turn if turns is None else turns
        if self.shared_caps:  # the time cap: all seeds' training counts
            deadline = min(deadline, start + self.cfg.max_seconds - self.compute_seconds)
        self._pause_at, self._first_ask = deadline, True
        try:
            while turns > 0 and self.computing:
                seed = self.seeds[self._turn]
                if not seed.finished:
                    before = seed.recorder.n
                    turn_over = seed.next_update()
                    made += seed.recorder.n - before
                    if seed.failure is not None:
                        self._end_all("failed")
                    if not turn_over:
                        break
                self._turn = (self._turn + 1) % n_seeds
                turns -= 1
        finally:
            self._pause_at = math.inf
            self.compute_seconds += time.perf_counter() - start
            if self.shared_caps:
                self._apply_caps()
        if made:
            self.clock.append({"seconds": self.compute_seconds, "updates": self.n})
        return made

    def _apply_caps(self) -> None:
        """End every unfinished seed once the run's step or time cap is spent."""
        if self.budget.spent:
            self._end_all("max_env_steps")
        elif self.compute_seconds >= self.cfg.max_seconds:
            self._end_all("max_seconds")

    def _end_all(self, reason: str) -> None:
        for seed in self.seeds:
            seed.end(reason)

    def advance(self, seconds: float, max_updates: int | None = None) -> int:
        """Train for about ``seconds``, or until ``max_updates`` more updates are recorded
        (counted as ``n`` counts them). Returns the number of updates made.

        It returns within about ``seconds`` even in the middle of an update (which the next
        call resumes). A round (an update of every seed) that would likely end past the
        deadline (it takes about as long as the last one) is left for the next call: the page
        redraws every ``seconds``. If another session is computing this run, it waits for it
        at most ``seconds`` and then returns 0 (no queue of waiting computations builds up)."""
        start = time.perf_counter()
        if not self._lock.acquire(timeout=max(seconds, 0.0)):
            self.touch()
            return 0
        try:
            self.touch()
            deadline = start + seconds
            made, target = 0, None if max_updates is None else self.n + max_updates
            while self.computing:
                round_start = time.perf_counter()
                made += self._step(deadline)
                now = time.perf_counter()
                if now + (now - round_start) > deadline or (target is not None and self.n >= target):
                    break
            return made
        finally:
            self.touch()
            self._lock.release()

    def cancel(self, wait: float = 0.0) -> bool:
        """Give the computation up for good (nobody is using it): close every generator and
        drop its buffers; the history, snapshots and policies stay. False (nothing done) if a
        session is computing it and does not let go within ``wait`` seconds."""
        if not self._lock.acquire(timeout=wait):
            return False
        try:
            if self.computing:
                self.cancelled = True
            for seed in self.seeds:
                seed.drop_generator()
            return True
        finally:
            self._lock.release()

    @property
    def failure(self) -> str | None:
        """What ended the run, if it failed (ran out of memory, an unexpected error)."""
        failures = [s.failure for s in self.seeds if s.failure]
        return failures[0] if failures else None

    def updates_at(self, seconds: float) -> int:
        """How many updates (``n``) had been computed after ``seconds`` of training: a
        viewer replaying a shared run at the speed it was computed shows this many."""
        times = self.clock.column("seconds")
        k = int(np.searchsorted(times, seconds, side="right"))
        return 0 if k == 0 else int(self.clock.column("updates")[k - 1])

    # -- reading ---------------------------------------------------------------------------
    @property
    def n(self) -> int:
        """Updates recorded by the seed that has gone furthest (seeds end at their own time)."""
        return max(s.recorder.n for s in self.seeds)

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
        n = seed.recorder.n if upto is None else min(int(upto), seed.recorder.n)
        index = np.arange(n) if max_points is None else downsample_index(n, max_points)
        out = {name: seed.recorder.columns.column(name)[index] for name in HISTORY_FIELDS}
        out["ma_return"] = seed.ma.column("ma_return")[index]
        return out

    def episode_points(self, i: int = 0, upto: float | None = None, max_points: int = 1500) -> dict:
        """Seed i's episode returns up to update ``upto``, downsampled. A fractional ``upto``
        (3.25) also holds that share of the next update's batch, in the order the episodes were
        recorded (a replay reveals a batch dot by dot before its mean is drawn)."""
        seed = self.seeds[i]
        iterations = seed.episodes.column("iteration")
        n = len(iterations)
        if upto is not None:
            whole = math.floor(upto)
            n = int(np.searchsorted(iterations, whole, side="right"))
            batch = int(np.searchsorted(iterations, whole + 1, side="right")) - n
            n += int((upto - whole) * batch)
        index = downsample_index(n, max_points)
        return {name: seed.episodes.column(name)[index] for name in ("episode", "return", "iteration")}

    def band(self, field: str, upto: int | None = None, max_points: int = 400) -> dict:
        """Per update index: median, min and max of ``field`` across seeds. A seed that has
        stopped (solved, or out of budget) keeps its last value."""
        lengths = [s.recorder.n for s in self.seeds]
        n = max(lengths) if upto is None else min(int(upto), max(lengths))
        index = downsample_index(n, max_points)
        rows = []
        for seed, length in zip(self.seeds, lengths):
            if length == 0:
                continue
            rows.append(self._column(seed, field)[np.minimum(index, length - 1)])
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

    def seed_lines(self, field: str, upto: float | None = None, max_points: int = 200) -> dict:
        """Every seed's ``field`` (as ``band`` names it) per update, each seed to its own end
        (not past it): columns iteration, seed (its config's seed) and value."""
        parts = {"iteration": [], "seed": [], "value": []}
        for seed in self.seeds:
            n = seed.recorder.n if upto is None else min(int(upto), seed.recorder.n)
            index = downsample_index(n, max_points)
            parts["iteration"].append(index + 1.0)
            parts["seed"].append(np.full(len(index), float(seed.cfg.seed)))
            parts["value"].append(self._column(seed, field)[index])
        return {name: np.concatenate(values) for name, values in parts.items()}

    @staticmethod
    def _column(seed: SeedRun, field: str) -> np.ndarray:
        """A seed's column by the name ``band`` uses: a history field, "ma_return" or
        "eval_value" (each evaluation's number: its mean, or a cut-short one's upper bound)."""
        if field == "ma_return":
            return seed.ma.column("ma_return")
        columns = seed.recorder.columns
        if field == "eval_value":
            done = columns.column("eval_return")
            return np.where(np.isnan(done), columns.column("eval_upper_bound"), done)
        return columns.column(field)

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
