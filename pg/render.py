"""Draw CartPole states as pictures, and episodes as browser-playable MP4 replays.

The geometry is Gymnasium's CartPole-v1: the track shows the whole allowed range
``x in [-2.4, 2.4]`` m across the frame width, the pole is ``2 * 0.5 = 1.0`` m long and
``theta > 0`` means the pole leans right (its tip is to the right of the axle).

Shapes used below:

=========  ==============  =========================================================
name       shape           meaning
=========  ==============  =========================================================
state      (4,)            ``[x (m), x_dot (m/s), theta (rad), theta_dot (rad/s)]``
states     (T, 4)          one state per frame
actions    (T,) or (T-1,)  0 = push left, 1 = push right (no arrow where missing)
p_right    (T,) or (T-1,)  policy probability of pushing right, in [0, 1]
nudges     (T,)            0 = no nudge; sign = direction of the nudge (+ = right)
frame      (H, W, 3)       uint8 RGB picture
frames     (T, H, W, 3)    uint8 RGB pictures
=========  ==============  =========================================================

pygame (for drawing) and PyAV (for H.264 encoding) are imported lazily, inside the
functions that need them, so ``import pg.render`` costs nothing. pygame runs headless:
no window, no audio, and ``pygame.init()`` is never called.

>>> frame = render_frame([0.0, 0.0, 0.1, 0.0], action=1, p_right=0.8, step=3)
>>> frame.shape, frame.dtype
((320, 480, 3), dtype('uint8'))
"""

from __future__ import annotations

import io
import math
import os
import threading
from collections.abc import Iterator, Sequence
from functools import lru_cache
from typing import Any

import numpy as np

# --- World geometry (Gymnasium CartPole-v1), in metres -------------------------------
X_THRESHOLD_M = 2.4
"""The episode ends when |x| exceeds this; drawn as a marker at each end of the track."""
WORLD_WIDTH_M = 2 * X_THRESHOLD_M
"""World width shown across the frame."""
POLE_HALF_LENGTH_M = 0.5
POLE_LENGTH_M = 2 * POLE_HALF_LENGTH_M
# Gymnasium draws a 50 x 30 px cart and a 10 px pole at 125 px/m; same proportions here.
CART_WIDTH_M = 0.40
CART_HEIGHT_M = 0.22
POLE_THICKNESS_M = 0.08
WHEEL_RADIUS_M = 0.05
AXLE_RADIUS_M = 0.04

# --- Layout, as fractions of the frame or in metres ----------------------------------
TRACK_Y_FRACTION = 0.80
"""Track line height, as a fraction of the frame height from the top."""
ARROW_GAP_M = 0.05
"""Space between the cart side and the start of the action arrow."""
ARROW_MIN_LENGTH_M = 0.20
ARROW_GAIN_LENGTH_M = 0.40
"""Arrow length = min + gain * probability of the arrow's action (gain * 1 if unknown)."""
ARROW_SHAFT_M = 0.07
ARROW_HEAD_LENGTH_M = 0.14
ARROW_HEAD_WIDTH_M = 0.20
NUDGE_RADIUS_M = 0.14
TEXT_HEIGHT_FRACTION = 0.085
"""Font size of the step counter, as a fraction of the frame height."""
MARGIN_FRACTION = 0.03
GAUGE_WIDTH_FRACTION = 0.28
GAUGE_HEIGHT_FRACTION = 0.035

# --- Colours (RGB) -------------------------------------------------------------------
BACKGROUND_RGB = (255, 255, 255)
GROUND_RGB = (238, 238, 236)
TRACK_RGB = (120, 124, 130)
THRESHOLD_RGB = (150, 150, 150)
CART_RGB = (52, 58, 64)
WHEEL_RGB = (90, 96, 104)
POLE_RGB = (214, 160, 72)
AXLE_RGB = (245, 245, 245)
TEXT_RGB = (40, 40, 40)
PUSH_LEFT_RGB = (33, 102, 172)  # blue end of the blue-white-red policy heatmap
PUSH_RIGHT_RGB = (178, 24, 43)  # red end
NUDGE_RGB = (240, 150, 0)
NUDGE_TEXT_RGB = (190, 105, 0)
FADED_ARROW_MIX = 0.45
"""How far toward the background an arrow is faded when no action was taken."""

# --- Video encoding ------------------------------------------------------------------
X264_PRESET = "ultrafast"
"""Fastest x264 preset; flat-colour frames stay small anyway (about 100 KB per 10 s)."""
X264_CRF = 23
X264_THREADS = 2
"""This app targets 2-core hosts; x264 encodes while Python draws the next frame."""


# ===================================================================================
# Geometry: world coordinates -> pixel coordinates (pure functions, used by the tests)
# ===================================================================================
def pixels_per_metre(width: int) -> float:
    """Scale of the drawing: the track range [-2.4, 2.4] m spans ``width`` pixels."""
    return width / WORLD_WIDTH_M


def track_y_pixel(height: int) -> float:
    """Row of the track line (pixels from the top)."""
    return TRACK_Y_FRACTION * height


def cart_center_pixel(state: Sequence[float], width: int, height: int) -> tuple[float, float]:
    """Centre of the cart body in pixels ``(column, row)``, rows counted from the top."""
    scale = pixels_per_metre(width)
    column = width / 2 + float(state[0]) * scale
    row = track_y_pixel(height) - (2 * WHEEL_RADIUS_M + CART_HEIGHT_M / 2) * scale
    return column, row


def axle_pixel(state: Sequence[float], width: int, height: int) -> tuple[float, float]:
    """Pole pivot in pixels: top centre of the cart."""
    column, row = cart_center_pixel(state, width, height)
    return column, row - CART_HEIGHT_M / 2 * pixels_per_metre(width)


def pole_tip_pixel(state: Sequence[float], width: int, height: int) -> tuple[float, float]:
    """Pole tip in pixels; ``theta > 0`` puts the tip to the right of the axle."""
    column, row = axle_pixel(state, width, height)
    length = POLE_LENGTH_M * pixels_per_metre(width)
    theta = float(state[2])
    return column + length * math.sin(theta), row - length * math.cos(theta)


# ===================================================================================
# Lazy imports
# ===================================================================================
_PYGAME: Any = None  # the module, once imported and its font system started


def _pygame() -> Any:
    """Import pygame headless (dummy video and audio drivers, no banner) and its fonts."""
    if _PYGAME is not None:
        return _PYGAME
    return _import_pygame()


def _import_pygame() -> Any:
    global _PYGAME
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
    os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
    try:
        import pygame
    except ImportError as err:
        raise ImportError(
            "pg.render needs pygame to draw CartPole frames. "
            "Install it with `pip install pygame-ce` (not `pygame` as well: both install "
            "the same `pygame` module and overwrite each other)."
        ) from err
    if not pygame.font.get_init():
        pygame.font.init()  # fonts only; pygame.init() would also open audio
    _PYGAME = pygame
    return pygame


def _av() -> Any:
    """Import PyAV, which wraps FFmpeg's libraries (libx264 included) in-process."""
    try:
        import av
    except ImportError as err:
        raise ImportError(
            "pg.render needs PyAV to encode MP4 replays. Install it with `pip install av` "
            "(its wheels bundle FFmpeg with libx264)."
        ) from err
    return av


# ===================================================================================
# Cached drawing resources (read-only once made, so they can be shared across threads)
# ===================================================================================
_TEXT_LOCK = threading.Lock()  # SDL_ttf is not thread-safe; Streamlit sessions are threads


@lru_cache(maxsize=16)
def _font(size: int) -> Any:
    return _pygame().font.Font(None, size)


@lru_cache(maxsize=1024)
def _text(label: str, size: int, rgb: tuple[int, int, int]) -> Any:
    """A rendered, antialiased text surface (with alpha), cached by content."""
    with _TEXT_LOCK:
        return _font(size).render(label, True, rgb)


def _number_text(label: str, size: int, rgb: tuple[int, int, int], surface: Any, topleft: tuple[int, int]) -> int:
    """Blit ``label`` glyph by glyph (digits repeat, whole strings rarely); return its width."""
    column, row = topleft
    for char in label:
        glyph = _text(char, size, rgb)
        surface.blit(glyph, (column, row))
        column += glyph.get_width()
    return column - topleft[0]


def _font_size(height: int) -> int:
    return max(10, round(TEXT_HEIGHT_FRACTION * height))


@lru_cache(maxsize=8)
def _background(width: int, height: int) -> Any:
    """Everything that never moves: sky, ground, track line and the +-2.4 m markers."""
    pygame = _pygame()
    surface = pygame.Surface((width, height))
    surface.fill(BACKGROUND_RGB)
    track_row = round(track_y_pixel(height))
    pygame.draw.rect(surface, GROUND_RGB, (0, track_row, width, height - track_row))
    pygame.draw.line(surface, TRACK_RGB, (0, track_row), (width, track_row), 2)
    _draw_threshold_markers(surface, width, height)
    return surface


def _draw_threshold_markers(surface: Any, width: int, height: int) -> None:
    """Dashed posts at x = -2.4 m and x = +2.4 m (the frame edges), with labels."""
    pygame = _pygame()
    scale = pixels_per_metre(width)
    track_row = round(track_y_pixel(height))
    top_row = round(track_row - (POLE_LENGTH_M + 0.35) * scale)
    dash = max(3, round(0.05 * scale))
    size = max(10, round(0.7 * _font_size(height)))
    for sign in (-1, 1):
        column = round(width / 2 + sign * X_THRESHOLD_M * scale)
        column = min(max(column, 2), width - 3)  # keep the 3 px post inside the frame
        for row in range(top_row, track_row, 2 * dash):
            pygame.draw.line(surface, THRESHOLD_RGB, (column, row), (column, min(row + dash, track_row)), 3)
        label = _text(f"{sign * X_THRESHOLD_M:+.1f} m", size, THRESHOLD_RGB)
        label_column = column + 6 if sign < 0 else column - 6 - label.get_width()
        surface.blit(label, (label_column, track_row + 6))


# ===================================================================================
# Drawing one frame
# ===================================================================================
def _mix(rgb: tuple[int, int, int], amount: float) -> tuple[int, int, int]:
    """``rgb`` moved ``amount`` of the way toward the background colour."""
    return tuple(round(c + amount * (b - c)) for c, b in zip(rgb, BACKGROUND_RGB))


def _draw_cart(surface: Any, state: np.ndarray, width: int, height: int) -> None:
    pygame = _pygame()
    scale = pixels_per_metre(width)
    column, row = cart_center_pixel(state, width, height)
    half_w, half_h = CART_WIDTH_M / 2 * scale, CART_HEIGHT_M / 2 * scale
    wheel_r = WHEEL_RADIUS_M * scale
    wheel_row = row + half_h + wheel_r
    for offset in (-0.55 * half_w, 0.55 * half_w):
        pygame.draw.aacircle(surface, WHEEL_RGB, (column + offset, wheel_row), wheel_r)
    body = pygame.Rect(0, 0, round(2 * half_w), round(2 * half_h))
    body.center = (round(column), round(row))
    pygame.draw.rect(surface, CART_RGB, body, border_radius=max(1, round(0.03 * scale)))


def _draw_pole(surface: Any, state: np.ndarray, width: int, height: int) -> None:
    pygame = _pygame()
    scale = pixels_per_metre(width)
    axle = axle_pixel(state, width, height)
    tip = pole_tip_pixel(state, width, height)
    thickness = max(2, round(POLE_THICKNESS_M * scale))
    pygame.draw.aaline(surface, POLE_RGB, axle, tip, thickness)
    pygame.draw.aacircle(surface, POLE_RGB, tip, thickness / 2)  # rounded tip
    pygame.draw.aacircle(surface, CART_RGB, axle, AXLE_RADIUS_M * scale + 1.5)
    pygame.draw.aacircle(surface, AXLE_RGB, axle, AXLE_RADIUS_M * scale)


def _draw_arrow(surface: Any, state: np.ndarray, width: int, height: int, direction: int, probability: float, rgb) -> None:
    """Arrow beside the cart on the side it pushes toward (``direction`` -1 or +1)."""
    pygame = _pygame()
    scale = pixels_per_metre(width)
    column, row = cart_center_pixel(state, width, height)
    start = column + direction * (CART_WIDTH_M / 2 + ARROW_GAP_M) * scale
    length = (ARROW_MIN_LENGTH_M + ARROW_GAIN_LENGTH_M * probability) * scale
    end = start + direction * length
    head_base = end - direction * ARROW_HEAD_LENGTH_M * scale
    shaft, head = ARROW_SHAFT_M * scale / 2, ARROW_HEAD_WIDTH_M * scale / 2
    points = [
        (start, row - shaft), (head_base, row - shaft), (head_base, row - head), (end, row),
        (head_base, row + head), (head_base, row + shaft), (start, row + shaft),
    ]  # fmt: skip
    pygame.draw.polygon(surface, rgb, points)
    pygame.draw.aalines(surface, rgb, True, points)


def _draw_actions(surface: Any, state: np.ndarray, width: int, height: int, action: int | None, p_right: float | None) -> None:
    """The action taken (solid arrow), or both options faded if only ``p_right`` is known."""
    if action is not None:
        right = action == 1
        probability = 1.0 if p_right is None else (p_right if right else 1 - p_right)
        rgb = PUSH_RIGHT_RGB if right else PUSH_LEFT_RGB
        _draw_arrow(surface, state, width, height, 1 if right else -1, probability, rgb)
    elif p_right is not None:
        _draw_arrow(surface, state, width, height, -1, 1 - p_right, _mix(PUSH_LEFT_RGB, FADED_ARROW_MIX))
        _draw_arrow(surface, state, width, height, 1, p_right, _mix(PUSH_RIGHT_RGB, FADED_ARROW_MIX))


def _draw_nudge(surface: Any, state: np.ndarray, width: int, height: int, nudge: float) -> None:
    """An amber burst hitting the pole from the side opposite to the nudge, plus a label."""
    pygame = _pygame()
    scale = pixels_per_metre(width)
    direction = 1 if nudge > 0 else -1
    (ax, ay), (tx, ty) = axle_pixel(state, width, height), pole_tip_pixel(state, width, height)
    hit_x, hit_y = ax + 0.7 * (tx - ax), ay + 0.7 * (ty - ay)
    radius = NUDGE_RADIUS_M * scale
    centre_x = hit_x - direction * 1.3 * radius
    centre_x = min(max(centre_x, radius), width - radius)  # stay visible near the edges
    spikes = 9
    star = [
        (centre_x + r * math.cos(a), hit_y + r * math.sin(a))
        for k in range(2 * spikes)
        for a, r in [(math.pi * k / spikes, radius if k % 2 == 0 else 0.5 * radius)]
    ]
    pygame.draw.polygon(surface, NUDGE_RGB, star)
    pygame.draw.aalines(surface, NUDGE_RGB, True, star)
    label = _text("nudge!", _font_size(height), NUDGE_TEXT_RGB)
    label_x = centre_x - label.get_width() / 2
    label_x = min(max(label_x, 2), width - label.get_width() - 2)
    surface.blit(label, (round(label_x), round(hit_y - radius - label.get_height())))


def _draw_step(surface: Any, step: int, height: int) -> None:
    margin = round(MARGIN_FRACTION * height)
    size = _font_size(height)
    label = _text("step ", size, TEXT_RGB)
    surface.blit(label, (margin, margin))
    _number_text(str(step), size, TEXT_RGB, surface, (margin + label.get_width(), margin))


def _draw_gauge(surface: Any, p_right: float, width: int, height: int) -> None:
    """Top-right bar: blue share = P(left), red share = P(right), with the number."""
    pygame = _pygame()
    margin = round(MARGIN_FRACTION * height)
    size = _font_size(height)
    bar_w, bar_h = round(GAUGE_WIDTH_FRACTION * width), max(4, round(GAUGE_HEIGHT_FRACTION * height))
    left = width - margin - bar_w
    label = _text("P(right) ", size, TEXT_RGB)
    number = f"{p_right:.2f}"
    number_w = sum(_text(c, size, TEXT_RGB).get_width() for c in number)
    text_left = width - margin - label.get_width() - number_w
    surface.blit(label, (text_left, margin))
    _number_text(number, size, TEXT_RGB, surface, (text_left + label.get_width(), margin))
    top = margin + label.get_height() + 2
    split = round(bar_w * (1 - p_right))
    pygame.draw.rect(surface, PUSH_LEFT_RGB, (left, top, split, bar_h))
    pygame.draw.rect(surface, PUSH_RIGHT_RGB, (left + split, top, bar_w - split, bar_h))
    pygame.draw.line(surface, TEXT_RGB, (left + bar_w // 2, top - 2), (left + bar_w // 2, top + bar_h + 1), 1)


def _draw(surface: Any, state: np.ndarray, action: int | None, p_right: float | None, step: int | None, nudge: float) -> None:
    """Draw one complete frame onto ``surface`` (whose size sets the frame size)."""
    width, height = surface.get_size()
    surface.blit(_background(width, height), (0, 0))
    _draw_actions(surface, state, width, height, action, p_right)
    _draw_cart(surface, state, width, height)
    _draw_pole(surface, state, width, height)
    if nudge != 0:
        _draw_nudge(surface, state, width, height, nudge)
    if step is not None:
        _draw_step(surface, step, height)
    if p_right is not None:
        _draw_gauge(surface, p_right, width, height)


def _to_array(surface: Any) -> np.ndarray:
    """(H, W, 3) uint8 view of the surface's RGB bytes (``tobytes`` is ~5x ``surfarray``)."""
    pygame = _pygame()
    width, height = surface.get_size()
    return np.frombuffer(pygame.image.tobytes(surface, "RGB"), np.uint8).reshape(height, width, 3)


# ===================================================================================
# Input checks (errors at the boundary, in words)
# ===================================================================================
def _check_size(width: int, height: int) -> None:
    if width < 16 or height < 16 or width % 2 or height % 2:
        raise ValueError(f"width and height must be even and >= 16 (H.264 yuv420p); got {width}x{height}")


def _check_state(state: Any) -> np.ndarray:
    state = np.asarray(state, dtype=float)
    if state.shape != (4,) or not np.all(np.isfinite(state)):
        raise ValueError(f"state must be 4 finite numbers [x, x_dot, theta, theta_dot]; got {state!r}")
    return state


def _check_action(action: Any) -> int | None:
    if action is None or (isinstance(action, float) and math.isnan(action)):
        return None
    if int(action) not in (0, 1):
        raise ValueError(f"action must be 0 (push left) or 1 (push right); got {action!r}")
    return int(action)


def _check_p_right(p_right: Any) -> float | None:
    if p_right is None or math.isnan(float(p_right)):
        return None
    if not 0.0 <= float(p_right) <= 1.0:
        raise ValueError(f"p_right must be a probability in [0, 1]; got {p_right!r}")
    return float(p_right)


def _per_frame(name: str, values: Any, n_frames: int) -> list:
    """Pad a per-step series of length T or T-1 to T entries (None where missing)."""
    if values is None:
        return [None] * n_frames
    values = list(np.asarray(values).tolist())
    if len(values) not in (n_frames, n_frames - 1):
        raise ValueError(f"{name} must have T={n_frames} or T-1 entries (one per state); got {len(values)}")
    return values + [None] * (n_frames - len(values))


def _episode(states: Any, actions: Any, p_right: Any, nudges: Any) -> Iterator[tuple]:
    """Checked per-frame arguments ``(state, action, p_right, step, nudge)``."""
    states = np.asarray(states, dtype=float)
    if states.ndim != 2 or states.shape[1] != 4 or len(states) == 0:
        raise ValueError(f"states must have shape (T, 4) with T >= 1; got {states.shape}")
    n_frames = len(states)
    action_list = _per_frame("actions", actions, n_frames)
    p_list = _per_frame("p_right", p_right, n_frames)
    nudge_list = [n if n is not None else 0 for n in _per_frame("nudges", nudges, n_frames)]
    for step in range(n_frames):
        yield (
            _check_state(states[step]), _check_action(action_list[step]),
            _check_p_right(p_list[step]), step, float(nudge_list[step]),
        )  # fmt: skip


def _iter_frames(states: Any, actions: Any, p_right: Any, nudges: Any, width: int, height: int) -> Iterator[np.ndarray]:
    """Yield each (H, W, 3) frame, all drawn on one Surface; each array is a fresh copy."""
    _check_size(width, height)
    surface = _pygame().Surface((width, height))  # one per call: Streamlit sessions are threads
    for state, action, p, step, nudge in _episode(states, actions, p_right, nudges):
        _draw(surface, state, action, p, step, nudge)
        yield _to_array(surface)


# ===================================================================================
# Public API
# ===================================================================================
def render_frame(
    state: Sequence[float],
    action: int | None = None,
    p_right: float | None = None,
    step: int | None = None,
    width: int = 480,
    height: int = 320,
    nudge: float = 0,
) -> np.ndarray:
    """Draw one CartPole state; returns a (height, width, 3) uint8 RGB array.

    ``action`` (0 left, 1 right) adds an arrow on the side the cart is pushed toward, longer
    the likelier the policy made it (``p_right``). With ``p_right`` but no action, both
    arrows are drawn faded. ``step`` adds a "step N" counter; ``nudge != 0`` marks a nudge.
    """
    _check_size(width, height)
    surface = _pygame().Surface((width, height))
    nudge = 0.0 if nudge is None else float(nudge)
    _draw(surface, _check_state(state), _check_action(action), _check_p_right(p_right), step, nudge)
    return _to_array(surface).copy()  # writable


def render_frames(
    states: Any,
    actions: Any = None,
    p_right: Any = None,
    nudges: Any = None,
    width: int = 480,
    height: int = 320,
) -> np.ndarray:
    """Draw an episode; returns (T, height, width, 3) uint8, frame t labelled "step t".

    ``states`` is (T, 4); ``actions`` and ``p_right`` are (T,) or (T-1,) (the last state
    often has no action); ``nudges`` is (T,). Same pixels as ``render_frame`` per state.
    """
    n_frames = len(states)
    frames = np.empty((n_frames, height, width, 3), dtype=np.uint8)
    for t, frame in enumerate(_iter_frames(states, actions, p_right, nudges, width, height)):
        frames[t] = frame
    return frames


class _Mp4Writer:
    """In-memory H.264 (yuv420p) MP4 writer on PyAV, with the moov atom at the front."""

    def __init__(self, width: int, height: int, fps: int) -> None:
        _check_size(width, height)
        av = _av()
        self._buffer = io.BytesIO()
        self._container = av.open(self._buffer, mode="w", format="mp4", options={"movflags": "+faststart"})
        self._stream = self._container.add_stream("libx264", rate=fps)
        self._stream.width, self._stream.height = width, height
        self._stream.pix_fmt = "yuv420p"
        self._stream.thread_count = X264_THREADS
        self._stream.options = {"preset": X264_PRESET, "crf": str(X264_CRF)}
        self._from_ndarray = av.VideoFrame.from_ndarray

    def write(self, frame: np.ndarray) -> None:
        """Encode one (H, W, 3) uint8 RGB frame."""
        video_frame = self._from_ndarray(frame, format="rgb24")
        self._container.mux(self._stream.encode(video_frame))

    def finish(self) -> bytes:
        """Flush the encoder, write the index, and return the file's bytes."""
        self._container.mux(self._stream.encode(None))
        self._container.close()
        return self._buffer.getvalue()


def encode_mp4(frames: Any, fps: int = 50) -> bytes:
    """Encode (T, H, W, 3) uint8 RGB frames (H and W even) as a browser-playable MP4.

    H.264 in yuv420p with ``+faststart``, so a ``<video>`` tag can start before the end
    has arrived. Accepts any iterable of frames, so frames can be encoded as they are made.
    """
    writer = None
    for frame in frames:
        frame = np.asarray(frame)
        if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
            raise ValueError(f"each frame must be (H, W, 3) uint8 RGB; got {frame.shape} {frame.dtype}")
        if writer is None:
            writer = _Mp4Writer(frame.shape[1], frame.shape[0], fps)
        writer.write(frame)
    if writer is None:
        raise ValueError("encode_mp4 needs at least one frame")
    return writer.finish()


def replay_video(
    states: Any,
    actions: Any = None,
    p_right: Any = None,
    nudges: Any = None,
    fps: int = 50,
    width: int = 480,
    height: int = 320,
) -> bytes:
    """Render an episode and encode it as MP4 bytes (T frames, T / fps seconds).

    Frames go to the encoder as they are drawn (never all held in memory), and x264
    works on them in its own threads while Python draws the next one.
    """
    return encode_mp4(_iter_frames(states, actions, p_right, nudges, width, height), fps=fps)
