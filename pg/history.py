"""A run's history as columns: one row per update, plain 1-D NumPy arrays.

The live page, the CSV download and the checkpoint file all use this one layout.
``eval_return`` is NaN on updates without a completed evaluation: drop those rows before
charting (pg.charts does), never draw them.
"""

from __future__ import annotations

from collections.abc import Iterable

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
        "eval_return": np.nan if update.eval_return is None else update.eval_return,
    }


def history_from_updates(updates: Iterable) -> dict[str, np.ndarray]:
    """Columns {field: (U,) array} for a sequence of Updates."""
    rows, episodes = [], 0
    for update in updates:
        episodes += len(update.episode_returns)
        rows.append(history_row(update, episodes))
    return {name: np.array([row[name] for row in rows], dtype=np.float64) for name in HISTORY_FIELDS}
