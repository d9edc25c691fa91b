"""pg.app.registry: one computation per settings, shared by every session of a server, the least
recently used forgotten first, each new one made (and announced) once however many threads ask."""

from __future__ import annotations

import threading
from dataclasses import replace

from live_helpers import quick

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
