"""pg.viz.credit_charts: the data drawn equals the inputs, colour follows the advantage's sign, the
rule sits at the step, and bad inputs are refused in words."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pg.viz.credit_charts import (
    BASELINE_LABEL,
    NEGATIVE,
    POSITIVE,
    RETURN_LABEL,
    SIGN_COLOURS,
    ZERO,
    credit_chart,
    credit_spec,
    delta_chart,
    delta_spec,
)

G = np.array([5.0, 4.0, 3.0, 2.0, 1.0])
B = np.array([3.0, 3.5, 3.0, 2.5, 0.5])
ADV = G - B
SIGNS = np.array([1, 1, 0, -1, 1])


def layers(spec: dict) -> list[tuple[dict, list[dict]]]:
    """[(layer, its rows)] of a layered chart's dict."""
    return [(layer, spec["datasets"][layer["data"]["name"]]) for layer in spec["layer"]]


def by_mark(spec: dict, mark: str) -> list[tuple[dict, list[dict]]]:
    return [(layer, rows) for layer, rows in layers(spec)
            if (layer["mark"]["type"] if isinstance(layer["mark"], dict) else layer["mark"]) == mark]


def step_rule(spec: dict) -> float:
    (rows,) = [rows for layer, rows in by_mark(spec, "rule") if "x" in layer["encoding"]]
    return rows[0]["t"]


def test_credit_chart_draws_the_advantage_as_bars_and_the_return_and_baseline_as_lines():
    spec = credit_chart(G, B, ADV, SIGNS, step=3).to_dict()
    ((bars, bar_rows),) = by_mark(spec, "bar")
    assert [r["t"] for r in bar_rows] == [0, 1, 2, 3, 4]
    np.testing.assert_array_equal([r["value"] for r in bar_rows], ADV)
    assert [r["series"] for r in bar_rows] == [POSITIVE, POSITIVE, ZERO, NEGATIVE, POSITIVE]
    scale = bars["encoding"]["color"]["scale"]
    assert scale["domain"] == [POSITIVE, NEGATIVE, ZERO, RETURN_LABEL, BASELINE_LABEL]
    assert scale["range"][:3] == [SIGN_COLOURS[POSITIVE], SIGN_COLOURS[NEGATIVE], SIGN_COLOURS[ZERO]]
    ((_, line_rows),) = by_mark(spec, "line")
    np.testing.assert_array_equal([r["value"] for r in line_rows if r["series"] == RETURN_LABEL], G)
    np.testing.assert_array_equal([r["value"] for r in line_rows if r["series"] == BASELINE_LABEL], B)
    assert step_rule(spec) == 3
    assert bars["encoding"]["x"]["title"] == "time step t"


def test_the_legend_lists_only_the_signs_present():
    spec = credit_chart(G[:2], B[:2], ADV[:2], SIGNS[:2], step=0).to_dict()
    ((bars, _),) = by_mark(spec, "bar")
    assert bars["encoding"]["color"]["scale"]["domain"] == [POSITIVE, RETURN_LABEL, BASELINE_LABEL]


def test_the_rule_follows_the_step():
    assert [step_rule(delta_chart(ADV, SIGNS, step=s).to_dict()) for s in (0, 4)] == [0, 4]
    assert step_rule(credit_chart(G, B, ADV, SIGNS, step=1).to_dict()) == 1


def test_delta_chart_bars_are_the_changes_coloured_by_the_advantages_sign():
    delta = np.array([0.01, -0.02, 0.0, -0.03, np.nan])  # a NaN is never charted
    spec = delta_chart(delta, SIGNS, step=2, large=True).to_dict()
    ((bars, rows),) = by_mark(spec, "bar")
    assert [r["t"] for r in rows] == [0, 1, 2, 3]
    np.testing.assert_array_equal([r["value"] for r in rows], delta[:4])
    assert [r["series"] for r in rows] == [POSITIVE, POSITIVE, ZERO, NEGATIVE]
    assert "log π" in bars["encoding"]["y"]["title"]
    for row in rows:
        assert all(not isinstance(v, float) or math.isfinite(v) for v in row.values())
    assert spec["config"]["axis"]["labelFontSize"] > credit_chart(G, B, ADV, SIGNS, 0).to_dict()["config"]["axis"][
        "labelFontSize"], "presenter mode: larger type"


def test_bad_inputs_are_refused_in_words():
    with pytest.raises(ValueError, match="one value per step"):
        credit_chart(G, B[:3], ADV, SIGNS, 0)
    with pytest.raises(ValueError, match="one value per step"):
        delta_chart(ADV, SIGNS[:2], 0)
    with pytest.raises(ValueError, match="-1, 0 or \\+1"):
        delta_chart(ADV, SIGNS * 2, 0)


@pytest.mark.parametrize("length", [1, 2, 3, 42, 500])
def test_a_spec_built_for_any_length_equals_the_chart_built_for_its_own(length):
    """The layouts are built once with a placeholder length and given each episode's time axis
    (pg.viz.spec.with_domain): the result is the spec Altair builds for that length."""
    from pg.viz.credit_charts import _credit, _delta, credit_template, delta_template
    from pg.viz.spec import chart_spec

    rng = np.random.default_rng(length)
    G, b = rng.normal(size=length), rng.normal(size=length)
    signs = np.sign(G - b).astype(int)
    delta = rng.normal(size=length)
    assert credit_spec(G, b, G - b, signs, 0) == chart_spec(credit_template, *_credit(G, b, G - b, signs, 0, False, 230))
    assert delta_spec(delta, signs, length - 1) == chart_spec(delta_template, *_delta(delta, signs, length - 1, False, 200))
