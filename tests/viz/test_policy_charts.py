"""pg.viz.policy_charts: encodings, the blue-white-red scale, and data equal to the inputs (no NaN)."""

import math

import numpy as np
import pytest

from pg.algo.policies import make_policy
from pg.runs.checkpoint import load_run
from pg.viz.episode import Episode, run_episode
from pg.viz.policy_charts import heatmap_chart, heatmap_spec, nudge_range_chart, traces_chart, weights_chart
from pg.viz.policy_grid import decision_boundary, linear_weights, policy_grid
from pg.viz.style import GREEN, NEUTRAL, ORANGE, PUSH_LEFT, PUSH_RIGHT

POLICY = make_policy("linear", seed=1, init_scale=3.0)


def _layers(spec):
    """[(layer spec, its data rows)] of a layered or concatenated chart's dict."""
    found = []

    def walk(node, data):
        data = node.get("data", data)  # a layer without data inherits its parent's
        for key in ("layer", "vconcat", "hconcat"):
            for child in node.get(key, []):
                walk(child, data)
        if "mark" in node:
            found.append((node, spec["datasets"][data["name"]]))

    walk(spec, None)
    return found


def _mark(layer):
    return layer["mark"]["type"] if isinstance(layer["mark"], dict) else layer["mark"]


def _no_nan(rows):
    for row in rows:
        for value in row.values():
            assert value is not None, row
            if isinstance(value, float):
                assert math.isfinite(value), row


# --- heatmap ----------------------------------------------------------------------------------
def test_heatmap_cells_colour_scale_and_data():
    grid = policy_grid(POLICY, 0.1, 0.0, (-12, 12), (-1, 1), resolution=(6, 4))
    spec = heatmap_chart(grid).to_dict()
    ((rect, rows),) = _layers(spec)
    assert _mark(rect) == "rect"
    enc = rect["encoding"]
    assert (enc["x"]["field"], enc["x2"]["field"], enc["y"]["field"], enc["y2"]["field"]) == (
        "theta_lo",
        "theta_hi_drawn",
        "theta_dot_lo",
        "theta_dot_hi_drawn",
    )
    # the drawn upper edges overlap the next cell by a third of a cell (no seams), clipped at the
    # grid's edge; computed in Python: no expression for the browser to interpret per cell
    np.testing.assert_allclose([r["theta_hi_drawn"] for r in rows], grid["theta_hi"] + 0.35 * 24 / 6, rtol=1e-6)
    np.testing.assert_allclose([r["theta_dot_hi_drawn"] for r in rows], grid["theta_dot_hi"] + 0.35 * 2 / 4, rtol=1e-6)
    assert "transform" not in rect and rect["mark"]["invalid"] is None
    assert rect["mark"]["clip"] is True
    assert "degrees" in enc["x"]["title"] and "rad/s" in enc["y"]["title"]
    assert enc["color"]["field"] == "p_right"
    assert enc["color"]["scale"] == {"domain": [0, 0.5, 1], "range": [PUSH_LEFT, NEUTRAL, PUSH_RIGHT]}
    assert enc["color"]["legend"]["title"] == "P(push right)" and enc["color"]["legend"]["type"] == "gradient"
    assert enc["x"]["scale"]["domain"] == [-12, 12] and enc["y"]["scale"]["domain"] == [-1, 1]
    assert len(rows) == 24
    for name in ("theta", "theta_lo", "theta_dot", "theta_dot_lo", "p_right"):  # in single precision
        np.testing.assert_allclose([r[name] for r in rows], grid[name], rtol=1e-6, atol=1e-7)
    _no_nan(rows)


def test_heatmap_boundary_and_visited_layers():
    grid = policy_grid(POLICY, resolution=5)
    boundary = decision_boundary(POLICY)
    visited = np.array([[0.0, 0.0, 0.05, 0.3], [1.0, 0.2, -0.1, -0.2], [0.0, 0.0, np.nan, 0.0]])
    spec = heatmap_chart(grid, boundary, visited, large=True).to_dict()
    layers = {_mark(layer): (layer, rows) for layer, rows in _layers(spec)}
    assert set(layers) == {"rect", "line", "circle"}

    line, line_rows = layers["line"]
    assert line["mark"]["color"] == "#000000"
    assert line["encoding"]["detail"]["field"] == "segment" and line["encoding"]["order"]["field"] == "order"
    np.testing.assert_allclose([r["theta"] for r in line_rows], boundary["theta"])
    np.testing.assert_allclose([r["theta_dot"] for r in line_rows], boundary["theta_dot"])

    dots, dot_rows = layers["circle"]
    assert 0 < dots["mark"]["opacity"] < 1
    assert len(dot_rows) == 2, "the NaN state is dropped"
    np.testing.assert_allclose([r["theta"] for r in dot_rows], np.degrees([0.05, -0.1]))
    np.testing.assert_allclose([r["theta_dot"] for r in dot_rows], [0.3, -0.2])
    for _, rows in layers.values():
        _no_nan(rows)
    assert spec["config"]["axis"]["labelFontSize"] > 13  # large = projector type


def test_heatmap_without_boundary_or_visits_is_one_layer():
    grid = policy_grid(POLICY, resolution=3)
    empty = {k: np.zeros(0) for k in ("theta", "theta_dot", "segment", "order")}
    assert len(_layers(heatmap_chart(grid, empty, np.zeros((0, 4))).to_dict())) == 1


def test_the_dots_on_or_off_change_the_heatmaps_data_not_its_spec():
    """The browser draws a new spec from scratch but only updates a drawn chart's data."""
    grid, boundary = policy_grid(POLICY, resolution=5), decision_boundary(POLICY, resolution=5)
    on = heatmap_spec(grid, boundary, np.array([[0.0, 0.0, 0.05, 0.3]]))
    off = heatmap_spec(grid, boundary, None)
    assert {k: v for k, v in on.items() if k != "datasets"} == {k: v for k, v in off.items() if k != "datasets"}
    assert set(on["datasets"]) == set(off["datasets"]) == {"cells", "dots", "boundary"}
    assert on["datasets"]["dots"] != off["datasets"]["dots"]  # one dot, then none


def test_heatmap_spec_is_drawn_on_a_canvas_without_a_label_per_cell():
    """As SVG, each of the 3,721 cells is a node with its own ARIA label: the browser took 0.25 s
    to build them again per slider move. Every template's spec draws on a canvas."""
    spec = heatmap_spec(policy_grid(POLICY, resolution=5))
    assert spec["usermeta"]["embedOptions"]["renderer"] == "canvas"
    assert spec["config"]["mark"]["aria"] is False
    assert isinstance(spec["datasets"]["cells"], bytes)


# --- weights ----------------------------------------------------------------------------------
def test_weights_chart_diverging_bars():
    weights = linear_weights(POLICY)
    spec = weights_chart(weights).to_dict()
    layers = _layers(spec)
    bars, rows = next((layer, rows) for layer, rows in layers if _mark(layer) == "bar")
    assert bars["encoding"]["x"]["field"] == "weight"
    assert "push right" in bars["encoding"]["x"]["title"]
    np.testing.assert_allclose([r["weight"] for r in rows], weights["weight"])
    assert [r["feature"] for r in rows] == list(weights["feature"])
    colour = bars["encoding"]["color"]
    assert colour["scale"] == {"domain": ["push left", "push right"], "range": [PUSH_LEFT, PUSH_RIGHT]}
    assert [r["direction"] for r in rows] == ["push right" if w >= 0 else "push left" for w in weights["weight"]]
    domain = bars["encoding"]["x"]["scale"]["domain"]
    assert domain[0] == -domain[1] and domain[1] > np.abs(weights["weight"]).max()  # centred on zero
    assert any(_mark(layer) == "rule" for layer, _ in layers)
    assert sum(_mark(layer) == "text" for layer, _ in layers) == 2
    for _, rows in layers:
        _no_nan(rows)


# --- traces ----------------------------------------------------------------------------------
def test_traces_three_panels_share_time_with_thresholds():
    episode = run_episode(make_policy("linear", seed=0), seed=3)
    spec = traces_chart(episode).to_dict()
    assert len(spec["vconcat"]) == 3
    assert spec["resolve"]["scale"]["x"] == "shared"
    assert spec["autosize"]["type"] == "fit-x"
    titles, rules = [], []
    for panel, mark in zip(spec["vconcat"], ["line", "line", "circle"]):
        line, rule = panel["layer"][0], panel["layer"][1]
        assert _mark(line) == mark and _mark(rule) == "rule"
        titles.append(line["encoding"]["y"]["title"])
        assert line["encoding"]["x"]["scale"]["domain"] == [0, episode.length]
        rules.append([r["value"] for r in spec["datasets"][rule["data"]["name"]]])
    assert titles == ["θ (degrees)", "x (m)", "P(push right)"]
    assert spec["vconcat"][-1]["layer"][0]["encoding"]["x"]["title"] == "time step"
    dots = spec["vconcat"][-1]["layer"][0]["encoding"]["color"]
    assert (
        dots["field"] == "value" and dots["scale"]["range"][0] == PUSH_LEFT and dots["scale"]["range"][2] == PUSH_RIGHT
    )
    np.testing.assert_allclose(rules[0], [-12, 12])
    np.testing.assert_allclose(rules[1], [-2.4, 2.4])
    np.testing.assert_allclose(rules[2], [0.5])

    data = [spec["datasets"][p["layer"][0]["data"]["name"]] for p in spec["vconcat"]]
    np.testing.assert_allclose([r["value"] for r in data[0]], np.degrees(episode.states[:, 2]))
    np.testing.assert_allclose([r["value"] for r in data[1]], episode.states[:, 0])
    np.testing.assert_allclose([r["value"] for r in data[2]], episode.p_right)
    np.testing.assert_array_equal([r["t"] for r in data[2]], np.arange(episode.length))
    for rows in data:
        _no_nan(rows)


def test_traces_mark_the_nudge_and_drop_nan():
    episode = run_episode(make_policy("linear", seed=0, init_scale=1.0), seed=1, nudge_step=5, nudge=0.5)
    assert episode.length > 5
    spec = traces_chart(episode).to_dict()
    for panel in spec["vconcat"]:
        nudge = panel["layer"][2]
        assert _mark(nudge) == "rule" and nudge["encoding"]["x"]["field"] == "t"
        assert [r["t"] for r in spec["datasets"][nudge["data"]["name"]]] == [5]
    # no nudge: no nudge layer
    plain = traces_chart(run_episode(make_policy("linear", seed=0), seed=1)).to_dict()
    assert all(len(panel["layer"]) == 2 for panel in plain["vconcat"])

    states = np.zeros((4, 4))
    states[2, 2] = np.nan
    broken = Episode(states, np.zeros(3, int), np.array([0.5, np.inf, 0.4]), np.zeros(3), True, False)
    spec = traces_chart(broken).to_dict()
    for panel in spec["vconcat"]:
        _no_nan(spec["datasets"][panel["layer"][0]["data"]["name"]])


@pytest.mark.parametrize("large", [False, True])
def test_charts_have_styled_type(large):
    grid = policy_grid(POLICY, resolution=3)
    for chart in (heatmap_chart(grid, large=large), weights_chart(linear_weights(POLICY), large=large)):
        assert chart.to_dict()["config"]["axis"]["titleFontSize"] == (21 if large else 15)


def test_two_episodes_share_one_time_axis():
    """Replay draws both agents' traces against time steps 0 ... the longer episode's end."""
    run = load_run("assets/policy.npz")
    short = run_episode(run.snapshots[0][1], seed=0, greedy=False)
    long = run_episode(run.policy, seed=0)
    axis = max(short.length, long.length)
    specs = [traces_chart(e, steps=axis).to_dict() for e in (short, long)]
    domains = [[panel["layer"][0]["encoding"]["x"]["scale"]["domain"] for panel in s["vconcat"]] for s in specs]
    assert domains[0] == domains[1] == [[0, axis]] * 3
    assert short.length < axis


@pytest.mark.parametrize("strength, colour", [(0.5, GREEN), (2.0, ORANGE)])
def test_the_nudge_range_marks_the_recoverable_band_and_the_chosen_strength(strength, colour):
    spec = nudge_range_chart(-1.3, 1.3, strength, 3.0).to_dict()
    band, dot = spec["layer"]
    assert band["encoding"]["x"]["scale"]["domain"] == [-3.0, 3.0]
    assert spec["datasets"][band["data"]["name"]] == [{"strength": -1.3, "high": 1.3}]
    assert spec["datasets"][dot["data"]["name"]] == [{"strength": strength}]
    assert dot["mark"]["color"] == colour
    nothing = nudge_range_chart(None, None, 0.0, 3.0).to_dict()
    assert len(nothing["layer"]) == 1 and nothing["layer"][0]["mark"]["color"] == ORANGE


@pytest.mark.parametrize("steps", [None, 7, 42, 500])
def test_the_traces_spec_built_for_any_end_equals_the_one_built_for_its_own(steps):
    """traces_spec builds its layout once with a placeholder end and gives each episode its time
    axis (pg.viz.spec.with_domain): the result is what Altair builds for that end."""
    from pg.viz.policy_charts import traces_datasets, traces_layout, traces_spec, traces_template
    from pg.viz.spec import chart_spec

    episode = run_episode(POLICY, seed=2, greedy=False, nudge_step=3, nudge=1.0)
    expected = chart_spec(traces_template, traces_layout(episode, False, 95, steps), traces_datasets(episode))
    assert traces_spec(episode, steps=steps) == expected
