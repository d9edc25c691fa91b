"""Single episodes, recorded step by step, for the replay and the heatmap overlay.

===========  ==========  ===================================================
field        shape       meaning
===========  ==========  ===================================================
states       (T + 1, 4)  s_0 ... s_T  (x, x_dot, theta, theta_dot)
actions      (T,)        a_t, 0 = push left, 1 = push right
p_right      (T,)        pi(right | s_t) when a_t was chosen
nudges       (T,)        rad/s added to theta_dot just before step t (mostly 0)
===========  ==========  ===================================================
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from pg.algo.rollout import Roller
from pg.envs import CartPole
from pg.envs.cartpole import INIT_BOUND, THETA_THRESHOLD, X_THRESHOLD
from pg.viz.ahead import ahead_pool

MAX_NUDGE = 3.0  # rad/s; a push on the pole far larger than anything balancing could undo


@dataclass
class Episode:
    states: np.ndarray
    actions: np.ndarray
    p_right: np.ndarray
    nudges: np.ndarray
    terminated: bool
    truncated: bool

    @property
    def length(self) -> int:
        return len(self.actions)

    @property
    def total_reward(self) -> float:
        return float(self.length)  # CartPole pays 1 per step

    @property
    def outcome(self) -> str:
        """How the episode ended, in words."""
        if self.truncated:
            return f"balanced to the {self.length}-step limit"
        if not self.terminated:
            return "still running"
        x, _, theta, _ = self.states[-1]
        if abs(theta) > THETA_THRESHOLD:
            return f"pole fell past {math.degrees(THETA_THRESHOLD):.0f}°"
        if abs(x) > X_THRESHOLD:
            return f"cart left the track (|x| > {X_THRESHOLD} m)"
        return "ended"

    @property
    def summary(self) -> str:
        """What happened, with when: "dropped the pole at step 19 (θ past 12°)", "balanced all
        500 steps"; read off the recorded states, never assumed from who the agent is."""
        x, _, theta, _ = self.states[-1]
        if self.terminated and abs(theta) > THETA_THRESHOLD:
            return f"dropped the pole at step {self.length} (θ past {math.degrees(THETA_THRESHOLD):.0f}°)"
        if self.terminated and abs(x) > X_THRESHOLD:
            return f"ran the cart off the track at step {self.length} (|x| > {X_THRESHOLD} m)"
        if self.truncated and not self.terminated:
            return f"balanced all {self.length} steps"
        return f"{self.outcome} after {self.length} steps"

    @property
    def end_label(self) -> str:
        """The words on a replay's held last frame: "fell at step 19", "balanced 500 steps"."""
        x, _, theta, _ = self.states[-1]
        if self.terminated and abs(theta) > THETA_THRESHOLD:
            return f"fell at step {self.length}"
        if self.terminated and abs(x) > X_THRESHOLD:
            return f"off the track at step {self.length}"
        return f"balanced {self.length} steps" if self.truncated else f"stopped at step {self.length}"


def agent_sentence(name: str, episode: Episode, greedy: bool) -> str:
    """One sentence about one side of the replay, from its episode: "The untrained agent,
    sampling each push from its policy, dropped the pole at step 19 (θ past 12°)."."""
    how = "taking the likelier push every step" if greedy else "sampling each push from its policy"
    return f"The {name} agent, {how}, {episode.summary}."


def comparison_sentence(first: str, first_episode: Episode, second: str, second_episode: Episode) -> str:
    """Which side lasted longer, and by how much, from the two episodes."""
    if first_episode.length == second_episode.length:
        return f"Both lasted {first_episode.length} steps."
    longer, shorter = (first, second) if first_episode.length > second_episode.length else (second, first)
    steps = abs(first_episode.length - second_episode.length)
    return f"The {longer} agent lasted {steps} steps longer than the {shorter} one."


REPLAY_FRAME_STEP = 2
"""Replay's clips draw every second state: 25 pictures a second, in real time, made in half the
time (a new seed is two new clips; issue "Instant")."""


def episode_video(episode: Episode, n_frames: int | None = None, axis_steps: int | None = None,
                  width: int = 480, height: int = 400, frame_step: int = REPLAY_FRAME_STEP) -> bytes:
    """The MP4 of ``episode``: frames s_0 ... s_T, then s_T held (labelled with ``end_label``)
    up to ``n_frames`` frames, with a strip of θ over time steps 0 ... ``axis_steps`` under the
    cart and a playhead at the frame's step. Two clips with the same ``n_frames`` last equally
    long; with the same ``axis_steps`` their strips share one time axis. ``frame_step``: see
    pg.viz.render.replay_video."""
    from pg.viz import render  # pygame and PyAV: imported when a video is made

    return render.replay_video(
        episode.states, episode.actions, episode.p_right, np.append(episode.nudges, 0.0),
        width=width, height=height, n_frames=n_frames, end_label=episode.end_label,
        strip_steps=axis_steps if axis_steps is not None else episode.length, frame_step=frame_step,
    )  # fmt: skip


CLIP_WORKERS = 2
"""Threads that make clips beside the pages' own: a new seed is two new clips, made at the same
time, one per core (drawing is under pg.viz.render._DRAW_LOCK; colour conversion and x264
release the GIL), while the page draws its charts."""


@lru_cache(maxsize=1)
def _clip_pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=CLIP_WORKERS, thread_name_prefix="pg-clip")


AHEAD_QUEUE = 4
"""batches of clips waiting to be made ahead at most: beyond that, a new one is dropped (a room
exploring Replay does not build an ever-longer queue)"""


def clip_options(episodes: Sequence[Episode]) -> dict:
    """``episode_video``'s options for clips shown side by side: one duration (the longest
    episode's, then its end held for ``render.HOLD_FRAMES`` frames) and one time axis."""
    from pg.viz.render import HOLD_FRAMES

    axis_steps = max(e.length for e in episodes)
    return {"n_frames": axis_steps + 1 + HOLD_FRAMES, "axis_steps": axis_steps}


class ClipStore:
    """Clips (MP4 bytes) by key, each made once however many callers ask, the new ones of one
    request made at the same time: a thread-safe LRU of futures, ``max_entries`` long.

    ``start([(key, make), ...])`` begins every clip not held yet on a small shared pool and
    returns a function that waits for all of them, in order; ``get_many`` starts and waits (its
    last new clip made in the caller's thread, which would wait anyway). Keys already held (made,
    or being made for another caller) are only waited for. A ``make`` that raises is forgotten
    (the next request tries again) and its error re-raised to every caller waiting for it. No
    Streamlit here: pages.cached keeps one store per server.
    """

    def __init__(self, max_entries: int = 64) -> None:
        if max_entries < 1:
            raise ValueError(f"max_entries must be at least 1; got {max_entries!r}")
        self.max_entries = max_entries
        self._futures: OrderedDict[Hashable, Future] = OrderedDict()
        self._lock = threading.Lock()
        self._ahead_waiting, self._ahead_done = 0, None

    def __len__(self) -> int:
        return len(self._futures)

    def __contains__(self, key: Hashable) -> bool:
        return key in self._futures

    def start(self, jobs: Sequence[tuple[Hashable, Callable[[], bytes]]]) -> Callable[[], list[bytes]]:
        futures, new = self._claim(jobs)
        for job in new:
            _clip_pool().submit(self._make, *job)
        return lambda: [self._result(key, future) for key, future in futures]

    def get_many(self, jobs: Sequence[tuple[Hashable, Callable[[], bytes]]], here: bool = False) -> list[bytes]:
        """Each job's clip; the new ones made at the same time (``here``: one after the other, in
        the caller's thread)."""
        futures, new = self._claim(jobs)
        for job in new[:-1]:
            if here:
                self._make(*job)
            else:
                _clip_pool().submit(self._make, *job)
        if new:
            self._make(*new[-1])
        return [self._result(key, future) for key, future in futures]

    def ahead(self, batch: Callable[[], Sequence[tuple[Hashable, Callable[[], bytes]]]]) -> bool:
        """Make clips ahead of time, on one low-priority thread: ``batch()`` (run there: it may
        compute the episodes) returns the jobs, and the clips not held yet are made one after the
        other. A caller who asks for one of them meanwhile waits for it rather than make it twice.
        False if ``AHEAD_QUEUE`` batches are already waiting (this one is dropped)."""
        with self._lock:
            if self._ahead_waiting >= AHEAD_QUEUE:
                return False
            self._ahead_waiting += 1

        def run() -> None:
            with self._lock:
                self._ahead_waiting -= 1
            try:
                self.get_many(batch(), here=True)
            except Exception:  # a clip nobody asked for yet: whoever asks makes it again and sees why
                pass

        self._ahead_done = ahead_pool().submit(run)
        return True

    def wait_ahead(self, timeout: float | None = None) -> None:
        """Until the clips asked ahead so far are made (tests)."""
        if self._ahead_done is not None:
            ahead_pool().submit(lambda: None).result(timeout)

    def get(self, key: Hashable, make: Callable[[], bytes]) -> bytes:
        return self.get_many([(key, make)])[0]

    def _claim(self, jobs) -> tuple[list, list]:
        """Each job's future, and the jobs nobody has started yet (their futures now held)."""
        futures, new = [], []
        with self._lock:
            for key, make in jobs:
                future = self._futures.get(key)
                if future is None:
                    future = self._futures[key] = Future()
                    new.append((key, make, future))
                self._futures.move_to_end(key)
                futures.append((key, future))
            while len(self._futures) > self.max_entries:
                self._futures.popitem(last=False)  # a caller still waiting holds its own future
        return futures, new

    @staticmethod
    def _make(key: Hashable, make: Callable[[], bytes], future: Future) -> None:
        if not future.set_running_or_notify_cancel():
            return
        try:
            future.set_result(make())
        except BaseException as error:  # handed to every caller waiting, in their threads
            future.set_exception(error)

    def _result(self, key: Hashable, future: Future) -> bytes:
        try:
            return future.result()
        except BaseException:
            with self._lock:
                if self._futures.get(key) is future:
                    del self._futures[key]
            raise


def run_episode(
    policy,
    seed: int = 0,
    init_state=None,
    max_steps: int = 500,
    greedy: bool = True,
    nudge_step: int | None = None,
    nudge: float = 0.0,
) -> Episode:
    """Run one CartPole episode with ``policy``, recording every state.

    ``seed`` draws the start state (as Gymnasium's reset does) and the sampled actions when
    ``greedy`` is False. ``init_state`` (4 numbers, each within +-0.05, the start
    distribution's support) overrides the drawn start. At step ``nudge_step``, ``nudge``
    rad/s is added to the pole's angular velocity: a flick of the pole.
    """
    env = CartPole(1, max_steps)
    env.reset(seed=seed)
    if init_state is not None:
        init = np.asarray(init_state, dtype=np.float64).reshape(4)
        if not np.all(np.isfinite(init)) or np.abs(init).max() > INIT_BOUND:
            raise ValueError(f"init_state must be 4 finite numbers within +-{INIT_BOUND}, got {init.tolist()}")
        env.state = init[None, :]
    if not np.isfinite(nudge) or abs(nudge) > MAX_NUDGE:
        raise ValueError(f"nudge must be within +-{MAX_NUDGE} rad/s, got {nudge!r}")
    rng = np.random.default_rng([seed, 1])
    states, actions, p_right, nudges = [env.state[0]], [], [], []
    for t in range(max_steps):
        kick = nudge if t == nudge_step else 0.0
        if kick:
            state = env.state
            state[0, 3] += kick
            env.state = state
            states[-1] = state[0]
        obs = env.state
        p = policy.probs(obs)[0, 1]
        action = int(p > 0.5) if greedy else int(rng.random() < p)
        _, _, terminated, truncated, _ = env.step(np.array([action]))
        states.append(env.state[0])
        actions.append(action)
        p_right.append(p)
        nudges.append(kick)
        if terminated[0] or truncated[0]:
            break
    return Episode(
        np.array(states), np.array(actions, dtype=np.int64), np.array(p_right), np.array(nudges),
        bool(terminated[0]), bool(truncated[0]),
    )


def visited_states(policy, episodes: int = 8, seed: int = 0, max_steps: int = 500) -> np.ndarray:
    """(M, 4) the states of ``episodes`` greedy episodes run as one batch, for the heatmap."""
    batch = Roller(CartPole(episodes, max_steps), seed=seed).run(policy, greedy=True)
    return batch.obs[batch.alive].copy()
