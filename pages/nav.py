"""The one page list: every page's script, title, icon, URL, Home's blurb and the presenter's
notes, in teaching order. The entry's navigation, Home's map and presenter mode's story all
read it; nothing else names a page.

A page's URL is its ``url_path`` ("" for Home). Page scripts live in pages/views/, a subfolder,
so Streamlit's legacy pages-directory mode (which runs ``pages/*.py`` alone, without the
entry) never picks them up.
"""

from __future__ import annotations

from typing import NamedTuple

import streamlit as st

from pg.algo.reinforce import CARTPOLE_V1_SOLVED


class PageInfo(NamedTuple):
    script: str  # path from the repository root
    title: str
    icon: str
    url_path: str  # "" for Home
    blurb: str  # one sentence for Home's map of the pages
    notes: str  # presenter mode: what to say and what to click on this stop of the story


PAGES: tuple[PageInfo, ...] = (
    PageInfo(
        "pages/views/home.py",
        "Home",
        ":material/home:",
        "",
        "A trained agent balancing, policy gradients in three sentences, and the one equation.",
        "A policy gradient method learns by trial and error: play whole episodes with a stochastic policy, "
        "then make the actions that were followed by more reward than expected more likely. The agent on "
        "the right learned to balance this way; the one equation is all of REINFORCE.",
    ),
    PageInfo(
        "pages/views/theorem.py",
        "The gradient theorem",
        ":material/functions:",
        "theorem",
        "The derivation, step by step, each step checked numerically on problems solved exactly.",
        "Thirteen steps from the objective J(θ) to the update the trainer runs, each checked beside it on a "
        "problem small enough to solve exactly. Stop at step 4 (the error of an estimate from N episodes falls "
        "like 1/√N: the measured slope, with its interval), then step 5, reward-to-go. The second tab, steps "
        "6 to 8: a baseline cuts the variance without adding bias, and the variance against b shows the mean "
        "return close to, not at, the best constant. The third tab, steps 9 to 13, takes the estimator to the "
        "trainer as it runs: discounting without γᵗ is biased, normalisation and Adam rescale the step, "
        "on-policy, and the loss is not the performance.",
    ),
    PageInfo(
        "pages/views/train.py",
        "Live training",
        ":material/monitoring:",
        "train",
        "Press Start and watch the returns climb while the policy forms beside the curves.",
        "Press Start: REINFORCE trains while you watch, the returns climbing and the policy's heatmap "
        "forming beside the curves. The default preset solves CartPole-v1 (a greedy mean of "
        f"{CARTPOLE_V1_SOLVED:g} over 100 "
        "episodes) in about 20 updates; the preset “the seed blog post” (one episode per update, plain "
        "gradient ascent) takes many more.",
    ),
    PageInfo(
        "pages/views/heatmap.py",
        "Policy heatmap",
        ":material/grid_on:",
        "heatmap",
        "What the agent does in every state, and how that picture forms during training.",
        "Every square is a pole state (angle across, angular velocity up), coloured by the probability "
        "of pushing right; the black line is where the policy cannot decide. Slide the checkpoint to "
        "update 0, a coin flip everywhere, then forward to watch the policy take shape.",
    ),
    PageInfo(
        "pages/views/replay.py",
        "Replay",
        ":material/movie:",
        "replay",
        "Untrained against trained, side by side; flick the pole and watch the policy recover.",
        "The same start, before and after training: the untrained agent samples each push from its "
        "policy, the trained one acts as chosen; the sentence under the controls says what each did in "
        "the episode shown. Switch on “Nudge the pole”: the caption and the green band say which nudges "
        "the trained policy recovers from.",
    ),
    PageInfo(
        "pages/views/credit.py",
        "Credit assignment",
        ":material/timeline:",
        "credit",
        "One episode, step by step: the advantage of each action, and what one update did to its probability.",
        "The rule in one sentence: make actions followed by more return than expected more likely. Step "
        "through one episode: the return that followed each action, the baseline the trainer expected, "
        "and their difference, the advantage. The lower chart is what one real update did to each action's "
        "probability; the sentence above the slider counts the steps that moved with their advantage's "
        "sign. Not all do: one update serves the whole batch. Ask the room the question under the charts "
        "before anyone answers it.",
    ),
    PageInfo(
        "pages/views/compare.py",
        "Compare estimators",
        ":material/compare_arrows:",
        "compare",
        "REINFORCE, baselines, actor-critic and GAE side by side, each gradient's variance measured.",
        "The same update with a different weight on each ∇log π: the whole return, reward-to-go minus a "
        "baseline, a learned critic (TD(0)), GAE. Press Run: the variance bars make step 6 of the theorem "
        "a number, and the curves show the bias it trades for. Slide GAE's λ from 1 to 0 and run again.",
    ),
)


def navigation_pages() -> list[st.Page]:
    """The pages as ``st.Page`` objects for ``st.navigation`` (Home is the default)."""
    return [
        st.Page(p.script, title=p.title, icon=p.icon, default=True)
        if not p.url_path
        else st.Page(p.script, title=p.title, icon=p.icon, url_path=p.url_path)
        for p in PAGES
    ]


def position(url_path: str) -> int:
    """Where the page with this URL stands in the list (-1 if none)."""
    return next((k for k, page in enumerate(PAGES) if page.url_path == url_path), -1)


def enter_through_the_entry() -> None:
    """Hand a first request that Streamlit's legacy pages-directory mode routed here to the entry.

    A folder named pages/ beside streamlit_app.py makes a fresh server start in that legacy
    mode, until some session calls ``st.navigation``: the first request runs ``pages/<url>.py``
    alone (no page config, no sidebar) and answers a URL with no such file with a "Page not
    found" dialog. So each page's URL has a one-line file in pages/ (tests/pages/test_nav.py
    keeps them in step with PAGES) that calls this: ``st.navigation`` (public API) leaves
    legacy mode for good, and the rerun runs the entry, which routes to the same URL.
    """
    st.navigation(navigation_pages(), position="hidden")
    st.rerun()
