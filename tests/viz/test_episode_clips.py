"""pg.viz.episode.ClipStore: Replay's clips made once per key, the new ones of one request at the
same time (issue "Instant"), failures forgotten, the store bounded; and clips made together are
byte for byte the clips made one by one."""

from __future__ import annotations

import threading

import pytest

from pg.runs.checkpoint import load_run
from pg.viz.ahead import AHEAD_NICE
from pg.viz.episode import AHEAD_QUEUE, ClipStore, episode_video, run_episode

SHIPPED = "assets/policy.npz"


def counted(made: list, value: bytes):
    def make() -> bytes:
        made.append(value)
        return value

    return make


def test_each_clip_is_made_once_and_returned_in_the_order_asked():
    store, made = ClipStore(), []
    jobs = [("a", counted(made, b"A")), ("b", counted(made, b"B"))]
    assert store.get_many(jobs) == [b"A", b"B"]
    assert sorted(made) == [b"A", b"B"]
    assert store.get_many(jobs[::-1]) == [b"B", b"A"] and len(made) == 2, "held: nothing made again"
    assert store.get("a", counted(made, b"other")) == b"A" and len(made) == 2, "the key decides, not the maker"
    assert "a" in store and len(store) == 2


@pytest.mark.parametrize("how", ["get_many", "start"])
def test_the_new_clips_of_one_request_are_made_at_the_same_time(how):
    """Each maker waits until the other has started: made one after the other, the first would
    wait in vain and the barrier break (its timeout is a deadlock guard, not a timing check)."""
    both_running = threading.Barrier(2, timeout=30)

    def make(value: bytes):
        def run() -> bytes:
            both_running.wait()
            return value

        return run

    store = ClipStore()
    jobs = [("untrained", make(b"U")), ("trained", make(b"T"))]
    if how == "get_many":
        assert store.get_many(jobs) == [b"U", b"T"]
    else:
        assert store.start(jobs)() == [b"U", b"T"]


def test_a_clip_being_made_is_waited_for_not_made_again():
    """Two sessions asking for the same new clip: one makes it, the other waits for those bytes."""
    store, made, release = ClipStore(), [], threading.Event()

    def slow() -> bytes:
        made.append(1)
        assert release.wait(30)
        return b"clip"

    first = store.start([("k", slow)])
    second = []
    waiter = threading.Thread(target=lambda: second.extend(store.get_many([("k", counted(made, b"again"))])))
    waiter.start()
    release.set()
    waiter.join(30)
    assert first() == [b"clip"] and second == [b"clip"]
    assert made == [1], "made once"


def test_a_failed_clip_is_forgotten_and_its_error_raised():
    store, made = ClipStore(), []

    def broken() -> bytes:
        made.append("broken")
        raise RuntimeError("x264 ran out of disk")

    with pytest.raises(RuntimeError, match="out of disk"):
        store.get_many([("ok", counted(made, b"fine")), ("k", broken)])
    assert "k" not in store and "ok" in store
    assert store.get("k", counted(made, b"second try")) == b"second try", "the next request tries again"
    waiting = store.start([("bad", broken)])
    with pytest.raises(RuntimeError, match="out of disk"):
        waiting()
    assert "bad" not in store


def test_the_store_keeps_the_most_recently_used_clips():
    store, made = ClipStore(max_entries=2), []
    store.get_many([("a", counted(made, b"A")), ("b", counted(made, b"B"))])
    store.get("a", counted(made, b"A again"))  # a is now the most recent
    store.get("c", counted(made, b"C"))
    assert len(store) == 2 and "b" not in store and "a" in store and "c" in store
    with pytest.raises(ValueError, match="max_entries"):
        ClipStore(max_entries=0)


def test_clips_made_together_are_the_clips_made_one_by_one():
    """The concurrent path changes when clips are made, not what is in them: same bytes, and the
    same bytes again (deterministic), with the shared time axis and held last frame of the page."""
    run = load_run(SHIPPED)
    episodes = [run_episode(run.snapshots[0][1], seed=0, greedy=False), run_episode(run.snapshots[0][1], seed=1)]
    axis = max(e.length for e in episodes)
    options = {"n_frames": axis + 1 + 10, "axis_steps": axis}
    one_by_one = [episode_video(e, **options) for e in episodes]
    jobs = [(k, lambda e=e: episode_video(e, **options)) for k, e in enumerate(episodes)]
    assert ClipStore().get_many(jobs) == one_by_one
    assert ClipStore().start(jobs)() == one_by_one
    assert one_by_one[0] != one_by_one[1]


def test_clips_made_ahead_are_made_on_a_lower_priority_thread():
    import os

    store, seen = ClipStore(), []

    def make() -> bytes:
        seen.append(os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))
        return b"ahead"

    assert store.ahead(lambda: [("k", make)])
    store.wait_ahead(timeout=30)
    assert seen == [os.getpriority(os.PRIO_PROCESS, 0) + AHEAD_NICE] or seen == [19]  # nice is capped at 19
    assert store.get("k", lambda: b"made again") == b"ahead"  # held: not made twice


def test_the_queue_of_clips_ahead_is_bounded_and_a_failure_is_forgotten():
    store, release = ClipStore(), threading.Event()
    assert store.ahead(lambda: [("blocker", lambda: release.wait(30) and b"x")])
    accepted = [store.ahead(lambda i=i: [(i, lambda: b"y")]) for i in range(AHEAD_QUEUE + 2)]
    release.set()
    store.wait_ahead(timeout=30)
    assert accepted.count(True) <= AHEAD_QUEUE + 1 and accepted[-1] is False  # the running one left the queue

    def boom() -> bytes:
        raise RuntimeError("no clip")

    assert store.ahead(lambda: [("bad", boom)])
    store.wait_ahead(timeout=30)
    assert "bad" not in store and store.get("bad", lambda: b"fine") == b"fine"
