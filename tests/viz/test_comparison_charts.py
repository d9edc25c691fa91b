"""pg.viz.comparison_charts: the Compare page's chart builders read the named datasets they
declare, colour every estimator alike, put the relative variance and the cosine to the reference
on their y axes, and turn rows into finite frames (the datasets of a real comparison:
tests/lessons/test_comparison.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pg.viz.comparison_charts import (
    CHECKPOINT_TITLES,
    COSINE_KEYS,
    DATASETS,
    PANELS,
    VARIANCE_KEYS,
    bar_floor,
    compare_datasets,
    compare_specs,
    panel_chart,
    with_data,
)
from pg.viz.style import FONT_SIZES

LABELS = ("REINFORCE: whole return G₀", "actor-critic TD(0)")
EMPTY_CURVES = {x: {"estimator": [], "x": [], "median": [], "low": [], "high": []} for x in ("env_steps", "wall_time")}
NO_SOLVES = {"estimator": [], "seed": [], "env_steps": [], "wall_time": [], "mean_return": []}


def _layers(spec):
    return spec.get("layer", [spec])


def _row(estimator, checkpoint, reference=True, **changes):
    row = {"estimator": estimator, "checkpoint": checkpoint, "variance": 100.0, "relative_variance": 0.5,
           "cosine_mean": 0.9, "cosine_std": 0.1}
    ref = {"cosine_reference": 0.6, "cosine_reference_std": 0.2, "cosine_reference_se": 0.03,
           "cosine_mean_reference": 0.7, "threshold_cosine": 0.9, "angle_reference": 45.0, "noise_angle": 8.0,
           "reference_relative_noise": 0.1}
    return {**row, **(ref if reference else dict.fromkeys(ref)), **changes}


def test_chart_specs_read_named_data_with_one_colour_per_estimator():
    specs = compare_specs(LABELS)
    assert set(specs) == set(PANELS)
    for panel, spec in specs.items():
        assert "datasets" not in spec
        names = {layer["data"]["name"] for layer in _layers(spec) if "data" in layer}
        names |= {spec["data"]["name"]} if "data" in spec else set()
        assert names == set(DATASETS[panel])
        colors = [layer["encoding"]["color"] for layer in _layers(spec) if "color" in layer.get("encoding", {})]
        assert colors and all(c["scale"]["domain"] == list(LABELS) for c in colors)
    steps = _layers(specs["env_steps"])
    assert steps[0]["mark"]["type"] == "area" and steps[0]["encoding"]["y2"]["field"] == "high"
    assert steps[1]["encoding"]["y"]["field"] == "median" and steps[-1]["encoding"]["x"]["field"] == "env_steps"
    assert _layers(specs["wall_time"])[-1]["encoding"]["x"]["field"] == "wall_time"


def test_the_variance_panel_shows_the_relative_variance_and_keeps_the_raw_one_for_the_tooltip():
    spec = compare_specs(LABELS)["variance"]
    bars, text = _layers(spec)
    assert spec["title"]["text"] == "Relative variance at a fixed policy"
    assert bars["encoding"]["y"]["field"] == "relative_variance" and bars["encoding"]["y"]["scale"]["type"] == "log"
    assert text["encoding"]["text"]["field"] == "relative_variance" and bars["encoding"]["y2"]["field"] == "floor"
    assert bars["encoding"]["xOffset"]["field"] == "estimator"
    assert "variance" in [t["field"] for t in bars["encoding"]["tooltip"]]


def test_the_cosine_panel_measures_against_the_reference():
    bars, spread, threshold, mean = _layers(compare_specs(LABELS)["cosine"])
    assert bars["encoding"]["y"]["field"] == "cosine_reference" and bars["encoding"]["y"]["scale"]["domain"] == [-1, 1]
    assert "cosine_reference - datum.cosine_reference_std" in spread["transform"][0]["calculate"]
    assert threshold["mark"]["type"] == "tick" and threshold["encoding"]["y"]["field"] == "threshold_cosine"
    assert mean["mark"]["shape"] == "diamond" and mean["encoding"]["y"]["field"] == "cosine_mean_reference"
    fields = {t["field"] for t in bars["encoding"]["tooltip"]}
    assert {"cosine_mean", "reference_relative_noise", "cosine_reference_se"} <= fields


def test_large_charts_use_the_projector_type_sizes():
    for panel in ("variance", "cosine"):
        normal, large = panel_chart(panel, LABELS).to_dict(), panel_chart(panel, LABELS, large=True).to_dict()
        assert normal["config"]["axis"]["labelFontSize"] == FONT_SIZES["normal"]["label"]
        assert large["config"]["axis"]["labelFontSize"] == FONT_SIZES["large"]["label"]
        assert large["title"]["subtitleFontSize"] > normal["title"]["subtitleFontSize"]
    with pytest.raises(ValueError, match="panel must be one of"):
        panel_chart("pie", LABELS)


def test_datasets_hold_the_cosines_only_once_a_reference_is_measured_and_never_a_nan():
    rows = [_row(LABELS[0], "start"), _row(LABELS[1], "start", relative_variance=math.inf),
            _row(LABELS[0], "mid", reference=False), _row(LABELS[1], "mid", reference=False, variance=0.0)]
    data = compare_datasets(EMPTY_CURVES, NO_SOLVES, rows)
    variance, cosine = data["variance"], data["cosine"]
    assert list(variance.columns) == list(VARIANCE_KEYS) and list(cosine.columns) == list(COSINE_KEYS)
    # the infinite relative variance and the zero variance (no log bar) are dropped; the rows
    # without a reference are in the variance data, not the cosine data
    assert variance[["estimator", "checkpoint"]].values.tolist() == [[LABELS[0], CHECKPOINT_TITLES["start"]],
                                                                     [LABELS[0], CHECKPOINT_TITLES["mid"]]]
    assert cosine["estimator"].tolist() == list(LABELS) and set(cosine["checkpoint"]) == {CHECKPOINT_TITLES["start"]}
    assert variance["floor"].tolist() == [0.1, 0.1]  # a power of ten at or below half of 0.5
    for frame in data.values():
        assert np.isfinite(frame.select_dtypes("number").to_numpy()).all()
    spec = with_data(compare_specs(LABELS)["cosine"], "cosine", data)
    assert list(spec["datasets"]) == ["cosine"] and spec["datasets"]["cosine"] is cosine


@pytest.mark.parametrize("values, floor", [([0.104, 118.0], 0.01), ([0.2, 3.0], 0.1), ([0.21], 0.1), ([5.0], 1.0),
                                           ([], 1.0)])
def test_log_bars_start_a_power_of_ten_below_half_the_smallest_value(values, floor):
    assert bar_floor(values) == pytest.approx(floor)
    assert all(v >= 2 * bar_floor(values) for v in values)
