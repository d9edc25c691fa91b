"""pg.viz.render: the drawn geometry matches the state (pole angle, cart position, arrow side),
frames are deterministic, and the MP4 decodes back to T frames lasting T / fps seconds.

Pixel tests find objects by their flat colour and compare what was drawn with an independent
computation from the state (Gymnasium geometry: 480 px for 4.8 m, a 1 m pole, theta > 0 leaning
right), never with a stored golden image (pygame builds differ at antialiased edges).
"""

import os

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")  # before anything imports pygame
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

import io
import math
import subprocess
import sys

import numpy as np
import pytest

from pg.viz import render
from pg.viz.render import encode_mp4, nudge_markers, render_frame, render_frames, replay_video

av = pytest.importorskip("av")

WIDTH, HEIGHT = 480, 320
PX_PER_M = WIDTH / 4.8  # independent of the module: the track [-2.4, 2.4] m spans the frame
POLE_PX = 1.0 * PX_PER_M


def colour_mask(frame: np.ndarray, rgb, tol: int = 6) -> np.ndarray:
    """(H, W) bool: pixels within ``tol`` of ``rgb`` in every channel."""
    return (np.abs(frame.astype(np.int16) - np.array(rgb, np.int16)) <= tol).all(axis=-1)


def pixel_coords(mask: np.ndarray) -> np.ndarray:
    """(K, 2) float (column, row) of the True pixels, measured at pixel centres."""
    rows, cols = np.nonzero(mask)
    return np.stack([cols, rows], axis=1) + 0.5


def drawn_pole_angle(frame: np.ndarray, axle) -> float:
    """Angle from vertical (rad, + = tip right) of the principal axis of the pole's pixels."""
    points = pixel_coords(colour_mask(frame, render.POLE_RGB))
    centred = points - points.mean(axis=0)
    direction = np.linalg.svd(centred, full_matrices=False)[2][0]
    if direction @ (points.mean(axis=0) - np.asarray(axle)) < 0:
        direction = -direction  # point from the axle toward the tip
    return math.atan2(direction[0], -direction[1])


def decode(mp4: bytes):
    """(frames (T, H, W, 3) uint8, duration s, stream) of an MP4 decoded with PyAV."""
    with av.open(io.BytesIO(mp4)) as container:
        stream = container.streams.video[0]
        frames = np.stack([f.to_ndarray(format="rgb24") for f in container.decode(stream)])
        return frames, container.duration / av.time_base, stream


def frame_times(mp4: bytes) -> list[float]:
    """When each frame of an MP4 is shown, in seconds."""
    with av.open(io.BytesIO(mp4)) as container:
        return [float(f.time) for f in container.decode(container.streams.video[0])]


def episode(n_frames: int = 40):
    """A smooth synthetic episode: states (T, 4), actions (T,), p_right (T,)."""
    t = np.arange(n_frames)
    zeros = np.zeros(n_frames)
    states = np.stack([0.5 * np.sin(t / 15), zeros, 0.15 * np.sin(t / 6), zeros], axis=1)
    p_right = 0.5 + 0.4 * np.sin(t / 5)
    return states, (p_right > 0.5).astype(int), p_right


# --- geometry ---------------------------------------------------------------------------------
@pytest.mark.parametrize("theta", [-0.6, -0.21, -0.05, 0.0, 0.08, 0.2, 0.45])
def test_pole_is_drawn_at_the_state_angle(theta):
    state = [0.3, 0.0, theta, 0.0]
    frame = render_frame(state)
    drawn = drawn_pole_angle(frame, render.axle_pixel(state, WIDTH, HEIGHT))
    assert abs(math.degrees(drawn - theta)) < 1.5, f"drawn {math.degrees(drawn):.2f} deg for {theta} rad"


@pytest.mark.parametrize("theta", [-0.3, 0.0, 0.25])
def test_pole_has_the_scaled_length_and_tip(theta):
    state = [-0.4, 0.0, theta, 0.0]
    frame = render_frame(state)
    axle = np.array(render.axle_pixel(state, WIDTH, HEIGHT))
    points = pixel_coords(colour_mask(frame, render.POLE_RGB))
    reach = np.linalg.norm(points - axle, axis=1).max()
    assert abs(reach - (POLE_PX + render.POLE_THICKNESS_M * PX_PER_M / 2)) < 2.5  # 1 m plus the round cap
    tip = np.array([axle[0] + POLE_PX * math.sin(theta), axle[1] - POLE_PX * math.cos(theta)])
    assert np.allclose(render.pole_tip_pixel(state, WIDTH, HEIGHT), tip)
    row, column = round(tip[1]), round(tip[0])
    assert colour_mask(frame[row - 1 : row + 2, column - 1 : column + 2], render.POLE_RGB).any()


@pytest.mark.parametrize("x", [-2.0, -0.75, 0.0, 0.4, 1.9])
def test_cart_is_drawn_at_the_state_position(x):
    frame = render_frame([x, 0.0, 0.1, 0.0], step=12)
    cart = colour_mask(frame, render.CART_RGB)
    cart[: HEIGHT // 3] = False  # the step counter's dark text is not the cart
    columns = pixel_coords(cart)[:, 0]
    assert abs(columns.mean() - (WIDTH / 2 + x * PX_PER_M)) < 1.0
    assert abs((columns.max() - columns.min()) - render.CART_WIDTH_M * PX_PER_M) < 2.0
    assert pixel_coords(cart)[:, 1].max() < render.track_y_pixel(HEIGHT)  # the cart rides on the track


def test_geometry_helpers_follow_the_gymnasium_convention():
    upright = render.pole_tip_pixel([0.0, 0.0, 0.0, 0.0], WIDTH, HEIGHT)
    axle = render.axle_pixel([0.0, 0.0, 0.0, 0.0], WIDTH, HEIGHT)
    assert upright[0] == pytest.approx(WIDTH / 2) and upright[1] == pytest.approx(axle[1] - POLE_PX)
    lying_right = render.pole_tip_pixel([0.0, 0.0, math.pi / 2, 0.0], WIDTH, HEIGHT)
    assert lying_right == pytest.approx((axle[0] + POLE_PX, axle[1]))
    assert render.cart_center_pixel([2.4, 0, 0, 0], WIDTH, HEIGHT)[0] == pytest.approx(WIDTH)


# --- action arrow, step counter, nudge --------------------------------------------------------
def arrow_columns(frame: np.ndarray, rgb, state) -> np.ndarray:
    """Columns of ``rgb`` pixels in the band of rows around the cart (not the top gauge)."""
    _, row = render.cart_center_pixel(state, WIDTH, HEIGHT)
    band = frame[round(row) - 15 : round(row) + 15]
    return pixel_coords(colour_mask(band, rgb))[:, 0]


@pytest.mark.parametrize("p_right", [None, 0.3, 0.9])
def test_arrow_is_on_the_side_the_action_pushes(p_right):
    state = [0.2, 0.0, 0.0, 0.0]
    cart_left, cart_right = WIDTH / 2 + (0.2 + np.array([-0.5, 0.5]) * render.CART_WIDTH_M) * PX_PER_M
    left = render_frame(state, action=0, p_right=p_right)
    right = render_frame(state, action=1, p_right=p_right)
    assert len(arrow_columns(left, render.PUSH_LEFT_RGB, state)) > 50
    assert arrow_columns(left, render.PUSH_LEFT_RGB, state).max() < cart_left
    assert len(arrow_columns(left, render.PUSH_RIGHT_RGB, state)) == 0
    assert len(arrow_columns(right, render.PUSH_RIGHT_RGB, state)) > 50
    assert arrow_columns(right, render.PUSH_RIGHT_RGB, state).min() > cart_right
    assert len(arrow_columns(right, render.PUSH_LEFT_RGB, state)) == 0


def test_arrow_grows_with_the_probability_of_its_action():
    state = [0.0, 0.0, 0.0, 0.0]

    def extent(action, p):
        rgb = render.PUSH_RIGHT_RGB if action else render.PUSH_LEFT_RGB
        columns = arrow_columns(render_frame(state, action=action, p_right=p), rgb, state)
        return columns.max() - columns.min()

    assert extent(1, 0.9) > extent(1, 0.2) + 0.5 * render.ARROW_GAIN_LENGTH_M * PX_PER_M
    assert extent(0, 0.1) > extent(0, 0.8) + 0.5 * render.ARROW_GAIN_LENGTH_M * PX_PER_M


def test_no_arrow_without_an_action_or_a_probability():
    frame = render_frame([0.0, 0.0, 0.0, 0.0])
    for rgb in (render.PUSH_LEFT_RGB, render.PUSH_RIGHT_RGB):
        assert not colour_mask(frame, rgb, tol=40).any()


def test_step_counter_changes_only_the_top_left_corner():
    state = [0.0, 0.0, 0.05, 0.0]
    base, one, two = render_frame(state), render_frame(state, step=1), render_frame(state, step=2)
    assert not np.array_equal(base, one) and not np.array_equal(one, two)
    changed_rows, changed_cols = np.nonzero((one != two).any(axis=-1))
    assert changed_rows.max() < HEIGHT * 0.2 and changed_cols.max() < WIDTH * 0.3


@pytest.mark.parametrize("nudge", [1.0, -0.5])
def test_a_nudge_is_marked_on_the_side_it_comes_from(nudge):
    state = [0.0, 0.0, 0.05, 0.0]
    plain, nudged = render_frame(state), render_frame(state, nudge=nudge)
    assert not colour_mask(plain, render.NUDGE_RGB).any()
    burst = pixel_coords(colour_mask(nudged, render.NUDGE_RGB))
    assert len(burst) > 100
    pole_x = render.axle_pixel(state, WIDTH, HEIGHT)[0]
    assert np.sign(pole_x - burst[:, 0].mean()) == np.sign(nudge)  # pushed right = hit from the left


def test_nudge_marker_is_held_then_fades():
    nudges = np.zeros(40)
    nudges[5] = 2.0
    shown, fade = nudge_markers(nudges, hold_frames=10)
    assert np.all(shown[5:15] == 2.0) and np.all(shown[:5] == 0) and np.all(shown[15:] == 0)
    assert np.all(fade[5:10] == 0) and np.all(np.diff(fade[9:15]) > 0) and fade[14] < 1


# --- frames -----------------------------------------------------------------------------------
@pytest.mark.parametrize("size", [(480, 320), (360, 240), (640, 400)])
def test_frame_shape_and_dtype(size):
    width, height = size
    frame = render_frame([0.0, 0.0, 0.1, 0.0], action=1, p_right=0.7, step=3, width=width, height=height)
    assert frame.shape == (height, width, 3) and frame.dtype == np.uint8
    assert frame.flags.c_contiguous and frame.flags.writeable
    frames = render_frames(np.zeros((3, 4)), width=width, height=height)
    assert frames.shape == (3, height, width, 3) and frames.dtype == np.uint8


def test_render_frames_stacks_render_frame():
    states, actions, p_right = episode(12)
    nudges = np.zeros(12)
    nudges[4] = 1.0
    frames = render_frames(states, actions, p_right, nudges)
    shown, fade = nudge_markers(nudges)
    for t in range(12):
        if fade[t] == 0:  # a fading marker has no render_frame equivalent
            expected = render_frame(states[t], actions[t], p_right[t], step=t, nudge=shown[t])
            np.testing.assert_array_equal(frames[t], expected, err_msg=f"frame {t}")
    unmarked = render_frame(states[6], actions[6], p_right[6], step=6)
    assert not np.array_equal(frames[6], unmarked), "the nudge marker is held after step 4"


def test_actions_may_be_one_shorter_than_states():
    states, actions, p_right = episode(6)
    frames = render_frames(states, actions[:-1], p_right[:-1])
    np.testing.assert_array_equal(frames[-1], render_frame(states[-1], step=5))


def test_frames_are_deterministic():
    states, actions, p_right = episode(20)
    first = render_frames(states, actions, p_right)
    np.testing.assert_array_equal(first, render_frames(states, actions, p_right))


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: render_frame([0.0, 0.0, 0.0]), "state must be 4"),
        (lambda: render_frame([0.0, 0.0, float("nan"), 0.0]), "state must be 4"),
        (lambda: render_frame([0.0] * 4, action=2), "action must be 0"),
        (lambda: render_frame([0.0] * 4, p_right=1.5), "p_right must be"),
        (lambda: render_frame([0.0] * 4, width=481), "even"),
        (lambda: render_frames(np.zeros((5, 4)), actions=[0, 1]), "actions must have"),
        (lambda: encode_mp4(np.zeros((2, 31, 40, 3), np.uint8)), "even"),
    ],
)
def test_bad_inputs_are_refused_in_words(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_importing_pg_render_loads_neither_pygame_nor_av():
    code = "import sys, pg.viz.render; assert not {'pygame', 'av'} & set(sys.modules), sorted(sys.modules)"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


# --- video ------------------------------------------------------------------------------------
def test_replay_video_decodes_to_the_rendered_frames():
    states, actions, p_right = episode(60)
    nudges = np.zeros(60)
    nudges[20] = -1.0
    mp4 = replay_video(states, actions, p_right, nudges, fps=50)
    decoded, duration, stream = decode(mp4)
    assert decoded.shape == (60, HEIGHT, WIDTH, 3)
    assert duration == pytest.approx(60 / 50, abs=1e-3)
    assert stream.codec_context.name == "h264" and stream.codec_context.pix_fmt == "yuv420p"
    assert mp4.index(b"moov") < mp4.index(b"mdat"), "+faststart: the index comes first"
    error = np.abs(decoded.astype(np.int16) - render_frames(states, actions, p_right, nudges))
    assert error.mean() < 2.0  # lossy, but the same pictures in the same channel order
    assert error.reshape(-1, 3).mean(axis=0).max() < 3.0


@pytest.mark.parametrize("fps", [25, 50])
def test_encode_mp4_frame_count_size_and_duration(fps):
    states, actions, p_right = episode(30)
    frames = render_frames(states, actions, p_right, width=360, height=240)
    decoded, duration, _ = decode(encode_mp4(frames, fps=fps))
    assert decoded.shape == frames.shape
    assert duration == pytest.approx(30 / fps, abs=1e-3)
    assert np.abs(decoded.astype(np.int16) - frames).mean() < 2.0


def test_encoding_is_deterministic_and_from_any_iterable():
    states, actions, p_right = episode(25)
    frames = render_frames(states, actions, p_right)
    assert encode_mp4(frames) == encode_mp4(iter(list(frames))) == replay_video(states, actions, p_right)


def test_concurrent_replays_match_sequential_ones():
    """Streamlit runs sessions in threads: replays made at the same time must not mix."""
    from concurrent.futures import ThreadPoolExecutor

    episodes = [episode(30 + 5 * k) for k in range(3)]
    sequential = [replay_video(*e) for e in episodes]
    with ThreadPoolExecutor(max_workers=3) as pool:
        concurrent = list(pool.map(lambda e: replay_video(*e), episodes))
    assert concurrent == sequential


# --- held last frame and the trace strip ------------------------------------------------------
def test_a_short_episode_holds_its_last_frame_with_its_end_label():
    states, actions, p_right = episode(20)
    mp4 = replay_video(states, actions, p_right, n_frames=45, end_label="fell at step 19")
    decoded, duration, _ = decode(mp4)
    assert duration == pytest.approx(45 / 50, abs=1e-3), "as long as 45 frames"
    assert len(decoded) == 22, "the 25 held frame times are one frame that lasts (and the last one again)"
    assert frame_times(mp4)[-2:] == pytest.approx([20 / 50, 44 / 50]), "shown from step 20 to the end"
    held = decoded[20:].astype(np.int16)
    drift = np.abs(held - held[-1]).mean(axis=(1, 2, 3))  # lossy: a repeated frame is refined
    assert drift.max() < 0.5, "every frame after the episode is the same picture"
    changed = np.abs(held[0] - decoded[19].astype(np.int16)).max(axis=-1) > 40
    rows, columns = np.nonzero(changed)
    assert changed.sum() > 200, "the held frame carries the end label"
    assert rows.max() < 0.5 * HEIGHT and abs(np.mean(columns) - WIDTH / 2) < 0.15 * WIDTH, "top middle"
    plain, _, _ = decode(replay_video(states, actions, p_right))
    assert len(plain) == 20, "without n_frames the clip is the episode"


def test_two_clips_of_different_lengths_last_equally_long():
    short, long = episode(12), episode(40)
    clips = [replay_video(*e, n_frames=60, strip_steps=39, height=400) for e in (short, long)]
    assert [decode(mp4)[1] for mp4 in clips] == pytest.approx([60 / 50, 60 / 50], abs=1e-3)
    assert [frame_times(mp4)[-1] for mp4 in clips] == pytest.approx([59 / 50, 59 / 50]), "the last frame at 59"


def playhead_column(frame: np.ndarray) -> float:
    """Mean column of the playhead: the dark pixels of the strip's middle rows."""
    strip = frame[-round(render.STRIP_FRACTION * len(frame)) :]
    rows = strip[len(strip) // 2 - 6 : len(strip) // 2 + 6]
    dark = colour_mask(rows, render.PLAYHEAD_RGB, tol=30)
    return float(np.nonzero(dark)[1].mean())


def test_the_strip_playhead_moves_along_one_shared_time_axis():
    height, steps = 400, 100
    states, actions, p_right = episode(60)
    frames = decode(replay_video(states, actions, p_right, height=height, strip_steps=steps, n_frames=70))[0]
    left, right = render.STRIP_LABEL_FRACTION * WIDTH, (1 - render.STRIP_RIGHT_FRACTION) * WIDTH
    for t in (0, 30, 59):
        assert playhead_column(frames[t]) == pytest.approx(left + t / steps * (right - left), abs=2.5)
    assert len(frames) == 62 and playhead_column(frames[-1]) == pytest.approx(playhead_column(frames[59]), abs=1), \
        "held at the end"
    scene = frames[0][: height - round(render.STRIP_FRACTION * height)]
    assert colour_mask(scene, render.POLE_RGB).sum() > 100, "the cart scene sits above the strip"


@pytest.mark.parametrize(
    "kwargs, message", [({"n_frames": 0}, "n_frames"), ({"strip_steps": 0}, "strip_steps"),
                        ({"frame_step": 0}, "frame_step"), ({"frame_step": 1.5}, "frame_step")]
)
def test_bad_hold_or_strip_is_refused_in_words(kwargs, message):
    with pytest.raises(ValueError, match=message):
        replay_video(*episode(5), **kwargs)


def test_every_second_state_keeps_the_clip_in_real_time_and_ends_on_the_last_state():
    states, actions, p_right = episode(21)  # steps 0 ... 20
    every, half = (replay_video(states, actions, p_right, n_frames=30, frame_step=k) for k in (1, 2))
    assert decode(half)[1] == pytest.approx(decode(every)[1]) == pytest.approx(30 / 50, abs=1e-3)
    times = frame_times(half)
    assert times[:11] == pytest.approx([2 * k / 50 for k in range(11)]), "steps 0, 2, ..., 20 at their own time"
    assert times[-1] == pytest.approx(29 / 50), "then held to the end"
    frames_every, frames_half = decode(every)[0], decode(half)[0]
    for k in (0, 5, 10):  # the picture of step 2k is the same in both (lossy: nearly)
        assert np.abs(frames_half[k].astype(int) - frames_every[2 * k]).mean() < 2
    odd = replay_video(*episode(20), frame_step=2)  # steps 0 ... 19: 19 is odd, drawn anyway
    assert frame_times(odd)[-1] == pytest.approx(19 / 50)
