"""How much memory a run will take, worked out from its config before anything is allocated.

Every array of a training run has a size fixed by the config, so the peak can be bounded in
advance (the worst case: every episode runs to the time limit). Per seed:

==========  ==========================================================  =====================
part        what                                                        bytes (8 per float)
==========  ==========================================================  =====================
rollout     Roller buffers: obs (T+1, N, 4), rewards (T, N), actions    8(4(T+1)N + TN) + 2TN
            and alive (T, N) bools; G and adv (T, N) of the last        + 16TN + env
            update, alive until the next one replaces them
evaluation  the Evaluator's Roller for E greedy episodes (same          8(4(T+1)E + TE) + 2TE
            buffers, T x E)                                             + env
snapshots   SnapshotKeeper: up to 2 x max_snapshots + 2 parameter       8P x (kept + shown)
            vectors kept, and max_snapshots more when a page shows
            them (LiveRun.to_run); never more than updates + 1
history     growable columns (capacity doubles from 256): 13 fields     8 x fields x capacity
            per update, the live page's moving average and clock, 3     + 8 x 13 per row
            per training episode; a copy when a page shows the run
working     the largest temporary of one step, one seed at a time: the  see ``_working``
            sampling thresholds (4 T x N arrays), the gradient step on
            M = T x N samples (advantages, baseline or critic, an MLP's
            activations M x sum(hidden) and its backward pass), the
            value net's fit, one step of the greedy evaluation
==========  ==========================================================  =====================

A LiveRun trains its seeds one after another in one thread, so a run needs every seed's
persistent parts and one seed's working memory: ``total = seeds x (rollout + evaluation +
snapshots + history) + working + FIXED_BYTES``. tests/runs/test_footprint.py checks that this
bounds the peak that tracemalloc measures while ``train(cfg)`` runs with policies that reach
the time limit, and is within about 3x of it.

Budgets, for a 690 MB host (the smallest Community Cloud server) with a room on it: the
server's own baseline is about 215 MB RSS, leaving 475 MB. About 100 MB of that goes to
twenty sessions' state, chart data and the allocator's slack, so SERVER_BUDGET = 360 MB is
what runs computing at the same time may hold together, and RUN_BUDGET = 120 MB (a third of
it) is what one run may hold: three heavy runs at once still fit. A default run (linear
policy, 16 episodes x 500 steps, 100 evaluation episodes) needs about 6 MB, the "neural
network" preset with 5 seeds about 36 MB and the widest Compare page about 80 MB, so nothing a
lesson uses comes near the limit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from pg.algo import nn
from pg.algo.reinforce import ConfigError, TrainConfig
from pg.runs.history import HISTORY_FIELDS

MB = 1_000_000
RUN_BUDGET = 120 * MB
"""bytes one run (all its seeds) may need: a third of SERVER_BUDGET"""
SERVER_BUDGET = 360 * MB
"""bytes the runs a server computes at the same time may need together (690 MB host - 215 MB
baseline - about 100 MB for sessions, charts and allocator slack)"""
COMPARISON_BUDGET = 2 * RUN_BUDGET
# a live run's parameter snapshots (the heatmap's checkpoints), over all its seeds: a wide
# network keeps fewer of them rather than being refused (live_snapshots)
SNAPSHOT_BUDGET = 40 * MB
"""bytes one comparison may need: the widest the Compare page offers (4 estimators x 5 seeds x 64
episodes, MLP critic) is estimated at about 185 MB, so a comparison counts as two runs"""
FIXED_BYTES = 100_000
"""Python objects of a run whatever its size: the generator, policy and optimiser objects"""
SAFETY = 1.1
"""the estimate is the arrays counted above plus 10%: small arrays and objects not listed"""
DEFAULT_SNAPSHOTS = 200  # pg.runs.live.LiveRun's and the CLI's max_snapshots

OBS_DIM = 4  # CartPole's state
_F = 8  # bytes per float64
_ENV_BYTES_PER_EPISODE = 8 * 4 * 6 + 8 * 13 + 16  # CartPole's (4, N) state, scratch rows, constants, flags
_LIVE_COLUMNS = len(HISTORY_FIELDS) + 1 + 2  # + the moving average (per seed) and LiveRun's clock
_EPISODE_COLUMNS = 3  # LiveRun's per-episode columns: episode, return, iteration
_EXPORT_BYTES_PER_ROW = _F * len(HISTORY_FIELDS)  # a copy of the columns (LiveRun.to_run, the file)
_VALUE_HIDDEN = 32  # pg.algo.baselines.MLPValue's hidden layer
_VALUE_FEATURES = OBS_DIM + 1  # the state and the time left


@dataclass(frozen=True)
class Footprint:
    """Estimated peak bytes of a run, by part (see the module docstring for each formula)."""

    rollout: int
    """per seed: the training batch's buffers, and the last update's G and adv"""
    evaluation: int
    """per seed: the greedy evaluation's buffers"""
    snapshots: int
    """per seed: parameter snapshots kept (and shown)"""
    history: int
    """per seed: history columns (and their export)"""
    working: int
    """one step's temporaries (the largest of sampling, gradient step, evaluation step)"""
    seeds: int = 1
    """seeds trained side by side, each with its own persistent parts"""
    fixed: int = FIXED_BYTES

    @property
    def per_seed(self) -> int:
        return self.rollout + self.evaluation + self.snapshots + self.history

    @property
    def total(self) -> int:
        """Bytes the run needs at its peak (with a SAFETY margin for what the model leaves out)."""
        return math.ceil(SAFETY * (self.seeds * self.per_seed + self.working + self.fixed))


# ---------------------------------------------------------------------------------------------
# The model
# ---------------------------------------------------------------------------------------------
def n_params(cfg: TrainConfig) -> int:
    """P, the policy's parameter count (pg.algo.policies)."""
    if cfg.policy == "mlp":
        return nn.n_params((OBS_DIM, *cfg.hidden, 2))
    return (OBS_DIM + 1) * 2


def _hidden(cfg: TrainConfig) -> tuple[int, ...]:
    return cfg.hidden if cfg.policy == "mlp" else ()


def _roller_bytes(T: int, N: int) -> int:
    """A Roller for N episodes of at most T steps: obs (T+1, N, 4), rewards (T, N) floats,
    actions and alive (T, N) bools, and the CartPole it steps."""
    return _F * (OBS_DIM * (T + 1) * N + T * N) + 2 * T * N + _ENV_BYTES_PER_EPISODE * N


def _forward_bytes(hidden: tuple[int, ...], M: int, n_out: int = 2) -> int:
    """nn.forward on M samples: every activation kept (M x sum(hidden)), the layer being
    computed twice more (X @ W, + b, tanh), and the output with the log-softmax's temporaries."""
    if not hidden:
        return _F * M * 6 * n_out  # X @ W, + b, and log_probs' shifted logits, exp, log
    return _F * M * (sum(hidden) + 2 * max(hidden) + 6 * n_out)


def _backward_bytes(hidden: tuple[int, ...], M: int) -> int:
    """nn.backward's deltas: delta @ W.T, a * a, 1 - a * a and their product, per layer."""
    return _F * M * 4 * max(hidden) if hidden else 0


def _value_bytes(cfg: TrainConfig, M: int) -> int:
    """The value baseline / critic: its features (M, 5) and, while fitting, an MLP's tanh layer
    with its backward pass, or the linear model's design matrix."""
    features = _F * M * (OBS_DIM + 1 + 1 + _VALUE_FEATURES)  # obs[alive], t[alive], t / T, the concatenation
    if cfg.value_model == "mlp":
        return features + _F * M * (5 * _VALUE_HIDDEN + 4)
    return features + _F * M * (_VALUE_FEATURES + 2)


def _working(cfg: TrainConfig) -> int:
    """The largest temporary of one step (steps run one after another, one seed at a time)."""
    T, N, E = cfg.max_episode_steps, cfg.batch_episodes, cfg.eval_episodes
    M, TN, hidden = T * N, T * N, _hidden(cfg)
    # sampling: u, log(u), -u and log1p(-u) of pg.algo.rollout.Roller.run, (T, N) each;
    # during the loop, one forward pass on N states
    sampling = _F * 4 * TN + _forward_bytes(hidden, N)
    # the gradient step, pg.algo.reinforce.reinforce_gradient: advantages() holds G, b and adv,
    # (T, N) each; the baseline and the returns add their own (T, N) temporaries...
    critic = cfg.advantage != "returns"
    if critic:  # pg.algo.returns.gae: alive copy, rewards, values, next values, delta, two temps, A
        advantage = _F * 3 * TN + TN + _F * 7 * TN + _value_bytes(cfg, M)
    else:
        baseline_temps = {"none": 1, "moving_average": 2, "batch_mean": 3, "value": 1}[cfg.baseline]
        advantage = _F * (3 + 1 + baseline_temps) * TN
        if cfg.baseline == "value":
            advantage += _value_bytes(cfg, M)
    # ... then the samples alive: obs, actions, adv (M each) and grad_log_prob's forward pass
    # (probs), then an MLP's activations again with its backward pass
    gradient = (_F * 3 * TN + _F * (OBS_DIM + 6) * M + M
                + max(_forward_bytes(hidden, M), _F * M * sum(hidden) + _backward_bytes(hidden, M) + _F * 4 * M))
    fit = _F * 2 * TN + (_value_bytes(cfg, M) if critic or cfg.baseline == "value" else 0)
    # one greedy evaluation step: the thresholds (T, E) and one forward pass on E states
    evaluation = _F * T * E + _forward_bytes(hidden, E)
    return max(sampling, advantage, gradient, fit, evaluation)


def _capacity(rows: int) -> int:
    """pg.runs.history.Columns' capacity for ``rows`` (256, doubled as often as needed)."""
    return 256 * 2 ** max(0, math.ceil(math.log2(max(rows, 1) / 256)))


def max_rows(cfg: TrainConfig) -> int:
    """Updates a run can make: max_updates, and at most ceil(max_env_steps / N) + 1 (every
    episode takes at least one step, and the budget is checked after each update)."""
    return min(cfg.max_updates, -(-cfg.max_env_steps // cfg.batch_episodes) + 1)


def n_snapshots(cfg: TrainConfig, max_snapshots: int = DEFAULT_SNAPSHOTS) -> int:
    """Parameter vectors a run holds at most: the SnapshotKeeper's 2 x limit + 2, plus the
    ``limit`` a page builds from them (never more than one per update, and update 0)."""
    if max_snapshots <= 0:
        return 0
    updates = max_rows(cfg) + 1
    return min(updates, 2 * max_snapshots + 2) + min(updates, max_snapshots)


def live_snapshots(cfg: TrainConfig, n_seeds: int = 1, requested: int = DEFAULT_SNAPSHOTS) -> int:
    """How many snapshots a live run keeps per seed: ``requested``, or fewer for a network so
    wide that they would hold more than SNAPSHOT_BUDGET over all seeds (at least 2: the first
    and the last update). A 64,64 MLP keeps 200 with one seed; a 256,256 one (67,586
    parameters, 0.5 MB a snapshot) keeps about 12, so it can still train, with a coarser
    checkpoint slider."""
    # held per seed: up to 2 x limit + 2 kept, the limit built from them, and 8 policy copies
    vectors = SNAPSHOT_BUDGET // (_F * n_params(cfg) * n_seeds)
    return max(2, min(requested, (vectors - 10) // 3))


def run_footprint(cfg: TrainConfig, n_seeds: int = 1, max_snapshots: int | None = None) -> Footprint:
    """The memory a run of ``cfg`` with ``n_seeds`` seeds needs at its peak (a LiveRun, or
    ``python -m pg train`` with one seed), worked out before anything is allocated.
    ``max_snapshots`` None: as many as a live run keeps (``live_snapshots``)."""
    if max_snapshots is None:
        max_snapshots = live_snapshots(cfg, n_seeds)
    T, N, E = cfg.max_episode_steps, cfg.batch_episodes, cfg.eval_episodes
    P, rows = n_params(cfg), max_rows(cfg)
    episodes = min(rows * N, cfg.max_env_steps + N)
    history = (_F * _LIVE_COLUMNS * _capacity(rows) + _F * _EPISODE_COLUMNS * _capacity(episodes)
               + _EXPORT_BYTES_PER_ROW * rows)
    return Footprint(
        rollout=_roller_bytes(T, N) + _F * 2 * T * N,
        evaluation=_roller_bytes(T, E) + _F * E,
        snapshots=_F * P * (n_snapshots(cfg, max_snapshots) + 8),  # + policy copies, Adam's m and v
        history=history,
        working=_working(cfg),
        seeds=n_seeds,
    )


def evaluate_footprint(hidden: tuple[int, ...], episodes: int, max_steps: int) -> int:
    """Bytes of ``pg.algo.reinforce.evaluate(policy, episodes, max_steps=max_steps)`` for a
    policy with these hidden layers (() for the linear policy): one greedy Roller, its
    thresholds and one forward pass per step."""
    return math.ceil(SAFETY * (_roller_bytes(max_steps, episodes) + _F * max_steps * episodes
                               + _forward_bytes(tuple(hidden), episodes) + FIXED_BYTES))


def comparison_footprint(settings) -> int:
    """Bytes of a pg.lessons.comparison.Comparison with these CompareSettings: first a LiveRun
    per estimator (every snapshot kept; the runs take turns in one thread, so one step's working
    memory at a time), then two gradient probes (pg.lessons.variance.GradientProbe: a Roller,
    the estimates, a batch of 64 episodes to fit a critic on) beside the finished runs' records."""
    base = settings.base_config()
    runs = [run_footprint(spec.config(base), settings.n_seeds, base.max_updates + 1) for spec in settings.specs]
    training = sum(f.seeds * f.per_seed + f.fixed for f in runs) + max(f.working for f in runs)
    T, N, P = base.max_episode_steps, settings.batch_episodes, n_params(base)
    worst = max((spec.config(base) for spec in settings.specs), key=_working)
    probe = _roller_bytes(T, N) + _F * len(settings.specs) * settings.probe_estimates * P
    fit = _roller_bytes(T, 64) + _value_bytes(worst, 64 * T)  # one probe at a time, while it is built
    records = sum(f.seeds * (f.snapshots + f.history) + f.fixed for f in runs)
    probing = records + 2 * probe + max(fit, _working(worst))
    return math.ceil(SAFETY * max(training, probing))


# ---------------------------------------------------------------------------------------------
# Budgets
# ---------------------------------------------------------------------------------------------
class BudgetError(ConfigError):
    """A run whose estimated memory exceeds its budget. A ConfigError: ``field`` and ``value``
    name the field that drives the size most; ``fields`` lists every field worth lowering,
    most effective first; ``estimate`` and ``limit`` are bytes."""

    def __init__(self, fields: tuple[str, ...], value, message: str, estimate: int = 0, limit: int = 0):
        super().__init__(fields[0], value, message)
        self.fields, self.estimate, self.limit = tuple(fields), estimate, limit

    def __reduce__(self):
        return type(self), (self.fields, self.value, str(self), self.estimate, self.limit)


FIELD_WORDS = {
    "batch_episodes": "episodes per update",
    "max_episode_steps": "the time limit",
    "eval_episodes": "evaluation episodes",
    "hidden": "the hidden layers",
    "max_updates": "the update budget",
    "max_env_steps": "the env-step budget",
    "n_seeds": "the number of seeds",
}


def size_text(n_bytes: float) -> str:
    """3_100_000_000 -> "3.1 GB", 120_000_000 -> "120 MB", 2_500 -> "3 kB" (powers of 1000)."""
    for unit, scale in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n_bytes >= scale:
            value = n_bytes / scale
            return f"{value:.1f} {unit}" if value < 10 else f"{value:.0f} {unit}"
    return f"{n_bytes:.0f} B"


def drivers(cfg: TrainConfig, n_seeds: int = 1, max_snapshots: int | None = None) -> list[tuple[str, tuple]]:
    """[(what drives the size, in words; the fields that set it)], the largest part first, and
    every part at least a quarter of the total."""
    if max_snapshots is None:
        max_snapshots = live_snapshots(cfg, n_seeds)
    f = run_footprint(cfg, n_seeds, max_snapshots)
    T = f"{cfg.max_episode_steps:,}-step time limit"
    net = f" through hidden layers {','.join(map(str, cfg.hidden))}" if cfg.policy == "mlp" else ""
    parts = [
        (n_seeds * f.rollout + f.working,
         f"{cfg.batch_episodes:,} episodes per update x {T}{net}",
         ("batch_episodes", "max_episode_steps") + (("hidden",) if net else ())),
        (n_seeds * f.evaluation, f"{cfg.eval_episodes:,} evaluation episodes x {T}",
         ("eval_episodes", "max_episode_steps")),
        (n_seeds * f.snapshots,
         f"{n_snapshots(cfg, max_snapshots):,} snapshots of a {n_params(cfg):,}-parameter policy",
         ("hidden", "max_updates") if cfg.policy == "mlp" else ("max_updates",)),
        (n_seeds * f.history, f"history of up to {max_rows(cfg):,} updates", ("max_updates", "max_env_steps")),
    ]
    parts.sort(key=lambda part: -part[0])
    return [(words, names) for i, (size, words, names) in enumerate(parts) if i == 0 or size >= f.total / 4]


def require_fits(cfg: TrainConfig, n_seeds: int = 1, budget: int = RUN_BUDGET,
                 max_snapshots: int | None = None) -> Footprint:
    """The run's Footprint if it fits in ``budget`` bytes; else a BudgetError (a ConfigError)
    whose message names what drives the size, the estimate and the limit, e.g. "This run would
    need about 13 GB (4,096 episodes per update x 100,000-step time limit); the limit here is
    120 MB: lower episodes per update or the time limit." """
    footprint = run_footprint(cfg, n_seeds, max_snapshots)
    if footprint.total <= budget:
        return footprint
    found = drivers(cfg, n_seeds, max_snapshots)
    names: list[str] = []
    for _, fields in found:
        names += [name for name in fields if name not in names]
    if n_seeds > 1:
        names.append("n_seeds")
    what = "; ".join(words for words, _ in found) + (f"; x {n_seeds} seeds" if n_seeds > 1 else "")
    lower = [FIELD_WORDS[name] for name in names]
    lower_text = lower[0] if len(lower) == 1 else ", ".join(lower[:-1]) + " or " + lower[-1]
    message = (f"This run would need about {size_text(footprint.total)} ({what}); the limit here is "
               f"{size_text(budget)}: lower {lower_text}.")
    value = n_seeds if names[0] == "n_seeds" else getattr(cfg, names[0])
    raise BudgetError(tuple(names), value, message, footprint.total, budget)


def require_comparison_fits(settings, budget: int = COMPARISON_BUDGET) -> int:
    """The bytes of a comparison with these CompareSettings if they fit in ``budget``; else a
    BudgetError naming the settings to lower, the estimate and the limit."""
    need = comparison_footprint(settings)
    if need <= budget:
        return need
    message = (f"This comparison would need about {size_text(need)} ({len(settings.estimators)} estimators x "
               f"{settings.n_seeds} seeds x {settings.batch_episodes} episodes per update); the limit here is "
               f"{size_text(budget)}: lower the estimators, seeds or episodes per update.")
    raise BudgetError(("batch_episodes", "n_seeds"), settings.batch_episodes, message, need, budget)
