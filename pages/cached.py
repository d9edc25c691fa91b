"""Cached computations of the pages, keyed by a policy's spec and parameters (not the object):
episodes, their videos, the nudges a policy recovers from, visited states and the heatmap's grid.

``st.cache_data`` keeps each result for every session of the server (bounded by
``max_entries``); a rerun whose inputs did not change recomputes nothing
(tests/pages/test_heatmap.py and test_replay.py count the calls).
"""

from __future__ import annotations

import json

import numpy as np
import streamlit as st

from pages.shared import shipped_run
from pg.algo.policies import policy_from_spec
from pg.viz.episode import REPLAY_FRAME_STEP, Episode, episode_video, run_episode, visited_states
from pg.viz.nudge import NudgeRange, recoverable_range
from pg.viz.policy_grid import decision_boundary, policy_grid


@st.cache_data(show_spinner=False, max_entries=64)
def _replay(
    spec_json: str, params: np.ndarray, episode_kwargs_json: str, video_json: str = "null"
) -> tuple[Episode, bytes]:
    from pg.viz import render

    policy = policy_from_spec(json.loads(spec_json), params)
    episode = run_episode(policy, **json.loads(episode_kwargs_json))
    video_options = json.loads(video_json)
    if video_options is None:  # Home's clip: the episode as it ran, looping (made on a cold start: every
        # second state, as Replay's, halves the wait)
        return episode, render.replay_video(episode.states[:-1], episode.actions, episode.p_right, episode.nudges,
                                            frame_step=REPLAY_FRAME_STEP)
    return episode, episode_video(episode, **video_options)


def replay(policy, video: dict | None = None, **episode_kwargs) -> tuple[Episode, bytes]:
    """One recorded episode of ``policy`` and its MP4, cached across reruns and sessions.
    ``video``: pg.viz.episode.episode_video's options (frames, shared time axis); None for a
    plain looping clip."""
    return _replay(json.dumps(policy.spec), policy.params, json.dumps(episode_kwargs, sort_keys=True),
                   json.dumps(video, sort_keys=True))


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


@st.cache_resource(show_spinner=False)
def shipped_replay() -> tuple[Episode, bytes]:
    """Home's agent: the shipped policy's seed-0 episode and its MP4, made once per server and
    shared by every session as it is (no copy per visitor)."""
    return replay(shipped_run().policy, seed=0)


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
