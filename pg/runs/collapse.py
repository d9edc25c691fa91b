"""The collapse rule: when a run's policy has become (nearly) deterministic without solving.

A softmax policy whose entropy is near zero picks the same action in every state it visits
(with learning rate 5 and SGD, the MLP preset becomes "always push left" within three
updates). Its score grad log pi(a|s) = (1 - pi(a|s)) * ... is then near zero for every action
it takes, so REINFORCE's gradient, an entropy bonus's included, vanishes: the run cannot get
out by itself and every further update is wasted. pg.runs.live stops such a seed with
stop_reason "collapsed", and pg.app.live_view says what happened and what to try.

The threshold is far from what learning looks like: over six seeds of every preset, trained
150 updates past their solve, the smallest entropy of any update was 0.37 nats (a coin flip
is ln 2 = 0.69 nats); the collapsed MLP runs sit below 0.02.
"""

from __future__ import annotations

import numpy as np

COLLAPSE_ENTROPY = 0.05
"""nats: below this the policy is nearly deterministic in the states it visits"""
COLLAPSE_UPDATES = 8
"""consecutive updates below COLLAPSE_ENTROPY that make a collapse (one low update is not)"""


def collapsed(entropy: np.ndarray) -> bool:
    """Whether the last COLLAPSE_UPDATES values of a run's ``entropy`` column (nats, one per
    update, oldest first) are all below COLLAPSE_ENTROPY."""
    recent = np.asarray(entropy, dtype=np.float64)[-COLLAPSE_UPDATES:]
    return len(recent) == COLLAPSE_UPDATES and bool((recent < COLLAPSE_ENTROPY).all())
