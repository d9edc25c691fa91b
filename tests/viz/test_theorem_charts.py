"""pg.viz.theorem_charts: encodings, scales, titles and data of the theorem page's charts."""

import math

import numpy as np
import pytest

from pg.viz.theorem_charts import (
    CURVE,
    EXACT,
    MEASURED,
    POINTS,
    REFERENCE,
    RMSE_EXACT,
    RMSE_MEASURED,
    baseline_variance_chart,
    baseline_variance_spec,
    convergence_chart,
    gradient_components_chart,
    gradient_components_spec,
    rmse_chart,
    rmse_spec,
    variance_chart,
    variance_spec,
    with_b_rule,
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


def _pad_range(layers, field: str) -> tuple[float, float]:
    """The range the invisible "pad" layer makes an axis reach."""
    (pad,) = [la for la in layers if la.get("data", {}).get("name") == "pad"]
    assert pad["mark"]["opacity"] == 0
    values = [r[field] for r in pad["values"]]
    return min(values), max(values)


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
    assert [_mark(la) for la in layers] == ["bar", "text", "text", "rule", "point"]
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
    assert [r["text"] for r in bars["values"]][:3] == ["-0.250", "0.000", "+0.250"]
    lo, hi = _pad_range(layers, "value")
    assert lo < -0.6 and hi > 0.6  # room for the value labels at the bar ends


def test_gradient_components_chart_drops_nan():
    layers = _layers(gradient_components_chart(["a", "b"], [1.0, math.nan], [0.5, 0.5]))
    _no_nan(layers)
    assert len(layers[0]["values"]) == 3


# --- variance ---------------------------------------------------------------------------------
LABELS = ["whole return R(τ)", "reward-to-go G_t", "G_t − batch mean"]


def test_variance_chart_horizontal_labelled_bars_in_order():
    layers = _layers(variance_chart(LABELS, [0.4, 0.2, 0.03], [False, False, True], signal=0.12))
    assert [_mark(la) for la in layers] == ["rule", "bar", "text", "text", "point"]  # the signal rule first, under
    rule, bars, text, rule_text, _ = layers
    assert bars["encoding"]["x"]["field"] == "variance" and bars["encoding"]["x"]["type"] == "quantitative"
    assert bars["encoding"]["y"]["field"] == "estimator" and bars["encoding"]["y"]["type"] == "nominal"
    assert bars["encoding"]["y"]["sort"] == LABELS  # the page's order, not alphabetical
    assert bars["encoding"]["x"]["title"] == ["variance of ĝ,", "tr Cov[ĝ]"]
    assert "type" not in bars["encoding"]["x"]["scale"]  # a factor 13: linear
    assert [r["variance"] for r in bars["values"]] == [0.4, 0.2, 0.03]
    assert [r["kind"] for r in bars["values"]] == ["no baseline", "no baseline", "with a baseline"]
    assert text["encoding"]["text"]["field"] == "text" and [r["text"] for r in text["values"]] == ["0.4", "0.2", "0.03"]
    assert rule["values"][0]["variance"] == 0.12 and rule_text["values"][0]["label"] == "‖∇J‖² = 0.12"
    assert _pad_range(layers, "variance") == (0.0, pytest.approx(0.4 * 1.22))  # room for the labels


def test_variance_chart_goes_log_when_values_span_decades_and_drops_nan():
    layers = _layers(variance_chart(LABELS + ["broken"], [10.0, 1.0, 0.01, math.nan]))
    _no_nan(layers)
    assert layers[0]["encoding"]["x"]["scale"]["type"] == "log"
    assert "log scale" in " ".join(layers[0]["encoding"]["x"]["title"])
    assert [r["estimator"] for r in layers[0]["values"]] == LABELS
    assert [_mark(la) for la in layers] == ["bar", "text", "point"]  # no signal rule without a signal
    assert len(_layers(variance_chart(LABELS, [0.3, 0.2, 0.1], signal=math.nan))) == 3  # nor with a NaN one
    assert variance_chart(LABELS, [0.3, 0.2, 0.1], log=True).to_dict()["layer"][0]["encoding"]["x"]["scale"]["type"] == "log"


# --- RMSE -------------------------------------------------------------------------------------
def test_rmse_chart_is_log_log_with_measured_points_over_the_exact_line():
    exact = [2.0 / math.sqrt(n) for n in N]
    layers = _layers(rmse_chart(N, [2.1, 1.4, 1.0, 0.72, 0.5], exact, highlight_n=4))
    assert [_mark(la) for la in layers] == ["line", "circle", "point", "point", "text"]
    line, points = layers[0], layers[1]
    assert line["mark"]["strokeDash"] and [r["rmse"] for r in line["values"]] == pytest.approx(exact)
    assert [r["rmse"] for r in points["values"]] == [2.1, 1.4, 1.0, 0.72, 0.5]
    assert {r["series"] for r in points["values"]} == {RMSE_MEASURED} and {r["series"] for r in line["values"]} == {RMSE_EXACT}
    for layer in layers[:2]:
        assert layer["encoding"]["x"]["scale"]["type"] == "log" and layer["encoding"]["y"]["scale"]["type"] == "log"
    assert layers[-1]["values"][0]["label"] == "your N = 4"
    lo, hi = _pad_range(layers, "rmse")
    assert lo < 0.5 and hi > 2.1
    assert [_mark(la) for la in _layers(rmse_chart(N, [1, 1, 1, 0, math.nan], exact, highlight_n=5))] == \
        ["line", "circle", "point"]  # no ring for an N not measured; 0 and NaN dropped (log axis)


# --- variance against b -----------------------------------------------------------------------
def test_baseline_variance_chart_draws_the_curve_points_and_marks():
    b = np.linspace(-5, 5, 11)
    layers = _layers(baseline_variance_chart(b, (b - 1) ** 2 + 1, [-5, 0, 5], [37.0, 2.1, 17.2], [1.0, 0.1, 0.5],
                                             {"b* = 1.00": 1.0, "J = 2.00": 2.0, "broken": math.nan}))
    assert [_mark(la) for la in layers] == ["line", "rule", "circle", "point", "rule", "text", "rule", "text"]
    curve, bars, points = layers[:3]
    assert {r["series"] for r in curve["values"]} == {CURVE} and {r["series"] for r in points["values"]} == {POINTS}
    assert [r["variance"] for r in curve["values"]] == pytest.approx(list((b - 1) ** 2 + 1))
    assert [(r["low"], r["high"]) for r in bars["values"]] == [(36.0, 38.0), (2.0, 2.2), (16.7, 17.7)]
    assert curve["encoding"]["y"]["scale"]["type"] == "log"  # the bottom of the parabola shows
    assert [la["values"][0]["label"] for la in layers[5::2]] == ["b* = 1.00", "J = 2.00"]  # the NaN mark dropped
    assert layers[5]["mark"]["dy"] < layers[7]["mark"]["dy"]  # labels one under the other
    assert _pad_range(layers, "variance")[1] > 38.0


def test_with_b_rule_adds_the_sliders_b_without_touching_the_spec():
    b = np.linspace(-5, 5, 11)
    spec = baseline_variance_spec(b, b**2, [0.0], [0.1], [0.01], {"b* = 0.00": 0.0}, large=True)
    before = len(spec["layer"])
    marked = with_b_rule(spec, 2.5, below=1, large=True)
    assert len(spec["layer"]) == before and len(marked["layer"]) == before + 2  # a copy
    rule, label = marked["layer"][-2:]
    assert rule["data"] == label["data"] == {"values": [{}]}  # one row: drawn once
    assert rule["mark"]["type"] == "rule" and rule["encoding"]["x"] == {"datum": 2.5, "type": "quantitative"}
    assert label["mark"]["text"] == "your b = 2.5" and label["encoding"]["x"]["datum"] == 2.5
    assert with_b_rule(spec, math.nan) is spec


def test_a_value_that_rounds_to_zero_is_written_without_a_sign():
    layers = _layers(gradient_components_chart(["a", "b"], [-1e-6, 0.0], [1e-6, -0.0004]))
    assert [r["text"] for r in layers[0]["values"]] == ["0.000"] * 4


@pytest.mark.parametrize("label", ["one estimate, N = 16", "one estimate, N = 1024"])
def test_the_components_layout_is_built_once_for_every_estimate_label(label):
    """The legend's label names N; the spec puts it into one shared layout (pg.viz.spec.with_text),
    and equals the chart built for that label."""
    from pg.viz.spec import chart_spec
    from pg.viz.theorem_charts import gradient_components_parts, gradient_components_template

    args = (["x", "y"], [1.0, -2.0], [0.5, 0.25], label)
    assert gradient_components_spec(*args) == chart_spec(gradient_components_template, *gradient_components_parts(*args))


def test_specs_carry_their_data_beside_one_shared_layout():
    a = gradient_components_spec(["x", "y"], [1.0, 2.0], [0.5, 0.5])
    b = gradient_components_spec(["x", "y"], [3.0, -2.0], [0.1, 0.2])
    assert a["layer"] == b["layer"] and set(a["datasets"]) == {"bars", "pad", "zero"}
    assert a["datasets"]["bars"] != b["datasets"]["bars"]  # Arrow bytes of the new numbers
    assert set(variance_spec(LABELS, [0.4, 0.2, 0.03], signal=0.1)["datasets"]) == {"bars", "pad", "signal"}
    assert set(rmse_spec(N, ERROR, REF, highlight_n=2)["datasets"]) == {"points", "line", "pad", "ring"}
