"""pg.viz.training_charts: the live dashboard's panels on named data, the datasets each redraw
sends (small, NaN-free, only what a chart reads) and the small live heatmap."""

from __future__ import annotations

import json
import math

import altair as alt
import numpy as np
import pandas as pd
import pytest

from pg.algo.policies import make_policy
from pg.algo.reinforce import TrainConfig
from pg.app.live_view import chart_columns
from pg.runs.live import LiveRun
from pg.viz.policy_grid import policy_grid
from pg.viz.spec import arrow_datasets, titled, used_datasets, with_datasets
from pg.viz.style import PUSH_LEFT, PUSH_RIGHT
from pg.viz.training_charts import (
    BAND_FIELDS,
    DIAGNOSTICS,
    EVAL_KINDS,
    LIVE_THETA_DOT,
    PANELS,
    SPEC_CACHE_SIZE,
    evaluation_points,
    live_heatmap_chart,
    live_heatmap_datasets,
    live_heatmap_spec,
    live_specs,
    page_specs,
    panel_chart,
    training_datasets,
)

SINGLE_DATA = {"returns": {"episodes", "history", "bars"}, "eval": {"evals", "bars"}}
SINGLE_DATA |= {field: {"history"} for field, _ in DIAGNOSTICS}
MULTI_DATA = {"returns": {"band", "seeds", "bars"}, "eval": {"band", "bars"}} | {field: {"band"} for field, _ in DIAGNOSTICS}


def layers(spec: dict) -> list[dict]:
    """Every node of a (layered) spec that has a mark."""
    found, stack = [], [spec]
    while stack:
        node = stack.pop()
        stack.extend(node.get("layer", []))
        if "mark" in node:
            found.append(node)
    return found


def mark(layer: dict) -> str:
    return layer["mark"]["type"] if isinstance(layer["mark"], dict) else layer["mark"]


def by_mark(spec: dict, kind: str) -> list[dict]:
    return [layer for layer in layers(spec) if mark(layer) == kind]


def run_datasets(live: LiveRun, upto: int | None = None, max_points: int = 200) -> dict[str, pd.DataFrame]:
    """The datasets of a run as the page builds them: its columns (pg.app.live_view), then frames."""
    return training_datasets(**chart_columns(live, upto, max_points))


def assert_finite(frame: pd.DataFrame):
    numeric = frame.select_dtypes("number")
    assert np.isfinite(numeric.to_numpy()).all(), frame[~np.isfinite(numeric).all(axis=1)]


@pytest.fixture(scope="module")
def single() -> LiveRun:
    """300 tiny updates of one seed, evaluated every 7 (complete evaluations)."""
    cfg = TrainConfig(batch_episodes=4, max_episode_steps=30, eval_every=7, eval_episodes=5, eval_early_stop=False,
                      max_updates=300, stop_on_solve=False, seed=2)
    live = LiveRun(cfg)
    while not live.finished:
        live.advance(5.0)
    return live


@pytest.fixture(scope="module")
def several() -> LiveRun:
    cfg = TrainConfig(batch_episodes=2, max_episode_steps=30, eval_every=5, eval_episodes=5, eval_early_stop=False,
                      max_updates=120, stop_on_solve=False, seed=4)
    live = LiveRun(cfg, n_seeds=3)
    while not live.finished:
        live.advance(5.0)
    return live


# ---------------------------------------------------------------------------------------------
# Panels and specs
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("multi_seed", [False, True])
@pytest.mark.parametrize("panel", PANELS)
def test_every_panel_reads_only_named_data(panel, multi_seed):
    chart = panel_chart(panel, multi_seed)
    assert isinstance(chart, alt.TopLevelMixin)
    spec = chart.to_dict()  # validates against the Vega-Lite schema
    expected = (MULTI_DATA if multi_seed else SINGLE_DATA)[panel]
    assert used_datasets(spec) == expected
    assert not spec.get("datasets"), "no data is baked into the spec"
    for layer in layers(spec):
        assert "values" not in layer.get("data", {}), "no inline data"
    assert spec["autosize"] == {"type": "fit-x", "contains": "padding"}


def test_the_single_seed_returns_panel_draws_episodes_and_their_moving_average():
    spec = panel_chart("returns", max_steps=500).to_dict()
    (dots,) = by_mark(spec, "circle")
    assert dots["data"] == {"name": "episodes"}
    assert (dots["encoding"]["x"]["field"], dots["encoding"]["y"]["field"]) == ("episode", "return")
    assert dots["encoding"]["y"]["scale"]["domain"] == [0, 500]
    assert dots["mark"]["color"] == PUSH_LEFT
    (line,) = by_mark(spec, "line")
    assert line["data"] == {"name": "history"}
    assert (line["encoding"]["x"]["field"], line["encoding"]["y"]["field"]) == ("episode", "ma_return")
    assert line["mark"]["color"] == PUSH_RIGHT
    (rule,) = by_mark(spec, "rule")
    assert rule["data"] == {"name": "bars"} and rule["encoding"]["y"]["field"] == "value"
    assert spec["title"]["text"] == "Episode returns"  # short enough for a phone; the rest is the subtitle
    assert spec["title"]["subtitle"] == "dots: episodes · line: average of the last 100"


def test_the_multi_seed_panels_draw_a_band_and_its_median_for_their_field():
    spec = panel_chart("returns", multi_seed=True, max_steps=200).to_dict()
    (area,) = by_mark(spec, "area")
    (seeds,) = [layer for layer in by_mark(spec, "line") if layer["data"] == {"name": "seeds"}]
    (line,) = [layer for layer in by_mark(spec, "line") if layer["data"] != {"name": "seeds"}]
    assert seeds["encoding"]["detail"]["field"] == "seed", "one thin line per seed, each to its own end"
    assert (area["encoding"]["y"]["field"], area["encoding"]["y2"]["field"]) == ("low", "high")
    assert area["encoding"]["y"]["scale"]["domain"] == [0, 200]
    assert line["encoding"]["y"]["field"] == "median" and line["encoding"]["x"]["field"] == "iteration"
    filters = [t["filter"] for layer in (area, line) for t in layer.get("transform", [])]
    filters += [t["filter"] for t in spec.get("transform", [])]
    assert filters and all("ma_return" in json.dumps(f) for f in filters)
    for field, _ in DIAGNOSTICS:
        spec = panel_chart(field, multi_seed=True).to_dict()
        assert field in json.dumps([layer.get("transform") for layer in layers(spec)] + [spec.get("transform")])


@pytest.mark.parametrize("field, title", DIAGNOSTICS)
def test_the_diagnostic_panels_plot_their_field_against_the_update(field, title):
    spec = panel_chart(field).to_dict()
    (line,) = by_mark(spec, "line")
    assert (line["encoding"]["x"]["field"], line["encoding"]["y"]["field"]) == ("iteration", field)
    assert line["encoding"]["y"]["scale"] == {"zero": False}
    assert title in json.dumps(spec["title"], ensure_ascii=False)


def test_the_eval_panel_plots_every_evaluation_a_cut_short_one_as_an_open_marker():
    spec = panel_chart("eval").to_dict()
    (points,) = by_mark(spec, "point")
    assert points["data"] == {"name": "evals"} and points["encoding"]["y"]["field"] == "value"
    assert points["encoding"]["shape"]["scale"] == {"domain": list(EVAL_KINDS), "range": ["circle", "triangle-down"]}
    assert points["encoding"]["fill"]["scale"]["range"][1] == "transparent", "a bound is an open marker"
    assert {t["field"] for t in points["encoding"]["tooltip"]} == {"iteration", "kind", "value", "note"}
    assert "its bound if cut short" in json.dumps(spec["title"])


def test_evaluation_points_are_the_mean_or_the_bound_and_say_whether_a_pass_was_confirmed():
    nan = np.nan
    history = {"iteration": np.arange(1.0, 7.0), "eval_return": np.array([nan, nan, 480.0, 490.0, 300.0, 481.0]),
               "eval_upper_bound": np.array([120.0, nan, nan, nan, nan, nan]),
               "confirm_return": np.array([nan, nan, 470.2, 497.1, nan, nan])}
    points = evaluation_points(history, 475.0)
    np.testing.assert_array_equal(points["iteration"], [1.0, 3.0, 4.0, 5.0, 6.0])
    np.testing.assert_array_equal(points["value"], [120.0, 480.0, 490.0, 300.0, 481.0])
    assert list(points["kind"]) == [EVAL_KINDS[1]] + [EVAL_KINDS[0]] * 4
    assert list(points["note"]) == ["", "passed, not confirmed (470.2)", "passed, confirmed at 497.1", "",
                                    "passed, not confirmed (the confirmation was cut short)"]


def test_large_bar_labels_are_larger():
    def bar_text(spec):
        return [layer["mark"]["fontSize"] for layer in layers(spec) if layer["mark"]["type"] == "text"]

    assert bar_text(panel_chart("returns", large=True).to_dict())[0] > bar_text(panel_chart("returns").to_dict())[0]


def test_titled_renames_a_spec_without_touching_the_shared_one():
    spec = page_specs()["heatmap"]
    before = json.dumps(spec["title"])
    assert titled(spec, "Seed 3's policy")["title"] == "Seed 3's policy"
    assert titled({"title": {"text": "a", "subtitle": "b"}}, "c")["title"] == {"text": "c", "subtitle": "b"}
    assert json.dumps(spec["title"]) == before


def test_large_panels_use_larger_fonts_and_the_top_row_fits_a_projector():
    """Presenter mode: larger type everywhere; the returns chart and the heatmap, which share
    a 1280 x 720 screen with the title and the buttons, stay short, the panels below grow."""
    assert panel_chart("returns", large=True).to_dict()["height"] <= 220
    assert live_heatmap_chart(large=True).to_dict()["height"] <= 220
    for panel in PANELS:
        small, large = panel_chart(panel).to_dict(), panel_chart(panel, large=True).to_dict()
        assert panel == "returns" or large["height"] > small["height"]
        assert large["config"]["axis"]["labelFontSize"] > small["config"]["axis"]["labelFontSize"]


@pytest.mark.parametrize("multi_seed", [False, True])
def test_live_specs_are_plain_json_without_data(multi_seed):
    specs = live_specs(multi_seed, 500)
    assert set(specs) == set(PANELS)
    for name, spec in {**specs, "heatmap": live_heatmap_spec()}.items():
        assert "datasets" not in spec
        assert json.loads(json.dumps(spec)) == spec, name
        # cheap for the browser: a canvas, no ARIA label per mark
        assert spec["usermeta"] == {"embedOptions": {"renderer": "canvas"}}, name
        assert spec["config"]["mark"]["aria"] is False, name
        if name == "heatmap":
            continue
        assert used_datasets(spec) == (MULTI_DATA if multi_seed else SINGLE_DATA)[name]


def test_used_datasets_walks_nested_specs():
    spec = {"data": {"name": "a"}, "layer": [{"data": {"name": "b"}}, {"hconcat": [{"data": {"name": "c"}}]}],
            "other": [{"data": {"values": [1]}}]}
    assert used_datasets(spec) == {"a", "b", "c"}
    assert used_datasets({}) == set()


def test_with_datasets_sends_each_chart_only_its_own_data_and_leaves_the_spec_alone():
    spec = live_specs()["eval"]
    before = json.dumps(spec)
    data = {"evals": pd.DataFrame({"iteration": [1.0], "eval_return": [3.0]}), "bars": pd.DataFrame(),
            "episodes": pd.DataFrame(), "history": pd.DataFrame()}
    out = with_datasets(spec, data)
    assert set(out["datasets"]) == {"evals", "bars"}
    assert out["datasets"]["evals"] is data["evals"]
    assert json.dumps(spec) == before and "datasets" not in spec
    assert set(with_datasets(spec, {"evals": data["evals"]})["datasets"]) == {"evals"}, "missing names are skipped"


# ---------------------------------------------------------------------------------------------
# Datasets
# ---------------------------------------------------------------------------------------------
def test_arrow_datasets_encode_every_dataset_once_and_losslessly(single):
    import pyarrow as pa

    data = run_datasets(single) | live_heatmap_datasets(single.policy)
    encoded = arrow_datasets(data)
    assert set(encoded) == set(data) and all(isinstance(b, bytes) for b in encoded.values())
    for name, frame in data.items():
        back = pa.ipc.open_stream(encoded[name]).read_all().to_pandas()
        pd.testing.assert_frame_equal(back, frame.reset_index(drop=True), check_dtype=True)
    spec = with_datasets(live_specs()["returns"], encoded)
    assert spec["datasets"]["history"] is encoded["history"], "shared, not re-encoded per chart"


def test_single_seed_datasets_columns_and_no_nan(single):
    data = run_datasets(single, max_points=400)
    assert set(data) == {"bars", "history", "evals", "episodes"}
    assert list(data["history"].columns) == ["iteration", "episode", "ma_return", *[f for f, _ in DIAGNOSTICS]]
    assert list(data["evals"].columns) == ["iteration", "value", "kind", "note"]
    assert list(data["episodes"].columns) == ["episode", "return"]
    for frame in data.values():
        assert_finite(frame)
    assert len(data["history"]) == 300 and data["history"]["iteration"].iloc[-1] == 300
    assert data["history"]["episode"].iloc[-1] == 4 * 300, "the line is placed at the episode count"
    np.testing.assert_array_equal(data["evals"]["iteration"], np.arange(7, 301, 7))
    assert len(data["episodes"]) == 1200


def test_by_default_a_redraw_sends_at_most_200_points_per_line_and_600_dots(single):
    data = run_datasets(single)
    assert len(data["history"]) == 200 and len(data["evals"]) <= 200 and len(data["episodes"]) == 600
    assert data["history"]["iteration"].iloc[-1] == 300 and data["episodes"]["episode"].iloc[-1] == 1200
    assert len(live_heatmap_datasets(single.policy)["grid"]) == 25 * 25


def test_the_solve_bars_follow_the_episode_limit(single):
    """Only the bars the y scale (0 to the episode limit) holds: a 195 bar over 30-step
    episodes drew above the plot and pushed the returns chart out of its frame."""
    bars = run_datasets(single)["bars"]
    assert len(bars) == 0 and list(bars.columns) == ["value", "label"]  # 30-step episodes
    for steps, expected in ((200, [195.0]), (300, [195.0]), (500, [475.0, 195.0]), (1000, [475.0, 195.0])):
        live = LiveRun(TrainConfig(max_episode_steps=steps, batch_episodes=2, eval_episodes=5))
        live.step()
        bars = run_datasets(live)["bars"]
        assert list(bars["value"]) == expected, steps
        assert bars["label"].str.startswith(("475", "195")).all()
    assert len(arrow_datasets({"bars": run_datasets(single)["bars"]})["bars"]) > 0, "an empty table still encodes"


def test_datasets_are_downsampled_whatever_the_length(single):
    data = run_datasets(single, max_points=50)
    assert len(data["history"]) <= 50 and len(data["evals"]) <= 50
    assert len(data["episodes"]) <= 150
    assert data["history"]["iteration"].iloc[0] == 1 and data["history"]["iteration"].iloc[-1] == 300
    assert data["episodes"]["episode"].iloc[-1] == 1200


def test_datasets_up_to_an_update(single):
    data = run_datasets(single, upto=100, max_points=400)
    assert data["history"]["iteration"].max() == 100
    assert data["evals"]["iteration"].max() == 98
    assert data["episodes"]["episode"].max() == 400


def test_datasets_are_the_columns_given_without_their_nan_rows():
    """Arrays in: NaN (an update without an evaluation) and infinite values never reach a chart."""
    nan = np.nan
    history = {"iteration": np.array([1.0, 2.0, 3.0]), "episodes": np.array([4.0, 8.0, 12.0]),
               "ma_return": np.array([10.0, 12.0, 15.0]), "eval_return": np.array([nan, 30.0, nan]),
               **{f: np.array([1.0, np.inf if f == "grad_norm" else 2.0, 3.0]) for f, _ in DIAGNOSTICS}}
    episodes = {"episode": np.arange(1.0, 13.0), "return": np.arange(12.0)}
    data = training_datasets(500, history=history, episodes=episodes)
    assert set(data) == {"bars", "history", "evals", "episodes"}
    np.testing.assert_array_equal(data["history"]["iteration"], [1.0, 3.0])
    np.testing.assert_array_equal(data["history"]["episode"], [4.0, 12.0])
    np.testing.assert_array_equal(data["evals"]["value"], [30.0])
    np.testing.assert_array_equal(data["episodes"]["return"], np.arange(12.0))
    band = {"iteration": np.array([1.0, 2.0]), "median": np.array([1.0, nan]), "low": np.zeros(2), "high": np.ones(2)}
    bands = training_datasets(200, bands={field: band for field in BAND_FIELDS})
    assert set(bands) == {"bars", "band"} and list(bands["bars"]["value"]) == [195.0]
    assert len(bands["band"]) == len(BAND_FIELDS) and set(bands["band"]["iteration"]) == {1.0}


def test_datasets_of_a_run_with_nothing_yet_are_empty_but_valid():
    live = LiveRun(TrainConfig(max_episode_steps=200))
    data = run_datasets(live)
    assert len(data["history"]) == len(data["evals"]) == len(data["episodes"]) == 0
    assert list(data["bars"]["value"]) == [195.0]


def test_multi_seed_datasets_are_one_band_table(several):
    data = run_datasets(several, max_points=400)
    assert set(data) == {"bars", "band", "seeds"}
    assert list(data["seeds"].columns) == ["iteration", "seed", "value"] and set(data["seeds"]["seed"]) == {4, 5, 6}
    band = data["band"]
    assert list(band.columns) == ["iteration", "median", "low", "high", "field"]
    assert set(band["field"]) == set(BAND_FIELDS)
    assert_finite(band)
    assert (band["low"] <= band["median"]).all() and (band["median"] <= band["high"]).all()
    per_field = band.groupby("field").size()
    assert per_field["ma_return"] == 120 and per_field["eval_value"] == 120 // 5
    small = run_datasets(several, upto=60, max_points=20)["band"]
    assert small["iteration"].max() == 60 and small.groupby("field").size().max() <= 20


# ---------------------------------------------------------------------------------------------
# The live heatmap
# ---------------------------------------------------------------------------------------------
def test_live_heatmap_spec_reads_grid_and_boundary():
    spec = live_heatmap_spec()
    assert "datasets" not in spec and used_datasets(spec) == {"grid", "boundary"}
    (rect,) = by_mark(spec, "rect")
    enc = rect["encoding"]
    assert (enc["x"]["field"], enc["x2"]["field"], enc["y"]["field"], enc["y2"]["field"], enc["color"]["field"]) == (
        "theta_lo", "theta_hi", "theta_dot_lo", "theta_dot_hi", "p_right")
    assert enc["y"]["scale"]["domain"] == list(LIVE_THETA_DOT) and enc["x"]["scale"]["domain"] == [-12, 12]
    (line,) = by_mark(spec, "line")
    assert line["data"] == {"name": "boundary"} and line["mark"]["clip"] is True
    assert live_heatmap_chart(large=True).to_dict()["height"] == 200
    assert live_heatmap_spec(large=True)["config"]["axis"]["labelFontSize"] > spec["config"]["axis"]["labelFontSize"]


@pytest.mark.parametrize("kind", ["linear", "mlp"])
def test_live_heatmap_datasets_are_the_policy_grid(kind):
    policy = make_policy(kind, seed=5, **({"init_scale": 3.0} if kind == "linear" else {}))
    data = live_heatmap_datasets(policy, resolution=21)
    grid = data["grid"]
    assert len(grid) == 21 * 21 and list(grid.columns) == ["theta_lo", "theta_hi", "theta_dot_lo", "theta_dot_hi",
                                                            "p_right"]
    assert grid["theta_lo"].min() == pytest.approx(-12) and grid["theta_hi"].max() == pytest.approx(12)
    assert grid["theta_dot_lo"].min() == pytest.approx(LIVE_THETA_DOT[0])
    assert grid["theta_dot_hi"].max() == pytest.approx(LIVE_THETA_DOT[1])
    expected = policy_grid(policy, theta_dot_range=LIVE_THETA_DOT, resolution=21)["p_right"]
    np.testing.assert_allclose(grid["p_right"], expected)
    assert ((0 <= grid["p_right"]) & (grid["p_right"] <= 1)).all()
    assert_finite(grid)
    assert_finite(data["boundary"])
    assert list(data["boundary"].columns) == ["theta", "theta_dot", "segment", "order"]


def test_the_live_heatmap_changes_as_the_policy_learns():
    cfg = TrainConfig(seed=0)
    live = LiveRun(cfg)
    before = live_heatmap_datasets(live.policy)["grid"]["p_right"].to_numpy()
    while not live.finished:
        live.advance(5.0)
    after = live_heatmap_datasets(live.policy)["grid"]["p_right"].to_numpy()
    assert np.abs(after - before).max() > 0.3
    assert len(live_heatmap_datasets(live.policy)["grid"]) == 25 * 25, "the page's default resolution"
    # a solved linear policy pushes right when the pole falls right (theta > 0, theta_dot > 0)
    grid = live_heatmap_datasets(live.policy)["grid"]
    falling_right = grid[(grid["theta_lo"] > 6) & (grid["theta_dot_lo"] > 0.5)]
    assert (falling_right["p_right"] > 0.9).all()
    assert math.isclose(grid["p_right"].min(), 0.0, abs_tol=0.1)


def test_page_specs_are_built_once_per_layout_and_kept_for_a_bounded_number_of_layouts(monkeypatch):
    """Building is per (several seeds?, presenter mode); each time limit (any of 100,000
    values) is a copy with its y scales' top, and the copies are an LRU (with no bound, 300 time
    limits held 42 MB)."""
    import pg.viz.training_charts as training_charts

    page_specs.cache_clear()
    training_charts._built_specs.cache_clear()
    first = page_specs(False, 500, False)
    assert page_specs(False, 500, False) is first  # made once, shared
    for layout in ((False, 500, False), (False, 200, True), (True, 37, False)):  # the same as a build for it
        assert page_specs(*layout) == {**live_specs(*layout), "heatmap": live_heatmap_spec(layout[2])}
    built = []  # from here on, a stand-in builder (a real build takes about a second)
    monkeypatch.setattr(training_charts, "live_specs", lambda *layout: built.append(layout) or {"returns": {}})
    monkeypatch.setattr(training_charts, "live_heatmap_spec", lambda large: {})
    training_charts._built_specs.cache_clear()
    for max_steps in range(1000, 1000 + SPEC_CACHE_SIZE + 8):
        page_specs(False, max_steps, False)
        page_specs(False, max_steps, False)
    assert len(built) == 1, "one build for every time limit"
    info = page_specs.cache_info()
    assert info.maxsize == SPEC_CACHE_SIZE <= 64
    assert info.currsize == SPEC_CACHE_SIZE
    assert page_specs(False, 500, False) is not first  # the least recently used layout went first
    page_specs.cache_clear()
    training_charts._built_specs.cache_clear()


def test_every_live_layout_is_built_ahead_on_the_low_priority_thread():
    from pg.viz import training_charts
    from pg.viz.ahead import ahead_pool

    training_charts._built_specs.cache_clear()
    training_charts.build_layouts_ahead()
    ahead_pool().submit(lambda: None).result(timeout=120)  # after the four builds queued before it
    assert training_charts._built_specs.cache_info().currsize == 4
    hits = training_charts._built_specs.cache_info().hits
    for multi_seed in (False, True):
        for large in (False, True):
            training_charts.page_specs(multi_seed, 500, large)
    assert training_charts._built_specs.cache_info().hits == hits + 4  # each page's layout was there
