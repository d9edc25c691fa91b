"""N episodes in lock-step: padded (T, N) arrays and an alive mask.

==========  ==============  ====================================================
field       shape           meaning
==========  ==============  ====================================================
obs         (T, N, obs_dim)  s_t of episode n (rows past the episode's end: frozen)
actions     (T, N)          a_t (uint8; 0 = left, 1 = right)
rewards     (T, N)          r_t, 0 where the episode had already ended
alive       (T, N)          True where episode n acted at time t
lengths     (N,)            steps in each episode
==========  ==============  ====================================================

The hot loop runs once per time step for the whole batch, so it is kept to a handful of NumPy
calls on buffers allocated once: the policy's logit margin, one comparison against
pre-drawn logistic thresholds (u < pi(right|s)  <=>  logit(u) < margin(s): no per-step random
call, no softmax, no one-hot), the physics (``CartPole.advance``: ``step`` without its checks
and copies), and two copies into the buffers.

``Roller.rollout`` is the same loop as a generator that a caller can suspend between two time
steps (the live page must get control back every 0.2 s, however long a batch takes) and that
can stop on a shared budget of environment steps (``StepBudget``).
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass

import numpy as np

from pg.envs import CartPole


@dataclass
class Batch:
    obs: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    alive: np.ndarray

    @property
    def lengths(self) -> np.ndarray:
        return self.alive.sum(axis=0)

    @property
    def episode_returns(self) -> np.ndarray:
        """(N,) undiscounted return of each episode."""
        return self.rewards.sum(axis=0)

    @property
    def env_steps(self) -> int:
        return int(self.alive.sum())


class StepBudget:
    """Training environment steps a run may still take, shared by the rollouts of all its
    seeds (pg.runs.live): each takes off what it used, and a rollout stops before a time step
    once ``left`` is 0 or less. So a run never takes more than its cap plus one time step's
    batch (N - 1 steps)."""

    def __init__(self, steps: int):
        self.left = int(steps)

    @property
    def spent(self) -> bool:
        return self.left <= 0


def to_end(steps: Generator):
    """The value a generator of pg.algo returns, run to its end without pausing (one made with
    ``pause=None`` never yields)."""
    try:
        next(steps)
    except StopIteration as end:
        return end.value
    raise RuntimeError("a generator given no pause hook yielded")


class Roller:
    """Runs batches of episodes of ``env`` with preallocated buffers.

    A returned Batch holds views into the buffers: it is valid until the next ``run``.
    """

    def __init__(self, env: CartPole, seed: int | np.random.SeedSequence | None = None):
        self.env = env
        env.reset(seed=seed)  # seeds the start-state generator; every run() draws fresh starts
        T, N = env.max_steps, env.num_envs
        self._obs = np.zeros((T + 1, N, 4))
        self._actions = np.zeros((T, N), dtype=bool)
        self._rewards = np.zeros((T, N))
        self._alive = np.zeros((T, N), dtype=bool)

    def run(self, policy, rng: np.random.Generator | None = None, greedy: bool = False,
            stop_below: float | None = None) -> Batch:
        """Reset the env and run every episode to its end.

        Sampled actions use ``rng``; ``greedy`` takes the most probable action. With
        ``stop_below`` (a mean return), stop as soon as the batch can no longer reach it.
        """
        return to_end(self.rollout(policy, rng, greedy, stop_below))

    def rollout(self, policy, rng: np.random.Generator | None = None, greedy: bool = False,
                stop_below: float | None = None, pause: Callable[[], bool] | None = None,
                budget: StepBudget | None = None) -> Generator[None, None, Batch | None]:
        """``run`` as a generator that a caller can suspend between two time steps.

        Before each time step it calls ``pause()`` (if given) and yields None when that is
        True; the next ``next()`` goes on from that time step with everything as it was, so the
        batch is the one an uninterrupted run gives, bit for bit. It returns the Batch (as
        StopIteration.value: ``batch = yield from roller.rollout(...)``), or None if
        ``budget`` ran out before every episode ended (the steps taken are charged to it).
        """
        env = self.env
        T, N = env.max_steps, env.num_envs
        obs, actions, rewards, alive = self._obs, self._actions, self._rewards, self._alive
        margin = policy.binary_margin()
        if budget is not None and budget.spent:
            return None
        if greedy:
            thresholds = np.zeros((T, N))
        else:
            u = rng.random((T, N))
            thresholds = np.log(u) - np.log1p(-u)  # logit(u): action 1 iff margin > logit(u)
        env.reset()
        state, env_alive, env_reward = env.buffers()  # (4, N), (N,), (N,): updated in place
        need = None if stop_below is None else stop_below * N
        collected = 0.0
        # The budget is counted lazily: at most N steps per time step, so the next count is
        # due only when the steps left could run out (exact, and one sum per many steps).
        counted, count_at = 0, -1 if budget is None else budget.left // N
        obs[0] = state.T
        t = 0
        while t < T:
            if pause is not None and pause():
                if budget is not None:  # charge what was used; count again on resuming
                    budget.left -= int(alive[counted:t].sum())
                    counted, count_at = t, t
                yield
            if t == count_at:
                budget.left -= int(alive[counted:t].sum())
                counted = t
                if budget.spent:
                    return None
                count_at = t + max(1, budget.left // N)
            alive[t] = env_alive
            np.greater(margin(obs[t]), thresholds[t], out=actions[t])
            env.advance(actions[t].view(np.uint8))
            rewards[t] = env_reward
            t += 1
            obs[t] = state.T
            if not env_alive.any():
                break
            if need is not None and t % 8 == 0:
                collected += rewards[t - 8 : t].sum()
                # best case: every live episode runs to the limit
                if collected + env_alive.sum() * (T - t) < need:
                    break
        if budget is not None:
            budget.left -= int(alive[counted:t].sum())
        return Batch(obs[:t], actions[:t].view(np.uint8), rewards[:t], alive[:t])
