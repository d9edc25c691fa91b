"""Deep links under AppTest: a page opened with query parameters shows exactly the view they
describe, writes its state back to the URL as widgets move, offers the link, and turns bad
parameters into warnings that name them (never an exception). Presenter mode and its story."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import pytest
from app_helpers import APP, texts
from streamlit.testing.v1 import AppTest
from test_replay import quick_video  # noqa: F401  (a fixture: fast stand-in for the encoder)

from pages.theorem_text import PARTS
from pg.app.state import CompareState, HeatmapState, ReplayState, TheoremState, TrainState, to_query

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def visit(page: str | None, query: dict | None = None, timeout: float = 60) -> AppTest:
    """A session that opens ``pages/<page>.py`` (Home if None) by a link with ``query``.

    In a browser a link's first run is the page itself. AppTest's first run is always the
    entry's default page, and Home writes its own (empty) state to the URL, so the query is
    set after that run and the page is switched to, as a click on a link would do. (That is
    why tests/app_helpers.open_page(query=...) does not fit here: Home consumes the query.)
    """
    at = AppTest.from_file(APP, default_timeout=timeout)
    if page is None:
        at.query_params.update(query or {})
        return at.run()
    at.run()
    at.query_params.update(query or {})
    return at.switch_page(f"pages/views/{page}.py").run()


def link(at: AppTest) -> str:
    """The "Link to this view" text (relative under AppTest: st.context.url is not set)."""
    (url,) = [c.value for c in at.code if c.value.startswith(("/", "http"))]
    return url


def shown(at: AppTest) -> str:
    """Every number and word the page shows (texts, metric deltas, tables, chart data)."""
    parts = [texts(at)] + [str(m.delta) for m in at.metric] + [t.value.to_string() for t in at.table]
    parts += [d.data.data.hex() for c in at.get("vega_lite_chart") for d in c.proto.datasets]
    return "\n".join(parts)


def warnings_of(at: AppTest) -> list[str]:
    """Every warning line: a link's bad parameters share one box, one line (a list item) each."""
    return [line.removeprefix("- ") for w in at.warning for line in w.value.splitlines()]


def test_several_bad_parameters_share_one_box():
    at = visit("heatmap", {"x": "9", "y": "1"})
    (box,) = at.warning
    assert box.value.splitlines() == ["- " + line for line in warnings_of(at)] and len(warnings_of(at)) == 2


def assert_clean(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


# ---------------------------------------------------------------------------------------------
# Opening a link
# ---------------------------------------------------------------------------------------------
def test_theorem_link_sets_every_widget():
    query = {
        "problem": "bandit",
        "logit_0": "1.2",
        "logit_1": "-0.7",
        "logit_2": "0",
        "episodes": "64",
        "seed": "7",
        "b": "-1.5",
        "lr": "0.25",
        "part": "baselines",  # the tab with b and the learning rate
    }
    at = visit("theorem", query)
    assert_clean(at)
    assert warnings_of(at) == []
    assert at.radio(key="theorem_problem").value == "bandit"
    assert [at.slider(key=f"theorem_logit_{i}").value for i in range(3)] == [1.2, -0.7, 0.0]
    assert at.select_slider(key="theorem_episodes").value == 64
    assert at.number_input(key="theorem_seed").value == 7
    assert at.slider(key="theorem_b").value == -1.5 and at.slider(key="theorem_lr").value == 0.25
    assert at.subheader[0].value.startswith("6.") and "from N = 64 episodes" in texts(at)
    assert at.query_params == query and link(at) == "/theorem?" + "&".join(f"{k}={v}" for k, v in query.items())


def test_train_link_applies_the_preset_then_the_changes():
    query = {
        "preset": "neural-network",
        "lr": "0.05",
        "hidden": "16,16",
        "n_seeds": "3",
        "speed": "as-fast-as-possible",  # (not the default speed)
        "pace": "10",
        "max_grad_norm": "0.5",
    }
    at = visit("train", query)
    assert_clean(at)
    assert warnings_of(at) == []
    assert at.selectbox(key="train_preset").value == "neural network"
    assert at.selectbox(key="train_policy").value == "mlp"  # from the preset
    assert at.selectbox(key="train_baseline").value == "value"
    assert at.number_input(key="train_lr").value == 0.05  # the link's change to the preset
    assert at.text_input(key="train_hidden").value == "16,16"
    assert at.text_input(key="train_max_grad_norm").value == "0.5"
    assert at.slider(key="train_n_seeds").value == 3
    assert at.radio(key="train_speed").value == "As fast as possible" and at.slider(key="train_pace").value == 10
    assert at.query_params == query
    assert not at.error, "the settings make a valid TrainConfig"


def test_heatmap_link_sets_checkpoint_and_slice(shipped_iterations):
    early = shipped_iterations[3]
    at = visit("heatmap", {"checkpoint": str(early), "x": "0.5", "x_dot": "-1.2", "overlay": "0"})
    assert_clean(at)
    assert warnings_of(at) == []
    assert at.select_slider(key="heatmap_checkpoint").value == early
    assert at.slider(key="heatmap_x").value == 0.5 and at.slider(key="heatmap_x_dot").value == -1.2
    assert at.toggle(key="heatmap_overlay").value is False
    assert "Slice at x = 0.5 m, cart velocity -1.2 m/s" in texts(at)


def test_replay_link_sets_the_start_and_the_nudge(quick_video):  # noqa: F811
    query = {
        "seed": "42",
        "start_by_hand": "1",
        "mode": "sampled",
        "nudge": "1",
        "theta": "0.03",
        "theta_dot": "-0.02",
        "nudge_step": "50",
        "nudge_strength": "-2.5",
    }
    at = visit("replay", query)
    assert_clean(at)
    assert warnings_of(at) == []
    assert at.number_input(key="replay_seed").value == 42
    assert at.radio(key="replay_mode").value == "sampled"
    assert at.slider(key="replay_theta").value == 0.03 and at.slider(key="replay_x").value == 0.0
    assert at.slider(key="replay_nudge_step").value == 50 and at.slider(key="replay_nudge_strength").value == -2.5
    assert at.query_params == query


# ---------------------------------------------------------------------------------------------
# The round trip: set widgets, take the link, open it in a new session: same view, same numbers
# ---------------------------------------------------------------------------------------------
def round_trip(page: str, set_widgets) -> tuple[AppTest, AppTest]:
    first = visit(page)
    set_widgets(first)
    assert_clean(first)
    url = link(first)
    assert url.startswith(f"/{page}")
    query = {key: values[-1] for key, values in parse_qs(urlsplit(url).query).items()}
    assert query == first.query_params
    second = visit(page, first.query_params)
    assert_clean(second)
    assert warnings_of(second) == []
    assert link(second) == url and second.query_params == first.query_params
    return first, second


def all_widgets(at: AppTest, prefix: str) -> dict:
    """{key: value} of every widget of the page whose key starts with ``prefix``."""
    found = {}
    for kind in ("slider", "select_slider", "number_input", "radio", "toggle", "selectbox", "text_input"):
        for w in getattr(at, kind):
            if w.key and w.key.startswith(prefix):
                found[w.key] = w.value
    return found


def test_theorem_round_trip():
    def change(at):
        at.radio(key="theorem_problem").set_value("bandit").run()
        at.slider(key="theorem_logit_1").set_value(2.3).run()
        at.select_slider(key="theorem_episodes").set_value(128).run()
        at.number_input(key="theorem_seed").set_value(99).run()
        at.session_state["theorem_tab"] = PARTS["baselines"]
        at.run()
        at.slider(key="theorem_b").set_value(4.5).run()
        at.slider(key="theorem_lr").set_value(1.35).run()

    first, second = round_trip("theorem", change)
    assert first.query_params == {
        "problem": "bandit",
        "logit_1": "2.3",
        "episodes": "128",
        "seed": "99",
        "b": "4.5",
        "lr": "1.35",
        "part": "baselines",
    }
    assert all_widgets(second, "theorem_") == all_widgets(first, "theorem_")
    assert shown(second) == shown(first)


def test_train_round_trip():
    def change(at):
        at.selectbox(key="train_preset").set_value("the seed blog post").run()
        at.number_input(key="train_lr").set_value(0.004).run()
        at.number_input(key="train_seed").set_value(12).run()
        at.slider(key="train_n_seeds").set_value(2).run()
        at.radio(key="train_speed").set_value("One step at a time").run()

    first, second = round_trip("train", change)
    assert first.query_params == {
        "preset": "the-seed-blog-post",
        "lr": "0.004",
        "seed": "12",
        "n_seeds": "2",
        "speed": "one-step-at-a-time",
    }
    assert all_widgets(second, "train_") == all_widgets(first, "train_")
    assert all_widgets(second, "train_")["train_optimizer"] == "sgd"  # the preset came along
    # the same numbers: one Step in each session trains the same first update
    for at in (first, second):
        at.button(key="train_step").click().run()
        assert_clean(at)
    assert shown(second) == shown(first)
    assert "update 1" in texts(second)


def test_heatmap_round_trip(shipped_iterations):
    def change(at):
        at.select_slider(key="heatmap_checkpoint").set_value(shipped_iterations[5]).run()
        at.slider(key="heatmap_x").set_value(-1.3).run()
        at.slider(key="heatmap_x_dot").set_value(0.7).run()
        at.toggle(key="heatmap_overlay").set_value(False).run()

    first, second = round_trip("heatmap", change)
    assert first.query_params == {"checkpoint": str(shipped_iterations[5]), "x": "-1.3", "x_dot": "0.7", "overlay": "0"}
    assert all_widgets(second, "heatmap_") == all_widgets(first, "heatmap_")
    assert shown(second) == shown(first)


def test_replay_round_trip(quick_video):  # noqa: F811
    def change(at):
        at.number_input(key="replay_seed").set_value(5).run()
        at.toggle(key="replay_start_by_hand").set_value(True).run()
        at.slider(key="replay_x").set_value(-0.04).run()
        at.slider(key="replay_theta_dot").set_value(0.05).run()
        at.toggle(key="replay_nudge").set_value(True).run()
        at.slider(key="replay_nudge_step").set_value(30).run()
        at.slider(key="replay_nudge_strength").set_value(2.2).run()

    first, second = round_trip("replay", change)
    assert first.query_params == {
        "seed": "5",
        "start_by_hand": "1",
        "nudge": "1",
        "x": "-0.04",
        "theta_dot": "0.05",
        "nudge_step": "30",
        "nudge_strength": "2.2",
    }
    assert all_widgets(second, "replay_") == all_widgets(first, "replay_")
    assert shown(second) == shown(first)


def test_compare_round_trip():
    def change(at):
        at.multiselect(key="compare_estimators").set_value(["rtg", "td0", "gae"]).run()
        at.slider(key="compare_gae_lambda").set_value(0.5).run()
        at.slider(key="compare_seeds").set_value(1).run()
        at.select_slider(key="compare_episodes").set_value(8).run()
        at.radio(key="compare_critic").set_value("linear").run()
        at.toggle(key="compare_normalize").set_value(True).run()

    first, second = round_trip("compare", change)
    assert first.query_params == {
        "estimators": "rtg,td0,gae",
        "gae_lambda": "0.5",
        "seeds": "1",
        "episodes": "8",
        "critic": "linear",
        "normalize": "1",
    }
    assert all_widgets(second, "compare_") == all_widgets(first, "compare_")
    assert second.multiselect(key="compare_estimators").value == ["rtg", "td0", "gae"]
    # the same numbers: both sessions run the comparison the link describes
    for at in (first, second):
        at.button(key="compare_run").click().run()
        assert_clean(at)
    assert shown(second) == shown(first)
    assert "GAE λ = 0.5" in shown(second)


# ---------------------------------------------------------------------------------------------
# The URL follows the widgets, and a later rerun never reads a stale URL back
# ---------------------------------------------------------------------------------------------
def test_a_widget_change_is_written_back_and_a_default_removed():
    at = visit("heatmap")
    assert at.query_params == {}
    at.slider(key="heatmap_x").set_value(0.5).run()
    assert at.query_params == {"x": "0.5"} and link(at) == "/heatmap?x=0.5"
    at.slider(key="heatmap_x").set_value(0.0).run()
    assert at.query_params == {} and link(at) == "/heatmap"


def test_after_the_first_run_the_widgets_win_over_the_link():
    at = visit("heatmap", {"x": "0.5"})
    at.slider(key="heatmap_x").set_value(-1.0).run()
    assert at.slider(key="heatmap_x").value == -1.0 and at.query_params == {"x": "-1"}
    at.run()
    assert at.slider(key="heatmap_x").value == -1.0


def test_each_page_keeps_its_own_state_in_the_url():
    at = visit("heatmap", {"x": "0.5"})
    at.query_params.clear()  # what a browser does on a page switch (AppTest.switch_page keeps them)
    at.switch_page("pages/views/replay.py").run()
    assert_clean(at)
    assert at.query_params == {} and warnings_of(at) == []
    at.query_params["x"] = "0.02"  # a later run of the same visit does not read the URL again
    at.run()
    assert warnings_of(at) == [] and at.query_params == {}


# ---------------------------------------------------------------------------------------------
# Bad parameters: a warning naming each, the default in its place, never an exception
# ---------------------------------------------------------------------------------------------
BAD = {
    "theorem": (
        {
            "problem": "<script>alert(1)</script>",
            "logit_0": "nan",
            "episodes": "3",
            "seed": "'; DROP TABLE x;--",
            "colour": "red",
        },
        ["problem", "logit_0", "episodes", "seed", "colour"],
        TheoremState,
    ),
    "train": (
        {
            "lr": "abc",
            "batch_episodes": "1e9",
            "hidden": "600",
            "preset": "warp",
            "speed": "ludicrous",
            "n_seeds": "99",
            "max_seconds": "inf",
            "solve_return": "9999",
        },
        ["lr", "batch_episodes", "hidden", "preset", "speed", "n_seeds", "max_seconds", "solve_return"],
        TrainState,
    ),
    "heatmap": (
        {"checkpoint": "99999", "x": "3", "x_dot": "0.05", "overlay": "yes please", "θ": "1"},
        ["checkpoint", "x", "x_dot", "overlay", "\\u03b8"],
        HeatmapState,
    ),
    "compare": (
        {"estimators": "rtg,rtg", "gae_lambda": "0.97", "seeds": "1.5", "episodes": "10", "critic": "Linear",
         "normalize": "-1", "lambda": "0.9"},
        ["estimators", "gae_lambda", "seeds", "episodes", "critic", "normalize", "lambda"],
        CompareState,
    ),
    "replay": (
        {"seed": "-5", "mode": "greedy' OR 1=1", "nudge_step": "1000", "nudge_strength": "1e400", "x" * 300: "1"},
        ["seed", "mode", "nudge_step", "nudge_strength", "x" * 24 + "…"],
        ReplayState,
    ),
}


@pytest.mark.parametrize("page", list(BAD))
def test_bad_parameters_warn_by_name_and_fall_back_to_defaults(page, quick_video):  # noqa: F811
    query, names, kind = BAD[page]
    at = visit(page, query)
    assert_clean(at)
    shown_warnings = warnings_of(at)
    assert len(shown_warnings) == len(names), shown_warnings
    for name in names:
        assert any(f"`?{name}=" in w for w in shown_warnings), (name, shown_warnings)
    assert at.query_params == to_query(kind()), "the URL is rewritten without the bad parameters"
    at.run()  # the warnings were about the link: the next run does not repeat them
    assert warnings_of(at) == [] and not at.exception


def test_a_checkpoint_the_run_did_not_save_falls_back_to_the_final_policy(shipped_iterations):
    at = visit("heatmap", {"checkpoint": str(shipped_iterations[-1] + 7)})
    (message,) = warnings_of(at)
    assert f"`?checkpoint={shipped_iterations[-1] + 7}`" in message and "final policy" in message
    assert at.select_slider(key="heatmap_checkpoint").value == shipped_iterations[-1]


def test_home_warns_about_parameters_it_does_not_take():
    at = visit(None, {"x": "1", "present": "maybe"})
    assert_clean(at)
    messages = warnings_of(at)
    assert len(messages) == 2
    assert any("`?x=1`" in m for m in messages) and any("`?present=maybe`" in m for m in messages)
    assert at.query_params == {}


# ---------------------------------------------------------------------------------------------
# Presenter mode
# ---------------------------------------------------------------------------------------------
def test_present_is_read_from_the_link_and_kept_in_it():
    at = visit(None, {"present": "1"})
    assert_clean(at)
    assert at.session_state["present"] is True
    assert at.query_params == {"present": "1"}
    assert any(h.value == "The story" for h in at.subheader)
    at.switch_page("pages/views/heatmap.py").run()
    assert at.query_params == {"present": "1"}
    at.slider(key="heatmap_x").set_value(0.5).run()
    assert at.query_params == {"present": "1", "x": "0.5"}
    assert link(at) == "/heatmap?x=0.5&present=1"


def test_presenter_mode_draws_the_charts_large():
    def label_size(at):
        return json.loads(at.get("vega_lite_chart")[0].proto.spec)["config"]["axis"]["labelFontSize"]

    assert label_size(visit("heatmap", {"present": "1"})) > label_size(visit("heatmap"))


def test_the_story_on_home_lists_the_pages_in_teaching_order_and_next_opens_the_first():
    at = visit(None, {"present": "1"})
    assert at.title[0].value == "Policy Gradients, Visually"
    assert any(h.value == "The story" for h in at.subheader)
    stops = [m.value for m in at.markdown if m.value.startswith("**1. ")] + [
        e.proto.label for e in at.get("page_link") if e.proto.label[2:3].isdigit()
    ]
    assert stops == [
        "**1. Home** (here)",
        "**2. The gradient theorem**",
        "**3. Live training**",
        "**4. Policy heatmap**",
        "**5. Replay**",
        "**6. Credit assignment**",
        "**7. Compare estimators**",
    ]
    assert at.button(key="story_back").disabled and not at.button(key="story_next").disabled
    at.button(key="story_next").click().run()
    assert_clean(at)
    assert at.title[0].value == "The gradient theorem"
    assert at.query_params == {"present": "1"}, "presenter mode carries on to the next page"
    # The bar with Next and Back on the other pages is drawn by streamlit_app.py before the
    # page; AppTest drops the entry's elements after its first run (recipes/02), so the walk
    # through every page is checked in the browser (tests/browser/test_presenter_browser.py).


def test_without_presenter_mode_there_is_no_story():
    at = visit("heatmap")
    assert not any("Story:" in m.value for m in at.markdown)
    assert not any(h.value == "The story" for h in visit(None).subheader)


@pytest.fixture(scope="module")
def shipped_iterations() -> list[int]:
    from pages.shared import SHIPPED_POLICY
    from pg.runs.checkpoint import load_run

    return sorted(iteration for iteration, _ in load_run(SHIPPED_POLICY).snapshots)


# ---------------------------------------------------------------------------------------------
# Memory: a link or the form cannot ask for more than a run may use (pg.runs.footprint)
# ---------------------------------------------------------------------------------------------
HEAVIEST = {"policy": "mlp", "hidden": "512,512,512,512", "batch_episodes": "4096", "n_seeds": "5",
            "eval_episodes": "10000", "max_episode_steps": "100000"}


def test_the_heaviest_link_of_the_issue_falls_back_with_a_warning_naming_its_fields():
    at = visit("train", HEAVIEST)
    (message,) = warnings_of(at)
    for name in ("hidden", "batch_episodes", "eval_episodes", "max_episode_steps"):
        assert f"?{name}=" in message
    assert "more than the 120 MB one run may use here" in message
    assert at.selectbox(key="train_policy").value == "mlp"
    assert at.text_input(key="train_hidden").value == "32"
    assert at.number_input(key="train_batch_episodes").value == 16
    assert at.number_input(key="train_max_episode_steps").value == 500
    assert at.number_input(key="train_eval_episodes").value == 100
    assert not at.error and not at.button(key="train_start").disabled


def test_the_form_refuses_a_run_over_the_memory_budget():
    at = visit("train")
    at.number_input(key="train_batch_episodes").set_value(4096).run()
    (error,) = at.error
    assert "This run would need about" in error.value and "the limit here is 120 MB" in error.value
    assert at.button(key="train_start").disabled and at.button(key="train_step").disabled


def test_credit_link_sets_checkpoint_and_seed_and_round_trips(shipped_iterations):
    at = visit("credit", {"checkpoint": str(shipped_iterations[4]), "seed": "3"})
    assert_clean(at)
    assert warnings_of(at) == []
    assert at.select_slider(key="credit_checkpoint").value == shipped_iterations[4]
    assert at.number_input(key="credit_seed").value == 3

    def change(at):
        at.select_slider(key="credit_checkpoint").set_value(shipped_iterations[6]).run()
        at.number_input(key="credit_seed").set_value(11).run()

    first, second = round_trip("credit", change)
    assert first.query_params == {"checkpoint": str(shipped_iterations[6]), "seed": "11"}
    assert all_widgets(second, "credit_") == all_widgets(first, "credit_")
    bad = visit("credit", {"checkpoint": "99999", "seed": "-4"})
    assert_clean(bad)
    assert len(warnings_of(bad)) == 2, "both bad values are named; the page shows its defaults"
