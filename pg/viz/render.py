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
nudges     (T,) or (T-1,)  0 = no nudge; sign = direction of the nudge (+ = right)
frame      (H, W, 3)       uint8 RGB picture
frames     (T, H, W, 3)    uint8 RGB pictures
=========  ==============  =========================================================

pygame (for drawing) and PyAV (for H.264 encoding) are imported lazily, inside the
functions that need them, so ``import pg.viz.render`` costs nothing. pygame runs headless:
no window, no audio, and ``pygame.init()`` is never called.

>>> frame = render_frame([0.0, 0.0, 0.1, 0.0], action=1, p_right=0.8, step=3)
>>> frame.shape, frame.dtype
((320, 480, 3), dtype('uint8'))
"""

from __future__ import annotations

import math
import os
import sys
import tempfile
import threading
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from fractions import Fraction
from functools import lru_cache
from typing import Any

import numpy as np

from pg.envs.cartpole import THETA_THRESHOLD

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
WHEEL_SPREAD = 0.55
"""Wheel centres sit this fraction of the cart's half-width from its middle."""
CART_CORNER_M = 0.03

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
THRESHOLD_POST_HEIGHT_M = POLE_LENGTH_M + 0.35
THRESHOLD_DASH_M = 0.05
NUDGE_RADIUS_M = 0.14
NUDGE_SPIKES = 9
NUDGE_AT_POLE_FRACTION = 0.7
"""Where the nudge burst hits the pole, as a fraction of the way from axle to tip."""
NUDGE_HOLD_FRAMES = 20
"""In an episode a nudge stays marked this many frames (0.4 s at 50 fps), fading in the
second half: one frame (20 ms) would flash by unseen."""
TEXT_HEIGHT_FRACTION = 0.085
"""Font size of the step counter, as a fraction of the frame height."""
MARGIN_FRACTION = 0.03
GAUGE_WIDTH_FRACTION = 0.28
GAUGE_HEIGHT_FRACTION = 0.035

STRIP_FRACTION = 0.2
"""With a trace strip, the bottom fifth of the frame plots theta over the episode's time
axis, with a playhead at the frame's step: the video's moment, tied to the traces below it."""
STRIP_LABEL_FRACTION = 0.18
"""The strip's left part holds its label, "θ"; its time axis starts after it, where the traces
charts under the video start theirs in a laptop's column (their y-axis gutter is about 80 of 440 px)."""
STRIP_RIGHT_FRACTION = 0.015
"""The strip's time axis ends this close to the frame's right edge, as the charts' does."""
STRIP_PAD_FRACTION = 0.12
"""Blank rows above and below the strip's plot, as a fraction of the strip's height."""
HOLD_FRAMES = 50
"""A replay holds its last frame this long (1 s at 50 fps) before it loops."""

# --- Colours -------------------------------------------------------------------------
RGB = tuple[int, int, int]
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
THETA_TRACE_RGB = (118, 42, 131)  # pg.viz.style.PURPLE: the theta trace of the charts
PLAYHEAD_RGB = (40, 40, 40)
END_LABEL_RGB = (40, 40, 40)
FADED_ARROW_MIX = 0.45
"""How far toward the background an arrow is faded when no action was taken."""

# --- Video encoding ------------------------------------------------------------------
X264_PRESET = "ultrafast"
"""Fastest x264 preset: about 340 KB per 10 s at 480x320 ("veryfast": 120 KB, 2x the time)."""
X264_CRF = 23
"""x264 constant quality (lower = better and bigger); 23 is x264's default."""
X264_THREADS = 1
"""One x264 thread: the other core draws frames (2 threads measured slower on 2 cores)."""
SWS_INTERPOLATION = "POINT"
"""Chroma filter for RGB -> yuv420p (FFmpeg swscale). No scaling happens (same size in and out):
it only picks how the 2x2 chroma blocks are taken. POINT converts a 480x320 frame in 0.26 ms
against FAST_BILINEAR's 0.51 ms (the conversion was half of a clip's profile), and decoded
frames differ from FAST_BILINEAR's by 0.35 levels on average (issue "Instant")."""
MAX_FRAMES_IN_FLIGHT = 8
"""Frames converted but not yet encoded; bounds memory (~230 KB per 480x320 frame)."""


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
            "pg.viz.render needs pygame to draw CartPole frames. "
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
            "pg.viz.render needs PyAV to encode MP4 replays. Install it with `pip install av` "
            "(its wheels bundle FFmpeg with libx264)."
        ) from err
    return av


# ===================================================================================
# Cached drawing resources (fonts, glyphs, the static background), shared by all calls
# ===================================================================================
_DRAW_LOCK = threading.RLock()
"""SDL fonts and surfaces are not thread-safe, and Streamlit runs each session in a thread:
drawing (~0.2 ms a frame) holds this lock; encoding, the slow part, does not."""


@lru_cache(maxsize=16)
def _font(size: int) -> Any:
    return _pygame().font.Font(None, size)  # pygame's bundled default font


def _font_size(height: int) -> int:
    return max(10, round(TEXT_HEIGHT_FRACTION * height))


@lru_cache(maxsize=1024)
def _text(label: str, size: int, rgb: RGB) -> Any:
    """A rendered, antialiased text surface (with alpha), cached by content."""
    return _font(size).render(label, True, rgb)


def _blit_text(surface: Any, label: str, size: int, rgb: RGB, topleft: tuple[int, int]) -> None:
    """Blit ``label`` one cached glyph at a time: numbers change every frame, digits do not."""
    column, row = topleft
    for char in label:
        glyph = _text(char, size, rgb)
        surface.blit(glyph, (column, row))
        column += glyph.get_width()


def _text_width(label: str, size: int) -> int:
    return sum(_text(char, size, TEXT_RGB).get_width() for char in label)


@lru_cache(maxsize=8)
def _background(width: int, height: int) -> Any:
    """Everything that never moves: sky, ground, track line and the +-2.4 m markers."""
    pygame = _pygame()
    surface = pygame.Surface((width, height))
    surface.fill(BACKGROUND_RGB)
    track_row = round(track_y_pixel(height))
    pygame.draw.rect(surface, GROUND_RGB, (0, track_row, width, height - track_row))
    pygame.draw.line(surface, TRACK_RGB, (0, track_row), (width, track_row), 2)
    _draw_threshold_markers(surface)
    return surface


def _draw_threshold_markers(surface: Any) -> None:
    """Dashed posts at x = -2.4 m and x = +2.4 m (the frame edges), labelled below the track."""
    pygame = _pygame()
    width, height = surface.get_size()
    scale = pixels_per_metre(width)
    track_row = round(track_y_pixel(height))
    top_row = round(track_row - THRESHOLD_POST_HEIGHT_M * scale)
    dash = max(3, round(THRESHOLD_DASH_M * scale))
    label_size = max(10, round(0.7 * _font_size(height)))
    for sign in (-1, 1):
        column = round(width / 2 + sign * X_THRESHOLD_M * scale)
        column = min(max(column, 2), width - 3)  # keep the 3 px post inside the frame
        for row in range(top_row, track_row, 2 * dash):
            pygame.draw.line(surface, THRESHOLD_RGB, (column, row), (column, min(row + dash, track_row)), 3)
        label = _text(f"{sign * X_THRESHOLD_M:+.1f} m", label_size, THRESHOLD_RGB)
        label_column = column + 6 if sign < 0 else column - 6 - label.get_width()
        surface.blit(label, (label_column, track_row + 6))


# ===================================================================================
# Drawing one frame (each part reads the frame size from the surface)
# ===================================================================================
def _mix(rgb: RGB, amount: float) -> RGB:
    """``rgb`` moved ``amount`` of the way toward the background colour."""
    return tuple(round(c + amount * (b - c)) for c, b in zip(rgb, BACKGROUND_RGB))


def _draw_cart(surface: Any, state: np.ndarray) -> None:
    """Rounded body on two wheels that touch the track."""
    pygame = _pygame()
    width, height = surface.get_size()
    scale = pixels_per_metre(width)
    column, row = cart_center_pixel(state, width, height)
    half_w, half_h = CART_WIDTH_M / 2 * scale, CART_HEIGHT_M / 2 * scale
    wheel_r = WHEEL_RADIUS_M * scale
    for offset in (-WHEEL_SPREAD * half_w, WHEEL_SPREAD * half_w):
        pygame.draw.aacircle(surface, WHEEL_RGB, (column + offset, row + half_h + wheel_r), wheel_r)
    body = pygame.Rect(0, 0, round(2 * half_w), round(2 * half_h))
    body.center = (round(column), round(row))
    pygame.draw.rect(surface, CART_RGB, body, border_radius=max(1, round(CART_CORNER_M * scale)))


def _draw_pole(surface: Any, state: np.ndarray) -> None:
    """Thick antialiased line from the axle to the tip, round tip, axle cap on top."""
    pygame = _pygame()
    width, height = surface.get_size()
    scale = pixels_per_metre(width)
    axle, tip = axle_pixel(state, width, height), pole_tip_pixel(state, width, height)
    thickness = max(2, round(POLE_THICKNESS_M * scale))
    pygame.draw.aaline(surface, POLE_RGB, axle, tip, thickness)
    pygame.draw.aacircle(surface, POLE_RGB, tip, thickness / 2)
    pygame.draw.aacircle(surface, CART_RGB, axle, AXLE_RADIUS_M * scale + 1.5)  # dark rim
    pygame.draw.aacircle(surface, AXLE_RGB, axle, AXLE_RADIUS_M * scale)


def _draw_arrow(surface: Any, state: np.ndarray, direction: int, probability: float, rgb: RGB) -> None:
    """Arrow beside the cart on the side it pushes toward (``direction`` -1 or +1)."""
    pygame = _pygame()
    width, height = surface.get_size()
    scale = pixels_per_metre(width)
    column, row = cart_center_pixel(state, width, height)
    start = column + direction * (CART_WIDTH_M / 2 + ARROW_GAP_M) * scale
    end = start + direction * (ARROW_MIN_LENGTH_M + ARROW_GAIN_LENGTH_M * probability) * scale
    head_base = end - direction * ARROW_HEAD_LENGTH_M * scale
    shaft, head = ARROW_SHAFT_M * scale / 2, ARROW_HEAD_WIDTH_M * scale / 2
    points = [
        (start, row - shaft), (head_base, row - shaft), (head_base, row - head), (end, row),
        (head_base, row + head), (head_base, row + shaft), (start, row + shaft),
    ]  # fmt: skip
    pygame.draw.polygon(surface, rgb, points)
    pygame.draw.aalines(surface, rgb, True, points)


def _draw_actions(surface: Any, state: np.ndarray, action: int | None, p_right: float | None) -> None:
    """The action taken (solid arrow), or both options faded if only ``p_right`` is known."""
    if action is not None:
        right = action == 1
        probability = 1.0 if p_right is None else (p_right if right else 1 - p_right)
        rgb = PUSH_RIGHT_RGB if right else PUSH_LEFT_RGB
        _draw_arrow(surface, state, 1 if right else -1, probability, rgb)
    elif p_right is not None:
        _draw_arrow(surface, state, -1, 1 - p_right, _mix(PUSH_LEFT_RGB, FADED_ARROW_MIX))
        _draw_arrow(surface, state, 1, p_right, _mix(PUSH_RIGHT_RGB, FADED_ARROW_MIX))


def _draw_nudge(surface: Any, state: np.ndarray, nudge: float, fade: float) -> None:
    """An amber burst hitting the pole from the side it is pushed from, labelled "nudge!".

    ``fade`` in [0, 1] moves its colours toward the background (1 = gone).
    """
    pygame = _pygame()
    width, height = surface.get_size()
    direction = 1 if nudge > 0 else -1
    (axle_x, axle_y), (tip_x, tip_y) = axle_pixel(state, width, height), pole_tip_pixel(state, width, height)
    hit_x = axle_x + NUDGE_AT_POLE_FRACTION * (tip_x - axle_x)
    hit_y = axle_y + NUDGE_AT_POLE_FRACTION * (tip_y - axle_y)
    radius = NUDGE_RADIUS_M * pixels_per_metre(width)
    burst_x = min(max(hit_x - direction * 1.3 * radius, radius), width - radius)  # stay in frame
    star = _star_points(burst_x, hit_y, radius)
    pygame.draw.polygon(surface, _mix(NUDGE_RGB, fade), star)
    pygame.draw.aalines(surface, _mix(NUDGE_RGB, fade), True, star)
    label = _text("nudge!", _font_size(height), _mix(NUDGE_TEXT_RGB, fade))
    label_x = _nudge_label_x(label.get_width(), burst_x, hit_x, radius, direction, width)
    surface.blit(label, (round(label_x), round(hit_y - label.get_height() / 2)))


def _star_points(centre_x: float, centre_y: float, radius: float) -> list[tuple[float, float]]:
    """Outline of a star with ``NUDGE_SPIKES`` tips at ``radius`` and notches at half of it."""
    corners = range(2 * NUDGE_SPIKES)
    radii = [radius if k % 2 == 0 else radius / 2 for k in corners]
    angles = [math.pi * k / NUDGE_SPIKES for k in corners]
    return [(centre_x + r * math.cos(a), centre_y + r * math.sin(a)) for r, a in zip(radii, angles)]


def _nudge_label_x(
    label_width: int, burst_x: float, hit_x: float, radius: float, direction: int, width: int
) -> float:
    """Left edge of the label: beyond the burst, away from the pole; else across the pole."""
    if direction > 0:  # burst on the pole's left
        outside = burst_x - 1.2 * radius - label_width
        across = max(hit_x + 0.6 * radius, burst_x + 1.2 * radius)
    else:
        outside = burst_x + 1.2 * radius
        across = min(hit_x - 0.6 * radius, burst_x - 1.2 * radius) - label_width
    return outside if 2 <= outside <= width - label_width - 2 else across


def _draw_step(surface: Any, step: int) -> None:
    """Write "step N" in the top-left corner."""
    height = surface.get_height()
    margin, size = round(MARGIN_FRACTION * height), _font_size(height)
    _blit_text(surface, f"step {step}", size, TEXT_RGB, (margin, margin))


def _draw_gauge(surface: Any, p_right: float) -> None:
    """Top right: "P(right) 0.73" over a bar, blue share = P(left), red share = P(right)."""
    pygame = _pygame()
    width, height = surface.get_size()
    margin, size = round(MARGIN_FRACTION * height), _font_size(height)
    label = f"P(right) {p_right:.2f}"
    _blit_text(surface, label, size, TEXT_RGB, (width - margin - _text_width(label, size), margin))
    bar_w, bar_h = round(GAUGE_WIDTH_FRACTION * width), max(4, round(GAUGE_HEIGHT_FRACTION * height))
    left, top = width - margin - bar_w, margin + _font(size).get_linesize() + 2
    split = round(bar_w * (1 - p_right))
    pygame.draw.rect(surface, PUSH_LEFT_RGB, (left, top, split, bar_h))
    pygame.draw.rect(surface, PUSH_RIGHT_RGB, (left + split, top, bar_w - split, bar_h))
    middle = left + bar_w // 2
    pygame.draw.line(surface, TEXT_RGB, (middle, top - 2), (middle, top + bar_h + 1))  # P = 0.5


def _draw(
    surface: Any, state: np.ndarray, action: int | None, p_right: float | None, step: int | None,
    nudge: float, nudge_fade: float = 0.0,
) -> None:  # fmt: skip
    """Draw one complete frame onto ``surface`` (whose size sets the frame size)."""
    with _DRAW_LOCK:
        surface.blit(_background(*surface.get_size()), (0, 0))
        _draw_actions(surface, state, action, p_right)
        _draw_cart(surface, state)
        _draw_pole(surface, state)
        if nudge != 0:
            _draw_nudge(surface, state, nudge, nudge_fade)
        if step is not None:
            _draw_step(surface, step)
        if p_right is not None:
            _draw_gauge(surface, p_right)


def _strip_points(thetas: np.ndarray, strip_steps: int, width: int, height: int) -> list[tuple[float, float]]:
    """Pixel (column, row) of theta_t in a ``width`` x ``height`` strip: t from 0 to
    ``strip_steps`` across, +-12 degrees (the failure angle) at the plot's top and bottom
    (beyond is drawn on the edge)."""
    pad = STRIP_PAD_FRACTION * height
    left, right = STRIP_LABEL_FRACTION * width, (1 - STRIP_RIGHT_FRACTION) * width
    columns = left + np.arange(len(thetas)) / max(strip_steps, 1) * (right - left)
    rows = height / 2 - np.clip(thetas / THETA_THRESHOLD, -1, 1) * (height / 2 - pad)
    return list(zip(columns.tolist(), rows.tolist()))


def _strip_background(points: list, width: int, height: int) -> Any:
    """The strip's still parts: "θ" on the left, the +-12 degree limits (dashed), the whole
    trace faint."""
    pygame = _pygame()
    surface = pygame.Surface((width, height))
    surface.fill(BACKGROUND_RGB)
    pad = round(STRIP_PAD_FRACTION * height)
    left = round(STRIP_LABEL_FRACTION * width)
    for row in (pad, height - pad):
        for column in range(left, width, 8):
            pygame.draw.line(surface, THRESHOLD_RGB, (column, row), (column + 3, row))
    pygame.draw.line(surface, GROUND_RGB, (left, height // 2), (width, height // 2))
    if len(points) > 1:
        pygame.draw.aalines(surface, _mix(THETA_TRACE_RGB, 0.7), False, points)
    size = max(10, round(0.4 * height))
    _blit_text(surface, "θ", size, THETA_TRACE_RGB, (left // 2 - size // 4, (height - size) // 2))
    return surface


def _draw_strip(surface: Any, background: Any, points: list, step: int) -> None:
    """The strip at ``step``: the trace so far in full colour and a playhead at ``step``."""
    pygame = _pygame()
    surface.blit(background, (0, 0))
    shown = points[: step + 1]
    if len(shown) > 1:
        pygame.draw.lines(surface, THETA_TRACE_RGB, False, shown, 2)
    column, row = shown[-1]
    pygame.draw.line(surface, PLAYHEAD_RGB, (column, 0), (column, surface.get_height()), 2)
    pygame.draw.aacircle(surface, THETA_TRACE_RGB, (column, row), 4)


def _draw_end_label(surface: Any, label: str) -> None:
    """``label`` ("fell at step 19") in a box across the top middle of the scene."""
    pygame = _pygame()
    width, height = surface.get_size()
    size = _font_size(height)
    text_width, line = _text_width(label, size), _font(size).get_linesize()
    box = pygame.Rect(0, 0, text_width + line, round(1.5 * line))
    box.center = (width // 2, round(0.3 * height))
    pygame.draw.rect(surface, BACKGROUND_RGB, box, border_radius=6)
    pygame.draw.rect(surface, END_LABEL_RGB, box, width=2, border_radius=6)
    _blit_text(surface, label, size, END_LABEL_RGB, (box.left + line // 2, box.top + round(0.25 * line)))


def _to_array(surface: Any) -> np.ndarray:
    """(H, W, 3) uint8 read-only copy of the surface's RGB pixels (``tobytes``: ~5x ``surfarray``)."""
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


def nudge_markers(nudges: Any, hold_frames: int = NUDGE_HOLD_FRAMES) -> tuple[np.ndarray, np.ndarray]:
    """Which nudge each frame of an episode shows, and how faded: ``(shown, fade)``, (T,) each.

    A nudge at step t stays marked on frames t ... t + hold_frames - 1 (a newer nudge
    replaces it), at full colour (fade 0) for the first half, then fading toward 1.
    ``nudges`` is (T,); frames without a marker get ``shown = 0``, ``fade = 0``.
    """
    values = np.nan_to_num(np.asarray(nudges, dtype=float).reshape(-1))
    shown, fade = np.zeros(len(values)), np.zeros(len(values))
    full_colour_frames = hold_frames // 2
    last_nudge = None
    for t, value in enumerate(values):
        if value != 0:
            last_nudge = t
        if last_nudge is not None and t - last_nudge < hold_frames:
            age = t - last_nudge
            shown[t] = values[last_nudge]
            fade[t] = max(0, age + 1 - full_colour_frames) / (hold_frames - full_colour_frames + 1)
    return shown, fade


def _episode(states: Any, actions: Any, p_right: Any, nudges: Any) -> Iterator[tuple]:
    """Checked per-frame arguments of ``_draw``: ``(state, action, p_right, step, nudge, fade)``."""
    states = np.asarray(states, dtype=float)
    if states.ndim != 2 or states.shape[1] != 4 or len(states) == 0:
        raise ValueError(f"states must have shape (T, 4) with T >= 1; got {states.shape}")
    n_frames = len(states)
    action_list = _per_frame("actions", actions, n_frames)
    p_list = _per_frame("p_right", p_right, n_frames)
    shown, fade = nudge_markers([n or 0.0 for n in _per_frame("nudges", nudges, n_frames)])
    for step in range(n_frames):
        yield (
            _check_state(states[step]), _check_action(action_list[step]),
            _check_p_right(p_list[step]), step, float(shown[step]), float(fade[step]),
        )  # fmt: skip


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
    often has no action); ``nudges`` is (T,). Frame t is ``render_frame`` of state t, except
    that a nudge stays marked (fading) for ``NUDGE_HOLD_FRAMES`` frames (see ``nudge_markers``).
    The result is T * H * W * 3 bytes (230 MB for 500 frames of 480x320): for a video, use
    ``replay_video``, which streams frames into the encoder instead.
    """
    _check_size(width, height)
    episode = list(_episode(states, actions, p_right, nudges))  # check every input first
    frames = np.empty((len(episode), height, width, 3), dtype=np.uint8)
    surface = _pygame().Surface((width, height))  # one per call: Streamlit sessions are threads
    for t, frame_args in enumerate(episode):
        _draw(surface, *frame_args)
        frames[t] = _to_array(surface)
    return frames


class _Mp4Writer:
    """H.264 (yuv420p) MP4 writer on PyAV, with the index (moov atom) at the front.

    Colour conversion runs in the caller's thread and x264 in one worker thread, so on
    two cores the next frame is drawn and converted while the previous one is encoded
    (both release the GIL). FFmpeg's ``+faststart`` rewrites the file after the last frame,
    which needs a real file, so the MP4 goes through a temporary directory.
    """

    def __init__(self, width: int, height: int, fps: float) -> None:
        _check_size(width, height)
        if not (math.isfinite(fps) and fps > 0):
            raise ValueError(f"fps must be a positive number of frames per second; got {fps!r}")
        av = _av()
        from av.video.reformatter import VideoReformatter

        self._av, self._size, self._n_frames = av, (width, height), 0
        self._time_base = Fraction(1, 1) / Fraction(fps).limit_denominator(1001)
        self._tmpdir = tempfile.TemporaryDirectory(prefix="pg-render-")
        self._path = os.path.join(self._tmpdir.name, "replay.mp4")
        self._container = av.open(self._path, mode="w", format="mp4", options={"movflags": "+faststart"})
        self._stream = self._container.add_stream("libx264", rate=1 / self._time_base)
        self._stream.width, self._stream.height = width, height
        self._stream.pix_fmt = "yuv420p"
        self._stream.thread_count = X264_THREADS
        self._stream.options = {"preset": X264_PRESET, "crf": str(X264_CRF)}
        self._to_yuv = VideoReformatter()
        self._encoder = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pg-x264")
        self._pending: deque[Future] = deque()

    def write_rgb(self, frame: np.ndarray) -> None:
        """Queue one (H, W, 3) uint8 RGB frame."""
        if frame.shape != (self._size[1], self._size[0], 3) or frame.dtype != np.uint8:
            expected = f"({self._size[1]}, {self._size[0]}, 3) uint8"
            raise ValueError(f"each frame must be {expected} like the first; got {frame.shape} {frame.dtype}")
        self._submit(self._av.VideoFrame.from_numpy_buffer(np.ascontiguousarray(frame), format="rgb24"))

    def write_surface(self, surface: Any, at: int | None = None) -> None:
        """Queue a pygame Surface's pixels, read straight from its buffer (no RGB copy), as the
        frame shown from frame time ``at`` (default: the next one; times only move forward)."""
        if at is not None:
            if at < self._n_frames:
                raise ValueError(f"frame time {at} is before the next one, {self._n_frames}")
            self._n_frames = int(at)
        pixel_format = _raw_pixel_format(surface)
        if pixel_format is None:
            self.write_rgb(_to_array(surface))
            return
        raw = np.frombuffer(surface.get_buffer(), np.uint8).reshape(self._size[1], self._size[0], 4)
        self._submit(self._av.VideoFrame.from_numpy_buffer(raw, format=pixel_format))

    def hold(self, surface: Any, frames: int) -> None:
        """Show ``surface`` for the next ``frames`` frame times, encoded as two frames at most:
        one now and one at the last of those times (an MP4's frames may last any time, and an
        encoded frame costs as much as a drawn one). The clip's duration is as if each had
        been written."""
        if frames >= 1:
            last = self._n_frames + frames - 1
            self.write_surface(surface)
            if frames >= 2:
                self.write_surface(surface, at=last)  # the frame times in between: nothing sent

    def _submit(self, rgb_frame: Any) -> None:
        """Convert to yuv420p now (a copy: ``rgb_frame`` may share memory with the caller's
        pixels), then hand the copy to the encoder thread."""
        yuv_frame = self._to_yuv.reformat(
            rgb_frame, format="yuv420p", interpolation=SWS_INTERPOLATION, threads=1
        )
        yuv_frame.pts, yuv_frame.time_base = self._n_frames, self._time_base
        self._n_frames += 1
        self._pending.append(self._encoder.submit(self._encode, yuv_frame))
        while len(self._pending) > MAX_FRAMES_IN_FLIGHT:
            self._pending.popleft().result()  # re-raises encoder errors here

    def _encode(self, yuv_frame: Any) -> None:
        self._container.mux(self._stream.encode(yuv_frame))

    def finish(self) -> bytes:
        """Flush the encoder, write the index, and return the file's bytes."""
        if self._n_frames == 0:
            raise ValueError("an MP4 needs at least one frame")
        self._pending.append(self._encoder.submit(self._encode, None))  # None flushes x264
        while self._pending:
            self._pending.popleft().result()
        self._container.close()
        with open(self._path, "rb") as file:
            return file.read()

    def close(self) -> None:
        """Stop the worker and delete the temporary file (also after an error)."""
        self._encoder.shutdown(wait=True, cancel_futures=True)
        try:
            self._container.close()
        except Exception:  # already closed, or failed mid-write: nothing left to save
            pass
        self._tmpdir.cleanup()

    def __enter__(self) -> _Mp4Writer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _raw_pixel_format(surface: Any) -> str | None:
    """FFmpeg name of the Surface's in-memory pixel layout, if it is one we can pass on."""
    layout = (surface.get_bytesize(), surface.get_masks()[:3], surface.get_pitch() == 4 * surface.get_width())
    if sys.byteorder == "little" and layout == (4, (0xFF0000, 0xFF00, 0xFF), True):
        return "bgra"  # 0x00RRGGBB words: bytes B, G, R, unused
    return None


def encode_mp4(frames: Any, fps: float = 50) -> bytes:
    """Encode (T, H, W, 3) uint8 RGB frames (H and W even) as a browser-playable MP4.

    H.264 from x264 (``X264_PRESET``; "ultrafast" gives the Constrained Baseline profile),
    yuv420p, ``+faststart`` (index first, so a ``<video>`` tag can start playing before the
    end has arrived); T frames lasting T / fps seconds.
    ``frames`` may be any iterable of (H, W, 3) arrays, so they can be encoded as made.
    """
    iterator = iter(frames)
    first = next(iterator, None)
    if first is None:
        raise ValueError("encode_mp4 needs at least one frame")
    first = np.asarray(first)
    if first.ndim != 3 or first.shape[2] != 3:
        raise ValueError(f"each frame must be (H, W, 3) uint8 RGB; got shape {first.shape}")
    with _Mp4Writer(first.shape[1], first.shape[0], fps) as writer:
        writer.write_rgb(first)
        for frame in iterator:
            writer.write_rgb(np.asarray(frame))
        return writer.finish()


def replay_video(
    states: Any,
    actions: Any = None,
    p_right: Any = None,
    nudges: Any = None,
    fps: float = 50,
    width: int = 480,
    height: int = 320,
    n_frames: int | None = None,
    end_label: str | None = None,
    strip_steps: int | None = None,
    frame_step: int = 1,
) -> bytes:
    """Render an episode and encode it as MP4 bytes: ``max(T, n_frames)`` frames at ``fps``.

    Same pictures as ``render_frames`` (arguments as there), but each frame goes to the
    encoder as soon as it is drawn, so the episode is never held in memory as pixels. Frames
    after the T-th repeat the last one with ``end_label`` written on it, so a short episode
    holds its end instead of looping (encoded as one frame that lasts, ``_Mp4Writer.hold``). With ``strip_steps``, the bottom ``STRIP_FRACTION`` of
    the frame plots theta against time steps 0 ... strip_steps with a playhead at the frame's
    step (two clips with equal ``strip_steps`` share one time axis).

    ``frame_step`` = k draws every k-th state (and the last), each shown for k frame times: a
    clip as long, at ``fps / k`` pictures a second, made k times faster.
    """
    _check_size(width, height)
    if n_frames is not None and int(n_frames) < 1:
        raise ValueError(f"n_frames must be a positive number of frames; got {n_frames!r}")
    if strip_steps is not None and int(strip_steps) < 1:
        raise ValueError(f"strip_steps must be a positive number of time steps; got {strip_steps!r}")
    if isinstance(frame_step, bool) or not isinstance(frame_step, (int, np.integer)) or frame_step < 1:
        raise ValueError(f"frame_step must be a positive integer; got {frame_step!r}")
    frames = list(_episode(states, actions, p_right, nudges))  # checks every input first
    surface = _pygame().Surface((width, height))
    scene, strip, points, background = surface, None, [], None
    if strip_steps is not None:
        strip_height = round(STRIP_FRACTION * height)
        scene = surface.subsurface((0, 0, width, height - strip_height))
        strip = surface.subsurface((0, height - strip_height, width, strip_height))
        thetas = np.array([frame_args[0][2] for frame_args in frames])
        points = _strip_points(thetas, int(strip_steps), width, strip_height)
        background = _strip_background(points, width, strip_height)
    with _Mp4Writer(width, height, fps) as writer:
        for index, frame_args in enumerate(frames):
            if index % frame_step and index != len(frames) - 1:
                continue  # shown by the frame before it
            with _DRAW_LOCK:
                _draw(scene, *frame_args)
                if strip is not None:
                    _draw_strip(strip, background, points, frame_args[3])
            writer.write_surface(surface, at=index)
        held = max(0, int(n_frames or 0) - len(frames))
        if held and end_label:
            with _DRAW_LOCK:
                _draw_end_label(scene, end_label)
        writer.hold(surface, held)
        return writer.finish()
