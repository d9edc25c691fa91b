"""Cached computations of the pages, keyed by a policy's spec and parameters (not the object):
episodes, their videos, the nudges a policy recovers from, visited states and the heatmap's grid.

``st.cache_data`` keeps each result for every session of the server (bounded by
``max_entries``); the clips are in one ``st.cache_resource`` store per server
(pg.viz.episode.ClipStore), which makes the new clips of a rerun at the same time. A rerun
whose inputs did not change recomputes nothing
(tests/pages/test_heatmap.py and test_replay.py count the calls).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import streamlit as st

from pages.shared import shipped_run
from pg.algo.policies import policy_from_spec
from pg.viz.clip_file import HOME_EPISODE, clip_job, clip_key, load_clip
from pg.viz.episode import ClipStore, Episode, clip_options, run_episode, visited_states
from pg.viz.nudge import NudgeRange, recoverable_range
from pg.viz.policy_grid import decision_boundary, policy_grid


@st.cache_resource(show_spinner=False)
def _replay() -> ClipStore:
    """The server's replay clips, by policy, episode and video options (pg.viz.episode.ClipStore):
    shared by every session, each clip made once, the new clips of one rerun made at once."""
    return ClipStore(max_entries=64)


def _jobs(requests: list[tuple]) -> tuple[list[Episode], list]:
    episodes, jobs = [], []
    for policy, video, episode_kwargs in requests:
        kwargs_json = json.dumps(episode_kwargs, sort_keys=True)
        episodes.append(_episode(json.dumps(policy.spec), policy.params, kwargs_json))  # cached: run once
        jobs.append(clip_job(policy, kwargs_json, video, episodes[-1]))
    return episodes, jobs


def replays(requests: list[tuple]) -> list[tuple[Episode, bytes]]:
    """``[(policy, video, episode_kwargs), ...]`` -> each one's recorded episode and its MP4, cached
    across reruns and sessions; the clips not made yet are made at the same time. ``video``:
    pg.viz.episode.episode_video's options (frames, shared time axis); None for a plain looping
    clip."""
    episodes, jobs = _jobs(requests)
    return list(zip(episodes, _replay().get_many(jobs)))


def start_replays(requests: list[tuple]) -> tuple[list[Episode], Callable[[], list[bytes]]]:
    """``replays`` in two halves: the episodes now, with every new clip begun beside this thread,
    and a function that waits for the clips, so a page draws the rest of itself meanwhile."""
    episodes, jobs = _jobs(requests)
    return episodes, _replay().start(jobs)


CLIPS_AHEAD = True
"""Replay makes the clips of the settings a visitor is likely to pick next ahead of time
(``clips_ahead``); tests that count renders turn it off (tests/conftest.py)"""


def clips_ahead(settings: list[list[tuple]]) -> None:
    """Make each setting's clips ahead of time, on one low-priority thread (pg.viz.episode
    ClipStore.ahead): ``settings`` is a list of ``[(policy, episode_kwargs), ...]``, the clips
    shown side by side (one duration, one time axis: ``clip_options``)."""
    if not CLIPS_AHEAD:
        return
    for sides in settings:
        def batch(sides=sides) -> list:
            episodes = [run_episode(policy, **kwargs) for policy, kwargs in sides]
            video = clip_options(episodes)
            return [clip_job(policy, json.dumps(kwargs, sort_keys=True), video, shown)
                    for (policy, kwargs), shown in zip(sides, episodes)]

        _replay().ahead(batch)


def replay(policy, video: dict | None = None, **episode_kwargs) -> tuple[Episode, bytes]:
    """One recorded episode of ``policy`` and its MP4 (``replays`` with one request)."""
    return replays([(policy, video, episode_kwargs)])[0]


@st.cache_data(show_spinner=False, max_entries=64)
def _episode(spec_json: str, params: np.ndarray, episode_kwargs_json: str) -> Episode:
    return run_episode(policy_from_spec(json.loads(spec_json), params), **json.loads(episode_kwargs_json))


def episode(policy, **episode_kwargs) -> Episode:
    """One recorded episode of ``policy`` (no video), cached: what a page needs to size its clips."""
    return _episode(json.dumps(policy.spec), policy.params, json.dumps(episode_kwargs, sort_keys=True))


@st.cache_data(show_spinner=False, max_entries=128)
def _nudge_range(spec_json: str, params: np.ndarray, episode_kwargs_json: str) -> NudgeRange:
    return recoverable_range(policy_from_spec(json.loads(spec_json), params), **json.loads(episode_kwargs_json))


def nudge_range(policy, **episode_kwargs) -> NudgeRange:
    """The nudges ``policy`` recovers from (pg.viz.nudge), cached per (policy, start, step, mode)."""
    return _nudge_range(json.dumps(policy.spec), policy.params, json.dumps(episode_kwargs, sort_keys=True))


HOME_CLIP = Path(__file__).resolve().parents[1] / "assets" / "home.mp4"
"""Home's clip, made ahead of time (``python -m pg home-clip``; pg.viz.clip_file)"""


@st.cache_resource(show_spinner=False)
def shipped_replay() -> tuple[Episode, bytes]:
    """Home's agent: the shipped policy's seed-0 episode and its MP4, read once per server from
    the file made ahead of time if it was made from this policy and episode (else made here),
    and shared by every session as it is (no copy per visitor)."""
    policy = shipped_run().policy
    data = load_clip(HOME_CLIP, clip_key(policy, HOME_EPISODE))
    if data is None:
        return replay(policy, **HOME_EPISODE)
    return episode(policy, **HOME_EPISODE), data


@st.cache_data(show_spinner=False, max_entries=256)
def _visited(spec_json: str, params: np.ndarray, episodes: int, seed: int) -> np.ndarray:
    return visited_states(policy_from_spec(json.loads(spec_json), params), episodes=episodes, seed=seed)


def visited(policy, episodes: int = 8, seed: int = 0) -> np.ndarray:
    """(M, 4) the states of ``episodes`` greedy episodes of ``policy``, cached."""
    return _visited(json.dumps(policy.spec), policy.params, episodes, seed)


@st.cache_data(show_spinner=False, max_entries=128)
def _picture(spec_json: str, params: np.ndarray, x: float, x_dot: float, theta_range: tuple, theta_dot_range: tuple,
             resolution: int) -> tuple[dict, dict]:
    policy = policy_from_spec(json.loads(spec_json), params)
    box = (x, x_dot, theta_range, theta_dot_range, resolution)
    return policy_grid(policy, *box), decision_boundary(policy, *box)


def policy_picture(policy, x: float, x_dot: float, theta_range: tuple, theta_dot_range: tuple,
                   resolution: int) -> tuple[dict, dict]:
    """The heatmap's grid and decision boundary (pg.viz.policy_grid) for one slice, cached."""
    return _picture(json.dumps(policy.spec), policy.params, float(x), float(x_dot), tuple(theta_range),
                    tuple(theta_dot_range), int(resolution))
