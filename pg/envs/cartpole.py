"""Batched CartPole with exactly Gymnasium CartPole-v1's semantics, in plain NumPy.

A pole is attached by an unactuated joint to a cart that moves along a frictionless track.
The pole starts upright; the agent pushes the cart left or right to keep it balanced.

============  ============================  ==========================================
Observation   shape ``(num_envs, 4)``       float64
index 0       cart position ``x``           terminates outside [-2.4, 2.4] m
index 1       cart velocity ``x_dot``       m/s
index 2       pole angle ``theta``          terminates outside [-12, 12] degrees (rad)
index 3       pole angular velocity         rad/s
Action        shape ``(num_envs,)``, ints   0 = push left, 1 = push right (10 N)
Reward        1.0 on every step an episode was alive for, the terminating step included
Start state   every component uniform in [-0.05, 0.05]
Truncation    after ``max_steps`` steps (500 is CartPole-v1, 200 is CartPole-v0)
============  ============================  ==========================================

Differences from Gymnasium are in batching only: ``step`` advances all episodes in lock-step,
and an episode that has ended stays ended (its state frozen, reward 0, its ``terminated`` /
``truncated`` flags kept) until ``reset``. There is no silent auto-reset. The state is held
in float64 with Gymnasium's own order of floating-point operations, so trajectories agree
with ``gymnasium.make("CartPole-v1")`` to the last bit (tests/envs/test_cartpole.py).

>>> env = CartPole(num_envs=3)
>>> obs, info = env.reset(seed=0)
>>> obs.shape
(3, 4)
>>> obs, reward, terminated, truncated, info = env.step(np.array([0, 1, 1]))
>>> reward
array([1., 1., 1.])
"""

from __future__ import annotations

import math

import numpy as np

# Physical constants, the names and values of Gymnasium's cartpole.py.
GRAVITY = 9.8  # m/s^2
MASS_CART = 1.0  # kg
MASS_POLE = 0.1  # kg
TOTAL_MASS = MASS_POLE + MASS_CART
HALF_POLE_LENGTH = 0.5  # m ("length" in Gymnasium: actually half the pole's length)
POLEMASS_LENGTH = MASS_POLE * HALF_POLE_LENGTH
FORCE_MAG = 10.0  # N
TAU = 0.02  # s between state updates (Euler integration)
THETA_THRESHOLD = 12 * 2 * math.pi / 360  # rad, 12 degrees
X_THRESHOLD = 2.4  # m
INIT_BOUND = 0.05  # start state uniform in [-INIT_BOUND, INIT_BOUND]
V1_MAX_STEPS = 500
V0_MAX_STEPS = 200

_FORCES = np.array([-FORCE_MAG, FORCE_MAG])
_NOT_LOWEST_BIT = np.int64(-2)


class CartPole:
    """``num_envs`` CartPole-v1 episodes stepped together.

    Args:
        num_envs: number of episodes in the batch (>= 1).
        max_steps: time limit; 500 is CartPole-v1, 200 is CartPole-v0.

    Attributes:
        alive: ``(num_envs,)`` bool, True while the episode has neither terminated nor been
            truncated.
        steps: ``(num_envs,)`` int, steps taken in each episode since its reset.
    """

    def __init__(self, num_envs: int = 1, max_steps: int = V1_MAX_STEPS):
        if isinstance(num_envs, bool) or not isinstance(num_envs, (int, np.integer)) or num_envs < 1:
            raise ValueError(f"num_envs must be an integer >= 1, got {num_envs!r}")
        if isinstance(max_steps, bool) or not isinstance(max_steps, (int, np.integer)) or max_steps < 1:
            raise ValueError(f"max_steps must be an integer >= 1, got {max_steps!r}")
        n = int(num_envs)
        self.num_envs = n
        self.max_steps = int(max_steps)
        self._rng = np.random.default_rng()
        # State held as (4, n) rows so each quantity is one contiguous vector.
        self._s = np.zeros((4, n))
        self.alive = np.zeros(n, dtype=bool)
        self.steps = np.zeros(n, dtype=np.int64)
        self._terminated = np.zeros(n, dtype=bool)
        self._truncated = np.zeros(n, dtype=bool)
        # Scratch buffers, allocated once: step() allocates only the arrays it returns.
        self._cos, self._sin, self._temp, self._b, self._reward = np.zeros((5, n))
        self._k = _Constants(n, self.max_steps)
        self._deriv = np.zeros((4, n))
        self._pos = np.zeros((2, n))
        self._flags2 = np.zeros((2, n), dtype=bool)

    # ------------------------------------------------------------------ state
    @property
    def state(self) -> np.ndarray:
        """``(num_envs, 4)`` copy of the physical state; may be set, like Gymnasium's."""
        return self._s.T.copy()

    @state.setter
    def state(self, value) -> None:
        value = np.asarray(value, dtype=np.float64)
        if value.shape != (self.num_envs, 4):
            raise ValueError(f"state must have shape ({self.num_envs}, 4), got {value.shape}")
        self._s[...] = value.T

    @property
    def terminated(self) -> np.ndarray:
        return self._terminated.copy()

    @property
    def truncated(self) -> np.ndarray:
        return self._truncated.copy()

    # ------------------------------------------------------------------ reset
    def reset(self, seed: int | None = None, options: dict | None = None):
        """Start every episode anew. Returns ``(obs, info)``.

        ``seed`` re-creates the generator, as in Gymnasium: the start states are drawn with
        ``default_rng(seed).uniform(-0.05, 0.05, size=(4, num_envs))``, which is exactly the
        draw of ``gymnasium.make_vec("CartPole-v1", num_envs)`` (and of the single env when
        ``num_envs == 1``).
        """
        if seed is not None:
            self._rng = np.random.default_rng(seed)
        self._s[...] = self._rng.uniform(-INIT_BOUND, INIT_BOUND, size=(4, self.num_envs))
        self.alive[:] = True
        self.steps[:] = 0
        self._terminated[:] = False
        self._truncated[:] = False
        return self._s.T.copy(), {}

    # ------------------------------------------------------------------ step
    def step(self, actions):
        """Advance every alive episode by one step.

        Args:
            actions: ``(num_envs,)`` integer (or bool) array with values in {0, 1}.

        Returns:
            ``(obs, reward, terminated, truncated, info)``: obs ``(num_envs, 4)`` float64;
            reward ``(num_envs,)`` float64, 1.0 for every episode alive before this step;
            terminated / truncated ``(num_envs,)`` bool, True once the episode has ended that
            way (at this step or earlier); info ``{}``.
        """
        self.advance(self._check_actions(actions))
        return (
            self._s.T.copy(),
            self._reward.copy(),
            self._terminated.copy(),
            self._truncated.copy(),
            {},
        )

    def _check_actions(self, actions) -> np.ndarray:
        a = actions if isinstance(actions, np.ndarray) else np.asarray(actions)
        if a.shape != (self.num_envs,):
            raise ValueError(
                f"actions must have shape ({self.num_envs},), got shape {a.shape}: {_short(a)}"
            )
        kind = a.dtype.kind
        if kind == "b":
            return a.view(np.uint8)  # as indices, not as a mask
        if kind not in "iu":
            raise ValueError(f"actions must be integers in {{0, 1}}, got dtype {a.dtype}: {_short(a)}")
        # Any value other than 0 and 1 (negatives included) has a bit set besides the lowest.
        if np.count_nonzero(a & _NOT_LOWEST_BIT if kind == "i" else a > 1):
            bad = a[(a != 0) & (a != 1)]
            raise ValueError(f"actions must be 0 or 1, got {_short(bad)}")
        return a

    # ------------------------------------------------------------------ the fast path
    def buffers(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(state, alive, reward)``: read-only views of the arrays that ``advance`` (and
        ``step``) update in place, for a caller that steps with ``advance``.

        ==========  ===============  ================================================
        view        shape            meaning
        ==========  ===============  ================================================
        state       (4, num_envs)    rows x, x_dot, theta, theta_dot: ``state.T`` is
                                     the observation ``step`` returns
        alive       (num_envs,)      bool, as the ``alive`` attribute
        reward      (num_envs,)      float64, the reward of the last step
        ==========  ===============  ================================================

        The views stay valid (and current) for the env's lifetime, through ``reset`` too:
        take them once, read them after each ``advance``, copy what must be kept.
        """
        views = self._s.view(), self.alive.view(), self._reward.view()
        for view in views:
            view.flags.writeable = False
        return views

    def advance(self, actions: np.ndarray) -> None:
        """``step`` without its checks and copies: advance every alive episode by one step,
        in place, and return nothing (read the results through ``buffers()``).

        The rollout's hot loop (pg.algo.rollout) calls this once per time step, so that
        ``step``'s checks and its four copies are not paid on every step of every batch. It
        is safe when ``actions`` is a ``(num_envs,)`` array of unsigned or signed integers, each
        0 or 1 (view a bool array as ``np.uint8``: a bool array would index as a mask).
        Nothing is checked: other values give wrong physics or an IndexError, never a
        ValueError. Call ``step`` for anything else; the physics, and so the trajectory, are
        the same to the last bit.

        The physics follow Gymnasium's order of operations, on preallocated buffers. Each
        NumPy call costs about half a microsecond of Python overhead whatever the batch size,
        so the calls are few (the four Euler updates are one multiply-add on a (4, n) block)
        and constants are preallocated vectors (a Python float operand costs more).
        """
        s, d, k = self._s, self._deriv, self._k  # d rows: x_dot, xacc, theta_dot, thetaacc
        theta, theta_dot = s[2], s[3]
        cos, sin, temp, b = self._cos, self._sin, self._temp, self._b
        xacc, thetaacc = d[1], d[3]
        alive = self.alive
        force = _FORCES[actions]  # -10 N for action 0, +10 N for action 1
        np.cos(theta, out=cos)
        np.sin(theta, out=sin)
        # temp = (force + polemass_length * theta_dot**2 * sin) / total_mass
        np.multiply(theta_dot, theta_dot, out=temp)
        np.multiply(k.polemass_length, temp, out=temp)
        np.multiply(temp, sin, out=temp)
        np.add(force, temp, out=temp)
        np.divide(temp, k.total_mass, out=temp)
        # thetaacc = (g sin - cos temp) / (length (4/3 - masspole cos^2 / total_mass))
        np.multiply(k.gravity, sin, out=thetaacc)
        np.multiply(cos, temp, out=b)
        np.subtract(thetaacc, b, out=thetaacc)
        np.multiply(cos, cos, out=b)
        np.multiply(k.masspole, b, out=b)
        np.divide(b, k.total_mass, out=b)
        np.subtract(k.four_thirds, b, out=b)
        np.multiply(k.length, b, out=b)
        np.divide(thetaacc, b, out=thetaacc)
        # xacc = temp - polemass_length * thetaacc * cos / total_mass
        np.multiply(k.polemass_length, thetaacc, out=b)
        np.multiply(b, cos, out=b)
        np.divide(b, k.total_mass, out=b)
        np.subtract(temp, b, out=xacc)
        # Euler: state += tau * (x_dot, xacc, theta_dot, thetaacc), for alive episodes only
        d[0::2] = s[1::2]
        np.multiply(k.tau, d, out=d)
        np.multiply(d, alive, out=d)  # ended episodes get a zero step (5x faster than where=)
        np.add(s, d, out=s)
        # reward: 1.0 for every episode alive before this step (terminating step included)
        np.copyto(self._reward, alive)
        np.add(self.steps, alive, out=self.steps)
        # terminated: |x| > 2.4 or |theta| > 12 degrees (same as Gymnasium's four comparisons)
        pos, flags = self._pos, self._flags2
        np.abs(s[0::2], out=pos)
        np.greater(pos, k.thresholds, out=flags)
        flag, flag2 = flags
        np.logical_or(flag, flag2, out=flag)
        np.logical_and(flag, alive, out=flag)
        np.logical_or(self._terminated, flag, out=self._terminated)
        # truncated: the time limit, as Gymnasium's TimeLimit (may coincide with terminated)
        np.greater_equal(self.steps, k.max_steps, out=flag2)
        np.logical_and(flag2, alive, out=flag2)
        np.logical_or(self._truncated, flag2, out=self._truncated)
        np.logical_or(flag, flag2, out=flag)
        np.logical_xor(alive, flag, out=alive)  # ended episodes were alive: xor clears them


class _Constants:
    """The physical constants as (n,) vectors: NumPy multiplies two arrays faster than an
    array and a Python float, with bit-identical results."""

    def __init__(self, n: int, max_steps: int):
        def vec(value: float) -> np.ndarray:
            return np.full(n, value)

        self.polemass_length = vec(POLEMASS_LENGTH)
        self.total_mass = vec(TOTAL_MASS)
        self.gravity = vec(GRAVITY)
        self.masspole = vec(MASS_POLE)
        self.four_thirds = vec(4.0 / 3.0)
        self.length = vec(HALF_POLE_LENGTH)
        self.tau = np.full((4, n), TAU)
        self.thresholds = np.repeat([[X_THRESHOLD], [THETA_THRESHOLD]], n, axis=1)
        self.max_steps = np.full(n, max_steps, dtype=np.int64)

def _short(a: np.ndarray, limit: int = 8) -> str:
    flat = np.asarray(a).ravel()
    text = np.array2string(flat[:limit], separator=", ")
    return text if flat.size <= limit else text[:-1] + ", ...]"
