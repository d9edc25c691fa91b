"""A run's history as columns: one row per update, plain 1-D NumPy arrays.

The live page, the CSV download and the checkpoint file all use this one layout.
``eval_return`` is NaN on updates without a completed evaluation: drop those rows before
charting (pg.viz does), never draw them. ``eval_upper_bound`` is the other half of an
evaluation: on an update whose evaluation was cut short (its mean could no longer reach the
bar), the best mean it could still have reached; NaN elsewhere. ``confirm_return`` is the
mean of the confirming evaluation (as many fresh episodes, run when an evaluation passes the
bar), NaN where none ran or it was cut short. Files saved before these two columns existed
load without them (pg.runs.checkpoint keeps whatever columns a file holds).
"""

from __future__ import annotations

import numpy as np

HISTORY_FIELDS = (
    "iteration",
    "wall_time",
    "env_steps",
    "episodes",
    "mean_return",
    "min_return",
    "max_return",
    "mean_length",
    "grad_norm",
    "entropy",
    "baseline_value",
    "loss",
    "eval_return",
    "eval_upper_bound",
    "confirm_return",
)


def history_row(update, episodes_so_far: int) -> dict[str, float]:
    """One row for one Update (``episodes_so_far`` counts this update's episodes)."""
    return {
        "iteration": update.iteration,
        "wall_time": update.wall_time,
        "env_steps": update.env_steps,
        "episodes": episodes_so_far,
        "mean_return": float(update.episode_returns.mean()),
        "min_return": float(update.episode_returns.min()),
        "max_return": float(update.episode_returns.max()),
        "mean_length": float(update.episode_lengths.mean()),
        "grad_norm": update.grad_norm,
        "entropy": update.entropy,
        "baseline_value": update.baseline_value,
        "loss": update.loss,
        "eval_return": _or_nan(update.eval_return),
        "eval_upper_bound": _or_nan(update.eval_upper_bound),
        "confirm_return": _or_nan(update.confirm_return),
    }


def _or_nan(value: float | None) -> float:
    return np.nan if value is None else float(value)


class SnapshotKeeper:
    """At most ``limit`` evenly spaced parameter snapshots of a run whose length is not known
    in advance, always the first and the last update. During the run it keeps the first and
    every ``stride``-th update, doubling the stride whenever more than ``2 * limit`` are held
    (so memory stays bounded); ``snapshots()`` then picks ``limit`` of them evenly."""

    def __init__(self, limit: int):
        self.limit, self.stride = limit, 1
        self.first: int | None = None
        self.kept: dict[int, np.ndarray] = {}
        self.last: tuple[int, np.ndarray] | None = None

    def add(self, iteration: int, params: np.ndarray) -> None:
        if self.limit <= 0:
            return
        self.last = (iteration, params)
        if self.first is None:
            self.first = iteration
        if iteration == self.first or iteration % self.stride == 0:
            self.kept[iteration] = params
        while len(self.kept) > 2 * self.limit:
            self.stride *= 2
            self.kept = {i: p for i, p in self.kept.items() if i == self.first or i % self.stride == 0}

    def snapshots(self) -> list[tuple[int, np.ndarray]]:
        kept = dict(self.kept)
        if self.last is not None:
            kept[self.last[0]] = self.last[1]
        items = sorted(kept.items())
        if len(items) > self.limit:
            chosen = np.round(np.linspace(0, len(items) - 1, self.limit)).astype(int)
            items = [items[i] for i in chosen]
        return items


class Columns:
    """Append-only columns of float64 with amortised O(1) appends (capacity doubles), so a
    long run costs the same per update at update 10 and at update 10,000."""

    def __init__(self, names, capacity: int = 256):
        self.names = tuple(names)
        self._data = {name: np.empty(capacity) for name in self.names}
        self.n = 0

    def append(self, row: dict) -> None:
        if self.n == len(self._data[self.names[0]]):
            for name in self.names:
                grown = np.empty(2 * self.n)
                grown[: self.n] = self._data[name]
                self._data[name] = grown
        for name in self.names:
            self._data[name][self.n] = row[name]
        self.n += 1

    def column(self, name: str) -> np.ndarray:
        """A read-only view of the first ``n`` values."""
        view = self._data[name][: self.n]
        view.flags.writeable = False
        return view

    def as_dict(self) -> dict[str, np.ndarray]:
        """Copies of every column."""
        return {name: self._data[name][: self.n].copy() for name in self.names}


def downsample_index(n: int, max_points: int) -> np.ndarray:
    """Indices of at most ``max_points`` evenly spaced rows of ``n``, first and last included."""
    if n <= max_points:
        return np.arange(n)
    return np.unique(np.round(np.linspace(0, n - 1, max_points)).astype(np.intp))


class RunRecorder:
    """History columns and snapshots of a run, gathered update by update (Updates are not
    kept: each holds a copy of the policy)."""

    def __init__(self, max_snapshots: int):
        self.columns = Columns(HISTORY_FIELDS)
        self.episodes = 0
        self.keeper = SnapshotKeeper(max_snapshots)

    @property
    def n(self) -> int:
        return self.columns.n

    def add(self, update) -> None:
        self.episodes += len(update.episode_returns)
        self.columns.append(history_row(update, self.episodes))
        self.keeper.add(update.iteration, update.policy.params.copy())

    def history(self) -> dict[str, np.ndarray]:
        return self.columns.as_dict()
