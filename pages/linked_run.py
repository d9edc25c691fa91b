"""A link that carries a training run (Policy heatmap, Replay, Credit assignment): the run is
trained again from its recipe (pg.app.run_link) through the server's registry, with a progress
bar, and becomes the session's run, so the page shows what the link's author saw, bit for bit;
``run_params`` puts the run a page shows into its link."""

from __future__ import annotations

import streamlit as st

from pages.visit import entered, query
from pg.algo.reinforce import ConfigError
from pg.app.run_link import Recompute, recipe_from_query, recipe_of, recipe_query

_LINKED = "_links_run"  # (Run, RunRecipe): the run a link brought, and its recipe
_PENDING = "_links_pending"  # the RunRecipe of a link whose run is being recomputed
_WATCHING = "_links_watching"  # the registry's token for the link's run (pg.app.registry.watch)
_REFUSED = "_links_refused"  # this visit's link carried a run that cannot be reproduced
LINKED_LABEL = "the training run in this link (recomputed here)"
TICK = 0.2  # seconds of recomputing between two redraws of the progress bar


def run_params(run) -> dict[str, str] | str:
    """The link parameters of the run a page shows: none for the shipped run, a training run's
    recipe (pg.app.run_link), or, for a run loaded from a file, a sentence saying why this view
    has no link."""
    ss = st.session_state
    linked = ss.get(_LINKED)
    if linked is not None and linked[0] is run:
        return recipe_query(linked[1])
    if run is not ss.get("run"):
        return {}
    live, from_file = ss.get("live"), ss.get("run_label") == f"your file {ss.get('run_file')}"
    recipe = recipe_of(live, run) if live is not None and not from_file else None
    if recipe is not None:
        return recipe_query(recipe)
    return ("No link to this view: it shows a policy loaded from a file, and a link can carry a training "
            "run's settings (to train it again) but not a file. Share the file itself instead.")


def open_linked_run(registry, showing_instead: str) -> None:
    """On the first run of a visit whose link carries a training run: recompute the run (a
    progress bar meanwhile) and make it the session's run (``ss.run``); a run that cannot be
    reproduced gets one warning line, and the page shows ``showing_instead``. ``registry`` is
    the server's run registry (the same link opened twice is computed once)."""
    ss = st.session_state
    if entered():
        recipe, problem = recipe_from_query(query())
        ss[_REFUSED] = problem is not None
        linked = ss.get(_LINKED)
        if problem is not None or recipe is None or (linked is not None and linked[1] == recipe
                                                     and linked[0] is ss.get("run")):
            ss.pop(_PENDING, None)
        else:
            ss[_PENDING] = recipe
        if problem is not None:
            _cannot_reproduce(problem, showing_instead)
    recipe = ss.get(_PENDING)
    if recipe is None:
        return
    bar = st.progress(0.0, text=_progress_text(0, recipe.updates))

    def announce(_run):  # once per computed run, as Live training announces its own
        print(f"[pg] computing a new run: seed {recipe.cfg.seed}, {recipe.n_seeds} seed(s), from a link", flush=True)

    try:
        recompute = Recompute(recipe, registry, announce)
        ss[_WATCHING] = registry.watch(recompute.live)  # while the session shows it, others share it
        while not recompute.advance(TICK):
            bar.progress(recompute.done / max(recipe.updates, 1), text=_progress_text(recompute.done, recipe.updates))
        problem, run = recompute.problem, recompute.run
    except ConfigError as refused:  # the server is busy (its memory budget), say
        problem, run = str(refused).rstrip("."), None
    bar.empty()
    ss.pop(_PENDING, None)
    if run is None:
        ss[_REFUSED] = True
        _cannot_reproduce(problem, showing_instead)
        return
    ss.run, ss.run_label, ss[_LINKED] = run, LINKED_LABEL, (run, recipe)


def _progress_text(done: int, updates: int) -> str:
    return f"Recomputing the training run in this link: update {done} of {updates}"


def _cannot_reproduce(problem: str, showing_instead: str) -> None:
    st.warning(f"Could not reproduce the training run in this link: {problem}. Showing {showing_instead} instead.",
               icon=":material/link_off:")


def refused() -> bool:
    """Whether this visit's link carried a training run that could not be reproduced (the page
    then shows another run, whose checkpoints the link's may not be)."""
    return bool(st.session_state.get(_REFUSED))
