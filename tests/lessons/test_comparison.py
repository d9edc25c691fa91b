"""pg.lessons.comparison (estimators side by side), its charts (pg.viz.comparison_charts), ``python -m pg
compare`` and benchmarks/bench_compare.py: every number of the table traced back to the runs
and probes it came from, computed again independently."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pg import cli
from pg.algo.reinforce import initial_policy, train
from pg.lessons.comparison import (
    CHECKPOINTS,
    MID_RETURN,
    TABLE_COLUMNS,
    CompareSettings,
    Comparison,
    describe,
    formatted_table,
    text_table,
)
from pg.lessons.variance import gradient_probe
from pg.viz.comparison_charts import (
    CHECKPOINT_TITLES,
    DATASETS,
    PANELS,
    compare_datasets,
    compare_specs,
    panel_chart,
    with_data,
)
from pg.viz.style import FONT_SIZES

REPO = Path(__file__).resolve().parents[2]
# small: reinforce fails its budget, the batch mean solves some seeds, td0 needs a critic
SMALL = CompareSettings(("reinforce", "rtg-batch-mean", "td0"), n_seeds=2, seed=1, batch_episodes=8,
                        value_model="linear", max_env_steps=16_000, probe_estimates=4)


@pytest.fixture(scope="module")
def small():
    comparison = Comparison(SMALL)
    chunks = 0
    while not comparison.finished:
        comparison.advance(0.05)
        chunks += 1
    assert chunks > 3  # it ran in chunks
    return comparison


def test_every_run_of_the_table_is_the_plain_training_run(small):
    """Each estimator, each seed: the table's steps and seconds to solve and its seeds solved
    are those of pg.algo.reinforce.train with the estimator's config and that seed (run here again,
    independently of pg.runs.live)."""
    base = SMALL.base_config()
    for spec, row in zip(SMALL.specs, small.table()):
        solved_steps = []
        for seed in SMALL.seeds:
            last = list(train(replace(spec.config(base), seed=seed)))[-1]
            if last.solved:
                solved_steps.append(last.env_steps)
        assert row["seeds"] == SMALL.seeds == [1, 2] and len(row["stop_reasons"]) == 2
        assert (row["solved"], row["n_seeds"]) == (len(solved_steps), 2)
        if solved_steps:
            assert row["env_steps_median"] == np.median(solved_steps)
            assert (row["env_steps_min"], row["env_steps_max"]) == (min(solved_steps), max(solved_steps))
            assert 0 < row["seconds_min"] <= row["seconds_median"] <= row["seconds_max"]
        else:
            assert row["env_steps_median"] is None and row["seconds_median"] is None
    assert [r["solved"] for r in small.table()][0] == 0  # reinforce cannot solve on this budget


def test_variance_is_the_probe_at_the_two_checkpoints(small):
    """The bars and the table's variance: pg.lessons.variance.gradient_probe at the untrained policy
    and at the "mid" policy (recomputed from the reference run's history), same settings."""
    k, iteration = small.mid_reference()
    history = small.runs[k].history(0)
    returns = history["mean_return"]
    reached = np.flatnonzero(returns >= MID_RETURN)
    if len(reached):
        assert iteration == reached[0] + 1 and all(
            not (run.history(0)["mean_return"] >= MID_RETURN).any() for run in small.runs[:k])
    else:
        assert returns[iteration - 1] == max(run.history(0)["mean_return"].max() for run in small.runs)
    policies = {"start": initial_policy(SMALL.base_config()), "mid": small.runs[k].policy_at(iteration, 0)}
    assert [c.name for c in small.checkpoints] == list(CHECKPOINTS)
    rows = small.variance_rows()
    assert len(rows) == len(CHECKPOINTS) * len(SMALL.specs)
    for name, policy in policies.items():
        np.testing.assert_array_equal(small.checkpoints[CHECKPOINTS.index(name)].policy.params, policy.params)
        expected = gradient_probe(policy, SMALL.specs, SMALL.probe_estimates, SMALL.batch_episodes, SMALL.seed,
                                  value_model="linear")
        for spec, row in zip(SMALL.specs, small.table()):
            assert row[f"variance_{name}"] == expected[spec.name]["variance"]
            assert row[f"cosine_{name}"] == expected[spec.name]["cosine_mean"]


def test_curves_are_the_seeds_interpolated_and_reduced(small):
    """At each grid x: median, min and max over the estimator's seeds of np.interp of the
    training return (a stopped seed keeps its last value)."""
    for x in ("env_steps", "wall_time"):
        curves = small.curves(x, points=50)
        for spec, run in zip(SMALL.specs, small.runs):
            mine = curves["estimator"] == spec.label
            xs = curves["x"][mine]
            assert np.all(np.diff(xs) > 0)
            seeds = [run.history(i) for i in range(len(run.seeds))]
            ys = np.vstack([np.interp(xs, h[x], h["mean_return"]) for h in seeds])
            np.testing.assert_array_equal(curves["median"][mine], np.median(ys, axis=0))
            np.testing.assert_array_equal(curves["low"][mine], ys.min(axis=0))
            np.testing.assert_array_equal(curves["high"][mine], ys.max(axis=0))
            assert xs[0] == min(h[x][0] for h in seeds) and xs[-1] == max(h[x][-1] for h in seeds)
    with pytest.raises(ValueError, match="env_steps or wall_time"):
        small.curves("episodes")


def test_solve_points_and_progress(small):
    points = small.solve_points()
    solved = sum(r["solved"] for r in small.table())
    assert len(points["seed"]) == solved
    for label, seed, steps in zip(points["estimator"], points["seed"], points["env_steps"]):
        k = [s.label for s in SMALL.specs].index(label)
        assert small.runs[k].seeds[seed - SMALL.seed].solved.env_steps == steps
    assert small.progress() == (1.0, "done: 6 runs and 8 probe batches")
    fresh = Comparison(SMALL)
    fraction, text = fresh.progress()
    assert fraction == 0.0 and text == "training: 0 of 6 runs finished"
    assert fresh.variance_rows() == [] and fresh.curves()["x"].size == 0
    assert [r["variance_start"] for r in fresh.table()] == [None] * 3


def test_table_in_words(small):
    cells = formatted_table(small.table())
    assert [c["Estimator"] for c in cells] == [s.label for s in SMALL.specs]
    assert all(list(c) == list(TABLE_COLUMNS) for c in cells)
    assert cells[0]["Env steps to solve"] == "not solved" and cells[0]["Seeds solved"] == "0/2"
    row = small.table()[1]
    assert cells[1]["Gradient variance (start)"] == format(row["variance_start"], ".3g")
    text = text_table(small.table())
    assert text.splitlines()[0].startswith("Estimator") and len(text.splitlines()) == 2 + 3
    caption = describe(small)
    assert "Seeds 1, 2 for every estimator" in caption and "16,000 env steps" in caption
    assert all(c.description in caption for c in small.checkpoints)


def test_median_and_range_formatting():
    row = {"estimator": "x", "solved": 3, "n_seeds": 5, "diverged": 1, "env_steps_median": 20930.0,
           "env_steps_min": 7254.0, "env_steps_max": 36226.0, "seconds_median": 0.146, "seconds_min": 0.05,
           "seconds_max": 0.25, "variance_start": 174.1, "variance_mid": 9090.0, "cosine_mid": 0.671}
    cells = formatted_table([row])[0]
    assert cells["Env steps to solve"] == "20,930 [7,254–36,226]"
    assert cells["Seconds to solve"] == "0.15 [0.05–0.25]"
    assert cells["Gradient variance (mid)"] == "9.09e+03" and cells["cos to mean (mid)"] == "0.67"
    assert cells["Seeds solved"] == "3/5 (1 diverged)"
    reasons = ["solved", "solved", "solved", "diverged", "max_seconds"]
    assert formatted_table([{**row, "stop_reasons": reasons}])[0]["Seeds solved"] == "3/5 (1 diverged, 1 out of time)"
    one = formatted_table([{**row, "solved": 1}])[0]
    assert one["Env steps to solve"] == "20,930"  # one seed: no range


@pytest.mark.parametrize("changes, message", [
    ({"estimators": ()}, "1 to 4 estimators, got 0"),
    ({"estimators": ("rtg", "td0", "gae:0.5", "gae:0.9", "reinforce")}, "1 to 4 estimators, got 5"),
    ({"estimators": ("rtg", "rtg")}, "must not repeat"),
    ({"estimators": ("ppo",)}, "estimator must be one of"),
    ({"n_seeds": 0}, r"n_seeds must be an integer in \[1, 5\], got 0"),
    ({"n_seeds": 6}, r"n_seeds must be an integer in \[1, 5\], got 6"),
    ({"probe_estimates": 1}, r"probe_estimates must be an integer in \[2, 10000\], got 1"),
    ({"batch_episodes": 0}, r"batch_episodes must be an integer in \[1, 4096\], got 0"),
    ({"value_model": "cnn"}, "value_model must be one of linear, mlp; got 'cnn'"),
    ({"max_seconds": -1.0}, r"max_seconds must be a number in \(0, 86400\]"),
])
def test_settings_are_validated_with_a_message(changes, message):
    with pytest.raises(ValueError, match=message):
        replace(CompareSettings(), **changes)


def test_settings_normalise_names_and_build_the_base_config():
    s = CompareSettings(("gae", "RTG"))
    assert s.estimators == ("gae:0.95", "rtg") and [x.name for x in s.specs] == ["gae:0.95", "rtg"]
    base = s.base_config()
    assert (base.batch_episodes, base.value_model, base.normalize_advantages, base.stop_on_solve) == (16, "mlp",
                                                                                                       False, True)
    assert s.seeds == [0, 1, 2, 3, 4] and hash(s) == hash(CompareSettings(("gae:0.95", "rtg")))


# ---------------------------------------------------------------------------------------------
# Charts
# ---------------------------------------------------------------------------------------------
def _layers(spec):
    return spec.get("layer", [spec])


def test_chart_specs_read_named_data_with_one_colour_per_estimator(small):
    labels = tuple(s.label for s in SMALL.specs)
    specs = compare_specs(labels)
    assert set(specs) == set(PANELS)
    for panel, spec in specs.items():
        assert "datasets" not in spec
        names = {layer["data"]["name"] for layer in _layers(spec) if "data" in layer}
        names |= {spec["data"]["name"]} if "data" in spec else set()
        assert names == set(DATASETS[panel])
        colors = [layer["encoding"]["color"] for layer in _layers(spec) if "color" in layer.get("encoding", {})]
        assert colors and all(c["scale"]["domain"] == list(labels) for c in colors)
    steps = _layers(specs["env_steps"])
    assert steps[0]["mark"]["type"] == "area" and steps[0]["encoding"]["y2"]["field"] == "high"
    assert steps[1]["encoding"]["y"]["field"] == "median" and steps[-1]["encoding"]["x"]["field"] == "env_steps"
    assert _layers(specs["wall_time"])[-1]["encoding"]["x"]["field"] == "wall_time"
    bars = _layers(specs["variance"])[0]
    assert bars["encoding"]["y"]["scale"]["type"] == "log" and bars["encoding"]["xOffset"]["field"] == "estimator"
    assert _layers(specs["cosine"])[0]["encoding"]["y"]["scale"]["domain"] == [-1, 1]


def test_large_charts_use_the_projector_type_sizes():
    normal, large = panel_chart("variance", ("a", "b")).to_dict(), panel_chart("variance", ("a", "b"), large=True).to_dict()
    assert normal["config"]["axis"]["labelFontSize"] == FONT_SIZES["normal"]["label"]
    assert large["config"]["axis"]["labelFontSize"] == FONT_SIZES["large"]["label"]
    assert large["title"]["subtitleFontSize"] > normal["title"]["subtitleFontSize"]
    with pytest.raises(ValueError, match="panel must be one of"):
        panel_chart("pie", ("a",))


def comparison_datasets(comparison: Comparison, points: int = 200) -> dict[str, pd.DataFrame]:
    """The datasets of a comparison as the page builds them: its columns, then frames."""
    curves = {x: comparison.curves(x, points) for x in ("env_steps", "wall_time")}
    return compare_datasets(curves, comparison.solve_points(), comparison.variance_rows(),
                            comparison.settings.base_config().max_episode_steps)


def test_datasets_are_the_comparisons_numbers_without_nan(small):
    data = comparison_datasets(small, points=60)
    curves = small.curves("env_steps", 60)
    np.testing.assert_array_equal(data["curves_env_steps"]["median"].to_numpy(), curves["median"])
    assert list(data["variance"].columns) == ["estimator", "checkpoint", "variance", "relative_variance",
                                              "cosine_mean", "cosine_std"]
    assert set(data["variance"]["checkpoint"]) == set(CHECKPOINT_TITLES.values())
    rows = {(r["estimator"], CHECKPOINT_TITLES[r["checkpoint"]]): r["variance"] for r in small.variance_rows()}
    for _, r in data["variance"].iterrows():
        assert r["variance"] == rows[(r["estimator"], r["checkpoint"])]
    for frame in data.values():
        numeric = frame.select_dtypes("number")
        assert np.isfinite(numeric.to_numpy()).all()
    assert data["bars"]["value"].tolist() == [475.0]
    curves = {x: small.curves(x, 60) for x in ("env_steps", "wall_time")}
    assert compare_datasets(curves, small.solve_points(), [], max_steps=200)["bars"].empty, "no bar above the y scale"
    spec = with_data(compare_specs(tuple(s.label for s in SMALL.specs))["variance"], "variance", data)
    assert list(spec["datasets"]) == ["variance"]
    empty = comparison_datasets(Comparison(SMALL))
    assert all(isinstance(f, pd.DataFrame) for f in empty.values()) and len(empty["variance"]) == 0


# ---------------------------------------------------------------------------------------------
# The command line and the benchmark
# ---------------------------------------------------------------------------------------------
TINY = ["--estimators", "rtg-batch-mean,gae:1", "--seeds", "1", "--probe-estimates", "3", "--max-env-steps", "12000",
        "--value-model", "linear"]


def run(*args, timeout=120):
    return subprocess.run([sys.executable, *args], cwd=REPO, capture_output=True, text=True, timeout=timeout)


def test_cli_compare_prints_the_table_and_json_matches_pg_compare():
    result = run("-m", "pg", "compare", *TINY, "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    settings = CompareSettings(("rtg-batch-mean", "gae:1"), n_seeds=1, probe_estimates=3, max_env_steps=12_000,
                               value_model="linear")
    expected = Comparison(settings).run().table()
    assert report["seeds"] == [0] and report["settings"]["estimators"] == ["rtg-batch-mean", "gae:1"]
    for got, want in zip(report["table"], expected):
        for key in ("estimator", "solved", "env_steps_median", "variance_start", "variance_mid", "seeds"):
            assert got[key] == want[key], key
    assert set(report["checkpoints"]) == set(CHECKPOINTS) and "Seeds 0 for every" in report["description"]
    text = run("-m", "pg", "compare", *TINY)
    assert text.returncode == 0 and text.stdout.splitlines()[0].startswith("Estimator")
    assert "GAE λ = 1" in text.stdout and "... done: 2 runs and 6 probe batches" in text.stderr


@pytest.mark.parametrize("args, message", [
    (["--estimators", "ppo"], "pg compare: error: estimator must be one of reinforce"),
    (["--seeds", "0"], "pg compare: error: seeds must be an integer in [1, 5], got 0"),
    (["--estimators", "gae:2"], "GAE lambda must be a number in [0, 1], got 2.0"),
    (["--batch-episodes", "x"], "argument --batch-episodes: expected an integer, got 'x'"),
    (["--value-model", "cnn"], "value_model must be one of linear, mlp; got 'cnn'"),
    (["--estimators", "rtg,rtg"], "pg compare: error: estimator rtg is listed twice"),
])
def test_cli_compare_bad_arguments_give_one_line_and_status_2(args, message, capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["compare", *args])
    out, err = capsys.readouterr()
    assert info.value.code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and message in err, err


def test_benchmark_runs_the_same_command():
    result = run("benchmarks/bench_compare.py", "--quick", *TINY)
    assert result.returncode == 0, result.stderr
    assert "rebuilt by: python -m pg compare --seeds 2 --probe-estimates 8 --estimators" in result.stdout
    assert result.stdout.splitlines()[0].startswith("Estimator")
    help_text = run("benchmarks/bench_compare.py", "--help")
    assert help_text.returncode == 0 and "--estimators" in help_text.stdout


# ---------------------------------------------------------------------------------------------
# Failures and cancelling
# ---------------------------------------------------------------------------------------------
ONE_ESTIMATOR = CompareSettings(("rtg-batch-mean",), n_seeds=1, seed=1, batch_episodes=4, value_model="linear",
                                max_env_steps=3_000, probe_estimates=2)


def test_a_run_that_fails_ends_the_comparison_with_words(monkeypatch):
    from pg.algo.policies import SoftmaxPolicy

    def out_of_memory(self, *args, **kwargs):
        raise MemoryError()

    monkeypatch.setattr(SoftmaxPolicy, "grad_log_prob", out_of_memory)
    comparison = Comparison(ONE_ESTIMATOR).run()  # returns: no endless loop on a failure
    assert comparison.done and not comparison.finished
    assert comparison.failure == "Gₜ − batch mean: ran out of memory at update 1"


def test_a_probe_that_fails_ends_the_comparison_with_words(monkeypatch):
    from pg.lessons.variance import GradientProbe

    def broken(self):
        raise ValueError("boom")

    monkeypatch.setattr(GradientProbe, "step", broken)
    comparison = Comparison(ONE_ESTIMATOR).run()
    assert comparison.training_finished and comparison.done
    assert comparison.failure == "the gradient probe failed: ValueError: boom"


def test_a_cancelled_comparison_computes_no_more_and_keeps_what_it_has():
    comparison = Comparison(ONE_ESTIMATOR)
    comparison.advance(0.02)
    assert comparison.cancel() and comparison.cancelled and comparison.done and not comparison.computing
    n = [run.n for run in comparison.runs]
    comparison.advance(0.1)
    assert [run.n for run in comparison.runs] == n and all(run.cancelled or run.finished for run in comparison.runs)
    comparison.table(), comparison.curves(), comparison.progress()  # still readable


def test_each_run_of_a_comparison_is_checked_against_the_memory_budget():
    from pg.runs.footprint import BudgetError

    with pytest.raises(BudgetError, match="the limit here is"):
        Comparison(replace(ONE_ESTIMATOR, batch_episodes=4096))
