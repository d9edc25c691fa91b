"""The theorem page's shared pieces: a step's heading and columns, metrics side by side, numbers
and vectors as the page writes them."""

from __future__ import annotations

import numpy as np
import streamlit as st

from pg.app.state import THEOREM_PARTS
from pg.lessons import derivation

WORDS = dict(enumerate(("zero", "One", "Two", "Three", "Four", "Five", "Six", "Seven", "Eight", "Nine", "Ten",
                        "Eleven", "Twelve", "Thirteen", "Fourteen", "Fifteen")))
PREDICT = ("go down", "go up")
PARTS = dict(zip(THEOREM_PARTS, ("① The theorem · steps 1–5", "② Baselines · steps 6–8",
                                 "③ The trainer as it runs · steps 9–13")))
"""the page's tabs (the URL's ``part`` -> the tab's label); only the open one's steps are computed"""


def count_in_words(n: int) -> str:
    return WORDS.get(n, str(n))


def vec(v, digits=4) -> str:
    """(+0.1234, -0.5000, ...); a value that rounds to zero is written +0.0000, never -0.0000."""
    return "(" + ", ".join(f"{(x if abs(x) >= 0.5 * 10**-digits else 0.0):+.{digits}f}" for x in v) + ")"


def num(x: float, spec: str) -> str:
    return format(x, spec) if np.isfinite(x) else "—"  # e.g. a ratio to an estimate that came out 0


def step(number: int, text: str):
    """Step ``number`` of derivation.STEPS: heading, then equations and text in the left column."""
    st.subheader(f"{number}. {derivation.STEPS[number - 1][0]}", divider="gray")
    left, right = st.columns([1.05, 1], gap="medium")
    for tex in derivation.STEPS[number - 1][1]:
        left.latex(tex)
    left.markdown(text)
    return left, right


def metrics(*items):  # side by side; each item is (label, value) or (label, value, st.metric keywords)
    for col, (label, value, *kw) in zip(st.columns(len(items)), items):
        col.metric(label, value, **(kw[0] if kw else {}))


def nan_stat(f, x) -> float:
    """f (np.nanmean, nanmin, ...) of x, or nan when every value is nan (no warning)."""
    x = np.asarray(x, dtype=np.float64)
    return float(f(x)) if np.isfinite(x).any() else float("nan")


def one_step(setup) -> bool:
    """Every episode is a single step (the bandit)."""
    return setup.problem.horizon == 1
