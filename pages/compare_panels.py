"""Not a page: the Compare page's panels beside its charts: the question a learner answers
before Run, what the run found (pg.lessons.comparison.findings) and the prediction checked
against it, and the code that measures. Every sentence comes from pg; this only places it."""

from __future__ import annotations

import inspect

import streamlit as st

from pg.lessons.comparison import CHECKPOINT_WORDS, check_prediction, findings, findings_text
from pg.lessons.reference import direction_check, reference_cosines
from pg.lessons.variance import GradientProbe, estimate_statistics

QUESTION = f"Predict, then check: which will have the lowest relative variance at {CHECKPOINT_WORDS['mid']}?"


def prediction_question(chosen: list[str], short: dict[str, str]) -> str | None:
    """The question before Run (no answer by default; Run never waits for one): the chosen
    estimator family the learner picks, or None. Offered with at least two estimators."""
    if len(chosen) < 2:
        return None
    return st.radio(QUESTION, chosen, index=None, format_func=short.get, horizontal=True, key="compare_prediction",
                    help="Relative variance: the variance of one update's gradient estimate over the squared length "
                         "of its mean. Answer or not: the run tells you which it was.")


def show_findings(comparison, rows: list[dict], predicted, findings_slot, verdict_slot) -> None:
    """What the run measured at the policy on its way, in words, and the session's prediction
    (``predicted``: (settings, estimator name or None) recorded at Run) checked against it."""
    found = findings(rows, "mid")
    if found is None:
        return
    gamma = comparison.settings.base_config().gamma
    findings_slot.markdown("\n".join(f"- {line}" for line in findings_text(found, gamma)))
    if predicted is None or predicted[0] != comparison.settings:
        return
    check = check_prediction(rows, predicted[1], "mid")
    icon = {True: ":material/check_circle:", False: ":material/cancel:", None: ":material/help:"}[check.matched]
    (verdict_slot.success if check.matched else verdict_slot.info)(check.text(), icon=icon)


def code_expander(reference_episodes: int) -> None:
    with st.expander("How the variance and the direction are measured: the code that runs", icon=":material/code:"):
        st.markdown("At one fixed policy, `GradientProbe.step` draws a batch of episodes and computes every "
                    "estimator's gradient on it with `reinforce_gradient`, the function that trains; "
                    "`estimate_statistics` then summarises the estimates of each estimator (its `relative_variance` "
                    "is the headline). The reference gradient is the same probe run on "
                    f"{reference_episodes:,} episodes of Gₜ − batch mean; `reference_cosines` measures every estimate against it and `direction_check` asks "
                    "whether the mean estimate points off it by more than the noise explains.")
        st.code("\n\n".join(inspect.getsource(f) for f in (GradientProbe.step, estimate_statistics, reference_cosines,
                                                           direction_check)), language="python")
