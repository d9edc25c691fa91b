"""pg.runs.history: the columns a run records (checked against the Updates by hand), their
downsampling and the parameter snapshots kept of a run of unknown length."""

from __future__ import annotations

import numpy as np
import pytest

from pg.algo.reinforce import TrainConfig, train
from pg.runs.history import HISTORY_FIELDS, Columns, RunRecorder, SnapshotKeeper, downsample_index


@pytest.mark.parametrize("n", [0, 1, 2, 5, 400])
def test_downsample_index_keeps_everything_when_it_fits(n):
    np.testing.assert_array_equal(downsample_index(n, 400), np.arange(n))


@pytest.mark.parametrize("n, max_points", [(401, 400), (1000, 400), (12_345, 400), (10**6, 1200), (7, 2), (50, 3)])
def test_downsample_index_is_bounded_sorted_even_and_keeps_both_ends(n, max_points):
    index = downsample_index(n, max_points)
    assert 2 <= len(index) <= max_points
    assert index[0] == 0 and index[-1] == n - 1
    assert np.all(np.diff(index) > 0) and index.dtype.kind == "i"
    gaps = np.diff(index)
    assert gaps.max() - gaps.min() <= 1, "evenly spaced"


def test_downsample_index_grows_no_longer_with_the_history():
    sizes = [len(downsample_index(n, 400)) for n in (1000, 10_000, 100_000, 1_000_000)]
    assert max(sizes) <= 400


def test_columns_grow_past_their_capacity_and_hand_out_read_only_views():
    columns = Columns(("a", "b"), capacity=2)
    for i in range(1000):
        columns.append({"a": i, "b": 2.0 * i})
    assert columns.n == 1000
    np.testing.assert_array_equal(columns.column("a"), np.arange(1000.0))
    view = columns.column("b")
    with pytest.raises(ValueError):
        view[0] = 1.0
    copies = columns.as_dict()
    copies["a"][0] = -1.0
    assert columns.column("a")[0] == 0.0, "as_dict returns copies"


def test_columns_start_empty():
    columns = Columns(("x",))
    assert columns.n == 0 and columns.column("x").shape == (0,) and columns.as_dict()["x"].shape == (0,)


@pytest.mark.parametrize("limit, total", [(5, 3), (5, 100), (200, 10_000), (1, 50)])
def test_snapshot_keeper_bounds_memory_and_keeps_the_first_and_last(limit, total):
    keeper = SnapshotKeeper(limit)
    most_held = 0
    for it in range(total + 1):
        keeper.add(it, np.array([float(it)]))
        most_held = max(most_held, len(keeper.kept))
    assert most_held <= 2 * limit + 1
    kept = keeper.snapshots()
    iterations = [it for it, _ in kept]
    assert len(kept) == min(limit, total + 1) if limit > 1 else len(kept) == 1
    assert iterations == sorted(iterations)
    if limit > 1:
        assert iterations[0] == 0 and iterations[-1] == total
    for it, params in kept:
        assert params[0] == it, "each snapshot is the one taken at its iteration"


def test_snapshot_keeper_spreads_its_picks_over_the_run():
    keeper = SnapshotKeeper(10)
    for it in range(1001):
        keeper.add(it, np.zeros(1))
    iterations = np.array([it for it, _ in keeper.snapshots()])
    assert np.diff(iterations).max() <= 2 * 1000 / 9


def test_snapshot_keeper_with_limit_zero_keeps_nothing():
    keeper = SnapshotKeeper(0)
    keeper.add(1, np.zeros(2))
    assert keeper.snapshots() == []


def expected_history(updates) -> dict[str, np.ndarray]:
    """The documented columns, computed by hand from the Updates (an independent reference)."""
    column = {name: [] for name in HISTORY_FIELDS}
    episodes = 0
    for u in updates:
        episodes += len(u.episode_returns)
        row = {"iteration": u.iteration, "wall_time": u.wall_time, "env_steps": u.env_steps, "episodes": episodes,
               "mean_return": np.mean(u.episode_returns), "min_return": np.min(u.episode_returns),
               "max_return": np.max(u.episode_returns), "mean_length": np.mean(u.episode_lengths),
               "grad_norm": u.grad_norm, "entropy": u.entropy, "baseline_value": u.baseline_value, "loss": u.loss,
               "eval_return": np.nan if u.eval_return is None else u.eval_return,
               "eval_upper_bound": np.nan if u.eval_upper_bound is None else u.eval_upper_bound,
               "confirm_return": np.nan if u.confirm_return is None else u.confirm_return}
        for name in HISTORY_FIELDS:
            column[name].append(row[name])
    return {name: np.array(values, dtype=np.float64) for name, values in column.items()}


def test_run_recorder_records_every_documented_column_of_each_update():
    updates = list(train(TrainConfig(batch_episodes=4, eval_episodes=10, max_episode_steps=100, seed=3, max_updates=6,
                                     eval_every=2, eval_early_stop=False)))
    recorder = RunRecorder(max_snapshots=50)
    for update in updates:
        recorder.add(update)
    assert recorder.n == 6 and recorder.episodes == 6 * 4
    expected = expected_history(updates)
    got = recorder.history()
    assert tuple(got) == HISTORY_FIELDS
    for name in HISTORY_FIELDS:
        np.testing.assert_array_equal(got[name], expected[name], err_msg=name)
    assert np.isnan(got["eval_return"][0]) and not np.isnan(got["eval_return"][1])
    snaps = recorder.keeper.snapshots()
    assert [it for it, _ in snaps] == list(range(1, 7))
    np.testing.assert_array_equal(snaps[-1][1], updates[-1].policy.params)


def test_a_cut_short_evaluation_records_its_upper_bound_and_a_pass_its_confirmation():
    """Early stopping cuts most evaluations of a young policy short: each still leaves a number
    (the best mean it could have reached), never both a mean and a bound; a solved update
    records the confirming evaluation's mean."""
    cfg = TrainConfig(seed=0, max_updates=40)
    recorder = RunRecorder(max_snapshots=5)
    updates = list(train(cfg))
    for update in updates:
        recorder.add(update)
    h = recorder.history()
    done, cut = ~np.isnan(h["eval_return"]), ~np.isnan(h["eval_upper_bound"])
    assert cut.sum() >= 5 and not (done & cut).any() and (done | cut).all()
    assert (h["eval_upper_bound"][cut] < cfg.solve_return).all()
    assert updates[-1].solved and h["confirm_return"][-1] == updates[-1].confirm_return >= cfg.solve_return


def test_a_file_saved_before_the_new_columns_still_loads(tmp_path):
    from pg.runs.checkpoint import load_run, save_policy

    updates = list(train(TrainConfig(seed=1, max_updates=3)))
    recorder = RunRecorder(max_snapshots=5)
    for update in updates:
        recorder.add(update)
    old = {k: v for k, v in recorder.history().items() if k not in ("eval_upper_bound", "confirm_return")}
    save_policy(tmp_path / "old.npz", updates[-1].policy, config=TrainConfig(seed=1, max_updates=3), history=old)
    run = load_run(tmp_path / "old.npz")
    assert set(run.history) == set(old) and len(run.history["iteration"]) == 3
