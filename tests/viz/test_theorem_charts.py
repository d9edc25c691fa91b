"""pg.viz.theorem_charts: encodings, scales, titles and data of the theorem page's charts."""

import math

import numpy as np
import pytest

from pg.viz.theorem_charts import (
    EXACT,
    MEASURED,
    REFERENCE,
    convergence_chart,
    gradient_components_chart,
    variance_chart,
)


def _layers(chart) -> list[dict]:
    spec = chart.to_dict()
    assert spec["width"] == "container"  # fills its column: no hard-coded width, no scrollbar
    for layer in spec["layer"]:  # layers sharing one data frame get it at the top level
        data = layer.get("data", spec.get("data"))
        layer["values"] = spec["datasets"][data["name"]] if data else []
    return spec["layer"]


def _no_nan(layers):
    for layer in layers:
        for row in layer["values"]:
            assert all(not (isinstance(v, float) and not math.isfinite(v)) for v in row.values()), row


def _mark(layer) -> str:
    return layer["mark"]["type"] if isinstance(layer["mark"], dict) else layer["mark"]


# --- convergence ------------------------------------------------------------------------------
N = [1, 2, 4, 8, 16]
ERROR = [2.0, 1.5, 1.0, 0.7, 0.5]
LOW, HIGH = [0.5, 0.5, 0.4, 0.3, 0.2], [4.0, 3.0, 2.0, 1.2, 0.8]
REF = [2.0, 2 / math.sqrt(2), 1.0, 2 / math.sqrt(8), 0.5]


def test_convergence_chart_is_log_log_with_points_bars_and_reference_line():
    layers = _layers(convergence_chart(N, ERROR, LOW, HIGH, REF))
    assert [_mark(la) for la in layers] == ["line", "rule", "circle"]
    line, bars, points = layers
    for layer in layers:
        x = layer["encoding"]["x"]
        assert x["field"] == "n" and x["type"] == "quantitative" and x["scale"]["type"] == "log"
        assert x["title"] == ["episodes per estimate, N", "(log scale)"]  # two lines: fits a phone
    assert points["encoding"]["y"]["scale"]["type"] == "log"
    assert points["encoding"]["y"]["title"] == "error ‖ĝ − ∇J‖ (log scale)"
    assert bars["encoding"]["y"]["field"] == "low" and bars["encoding"]["y2"]["field"] == "high"
    assert line["mark"]["strokeDash"]  # the reference is dashed
    assert [r["n"] for r in points["values"]] == N and [r["error"] for r in points["values"]] == ERROR
    assert [r["low"] for r in points["values"]] == LOW and [r["high"] for r in points["values"]] == HIGH
    assert [r["error"] for r in line["values"]] == pytest.approx(REF)
    assert {r["series"] for r in points["values"]} == {MEASURED} and {r["series"] for r in line["values"]} == {REFERENCE}
    assert points["encoding"]["color"]["scale"]["domain"] == [MEASURED, REFERENCE]


def test_convergence_chart_drops_nan_and_nonpositive_rows():
    error = [2.0, math.nan, 1.0, 0.0, 0.5]
    layers = _layers(convergence_chart(N, error, LOW, HIGH, REF))
    _no_nan(layers)
    assert [r["n"] for r in layers[2]["values"]] == [1, 4, 16]  # NaN and 0 (no place on a log axis) dropped
    lo, hi = layers[2]["encoding"]["y"]["scale"]["domain"]
    assert 0 < lo < min(LOW) and hi > max(HIGH)


def test_convergence_chart_rings_the_pages_n_only_when_it_is_measured():
    layers = _layers(convergence_chart(N, ERROR, LOW, HIGH, REF, highlight_n=4))
    assert [_mark(la) for la in layers] == ["line", "rule", "circle", "rule", "point", "text"]
    assert layers[-1]["values"][0]["label"] == "your N = 4" and layers[-2]["values"][0]["n"] == 4
    assert len(_layers(convergence_chart(N, ERROR, LOW, HIGH, REF, highlight_n=5))) == 3


def test_convergence_chart_thins_crowded_ticks():
    n = [2**k for k in range(11)]
    layers = _layers(convergence_chart(n, np.ones(11), np.ones(11) / 2, np.ones(11) * 2, np.ones(11)))
    assert layers[0]["encoding"]["x"]["axis"]["values"] == [1, 4, 16, 64, 256, 1024]


# --- gradient components ----------------------------------------------------------------------
def test_gradient_components_chart_pairs_exact_and_estimate():
    labels = ["θ_left", "θ_up", "θ_right"]
    layers = _layers(gradient_components_chart(labels, [-0.25, 0.0, 0.25], [-0.6, -0.2, 0.1], "one estimate, N = 16"))
    assert [_mark(la) for la in layers] == ["bar", "text", "text", "rule"]
    bars = layers[0]
    enc = bars["encoding"]
    assert enc["x"]["field"] == "value" and enc["x"]["type"] == "quantitative"
    assert enc["x"]["title"] == "∂J/∂θ (change of J per unit of θ)"
    assert enc["y"]["field"] == "component" and enc["y"]["sort"] == labels
    assert enc["yOffset"]["field"] == "series" and enc["color"]["scale"]["domain"] == [EXACT, "one estimate, N = 16"]
    assert [(r["component"], r["series"], r["value"]) for r in bars["values"]] == [
        ("θ_left", EXACT, -0.25), ("θ_up", EXACT, 0.0), ("θ_right", EXACT, 0.25),
        ("θ_left", "one estimate, N = 16", -0.6), ("θ_up", "one estimate, N = 16", -0.2),
        ("θ_right", "one estimate, N = 16", 0.1)]
    assert [r["text"] for r in bars["values"]][:3] == ["-0.250", "+0.000", "+0.250"]
    lo, hi = enc["x"]["scale"]["domain"]
    assert lo < -0.6 and hi > 0.6  # room for the value labels at the bar ends


def test_gradient_components_chart_drops_nan():
    layers = _layers(gradient_components_chart(["a", "b"], [1.0, math.nan], [0.5, 0.5]))
    _no_nan(layers)
    assert len(layers[0]["values"]) == 3


# --- variance ---------------------------------------------------------------------------------
LABELS = ["whole return R(τ)", "reward-to-go G_t", "G_t − batch mean"]


def test_variance_chart_horizontal_labelled_bars_in_order():
    layers = _layers(variance_chart(LABELS, [0.4, 0.2, 0.03], [False, False, True], signal=0.12))
    assert [_mark(la) for la in layers] == ["rule", "bar", "text", "text"]  # the signal rule drawn first, under
    rule, bars, text, rule_text = layers
    assert bars["encoding"]["x"]["field"] == "variance" and bars["encoding"]["x"]["type"] == "quantitative"
    assert bars["encoding"]["y"]["field"] == "estimator" and bars["encoding"]["y"]["type"] == "nominal"
    assert bars["encoding"]["y"]["sort"] == LABELS  # the page's order, not alphabetical
    assert bars["encoding"]["x"]["title"] == ["variance of ĝ,", "tr Cov[ĝ]"]
    assert "type" not in bars["encoding"]["x"]["scale"]  # a factor 13: linear
    assert [r["variance"] for r in bars["values"]] == [0.4, 0.2, 0.03]
    assert [r["kind"] for r in bars["values"]] == ["no baseline", "no baseline", "with a baseline"]
    assert text["encoding"]["text"]["field"] == "text" and [r["text"] for r in text["values"]] == ["0.4", "0.2", "0.03"]
    assert rule["values"][0]["variance"] == 0.12 and rule_text["values"][0]["label"] == "‖∇J‖² = 0.12"


def test_variance_chart_goes_log_when_values_span_decades_and_drops_nan():
    layers = _layers(variance_chart(LABELS + ["broken"], [10.0, 1.0, 0.01, math.nan]))
    _no_nan(layers)
    assert layers[0]["encoding"]["x"]["scale"]["type"] == "log"
    assert "log scale" in " ".join(layers[0]["encoding"]["x"]["title"])
    assert [r["estimator"] for r in layers[0]["values"]] == LABELS
    assert len(layers) == 2  # no signal rule without a signal
    assert len(_layers(variance_chart(LABELS, [0.3, 0.2, 0.1], signal=math.nan))) == 2  # nor with a NaN one
    assert variance_chart(LABELS, [0.3, 0.2, 0.1], log=True).to_dict()["layer"][0]["encoding"]["x"]["scale"]["type"] == "log"
