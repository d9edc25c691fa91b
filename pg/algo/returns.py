"""Discounted returns on padded batches.

=========  =======  =========================================================
symbol     shape    meaning
=========  =======  =========================================================
rewards    (T, N)   r_t of episode n; 0 where the episode had already ended
alive      (T, N)   True where episode n took a step at time t
values     (T, N)   V(s_t) from a critic (GAE only)
G          (T, N)   reward-to-go  sum_{k>=t} gamma^(k-t) r_k, 0 where not alive
=========  =======  =========================================================

Time is the first axis everywhere: (T, N) is time by episode. Episodes end by termination or
by the time limit; both are treated as the end of the return (no bootstrapping past the
limit), which is what REINFORCE on CartPole does. tests/algo/test_returns.py checks every function
against a plain Python loop.
"""

from __future__ import annotations

import numpy as np


def reward_to_go(rewards: np.ndarray, alive: np.ndarray, gamma: float) -> np.ndarray:
    """(T, N) G_t = r_t + gamma * G_{t+1}, zero where the episode is not alive."""
    rewards = np.where(alive, rewards, 0.0)
    G = np.zeros_like(rewards, dtype=np.float64)
    running = np.zeros(rewards.shape[1])
    for t in range(len(rewards) - 1, -1, -1):
        running *= gamma
        running += rewards[t]
        G[t] = running
    G *= alive
    return G


def episode_returns(rewards: np.ndarray, alive: np.ndarray, gamma: float) -> np.ndarray:
    """(N,) the discounted return of each whole episode, G_0."""
    return reward_to_go(rewards, alive, gamma)[0] if len(rewards) else np.zeros(rewards.shape[1])


def whole_episode_weights(rewards: np.ndarray, alive: np.ndarray, gamma: float) -> np.ndarray:
    """(T, N) the whole-episode return G_0 repeated at every alive step: the weight of the
    original REINFORCE estimator, before reward-to-go drops the rewards from the past."""
    return episode_returns(rewards, alive, gamma)[None, :] * alive


def gae(
    rewards: np.ndarray,
    values: np.ndarray,
    alive: np.ndarray,
    gamma: float,
    lam: float,
    bootstrap: np.ndarray | None = None,
) -> np.ndarray:
    """(T, N) generalised advantage estimates A_t = sum_k (gamma lam)^k delta_{t+k}.

    delta_t = r_t + gamma V(s_{t+1}) - V(s_t), where V after the episode's last step is 0, or
    ``bootstrap[n]`` if given (the value of the state the time limit cut off).
    lam = 1 gives reward-to-go minus V; lam = 0 gives the TD(0) error.
    """
    alive = alive.astype(bool)
    rewards = np.where(alive, rewards, 0.0)
    values = np.where(alive, values, 0.0)
    T, N = rewards.shape
    next_values = np.zeros((T, N))
    next_values[:-1] = values[1:]
    if bootstrap is not None:
        last = alive & ~np.vstack([alive[1:], np.zeros((1, N), bool)])
        next_values[last] = np.broadcast_to(bootstrap, (T, N))[last]
    delta = (rewards + gamma * next_values - values) * alive
    A = np.zeros((T, N))
    running = np.zeros(N)
    for t in range(T - 1, -1, -1):
        running *= gamma * lam
        running += delta[t]
        A[t] = running
    return A * alive
