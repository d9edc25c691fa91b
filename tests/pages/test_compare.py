"""The Compare page through the entry file (AppTest): every widget reaches the comparison it
should, and the table, the charts, the findings and the caption show pg.lessons.comparison's
numbers for those settings; the prediction asked before Run is checked against them, both ways."""

from __future__ import annotations

import re

import numpy as np
import pyarrow as pa
import pytest
from app_helpers import chart_specs, open_page, texts

from pg.lessons.comparison import (
    TABLE_COLUMNS,
    CompareSettings,
    Comparison,
    check_prediction,
    findings,
    findings_text,
    formatted_table,
)


def chart_data(at) -> list[dict]:
    """Each chart's named datasets (sent beside the spec, as Arrow) as DataFrames."""
    return [{d.name: pa.ipc.open_stream(d.data.data).read_pandas() for d in c.proto.datasets}
            for c in at.get("vega_lite_chart")]


# small enough to run in a few seconds: two estimators that solve fast, one seed
CHOSEN = ["rtg-batch-mean", "gae"]
SETTINGS = CompareSettings(("rtg-batch-mean", "gae:1"), n_seeds=1, batch_episodes=8, value_model="linear",
                           normalize_advantages=False)


@pytest.fixture(scope="module")
def ran():
    at = open_page("compare", timeout=180)
    at.sidebar.multiselect(key="compare_estimators").set_value(CHOSEN)
    at.sidebar.slider(key="compare_gae_lambda").set_value(1.0)
    at.sidebar.slider(key="compare_seeds").set_value(1)
    at.sidebar.select_slider(key="compare_episodes").set_value(8)
    at.sidebar.radio(key="compare_critic").set_value("linear")
    at.run()
    at.radio(key="compare_prediction").set_value("gae")  # predicted before Run
    at.button(key="compare_run").click().run()
    assert not at.exception, [e.value for e in at.exception]
    return at


@pytest.fixture(scope="module")
def expected():
    """pg.lessons.comparison run on its own with the settings the widgets are set to."""
    return Comparison(SETTINGS).run()


def test_before_running_the_page_explains_and_offers_run():
    at = open_page("compare")
    assert at.title[0].value == "Compare estimators"
    assert "Press **Run comparison**" in texts(at)
    assert not at.button(key="compare_run").disabled and at.button(key="compare_stop").disabled
    assert at.sidebar.multiselect(key="compare_estimators").value == ["reinforce", "rtg-batch-mean", "td0", "gae"]
    assert chart_specs(at) == []
    question = at.radio(key="compare_prediction")
    assert question.value is None and question.options == ["REINFORCE (G₀)", "Gₜ − batch mean", "TD(0)", "GAE(λ)"]
    assert "lowest relative variance at the policy on its way" in question.label


def test_the_table_is_pg_compares_for_the_same_settings(ran, expected):
    """Every cell but the seconds (a timing) equals pg.lessons.comparison run again with the settings the
    widgets were set to."""
    cells = formatted_table(expected.table())
    shown = ran.table[0].value
    assert shown.index.tolist() == [row["Estimator"] for row in cells] == ["Gₜ − batch mean", "GAE λ = 1"]
    assert shown.columns.tolist() == list(TABLE_COLUMNS[1:])
    for label, row in zip(shown.index, cells):
        for column in TABLE_COLUMNS[1:]:
            if column != "Seconds to solve":
                assert shown.loc[label, column] == row[column], (label, column)
    assert all(re.fullmatch(r"\d+\.\d\d", shown.loc[label, "Seconds to solve"]) for label in shown.index)


def test_charts_and_caption_come_from_the_run(ran, expected):
    specs = chart_specs(ran)
    assert len(specs) == 4
    titles = [s["title"]["text"] for s in specs]
    assert titles == ["Against environment steps: sample efficiency", "Against seconds of training: what a step costs",
                      "Relative variance at a fixed policy", "Does one batch point the right way?"]
    assert specs[2]["layer"][0]["encoding"]["y"]["field"] == "relative_variance"  # the headline
    assert specs[3]["layer"][0]["encoding"]["y"]["field"] == "cosine_reference"
    data = chart_data(ran)
    assert [set(d) for d in data] == [{"curves_env_steps", "solved", "bars"}, {"curves_wall_time", "solved", "bars"},
                                      {"variance"}, {"cosine"}]
    variance, cosine, rows = data[2]["variance"], data[3]["cosine"], expected.variance_rows()
    assert len(variance) == 4 and set(variance["estimator"]) == {"Gₜ − batch mean", "GAE λ = 1"}
    assert (variance["variance"] > 0).all()
    assert sorted(variance["relative_variance"]) == sorted(r["relative_variance"] for r in rows)
    assert sorted(cosine["cosine_reference"]) == sorted(r["cosine_reference"] for r in rows)
    assert len(cosine) == 4 and (cosine["reference_relative_noise"] > 0).all()
    curves = data[0]["curves_env_steps"]
    assert len(curves) and ((curves["low"] <= curves["median"]) & (curves["median"] <= curves["high"])).all()
    assert len(data[0]["solved"]) == 2  # each estimator's one seed solved: a dot each
    for frames in data:
        for frame in frames.values():
            assert np.isfinite(frame.select_dtypes("number").to_numpy()).all()
    caption = texts(ran)
    assert "Seeds 0 for every estimator (8 episodes per update" in caption and "linear critic" in caption
    assert "advantages not normalised" in caption and "“mid”: the policy of" in caption
    assert ran.button(key="compare_run").disabled is False and ran.button(key="compare_stop").disabled


def test_the_findings_are_the_runs_and_the_prediction_is_checked(ran, expected):
    rows = expected.variance_rows()
    shown = texts(ran)
    for line in findings_text(findings(rows, "mid")):
        assert line in shown
    check = check_prediction(rows, "gae:1", "mid")
    assert check.text() in shown and check.text().startswith("Your prediction ")


@pytest.mark.parametrize("choice, name", [("rtg-batch-mean", "rtg-batch-mean"), (None, None)])
def test_the_prediction_is_checked_both_ways(ran, expected, choice, name):
    """Run again with another answer (the same settings: the finished comparison, nothing recomputed)."""
    ran.radio(key="compare_prediction").set_value(choice)
    ran.button(key="compare_run").click().run()
    check = check_prediction(expected.variance_rows(), name, "mid")
    assert check.text() in texts(ran)
    other = check_prediction(expected.variance_rows(), "gae:1", "mid")
    assert other.matched is not None and check.matched is (None if name is None else not other.matched)
    ran.radio(key="compare_prediction").set_value("gae")
    ran.button(key="compare_run").click().run()


def test_changing_a_setting_after_a_run_says_the_results_are_the_old_ones(ran):
    ran.sidebar.toggle(key="compare_normalize").set_value(True).run()
    assert "results below are for the last settings you ran" in texts(ran)
    ran.sidebar.toggle(key="compare_normalize").set_value(False).run()
    assert "results below are for the last settings you ran" not in texts(ran)


def test_lambda_is_only_offered_with_gae_and_no_estimator_disables_run():
    at = open_page("compare")
    at.sidebar.multiselect(key="compare_estimators").set_value(["rtg", "td0"]).run()
    assert at.sidebar.slider(key="compare_gae_lambda").disabled
    assert at.radio(key="compare_prediction").options == ["Gₜ", "TD(0)"]
    at.sidebar.multiselect(key="compare_estimators").set_value(["rtg"]).run()
    assert not [r for r in at.radio if r.key == "compare_prediction"]  # no "lowest" among one
    at.sidebar.multiselect(key="compare_estimators").set_value([]).run()
    assert "Pick at least one estimator" in texts(at) and at.button(key="compare_run").disabled


def test_running_the_same_settings_again_shows_the_same_comparison(ran):
    """Run with unchanged settings reuses the comparison (shared through the page's registry):
    nothing is recomputed, the table is unchanged. (Stop is exercised in the browser test,
    where a click can land while the comparison runs.)"""
    before, table = ran.session_state["compare_comparison"], ran.table[0].value
    ran.button(key="compare_run").click().run()
    assert ran.session_state["compare_comparison"] is before and before.finished
    assert ran.table[0].value.equals(table) and not ran.session_state["compare_running"]


def test_presenter_mode_draws_large_charts(ran):
    sizes = {s["config"]["axis"]["labelFontSize"] for s in chart_specs(ran)}
    ran.session_state["present"] = True
    ran.run()
    large = {s["config"]["axis"]["labelFontSize"] for s in chart_specs(ran)}
    assert max(large) > max(sizes)
    ran.session_state["present"] = False
