"""The nudges a policy recovers from: which strengths, flicked onto the pole at one step of
one replayed episode, still let it balance to the step limit.

"Recovers" means the episode is not terminated: the pole stays within 12 degrees and the cart
on the track up to ``max_steps``. The range is the run of slider values around 0 (multiples of
``resolution`` up to ``max_nudge``) that all recover; it is exact to the slider's step: every
strength from ``low`` to ``high`` recovers, and ``low - resolution`` and ``high + resolution``
(when on the slider) do not.

All strengths are run at once as one batch of lock-step episodes (the same start, the same
pre-drawn action thresholds as pg.viz.episode.run_episode), then the two bounds and the two
values beyond them are re-run one by one with run_episode itself, so the answer is the one the
replay shows; should a batched episode ever disagree, the range is found again one episode at a
time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pg.envs import CartPole
from pg.viz.episode import MAX_NUDGE, run_episode

NUDGE_RESOLUTION = 0.1
"""rad/s: the step of the Replay page's strength slider."""


@dataclass(frozen=True)
class NudgeRange:
    """Strengths (rad/s) at ``nudge_step`` that the policy recovers from: ``low`` ... ``high``.

    ``low`` and ``high`` are None when there is nothing to recover from: the episode without a
    nudge ends before ``nudge_step`` or fails on its own (``unnudged_length`` says when).
    """

    low: float | None
    high: float | None
    nudge_step: int
    unnudged_length: int
    max_steps: int
    max_nudge: float

    @property
    def recovers(self) -> bool:
        return self.low is not None

    def sentence(self, who: str = "the trained policy") -> str:
        """The range in words, computed: "the trained policy recovers from nudges between -1.3
        and +2.1 rad/s at step 100"."""
        if self.unnudged_length <= self.nudge_step:
            return f"This episode of {who} ends at step {self.unnudged_length}, before the nudge at step {self.nudge_step}."
        if not self.recovers:
            return (
                f"Even without a nudge, {who} does not last {self.max_steps} steps here "
                f"(it fails at step {self.unnudged_length}), so there is no nudge it recovers from."
            )
        edge = [" (the slider's end)" if abs(v) >= self.max_nudge else "" for v in (self.low, self.high)]
        return (
            f"{who[0].upper()}{who[1:]} recovers from nudges between {self.low:+.1f}{edge[0]} and "
            f"{self.high:+.1f}{edge[1]} rad/s at step {self.nudge_step}; stronger nudges make it fail."
        )


def recoverable_range(
    policy,
    seed: int = 0,
    init_state=None,
    greedy: bool = True,
    nudge_step: int = 100,
    max_steps: int = 500,
    resolution: float = NUDGE_RESOLUTION,
    max_nudge: float = MAX_NUDGE,
) -> NudgeRange:
    """The strengths on the slider that ``policy`` recovers from at ``nudge_step`` of the
    episode ``run_episode(policy, seed, init_state, max_steps, greedy)`` shows."""
    base = run_episode(policy, seed=seed, init_state=init_state, max_steps=max_steps, greedy=greedy)
    failed_alone = base.terminated or base.length <= nudge_step
    if failed_alone:
        return NudgeRange(None, None, nudge_step, base.length, max_steps, max_nudge)
    n = int(round(max_nudge / resolution))
    strengths = grid(n, resolution)
    ok = _recovers_batched(policy, base.states[0], seed, greedy, nudge_step, strengths, max_steps)
    low_k, high_k = _run_around_zero(ok, n)

    def recovers(k: int) -> bool:
        episode = run_episode(
            policy,
            seed=seed,
            init_state=init_state,
            max_steps=max_steps,
            greedy=greedy,
            nudge_step=nudge_step,
            nudge=float(strengths[k + n]),
        )
        return not episode.terminated

    checks = [(low_k, True), (high_k, True), (low_k - 1, False), (high_k + 1, False)]
    if not all(recovers(k) == expected for k, expected in checks if -n <= k <= n):
        ok = np.array([recovers(k) for k in range(-n, n + 1)])  # one by one: the replay's own code
        low_k, high_k = _run_around_zero(ok, n)
    return NudgeRange(
        float(strengths[low_k + n]), float(strengths[high_k + n]), nudge_step, base.length, max_steps, max_nudge
    )


def grid(n: int, resolution: float = NUDGE_RESOLUTION) -> np.ndarray:
    """(2n + 1,) the slider's values -n * resolution ... +n * resolution, rounded as it shows them."""
    return np.round(np.arange(-n, n + 1) * resolution, 10)


def _run_around_zero(ok: np.ndarray, n: int) -> tuple[int, int]:
    """Indices k (in -n ... n) bounding the run of True values around k = 0."""
    high = 0
    while high < n and ok[n + high + 1]:
        high += 1
    low = 0
    while low > -n and ok[n + low - 1]:
        low -= 1
    return low, high


def _recovers_batched(
    policy, start: np.ndarray, seed: int, greedy: bool, nudge_step: int, strengths: np.ndarray, max_steps: int
) -> np.ndarray:
    """(K,) bool: does the episode from ``start`` survive each nudge? Lock-step, as run_episode."""
    env = CartPole(len(strengths), max_steps)
    env.reset(seed=seed)
    env.state = np.tile(start, (len(strengths), 1))
    thresholds = np.random.default_rng([seed, 1]).random(max_steps)  # run_episode's draws, in order
    terminated = np.zeros(len(strengths), dtype=bool)
    for t in range(max_steps):
        if t == nudge_step:
            state = env.state
            state[:, 3] += strengths
            env.state = state
        p = policy.probs(env.state)[:, 1]
        actions = (p > 0.5) if greedy else (thresholds[t] < p)
        _, _, terminated, truncated, _ = env.step(actions.astype(np.int64))
        if np.all(terminated | truncated):
            break
    return ~terminated
