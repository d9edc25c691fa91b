"""Deterministic computations shared by every session of a server, keyed by their settings.

Runs and comparisons are deterministic: the same settings give the same numbers. So fifty
people pressing Start (or Run) on the same settings can watch one computation: the first
session creates it, the others are handed the same object and replay what it has recorded.
The page wraps one registry per kind in ``st.cache_resource`` (pages/shared.py).

At most ``max_entries`` are kept, least recently used first out; a session that still holds
an evicted one keeps it until it lets go. ``get`` holds a lock, so however many sessions ask
for new settings at the same moment, one object is made.

The registry keeps results, not computations. A session that shows a computation holds a
token from ``watch`` (in its session state); once every token of a computation is gone (its
sessions reset, started something else, or ended: Streamlit drops a closed tab's session state)
the computation is abandoned, and ``sweep`` cancels it at once. A computation still watched but
unused (advanced or replayed) for ``idle_seconds`` (a session that pressed Stop and went
away from the keyboard) is cancelled too. ``sweep``
which frees its generators and buffers and keeps what it recorded; the registry then forgets
it (the same settings asked again are computed again, to the same numbers). ``get`` sweeps,
and so does a daemon thread once ``start_sweeping`` is called. A computation is anything with
``computing`` (bool), ``idle_for()`` (seconds) and ``cancel()`` (True once cancelled): a
LiveRun or a Comparison.

One memory budget for the whole server (``ServerBudget``, pg.runs.footprint.SERVER_BUDGET):
each run already fits the run budget on its own, but a room can start many different ones. A
new computation is made only if its estimated memory, with that of every computation still
computing (in either registry), fits; otherwise ``get`` raises BudgetError saying the server
is busy. A finished or cancelled computation holds only its results and no longer counts.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

from pg.lessons.comparison import CompareSettings, Comparison
from pg.runs.footprint import SERVER_BUDGET, BudgetError, comparison_footprint, run_footprint, size_text
from pg.runs.live import LiveRun

Key = TypeVar("Key", bound=Hashable)
Value = TypeVar("Value")

IDLE_SECONDS = 30.0  # a computation nobody has used for this long is cancelled
SWEEP_EVERY = 5.0  # seconds between two sweeps of the daemon thread


class Watching:
    """A session's token for a computation it shows (``Registry.watch``); dropping it says the
    session no longer does."""

    __slots__ = ("__weakref__",)


class ServerBudget:
    """The memory the server gives to computations that are computing right now (bytes).

    ``admit(cost)`` raises BudgetError when ``cost`` more would not fit beside what the
    computations still computing were estimated to need; ``hold(value, cost)`` counts a new one
    (weakly: a computation nobody holds any more no longer counts)."""

    def __init__(self, limit: int = SERVER_BUDGET):
        self.limit = limit
        self._held: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()

    def in_use(self) -> int:
        with self._lock:
            return sum(cost for value, cost in list(self._held.items()) if value.computing)

    def admit(self, cost: int) -> None:
        used = self.in_use()
        if used + cost > self.limit:
            raise BudgetError(
                ("server",), cost,
                f"The server is busy: the runs computing now need about {size_text(used)} of the "
                f"{size_text(self.limit)} it has for them, and these settings need about {size_text(cost)} more. "
                "Try again when one of them finishes, or choose smaller settings.",
                estimate=used + cost, limit=self.limit,
            )

    def hold(self, value, cost: int) -> None:
        with self._lock:
            self._held[value] = cost


class Registry(Generic[Key, Value]):
    """``make(key)`` computed once per key and shared; ``redo(value)`` says whether a kept
    value is unusable and must be made again; values idle for ``idle_seconds`` (None: never)
    are cancelled and forgotten."""

    def __init__(self, make: Callable[[Key], Value], max_entries: int,
                 redo: Callable[[Value], bool] | None = None, idle_seconds: float | None = None,
                 budget: ServerBudget | None = None, cost: Callable[[Key], int] | None = None):
        self.make, self.max_entries, self.redo, self.idle_seconds = make, max_entries, redo, idle_seconds
        self.budget, self.cost = budget, cost
        self._entries: dict[Key, Value] = {}
        self._made: weakref.WeakSet = weakref.WeakSet()  # every value still held by someone, evicted or not
        self._viewers: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # value -> tokens alive
        self._lock = threading.Lock()
        self._sweeper: threading.Thread | None = None
        self.created = 0
        self.cancelled = 0

    def get(self, key: Key, on_create: Callable[[Value], None] | None = None) -> Value:
        """The value for ``key``; ``on_create(value)`` is called (under the lock, so once per
        value however many sessions ask at the same moment) when it is a new one."""
        self.sweep()
        with self._lock:
            value = self._entries.pop(key, None)
            if value is None or (self.redo is not None and self.redo(value)):
                cost = self.cost(key) if self.budget is not None and self.cost is not None else 0
                if cost:
                    self.budget.admit(cost)  # raises BudgetError: nothing is made
                value = self.make(key)
                if cost:
                    self.budget.hold(value, cost)
                self.created += 1
                if self.idle_seconds is not None:
                    self._made.add(value)
                if on_create is not None:
                    on_create(value)
            self._entries[key] = value  # most recently used last
            while len(self._entries) > self.max_entries:
                self._entries.pop(next(iter(self._entries)))
            return value

    def sweep(self) -> int:
        """Cancel every computation (kept, or evicted and still held by a session) nobody has
        used for ``idle_seconds``, and forget the kept ones. Returns how many were cancelled."""
        if self.idle_seconds is None:
            return 0
        with self._lock:
            idle = [value for value in list(self._made)
                    if value.computing and (value.idle_for() >= self.idle_seconds or self._viewers.get(value) == 0)]
            cancelled = [value for value in idle if value.cancel()]  # (not one a session is computing)
            for value in cancelled:
                self._made.discard(value)
            gone = {id(value) for value in cancelled}
            for key in [k for k, v in self._entries.items() if id(v) in gone]:
                del self._entries[key]
            self.cancelled += len(cancelled)
            return len(cancelled)

    def start_sweeping(self, every: float = SWEEP_EVERY, on_cancel: Callable[[int], None] | None = None) -> Registry:
        """Sweep every ``every`` seconds from a daemon thread (once per registry; the thread
        ends when the registry is gone), so that a server nobody uses frees what it held.
        ``on_cancel(n)`` is told of each sweep that cancelled n > 0 computations."""
        with self._lock:
            if self._sweeper is None:
                self._sweeper = threading.Thread(target=_sweep_loop, args=(weakref.ref(self), every, on_cancel),
                                                 name="pg-registry-sweeper", daemon=True)
                self._sweeper.start()
        return self

    def watch(self, value: Value) -> Watching:
        """A token for a session that shows ``value``: keep it (in session state) as long as the
        session shows it. When the last token of a value is gone, the value is abandoned and the
        next sweep cancels it."""
        with self._lock:
            self._viewers[value] = self._viewers.get(value, 0) + 1
        token = Watching()
        weakref.finalize(token, self._unwatch, weakref.ref(value))
        return token

    def _unwatch(self, value_ref: weakref.ref) -> None:
        value = value_ref()
        if value is None:
            return
        with self._lock:
            if value in self._viewers:
                self._viewers[value] = max(0, self._viewers[value] - 1)

    def viewers(self, value: Value) -> int:
        """Tokens alive for ``value`` (None: never watched)."""
        return self._viewers.get(value)

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key) -> bool:
        return key in self._entries


def _sweep_loop(registry_ref: weakref.ref, every: float, on_cancel: Callable[[int], None] | None) -> None:
    while True:
        time.sleep(every)
        registry = registry_ref()
        if registry is None:
            return
        cancelled = registry.sweep()
        if cancelled and on_cancel is not None:
            on_cancel(cancelled)
        del registry


def _unusable(run: LiveRun) -> bool:
    """A run that was cancelled (it can compute no more), that failed (ran out of memory, say:
    not a property of its settings, so worth another try), or that finished with no update and
    no error (its training generator ended before yielding one): it is made again."""
    return run.cancelled or run.failure is not None or (run.error is None and run.finished and run.n == 0)


def run_registry(max_entries: int = 16, idle_seconds: float | None = IDLE_SECONDS,
                 clock: Callable[[], float] = time.monotonic,
                 budget: ServerBudget | None = None) -> Registry[tuple, LiveRun]:
    """Live training runs keyed by (TrainConfig, number of seeds). ``clock`` tells the runs'
    idle time (a test passes a fake one); ``budget`` is the server's, shared with comparisons."""
    return Registry(lambda key: LiveRun(*key, clock=clock), max_entries, redo=_unusable, idle_seconds=idle_seconds,
                    budget=budget, cost=lambda key: run_footprint(*key).total)


def comparison_registry(max_entries: int = 8, idle_seconds: float | None = IDLE_SECONDS,
                        clock: Callable[[], float] = time.monotonic,
                        budget: ServerBudget | None = None) -> Registry[CompareSettings, Comparison]:
    """Comparisons of estimators keyed by their CompareSettings."""
    return Registry(lambda settings: Comparison(settings, clock=clock), max_entries,
                    redo=lambda comparison: comparison.cancelled, idle_seconds=idle_seconds,
                    budget=budget, cost=comparison_footprint)
