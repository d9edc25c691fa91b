"""Deterministic computations shared by every session of a server, keyed by their settings.

Runs and comparisons are deterministic: the same settings give the same numbers. So fifty
people pressing Start (or Run) on the same settings can watch one computation: the first
session creates it, the others are handed the same object and replay what it has recorded.
The page wraps one registry per kind in ``st.cache_resource`` (pages/shared.py).

At most ``max_entries`` are kept, least recently used first out; a session that still holds
an evicted one keeps it until it lets go. ``get`` holds a lock, so however many sessions ask
for new settings at the same moment, one object is made.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

from pg.lessons.comparison import CompareSettings, Comparison
from pg.runs.live import LiveRun

Key = TypeVar("Key", bound=Hashable)
Value = TypeVar("Value")


class Registry(Generic[Key, Value]):
    """``make(key)`` computed once per key and shared; ``redo(value)`` says whether a kept
    value is unusable and must be made again."""

    def __init__(self, make: Callable[[Key], Value], max_entries: int,
                 redo: Callable[[Value], bool] | None = None):
        self.make, self.max_entries, self.redo = make, max_entries, redo
        self._entries: dict[Key, Value] = {}
        self._lock = threading.Lock()
        self.created = 0

    def get(self, key: Key, on_create: Callable[[Value], None] | None = None) -> Value:
        """The value for ``key``; ``on_create(value)`` is called (under the lock, so once per
        value however many sessions ask at the same moment) when it is a new one."""
        with self._lock:
            value = self._entries.pop(key, None)
            if value is None or (self.redo is not None and self.redo(value)):
                value = self.make(key)
                self.created += 1
                if on_create is not None:
                    on_create(value)
            self._entries[key] = value  # most recently used last
            while len(self._entries) > self.max_entries:
                self._entries.pop(next(iter(self._entries)))
            return value

    def __len__(self) -> int:
        return len(self._entries)


def _ended_empty(run: LiveRun) -> bool:
    """A run that finished with no update and no error (its training generator ended before
    yielding one): nothing in it can be replayed, so it is made again."""
    return run.error is None and run.finished and run.n == 0


def run_registry(max_entries: int = 16) -> Registry[tuple, LiveRun]:
    """Live training runs keyed by (TrainConfig, number of seeds)."""
    return Registry(lambda key: LiveRun(*key), max_entries, redo=_ended_empty)


def comparison_registry(max_entries: int = 8) -> Registry[CompareSettings, Comparison]:
    """Comparisons of estimators keyed by their CompareSettings."""
    return Registry(Comparison, max_entries)
