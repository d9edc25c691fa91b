"""Live training: one config, 1 to 5 seeds, trained in short chunks between redraws.

The live page calls ``advance(seconds)`` once per tick and draws from the recorded columns.
Everything the page shows comes from here, so it is tested without Streamlit:

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

A LiveRun may be shared by several sessions (runs are deterministic): ``advance`` holds a
lock, and readers only read rows below ``n``, which never change once written.
"""

from __future__ import annotations

import threading
import time
import warnings
from collections import deque
from dataclasses import dataclass, replace

import numpy as np

from pg.runs.checkpoint import Run, policy_to_bytes
from pg.runs.history import HISTORY_FIELDS, Columns, RunRecorder, downsample_index
from pg.algo.reinforce import TrainConfig, TrainingDiverged, initial_policy, train

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


def status_message(live: LiveRun, upto: int | None = None) -> tuple[str, str] | None:
    """The banner over the live charts: ("error" | "success" | "warning", text) or None while
    nothing has happened yet, for a viewer who has seen the first ``upto`` updates. Diverged
    beats solved beats out of budget."""
    seen = live.n if upto is None else upto
    if seen < live.n:  # a viewer replaying a shared run: only what it has reached so far
        solved = [s for s in live.seeds if s.solved is not None and s.solved.iteration <= seen]
        if not solved:
            return None
        if len(live.seeds) > 1:
            return ("success", f"{len(solved)} of {len(live.seeds)} seeds solved so far.")
    if live.error:
        return ("error", f"{live.error}. The run stopped and kept the last policy whose numbers were finite; "
                "try a smaller learning rate, advantage normalisation or gradient clipping.")
    solved = [s for s in live.seeds if s.solved is not None]
    if len(live.seeds) == 1 and solved:
        s, cfg = solved[0].solved, live.cfg
        return ("success", f"Solved at update {s.iteration}: greedy mean return {s.eval_return:.1f} over "
                f"{cfg.eval_episodes} episodes ≥ {cfg.solve_return:g}, after {s.wall_time:.2f} s of training, "
                f"{s.episodes:,} episodes and {s.env_steps:,} env steps.")
    if solved:
        return ("success", f"{len(solved)} of {len(live.seeds)} seeds solved: " + "; ".join(
            f"seed {r.cfg.seed} at update {r.solved.iteration} ({r.solved.wall_time:.2f} s, "
            f"{r.solved.env_steps:,} env steps)" for r in solved))
    if live.finished:
        reason = live.seeds[0].stop_reason or "its budget"
        return ("warning", f"Not solved: stopped by {reason.replace('_', ' ')} at update {live.n}.")
    return None


class RunRegistry:
    """Runs shared by every session of a server, keyed by (config, number of seeds).

    Runs are deterministic, so fifty people pressing Start on the same settings can watch
    one computation: the first computes, the others replay its recorded updates. At most
    ``max_entries`` runs are kept (least recently used go first; a session that still holds
    an evicted run keeps it until it lets go).
    """

    def __init__(self, max_entries: int = 16):
        self.max_entries = max_entries
        self._runs: dict[tuple, LiveRun] = {}
        self._lock = threading.Lock()
        self.created = 0

    def get(self, cfg: TrainConfig, n_seeds: int = 1, on_create=None) -> LiveRun:
        """The run for these settings; ``on_create(run)`` is called (under the lock, so once
        per run however many sessions ask at the same moment) when it is a new one."""
        key = (cfg, n_seeds)
        with self._lock:
            run = self._runs.pop(key, None)
            if run is None or (run.error is None and run.finished and run.n == 0):
                run = LiveRun(cfg, n_seeds)
                self.created += 1
                if on_create is not None:
                    on_create(run)
            self._runs[key] = run  # most recently used last
            while len(self._runs) > self.max_entries:
                self._runs.pop(next(iter(self._runs)))
            return run

    def __len__(self) -> int:
        return len(self._runs)


# ---------------------------------------------------------------------------------------------
# One viewer's next frame: what the page shows after its next 0.2 s tick
# ---------------------------------------------------------------------------------------------
def follow(live: LiveRun, view_seconds: float, tick: float, sleep=time.sleep,
           now=time.perf_counter) -> tuple[int, float]:
    """"As fast as possible": a viewer ``view_seconds`` into a run (perhaps shared) computes the
    next ``tick`` seconds if nobody has, else waits ``tick`` and replays what was computed then.

    Returns (updates to show, the viewer's new time). A finished run shows every update once
    the viewer has caught up with its computing time; so fifty viewers of one run see it at
    the speed it was computed, whoever computed it."""
    start = now()
    if live.updates_at(view_seconds + tick) >= live.n and not live.finished:
        live.advance(tick)
    else:
        sleep(tick)
    view_seconds += now() - start
    caught_up = live.finished and view_seconds >= live.compute_seconds
    return (live.n if caught_up else live.updates_at(view_seconds)), view_seconds


def step_view(live: LiveRun, shown: int) -> int:
    """Step: show one more update, computing it if nobody has. Returns the updates to show."""
    if shown >= live.n:
        live.step()
    return min(shown + 1, live.n)


def pace_through(live: LiveRun, shown: int, clock: float, pace: float, tick: float,
                 sleep=time.sleep, now=time.perf_counter) -> tuple[int, float]:
    """"Human pace": show ``pace`` updates a second (at least one per tick), computing only just
    ahead of what is shown. ``clock`` is the time of the last frame (``now()`` before the first).

    Returns (updates to show, the time of this frame)."""
    sleep(max(0.0, tick - (now() - clock)))
    frame = now()
    target = shown + max(1, round(pace * (frame - clock)))
    if live.n < target:
        live.advance(tick, max_updates=target - live.n)
    return min(target, live.n), frame


def progress_text(live: LiveRun, upto: int | None = None) -> str:
    """The caption under the banner: where the viewer is, in updates, steps and seconds."""
    shown = live.n if upto is None else min(upto, live.n)
    if shown == 0:
        return "update 0 · nothing trained yet"
    cols = live.seeds[0].recorder.columns
    steps, seconds = int(cols.column("env_steps")[shown - 1]), float(cols.column("wall_time")[shown - 1])
    seeds = f" (seed {live.cfg.seed}; {len(live.seeds)} seeds in all)" if len(live.seeds) > 1 else ""
    return f"update {shown} · {steps:,} env steps · {seconds:.2f} s of training{seeds}"
