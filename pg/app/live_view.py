"""What the live page shows of a LiveRun, as plain values: the banner, the caption under it
and the columns its charts are drawn from, for a viewer who has seen the first ``upto``
updates (a session replaying a shared run may be behind the computation).

The banner is a ``Status``: a level ("solved", "diverged", "failed" or "unsolved") and its
text; the page picks the element that shows it (st.success, st.error, st.warning).
"""

from __future__ import annotations

from dataclasses import dataclass

from pg.runs.live import LiveRun
from pg.viz.training_charts import BAND_FIELDS


@dataclass(frozen=True)
class Status:
    """The banner over the live charts."""

    level: str
    """"solved" (a seed met the solve rule), "diverged" (a seed's numbers stopped being finite),
    "failed" (the computation itself failed: out of memory, say) or "unsolved" (the run stopped
    on a budget without solving)"""
    text: str


def run_status(live: LiveRun, upto: int | None = None) -> Status | None:
    """The banner for a viewer who has seen the first ``upto`` updates, or None while there is
    nothing to say yet. Failed beats diverged beats solved beats out of budget."""
    seen = live.n if upto is None else upto
    if seen < live.n:  # a viewer replaying a shared run: only what it has reached so far
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
    if len(live.seeds) == 1 and solved:
        s, cfg = solved[0].solved, live.cfg
        return Status("solved", f"Solved at update {s.iteration}: greedy mean return {s.eval_return:.1f} over "
                      f"{cfg.eval_episodes} episodes ≥ {cfg.solve_return:g}, after {s.wall_time:.2f} s of training, "
                      f"{s.episodes:,} episodes and {s.env_steps:,} env steps.")
    if solved:
        return Status("solved", f"{len(solved)} of {len(live.seeds)} seeds solved: " + "; ".join(
            f"seed {r.cfg.seed} at update {r.solved.iteration} ({r.solved.wall_time:.2f} s, "
            f"{r.solved.env_steps:,} env steps)" for r in solved))
    if live.finished:
        reason = live.seeds[0].stop_reason or "its budget"
        return Status("unsolved", f"Not solved: stopped by {reason.replace('_', ' ')} at update {live.n}.")
    return None


def progress_text(live: LiveRun, upto: int | None = None) -> str:
    """The caption under the banner: where the viewer is, in updates, steps and seconds."""
    shown = live.n if upto is None else min(upto, live.n)
    if shown == 0:
        return "update 0 · nothing trained yet"
    cols = live.seeds[0].recorder.columns
    steps, seconds = int(cols.column("env_steps")[shown - 1]), float(cols.column("wall_time")[shown - 1])
    seeds = f" (seed {live.cfg.seed}; {len(live.seeds)} seeds in all)" if len(live.seeds) > 1 else ""
    return f"update {shown} · {steps:,} env steps · {seconds:.2f} s of training{seeds}"


def chart_columns(live: LiveRun, upto: int | None = None, max_points: int = 200) -> dict:
    """The arguments of pg.viz.training_charts.training_datasets for this run up to update
    ``upto``: the episode limit and, for one seed, its history (at most ``max_points`` rows)
    and episode returns (at most 3 * ``max_points``), for several seeds the band of each
    charted field across them (at most ``max_points`` rows each)."""
    columns: dict = {"max_steps": live.cfg.max_episode_steps}
    if len(live.seeds) > 1:
        columns["bands"] = {field: live.band(field, upto=upto, max_points=max_points) for field in BAND_FIELDS}
    else:
        columns["history"] = live.history(0, upto=upto, max_points=max_points)
        columns["episodes"] = live.episode_points(0, upto=upto, max_points=3 * max_points)
    return columns
