"""pg.app.registry: one computation per settings, shared by every session of a server, the least
recently used forgotten first, each new one made (and announced) once however many threads ask."""

from __future__ import annotations

import threading
from dataclasses import replace

from live_helpers import finish, quick

from pg.app.registry import Registry, comparison_registry, run_registry
from pg.lessons.comparison import CompareSettings, Comparison
from pg.runs.live import LiveRun

SMALL = CompareSettings(("reinforce", "rtg-batch-mean", "td0"), n_seeds=2, seed=1, batch_episodes=8,
                        value_model="linear", max_env_steps=16_000, probe_estimates=4)


def test_run_registry_hands_out_one_run_per_settings_and_forgets_the_oldest():
    registry = run_registry(max_entries=2)
    a = registry.get((quick(), 1))
    assert isinstance(a, LiveRun) and a.matches(quick(), 1)
    assert registry.get((quick(), 1)) is a and registry.created == 1
    b = registry.get((quick(), 2))
    c = registry.get((quick(seed=4), 1))
    assert len({id(a), id(b), id(c)}) == 3 and registry.created == 3 and len(registry) == 2
    assert registry.get((quick(seed=4), 1)) is c, "recently used: kept"
    assert registry.get((quick(), 1)) is not a, "the least recently used was evicted"


def test_run_registry_announces_each_new_run_once_however_many_threads_ask():
    registry, announced = run_registry(), []
    barrier = threading.Barrier(8)

    def ask():
        barrier.wait()
        registry.get((quick(seed=9), 1), announced.append)

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(announced) == 1 == registry.created and announced[0] is registry.get((quick(seed=9), 1))


def test_run_registry_makes_again_a_run_that_ended_without_an_update():
    registry = run_registry()
    run = registry.get((quick(), 1))
    run.seeds[0].finished = True  # ended with no update and no error: nothing to replay
    again = registry.get((quick(), 1))
    assert again is not run and registry.created == 2 and again.n == 0 and not again.finished
    again.step()
    assert registry.get((quick(), 1)) is again, "a run with updates is kept"


def test_comparison_registry_shares_by_settings_and_forgets_the_oldest():
    registry = comparison_registry(max_entries=2)
    a = registry.get(SMALL)
    assert isinstance(a, Comparison) and a.settings == SMALL
    assert registry.get(replace(SMALL)) is a and registry.created == 1
    registry.get(replace(SMALL, seed=5))
    registry.get(replace(SMALL, seed=6))
    assert len(registry) == 2 and registry.get(SMALL) is not a and registry.created == 4


def test_a_registry_makes_each_value_from_its_key_and_redoes_only_what_it_is_told_to():
    made = []

    def make(key):
        made.append(key)
        return {"key": key}

    registry = Registry(make, max_entries=3, redo=lambda value: value["key"] == "stale")
    assert registry.get("a") == {"key": "a"} and registry.get("a") is registry.get("a")
    registry.get("stale")
    registry.get("stale")
    assert made == ["a", "stale", "stale"] and registry.created == 3 and len(registry) == 2


# ---------------------------------------------------------------------------------------------
# Sweeping: a computation nobody uses is cancelled and freed; results stay
# ---------------------------------------------------------------------------------------------
class FakeClock:
    def __init__(self):
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def test_a_run_nobody_uses_for_30_s_is_cancelled_freed_and_forgotten():
    clock = FakeClock()
    registry = run_registry(clock=clock)
    run = registry.get((quick(max_updates=100, stop_on_solve=False), 1))
    run.advance(0.05)
    run.advance(0.0)  # paused in the middle of an update: a live generator and its buffers
    n = run.n
    clock.t += 29.0
    assert registry.sweep() == 0 and run.computing, "29 s: kept"
    run.touch()  # a session replaying it (pg.app.pacing touches on every tick)
    clock.t += 29.0
    assert registry.sweep() == 0 and run.computing
    clock.t += 31.0
    assert registry.sweep() == 1 and run.cancelled and registry.cancelled == 1
    assert all(s.updates is None for s in run.seeds) and run.n == n, "generators gone, history kept"
    assert (quick(max_updates=100, stop_on_solve=False), 1) not in registry
    again = registry.get((quick(max_updates=100, stop_on_solve=False), 1))
    assert again is not run and again.n == 0 and registry.created == 2


def test_finished_runs_are_kept_and_a_run_being_computed_is_not_cancelled():
    clock = FakeClock()
    registry = run_registry(clock=clock)
    done = registry.get((quick(max_updates=2), 1))
    finish(done)
    busy = registry.get((quick(seed=5), 1))
    clock.t += 100.0
    with busy._lock:  # a session inside advance (its tick would have touched it; say it did not)
        assert registry.sweep() == 0
    assert registry.get((quick(max_updates=2), 1)) is done and not done.cancelled
    assert busy.cancelled and registry.cancelled == 1, "get sweeps too: once let go, the idle run goes"


def test_an_evicted_run_still_held_by_a_session_is_swept_too():
    clock = FakeClock()
    registry = run_registry(max_entries=1, clock=clock)
    held = registry.get((quick(), 1))
    held.advance(0.0)
    registry.get((quick(seed=7), 1))  # evicts the first
    clock.t += 31.0
    assert registry.sweep() == 2 and held.cancelled and all(s.updates is None for s in held.seeds)


def test_a_swept_heavy_run_leaves_no_buffers_behind():
    """tracemalloc: a run paused in the middle of a large batch holds its rollout and
    evaluation buffers (tens of MB); once swept, they are freed (the history stays)."""
    import gc
    import tracemalloc

    from pg.algo.reinforce import TrainConfig

    clock = FakeClock()
    registry = run_registry(clock=clock)
    cfg = TrainConfig(batch_episodes=256, max_episode_steps=1000, eval_episodes=100, seed=2)
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        run = registry.get((cfg, 1))
        run.advance(0.0)  # one time step: the rollout's buffers are allocated
        held = tracemalloc.get_traced_memory()[0] - before
        buffers = (1001 * 256 * 4 + 1000 * 256 * 3) * 8  # obs, thresholds, rewards (the largest)
        assert held > buffers
        clock.t += 31.0
        assert registry.sweep() == 1
        gc.collect()
        left = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert left < 2 * 2**20, f"{left / 2**20:.1f} MB still held after the sweep (was {held / 2**20:.1f} MB)"
    assert run.cancelled and run.n == 0


def test_comparisons_are_swept_like_runs():
    clock = FakeClock()
    registry = comparison_registry(clock=clock)
    comparison = registry.get(SMALL)
    comparison.advance(0.05)
    clock.t += 31.0
    assert registry.sweep() == 1 and comparison.cancelled and comparison.done
    assert all(s.updates is None for run in comparison.runs for s in run.seeds)
    assert registry.get(SMALL) is not comparison


def test_the_sweeper_thread_sweeps_on_its_own():
    import time

    clock = FakeClock()
    registry = run_registry(clock=clock).start_sweeping(every=0.01)
    assert registry.start_sweeping(every=0.01) is registry, "one thread per registry"
    run = registry.get((quick(), 1))
    clock.t += 31.0
    for _ in range(500):
        if run.cancelled:
            break
        time.sleep(0.01)
    assert run.cancelled


def test_the_server_budget_refuses_a_new_run_only_while_others_compute():
    """Runs each fit the run budget, but a room can start many: a new one is made only if it
    fits beside those still computing (in either registry); a finished or cancelled one no
    longer counts, and a refused request makes nothing."""
    from pg.app.registry import ServerBudget
    from pg.runs.footprint import BudgetError, run_footprint

    cost = run_footprint(quick(), 1).total
    budget = ServerBudget(limit=int(2.5 * cost))  # room for two such runs, not three
    runs, compares = run_registry(budget=budget), comparison_registry(budget=budget)
    a, b = runs.get((quick(), 1)), runs.get((quick(seed=1), 1))
    assert budget.in_use() == 2 * cost
    try:
        runs.get((quick(seed=2), 1))
    except BudgetError as refused:
        assert "server is busy" in str(refused) and refused.limit == budget.limit
    else:
        raise AssertionError("a third run was admitted beyond the server's budget")
    assert runs.created == 2 and (quick(seed=2), 1) not in runs, "nothing made for a refused request"
    try:
        compares.get(SMALL)  # the comparisons share the same budget
    except BudgetError:
        pass
    else:
        raise AssertionError("a comparison was admitted beyond the server's budget")
    assert runs.get((quick(), 1)) is a, "asking again for a kept run costs nothing"
    finish(a)
    assert not a.computing and budget.in_use() == cost
    c = runs.get((quick(seed=2), 1))
    assert isinstance(c, LiveRun) and budget.in_use() == 2 * cost
    b.cancel()
    assert budget.in_use() == cost


def test_a_run_every_session_let_go_of_is_cancelled_at_the_next_sweep():
    """A session keeps a token while it shows a run; when the last token is gone (reset, or the
    session ended and Streamlit dropped its state) the next sweep cancels the run at once,
    without waiting for the idle time. A run never watched keeps the idle rule only."""
    import gc

    registry = run_registry(idle_seconds=3600)
    run = registry.get((quick(), 1))
    first, second = registry.watch(run), registry.watch(run)
    assert registry.viewers(run) == 2 and registry.sweep() == 0 and run.computing
    del first
    gc.collect()
    assert registry.viewers(run) == 1 and registry.sweep() == 0 and run.computing, "one session still shows it"
    del second
    gc.collect()
    assert registry.viewers(run) == 0 and registry.sweep() == 1
    assert run.cancelled and not run.computing and (quick(), 1) not in registry
    unwatched = registry.get((quick(seed=3), 1))
    assert registry.viewers(unwatched) is None and registry.sweep() == 0 and unwatched.computing
