"""The command line, run as a user runs it: ``python -m pg ...`` in a subprocess.

Divergence and the bench forwarding are checked in-process (they need a stand-in).
"""

from __future__ import annotations

import subprocess
import sys
import types
from dataclasses import fields
from pathlib import Path

import numpy as np
import pytest

import pg
from pg import cli
from pg.algo.reinforce import TrainConfig, TrainingDiverged, initial_policy, train
from pg.runs.checkpoint import load_run
from pg.runs.history import HISTORY_FIELDS, SnapshotKeeper

REPO = Path(__file__).resolve().parents[1]


def run_pg(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pg", *map(str, args)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def option(name: str) -> str:
    return "--" + name.replace("_", "-")


# ---------------------------------------------------------------------------------------------
# train and evaluate
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def solved_run(tmp_path_factory):
    """The default config, trained to solved once for the module (about 0.2 s)."""
    out = tmp_path_factory.mktemp("solved") / "policy.npz"
    return run_pg("train", "--out", out, "--print-every", 5), out


def test_train_solves_and_writes_a_loadable_file(solved_run):
    result, out = solved_run
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    progress = [line for line in lines if line.startswith("update ")]
    assert progress and all("env steps" in line and "mean return" in line and " s" in line for line in progress)
    assert progress[0].startswith("update     5 ")
    final = next(line for line in lines if line.startswith("solved at update"))
    assert "greedy mean return" in final and ">= 475" in final and "after" in final
    assert lines[-1].startswith(f"wrote {out}")

    run = load_run(out)
    assert run.config == TrainConfig().to_dict()
    assert list(run.history) == list(HISTORY_FIELDS)
    n_updates = len(run.history["iteration"])
    assert f"solved at update {n_updates}:" in final
    assert [it for it, _ in run.snapshots] == list(range(0, n_updates + 1))  # 0: the untrained policy
    np.testing.assert_array_equal(run.snapshots[0][1].params, initial_policy(TrainConfig()).params)
    np.testing.assert_array_equal(run.snapshots[-1][1].params, run.policy.params)


def test_evaluate_prints_the_statistics(solved_run):
    _, out = solved_run
    result = run_pg("evaluate", out, "--episodes", 100, "--seed", 0)
    assert result.returncode == 0, result.stderr
    stats = result.stdout.splitlines()[1]
    for word in ("mean", "std", "min", "max", "100 episodes"):
        assert word in stats
    mean = float(stats.split("mean ")[1].split()[0])
    assert mean >= 475
    assert "solved by the CartPole-v1 rule" in result.stdout


def test_train_on_a_small_budget_says_which_budget_stopped_it(tmp_path):
    out = tmp_path / "mlp.npz"
    result = run_pg(
        "train", "--policy", "mlp", "--hidden", "8,8", "--max-grad-norm", "none", "--no-normalize-advantages",
        "--max-updates", 3, "--eval-episodes", 5, "--print-every", 1, "--seed", 7, "--out", out,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert [line.split("|")[0].split() for line in lines[:3]] == [["update", "1"], ["update", "2"], ["update", "3"]]
    assert lines[3].startswith("not solved; stopped by the budget --max-updates 3 at update 3")
    run = load_run(out)
    assert run.policy.spec == {"kind": "mlp", "obs_dim": 4, "n_actions": 2, "hidden": [8, 8]}
    assert run.config["max_grad_norm"] is None and run.config["normalize_advantages"] is False
    assert run.config["seed"] == 7 and run.config["max_updates"] == 3
    assert len(run.history["iteration"]) == 3 and len(run.snapshots) == 4  # updates 0 (untrained) to 3


def test_snapshots_are_thinned_to_the_cap(tmp_path):
    out = tmp_path / "p.npz"
    result = run_pg("train", "--max-updates", 9, "--max-snapshots", 4, "--eval-every", 100,
                    "--print-every", 100, "--out", out)
    assert result.returncode == 0, result.stderr
    assert "4 snapshots" in result.stdout
    iterations = [it for it, _ in load_run(out).snapshots]
    assert len(iterations) == 4 and iterations[0] == 0 and iterations[-1] == 9


def test_snapshot_keeper_is_even_bounded_and_keeps_the_ends():
    for n_updates in (1, 2, 199, 200, 201, 1000, 5000):
        keeper = SnapshotKeeper(200)
        for iteration in range(1, n_updates + 1):
            keeper.add(iteration, np.array([float(iteration)]))
            assert len(keeper.kept) <= 400
        iterations = [it for it, _ in keeper.snapshots()]
        assert len(iterations) == min(n_updates, 200)
        assert iterations[0] == 1 and iterations[-1] == n_updates
        assert iterations == sorted(set(iterations))
        gaps = np.diff(iterations)
        if len(gaps):
            assert gaps.max() <= 3 * max(1, n_updates / 200)  # evenly spread, no big holes


# ---------------------------------------------------------------------------------------------
# Help
# ---------------------------------------------------------------------------------------------
def test_train_help_lists_every_config_field_with_its_docstring():
    result = run_pg("train", "--help")
    assert result.returncode == 0 and result.stderr == ""
    help_text = " ".join(result.stdout.split())
    for f in fields(TrainConfig):
        assert option(f.name) in help_text
    for option_name in ("--out", "--print-every", "--max-snapshots", "--no-normalize-advantages"):
        assert option_name in help_text
    assert "discount factor (default: 0.99)" in help_text
    assert "clip the gradient to this norm (None: no clipping) (default: none)" in help_text


def test_every_config_field_has_help_text():
    docs = cli.field_docs(TrainConfig)
    assert set(docs) == {f.name for f in fields(TrainConfig)}
    assert all(docs.values())


def test_evaluate_help():
    result = run_pg("evaluate", "--help")
    assert result.returncode == 0
    for option_name in ("POLICY", "--episodes", "--seed", "--max-steps"):
        assert option_name in result.stdout


def test_top_level_help_and_no_command():
    result = run_pg("--help")
    assert result.returncode == 0
    for command in ("train", "evaluate", "bench"):
        assert command in result.stdout
    bare = run_pg()
    assert bare.returncode == 2
    assert "usage: pg" in bare.stdout and "train" in bare.stdout


def test_bench_help_is_forwarded():
    result = run_pg("bench", "--help")
    assert result.returncode == 0, result.stderr
    assert "pg bench" in result.stdout


def test_bench_forwards_its_arguments(monkeypatch):
    seen = []
    fake = types.ModuleType("pg.bench")
    fake.main = lambda argv: seen.append(argv) or 3
    monkeypatch.setitem(sys.modules, "pg.bench", fake)
    monkeypatch.setattr(pg, "bench", fake, raising=False)
    assert cli.main(["bench", "--quick", "--only", "solve", "-h"]) == 3
    assert seen == [["--quick", "--only", "solve", "-h"]]


# ---------------------------------------------------------------------------------------------
# Bad arguments: one line on stderr, status 2, no traceback
# ---------------------------------------------------------------------------------------------
BAD_ARGUMENTS = [
    (["train", "--lr", "-1"], "pg train: error: lr must be a number in (0, 10], got -1.0"),
    (["train", "--lr", "abc"], "pg train: error: argument --lr: expected a number, got 'abc'"),
    (["train", "--batch-episodes", "0"], "pg train: error: batch_episodes must be an integer in [1, 4096], got 0"),
    (["train", "--batch-episodes", "2.5"], "argument --batch-episodes: expected an integer, got '2.5'"),
    (["train", "--hidden", "32,x"], "argument --hidden: expected layer sizes like 32 or 32,32, got '32,x'"),
    (["train", "--hidden", "0"], "hidden must be 1 to 4 layer sizes"),
    (["train", "--policy", "cnn"], "policy must be one of linear, mlp; got 'cnn'"),
    (["train", "--gamma", "nan"], "gamma must be a number in [0, 1], got nan"),
    (["train", "--max-grad-norm", "off"], "expected a number or 'none', got 'off'"),
    (["train", "--learning-rate", "0.1"], "pg train: error: unrecognized arguments: --learning-rate 0.1"),
    (["train", "--lr"], "argument --lr: expected one argument"),
    (["train", "--print-every", "0"], "print-every must be an integer >= 1, got 0"),
    (["train", "--out", "no/such/dir/p.npz"], "directory"),
    (["evaluate", "missing.npz"], "pg evaluate: error: cannot read missing.npz: no such file"),
    (["evaluate"], "pg evaluate: error: the following arguments are required: POLICY"),
    (["evaluate", "x.npz", "--episodes", "0"], "episodes must be an integer in [1, 100000], got 0"),
    (["fly"], "pg: error: argument COMMAND: invalid choice: 'fly'"),
]


@pytest.mark.parametrize(("args", "message"), BAD_ARGUMENTS, ids=[" ".join(a) for a, _ in BAD_ARGUMENTS])
def test_bad_arguments_give_one_line_and_status_2(args, message):
    result = run_pg(*args)
    assert result.returncode == 2
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert message in result.stderr


def test_evaluate_on_random_bytes(tmp_path):
    path = tmp_path / "random.npz"
    path.write_bytes(np.random.default_rng(0).bytes(2048))
    result = run_pg("evaluate", path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith(f"pg evaluate: error: {path}: this is not a policy file")


def test_evaluate_on_an_invalid_policy_file(tmp_path):
    path = tmp_path / "policy.npz"
    path.write_bytes(b"iteration,mean_return\n1,20\n")
    result = run_pg("evaluate", path)
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert "this is a text file" in result.stderr


# ---------------------------------------------------------------------------------------------
# Divergence: one line, the last good policy saved, status 1
# ---------------------------------------------------------------------------------------------
def test_divergence_saves_the_last_good_policy(monkeypatch, tmp_path, capsys):
    cfg = TrainConfig(max_updates=2, eval_episodes=5)
    updates = list(train(cfg))

    def diverging_train(config):
        yield from updates
        raise TrainingDiverged("a parameter is not finite", updates[-1].policy.copy(), 3)

    monkeypatch.setattr(cli, "train", diverging_train)
    out = tmp_path / "p.npz"
    status = cli.main(["train", "--max-updates", "5", "--eval-episodes", "5", "--out", str(out)])
    assert status == 1
    err = capsys.readouterr().err
    expected = "pg train: training diverged at update 3: a parameter is not finite; saved the last good policy"
    assert err == f"{expected} to {out}\n"
    run = load_run(out)
    np.testing.assert_array_equal(run.policy.params, updates[-1].policy.params)
    assert len(run.history["iteration"]) == 2
    assert [it for it, _ in run.snapshots] == [0, 1, 2]


# ---------------------------------------------------------------------------------------------
# Memory: a run or an evaluation that cannot fit is refused in one line, status 2
# ---------------------------------------------------------------------------------------------
MEMORY_REFUSALS = [
    (["train", "--batch-episodes", "4096", "--max-episode-steps", "100000"],
     "pg train: error: This run would need about 117 GB (4,096 episodes per update x 100,000-step time limit); the "
     "limit here is 1.0 GB: lower episodes per update or the time limit. (--max-memory sets the limit)"),
    (["train", "--policy", "mlp", "--hidden", "512,512,512,512", "--eval-episodes", "10000"], "lower "),
    (["evaluate", "assets/policy.npz", "--episodes", "20000", "--max-steps", "20000"],
     "pg evaluate: error: evaluating would need about 22 GB (20,000 episodes x 20,000-step time limit); the limit "
     "here is 1.0 GB: lower --episodes or --max-steps, or raise --max-memory"),
]


@pytest.mark.parametrize(("args", "message"), MEMORY_REFUSALS, ids=lambda a: " ".join(a)[:40])
def test_a_run_over_the_memory_limit_gives_one_line_and_status_2(args, message):
    result = run_pg(*args, "--max-memory", "1000")
    assert result.returncode == 2 and result.stdout == "" and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert message in result.stderr


def test_the_default_memory_limit_is_80_percent_of_the_available_memory(monkeypatch, capsys):
    monkeypatch.setattr(cli, "available_memory", lambda: 8 * 1024**3)  # the 8 GiB limit
    status = None
    try:
        cli.main(["evaluate", "assets/policy.npz", "--episodes", "20000", "--max-steps", "20000"])
    except SystemExit as stop:
        status = stop.code
    assert status == 2
    assert "the limit here is 6.9 GB" in capsys.readouterr().err


def test_a_run_within_the_memory_limit_trains(tmp_path):
    result = run_pg("train", "--max-updates", "1", "--max-memory", "50", "--out", tmp_path / "p.npz")
    assert result.returncode == 0, result.stderr
    assert run_pg("evaluate", tmp_path / "p.npz", "--episodes", "10", "--max-memory", "50").returncode == 0


def test_max_memory_is_in_the_help_and_checked():
    assert "80% of the memory available" in " ".join(run_pg("train", "--help").stdout.split())
    assert "--max-memory" in run_pg("evaluate", "--help").stdout
    result = run_pg("train", "--max-memory", "0")
    assert result.returncode == 2 and "expected a number of MB > 0" in result.stderr


def test_home_clip_writes_the_clip_and_its_sidecar_and_refuses_bad_paths_in_words(tmp_path, capsys, monkeypatch):
    from pg.viz.clip_file import HOME_EPISODE, clip_key, load_clip

    monkeypatch.setenv("SDL_VIDEODRIVER", "dummy")
    out = tmp_path / "home.mp4"
    assert cli.main(["home-clip", "--out", str(out)]) == cli.EXIT_OK
    assert "500 steps" in capsys.readouterr().out
    data = load_clip(out, clip_key(load_run("assets/policy.npz").policy, HOME_EPISODE))
    assert data is not None and data[4:8] == b"ftyp"  # an MP4, matching its sidecar
    for argv, words in ((["--policy", str(tmp_path / "none.npz")], "cannot read"),
                        (["--out", str(tmp_path / "no" / "dir.mp4")], "could not write")):
        with pytest.raises(SystemExit) as stop:
            cli.main(["home-clip", *argv])
        assert stop.value.code == 2 and words in capsys.readouterr().err
