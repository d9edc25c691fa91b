"""pg.viz.clip_file: Home's clip made ahead of time, used only when its sidecar names what is
asked for, and showing that episode frame by frame."""

import json
import os

import numpy as np
import pytest

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")

from pages.cached import HOME_CLIP  # noqa: E402
from pages.shared import SHIPPED_POLICY  # noqa: E402
from pg.runs.checkpoint import load_run  # noqa: E402
from pg.viz.clip_file import HOME_EPISODE, VIDEO, clip_key, load_clip, save_clip  # noqa: E402
from pg.viz.episode import REPLAY_FRAME_STEP, run_episode  # noqa: E402


@pytest.fixture(scope="module")
def shipped():
    return load_run(SHIPPED_POLICY).policy


def test_the_shipped_clip_was_made_from_the_shipped_policy(shipped):
    assert load_clip(HOME_CLIP, clip_key(shipped, HOME_EPISODE)) is not None, (
        f"{HOME_CLIP} does not match {SHIPPED_POLICY} (or the video settings): run `python -m pg home-clip`")


def _decoded(path) -> dict[int, np.ndarray]:
    """{time step: RGB frame} of an MP4: each encoded frame at the step its time stands for."""
    import av

    with av.open(str(path)) as container:
        return {round(float(frame.time) * VIDEO["fps"]): frame.to_ndarray(format="rgb24")
                for frame in container.decode(video=0)}


def test_the_shipped_clip_shows_that_episode(shipped):
    """Frames of the file against the renderer's picture of the same states: a few levels apart
    (H.264), and far apart from another episode's (so this check can fail)."""
    from pg.viz.render import render_frame

    frames = _decoded(HOME_CLIP)
    episode, other = run_episode(shipped, **HOME_EPISODE), run_episode(shipped, seed=7)
    steps = sorted(frames)
    assert steps[:3] == [0, REPLAY_FRAME_STEP, 2 * REPLAY_FRAME_STEP] and steps[-1] == episode.length - 1
    for t in steps[:: max(1, len(steps) // 8)]:
        def drawn(e, t=t):
            return render_frame(e.states[t], action=int(e.actions[t]), p_right=float(e.p_right[t]), step=t,
                                width=VIDEO["width"], height=VIDEO["height"])
        error = np.abs(frames[t].astype(float) - drawn(episode)).mean()
        assert error < 2.0, (t, error)
        if t > 40:  # by then the two episodes' carts are apart
            assert np.abs(frames[t].astype(float) - drawn(other)).mean() > 2 * error, t


def test_a_clip_file_is_used_only_for_what_its_sidecar_names(tmp_path, shipped):
    path = tmp_path / "clip.mp4"
    key = clip_key(shipped, HOME_EPISODE)
    assert load_clip(path, key) is None  # no file
    save_clip(path, key, b"the clip")
    assert load_clip(path, key) == b"the clip"
    assert json.loads(path.with_suffix(".json").read_text()) == json.loads(json.dumps(key))
    assert load_clip(path, clip_key(shipped, {"seed": 1})) is None  # another episode
    assert load_clip(path, clip_key(shipped, HOME_EPISODE, frame_step=1)) is None  # other video settings
    other = load_run(SHIPPED_POLICY).snapshots[0][1]
    assert load_clip(path, clip_key(other, HOME_EPISODE)) is None  # another policy's parameters
    path.with_suffix(".json").write_text("{not json")
    assert load_clip(path, key) is None
    path.with_suffix(".json").unlink()
    assert load_clip(path, key) is None


def test_a_clips_key_names_the_policys_parameters_the_episode_and_the_video(shipped, monkeypatch):
    from pg.viz.clip_file import clip_job

    episode = run_episode(shipped, seed=3)
    key, make = clip_job(shipped, '{"seed": 3}', {"n_frames": 600}, episode)
    assert clip_job(load_run(SHIPPED_POLICY).policy, '{"seed": 3}', {"n_frames": 600}, episode)[0] == key
    other = load_run(SHIPPED_POLICY).snapshots[0][1]
    assert clip_job(other, '{"seed": 3}', {"n_frames": 600}, episode)[0] != key  # other parameters
    assert clip_job(shipped, '{"seed": 4}', {"n_frames": 600}, episode)[0] != key  # another episode
    assert clip_job(shipped, '{"seed": 3}', None, episode)[0] != key  # a looping clip
    drawn = []
    monkeypatch.setattr("pg.viz.render.replay_video", lambda states, *a, **k: drawn.append(
        (len(states), k.get("n_frames"))) or b"mp4")
    assert make() == b"mp4" and clip_job(shipped, "{}", None, episode)[1]() == b"mp4"
    assert drawn == [(episode.length + 1, 600), (episode.length, None)]  # Replay's clip; the looping one
