"""Giving freed memory back to the operating system, for a long-running server.

A Streamlit server runs each session's script in its own thread. glibc's malloc gives busy
threads arenas of their own and keeps what they free for reuse: after a room of twenty
sessions has trained, replayed and gone, their NumPy buffers are free inside Python but the
process's resident memory stays hundreds of MB above where it started. On a small hosted server
(about 1 GB) that is the difference between the next workshop fitting or not.

``malloc_trim(0)`` returns every whole free page of every arena to the system. ``MemoryJanitor``
calls it from a daemon thread every ``interval`` seconds. On a C library without ``malloc_trim``
(macOS, musl, Windows) ``release_free_memory`` only collects garbage and reports False.

Malloc is not the only allocator in the process: Streamlit sends every chart's data as Apache
Arrow, and pyarrow allocates from its own pool (mimalloc in the PyPI wheels), which malloc_trim
cannot reach and which keeps the pages of a script thread that has ended. A room of twenty
sessions redrawing charts left about 40 MB there (bench_hostile). So the janitor also asks that
pool to give back what it holds unused (``MemoryPool.release_unused``, public pyarrow API),
but only once pyarrow has been imported by someone else: releasing never imports it.

Trimming only returns whole free pages. Two glibc defaults leave few of them in a server whose
threads come and go: every new thread that allocates gets an arena of its own (up to 8 per
core), each holding its own free scraps, and the mmap threshold rises each time a large block
is freed (from 128 KiB up to 32 MiB), after which NumPy's large buffers come from those arenas
instead of from mmap, where freeing them would return them at once. ``tune_malloc`` fixes both
with glibc's ``mallopt`` (M_ARENA_MAX and M_MMAP_THRESHOLD; the same as the MALLOC_ARENA_MAX and
MALLOC_MMAP_THRESHOLD_ environment variables, which a hosted server does not let us set).

This module knows nothing of Streamlit: streamlit_app.py starts one janitor per server.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import sys
import threading
import time
from functools import cache
from pathlib import Path


def _libc(name: str, argtypes: list, restype):
    """The C library's function ``name`` with its signature, or None where it has none."""
    try:
        function = getattr(ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6"), name)
    except (OSError, AttributeError, TypeError):
        return None
    function.argtypes, function.restype = argtypes, restype
    return function


@cache
def _malloc_trim():
    """glibc's malloc_trim, or None where the C library has none."""
    return _libc("malloc_trim", [ctypes.c_size_t], ctypes.c_int)


M_MMAP_THRESHOLD, M_ARENA_MAX = -3, -8  # glibc's malloc.h
MMAP_THRESHOLD = 1 << 20  # bytes: a buffer at least this large is its own mapping, freed at once
ARENA_MAX = 2  # arenas for the whole process (glibc's default: 8 per core)


@cache
def _mallopt():
    """glibc's mallopt, or None where the C library has none."""
    return _libc("mallopt", [ctypes.c_int, ctypes.c_int], ctypes.c_int)


def tune_malloc(mmap_threshold: int = MMAP_THRESHOLD, arena_max: int = ARENA_MAX) -> bool:
    """Fix glibc's mmap threshold at ``mmap_threshold`` bytes and cap its arenas at
    ``arena_max``, so that memory a finished session freed can go back to the system (see the
    module's docstring). Returns True if the C library took both settings (glibc does)."""
    if not (isinstance(mmap_threshold, int) and 0 < mmap_threshold <= 32 << 20):
        raise ValueError(f"mmap_threshold must be 1 byte to 32 MiB, not {mmap_threshold!r}")
    if not (isinstance(arena_max, int) and arena_max >= 1):
        raise ValueError(f"arena_max must be a positive integer, not {arena_max!r}")
    option = _mallopt()
    if option is None:
        return False
    return bool(option(M_MMAP_THRESHOLD, mmap_threshold)) & bool(option(M_ARENA_MAX, arena_max))


def can_trim() -> bool:
    """Whether this C library can give free heap pages back (glibc can)."""
    return _malloc_trim() is not None


def rss_bytes() -> int | None:
    """The process's resident memory (Linux /proc), or None where it cannot be read."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def release_free_memory(collect: bool = False) -> bool:
    """Give the heap's free pages back to the system (first collect garbage, if ``collect``:
    a full collection holds the interpreter for tens of ms in a big server, so the janitor
    leaves that to Python's own schedule).

    Returns True if the C library released memory (glibc's malloc_trim said so)."""
    if collect:
        gc.collect()
    release_arrow_pool()
    trim = _malloc_trim()
    return bool(trim(0)) if trim is not None else False


def release_arrow_pool() -> bool:
    """Ask pyarrow's default memory pool to give back the memory it holds unused, if pyarrow
    is already imported (this never imports it). Returns whether it was asked."""
    arrow = sys.modules.get("pyarrow")
    if arrow is None:
        return False
    try:
        arrow.default_memory_pool().release_unused()
    except (AttributeError, NotImplementedError):  # a pyarrow too old to have it (before 9)
        return False
    return True


class MemoryJanitor:
    """A daemon thread that releases free memory every ``interval`` seconds.

    A release costs little: about 0.3 s for 3.6 GB of freed buffers, and 0.15 ms when nothing
    was freed since the last one (measured here, glibc 2.36). ``trims`` counts the releases,
    ``seconds`` is the time spent in them and ``longest`` the longest one (for benchmarks).
    """

    def __init__(self, interval: float = 10.0, on_release=None, report_above: int = 8 * 2**20):
        """``on_release(released_bytes, seconds)`` is called after a release that lowered the
        resident memory by more than ``report_above`` bytes (a server logs it)."""
        if not interval > 0:
            raise ValueError(f"interval must be a positive number of seconds, not {interval!r}")
        self.interval, self.on_release, self.report_above = interval, on_release, report_above
        self.trims, self.seconds, self.longest = 0, 0.0, 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="pg-memory-janitor", daemon=True)

    def start(self) -> MemoryJanitor:
        """Tune malloc and start the thread (not where the C library cannot trim: there is
        nothing to do)."""
        if can_trim() and not self._thread.is_alive():
            tune_malloc()
            self._thread.start()
        return self

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def check(self) -> None:
        """One release, timed."""
        before, start = rss_bytes(), time.perf_counter()
        release_free_memory()
        took = time.perf_counter() - start
        self.trims, self.seconds, self.longest = self.trims + 1, self.seconds + took, max(self.longest, took)
        after = rss_bytes()
        if self.on_release is not None and before is not None and after is not None:
            if before - after > self.report_above:
                self.on_release(before - after, took)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.check()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=self.interval + 1)
