"""The guided story of presenter mode: the pages in teaching order, each with the presenter's
notes (what to say, what to click). Data only; pages/presenter.py draws it."""

from __future__ import annotations

from typing import NamedTuple


class Stop(NamedTuple):
    path: str
    title: str
    url_path: str
    notes: str


STORY = [
    Stop(
        "pages/views/home.py",
        "Home",
        "",
        "A policy gradient method learns by trial and error: play whole episodes with a stochastic policy, "
        "then make the actions that were followed by more reward than expected more likely. The agent on "
        "the right learned to balance this way; the one equation is all of REINFORCE.",
    ),
    Stop(
        "pages/views/theorem.py",
        "The gradient theorem",
        "theorem",
        "Eight steps from the objective J(θ) to that update, each checked beside it on a problem small "
        "enough to solve exactly. Stop at step 4 (the error of an estimate from N episodes falls like "
        "1/√N), then steps 5 and 6: reward-to-go and a baseline cut the variance without adding bias.",
    ),
    Stop(
        "pages/views/train.py",
        "Live training",
        "train",
        "Press Start: REINFORCE trains while you watch, the returns climbing and the policy's heatmap "
        "forming beside the curves. The default preset solves CartPole-v1 (a greedy mean of 475 over 100 "
        "episodes) in about 20 updates; the preset “the seed blog post” (one episode per update, plain "
        "gradient ascent) takes many more.",
    ),
    Stop(
        "pages/views/heatmap.py",
        "Policy heatmap",
        "heatmap",
        "Every square is a pole state (angle across, angular velocity up), coloured by the probability "
        "of pushing right; the black line is where the policy cannot decide. Slide the checkpoint to "
        "update 0, a coin flip everywhere, then forward to watch the policy take shape.",
    ),
    Stop(
        "pages/views/replay.py",
        "Replay",
        "replay",
        "The same start, before and after training: the untrained agent drops the pole within a few "
        "dozen steps, the trained one balances to the 500-step limit. Switch on “Nudge the pole” and "
        "flick it: the trained policy catches it.",
    ),
    Stop(
        "pages/views/compare.py",
        "Compare estimators",
        "compare",
        "The same update with a different weight on each ∇log π: the whole return, reward-to-go minus a "
        "baseline, a learned critic (TD(0)), GAE. Press Run: the variance bars make step 6 of the theorem "
        "a number, and the curves show the bias it trades for. Slide GAE's λ from 1 to 0 and run again.",
    ),
]
