"""A training run inside a link: its settings travel, and the run is recomputed on open.

Runs are deterministic (the same TrainConfig, number of seeds and seed give the same numbers
bit for bit), so a link to Policy heatmap or Replay does not carry the policy: it carries the
recipe, and the page that opens it trains the run again as far as it went.

    ?run=221                 the link carries a run; the shown seed had 221 updates
    ?run_preset=...&run_lr=  the run's settings: TrainState's config fields and n_seeds,
                             relative to the preset that makes the link shortest (pg.app.state)
    ?run_shown=2             which of the run's seeds was shown (0-based; absent: the first)

``recipe_from_query`` never raises: a link whose run cannot be reproduced exactly (any bad
value, over the run budget, a seed or update the run cannot have) gives one sentence instead.
``Recompute`` brings a run (shared through pg.app.registry, so opening one link twice computes
once) to the recipe's update and rebuilds the Run exactly as the Live training page kept it.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

from pg.algo.reinforce import TrainConfig
from pg.app.presets import PRESETS, config_from_form, form_values
from pg.app.state import TRAIN_CONFIG_FIELDS, Spec, TrainState, from_query, to_query
from pg.runs.checkpoint import Run
from pg.runs.history import SnapshotKeeper
from pg.runs.live import MAX_SEEDS, LiveRun

RUN_KEY = "run"
PREFIX = "run_"
SHOWN_KEY = "run_shown"
RUN_FIELDS = (*TRAIN_CONFIG_FIELDS, "preset", "n_seeds")  # what of a TrainState a link carries
_UPDATES = Spec("integer", 0, 10_000_000)
_SHOWN = Spec("integer", 0, MAX_SEEDS - 1)


@dataclass(frozen=True)
class RunRecipe:
    """What reproduces a run as a page showed it."""

    cfg: TrainConfig
    n_seeds: int = 1
    """seeds trained side by side (they share the run's step and time caps)"""
    shown: int = 0
    """which seed the page showed (0-based): its config's seed is cfg.seed + shown"""
    updates: int = 0
    """how many updates the shown seed had: the last checkpoint on screen"""


def is_run_key(key: str) -> bool:
    return key == RUN_KEY or key.startswith(PREFIX)


def recipe_query(recipe: RunRecipe) -> dict[str, str]:
    """The link's parameters for ``recipe``: only what differs from the shortest preset."""
    values = form_values(recipe.cfg)
    for name in ("max_grad_norm", "solve_return"):  # form_values writes these with %g: not exact
        if values[name] != "none":
            values[name] = Spec("number").write(getattr(recipe.cfg, name))
    form = {name: values[name] for name in TRAIN_CONFIG_FIELDS}
    queries = [to_query(TrainState(preset=p, **form, n_seeds=recipe.n_seeds)) for p in PRESETS]
    best = min(queries, key=lambda q: len("&".join(f"{k}={v}" for k, v in q.items())))
    out = {RUN_KEY: _UPDATES.write(recipe.updates)} | {PREFIX + k: v for k, v in best.items()}
    if recipe.shown:
        out[SHOWN_KEY] = _SHOWN.write(recipe.shown)
    return out


def recipe_from_query(params: dict) -> tuple[RunRecipe | None, str | None]:
    """(recipe, None) if ``params`` carry a run that can be reproduced; (None, why not: a clause,
    Markdown-safe) if they carry one that cannot; (None, None) if they carry none."""
    given = {str(k): v[-1] if isinstance(v, (list, tuple)) and v else v for k, v in params.items()}
    if not any(is_run_key(k) for k in given):
        return None, None
    try:
        return _recipe(given), None
    except ValueError as problem:
        return None, str(problem)


def _recipe(given: dict) -> RunRecipe:
    if RUN_KEY not in given:
        raise ValueError(f"`?{RUN_KEY}=` is missing: it says how many updates the run had")
    updates, shown = _read(RUN_KEY, _UPDATES, given[RUN_KEY]), _read(SHOWN_KEY, _SHOWN, given.get(SHOWN_KEY, "0"))
    settings = {k[len(PREFIX):]: str(v) for k, v in given.items() if k.startswith(PREFIX) and k != SHOWN_KEY}
    unknown = sorted(set(settings) - set(RUN_FIELDS))
    if unknown:
        raise ValueError(f"a run has no setting `{_short(unknown[0])}`")
    state, warnings = from_query(TrainState, settings, also_allowed=())
    if warnings:  # any setting not taken as given would train a different run
        reason = re.sub(r"^Ignored |; using [^;]*$", "", warnings[0]).replace("`?", f"`?{PREFIX}")
        raise ValueError(reason.rstrip("."))
    cfg = config_from_form({name: getattr(state, name) for name in TRAIN_CONFIG_FIELDS}, state.n_seeds)
    if shown >= state.n_seeds:
        raise ValueError(f"`?{SHOWN_KEY}={shown}`: the run has {state.n_seeds} seed(s), numbered from 0")
    if updates > cfg.max_updates:
        raise ValueError(f"`?{RUN_KEY}={updates}`: the run stops after {cfg.max_updates} updates")
    return RunRecipe(cfg, state.n_seeds, shown, updates)


def _read(key: str, spec: Spec, text) -> int:
    try:
        return spec.read(str(text))
    except ValueError as problem:
        raise ValueError(f"`?{_short(key)}={_short(str(text))}`: {key} {problem}") from None


def _short(text: str) -> str:
    shown = text.encode("unicode_escape").decode("ascii").replace("`", "'")
    return shown if len(shown) <= 24 else shown[:24] + "…"


def recipe_of(live: LiveRun, run: Run) -> RunRecipe | None:
    """The recipe of ``run`` if it is one of ``live``'s seeds as Live training kept it."""
    for shown, seed in enumerate(live.seeds):
        if run.config == seed.cfg.to_dict():
            iterations = run.history.get("iteration", [])
            updates = int(iterations[-1]) if len(iterations) else 0
            return RunRecipe(live.cfg, len(live.seeds), shown, updates) if updates <= seed.recorder.n else None
    return None


def run_at(live: LiveRun, shown: int, updates: int) -> Run | None:
    """Seed ``shown`` of ``live`` as ``live.to_run(shown)`` was when it had ``updates`` updates
    (the same history rows, checkpoints and policy), or None if the run has not got that far or
    has since thinned out a checkpoint it then had (pg.runs.history.SnapshotKeeper)."""
    seed = live.seeds[shown]
    if updates > seed.recorder.n:
        return None
    if updates == seed.recorder.n:
        run = live.to_run(shown)
        if len(run.history.get("iteration", ())) == updates:  # (not if another session trained on meanwhile)
            return run
    then = SnapshotKeeper(seed.recorder.keeper.limit)  # the keeper replayed to `updates`: which it held
    for iteration in range(updates + 1):
        then.add(iteration, None)
    held = dict(seed.recorder.keeper.kept)
    if seed.recorder.keeper.last is not None:
        held.setdefault(*seed.recorder.keeper.last)
    wanted = [iteration for iteration, _ in then.snapshots()]
    if any(iteration not in held for iteration in wanted):
        return None
    snapshots = [(iteration, seed.policy.with_params(held[iteration])) for iteration in wanted]
    history = {name: column[:updates] for name, column in seed.recorder.history().items()}
    return Run(policy=snapshots[-1][1], config=seed.cfg.to_dict(), history=history, snapshots=snapshots,
               meta={"source": "live training"})


class Recompute:
    """A recipe's run, trained again up to its update. ``registry.get((cfg, n_seeds))`` gives the
    shared LiveRun; if that one has moved on and no longer holds a checkpoint the link needs,
    a private LiveRun (admitted by the registry's server budget) is trained instead.
    Construction may raise pg.algo.reinforce.ConfigError (a run or the server over budget)."""

    def __init__(self, recipe: RunRecipe, registry, on_create=None):
        self.recipe, self.registry = recipe, registry
        self.live: LiveRun = registry.get((recipe.cfg, recipe.n_seeds), on_create)
        self.run: Run | None = None
        self.problem: str | None = None
        self._private = False

    @property
    def done(self) -> int:
        """Updates of the shown seed recomputed so far (at most the recipe's)."""
        return min(self.live.seeds[self.recipe.shown].recorder.n, self.recipe.updates)

    def advance(self, seconds: float) -> bool:
        """Train towards the recipe's update for about ``seconds``; True once finished (``run``
        set) or given up (``problem`` set). May raise ConfigError if a private run is needed and
        the server has no room for it."""
        recipe, live = self.recipe, self.live
        seed = live.seeds[recipe.shown]
        if seed.recorder.n >= recipe.updates:
            self.run = run_at(live, recipe.shown, recipe.updates)
            if self.run is None and not self._private:
                self._go_private()
                return False
            if self.run is None:
                self.problem = "its checkpoints could not be rebuilt"
            if self._private:
                live.cancel()  # nobody else shares it: free its buffers now
            return True
        if not live.computing:
            self.problem = (f"the recomputed run stopped at update {seed.recorder.n} "
                            f"({seed.stop_reason or 'cancelled'}), before update {recipe.updates}")
            return True
        deadline = time.perf_counter() + seconds
        if not live.seeds[0].finished:  # the seeds go round-robin, so seed 0 leads the shown one
            live.advance(seconds, max_updates=max(recipe.updates - live.n, 0))
        else:
            while seed.recorder.n < recipe.updates and live.computing and time.perf_counter() < deadline:
                live.step()
        return False

    def _go_private(self) -> None:
        key = (self.recipe.cfg, self.recipe.n_seeds)
        budget, cost = getattr(self.registry, "budget", None), getattr(self.registry, "cost", None)
        if budget is not None and cost is not None:
            budget.admit(cost(key))
        self.live, self._private = LiveRun(*key), True
        if budget is not None and cost is not None:
            budget.hold(self.live, cost(key))
