"""Benchmarks of the core: time to solve CartPole-v1, env throughput against Gymnasium, memory.

Run ``python -m pg bench`` (or ``python benchmarks/run.py`` for every benchmark). Timings are
medians of several runs; the Gymnasium reference is measured in the same run, interleaved
with ours, and reported as a ratio. These are measurements, not tests: nothing here fails
because a machine is slow.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import statistics
import time
import tracemalloc

import numpy as np

from pg.algo.reinforce import CARTPOLE_V1_SOLVED, TrainConfig, train
from pg.envs import CartPole


def solve_run(cfg: TrainConfig) -> dict:
    """One training run to its end: wall seconds (evaluations included), updates, steps."""
    start = time.perf_counter()
    last = None
    for update in train(cfg):
        last = update
    return {
        "seed": cfg.seed,
        "seconds": time.perf_counter() - start,
        "updates": last.iteration,
        "env_steps": last.env_steps,
        "episodes": last.iteration * cfg.batch_episodes,
        "solved": bool(last.solved),
        "eval_return": last.eval_return,
    }


def solve_benchmark(seeds=range(5), repeats: int = 3, **overrides) -> dict:
    """Time to solve with the default config (plus ``overrides``) for each seed.

    Each seed runs ``repeats`` times (the runs are identical but for timing); a seed's time is
    its median, and the summary is the median, min and max over seeds.
    """
    train_once = solve_run(TrainConfig(seed=0, **overrides))  # warm-up: imports, caches
    del train_once
    per_seed = []
    for seed in seeds:
        runs = [solve_run(TrainConfig(seed=seed, **overrides)) for _ in range(repeats)]
        row = dict(runs[0])
        row["seconds"] = statistics.median(r["seconds"] for r in runs)
        per_seed.append(row)
    seconds = [r["seconds"] for r in per_seed]
    return {
        "config": TrainConfig(**overrides).to_dict(),
        "per_seed": per_seed,
        "median_seconds": statistics.median(seconds),
        "min_seconds": min(seconds),
        "max_seconds": max(seconds),
        "median_updates": statistics.median(r["updates"] for r in per_seed),
        "median_env_steps": statistics.median(r["env_steps"] for r in per_seed),
        "all_solved": all(r["solved"] for r in per_seed),
    }


def _time_steps(step, actions, n_steps: int) -> float:
    start = time.perf_counter()
    for i in range(n_steps):
        step(actions[i & 7])
    return time.perf_counter() - start


def env_throughput(sizes=(1, 64, 1024, 8192), repeats: int = 5, min_seconds: float = 0.2) -> list[dict]:
    """Env steps per second of pg's CartPole and Gymnasium's vector CartPole, per batch size.

    Both take the same random actions; runs alternate (ours, theirs, ours, ...) so that
    machine noise hits both. Gymnasium auto-resets ended episodes; ours freezes them, which
    costs the same arithmetic.
    """
    try:
        import gymnasium as gym
    except ImportError:  # pragma: no cover - depends on the environment
        gym = None
    rows = []
    for n in sizes:
        rng = np.random.default_rng(n)
        actions = rng.integers(0, 2, size=(8, n))
        ours = CartPole(n)
        ours.reset(seed=0)
        theirs = None
        if gym is not None:
            theirs = gym.make_vec("CartPole-v1", num_envs=n, vectorization_mode="vector_entry_point")
            theirs.reset(seed=0)
        n_steps = max(50, int(min_seconds / (2e-5 + 3e-8 * n)))
        ours_t, theirs_t = [], []
        for _ in range(repeats):
            ours_t.append(_time_steps(ours.step, actions, n_steps))
            if theirs is not None:
                theirs_t.append(_time_steps(theirs.step, actions, n_steps))
        row = {"num_envs": n, "steps": n_steps, "pg_steps_per_s": n * n_steps / statistics.median(ours_t)}
        if theirs is not None:
            row["gymnasium_steps_per_s"] = n * n_steps / statistics.median(theirs_t)
            row["ratio"] = row["pg_steps_per_s"] / row["gymnasium_steps_per_s"]
            theirs.close()
        rows.append(row)
    return rows


def training_memory(**overrides) -> dict:
    """Peak traced allocation (tracemalloc sees NumPy's buffers) of one default training run,
    and the process's peak resident set size."""
    tracemalloc.start()
    result = solve_run(TrainConfig(**overrides))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {
        "tracemalloc_peak_mb": peak / 2**20,
        "process_max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "solved": result["solved"],
    }


def _print_report(report: dict) -> None:
    if "solve" in report:
        s = report["solve"]
        print(f"Time to solve CartPole-v1 (default config; greedy mean >= {CARTPOLE_V1_SOLVED:g} over 100 episodes, "
              "confirmed on 100 fresh ones)")
        print(f"{'seed':>5} {'seconds':>8} {'updates':>8} {'episodes':>9} {'env steps':>10} {'solved':>7}")
        for r in s["per_seed"]:
            print(f"{r['seed']:>5} {r['seconds']:>8.3f} {r['updates']:>8} {r['episodes']:>9} {r['env_steps']:>10} {str(r['solved']):>7}")
        print(
            f"median {s['median_seconds']:.3f} s (min {s['min_seconds']:.3f}, max {s['max_seconds']:.3f}); "
            f"median {s['median_updates']:g} updates, {s['median_env_steps']:g} env steps; "
            f"all solved: {s['all_solved']}\n"
        )
    if "env" in report:
        print("Env throughput, steps per second (median of runs; Gymnasium measured in the same run)")
        print(f"{'N':>6} {'pg':>14} {'gymnasium':>14} {'ratio':>7}")
        for r in report["env"]:
            g = r.get("gymnasium_steps_per_s")
            print(
                f"{r['num_envs']:>6} {r['pg_steps_per_s']:>14,.0f} "
                f"{'n/a' if g is None else f'{g:,.0f}':>14} {r.get('ratio', float('nan')):>7.2f}"
            )
        print()
    if "memory" in report:
        m = report["memory"]
        print(
            f"Training memory: tracemalloc peak {m['tracemalloc_peak_mb']:.2f} MB; "
            f"process max RSS {m['process_max_rss_mb']:.0f} MB"
        )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="pg bench", description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=("solve", "env", "memory"), action="append",
                        help="run only this benchmark (repeatable)")
    parser.add_argument("--seeds", type=int, default=5, help="seeds for the solve benchmark (default 5)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per seed / per size (default 3)")
    parser.add_argument("--quick", action="store_true", help="fewer repeats, smaller sizes: a smoke run")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args(argv)
    if args.seeds < 1 or args.repeats < 1:
        parser.error("--seeds and --repeats must be at least 1")
    which = args.only or ["solve", "env", "memory"]
    repeats = 1 if args.quick else args.repeats
    report: dict = {"machine": {"python": platform.python_version(), "numpy": np.__version__,
                                "processor": platform.machine()}}
    if "solve" in which:
        report["solve"] = solve_benchmark(range(args.seeds), repeats)
    if "env" in which:
        sizes = (1, 64) if args.quick else (1, 64, 1024, 8192)
        report["env"] = env_throughput(sizes, repeats=max(3, repeats), min_seconds=0.05 if args.quick else 0.3)
    if "memory" in which:
        report["memory"] = training_memory()
    if args.json:
        print(json.dumps(report, indent=2, default=float))
    else:
        _print_report(report)
    return 0
