"""pg.memory: freed NumPy buffers go back to the system, and the janitor thread does it."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from pg.memory import MemoryJanitor, can_trim, release_free_memory, rss_bytes

MB = 2**20
needs_glibc = pytest.mark.skipif(not can_trim(), reason="this C library has no malloc_trim")
needs_proc = pytest.mark.skipif(rss_bytes() is None, reason="no /proc/self/status here")


PINNED: list = []


def churn(threads: int = 4) -> None:
    """What a room of sessions leaves behind: threads (each with its own malloc arena) that
    allocate many small arrays, keep one small thing allocated after them and free the rest.
    The kept one sits above the freed buffers, so free() cannot shrink the heap: about 240 MB
    stays resident, free inside the process."""

    def work():
        buffers = [np.ones(4000) for _ in range(2000)]  # 32 KB each, 64 MB a thread
        PINNED.append(np.ones(16))
        buffers.clear()

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()


@needs_proc
def test_rss_is_the_resident_memory_and_grows_with_a_buffer_in_use():
    before = rss_bytes()
    buffer = np.ones(32 * MB // 8)
    assert rss_bytes() - before > 24 * MB
    del buffer


@needs_glibc
@needs_proc
def test_release_gives_the_freed_buffers_of_many_threads_back():
    release_free_memory(collect=True)
    baseline = rss_bytes()
    churn()
    held = rss_bytes()
    assert release_free_memory() is True
    after = rss_bytes()
    figures = (baseline / MB, held / MB, after / MB)
    assert held - baseline > 100 * MB, f"freed but still resident: {figures}"
    assert after - baseline < 32 * MB, f"given back: {figures}"


@needs_glibc
@needs_proc
def test_the_janitor_releases_on_its_own_and_stops():
    released = []
    janitor = MemoryJanitor(interval=0.05, on_release=lambda n, s: released.append((n, s))).start()
    try:
        assert janitor.running
        release_free_memory(collect=True)
        baseline = rss_bytes()
        churn()
        deadline = time.monotonic() + 30
        while janitor.trims < 2 or rss_bytes() - baseline >= 32 * MB:
            assert time.monotonic() < deadline, "the janitor released nothing in 30 s"
            time.sleep(0.05)
        assert janitor.seconds > 0 and janitor.longest <= janitor.seconds
        assert released and max(n for n, _ in released) > 100 * MB, released
    finally:
        janitor.stop()
    assert not janitor.running


def test_the_interval_must_be_positive():
    for bad in (0, -1, float("nan")):
        with pytest.raises(ValueError, match="interval must be a positive number"):
            MemoryJanitor(interval=bad)
