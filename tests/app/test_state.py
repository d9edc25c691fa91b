"""pg.app.state: every page's state round-trips through URL query parameters, and no query string,
however bad, raises or slips an invalid value through; each bad parameter's warning names it."""

from __future__ import annotations

import dataclasses
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pg.algo.reinforce import TrainConfig
from pg.app.presets import FORM_ADVANCED, FORM_MAIN, PRESETS, config_from_form, form_values, preset_config
from pg.app.state import (
    APP_KEYS,
    MAX_LENGTH,
    SPEEDS,
    AppState,
    CompareState,
    CreditState,
    HeatmapState,
    HomeState,
    ReplayState,
    TheoremState,
    TrainState,
    defaults,
    from_query,
    preset_values,
    run_bytes,
    slug,
    specs,
    to_query,
)
from pg.runs.footprint import RUN_BUDGET
from pg.runs.live import MAX_SEEDS

CONFIG = [name for name, *_ in FORM_MAIN + FORM_ADVANCED]
KINDS = [AppState, HomeState, TheoremState, TrainState, HeatmapState, ReplayState, CreditState, CompareState]
PAGE_KINDS = [TheoremState, TrainState, HeatmapState, ReplayState, CreditState, CompareState]


def allows(spec, value) -> bool:
    """Whether ``value`` is a value of a field: None where it is optional, else a value that
    the field writes and reads back unchanged."""
    if value is None:
        return spec.optional
    try:
        return spec.read(spec.write(value)) == value
    except ValueError:
        return False


def is_valid(state) -> bool:
    """Every field holds one of its allowed values, and a TrainState makes a TrainConfig:
    what from_query must always return."""
    if not all(allows(spec, getattr(state, name)) for name, spec in specs(type(state)).items()):
        return False
    if type(state) is TrainState:
        try:  # within the memory budget too, with its seeds (pg.runs.footprint)
            config_from_form({name: getattr(state, name) for name in CONFIG}, state.n_seeds)
        except ValueError:
            return False
    return True


# ---------------------------------------------------------------------------------------------
# The schemas list exactly each page's widgets
# ---------------------------------------------------------------------------------------------
def test_train_state_is_the_preset_every_config_widget_and_the_run_controls():
    names = [f.name for f in dataclasses.fields(TrainState)]
    assert names[0] == "preset" and names[-3:] == ["n_seeds", "speed", "pace"]
    assert names[1:-3] == [name for name, *_ in FORM_MAIN + FORM_ADVANCED]  # the page's form, in order
    assert set(names[1:-3]) <= {f.name for f in dataclasses.fields(TrainConfig)}
    assert specs(TrainState)["n_seeds"].high == MAX_SEEDS
    assert specs(TrainState)["speed"].options == SPEEDS


def test_train_state_uses_the_forms_bounds_and_trainconfigs_open_ranges():
    for name, kind, _, options in FORM_MAIN + FORM_ADVANCED:
        spec = specs(TrainState)[name]
        if kind in ("int", "float"):
            assert (spec.low, spec.high) == (options[0], options[1]), name
        if kind == "choice":
            assert spec.options == tuple(options), name
    assert specs(TrainState)["lr"].low_open and not specs(TrainState)["gamma"].low_open  # TrainConfig's ranges


def test_train_defaults_are_the_default_presets_values():
    state = TrainState()
    assert state.preset == "fastest"
    assert {name: getattr(state, name) for name in CONFIG} == preset_values("fastest")


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.__name__)
def test_defaults_are_valid_and_write_an_empty_query(kind):
    assert is_valid(kind())
    assert to_query(kind()) == {}
    assert from_query(kind, {}) == (kind(), [])


def test_app_keys_are_allowed_on_every_page_and_not_parameters_of_any():
    assert APP_KEYS == ("present",)
    for kind in PAGE_KINDS:
        assert from_query(kind, {"present": "1"}) == (kind(), [])
        assert "present" not in specs(kind)
    assert from_query(AppState, {"present": "1"}) == (AppState(present=True), [])


# ---------------------------------------------------------------------------------------------
# Round trips
# ---------------------------------------------------------------------------------------------
def test_only_changed_fields_are_written_in_short_forms():
    assert to_query(TheoremState(problem="bandit", logit_0=1.2, b=-0.5)) == {
        "problem": "bandit",
        "logit_0": "1.2",
        "b": "-0.5",
    }
    assert to_query(HeatmapState(checkpoint=0, overlay=False)) == {"checkpoint": "0", "overlay": "0"}
    assert to_query(ReplayState(nudge=True, nudge_strength=-2.0)) == {"nudge": "1", "nudge_strength": "-2"}
    # a slider's float noise is written on its grid
    assert to_query(HeatmapState(x=0.30000000000000004)) == {"x": "0.3"}
    assert from_query(HeatmapState, {"x": "0.3"})[0].x == 0.3


def test_a_preset_is_written_as_a_slug_and_fields_relative_to_it():
    state = dataclasses.replace(TrainState(), **preset_values("neural network"), preset="neural network")
    assert to_query(state) == {"preset": "neural-network"}
    speed = next(s for s in SPEEDS if s != TrainState().speed)  # (whichever the default is)
    changed = dataclasses.replace(state, lr=0.05, n_seeds=3, speed=speed)
    assert to_query(changed) == {"preset": "neural-network", "lr": "0.05", "n_seeds": "3", "speed": slug(speed)}
    assert from_query(TrainState, to_query(changed)) == (changed, [])
    # the preset's own name is read too, in any case
    assert from_query(TrainState, {"preset": "Neural Network"})[0] == state


def test_a_preset_sets_every_config_field():
    for name in PRESETS:
        state, warnings = from_query(TrainState, {"preset": slug(name)})
        assert warnings == []
        assert {f: getattr(state, f) for f in CONFIG} == preset_values(name)
        assert {f: getattr(state, f) for f in CONFIG}.items() <= form_values(preset_config(name)).items()


ROUND_TRIP_CONFIGS = [(name, preset_config(name)) for name in PRESETS] + [
    ("fastest", TrainConfig(solve_return=195.0)),  # v0's bar on v1's 500-step episodes: not the default
    ("fastest", TrainConfig(max_episode_steps=200, solve_return=195.0)),  # v0's bar where it is the default
    ("CartPole-v0 (the 195 bar)", preset_config("CartPole-v0 (the 195 bar)", solve_return=150.0)),
    ("fastest", TrainConfig(max_episode_steps=100)),
    ("fastest", TrainConfig(max_episode_steps=100, solve_return=90.0)),
]


@pytest.mark.parametrize("preset, cfg", ROUND_TRIP_CONFIGS, ids=lambda x: getattr(x, "solve_return", x))
def test_a_config_comes_back_unchanged_from_the_form_and_from_a_link(preset, cfg):
    """TrainConfig -> the form's values -> TrainConfig, and on through a link: TrainState ->
    query -> TrainState -> TrainConfig. (TrainConfig(solve_return=195.0) on 500-step episodes
    came back as 475: the form wrote "none" for 195 whatever the time limit.)"""
    values = form_values(cfg)
    assert config_from_form(values) == cfg
    state = dataclasses.replace(TrainState(), preset=preset, **{name: values[name] for name in CONFIG})
    back, warnings = from_query(TrainState, to_query(state))
    assert warnings == [] and back == state
    assert config_from_form({name: getattr(back, name) for name in CONFIG}) == cfg


# random valid states ---------------------------------------------------------------------------
def value_of(spec):
    """A strategy for the valid values of one field."""
    if spec.kind == "flag":
        return st.booleans()
    if spec.kind == "choice":
        return st.sampled_from(spec.options)
    if spec.kind == "subset":
        return st.lists(st.sampled_from(spec.options), min_size=1, max_size=int(spec.high), unique=True).map(tuple)
    if spec.kind == "integer":
        ints = st.integers(int(spec.low), int(spec.high))
        return st.none() | ints if spec.optional else ints
    if spec.kind == "number" and spec.step:
        steps = round((spec.high - spec.low) / spec.step)
        return st.integers(0, steps).map(lambda k: round(spec.low + k * spec.step, 6) + 0.0)
    if spec.kind == "number":
        return st.floats(spec.low, spec.high, exclude_min=spec.low_open, allow_nan=False)
    raise AssertionError(spec)


@st.composite
def states(draw, kind):
    values = {}
    for name, spec in specs(kind).items():
        if spec.kind == "text":
            continue
        values[name] = draw(value_of(spec))
    if kind is TrainState:
        sizes = draw(st.lists(st.integers(1, 512), min_size=1, max_size=4))
        values["hidden"] = draw(st.sampled_from([",", ", "])).join(map(str, sizes))
        values["max_grad_norm"] = draw(st.just("none") | st.floats(1e-6, 1e6).map(repr))
        fraction = draw(st.floats(1e-3, 1.0))
        if (run_bytes(values | {"solve_return": "none"}) or 0) > RUN_BUDGET:  # valid means within the memory budget:
            sizes = draw(st.lists(st.integers(1, 64), min_size=1, max_size=2))  # redraw the sizes small
            values["hidden"] = ",".join(map(str, sizes))
            values["batch_episodes"] = draw(st.integers(1, 16))
            values["max_episode_steps"] = draw(st.integers(1, 1000))
            values["eval_episodes"] = draw(st.integers(1, 200))
            values["max_updates"] = draw(st.integers(1, 10_000))
        values["solve_return"] = draw(st.just("none") | st.just(repr(fraction * values["max_episode_steps"])))
    return kind(**values)


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.__name__)
@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_round_trip_of_random_valid_states(kind, data):
    state = data.draw(states(kind))
    assert is_valid(state)
    query = to_query(state)
    assert all(isinstance(k, str) and isinstance(v, str) and len(v) <= MAX_LENGTH for k, v in query.items())
    assert from_query(kind, query) == (state, [])


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.__name__)
@settings(max_examples=300, deadline=None)
@given(params=st.dictionaries(st.text(max_size=80), st.text(max_size=80) | st.lists(st.text(max_size=10), max_size=3)))
def test_arbitrary_text_never_raises_and_gives_a_valid_state(kind, params):
    state, warnings = from_query(kind, params)
    assert isinstance(state, kind) and is_valid(state)
    for message in warnings:
        assert_markdown_safe(message)


@pytest.mark.parametrize("kind", PAGE_KINDS, ids=lambda k: k.__name__)
@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_one_bad_text_for_a_known_key_warns_once_and_keeps_the_rest(kind, data):
    name = data.draw(st.sampled_from(list(specs(kind))))
    raw = data.draw(st.text(max_size=90))
    state, warnings = from_query(kind, {name: raw})
    assert is_valid(state)
    if warnings:
        assert len(warnings) == 1 and name in warnings[0]
        others = {f: v for f, v in dataclasses.asdict(state).items() if f != name}
        assert others == {f: v for f, v in dataclasses.asdict(kind()).items() if f != name}


def assert_markdown_safe(message: str) -> None:
    """Whatever came from the URL sits inside `code spans` (so nothing in it renders as
    Markdown or HTML): an even number of backticks, no line breaks, nothing long."""
    assert message.count("`") % 2 == 0, message
    assert "\n" not in message and "\r" not in message
    assert len(message) < 400


# ---------------------------------------------------------------------------------------------
# The bad-parameter corpus: each case falls back to the default and names the parameter
# ---------------------------------------------------------------------------------------------
LONG = "9" * 200
CORPUS = [
    # (state, key, value, words the warning must contain)
    (TheoremState, "problem", "cartpole", ["problem", "one of tiny_cartpole, bandit"]),
    (TheoremState, "logit_0", "abc", ["logit_0", "a number in [-3, 3] in steps of 0.1", "using 0.5"]),
    (TheoremState, "logit_1", "3.5", ["logit_1", "[-3, 3]"]),
    (TheoremState, "logit_2", "0.55", ["logit_2", "in steps of 0.1"]),
    (TheoremState, "episodes", "3", ["episodes", "one of 1, 2, 4"]),
    (TheoremState, "episodes", "16.0", ["episodes"]),
    (TheoremState, "seed", "-1", ["seed", "an integer in [0, 1000000]"]),
    (TheoremState, "seed", "1e3", ["seed", "an integer"]),
    (TheoremState, "b", "NaN", ["b", "a number in [-5, 5]"]),
    (TheoremState, "lr", "inf", ["lr", "[0.05, 2]"]),
    (TheoremState, "lr", "1e999", ["lr", "not infinite"]),
    (TrainState, "preset", "slowest", ["preset", "one of fastest, the-seed-blog-post", "using fastest"]),
    (TrainState, "policy", "transformer", ["policy", "one of linear, mlp"]),
    (TrainState, "lr", "abc", ["lr", "a number in (0, 10]", "using 0.2"]),
    (TrainState, "lr", "0", ["lr", "(0, 10]"]),
    (TrainState, "lr", "-inf", ["lr"]),
    (TrainState, "lr", "0x10", ["lr"]),
    (TrainState, "batch_episodes", "0", ["batch_episodes", "[1, 4096]"]),
    (TrainState, "batch_episodes", "16.5", ["batch_episodes", "an integer"]),
    (TrainState, "gamma", "1.5", ["gamma", "[0, 1]"]),
    (TrainState, "normalize_advantages", "maybe", ["normalize_advantages", "1 or 0", "using on"]),
    (TrainState, "hidden", "600", ["hidden", "1 to 4 layer sizes", "using `32`"]),
    (TrainState, "hidden", "1,2,3,4,5", ["hidden", "1 to 4 layer sizes"]),
    (TrainState, "max_grad_norm", "big", ["max_grad_norm", "a number or 'none'"]),
    (TrainState, "max_grad_norm", "-1", ["max_grad_norm", "(0, 1e+06]"]),
    (TrainState, "solve_return", "600", ["solve_return", "(0, 500]"]),
    (TrainState, "seed", str(2**32), ["seed", "[0, 4294967295]"]),
    (TrainState, "max_seconds", "100000", ["max_seconds"]),
    (TrainState, "n_seeds", str(MAX_SEEDS + 1), ["n_seeds", f"[1, {MAX_SEEDS}]"]),
    (TrainState, "speed", "warp", ["speed", "as-fast-as-possible, human-pace, one-step-at-a-time"]),
    (TrainState, "pace", "0", ["pace", "[1, 30]"]),
    (HeatmapState, "checkpoint", "-3", ["checkpoint", "an integer", "using the final policy"]),
    (HeatmapState, "checkpoint", "last", ["checkpoint"]),
    (HeatmapState, "x", "2.5", ["x", "[-2.4, 2.4]"]),
    (HeatmapState, "x_dot", "", ["x_dot", "a number"]),
    (HeatmapState, "overlay", "2", ["overlay", "1 or 0"]),
    (ReplayState, "seed", "100000", ["seed", "[0, 99999]"]),
    (ReplayState, "mode", "GREEDY", ["mode", "one of greedy, sampled"]),
    (ReplayState, "theta", "0.5", ["theta", "[-0.05, 0.05]"]),
    (ReplayState, "nudge_step", "500", ["nudge_step", "[1, 499]"]),
    (ReplayState, "nudge_strength", "-3.05", ["nudge_strength", "in steps of 0.1"]),
    (CreditState, "seed", "-1", ["seed", "[0, 99999]"]),
    (CreditState, "checkpoint", "one", ["checkpoint"]),
    (ReplayState, "start_by_hand", "ja", ["start_by_hand"]),
    (AppState, "present", "please", ["present", "1 or 0", "using off"]),
    # too long, not ASCII, not printable, injection strings
    (TrainState, "lr", LONG, ["lr", "200 characters long", f"at most {MAX_LENGTH}"]),
    (TrainState, "hidden", "3" * 65, ["hidden", "65 characters long"]),
    (TheoremState, "seed", "７", ["seed", "plain ASCII"]),
    (TrainState, "policy", "linéar", ["policy", "plain ASCII"]),
    (ReplayState, "mode", "greedy\n", ["mode", "plain ASCII"]),
    (HeatmapState, "x", "0.1\x00", ["x", "plain ASCII"]),
    (TrainState, "hidden", "<script>alert(1)</script>", ["hidden", "letters, digits"]),
    (TrainState, "max_grad_norm", "'; DROP TABLE runs; --", ["max_grad_norm", "letters, digits"]),
    (TrainState, "solve_return", "1;rm -rf /", ["solve_return"]),
    (TheoremState, "problem", "bandit' OR '1'='1", ["problem"]),
    (ReplayState, "seed", "{{7*7}}", ["seed"]),
    (HeatmapState, "checkpoint", "../../etc/passwd", ["checkpoint"]),
    (TrainState, "preset", "$(reboot)", ["preset"]),
    (TrainState, "hidden", "`rm`", ["hidden"]),
]


@pytest.mark.parametrize(
    "kind, key, value, words", CORPUS, ids=[f"{c[0].__name__}-{c[1]}-{c[2][:12]!r}" for c in CORPUS]
)
def test_a_bad_parameter_falls_back_to_the_default_with_a_warning_naming_it(kind, key, value, words):
    state, warnings = from_query(kind, {key: value})
    assert state == kind(), "the default is kept"
    assert len(warnings) == 1, warnings
    (message,) = warnings
    assert message.startswith(f"Ignored `?{key}="), message
    for word in words:
        assert word in message, (word, message)
    assert_markdown_safe(message)


def test_a_bad_parameter_does_not_spoil_the_good_ones():
    state, warnings = from_query(TheoremState, {"problem": "bandit", "lr": "abc", "seed": "7"})
    assert state == TheoremState(problem="bandit", seed=7)
    assert len(warnings) == 1 and "lr" in warnings[0]


def test_a_config_that_trainconfig_rejects_as_a_whole_names_the_field_at_fault():
    state, warnings = from_query(TrainState, {"max_episode_steps": "200", "solve_return": "480"})
    assert state.max_episode_steps == 200 and state.solve_return == "none"
    assert len(warnings) == 1 and "solve_return" in warnings[0] and "(0, 200]" in warnings[0]


@pytest.mark.parametrize(
    "key, shown",
    [
        ("colour", "colour"),
        ("k" * 100, "k" * 24 + "…"),
        ("<img src=x onerror=alert(1)>", "<img src=x onerror=alert…"),
        ("thêta", "th\\xeata"),
        ("a`b", "a'b"),
        ("", ""),
    ],
)
def test_an_unknown_key_is_named_shortened_and_escaped(key, shown):
    state, warnings = from_query(HeatmapState, {key: "1"})
    assert state == HeatmapState()
    (message,) = warnings
    assert f"this page has no parameter `{shown}`" in message
    assert_markdown_safe(message)


def test_an_unknown_key_close_to_a_known_one_gets_a_suggestion():
    (message,) = from_query(TrainState, {"learning_rate": "0.1", "lrr": "0.1"})[1][1:]
    assert "did you mean lr?" in message


def test_a_repeated_key_uses_the_last_value_and_says_so():
    state, warnings = from_query(ReplayState, {"seed": ["3", "5"]})
    assert state.seed == 5
    assert len(warnings) == 1 and "seed" in warnings[0] and "2 times" in warnings[0]
    assert from_query(ReplayState, {"seed": ["5", "5"]}) == (ReplayState(seed=5), [])


def test_a_value_at_the_edge_of_its_range_is_accepted():
    # (4,096 episodes of up to 500 steps need more memory than a run may use: see the budget tests)
    edges = {"lr": "10", "gamma": "0", "batch_episodes": "4096", "max_episode_steps": "50"}
    assert from_query(TrainState, edges)[1] == []
    assert from_query(HeatmapState, {"x": "-2.4", "x_dot": "2"}) == (HeatmapState(x=-2.4, x_dot=2.0), [])
    assert from_query(ReplayState, {"theta": "-0.05", "nudge_strength": "3"})[1] == []


def test_valid_states_make_a_trainconfig():
    state = from_query(TrainState, {"preset": "the-seed-blog-post", "hidden": "64, 64", "max_grad_norm": "0.5"})[0]
    cfg = config_from_form({name: getattr(state, name) for name in CONFIG})
    assert cfg.hidden == (64, 64) and cfg.max_grad_norm == 0.5 and cfg.optimizer == "sgd"
    assert math.isclose(cfg.lr, 0.002)


def test_defaults_helper_matches_the_dataclass():
    for kind in KINDS:
        assert kind(**defaults(kind)) == kind()


# ---------------------------------------------------------------------------------------------
# The memory budget: a link cannot ask for more than a run may use
# ---------------------------------------------------------------------------------------------
HEAVIEST = {"policy": "mlp", "hidden": "512,512,512,512", "batch_episodes": "4096", "n_seeds": "5",
            "eval_episodes": "10000", "max_episode_steps": "100000"}


def test_the_heaviest_link_falls_back_to_the_preset_for_the_fields_that_drive_its_size():
    state, warnings = from_query(TrainState, HEAVIEST)
    assert is_valid(state) and state.policy == "mlp"
    assert (state.hidden, state.batch_episodes, state.eval_episodes, state.max_episode_steps) == ("32", 16, 100, 500)
    (message,) = warnings
    for name in ("hidden", "batch_episodes", "eval_episodes", "max_episode_steps"):
        assert f"?{name}=" in message
    assert "more than the 120 MB one run may use here" in message and "TB" in message
    assert_markdown_safe(message)


def test_an_over_budget_link_resets_only_as_many_fields_as_needed():
    state, warnings = from_query(TrainState, {"batch_episodes": "512", "eval_episodes": "500", "n_seeds": "5"})
    assert is_valid(state) and state.eval_episodes == 500
    (message,) = warnings
    assert "?eval_episodes" not in message and ("?batch_episodes=512" in message or "?n_seeds=5" in message)
    assert from_query(TrainState, {"batch_episodes": "4096"})[0].batch_episodes == 16


def test_a_link_within_budget_is_unchanged():
    query = {"policy": "mlp", "hidden": "32", "batch_episodes": "32", "n_seeds": "5"}
    state, warnings = from_query(TrainState, query)
    assert warnings == [] and (state.policy, state.batch_episodes, state.n_seeds) == ("mlp", 32, 5)


def test_every_compare_link_fits_and_an_over_budget_one_falls_back(monkeypatch):
    import pg.app.state as state_module

    widest = {"estimators": "rtg-value,td0,gae,reinforce", "seeds": "5", "episodes": "64"}
    assert from_query(CompareState, widest)[1] == []
    monkeypatch.setattr(state_module, "COMPARISON_BUDGET", 1_000_000)
    state, warnings = from_query(CompareState, widest)
    assert state == CompareState()
    (message,) = warnings
    assert "?seeds=5" in message and "?episodes=64" in message and "one comparison may use here" in message
