"""The command line: train a policy, evaluate one, or run the benchmarks.

    python -m pg train --policy mlp --hidden 32,32 --lr 0.01 --out policy.npz
    python -m pg evaluate policy.npz --episodes 100
    python -m pg compare --estimators reinforce,rtg-batch-mean,td0,gae:0.95 --seeds 5 [--json]
    python -m pg bench [args...]            (forwarded to pg.bench.main)

Every TrainConfig field is an option of ``train``; its docstring in pg/algo/reinforce.py is the
help text, so the two cannot drift apart. A bad argument prints one line on stderr and exits
with status 2; a run that diverges saves the last good policy and exits with status 1.
"""

from __future__ import annotations

import argparse
import ast
import inspect
import os
import sys
import textwrap
import types
import typing
from dataclasses import MISSING, fields

from pg.algo.reinforce import (
    TrainConfig,
    TrainingDiverged,
    default_solve_return,
    evaluate,
    initial_policy,
    train,
)
from pg.envs.cartpole import V0_MAX_STEPS, V1_MAX_STEPS
from pg.runs.checkpoint import CheckpointError, load_run, save_policy
from pg.runs.footprint import evaluate_footprint, require_fits, size_text
from pg.runs.history import RunRecorder

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130  # failed: diverged, or cannot write
DEFAULT_MAX_SNAPSHOTS = 200


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line on stderr (usage is left to --help)."""

    def error(self, message: str) -> typing.NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {' '.join(str(message).split())}\n")


# ---------------------------------------------------------------------------------------------
# Options from TrainConfig
# ---------------------------------------------------------------------------------------------
def field_docs(cls) -> dict[str, str]:
    """{field: docstring} from the string literal written right after each field."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
    except (OSError, TypeError, SyntaxError):
        return {}
    body = tree.body[0].body
    docs = {}
    for statement, following in zip(body, body[1:]):
        if (
            isinstance(statement, ast.AnnAssign)
            and isinstance(statement.target, ast.Name)
            and isinstance(following, ast.Expr)
            and isinstance(following.value, ast.Constant)
            and isinstance(following.value.value, str)
        ):
            docs[statement.target.id] = " ".join(following.value.value.split())
    return docs


def _parse_int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        pass
    try:
        value = float(text)  # accept 1e6 for a budget
    except ValueError:
        value = None
    if value is None or not value.is_integer():
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}")
    return int(value)


def _parse_float(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None


def _parse_optional_float(text: str) -> float | None:
    if text.strip().lower() == "none":
        return None
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number or 'none', got {text!r}") from None


def _parse_hidden(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(size) for size in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected layer sizes like 32 or 32,32, got {text!r}") from None


def _option_kind(name: str, hint) -> tuple:
    """(argparse keyword arguments, metavar) for one TrainConfig field."""
    if name == "hidden":
        return {"type": _parse_hidden}, "H1,H2,..."
    if hint is bool:
        return {"action": argparse.BooleanOptionalAction}, None
    if hint is int:
        return {"type": _parse_int}, "INT"
    if hint is float:
        return {"type": _parse_float}, "FLOAT"
    if hint is str:
        return {"type": str}, "NAME"
    if isinstance(hint, types.UnionType) and set(typing.get_args(hint)) == {float, type(None)}:
        return {"type": _parse_optional_float}, "FLOAT|none"
    raise TypeError(f"no command-line option type for TrainConfig.{name}: {hint!r}")


def _show_default(value) -> str:
    if value is None:
        return "none"
    if isinstance(value, tuple):
        return ",".join(map(str, value))
    return str(value)


def add_train_config_options(parser: argparse.ArgumentParser) -> None:
    """One option per TrainConfig field; unset options keep the dataclass default."""
    group = parser.add_argument_group("training config (pg.TrainConfig; every field, with its default)")
    docs = field_docs(TrainConfig)
    hints = typing.get_type_hints(TrainConfig)
    for f in fields(TrainConfig):
        kwargs, metavar = _option_kind(f.name, hints[f.name])
        default = f.default if f.default is not MISSING else f.default_factory()
        help_text = f"{docs.get(f.name, f.name)} (default: {_show_default(default)})"
        if metavar:
            kwargs["metavar"] = metavar
        group.add_argument(
            "--" + f.name.replace("_", "-"),
            dest=f.name,
            default=argparse.SUPPRESS,
            help=help_text.replace("%", "%%"),
            **kwargs,
        )


# ---------------------------------------------------------------------------------------------
# Memory: refuse a run that cannot fit, in one line, before allocating it
# ---------------------------------------------------------------------------------------------
FALLBACK_MEMORY = 2 * 1024**3  # bytes, where the available memory cannot be read
MEMORY_HELP = ("refuse a run whose estimated peak memory (pg.runs.footprint) exceeds this many MB "
               "(default: 80%% of the memory available now, or 2 GiB where that cannot be read)")


def available_memory() -> int:
    """Bytes the system can give without swapping (MemAvailable, Linux), or FALLBACK_MEMORY."""
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return FALLBACK_MEMORY


def memory_limit(args) -> int:
    """--max-memory in bytes, or 80% of the available memory."""
    if getattr(args, "max_memory", None) is not None:
        return int(args.max_memory * 1e6)
    return int(0.8 * available_memory())


def _parse_megabytes(text: str) -> float:
    value = _parse_float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a number of MB > 0, got {text!r}")
    return value


# ---------------------------------------------------------------------------------------------
# train
# ---------------------------------------------------------------------------------------------
def save_recording(recorder: RunRecorder, path: str, policy, cfg: TrainConfig) -> str:
    snapshots = recorder.keeper.snapshots()
    save_policy(path, policy, config=cfg, history=recorder.history(), snapshots=snapshots)
    return (
        f"wrote {path}: {policy.kind} policy with {policy.params.size} parameters, "
        f"{recorder.n} history rows, {len(snapshots)} snapshots"
    )


def progress_line(update, solve_return: float) -> str:
    if update.eval_return is not None:
        greedy = f"{update.eval_return:7.1f}"
    elif update.eval_upper_bound is not None:
        greedy = f"   <{solve_return:g}"  # evaluation stopped once the bar was out of reach
    else:
        greedy = "      -"
    return (
        f"update {update.iteration:5d} | env steps {update.env_steps:10,d} | "
        f"mean return {update.mean_return:6.1f} | greedy eval {greedy} | {update.wall_time:7.2f} s"
    )


def final_line(last, cfg: TrainConfig, first_solved) -> str:
    done = f"after {last.wall_time:.2f} s and {last.env_steps:,} env steps"
    if last.stop_reason == "solved":
        return (
            f"solved at update {last.iteration}: greedy mean return {last.eval_return:.1f} over "
            f"{cfg.eval_episodes} episodes >= {cfg.solve_return:g}, confirmed at {last.confirm_return:.1f} on "
            f"{cfg.eval_episodes} fresh episodes, {done}"
        )
    budget = {
        "max_updates": f"--max-updates {cfg.max_updates}",
        "max_env_steps": f"--max-env-steps {cfg.max_env_steps}",
        "max_seconds": f"--max-seconds {cfg.max_seconds:g}",
    }.get(last.stop_reason, str(last.stop_reason))
    if first_solved is not None:
        verdict = f"solved first at update {first_solved.iteration} ({first_solved.wall_time:.2f} s)"
    else:
        verdict = "not solved"
    return f"{verdict}; stopped by the budget {budget} at update {last.iteration}, {done}"


def _check_output_path(parser, out: str) -> None:
    directory = os.path.dirname(os.path.abspath(out))
    if os.path.isdir(out):
        parser.error(f"cannot write the policy to {out}: it is a directory; give a file name such as policy.npz")
    if not os.path.isdir(directory):
        parser.error(f"cannot write the policy to {out}: directory {directory} does not exist")


def run_train(args, parser) -> int:
    overrides = {f.name: getattr(args, f.name) for f in fields(TrainConfig) if hasattr(args, f.name)}
    try:
        cfg = TrainConfig(**overrides)
    except ValueError as error:
        parser.error(str(error))
    if args.print_every < 1:
        parser.error(f"print-every must be an integer >= 1, got {args.print_every}")
    if args.max_snapshots != 0 and not 2 <= args.max_snapshots <= 10_000:
        parser.error(f"max-snapshots must be 0 (none) or an integer in [2, 10000], got {args.max_snapshots}")
    _check_output_path(parser, args.out)
    try:
        require_fits(cfg, 1, memory_limit(args), max_snapshots=args.max_snapshots)
    except ValueError as error:
        parser.error(f"{error} (--max-memory sets the limit)")

    recorder, last, first_solved = RunRecorder(args.max_snapshots), None, None
    recorder.keeper.add(0, initial_policy(cfg).params)  # the untrained agent, for "before" views
    try:
        for update in train(cfg):
            recorder.add(update)
            last = update
            if update.solved and first_solved is None:
                first_solved = update
            if update.iteration % args.print_every == 0 or update.stop_reason:
                print(progress_line(update, cfg.solve_return), flush=True)
    except TrainingDiverged as error:
        message = f"{parser.prog}: {error}"
        return _save_after_failure(recorder, args.out, error.policy, "the last good policy", cfg, message, EXIT_FAILED)
    except KeyboardInterrupt:
        if last is None:
            print(f"{parser.prog}: interrupted before the first update; nothing saved", file=sys.stderr)
            return EXIT_INTERRUPTED
        message = f"{parser.prog}: interrupted after update {last.iteration}"
        policy_name = f"the policy after update {last.iteration}"
        return _save_after_failure(recorder, args.out, last.policy, policy_name, cfg, message, EXIT_INTERRUPTED)

    print(final_line(last, cfg, first_solved))
    try:
        print(save_recording(recorder, args.out, last.policy, cfg))
    except OSError as error:
        print(f"{parser.prog}: error: cannot write {args.out}: {error.strerror or error}", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


def _save_after_failure(recorder, out, policy, policy_name, cfg, message, status) -> int:
    """One line on stderr: what went wrong, and where the policy went."""
    try:
        save_recording(recorder, out, policy, cfg)
        print(f"{message}; saved {policy_name} to {out}", file=sys.stderr)
    except OSError as error:
        print(f"{message}; could not save {policy_name} to {out}: {error.strerror or error}", file=sys.stderr)
    return status


# ---------------------------------------------------------------------------------------------
# evaluate
# ---------------------------------------------------------------------------------------------
def run_home_clip(args, parser) -> int:
    from pg.viz.clip_file import make_home_clip

    try:
        run = load_run(args.policy)
    except CheckpointError as error:
        message = str(error)
        parser.error(message if args.policy in message else f"{args.policy}: {message}")
    try:
        episode, size = make_home_clip(run.policy, args.out)
    except OSError as error:
        parser.error(f"could not write {args.out}: {error.strerror or error}")
    print(f"{args.out}: {size:,} bytes, {episode.length} steps of {args.policy}'s greedy episode (seed 0)")
    return EXIT_OK


def run_evaluate(args, parser) -> int:
    for name, value, low, high in (
        ("episodes", args.episodes, 1, 100_000),
        ("seed", args.seed, 0, 2**32 - 1),
        ("max-steps", args.max_steps, 1, 100_000),
    ):
        if not low <= value <= high:
            parser.error(f"{name} must be an integer in [{low}, {high}], got {value}")
    try:
        run = load_run(args.policy)
    except CheckpointError as error:
        message = str(error)
        parser.error(message if args.policy in message else f"{args.policy}: {message}")
    policy = run.policy
    need, limit = evaluate_footprint(getattr(policy, "hidden", ()), args.episodes, args.max_steps), memory_limit(args)
    if need > limit:
        parser.error(f"evaluating would need about {size_text(need)} ({args.episodes:,} episodes x "
                     f"{args.max_steps:,}-step time limit); the limit here is {size_text(limit)}: lower --episodes "
                     "or --max-steps, or raise --max-memory")
    returns = evaluate(policy, episodes=args.episodes, seed=args.seed, max_steps=args.max_steps)
    print(f"{args.policy}: {policy.kind} policy with {policy.params.size} parameters")
    print(
        f"greedy return over {args.episodes} episodes (seed {args.seed}, at most {args.max_steps} steps): "
        f"mean {returns.mean():.2f}  std {returns.std():.2f}  min {returns.min():g}  max {returns.max():g}"
    )
    names = {V1_MAX_STEPS: "CartPole-v1", V0_MAX_STEPS: "CartPole-v0"}
    if args.episodes == 100 and args.max_steps in names:
        name, bar = names[args.max_steps], default_solve_return(args.max_steps)
        verdict = "solved" if returns.mean() >= bar else "not solved"
        print(f"{verdict} by the {name} rule (greedy mean >= {bar:g} over 100 episodes)")
    return EXIT_OK


# ---------------------------------------------------------------------------------------------
# compare
# ---------------------------------------------------------------------------------------------
def run_compare(args, parser) -> int:
    import json
    from dataclasses import asdict

    from pg.algo.estimators import parse_estimators
    from pg.lessons.comparison import CompareSettings, Comparison, describe, text_table
    from pg.runs.live import MAX_SEEDS

    if not 1 <= args.seeds <= MAX_SEEDS:
        parser.error(f"seeds must be an integer in [1, {MAX_SEEDS}], got {args.seeds}")
    try:
        names = tuple(spec.name for spec in parse_estimators(args.estimators))
        settings = CompareSettings(names, n_seeds=args.seeds, seed=args.seed, batch_episodes=args.batch_episodes,
                                   value_model=args.value_model, normalize_advantages=args.normalize_advantages,
                                   max_env_steps=args.max_env_steps, max_seconds=args.max_seconds,
                                   probe_estimates=args.probe_estimates,
                                   reference_episodes=args.reference_episodes)
    except ValueError as error:
        parser.error(str(error))
    try:
        comparison, said = Comparison(settings), None
    except ValueError as error:  # a ConfigError: too big for the memory budget (pg.runs.footprint)
        parser.error(str(error))
    while not comparison.done:
        comparison.advance(1.0)
        text = comparison.progress()[1]
        if text != said and not args.json:
            print(f"... {text}", file=sys.stderr, flush=True)
            said = text
    if comparison.failure:
        print(f"pg compare: error: {comparison.failure}", file=sys.stderr)
        return EXIT_FAILED
    if args.json:
        report = {
            "settings": asdict(settings),
            "seeds": settings.seeds,
            "table": comparison.table(),
            "variance": comparison.variance_rows(),
            "checkpoints": {c.name: c.description for c in comparison.checkpoints},
            "description": describe(comparison),
        }
        print(json.dumps(report, indent=2))
    else:
        print(text_table(comparison.table()))
        print()
        print(textwrap.fill(describe(comparison), width=120))
    return EXIT_OK


def add_compare_options(parser: argparse.ArgumentParser) -> None:
    from pg.algo.estimators import ESTIMATOR_NAMES
    from pg.lessons.comparison import CompareSettings

    d = CompareSettings()
    parser.add_argument("--estimators", default=",".join(d.estimators), metavar="NAME,NAME,...",
                        help=f"up to 4 of: {', '.join(ESTIMATOR_NAMES)} (default: {','.join(d.estimators)})")
    parser.add_argument("--seeds", type=_parse_int, default=d.n_seeds, metavar="N",
                        help=f"seeds per estimator, 1 to 5: seed, seed + 1, ... (default: {d.n_seeds})")
    parser.add_argument("--seed", type=_parse_int, default=d.seed, metavar="INT",
                        help=f"the first seed (default: {d.seed})")
    parser.add_argument("--batch-episodes", type=_parse_int, default=d.batch_episodes, metavar="N",
                        help=f"episodes per update and per probed estimate (default: {d.batch_episodes})")
    parser.add_argument("--value-model", default=d.value_model, metavar="NAME",
                        help=f"the critic of rtg-value, td0 and gae: linear or mlp (default: {d.value_model})")
    parser.add_argument("--normalize-advantages", action=argparse.BooleanOptionalAction,
                        default=d.normalize_advantages,
                        help="rescale each batch's advantages (default: off, each estimator as the theory has it)")
    parser.add_argument("--max-env-steps", type=_parse_int, default=d.max_env_steps, metavar="INT",
                        help=f"budget of each run, in environment steps (default: {d.max_env_steps})")
    parser.add_argument("--max-seconds", type=_parse_float, default=d.max_seconds, metavar="FLOAT",
                        help=f"budget of each run, in seconds (default: {d.max_seconds:g})")
    parser.add_argument("--probe-estimates", type=_parse_int, default=d.probe_estimates, metavar="N",
                        help=f"gradient estimates per estimator and checkpoint (default: {d.probe_estimates})")
    parser.add_argument("--reference-episodes", type=_parse_int, default=d.reference_episodes, metavar="N",
                        help="episodes of the reference gradient each direction is measured against, 128 to 65536 "
                        f"(default: {d.reference_episodes})")
    parser.add_argument("--json", action="store_true", help="print the table, the probe and the settings as JSON")


# ---------------------------------------------------------------------------------------------
# bench
# ---------------------------------------------------------------------------------------------
def run_bench(argv: list[str]) -> int:
    """Forward every argument to pg.bench.main (imported only when asked for)."""
    from pg import bench

    status = bench.main(argv)
    return status if isinstance(status, int) else EXIT_OK


# ---------------------------------------------------------------------------------------------
# main
# ---------------------------------------------------------------------------------------------
def build_parser() -> _Parser:
    parser = _Parser(
        prog="pg",
        description="Policy Gradients, Visually: REINFORCE on CartPole from the command line.",
        allow_abbrev=False,
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    train_parser = commands.add_parser(
        "train",
        help="train a policy and write it (with config, history and snapshots) to a .npz file",
        description="Train a policy with REINFORCE until it solves CartPole or runs out of budget.",
        allow_abbrev=False,
    )
    add_train_config_options(train_parser)
    output = train_parser.add_argument_group("output")
    output.add_argument("--out", default="policy.npz", metavar="PATH",
                        help="where to write the policy file (default: policy.npz)")
    output.add_argument("--print-every", type=_parse_int, default=5, metavar="N",
                        help="print a progress line every N updates (default: 5)")
    output.add_argument("--max-snapshots", type=_parse_int, default=DEFAULT_MAX_SNAPSHOTS, metavar="N",
                        help="keep at most N parameter snapshots, evenly spaced, always the first and last "
                             f"update; 0 for none (default: {DEFAULT_MAX_SNAPSHOTS})")
    output.add_argument("--max-memory", type=_parse_megabytes, default=None, metavar="MB", help=MEMORY_HELP)
    train_parser.set_defaults(run=run_train, parser=train_parser)

    evaluate_parser = commands.add_parser(
        "evaluate",
        help="greedy episodes of a saved policy: mean, std, min, max return",
        description="Run a saved policy greedily on CartPole and print its return statistics.",
        allow_abbrev=False,
    )
    evaluate_parser.add_argument("policy", metavar="POLICY", help="a .npz policy file (from `pg train` or the app)")
    evaluate_parser.add_argument("--episodes", type=_parse_int, default=100, metavar="N",
                                 help="number of greedy episodes (default: 100)")
    evaluate_parser.add_argument("--seed", type=_parse_int, default=0, metavar="INT",
                                 help="seed of the start states (default: 0)")
    evaluate_parser.add_argument("--max-steps", type=_parse_int, default=500, metavar="INT",
                                 help="episode time limit: 500 is CartPole-v1, 200 is CartPole-v0 (default: 500)")
    evaluate_parser.add_argument("--max-memory", type=_parse_megabytes, default=None, metavar="MB", help=MEMORY_HELP)
    evaluate_parser.set_defaults(run=run_evaluate, parser=evaluate_parser)

    home_parser = commands.add_parser(
        "home-clip",
        help="make Home's clip of a policy ahead of time (an .mp4 and its .json sidecar)",
        description="Render the app's Home clip (the policy's greedy episode from seed 0's start) and write it "
                    "with a sidecar naming what it was made from; the app reads it instead of rendering it on a "
                    "cold start, as long as the sidecar matches (pg.viz.clip_file).",
        allow_abbrev=False,
    )
    home_parser.add_argument("--policy", default="assets/policy.npz", metavar="PATH",
                             help="the policy file (default: assets/policy.npz, the one the app ships)")
    home_parser.add_argument("--out", default="assets/home.mp4", metavar="PATH",
                             help="where to write the clip (default: assets/home.mp4; the sidecar goes beside it)")
    home_parser.set_defaults(run=run_home_clip, parser=home_parser)

    compare_parser = commands.add_parser(
        "compare",
        help="train estimators side by side with several seeds and measure their gradient variance",
        description="Train up to four advantage estimators on CartPole with the same seeds, probe each one's "
                    "gradient variance at the same policies, and print the table (pg.lessons.comparison).",
        allow_abbrev=False,
    )
    add_compare_options(compare_parser)
    compare_parser.set_defaults(run=run_compare, parser=compare_parser)

    # listed for --help only: main() forwards `bench ...` untouched, its own --help included
    commands.add_parser("bench", help="speed and sample-efficiency benchmarks (arguments go to pg.bench)",
                        add_help=False)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] == "bench":
        return run_bench(argv[1:])
    parser = build_parser()
    if not argv:
        parser.print_help()
        return EXIT_USAGE
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        args.parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    return args.run(args, args.parser)


if __name__ == "__main__":
    raise SystemExit(main())
