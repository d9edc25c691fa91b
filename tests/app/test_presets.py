"""pg.app.presets: every preset is a valid config, the live page's form maps to and from a
TrainConfig, bad form values name their field, and the seed blog post preset is run to its end.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from pg.algo.reinforce import ConfigError, TrainConfig, train
from pg.app.live_view import run_status
from pg.app.presets import (
    FORM_ADVANCED,
    FORM_MAIN,
    MAX_PAGE_ENV_STEPS,
    MAX_PAGE_SECONDS,
    PRESETS,
    config_from_form,
    form_values,
    preset_config,
    try_config,
)
from pg.runs.live import LiveRun

FORM = FORM_MAIN + FORM_ADVANCED
KINDS = {"choice", "int", "float", "bool", "text"}


# ---------------------------------------------------------------------------------------------
# The presets
# ---------------------------------------------------------------------------------------------
def test_the_default_preset_is_the_default_config():
    assert preset_config("fastest") == TrainConfig()
    assert next(iter(PRESETS)) == "fastest", "the page opens on the first preset"


@pytest.mark.parametrize("name", list(PRESETS))
def test_every_preset_is_a_valid_config_with_a_description(name):
    cfg = preset_config(name)
    assert isinstance(cfg, TrainConfig)
    for key, value in PRESETS[name]["config"].items():
        assert getattr(cfg, key) == (tuple(value) if isinstance(value, list) else value), key
    description = PRESETS[name]["description"]
    assert isinstance(description, str) and len(description) > 20


def test_preset_config_takes_overrides_and_names_the_presets_when_unknown():
    cfg = preset_config("neural network", seed=7, max_updates=3)
    assert (cfg.policy, cfg.seed, cfg.max_updates) == ("mlp", 7, 3)
    with pytest.raises(ValueError, match="preset must be one of 'fastest'.*got 'nope'"):
        preset_config("nope")
    with pytest.raises(ValueError, match="lr must be"):
        preset_config("fastest", lr=-1.0)  # overrides are validated like any config


def test_the_v0_preset_uses_the_195_bar():
    cfg = preset_config("CartPole-v0 (the 195 bar)")
    assert (cfg.max_episode_steps, cfg.solve_return) == (200, 195.0)


def test_the_seed_blog_post_preset_as_measured():
    """The classic post's setup (linear softmax, plain SGD at lr 0.002, one episode per update,
    whole-episode return minus a moving average, no normalisation) run to its end with seed 0.
    Measured: it meets CartPole-v1's bar (greedy mean 500.0 over 100 episodes >= 475) at the
    evaluation after update 260 (it evaluates every 10), i.e. after 260 episodes and 19,176
    environment steps, well inside its 1000-update budget."""
    cfg = preset_config("the seed blog post")
    assert (cfg.optimizer, cfg.lr, cfg.batch_episodes, cfg.returns, cfg.baseline) == (
        "sgd", 0.002, 1, "episode", "moving_average")
    assert (cfg.normalize_advantages, cfg.max_updates, cfg.eval_every, cfg.solve_return) == (False, 1000, 10, 475.0)
    live = LiveRun(cfg)
    while not live.finished:
        live.advance(5.0)
    seed = live.seeds[0]
    assert seed.stop_reason == "solved" and live.error is None
    solved = seed.solved
    assert (solved.iteration, solved.episodes, solved.env_steps, solved.eval_return) == (260, 260, 19_176, 500.0)
    assert live.n == 260
    # evaluated every 10 updates only; the ones before 260 were all below the bar
    history = live.history(0)
    evaluated = np.flatnonzero(~np.isnan(history["eval_return"])) + 1
    assert evaluated.size and set(evaluated % 10) == {0}
    assert history["eval_return"][-1] == 500.0
    status = run_status(live)
    assert status.level == "solved"
    assert status.text.startswith("Solved at update 260: greedy mean return 500.0 over 100 episodes")
    # the live driver and the plain generator agree
    last = list(train(cfg))[-1]
    assert (last.iteration, last.env_steps, last.stop_reason) == (260, 19_176, "solved")


# ---------------------------------------------------------------------------------------------
# The form
# ---------------------------------------------------------------------------------------------
def test_the_form_has_one_well_formed_row_per_config_field():
    names = [row[0] for row in FORM]
    assert len(names) == len(set(names)), "a field appears twice"
    assert set(names) == {f.name for f in dataclasses.fields(TrainConfig)}, "every TrainConfig field has a widget"
    for name, kind, label, options in FORM:
        assert kind in KINDS and isinstance(label, str) and label, name
        if kind == "choice":
            assert tuple(options) and getattr(TrainConfig(), name) in options, name
        elif kind in ("int", "float"):
            low, high, step = options
            assert low < high and step > 0, name


@pytest.mark.parametrize("name", list(PRESETS))
def test_form_values_round_trip_every_preset(name):
    cfg = preset_config(name)
    values = form_values(cfg)
    assert set(values) >= {row[0] for row in FORM}
    assert config_from_form(values) == cfg


@pytest.mark.parametrize("name", list(PRESETS))
def test_every_preset_fits_its_widgets(name):
    """A preset's values lie inside the widgets' ranges and choices (else Streamlit would
    refuse to show them)."""
    values = form_values(preset_config(name))
    for field, kind, _, options in FORM:
        value = values[field]
        if kind == "choice":
            assert value in options, field
        elif kind in ("int", "float"):
            assert options[0] <= value <= options[1], field
        elif kind == "bool":
            assert isinstance(value, bool), field
        else:
            assert isinstance(value, str), field


def test_form_values_writes_texts():
    values = form_values(TrainConfig(policy="mlp", hidden=(64, 64), max_grad_norm=0.5, solve_return=300.0))
    assert (values["hidden"], values["max_grad_norm"], values["solve_return"]) == ("64,64", "0.5", "300")
    values = form_values(TrainConfig())
    assert (values["hidden"], values["max_grad_norm"], values["solve_return"]) == ("32", "none", "none")
    assert form_values(TrainConfig(max_episode_steps=200))["solve_return"] == "none"  # the v0 bar is the default
    # a bar is "none" only where it is the default of the config's time limit
    assert form_values(TrainConfig(solve_return=195.0))["solve_return"] == "195"
    assert form_values(TrainConfig(max_episode_steps=100))["solve_return"] == "none"


@pytest.mark.parametrize(
    "edit, expected",
    [
        ({"hidden": " 64 , 32 "}, {"hidden": (64, 32)}),
        ({"hidden": "16,"}, {"hidden": (16,)}),
        ({"max_grad_norm": "2.5"}, {"max_grad_norm": 2.5}),
        ({"max_grad_norm": " None "}, {"max_grad_norm": None}),
        ({"max_grad_norm": ""}, {"max_grad_norm": None}),
        ({"solve_return": "300"}, {"solve_return": 300.0}),
        ({"solve_return": "none", "max_episode_steps": 200}, {"solve_return": 195.0}),
        ({"solve_return": "none", "max_episode_steps": 100}, {"solve_return": 95.0}),
    ],
)
def test_config_from_form_parses_the_text_fields(edit, expected):
    cfg = config_from_form({**form_values(TrainConfig()), **edit})
    for name, value in expected.items():
        assert getattr(cfg, name) == value


@pytest.mark.parametrize(
    "edit, message",
    [
        ({"hidden": "a,b"}, "hidden must be layer sizes separated by commas"),
        ({"hidden": "0"}, "hidden must be 1 to 4 layer sizes"),
        ({"hidden": "8,8,8,8,8"}, "hidden must be 1 to 4 layer sizes"),
        ({"max_grad_norm": "lots"}, "max_grad_norm must be a number or 'none'"),
        ({"max_grad_norm": "0"}, "max_grad_norm must be a number in \\(0"),
        ({"solve_return": "abc"}, "solve_return must be a number or 'none'"),
        ({"solve_return": "600"}, "solve_return must be a number in \\(0, 500\\]"),
        ({"solve_return": "300", "max_episode_steps": 200}, "solve_return must be a number in \\(0, 200\\]"),
        ({"lr": 0.0}, "lr must be a number in \\(0, 10\\]"),
        ({"optimizer": "rmsprop"}, "optimizer must be one of"),
        ({"max_seconds": 0.0}, "max_seconds must be a number in \\(0"),
    ],
)
def test_config_from_form_names_the_field_at_fault(edit, message):
    with pytest.raises(ConfigError, match=message) as raised:
        config_from_form({**form_values(TrainConfig()), **edit})
    assert raised.value.field == message.split()[0] and raised.value.field in edit


def test_the_page_budgets_cap_what_a_run_may_take():
    rows = {row[0]: row for row in FORM}
    assert rows["max_seconds"][3][1] == MAX_PAGE_SECONDS <= TrainConfig().max_seconds
    assert rows["max_env_steps"][3][1] == MAX_PAGE_ENV_STEPS
    for name in PRESETS:  # every preset can be started from the page as it is
        values = form_values(preset_config(name))
        assert values["max_seconds"] <= MAX_PAGE_SECONDS and values["max_env_steps"] <= MAX_PAGE_ENV_STEPS


def test_try_config_gives_the_config_or_what_is_wrong():
    values = form_values(preset_config("fastest"))
    cfg, problem = try_config(values)
    assert problem is None and cfg == config_from_form(values)
    cfg, problem = try_config(values | {"hidden": "600"})
    assert cfg is None and "hidden" in problem


# ---------------------------------------------------------------------------------------------
# The memory budget (pg.runs.footprint)
# ---------------------------------------------------------------------------------------------
def test_the_form_refuses_a_config_over_the_memory_budget_in_words():
    from pg.runs.footprint import BudgetError

    values = form_values(TrainConfig()) | {"batch_episodes": 4096, "max_episode_steps": 100_000}
    with pytest.raises(BudgetError) as caught:
        config_from_form(values)
    assert caught.value.field == "batch_episodes"
    cfg, problem = try_config(values)
    assert cfg is None and problem.startswith("This run would need about ")
    assert "the limit here is 120 MB: lower episodes per update or the time limit." in problem
    assert config_from_form(values, budget=None).batch_episodes == 4096  # the fields alone are valid


def test_the_form_counts_the_seeds():
    values = form_values(TrainConfig()) | {"batch_episodes": 384}
    assert try_config(values, 1)[0] is not None
    cfg, problem = try_config(values, 5)
    assert cfg is None and "x 5 seeds" in problem and "the number of seeds" in problem


@pytest.mark.parametrize("name", list(PRESETS))
def test_every_preset_fits_with_every_number_of_seeds(name):
    assert try_config(form_values(preset_config(name)), 5) == (preset_config(name), None)
