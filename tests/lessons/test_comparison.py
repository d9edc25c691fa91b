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
    check_prediction,
    describe,
    findings,
    findings_text,
    formatted_table,
    text_table,
)
from pg.lessons.reference import REFERENCE_STREAM, reference_cosines, reference_gradient
from pg.lessons.variance import gradient_probe
from pg.viz.comparison_charts import (
    CHECKPOINT_TITLES,
    COSINE_KEYS,
    VARIANCE_KEYS,
    compare_datasets,
    compare_specs,
    with_data,
)

REPO = Path(__file__).resolve().parents[2]
# small: reinforce fails its budget, the batch mean solves some seeds, td0 needs a critic
SMALL = CompareSettings(("reinforce", "rtg-batch-mean", "td0"), n_seeds=2, seed=1, batch_episodes=8,
                        value_model="linear", max_env_steps=16_000, probe_estimates=4, reference_episodes=128)

ONE_ESTIMATOR = CompareSettings(("rtg-batch-mean",), n_seeds=1, seed=1, batch_episodes=4, value_model="linear",
                                max_env_steps=3_000, probe_estimates=2, reference_episodes=128)


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


def test_each_checkpoint_has_the_reference_gradient_of_its_policy(small):
    """The reference at each checkpoint is pg.lessons.reference's, computed again at that
    policy with the comparison's stream; the rows' cosines are reference_cosines of the probe."""
    base = SMALL.base_config()
    rows = small.variance_rows()
    for c in small.checkpoints:
        again = reference_gradient(c.policy, SMALL.reference_episodes, seed=[SMALL.seed, REFERENCE_STREAM],
                                   gamma=base.gamma, max_steps=base.max_episode_steps)
        np.testing.assert_array_equal(c.reference.mean, again.mean)
        assert c.reference.episodes == 128 and c.reference_probe is None  # its buffers are gone
        expected = reference_cosines(c.probe, again)
        for r in (r for r in rows if r["checkpoint"] == c.name):
            assert r["cosine_reference"] == expected[r["name"]]["cosine_reference"]
            assert r["beyond_noise"] == expected[r["name"]]["beyond_noise"]
            assert r["reference_relative_noise"] == again.relative_noise
    for row in small.table():
        assert all(-1 <= row[f"cosine_reference_{name}"] <= 1 for name in CHECKPOINTS)
        assert all(row[f"relative_variance_{name}"] > 0 for name in CHECKPOINTS)


def test_the_reference_runs_in_steps_after_the_probes_and_counts_in_the_progress():
    comparison = Comparison(ONE_ESTIMATOR)
    while not comparison.training_finished:
        comparison.runs[0].advance(0.05)  # the training alone (advance would go on in its tick)
    while not (comparison.checkpoints and all(c.probe.done for c in comparison.checkpoints)):
        comparison._probe_step()  # one batch at a time: stop right after the probes
    assert not comparison.finished and all(c.reference is None for c in comparison.checkpoints)
    assert all(r["cosine_reference"] is None for r in comparison.variance_rows())
    fraction, text = comparison.progress()
    assert fraction == 0.9 and text == "the reference gradients (128 episodes at each policy): 0 of 4 batches"
    comparison._probe_step()
    assert comparison.progress()[1].endswith(": 1 of 4 batches") and comparison.checkpoints[0].reference_probe.n == 1
    comparison.run()
    assert comparison.finished and all(r["cosine_reference"] is not None for r in comparison.variance_rows())


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
    assert small.progress() == (1.0, "done: 6 runs and 8 probe batches, and reference gradients of 128 episodes")
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
    assert cells[1]["Relative variance (start)"] == format(row["relative_variance_start"], ".3g")
    assert cells[1]["cos to reference (mid)"] == format(row["cosine_reference_mid"], ".2f")
    text = text_table(small.table())
    assert text.splitlines()[0].startswith("Estimator") and len(text.splitlines()) == 2 + 3
    caption = describe(small)
    assert "Seeds 1, 2 for every estimator" in caption and "16,000 env steps" in caption
    assert "a reference gradient from 128 episodes at the same policy" in caption
    assert all(c.description in caption for c in small.checkpoints)


def test_median_and_range_formatting():
    row = {"estimator": "x", "solved": 3, "n_seeds": 5, "diverged": 1, "env_steps_median": 20930.0,
           "env_steps_min": 7254.0, "env_steps_max": 36226.0, "seconds_median": 0.146, "seconds_min": 0.05,
           "seconds_max": 0.25, "relative_variance_start": 0.537, "relative_variance_mid": 1.443,
           "cosine_reference_mid": 0.691}
    cells = formatted_table([row])[0]
    assert cells["Env steps to solve"] == "20,930 [7,254–36,226]"
    assert cells["Seconds to solve"] == "0.15 [0.05–0.25]"
    assert cells["Relative variance (mid)"] == "1.44" and cells["cos to reference (mid)"] == "0.69"
    assert formatted_table([{**row, "cosine_reference_mid": None}])[0]["cos to reference (mid)"] == "–"
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
# The comparison's datasets (the chart builders: tests/viz/test_comparison_charts.py)
# ---------------------------------------------------------------------------------------------
def comparison_datasets(comparison: Comparison, points: int = 200) -> dict[str, pd.DataFrame]:
    """The datasets of a comparison as the page builds them: its columns, then frames."""
    curves = {x: comparison.curves(x, points) for x in ("env_steps", "wall_time")}
    return compare_datasets(curves, comparison.solve_points(), comparison.variance_rows(),
                            comparison.settings.base_config().max_episode_steps)


def test_datasets_are_the_comparisons_numbers_without_nan(small):
    data = comparison_datasets(small, points=60)
    curves = small.curves("env_steps", 60)
    np.testing.assert_array_equal(data["curves_env_steps"]["median"].to_numpy(), curves["median"])
    assert list(data["variance"].columns) == list(VARIANCE_KEYS)
    assert list(data["cosine"].columns) == list(COSINE_KEYS) and len(data["cosine"]) == len(data["variance"])
    assert set(data["variance"]["checkpoint"]) == set(CHECKPOINT_TITLES.values())
    rows = {(r["estimator"], CHECKPOINT_TITLES[r["checkpoint"]]): r["variance"] for r in small.variance_rows()}
    for _, r in data["variance"].iterrows():
        assert r["variance"] == rows[(r["estimator"], r["checkpoint"])]
    cos = {(r["estimator"], CHECKPOINT_TITLES[r["checkpoint"]]): r["cosine_reference"] for r in small.variance_rows()}
    for _, r in data["cosine"].iterrows():
        assert r["cosine_reference"] == cos[(r["estimator"], r["checkpoint"])]
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
    assert len(empty["cosine"]) == 0


# ---------------------------------------------------------------------------------------------
# The command line and the benchmark
# ---------------------------------------------------------------------------------------------
TINY = ["--estimators", "rtg-batch-mean,gae:1", "--seeds", "1", "--probe-estimates", "3", "--max-env-steps", "12000",
        "--value-model", "linear", "--reference-episodes", "128"]


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
    assert "GAE λ = 1" in text.stdout and "... done: 2 runs and 6 probe batches, and reference" in text.stderr


@pytest.mark.parametrize("args, message", [
    (["--estimators", "ppo"], "pg compare: error: estimator must be one of reinforce"),
    (["--seeds", "0"], "pg compare: error: seeds must be an integer in [1, 5], got 0"),
    (["--estimators", "gae:2"], "GAE lambda must be a number in [0, 1], got 2.0"),
    (["--batch-episodes", "x"], "argument --batch-episodes: expected an integer, got 'x'"),
    (["--value-model", "cnn"], "value_model must be one of linear, mlp; got 'cnn'"),
    (["--estimators", "rtg,rtg"], "pg compare: error: estimator rtg is listed twice"),
    (["--reference-episodes", "64"], "reference_episodes must be an integer in [128, 65536], got 64"),
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


# ---------------------------------------------------------------------------------------------
# Findings and the prediction, in words from the rows
# ---------------------------------------------------------------------------------------------
def _row(name, label, relative_variance, cosine_reference, beyond_noise=False, checkpoint="mid", **changes):
    return {"name": name, "estimator": label, "checkpoint": checkpoint, "n_estimates": 32,
            "relative_variance": relative_variance, "relative_variance_se": 0.1 * relative_variance,
            "cosine_mean": 0.97, "cosine_reference": cosine_reference,
            "cosine_reference_se": 0.02, "angle_reference": 62.0 if beyond_noise else 4.0, "noise_angle": 6.6,
            "beyond_noise": beyond_noise, "reference_episodes": 2048, "reference_relative_noise": 0.1,
            "reference_noise_angle": 5.7, **changes}


ROWS = [_row("reinforce", "REINFORCE", 118.0, 0.07), _row("rtg-batch-mean", "batch mean", 1.44, 0.69),
        _row("td0", "TD(0)", 0.104, 0.46, beyond_noise=True), _row("gae:0.95", "GAE", 0.148, 0.88, beyond_noise=True),
        _row("td0", "TD(0)", 0.5, 0.9, checkpoint="start")]


def test_findings_name_the_extremes_and_the_biased_estimators_at_the_checkpoint():
    f = findings(ROWS, "mid")
    assert (f.lowest_variance["name"], f.highest_variance["name"]) == ("td0", "reinforce")
    assert (f.closest["name"], f.furthest["name"]) == ("gae:0.95", "reinforce")
    assert [r["name"] for r in f.biased] == ["td0", "gae:0.95"]
    text = findings_text(f)
    assert text[0].startswith("At the policy on its way, the reference gradient (2,048 episodes")
    assert "relative noise 0.10: its direction is sure to about 6°" in text[0]
    assert text[1] == "Lowest relative variance: **TD(0)** (0.104 ± 0.01); highest: **REINFORCE** (118 ± 12)."
    assert "closest to the reference with **GAE** (mean cosine 0.88 ± 0.02), furthest with **REINFORCE** (0.07" in text[2]
    assert "**TD(0)**: even its mean over 32 batches points 62° off the reference, more than 3 × the 7°" in text[3]
    assert text[-1].startswith("The lowest variance is not the best direction: **TD(0)**'s batches")


def test_findings_without_a_bias_say_so_and_wait_for_the_reference():
    unbiased = [_row("rtg", "Gt", 2.0, 0.6), _row("reinforce", "REINFORCE", 9.0, 0.2)]
    text = findings_text(findings(unbiased, "mid"))
    assert "no bias shows at this policy" in text[-1] and not any("not the best direction" in t for t in text)
    assert findings([_row("rtg", "Gt", 2.0, None)], "mid") is None and findings(unbiased, "start") is None
    biased_g0 = findings_text(findings([_row("reinforce", "REINFORCE", 9.0, 0.2, beyond_noise=True)]))
    assert any("G₀ carries the γᵗ factor" in t for t in biased_g0)


@pytest.mark.parametrize("predicted, matched, start", [
    ("td0", True, "Your prediction matched: **TD(0)** measured lowest (0.104 ± 0.01, against 0.148 ± 0.015 for GAE, "
                  "the next lowest)."),
    ("reinforce", False, "Your prediction did not match: you chose **REINFORCE** (relative variance 118); **TD(0)**"),
    (None, None, "You made no prediction. **TD(0)** measured lowest"),
    ("rtg", None, "You predicted rtg, which this comparison did not run."),
])
def test_a_prediction_is_checked_against_the_measured_relative_variances(predicted, matched, start):
    check = check_prediction(ROWS, predicted, "mid")
    assert check.lowest["name"] == "td0" and check.runner_up["name"] == "gae:0.95"
    assert check.matched is matched and check.text().startswith(start) and not check.close


def test_a_prediction_between_two_close_estimators_says_another_run_could_differ():
    rows = [_row("td0", "TD(0)", 0.104, 0.5, relative_variance_se=0.02), _row("gae:0.95", "GAE", 0.148, 0.9)]
    check = check_prediction(rows, "gae:0.95")  # 0.044 apart < 2 * hypot(0.02, 0.0148)
    assert check.close and not check.matched
    assert check.text().endswith("the next lowest), but the two are closer than twice the standard error of their "
                                 "difference: another run could order them differently.")


def test_a_prediction_waits_for_the_measurement():
    assert check_prediction([_row("td0", "TD(0)", 0.1, None)], "td0") is None
    assert check_prediction([], "td0") is None
    one = check_prediction([_row("td0", "TD(0)", 0.1, 0.5)], "td0")
    assert one.matched and one.runner_up is None and not one.close
    assert one.text() == "Your prediction matched: **TD(0)** measured lowest (0.1 ± 0.01)."
