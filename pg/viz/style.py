"""One look for every chart: the blue-white-red policy palette and type sizes that read at
projector distance."""

from __future__ import annotations

import math

import numpy as np

PUSH_LEFT = "#2166ac"  # P(right) = 0: blue
NEUTRAL = "#f7f7f7"  # P(right) = 0.5: white
PUSH_RIGHT = "#b2182b"  # P(right) = 1: red
UNDECIDED_DOT = "#8c8c8c"  # P(right) = 0.5 for dots on white, where white would vanish: grey
BOUNDARY = "#000000"  # the P = 0.5 decision boundary over the heatmap
INK = "#1a1a1a"
MUTED = "#6b7280"
GRID = "#e5e7eb"
GREEN, PURPLE, ORANGE, GREY = "#1b7837", "#762a83", "#e08214", "#4d4d4d"
SERIES = [PUSH_RIGHT, PUSH_LEFT, GREEN, PURPLE, ORANGE, GREY]
"""one colour per series (estimators, diagnostics), in this order"""

FONT_SIZES = {"normal": {"label": 13, "title": 15, "legend": 13}, "large": {"label": 18, "title": 21, "legend": 18}}
TEXT_SIZES = {"normal": 12, "large": 16}
"""text marks inside a chart (values on bars, the solve bars' labels) and subtitles"""


def styled(chart, large: bool = False):
    """Apply the shared axis, legend and view settings to a top-level chart."""
    sizes = FONT_SIZES["large" if large else "normal"]
    return (
        chart.configure_axis(
            labelFontSize=sizes["label"], titleFontSize=sizes["title"], titleFontWeight="normal",
            labelColor=INK, titleColor=INK, gridColor=GRID, labelLimit=220,
        )
        .configure_legend(labelFontSize=sizes["legend"], titleFontSize=sizes["legend"], labelLimit=260)
        .configure_title(fontSize=sizes["title"] + 1, anchor="start", color=INK)
        .configure_view(strokeWidth=0)
    )


def finite_rows(columns: dict) -> dict:
    """Drop the rows where any numeric column is NaN or infinite: never chart a NaN."""
    keep = None
    for values in columns.values():
        arr = np.asarray(values)
        if arr.dtype.kind in "fc":
            ok = np.isfinite(arr)
            keep = ok if keep is None else keep & ok
    if keep is None:
        return dict(columns)
    return {k: np.asarray(v)[keep] for k, v in columns.items()}


def nice_log_ticks(low: float, high: float) -> list[float]:
    """Powers of ten between low and high (for log axes that should not crowd)."""
    return [10.0**k for k in range(math.floor(math.log10(low)), math.ceil(math.log10(high)) + 1)]
