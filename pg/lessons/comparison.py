"""Estimators side by side: train each on CartPole with several seeds, probe their gradients.

A ``Comparison`` trains one pg.runs.live.LiveRun per estimator (the same base config and the same
seeds, so estimator k and estimator j start from the same policy and the same start states),
each run stopping when it solves or at its budget. Then it probes every estimator's gradient
(pg.lessons.variance) at two shared policies, so the bars compare like with like:

* "start": the untrained policy every run begins from (update 0);
* "mid": a policy on its way, from the first seed of the first estimator that got there: its
  first update whose training episodes averaged at least ``MID_RETURN`` steps (if no
  estimator's first seed did, the best update of any).

At each checkpoint it then measures a reference gradient (pg.lessons.reference: a large-sample
estimate of the gradient at that policy, ``reference_episodes`` episodes, with its own noise), so
the direction of each estimator is measured against the gradient rather than against its own
mean (which cannot see a bias).

It runs in chunks (``advance(seconds)``), so a page can redraw between them; ``run()`` goes to
the end (the CLI and the benchmark). Everything it reports comes from its own runs:

================  ===========================================================================
method            what
================  ===========================================================================
curves(x)         per estimator, on a common x grid ("env_steps" or "wall_time"): median, min
                  and max over seeds of the training episodes' mean return; a seed that has
                  stopped keeps its last value (LiveRun.band's convention)
solve_points()    one row per solved seed: where it solved (env steps, seconds, return)
variance_rows()   one row per (estimator, checkpoint): the probe's statistics and, once the
                  checkpoint's reference is measured, the cosines to it (reference_cosines)
table()           one row per estimator: steps and seconds to solve (median [min-max] over the
                  seeds that solved), relative variance and cosine to the reference at each
                  checkpoint, seeds solved k/n
================  ===========================================================================
"""

from __future__ import annotations

import statistics
import threading
import time
from dataclasses import dataclass, field

import numpy as np

from pg.algo.estimators import DEFAULT_ESTIMATORS, EstimatorSpec, parse_estimator
from pg.algo.reinforce import TrainConfig, initial_policy
from pg.lessons.reference import (
    BEYOND_NOISE,
    REFERENCE_BATCH,
    REFERENCE_EPISODES,
    REFERENCE_STREAM,
    ReferenceGradient,
    reference_batches,
    reference_cosines,
    reference_from_probe,
    reference_probe,
)
from pg.lessons.variance import GradientProbe
from pg.runs.footprint import require_comparison_fits
from pg.runs.live import MAX_SEEDS, LiveRun, Used

MAX_ESTIMATORS = 4
MID_RETURN = 150.0  # the "mid" checkpoint: training episodes balance 150 of 500 steps on average
CHECKPOINTS = ("start", "mid")


# What the Compare page offers: estimator families ("gae" takes its lambda from a slider) and
# episodes per update
COMPARE_CHOICES = ("reinforce", "rtg", "rtg-moving-average", "rtg-batch-mean", "rtg-value", "td0", "gae")
COMPARE_EPISODES = (4, 8, 16, 32, 64)


@dataclass(frozen=True)
class CompareSettings:
    """What a comparison runs: estimators, seeds, and the base config they share."""

    estimators: tuple[str, ...] = DEFAULT_ESTIMATORS
    """estimator names (pg.algo.estimators.ESTIMATOR_NAMES; "gae:0.95" carries its lambda)"""
    n_seeds: int = 5
    """seeds per estimator: seed, seed + 1, ..."""
    seed: int = 0
    """the first seed"""
    batch_episodes: int = 16
    """episodes per update (and per probed gradient estimate)"""
    value_model: str = "mlp"
    """the critic / value baseline: "linear" or "mlp\""""
    normalize_advantages: bool = False
    """off: each estimator as the theory defines it (normalising hides much of the difference)"""
    max_env_steps: int = 300_000
    """budget of each run (one estimator, one seed)"""
    max_seconds: float = 60.0
    """budget of each run, in seconds of training (generous: the env-step budget should bind, since
    seconds depend on the machine and its load)"""
    probe_estimates: int = 32
    """independent gradient estimates per estimator and checkpoint"""
    reference_episodes: int = REFERENCE_EPISODES
    """episodes behind the reference gradient at each checkpoint (in batches of 64)"""

    def __post_init__(self):
        names = tuple(parse_estimator(e).name for e in self.estimators)  # raises on a bad name
        if not 1 <= len(names) <= MAX_ESTIMATORS:
            raise ValueError(f"estimators must list 1 to {MAX_ESTIMATORS} estimators, got {len(names)}")
        if len(set(names)) != len(names):
            raise ValueError(f"estimators must not repeat, got {', '.join(names)}")
        object.__setattr__(self, "estimators", names)
        if not isinstance(self.n_seeds, int) or not 1 <= self.n_seeds <= MAX_SEEDS:
            raise ValueError(f"n_seeds must be an integer in [1, {MAX_SEEDS}], got {self.n_seeds!r}")
        if not isinstance(self.probe_estimates, int) or not 2 <= self.probe_estimates <= 10_000:
            raise ValueError(f"probe_estimates must be an integer in [2, 10000], got {self.probe_estimates!r}")
        if not isinstance(self.reference_episodes, int) or not 128 <= self.reference_episodes <= 65_536:
            raise ValueError(f"reference_episodes must be an integer in [128, 65536], got {self.reference_episodes!r}")
        self.base_config()  # TrainConfig validates the rest, naming the field

    @property
    def specs(self) -> list[EstimatorSpec]:
        return [parse_estimator(e) for e in self.estimators]

    def base_config(self) -> TrainConfig:
        return TrainConfig(batch_episodes=self.batch_episodes, value_model=self.value_model,
                           normalize_advantages=self.normalize_advantages, max_env_steps=self.max_env_steps,
                           max_seconds=self.max_seconds, seed=self.seed)

    @property
    def seeds(self) -> list[int]:
        return list(range(self.seed, self.seed + self.n_seeds))


@dataclass
class Checkpoint:
    name: str
    """"start" or "mid\""""
    policy: object
    description: str
    """where the policy comes from, in words"""
    probe: GradientProbe | None = field(default=None, repr=False)
    reference: ReferenceGradient | None = field(default=None, repr=False)
    """measured after every checkpoint's probe is done"""
    reference_probe: GradientProbe | None = field(default=None, repr=False)
    """the reference's probe while it runs (dropped once done: its episodes' buffers are freed)"""


class Comparison(Used):
    """The comparison of ``settings`` (see the module docstring). Each run's budget is per
    seed (CompareSettings.max_env_steps, max_seconds). Like a LiveRun it can be cancelled
    (``cancel``: what was recorded stays) and it ends with a message in ``failure`` rather than
    raise when a run or a probe fails (ran out of memory, say)."""

    def __init__(self, settings: CompareSettings, clock=time.monotonic):
        require_comparison_fits(settings)  # the whole comparison, before any run is made
        self.settings = settings
        self.specs = settings.specs
        base = settings.base_config()
        # every snapshot kept, so the "mid" checkpoint is the exact policy of that update;
        # each LiveRun refuses a run too big for the server (pg.runs.footprint)
        self.runs = [LiveRun(spec.config(base), settings.n_seeds, max_snapshots=base.max_updates + 1,
                             shared_caps=False, clock=clock)
                     for spec in self.specs]
        self.checkpoints: list[Checkpoint] = []
        self.probe_seconds = 0.0
        self.cancelled = False
        self.probe_failure: str | None = None
        self._clock = clock
        self.last_used = clock()
        self._lock = threading.Lock()

    # -- running ---------------------------------------------------------------------------
    @property
    def training_finished(self) -> bool:
        return all(run.finished for run in self.runs)

    @property
    def finished(self) -> bool:
        return self.training_finished and len(self.checkpoints) == len(CHECKPOINTS) and all(
            c.probe is not None and c.probe.done and c.reference is not None for c in self.checkpoints)

    @property
    def failure(self) -> str | None:
        """What ended the comparison, if a run or a probe failed, in words."""
        for spec, run in zip(self.specs, self.runs, strict=True):
            if run.failure is not None:
                return f"{spec.label}: {run.failure}"
        return self.probe_failure

    @property
    def done(self) -> bool:
        """Nothing more will be computed: finished, failed or cancelled."""
        return self.finished or self.failure is not None or self.cancelled

    @property
    def computing(self) -> bool:
        return not self.done

    def advance(self, seconds: float) -> None:
        """About ``seconds`` of work: training (the unfinished runs share the time), then the
        gradient probes."""
        deadline = time.perf_counter() + seconds
        if not self._lock.acquire(timeout=max(seconds, 0.0)):  # another session computes it: no queue
            self.touch()
            return
        try:
            self.touch()
            while not self.done:
                if not self.training_finished:
                    running = [run for run in self.runs if not run.finished]
                    left = max(deadline - time.perf_counter(), 0.0)
                    for run in running:
                        run.advance(left / len(running))
                else:
                    self._probe_step()
                if time.perf_counter() >= deadline:
                    break
        finally:
            self.touch()
            self._lock.release()

    def cancel(self, wait: float = 0.0) -> bool:
        """Give the computation up for good: the runs are cancelled (their buffers freed) and
        unfinished probes dropped; what was recorded stays. False if a session is computing it
        and does not let go within ``wait`` seconds."""
        if not self._lock.acquire(timeout=wait):
            return False
        try:
            if not self.done:
                self.cancelled = True
            for run in self.runs:
                run.cancel(wait=max(wait, 1.0))
            for c in self.checkpoints:
                if c.probe is not None and not c.probe.done:
                    c.probe = None
                c.reference_probe = None
            return True
        finally:
            self._lock.release()

    def run(self) -> Comparison:
        """To the end (training and probes), or until a failure."""
        while not self.done:
            self.advance(1.0)
        return self

    def _probe_step(self) -> None:
        start = time.perf_counter()
        try:
            if not self.checkpoints:
                self.checkpoints = self._make_checkpoints()
            current = next((c for c in self.checkpoints if not c.probe.done), None)
            if current is not None:
                current.probe.step()
            else:
                self._reference_step()
        except MemoryError as error:
            self.probe_failure = "the gradient probe ran out of memory" + (f": {error}" if str(error) else "")
        except Exception as error:  # noqa: BLE001 (a failure ends the comparison with words, not a traceback)
            self.probe_failure = f"the gradient probe failed: {type(error).__name__}: {error}"
        self.probe_seconds += time.perf_counter() - start

    def _reference_step(self) -> None:
        """One batch of the first checkpoint's reference that is not measured yet."""
        s, base = self.settings, self.settings.base_config()
        c = next(c for c in self.checkpoints if c.reference is None)
        if c.reference_probe is None:  # made when its turn comes: one reference's buffers at a time
            c.reference_probe = reference_probe(c.policy, s.reference_episodes, seed=[s.seed, REFERENCE_STREAM],
                                                gamma=base.gamma, max_steps=base.max_episode_steps)
        c.reference_probe.step()
        if c.reference_probe.done:
            c.reference, c.reference_probe = reference_from_probe(c.reference_probe), None

    def mid_reference(self) -> tuple[int, int]:
        """(estimator index, update) of the "mid" policy: in the first estimator whose first seed
        reached MID_RETURN, the first update that did; if none did, the best update of any."""
        best = None
        for k, run in enumerate(self.runs):
            history = run.history(0)
            returns = history["mean_return"]
            if not len(returns):
                continue
            reached = np.flatnonzero(returns >= MID_RETURN)
            if len(reached):
                return k, int(history["iteration"][reached[0]])
            j = int(np.argmax(returns))
            if best is None or returns[j] > best[0]:
                best = (float(returns[j]), k, int(history["iteration"][j]))
        return (0, 0) if best is None else best[1:]

    def _make_checkpoints(self) -> list[Checkpoint]:
        s, base = self.settings, self.settings.base_config()
        k, iteration = self.mid_reference()
        if iteration == 0:  # no first seed recorded an update (each diverged at once)
            mid = Checkpoint("mid", initial_policy(base), f"the untrained policy of seed {s.seed} (no update recorded)")
        else:
            returns = self.runs[k].history(0)["mean_return"]
            mid = Checkpoint(
                "mid", self.runs[k].policy_at(iteration, 0),
                f"the policy of {self.specs[k].label}, seed {s.seed}, after update {iteration} (its training "
                f"episodes averaged {returns[iteration - 1]:.0f} steps)",
            )
        start = Checkpoint("start", initial_policy(base), f"the untrained policy of seed {s.seed} (update 0)")
        for c in (start, mid):
            c.probe = GradientProbe(c.policy, self.specs, s.probe_estimates, s.batch_episodes, seed=s.seed,
                                    gamma=base.gamma, max_steps=base.max_episode_steps,
                                    value_model=s.value_model, normalize=s.normalize_advantages)
        return [start, mid]

    def progress(self) -> tuple[float, str]:
        """(fraction done in [0, 1], what is happening, in words)."""
        n_runs = len(self.runs) * self.settings.n_seeds
        done = sum(seed.finished for run in self.runs for seed in run.seeds)
        if not self.training_finished:
            # a run's share: its budget used so far, whichever budget is nearest
            parts = []
            for run in self.runs:
                for seed in run.seeds:
                    if seed.finished:
                        parts.append(1.0)
                    elif seed.recorder.n:
                        cols = seed.recorder.columns
                        parts.append(min(1.0, max(cols.column("env_steps")[-1] / seed.cfg.max_env_steps,
                                                  cols.column("wall_time")[-1] / seed.cfg.max_seconds)))
                    else:
                        parts.append(0.0)
            return 0.8 * float(np.mean(parts)), f"training: {done} of {n_runs} runs finished"
        total = len(CHECKPOINTS) * self.settings.probe_estimates
        made = sum(c.probe.n for c in self.checkpoints)
        if made < total:
            return 0.8 + 0.1 * made / total, f"probing the gradients: {made} of {total} batches"
        per = reference_batches(self.settings.reference_episodes)
        refs = sum(per if c.reference is not None else c.reference_probe.n if c.reference_probe is not None else 0
                   for c in self.checkpoints)
        episodes = f"{per * REFERENCE_BATCH:,} episodes"
        if refs < len(CHECKPOINTS) * per:
            return (0.9 + 0.1 * refs / (len(CHECKPOINTS) * per),
                    f"the reference gradients ({episodes} at each policy): {refs} of {len(CHECKPOINTS) * per} batches")
        return 1.0, f"done: {n_runs} runs and {total} probe batches, and reference gradients of {episodes}"

    # -- reading ---------------------------------------------------------------------------
    def _seed_columns(self, k: int) -> list[dict]:
        run = self.runs[k]
        return [run.history(i) for i in range(len(run.seeds)) if run.seeds[i].recorder.n]

    def curves(self, x: str = "env_steps", points: int = 200) -> dict[str, np.ndarray]:
        """Columns estimator, x, median, low, high: the training episodes' mean return of each
        estimator's seeds, interpolated onto one grid of ``points`` values of ``x``
        ("env_steps" or "wall_time") and reduced over seeds."""
        if x not in ("env_steps", "wall_time"):
            raise ValueError(f"x must be env_steps or wall_time, got {x!r}")
        per_run = [self._seed_columns(k) for k in range(len(self.runs))]
        ends = [h[x][-1] for seeds in per_run for h in seeds]
        out = {"estimator": [], "x": [], "median": [], "low": [], "high": []}
        if not ends:
            return {k: np.array(v) for k, v in out.items()}
        grid = np.linspace(0.0, max(ends), points)
        for spec, seeds in zip(self.specs, per_run):
            if not seeds:
                continue
            first, last = min(h[x][0] for h in seeds), max(h[x][-1] for h in seeds)
            xs = grid[(grid >= first) & (grid <= last)]
            xs = np.unique(np.concatenate([[first], xs, [last]]))
            ys = np.vstack([np.interp(xs, h[x], h["mean_return"]) for h in seeds])
            out["estimator"] += [spec.label] * len(xs)
            out["x"].append(xs)
            out["median"].append(np.median(ys, axis=0))
            out["low"].append(ys.min(axis=0))
            out["high"].append(ys.max(axis=0))
        return {"estimator": np.array(out["estimator"]),
                **{k: np.concatenate(out[k]) for k in ("x", "median", "low", "high")}}

    def solve_points(self) -> dict[str, np.ndarray]:
        """Columns estimator, seed, env_steps, wall_time, mean_return: one row per solved seed."""
        rows = []
        for spec, run in zip(self.specs, self.runs):
            for seed in run.seeds:
                if seed.solved is not None:
                    h = seed.recorder.columns
                    rows.append((spec.label, seed.cfg.seed, seed.solved.env_steps, seed.solved.wall_time,
                                 h.column("mean_return")[seed.solved.iteration - 1]))
        names = ("estimator", "seed", "env_steps", "wall_time", "mean_return")
        return {name: np.array([r[i] for r in rows]) for i, name in enumerate(names)}

    def variance_rows(self) -> list[dict]:
        """One row per (estimator, checkpoint probed so far, with >= 2 estimates)."""
        rows = []
        for c in self.checkpoints:
            if c.probe is None or c.probe.n < 2:
                continue
            ref = c.reference
            to_reference = {} if ref is None else reference_cosines(c.probe, ref)
            for spec, (name, stats) in zip(self.specs, c.probe.results().items()):
                row = {"estimator": spec.label, "name": name, "checkpoint": c.name,
                       "description": c.description, "n_estimates": stats["n_estimates"],
                       "episodes": stats["episodes"], "variance": stats["variance"],
                       "relative_variance": stats["relative_variance"],
                       "cosine_mean": stats["cosine_mean"], "cosine_std": stats["cosine_std"],
                       **dict.fromkeys(REFERENCE_KEYS)}
                if ref is not None:
                    row.update({k: to_reference[name][k] for k in REFERENCE_KEYS if k in to_reference[name]})
                    row.update(reference_episodes=ref.episodes, reference_relative_noise=ref.relative_noise,
                               reference_noise_angle=float(np.degrees(np.arctan(ref.relative_noise))))
                rows.append(row)
        return rows

    def table(self) -> list[dict]:
        """One row per estimator (see the module docstring); numbers, not text."""
        probed = {(r["name"], r["checkpoint"]): r for r in self.variance_rows()}
        rows = []
        for spec, run in zip(self.specs, self.runs):
            solved = [s.solved for s in run.seeds if s.solved is not None]
            row = {"estimator": spec.label, "name": spec.name,
                   "seeds": [s.cfg.seed for s in run.seeds],
                   "solved": len(solved), "n_seeds": len(run.seeds),
                   "diverged": sum(s.stop_reason == "diverged" for s in run.seeds),
                   "stop_reasons": [s.stop_reason for s in run.seeds]}
            row.update(_summary("env_steps", [s.env_steps for s in solved]))
            row.update(_summary("seconds", [s.wall_time for s in solved]))
            for name in CHECKPOINTS:
                r = probed.get((spec.name, name)) or {}
                row[f"variance_{name}"] = r.get("variance")
                row[f"relative_variance_{name}"] = r.get("relative_variance")
                row[f"cosine_{name}"] = r.get("cosine_mean")
                row[f"cosine_reference_{name}"] = r.get("cosine_reference")
            rows.append(row)
        return rows


REFERENCE_KEYS = ("relative_variance_se", "cosine_reference", "cosine_reference_std", "cosine_reference_se", "cosine_mean_reference",
                  "angle_reference", "noise_angle", "beyond_noise", "threshold_cosine", "reference_episodes",
                  "reference_relative_noise", "reference_noise_angle")
"""a variance row's reference columns: None until the checkpoint's reference is measured"""
def _summary(name: str, values: list) -> dict:
    if not values:
        return {f"{name}_median": None, f"{name}_min": None, f"{name}_max": None}
    return {f"{name}_median": float(statistics.median(values)), f"{name}_min": float(min(values)),
            f"{name}_max": float(max(values))}


# ---------------------------------------------------------------------------------------------
# The table in words and numbers (the page, the CLI and the benchmark print the same)
# ---------------------------------------------------------------------------------------------
TABLE_COLUMNS = ("Estimator", "Env steps to solve", "Seconds to solve", "Relative variance (start)",
                 "Relative variance (mid)", "cos to reference (mid)", "Seeds solved")


def _range(row: dict, name: str, fmt: str) -> str:
    if row[f"{name}_median"] is None:
        return "not solved"
    median, low, high = (format(row[f"{name}_{k}"], fmt) for k in ("median", "min", "max"))
    return median if row["solved"] == 1 else f"{median} [{low}–{high}]"


def _number(value, fmt: str = ".3g") -> str:
    return "–" if value is None else format(value, fmt)


def formatted_table(rows: list[dict]) -> list[dict[str, str]]:
    """The table as text cells under TABLE_COLUMNS (medians over the seeds that solved,
    [min–max] beside them)."""
    out = []
    for row in rows:
        solved = f"{row['solved']}/{row['n_seeds']}"
        notes = [f"{row['diverged']} diverged"] if row["diverged"] else []
        out_of_time = row.get("stop_reasons", []).count("max_seconds")
        if out_of_time:  # seconds depend on the machine and its load: say so
            notes.append(f"{out_of_time} out of time")
        if notes:
            solved += f" ({', '.join(notes)})"
        out.append(dict(zip(TABLE_COLUMNS, (
            row["estimator"], _range(row, "env_steps", ",.0f"), _range(row, "seconds", ".2f"),
            _number(row["relative_variance_start"]), _number(row["relative_variance_mid"]),
            _number(row["cosine_reference_mid"], ".2f"),
            solved,
        ))))
    return out


def text_table(rows: list[dict]) -> str:
    """The formatted table as aligned plain text (the CLI's output)."""
    cells = formatted_table(rows)
    widths = [max(len(c), *(len(r[c]) for r in cells)) for c in TABLE_COLUMNS]
    lines = ["  ".join(c.ljust(w) for c, w in zip(TABLE_COLUMNS, widths))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(r[c].ljust(w) for c, w in zip(TABLE_COLUMNS, widths)) for r in cells]
    return "\n".join(lines)


def describe(comparison: Comparison) -> str:
    """The caption under the table: seeds, budgets and the probe's checkpoints, in words."""
    s, base = comparison.settings, comparison.settings.base_config()
    seeds = ", ".join(map(str, s.seeds))
    text = (f"Seeds {seeds} for every estimator ({s.batch_episodes} episodes per update, Adam, "
            f"lr {base.lr:g}, γ {base.gamma:g}, advantages {'normalised' if s.normalize_advantages else 'not normalised'}, "
            f"{s.value_model} critic). Each run stops when solved (greedy mean ≥ {base.solve_return:g} over "
            f"{base.eval_episodes} episodes) or after {s.max_env_steps:,} env steps or {s.max_seconds:g} s. "
            "Steps and seconds to solve: median [min–max] over the seeds that solved; seconds count training and "
            "evaluation. Relative variance: the trace of the covariance of one update's gradient estimate over the "
            "squared length of the estimator's mean estimate; cos to reference: the mean cosine of one update's "
            f"estimate to a reference gradient from {reference_batches(s.reference_episodes) * REFERENCE_BATCH:,} "
            f"episodes at the same policy. Both from {s.probe_estimates} independent batches of {s.batch_episodes} "
            "episodes")
    if comparison.checkpoints:
        text += " at " + "; and at ".join(f"“{c.name}”: {c.description}" for c in comparison.checkpoints)
    return text + "."


# ---------------------------------------------------------------------------------------------
# What a comparison found, and a prediction checked against it (the page says both, measured)
# ---------------------------------------------------------------------------------------------
CHECKPOINT_WORDS = {"start": "the untrained policy", "mid": "the policy on its way"}


@dataclass(frozen=True)
class Findings:
    """What the variance rows of one checkpoint show, once its reference is measured (each a
    row of Comparison.variance_rows())."""

    checkpoint: str
    lowest_variance: dict  # the lowest relative variance
    highest_variance: dict
    closest: dict  # the highest mean cosine of one batch's estimate to the reference
    furthest: dict  # the lowest
    biased: tuple[dict, ...]  # the rows whose mean estimate points off the reference beyond noise

    @property
    def reference(self) -> dict:
        """The reference's columns (the same in every row of the checkpoint)."""
        return {k: self.lowest_variance[k] for k in ("reference_episodes", "reference_relative_noise",
                                                     "reference_noise_angle")}


def checkpoint_rows(rows: list[dict], checkpoint: str) -> list[dict] | None:
    """The rows of ``checkpoint``, or None until its reference is measured (the probe is done then)."""
    at = [r for r in rows if r["checkpoint"] == checkpoint]
    if not at or any(r["cosine_reference"] is None for r in at):
        return None
    return at


def findings(rows: list[dict], checkpoint: str = "mid") -> Findings | None:
    """The Findings at ``checkpoint`` from Comparison.variance_rows(), or None until measured."""
    at = checkpoint_rows(rows, checkpoint)
    if at is None:
        return None
    by_variance = sorted(at, key=lambda r: r["relative_variance"])
    by_cosine = sorted(at, key=lambda r: r["cosine_reference"])
    return Findings(checkpoint, by_variance[0], by_variance[-1], by_cosine[-1], by_cosine[0],
                    tuple(r for r in at if r["beyond_noise"]))


def findings_text(f: Findings, gamma: float = 0.99) -> list[str]:
    """The findings as Markdown sentences, every number from the rows."""
    ref = f.reference
    lines = [f"At {CHECKPOINT_WORDS.get(f.checkpoint, f.checkpoint)}, the reference gradient ({ref['reference_episodes']:,} "
             f"episodes of Gₜ − batch mean) has relative noise {ref['reference_relative_noise']:.2f}: its direction "
             f"is sure to about {ref['reference_noise_angle']:.0f}°."]
    low, high = f.lowest_variance, f.highest_variance
    if low is not high:
        lines.append(f"Lowest relative variance: **{low['estimator']}** ({_with_se(low)}); "
                     f"highest: **{high['estimator']}** ({_with_se(high)}).")
    close, far = f.closest, f.furthest
    lines.append(f"One batch points closest to the reference with **{close['estimator']}** (mean cosine "
                 f"{close['cosine_reference']:.2f} ± {close['cosine_reference_se']:.2f})"
                 + ("." if close is far else f", furthest with **{far['estimator']}** ({far['cosine_reference']:.2f} "
                                                f"± {far['cosine_reference_se']:.2f})."))
    for r in f.biased:
        why = (" G₀ carries the γᵗ factor, so it estimates the gradient of the discounted objective, which "
               "training's reward-to-go does not." if r["name"] == "reinforce" and gamma < 1 else "")
        lines.append(f"**{r['estimator']}**: even its mean over {r['n_estimates']} batches points "
                     f"{r['angle_reference']:.0f}° off the reference, more than {BEYOND_NOISE:g} × the "
                     f"{r['noise_angle']:.0f}° that the two noises explain: a bias.{why}")
    if not f.biased:
        lines.append(f"Averaged over their batches, every estimator points at the reference to within {BEYOND_NOISE:g} × "
                     "the angle its noise and the reference's explain: no bias shows at this policy.")
    if low in f.biased and low is not high:
        lines.append(f"The lowest variance is not the best direction: **{low['estimator']}**'s batches agree with each "
                     f"other (cosine {low['cosine_mean']:.2f} to the mean of the others) yet point "
                     f"{low['angle_reference']:.0f}° away from the reference.")
    return lines


def _with_se(row: dict) -> str:
    """A row's relative variance with its standard error."""
    return f"{row['relative_variance']:.3g} ± {row['relative_variance_se']:.2g}"


@dataclass(frozen=True)
class PredictionCheck:
    """A learner's prediction ("which estimator will have the lowest relative variance?")
    against a comparison's measured rows at one checkpoint."""

    predicted: str | None  # an estimator name, or None: no prediction made
    lowest: dict  # the measured row with the lowest relative variance
    runner_up: dict | None  # the next lowest (None with one estimator)
    predicted_row: dict | None  # the predicted estimator's row (None if it was not run)

    @property
    def matched(self) -> bool | None:
        """True or False; None without a prediction or if the predicted estimator was not run."""
        if self.predicted is None or self.predicted_row is None:
            return None
        return self.predicted_row is self.lowest

    @property
    def close(self) -> bool:
        """Whether the lowest two differ by less than twice the standard error of their difference
        (taken as independent): another run could order them differently."""
        if self.runner_up is None:
            return False
        low, up = self.lowest, self.runner_up
        return up["relative_variance"] - low["relative_variance"] < 2 * float(
            np.hypot(low["relative_variance_se"], up["relative_variance_se"]))

    def text(self) -> str:
        low = self.lowest
        measured = f"**{low['estimator']}** measured lowest ({_with_se(low)}"
        measured += ")" if self.runner_up is None else (
            f", against {_with_se(self.runner_up)} for {self.runner_up['estimator']}, the next lowest)")
        if self.close:
            measured += (", but the two are closer than twice the standard error of their difference: another run "
                         "could order them differently")
        if self.predicted is None:
            return f"You made no prediction. {measured}."
        if self.predicted_row is None:
            return f"You predicted {self.predicted}, which this comparison did not run. {measured}."
        if self.matched:
            return f"Your prediction matched: {measured}."
        mine = self.predicted_row
        return (f"Your prediction did not match: you chose **{mine['estimator']}** (relative variance "
                f"{mine['relative_variance']:.3g}); {measured}.")


def check_prediction(rows: list[dict], predicted: str | None, checkpoint: str = "mid") -> PredictionCheck | None:
    """``predicted`` (an estimator name or None) against Comparison.variance_rows() at
    ``checkpoint``; None until that checkpoint is measured, reference included."""
    at = checkpoint_rows(rows, checkpoint)
    if at is None:
        return None
    ranked = sorted(at, key=lambda r: r["relative_variance"])
    mine = next((r for r in at if r["name"] == predicted), None)
    return PredictionCheck(predicted, ranked[0], ranked[1] if len(ranked) > 1 else None, mine)
