"""Clips by what they are made from: the key a clip is kept under (``clip_job``), and a clip made
ahead of time and shipped as a file: Home's agent, so a cold start does not wait
for it (issue "Instant": making it was the longest part of the first page's run, about 0.6 s).

The file (``assets/home.mp4``) has a sidecar (``assets/home.json``) naming what it was made
from: the policy (its spec and a digest of its parameters), the episode's settings and the
video's. ``load_clip`` hands the bytes over only if the sidecar names exactly what is asked
for, so a new shipped policy, a new renderer size or frame step falls back to making the clip
(and ``python -m pg home-clip`` makes the file again). Whether the file *shows* that episode
is checked against the renderer in tests/viz/test_clip_file.py, frame by frame.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from pg.viz.episode import REPLAY_FRAME_STEP, Episode, episode_video, run_episode

HOME_EPISODE = {"seed": 0}
"""Home's episode: the shipped policy, greedy, from the start state of seed 0"""
VIDEO = {"width": 480, "height": 320, "fps": 50}
"""a looping clip's frame size and rate"""


def clip_key(policy, episode_kwargs: dict, frame_step: int = REPLAY_FRAME_STEP) -> dict:
    """What a looping clip of ``policy``'s episode is made from, as JSON-ready values."""
    from pg.viz import render  # the frame's size and the encoder's settings

    params = np.ascontiguousarray(policy.params, dtype=np.float64)
    return {
        "policy": policy.spec,
        "params_sha256": hashlib.sha256(params.tobytes()).hexdigest(),
        "params_shape": list(params.shape),
        "episode": dict(sorted(episode_kwargs.items())),
        "video": {**VIDEO, "frame_step": int(frame_step), "preset": render.X264_PRESET, "crf": render.X264_CRF},
    }


def looping_clip(episode: Episode, frame_step: int = REPLAY_FRAME_STEP) -> bytes:
    """The MP4 of ``episode`` as it ran, looping (Home's clip): every ``frame_step``-th state."""
    from pg.viz import render

    return render.replay_video(episode.states[:-1], episode.actions, episode.p_right, episode.nudges,
                               frame_step=frame_step, **VIDEO)


def clip_job(policy, episode_kwargs_json: str, video: dict | None, shown: Episode):
    """(key, make) of one clip for pg.viz.episode.ClipStore: the key names the policy (spec and a
    digest of its parameters), the episode's settings and the video's options (``episode_video``'s,
    or None for a looping clip); ``make`` draws ``shown``, the episode those settings ran."""
    params = np.ascontiguousarray(policy.params)
    digest = hashlib.blake2b(params.tobytes(), digest_size=16).hexdigest()
    key = (json.dumps(policy.spec, sort_keys=True), params.dtype.str, params.shape, digest, episode_kwargs_json,
           json.dumps(video, sort_keys=True))

    def make() -> bytes:
        return looping_clip(shown) if video is None else episode_video(shown, **video)

    return key, make


def load_clip(path: str | Path, key: dict) -> bytes | None:
    """The clip at ``path`` if its sidecar (the same name, .json) says it was made from ``key``;
    None if either file is missing or unreadable, or the sidecar names something else."""
    path = Path(path)
    try:
        made_from = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
        if made_from != json.loads(json.dumps(key)):
            return None
        return path.read_bytes()
    except (OSError, ValueError):
        return None


def save_clip(path: str | Path, key: dict, data: bytes) -> None:
    """Write the clip and its sidecar."""
    path = Path(path)
    path.write_bytes(data)
    path.with_suffix(".json").write_text(json.dumps(key, indent=1, sort_keys=True) + "\n", encoding="utf-8")


def make_home_clip(policy, path: str | Path) -> tuple[Episode, int]:
    """Render Home's clip of ``policy`` and write it (with its sidecar) to ``path``: the episode and
    the file's size in bytes."""
    episode = run_episode(policy, **HOME_EPISODE)
    data = looping_clip(episode)
    save_clip(path, clip_key(policy, HOME_EPISODE), data)
    return episode, len(data)
