"""What the live page shows of a LiveRun, as plain values: the banner, the caption under it
and the columns its charts are drawn from, for a viewer who has seen the first ``upto``
updates (a session replaying a shared run may be behind the computation).

The banner is a ``Status``: a level ("solved", "diverged", "failed", "collapsed" or
"unsolved") and its text; the page picks the element that shows it (st.success, st.error,
st.warning). ``upto`` may be fractional at human pace (pg.app.pacing.human_pace): 3.4 is
three updates and 40 % of the fourth's batch.

Before Start the page shows what will move (``untrained``, ``empty_columns``, ``solve_rule``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from pg.algo.reinforce import TrainConfig, initial_policy
from pg.algo.rollout import Roller, to_end
from pg.envs.cartpole import CartPole
from pg.runs.collapse import COLLAPSE_ENTROPY, COLLAPSE_UPDATES
from pg.runs.history import HISTORY_FIELDS
from pg.runs.live import LiveRun
from pg.viz.policy_grid import policy_grid
from pg.viz.training_charts import BAND_FIELDS, LIVE_THETA_DOT


@dataclass(frozen=True)
class Status:
    """The banner over the live charts."""

    level: str
    """"solved" (a seed met the solve rule), "diverged" (a seed's numbers stopped being finite),
    "failed" (the computation itself failed: out of memory, say), "collapsed" (every seed's
    policy became nearly deterministic without solving, pg.runs.collapse) or "unsolved" (the
    run stopped on a budget without solving)"""
    text: str


def solve_rule(cfg: TrainConfig) -> str:
    """The solve rule in words, from the config."""
    return (f"Solved means: a greedy evaluation on {cfg.eval_episodes} episodes averages at least "
            f"{cfg.solve_return:g}, and a second one on {cfg.eval_episodes} fresh episodes, run at once, confirms it.")


def _solved_text(live: LiveRun) -> str:
    s, cfg = live.seeds[0].solved, live.cfg
    confirmed = "" if s.confirm_return is None else \
        f", confirmed at {s.confirm_return:.1f} on {cfg.eval_episodes} fresh episodes"
    return (f"Solved at update {s.iteration}: greedy mean return {s.eval_return:.1f} over {cfg.eval_episodes} episodes "
            f"≥ {cfg.solve_return:g}{confirmed}, after {s.wall_time:.2f} s of training, {s.episodes:,} episodes "
            f"and {s.env_steps:,} env steps.")


def pushes_right_share(policy) -> float:
    """The share of the live heatmap's states (x = x_dot = 0) where ``policy`` pushes right
    more often than left: what its picture shows."""
    grid = policy_grid(policy, theta_dot_range=LIVE_THETA_DOT, resolution=25)
    return float(np.mean(np.asarray(grid["p_right"]) > 0.5))


def _collapse_text(live: LiveRun, collapsed: list[int]) -> str:
    advice = ("Try a smaller learning rate, or an entropy bonus (under “Evaluation, budgets and more”) "
              "that keeps it from becoming deterministic.")
    if len(live.seeds) > 1:
        which = ", ".join(f"seed {live.seeds[i].cfg.seed} at update {live.seeds[i].recorder.n}" for i in collapsed)
        return (f"Collapsed without solving: {which}. Their policies became nearly deterministic (entropy below "
                f"{COLLAPSE_ENTROPY:g} nats for {COLLAPSE_UPDATES} updates), so the gradient vanished and they "
                f"stopped. {advice}")
    seed = live.seeds[0]
    entropy = float(seed.recorder.columns.column("entropy")[-1])
    right = pushes_right_share(seed.policy)
    side = f"pushes left in {1 - right:.0%}" if right < 0.5 else f"pushes right in {right:.0%}"
    return (f"Collapsed at update {seed.recorder.n}: the policy became nearly deterministic before solving "
            f"(entropy below {COLLAPSE_ENTROPY:g} nats for the last {COLLAPSE_UPDATES} updates, {entropy:.3f} now); "
            f"it {side} of the heatmap's states. Its episodes all look alike, so the gradient vanishes and it cannot "
            f"learn its way out: the run stopped. {advice}")


def run_status(live: LiveRun, upto: float | None = None) -> Status | None:
    """The banner for a viewer who has seen the first ``upto`` updates, or None while there is
    nothing to say yet. Failed beats diverged beats solved beats collapsed beats out of budget."""
    seen = live.n if upto is None else math.floor(upto)
    if seen < live.n:  # a viewer replaying a run: only what it has reached so far
        solved = [s for s in live.seeds if s.solved is not None and s.solved.iteration <= seen]
        if not solved:
            return None
        if len(live.seeds) > 1:
            return Status("solved", f"{len(solved)} of {len(live.seeds)} seeds solved so far.")
    if live.failure:
        advice = (" Ask for less memory (fewer episodes per update, a shorter episode time limit, fewer evaluation "
                  "episodes or seeds) or press Start to try again." if "out of memory" in live.failure
                  else " Press Start to try again.")
        return Status("failed", f"The run {live.failure}. It stopped; what it recorded before is kept.{advice}")
    if live.error:
        return Status("diverged", f"{live.error}. The run stopped and kept the last policy whose numbers were finite; "
                      "try a smaller learning rate, advantage normalisation or gradient clipping.")
    solved = [s for s in live.seeds if s.solved is not None]
    collapsed = [i for i, s in enumerate(live.seeds) if s.stop_reason == "collapsed"]
    if len(live.seeds) == 1 and solved:
        return Status("solved", _solved_text(live))
    if solved:
        also = f" {len(collapsed)} collapsed (see the entropy)." if collapsed else ""
        return Status("solved", f"{len(solved)} of {len(live.seeds)} seeds solved: " + "; ".join(
            f"seed {r.cfg.seed} at update {r.solved.iteration} ({r.solved.wall_time:.2f} s, "
            f"{r.solved.env_steps:,} env steps)" for r in solved) + "." + also)
    if collapsed and live.finished:
        return Status("collapsed", _collapse_text(live, collapsed))
    if live.finished:
        reason = live.seeds[0].stop_reason or "its budget"
        return Status("unsolved", f"Not solved: stopped by {reason.replace('_', ' ')} at update {live.n}.")
    return None


def progress_text(live: LiveRun, upto: float | None = None, seed: int = 0, paced: bool = False) -> str:
    """The caption under the banner: where the viewer is, in updates (and, at a fractional
    place, the episodes of the next update's batch shown so far), steps and seconds, for seed
    index ``seed``; ``paced``: a replay at human pace, with the run's real compute time."""
    position = float(live.n if upto is None else min(upto, live.n))
    run = live.seeds[seed]
    shown = min(math.floor(position), run.recorder.n)
    of_seeds = f" (seed {run.cfg.seed}; {len(live.seeds)} seeds in all)" if len(live.seeds) > 1 else ""
    pace = ""
    if paced:
        pace = (f" · computed in {live.compute_seconds:.2f} s; shown at human pace" if not live.computing
                else " · computing; shown at human pace")
    batch = run.episodes.column("iteration")
    if shown < run.recorder.n:
        next_batch = int(np.count_nonzero(batch == shown + 1))
        part = int((position - shown) * next_batch)
        batch_text = f" + {part} of {next_batch} episodes of update {shown + 1}" if part else ""
    else:
        batch_text = ""
    if shown == 0:
        return f"update 0{batch_text} · nothing trained yet{of_seeds}{pace}"
    cols = run.recorder.columns
    steps, seconds = int(cols.column("env_steps")[shown - 1]), float(cols.column("wall_time")[shown - 1])
    return f"update {shown}{batch_text} · {steps:,} env steps · {seconds:.2f} s of training{of_seeds}{pace}"


def chart_columns(live: LiveRun, upto: float | None = None, max_points: int = 200) -> dict:
    """The arguments of pg.viz.training_charts.training_datasets for this run up to update
    ``upto``: the episode limit, the solve bar and, for one seed, its history (at most
    ``max_points`` rows) and episode returns (at most 3 * ``max_points``, a share of the next
    batch at a fractional ``upto``); for several seeds the band of each charted field across
    them and each seed's own moving average, to its own end (at most ``max_points`` rows each)."""
    columns: dict = {"max_steps": live.cfg.max_episode_steps, "solve_return": live.cfg.solve_return}
    if len(live.seeds) > 1:
        columns["bands"] = {field: live.band(field, upto=upto, max_points=max_points) for field in BAND_FIELDS}
        columns["seed_lines"] = live.seed_lines("ma_return", upto=upto, max_points=max_points)
    else:
        columns["history"] = live.history(0, upto=upto, max_points=max_points)
        columns["episodes"] = live.episode_points(0, upto=upto, max_points=3 * max_points)
    return columns


def empty_columns(cfg: TrainConfig, n_seeds: int = 1) -> dict:
    """``chart_columns`` of a run not started yet: empty axes with the solve bars."""
    empty = np.zeros(0)
    columns: dict = {"max_steps": cfg.max_episode_steps, "solve_return": cfg.solve_return}
    if n_seeds > 1:
        columns["bands"] = {f: {"iteration": empty, "median": empty, "low": empty, "high": empty} for f in BAND_FIELDS}
        columns["seed_lines"] = {"iteration": empty, "seed": empty, "value": empty}
    else:
        columns["history"] = {name: empty for name in (*HISTORY_FIELDS, "ma_return")}
        columns["episodes"] = {"episode": empty, "return": empty, "iteration": empty}
    return columns


@dataclass(frozen=True)
class Untrained:
    """The untrained agent of a config (its update-0 policy) over the evaluation's episodes."""

    sampled_mean: float
    """mean return with sampled actions: what the policy does as a stochastic policy"""
    greedy_mean: float
    """mean return taking the likelier push every step (what evaluation measures)"""
    episodes: int


UNTRAINED_FIELDS = ("policy", "hidden", "seed", "eval_episodes", "max_episode_steps")
"""the fields of a TrainConfig that ``untrained`` reads (initial_policy reads the first three)"""


def untrained_config(cfg: TrainConfig) -> TrainConfig:
    """``cfg`` with every field ``untrained`` does not read at its default: configs that differ
    only in those (a learning rate, a baseline...) share one untrained agent, one cache entry."""
    return TrainConfig(**{name: getattr(cfg, name) for name in UNTRAINED_FIELDS})


def untrained(cfg: TrainConfig) -> Untrained:
    """The returns of ``cfg``'s initial policy on ``cfg.eval_episodes`` episodes, sampled and
    greedy, from start states of their own (seeded by the config's seed: deterministic)."""
    policy = initial_policy(cfg)
    streams = np.random.SeedSequence([cfg.seed, 2026]).spawn(3)

    def mean(greedy: bool, stream, actions) -> float:
        roller = Roller(CartPole(cfg.eval_episodes, cfg.max_episode_steps), seed=stream)
        batch = to_end(roller.rollout(policy, np.random.default_rng(actions), greedy=greedy))
        return float(batch.episode_returns.mean())

    return Untrained(mean(False, streams[0], streams[2]), mean(True, streams[1], streams[2]), cfg.eval_episodes)
