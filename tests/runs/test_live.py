"""pg.runs.live (the chunked training driver behind the live page), without Streamlit.

The driver must not change what is computed: a run trained in chunks of any size, or seed by
seed side by side, equals the same run from ``pg.algo.reinforce.train`` in one go.
"""

from __future__ import annotations

import dataclasses
import math
import threading
import time
import warnings

import numpy as np
import pytest
from live_helpers import finish, quick, recorded_history

from pg.algo.policies import SoftmaxPolicy
from pg.algo.reinforce import MOVING_AVERAGE_EPISODES, TrainConfig, initial_policy, train
from pg.app.live_view import run_status
from pg.runs.checkpoint import Run, load_run
from pg.runs.history import HISTORY_FIELDS
from pg.runs.live import MAX_SEEDS, LiveRun


def assert_same_history(a: dict, b: dict):
    """The recorded columns agree (wall_time aside: it is measured)."""
    for name in HISTORY_FIELDS:
        if name == "wall_time":
            continue
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)


# ---------------------------------------------------------------------------------------------
# LiveRun: chunked training gives the same run as train()
# ---------------------------------------------------------------------------------------------
def test_a_run_trained_in_chunks_equals_train_in_one_go():
    cfg = quick(max_updates=12, eval_every=3, stop_on_solve=False)
    updates = list(train(cfg))
    reference = recorded_history(updates)
    for chunks in ([1] * 12, [5, 5, 2], [12]):
        live = LiveRun(cfg)
        for k in chunks:
            assert live.advance(60.0, max_updates=k) == k
        assert live.finished and live.n == 12 and live.seeds[0].stop_reason == "max_updates"
        assert_same_history(live.history(0), reference)
        np.testing.assert_array_equal(live.policy.params, updates[-1].policy.params)
        assert live.advance(1.0) == 0, "a finished run makes no more updates"


def test_step_makes_one_update_of_every_unfinished_seed():
    live = LiveRun(quick(max_updates=3), n_seeds=3)
    assert live.step() == 3 and [s.recorder.n for s in live.seeds] == [1, 1, 1]
    assert live.step() == 3 and live.step() == 3
    assert live.finished and live.step() == 0
    assert all(s.stop_reason == "max_updates" for s in live.seeds)


def test_advance_stops_about_when_asked(monkeypatch):
    """Each call trains for about ``seconds``: the page's tick. A round that would end past the
    deadline is left for the next call, and one under way at the deadline is paused there.
    Timed on a clock that moves 0.1 ms each time it is read (so a slow machine cannot fail it;
    an update here reads it about 60 times): the call returns within a few reads of its
    deadline, having made several updates."""
    live = LiveRun(quick(max_updates=100_000, stop_on_solve=False, eval_every=1000, batch_episodes=2))
    clock = {"t": 0.0}

    def tick():
        clock["t"] += 0.0001
        return clock["t"]

    with monkeypatch.context() as patch:
        patch.setattr(time, "perf_counter", tick)
        made = live.advance(0.1)
        elapsed = clock["t"]
    assert made > 5 and 0.1 <= elapsed < 0.102
    assert live.compute_seconds <= elapsed
    n, calls = live.n, 0
    while live.n == n:  # a chunk of no time at all returns at once, yet always gets somewhere
        live.advance(0.0)
        calls += 1
        assert calls < 10_000
    assert calls > 1, "advance(0) pauses the update after its first time step"


def test_advance_does_not_start_a_round_it_cannot_finish_in_time(monkeypatch):
    """Rounds of 60 ms in a 200 ms chunk: three rounds (180 ms), not four (240 ms)."""
    live = LiveRun(quick(max_updates=100, stop_on_solve=False))
    clock = {"t": 0.0}
    monkeypatch.setattr(time, "perf_counter", lambda: clock["t"])
    original = LiveRun._step

    def step(self, *args, **kwargs):
        clock["t"] += 0.06
        return original(self, *args, **kwargs)

    monkeypatch.setattr(LiveRun, "_step", step)
    assert live.advance(0.2) == 3 and clock["t"] == pytest.approx(0.18)
    assert live.advance(0.05) == 0, "a round longer than the chunk is paused at the deadline"
    assert live.advance(1.0) >= 1 and live.history(0)["iteration"].tolist() == list(range(1, live.n + 1))


def test_seeds_are_consecutive_and_each_equals_its_own_single_run():
    cfg = quick(max_updates=5, stop_on_solve=False)
    live = finish(LiveRun(cfg, n_seeds=3))
    assert [s.cfg.seed for s in live.seeds] == [3, 4, 5]
    for i, seed in enumerate(live.seeds):
        alone = finish(LiveRun(dataclasses.replace(cfg, seed=cfg.seed + i)))
        assert_same_history(seed.recorder.history(), alone.history(0))
        assert_same_history(live.history(i), alone.history(0))


@pytest.mark.parametrize("n_seeds", [0, MAX_SEEDS + 1, -1])
def test_the_number_of_seeds_is_checked(n_seeds):
    with pytest.raises(ValueError, match=f"number of seeds must be an integer in \\[1, {MAX_SEEDS}\\]"):
        LiveRun(quick(), n_seeds)


def test_the_largest_seed_with_several_seeds_is_a_valid_run():
    """The page's seed field goes up to 2**32 - 1; the seeds beside it must not overflow."""
    live = LiveRun(quick(seed=2**32 - 1, max_updates=1), n_seeds=3)
    assert len({s.cfg.seed for s in live.seeds}) == 3
    assert all(0 <= s.cfg.seed <= 2**32 - 1 for s in live.seeds)
    assert live.step() == 3


def test_a_solved_seed_records_when_and_how():
    live = finish(LiveRun(TrainConfig(seed=0)))  # the default: solves in ~20 updates
    seed = live.seeds[0]
    assert seed.stop_reason == "solved" and seed.finished and live.error is None
    s = seed.solved
    history = live.history(0)
    assert s.iteration == live.n and s.eval_return >= 475.0
    assert s.env_steps == history["env_steps"][-1] and s.episodes == history["episodes"][-1] == 16 * live.n
    assert s.wall_time == history["wall_time"][-1] > 0


def test_compute_seconds_and_the_clock_say_how_far_a_replay_has_got():
    live = LiveRun(quick(max_updates=8, stop_on_solve=False))
    assert live.updates_at(1e9) == 0, "nothing computed yet"
    for _ in range(8):
        live.step()
    seconds = live.clock.column("seconds")
    assert live.clock.n == 8 and np.all(np.diff(seconds) > 0)
    assert seconds[-1] == pytest.approx(live.compute_seconds)
    assert live.updates_at(0.0) == 0
    assert live.updates_at(seconds[2]) == 3
    assert live.updates_at(live.compute_seconds) == live.updates_at(1e9) == 8
    counts = [live.updates_at(t) for t in np.linspace(0, live.compute_seconds, 50)]
    assert counts == sorted(counts)


# ---------------------------------------------------------------------------------------------
# LiveRun: reading (what the charts are drawn from)
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def long_run() -> LiveRun:
    """A run of 300 tiny updates (20-step episodes), several seeds."""
    cfg = TrainConfig(batch_episodes=2, max_episode_steps=20, eval_every=7, eval_episodes=5,
                      eval_early_stop=False, max_updates=300, stop_on_solve=False, seed=11)
    return finish(LiveRun(cfg, n_seeds=3))


def test_history_is_the_recorded_columns_plus_the_moving_average(long_run):
    h = long_run.history(0)
    assert set(h) == {*HISTORY_FIELDS, "ma_return"} and all(len(v) == 300 for v in h.values())
    np.testing.assert_array_equal(h["iteration"], np.arange(1, 301))
    # the moving average of the last 100 episode returns, after each update
    returns = long_run.seeds[0].episodes.column("return")
    per_update = 2
    for u in (1, 10, 50, 51, 300):
        last = returns[max(0, per_update * u - MOVING_AVERAGE_EPISODES): per_update * u]
        assert h["ma_return"][u - 1] == pytest.approx(last.mean())


def test_history_upto_and_downsampled(long_run):
    h = long_run.history(1, upto=120)
    assert len(h["iteration"]) == 120 and h["iteration"][-1] == 120
    small = long_run.history(1, upto=120, max_points=25)
    assert len(small["iteration"]) <= 25 and small["iteration"][0] == 1 and small["iteration"][-1] == 120
    full = long_run.history(1)
    np.testing.assert_array_equal(small["ma_return"], full["ma_return"][small["iteration"].astype(int) - 1])
    assert len(long_run.history(0, upto=10_000)["iteration"]) == 300
    assert len(long_run.history(0, upto=0)["iteration"]) == 0


def test_episode_points_up_to_an_update_and_downsampled(long_run):
    all_points = long_run.episode_points(0, max_points=10_000)
    assert len(all_points["episode"]) == 600
    np.testing.assert_array_equal(all_points["episode"], np.arange(1, 601))
    np.testing.assert_array_equal(all_points["iteration"], np.repeat(np.arange(1, 301), 2))
    upto = long_run.episode_points(0, upto=50, max_points=10_000)
    assert upto["iteration"].max() == 50 and len(upto["episode"]) == 100
    sampled = long_run.episode_points(0, max_points=120)
    assert len(sampled["episode"]) <= 120 and sampled["episode"][0] == 1 and sampled["episode"][-1] == 600
    assert len(long_run.episode_points(0, upto=0)["episode"]) == 0


@pytest.mark.parametrize("field", ["ma_return", "mean_length", "grad_norm", "entropy", "baseline_value"])
def test_band_is_the_median_min_and_max_across_seeds(long_run, field):
    band = long_run.band(field, max_points=10_000)
    stack = np.vstack([long_run.history(i)[field] for i in range(3)])
    np.testing.assert_array_equal(band["iteration"], np.arange(1, 301))
    np.testing.assert_allclose(band["median"], np.median(stack, axis=0))
    np.testing.assert_array_equal(band["low"], stack.min(axis=0))
    np.testing.assert_array_equal(band["high"], stack.max(axis=0))


def test_band_downsamples_and_stops_at_upto(long_run):
    band = long_run.band("ma_return", upto=200, max_points=50)
    assert len(band["iteration"]) <= 50 and band["iteration"][0] == 1 and band["iteration"][-1] == 200
    assert all(len(v) == len(band["iteration"]) for v in band.values())


def test_band_of_eval_return_is_nan_where_no_seed_evaluated_and_warns_not(long_run):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        band = long_run.band("eval_return", max_points=10_000)
    evaluated = (np.arange(1, 301) % 7) == 0
    assert np.isnan(band["median"][~evaluated]).all()
    assert np.isfinite(band["median"][evaluated]).all()


def test_band_keeps_the_last_value_of_a_seed_that_stopped():
    cfg = quick(max_updates=30, eval_every=1, seed=0, batch_episodes=16, max_episode_steps=500, eval_episodes=100)
    live = finish(LiveRun(cfg, n_seeds=2))  # seed 0 solves at 18, seed 1 at 13
    lengths = [s.recorder.n for s in live.seeds]
    assert lengths[0] != lengths[1], lengths
    short = int(np.argmin(lengths))
    band = live.band("ma_return", max_points=10_000)
    assert len(band["iteration"]) == max(lengths)
    last = live.history(short)["ma_return"][-1]
    other = live.history(1 - short)["ma_return"][min(lengths):]
    np.testing.assert_array_equal(band["low"][min(lengths):], np.minimum(last, other))
    np.testing.assert_array_equal(band["high"][min(lengths):], np.maximum(last, other))


def test_band_of_a_run_with_nothing_yet():
    band = LiveRun(quick(), n_seeds=2).band("ma_return")
    assert all(len(v) == 0 for v in band.values())


def test_policy_at_returns_the_policy_after_each_update():
    cfg = quick(max_updates=6, stop_on_solve=False)
    updates = list(train(cfg))
    live = finish(LiveRun(cfg))
    np.testing.assert_array_equal(live.policy_at(0).params, initial_policy(cfg).params)
    for u in updates:
        np.testing.assert_array_equal(live.policy_at(u.iteration).params, u.policy.params)
    assert live.policy_at(10**6) is live.policy


def test_policy_at_after_snapshots_are_thinned_is_the_nearest_earlier_one(long_run):
    kept = dict(long_run.seeds[0].recorder.keeper.snapshots())
    assert len(kept) <= 200
    for it in (1, 77, 150, 299):
        nearest = max(k for k in kept if k <= it)
        np.testing.assert_array_equal(long_run.policy_at(it).params, kept[nearest])


# ---------------------------------------------------------------------------------------------
# LiveRun: export (what Heatmap, Replay and the downloads get)
# ---------------------------------------------------------------------------------------------
def test_to_run_is_the_checkpoint_run_of_a_seed(long_run):
    run = long_run.to_run(2)
    assert isinstance(run, Run)
    np.testing.assert_array_equal(run.policy.params, long_run.seeds[2].policy.params)
    assert run.config == long_run.seeds[2].cfg.to_dict() and run.config["seed"] == 13
    assert_same_history(run.history, long_run.seeds[2].recorder.history())
    iterations = [it for it, _ in run.snapshots]
    assert iterations[0] == 0 and iterations[-1] == 300 and len(iterations) <= 200
    assert all(isinstance(p, SoftmaxPolicy) for _, p in run.snapshots)


def test_the_policy_file_loads_back_through_pg_checkpoint(long_run):
    run = load_run(long_run.policy_file(1))
    np.testing.assert_array_equal(run.policy.params, long_run.seeds[1].policy.params)
    assert run.policy.spec == long_run.seeds[1].policy.spec
    assert run.config == long_run.seeds[1].cfg.to_dict()
    for name in HISTORY_FIELDS:
        np.testing.assert_array_equal(run.history[name], long_run.history(1)[name], err_msg=name)
    assert [it for it, _ in run.snapshots] == [it for it, _ in long_run.seeds[1].recorder.keeper.snapshots()]


def test_history_csv_has_a_row_per_seed_and_update(long_run):
    lines = long_run.history_csv().splitlines()
    header = lines[0].split(",")
    assert header == ["seed", *HISTORY_FIELDS, "ma_return"]
    assert len(lines) == 1 + 3 * 300
    rows = [line.split(",") for line in lines[1:]]
    assert {r[0] for r in rows} == {"11", "12", "13"}
    first = dict(zip(header, rows[0]))
    assert first["iteration"] == "1" and first["eval_return"] == "", "no evaluation at update 1: empty cell"
    seventh = dict(zip(header, rows[6]))
    assert float(seventh["eval_return"]) == long_run.history(0)["eval_return"][6]
    assert float(first["ma_return"]) == long_run.history(0)["ma_return"][0]


# ---------------------------------------------------------------------------------------------
# Divergence: the run stops and keeps the last good policy
# ---------------------------------------------------------------------------------------------
def _diverge_on_call(monkeypatch, on_call: int, value: float = 1e308):
    """The gradient of the ``on_call``-th update from now is ``value`` everywhere: 1e308
    overflows SGD's parameters, NaN is caught as a gradient that is not finite."""
    original = SoftmaxPolicy.grad_log_prob
    calls = {"n": 0}

    def patched(self, *args, **kwargs):
        calls["n"] += 1
        grad = original(self, *args, **kwargs)
        return np.full_like(grad, value) if calls["n"] == on_call else grad

    monkeypatch.setattr(SoftmaxPolicy, "grad_log_prob", patched)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_a_diverging_seed_stops_and_keeps_its_last_finite_policy(monkeypatch):
    _diverge_on_call(monkeypatch, 3)
    cfg = quick(optimizer="sgd", lr=10.0, batch_episodes=1, normalize_advantages=False, baseline="none",
                max_updates=50, stop_on_solve=False)
    live = finish(LiveRun(cfg))
    seed = live.seeds[0]
    assert live.finished and seed.stop_reason == "diverged" and live.n == 2
    assert live.error == "training diverged at update 3: a parameter is not finite"
    assert np.isfinite(live.policy.params).all()
    np.testing.assert_array_equal(live.policy.params, live.policy_at(2).params)
    status = run_status(live)
    assert status.level == "diverged"
    assert status.text.startswith("training diverged at update 3: a parameter is not finite. ")
    assert "kept the last policy whose numbers were finite" in status.text
    np.testing.assert_array_equal(load_run(live.policy_file()).policy.params, live.policy.params)
    np.testing.assert_array_equal(live.to_run().policy.params, live.policy.params)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_a_diverging_seed_leaves_the_other_seeds_training(monkeypatch):
    cfg = quick(max_updates=4, stop_on_solve=False)
    live = LiveRun(cfg, n_seeds=3)
    live.step()  # 3 calls
    _diverge_on_call(monkeypatch, 2, np.nan)  # the 2nd seed's next update
    while not live.finished:
        live.step()
    assert [s.stop_reason for s in live.seeds] == ["max_updates", "diverged", "max_updates"]
    assert [s.recorder.n for s in live.seeds] == [4, 1, 4]
    assert live.error == "training diverged at update 2: the gradient or the loss is not finite"
    np.testing.assert_array_equal(live.seeds[1].policy.params, live.policy_at(1, i=1).params)
    assert run_status(live).level == "diverged", "diverged beats solved and out of budget"


# ---------------------------------------------------------------------------------------------
# Sharing: one run read and advanced by several sessions at once
# ---------------------------------------------------------------------------------------------
def test_a_shared_run_trained_from_two_threads_is_the_same_run():
    cfg = quick(max_updates=40, stop_on_solve=False, eval_every=5)
    shared = LiveRun(cfg)
    errors = []

    def watch():
        try:
            while not shared.finished:
                shared.advance(0.01)
                n = shared.n
                h = shared.history(0, upto=n)  # readers only read rows below n
                assert len(h["iteration"]) == n and np.isfinite(h["ma_return"]).all()
        except Exception as error:  # noqa: BLE001 (reported below)
            errors.append(error)

    threads = [threading.Thread(target=watch) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    reference = finish(LiveRun(cfg))
    assert_same_history(shared.history(0), reference.history(0))
    assert math.isclose(shared.compute_seconds, shared.clock.column("seconds")[-1])


# ---------------------------------------------------------------------------------------------
# Ticks inside an update: advance returns on time, the next one resumes, nothing changes
# ---------------------------------------------------------------------------------------------
def slow_physics(monkeypatch, seconds: float):
    """Every CartPole time step takes ``seconds`` longer (the numbers do not change): updates
    as long as a heavy config's, in a small one."""
    from pg.envs import CartPole

    original = CartPole.advance

    def advance(self, actions):
        time.sleep(seconds)
        original(self, actions)

    monkeypatch.setattr(CartPole, "advance", advance)


def test_advance_returns_on_time_in_the_middle_of_a_long_update_and_the_next_resumes_it(monkeypatch):
    cfg = quick(max_updates=3, stop_on_solve=False)
    reference = recorded_history(list(train(cfg)))
    slow_physics(monkeypatch, 0.005)  # an update: ~100 time steps (rollout + evaluation): ~0.5 s
    live = LiveRun(cfg)
    ticks = []
    while not live.finished:
        start = time.perf_counter()
        live.advance(0.05)
        ticks.append(time.perf_counter() - start)
        assert len(ticks) < 1000
    assert live.n == 3 and len(ticks) > 6, "an update takes several ticks"
    assert max(ticks) < 0.05 + 0.1, "a tick ends at its deadline, one time step late at most (loose: busy machine)"
    assert_same_history(live.history(0), reference)


def test_seeds_trained_in_ticks_of_any_size_are_each_their_own_train_run():
    """Ticks far shorter than an update (each pauses the seed under way) give every seed the
    numbers of train() alone; the round-robin resumes at the seed that was paused."""
    cfg = quick(max_updates=6, stop_on_solve=False, eval_every=2)
    live = LiveRun(cfg, n_seeds=3)
    calls = 0
    while not live.finished:
        live.advance(0.0005)
        calls += 1
    assert calls > 3 * 6
    for i in range(3):
        alone = list(train(dataclasses.replace(cfg, seed=cfg.seed + i)))
        assert_same_history(live.history(i), recorded_history(alone))
        np.testing.assert_array_equal(live.seeds[i].policy.params, alone[-1].policy.params)


def test_step_finishes_a_paused_update_and_makes_one_of_every_seed():
    cfg = quick(max_updates=5, stop_on_solve=False)
    live = LiveRun(cfg, n_seeds=2)
    live.advance(0.0)  # one time step: the first seed is paused in the middle of its update
    assert live.n == 0 and live._turn == 0
    assert live.step() == 2 and [s.recorder.n for s in live.seeds] == [1, 1]
    assert live.step() == 2 and [s.recorder.n for s in live.seeds] == [2, 2]


def test_sessions_never_stack_computations_on_one_run():
    """Many threads advancing one run: one computes at a time (one lock per run), and a thread
    that finds it taken gives up after its ``seconds`` instead of queueing."""
    from pg.runs.live import SeedRun

    live = LiveRun(quick(max_updates=100_000, stop_on_solve=False))
    inside, most = {"n": 0}, {"n": 0}
    original = SeedRun.next_update

    def counted(self):
        inside["n"] += 1
        most["n"] = max(most["n"], inside["n"])
        try:
            return original(self)
        finally:
            inside["n"] -= 1

    SeedRun.next_update = counted
    waits = []
    try:
        def session():
            for _ in range(5):
                start = time.perf_counter()
                live.advance(0.05)
                waits.append(time.perf_counter() - start)

        threads = [threading.Thread(target=session) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    finally:
        SeedRun.next_update = original
    assert most["n"] == 1, "never two computations of one run at once"
    assert len(waits) == 30
    # no queue: a session that finds the run busy gives up after its tick with nothing made,
    # instead of waiting its turn (checked by holding the lock, not by timing: a slow machine
    # must not fail this test)
    result = []
    with live._lock:
        other = threading.Thread(target=lambda: result.append(live.advance(0.05)))
        other.start()
        other.join(30)
    assert result == [0], "a busy run is not waited for"


# ---------------------------------------------------------------------------------------------
# The caps bound the whole run (all seeds together), exactly
# ---------------------------------------------------------------------------------------------
def test_the_env_step_cap_bounds_all_seeds_together_to_one_time_steps_batch():
    cfg = quick(max_env_steps=3000, max_updates=100_000, stop_on_solve=False)
    live = finish(LiveRun(cfg, n_seeds=3))
    computed = cfg.max_env_steps - live.budget.left
    assert cfg.max_env_steps <= computed < cfg.max_env_steps + cfg.batch_episodes
    recorded = sum(int(s.recorder.columns.column("env_steps")[-1]) for s in live.seeds)
    assert recorded <= computed and recorded < cfg.max_env_steps
    assert [s.stop_reason for s in live.seeds] == ["max_env_steps"] * 3
    assert run_status(live).text == f"Not solved: stopped by max env steps at update {live.n}."
    for i, seed in enumerate(live.seeds):  # what was recorded is each seed's own run
        alone = list(train(seed.cfg))[: seed.recorder.n]
        assert_same_history(live.history(i), recorded_history(alone))
        assert seed.updates is None, "the generators are closed and dropped"


def test_one_seed_stops_before_the_batch_that_would_overshoot_its_cap():
    """train(cfg) alone records a last update past the cap; the live run drops that batch."""
    cfg = quick(max_env_steps=2000, max_updates=100_000, stop_on_solve=False)
    alone = list(train(cfg))
    assert alone[-1].env_steps > 2000
    live = finish(LiveRun(cfg))
    assert live.n == len(alone) - 1 and live.seeds[0].stop_reason == "max_env_steps"
    assert 2000 <= 2000 - live.budget.left < 2000 + cfg.batch_episodes


def test_the_time_cap_bounds_all_seeds_together(monkeypatch):
    slow_physics(monkeypatch, 0.002)
    cfg = quick(max_seconds=0.6, max_updates=10_000, stop_on_solve=False)
    live = finish(LiveRun(cfg, n_seeds=3))
    assert [s.stop_reason for s in live.seeds] == ["max_seconds"] * 3
    # all seeds together: per seed it would be 3 x 0.6 s; the margin is loose for a busy machine
    assert 0.6 <= live.compute_seconds < 0.6 + 0.5, "all seeds' training counts"
    assert run_status(live).text.startswith("Not solved: stopped by max seconds at update ")


def test_a_comparison_keeps_its_caps_per_seed():
    """shared_caps=False: each seed has the whole budget, as train() applies it."""
    cfg = quick(max_env_steps=1500, max_updates=100_000, stop_on_solve=False)
    live = finish(LiveRun(cfg, n_seeds=2, shared_caps=False))
    for i, seed in enumerate(live.seeds):
        alone = list(train(seed.cfg))
        assert seed.stop_reason == "max_env_steps" and seed.recorder.n == len(alone)
        assert_same_history(live.history(i), recorded_history(alone))


# ---------------------------------------------------------------------------------------------
# Failures end the run with words; cancel frees the computation and keeps the results
# ---------------------------------------------------------------------------------------------
def _fail_on_call(monkeypatch, on_call: int, error: BaseException):
    original = SoftmaxPolicy.grad_log_prob
    calls = {"n": 0}

    def patched(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == on_call:
            raise error
        return original(self, *args, **kwargs)

    monkeypatch.setattr(SoftmaxPolicy, "grad_log_prob", patched)


@pytest.mark.parametrize("error, message", [
    (MemoryError("Unable to allocate 12.2 GiB for an array with shape (100000, 4096, 4)"),
     "ran out of memory at update 3: Unable to allocate 12.2 GiB for an array with shape (100000, 4096, 4)"),
    (MemoryError(), "ran out of memory at update 3"),
    (ValueError("boom"), "failed at update 3: ValueError: boom"),
])
def test_a_failure_inside_the_run_ends_it_with_what_happened(monkeypatch, error, message):
    _fail_on_call(monkeypatch, 3, error)
    live = LiveRun(quick(max_updates=50, stop_on_solve=False))
    made = finish(live).n
    assert made == 2 and live.finished and live.failure == message
    assert live.seeds[0].stop_reason == "failed" and live.seeds[0].updates is None
    status = run_status(live)
    assert status.level == "failed" and status.text.startswith(f"The run {message}. It stopped; ")
    assert "budget" not in status.text
    assert live.advance(0.1) == 0 and live.step() == 0
    np.testing.assert_array_equal(live.policy.params, live.policy_at(2).params)


def test_a_failure_of_one_seed_ends_every_seed(monkeypatch):
    live = LiveRun(quick(max_updates=50, stop_on_solve=False), n_seeds=3)
    live.step()
    _fail_on_call(monkeypatch, 2, MemoryError())  # the second seed's second update
    finish(live)
    assert [s.recorder.n for s in live.seeds] == [2, 1, 1]
    assert [s.stop_reason for s in live.seeds] == ["failed"] * 3
    assert live.failure == "ran out of memory at update 2" and all(s.updates is None for s in live.seeds)


def test_cancel_frees_the_computation_and_keeps_what_was_recorded():
    live = LiveRun(quick(max_updates=100, stop_on_solve=False), n_seeds=2)
    live.advance(0.05)
    while live._turn == 0:  # stop in the middle of an update of the second seed
        live.advance(0.0)
    n, history = live.n, live.history(0)
    assert live.cancel() and live.cancelled and not live.computing and not live.finished
    assert all(s.updates is None for s in live.seeds)
    assert live.advance(0.1) == 0 and live.step() == 0 and live.n == n
    assert_same_history(live.history(0), history)
    assert load_run(live.policy_file()).policy.params.size and live.to_run().history["iteration"][-1] == n
    assert run_status(live) is None, "a cancelled run says what a stopped one says: nothing"
    finished = finish(LiveRun(quick(max_updates=2)))
    assert finished.cancel() and not finished.cancelled, "a finished run stays finished"


def test_cancel_leaves_a_run_a_session_is_computing():
    live = LiveRun(quick(max_updates=100, stop_on_solve=False))
    with live._lock:  # a session inside advance
        assert not live.cancel() and not live.cancelled
    assert live.cancel(wait=0.5)


# ---------------------------------------------------------------------------------------------
# Seeds to their own ends, evaluations cut short, collapse (issue 13)
# ---------------------------------------------------------------------------------------------
def test_every_seed_runs_to_its_own_end_and_n_is_the_furthest():
    """Seeds 1, 2, 3 of the default config solve at updates 13, 18 and 18: the run's count and
    its bands go on after seed 1 (the first seed) has stopped."""
    live = finish(LiveRun(TrainConfig(seed=1), n_seeds=3))
    ends = [s.recorder.n for s in live.seeds]
    assert ends[0] < max(ends) == live.n
    assert all(s.stop_reason == "solved" for s in live.seeds)
    assert live.band("ma_return")["iteration"][-1] == live.n
    lines = live.seed_lines("ma_return")
    for seed, end in zip(live.seeds, ends):
        mine = lines["seed"] == seed.cfg.seed
        assert lines["iteration"][mine].max() == end, "each line ends at its own seed's end"
        np.testing.assert_array_equal(lines["value"][mine], seed.ma.column("ma_return"))
    short = live.seed_lines("ma_return", upto=5)
    assert short["iteration"].max() == 5 and len(short["iteration"]) == 15


def test_the_evaluation_band_counts_a_cut_short_evaluation_with_its_upper_bound():
    live = finish(LiveRun(TrainConfig(seed=1), n_seeds=2))
    band = live.band("eval_value")
    assert np.isfinite(band["median"]).all(), "every update has an evaluation's number for every seed"
    for seed in live.seeds:
        h = seed.recorder.columns
        done, bound = h.column("eval_return"), h.column("eval_upper_bound")
        assert (np.isnan(done) ^ np.isnan(bound)).all(), "a mean or a bound, never both"
    assert (band["median"][:-3] < 475).all(), "not the median of the few completed ones (>= 475)"


def test_solved_records_the_confirming_evaluation():
    live = finish(LiveRun(TrainConfig(seed=0)))
    solved = live.seeds[0].solved
    assert solved.confirm_return >= 475 and solved.eval_return >= 475
    assert live.seeds[0].recorder.columns.column("confirm_return")[-1] == solved.confirm_return


def test_a_collapsed_seed_stops_and_the_others_go_on():
    """MLP, SGD, lr 5: seed 0 is "always push left" from update 3 and stops COLLAPSE_UPDATES later."""
    from pg.runs.collapse import COLLAPSE_ENTROPY, COLLAPSE_UPDATES, collapsed

    cfg = TrainConfig(policy="mlp", optimizer="sgd", lr=5.0, seed=0, max_updates=60)
    live = finish(LiveRun(cfg))
    seed = live.seeds[0]
    entropy = seed.recorder.columns.column("entropy")
    assert seed.stop_reason == "collapsed" and seed.solved is None
    assert (entropy[-COLLAPSE_UPDATES:] < COLLAPSE_ENTROPY).all() and not collapsed(entropy[:-1])
    assert not collapsed(np.zeros(COLLAPSE_UPDATES - 1)) and collapsed(np.zeros(COLLAPSE_UPDATES))
    assert not collapsed(np.r_[np.zeros(COLLAPSE_UPDATES - 1), 0.06])
    # a healthy run never trips it: the default config trained far past its solve
    healthy = finish(LiveRun(TrainConfig(seed=0, stop_on_solve=False, max_updates=80)))
    assert healthy.seeds[0].stop_reason == "max_updates"
