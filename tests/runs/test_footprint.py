"""pg.runs.footprint: the estimate of a run's memory bounds what training really allocates
(tracemalloc's peak, with policies that balance to the time limit, the worst case), within
about 3x; budgets refuse in words that name the fields to lower."""

from __future__ import annotations

import itertools
import tracemalloc

import pytest

from pg.algo import nn
from pg.algo.policies import MLPSoftmax
from pg.algo.reinforce import ConfigError, TrainConfig, train
from pg.app.presets import PRESETS, preset_config
from pg.lessons.comparison import COMPARE_CHOICES, COMPARE_EPISODES, MAX_ESTIMATORS, CompareSettings
from pg.runs.checkpoint import load_policy
from pg.runs.footprint import (
    COMPARISON_BUDGET,
    MB,
    RUN_BUDGET,
    SERVER_BUDGET,
    SNAPSHOT_BUDGET,
    BudgetError,
    comparison_footprint,
    evaluate_footprint,
    live_snapshots,
    n_params,
    require_fits,
    run_footprint,
    size_text,
)
from pg.runs.live import MAX_SEEDS

SHIPPED = load_policy("assets/policy.npz")  # balances 2,000 steps, sampled or greedy


def balancing_policy(cfg: TrainConfig):
    """A policy whose episodes run to the time limit: the shipped linear one, or an MLP that
    passes its margin through the first unit of each tanh layer (signs kept, output scaled up)."""
    if cfg.policy == "linear":
        return SHIPPED
    W, b = SHIPPED._split()
    policy = MLPSoftmax(4, 2, cfg.hidden)
    layers = nn.layers(policy.params, policy.layer_sizes)
    layers[0][0][:, 0], layers[0][1][0] = 0.3 * (W[:, 1] - W[:, 0]), 0.3 * (b[1] - b[0])
    for W_k, _ in layers[1:-1]:
        W_k[0, 0] = 1.0
    layers[-1][0][0, 1] = 50.0
    return policy


def measured_peak(cfg: TrainConfig, updates: int = 2) -> tuple[int, list]:
    """tracemalloc's peak (bytes above the start) over ``updates`` updates of train(cfg)."""
    policy = balancing_policy(cfg)
    tracemalloc.start()
    try:
        start = tracemalloc.get_traced_memory()[0]
        run = train(cfg, policy)
        lengths = [float(u.episode_lengths.mean()) for u in itertools.islice(run, updates)]
        run.close()
        return tracemalloc.get_traced_memory()[1] - start, lengths
    finally:
        tracemalloc.stop()


FAST = [
    {},
    {"batch_episodes": 1, "max_episode_steps": 50, "eval_episodes": 1},
    {"batch_episodes": 256, "max_episode_steps": 200},
    {"batch_episodes": 4, "max_episode_steps": 2000, "eval_episodes": 10},
    {"policy": "mlp", "hidden": (32,), "batch_episodes": 8, "baseline": "value"},
    {"policy": "mlp", "hidden": (64, 64), "batch_episodes": 4, "max_episode_steps": 300, "baseline": "value",
     "value_model": "mlp"},
    {"batch_episodes": 8, "advantage": "gae", "value_model": "mlp"},
    {"batch_episodes": 32, "baseline": "none", "entropy_coef": 0.01},
    {"batch_episodes": 4, "eval_episodes": 1000},
    {"batch_episodes": 8, "returns": "episode", "baseline": "moving_average", "advantage": "td0"},
]
SLOW = [
    {"policy": "mlp", "hidden": (256,), "batch_episodes": 32, "advantage": "gae"},
    {"policy": "mlp", "hidden": (16, 16, 16, 16), "batch_episodes": 8, "max_episode_steps": 1000,
     "eval_episodes": 200, "returns": "episode", "baseline": "moving_average"},
]


@pytest.mark.parametrize(
    "overrides", FAST + [pytest.param(c, marks=pytest.mark.slow) for c in SLOW], ids=lambda c: str(c) or "default")
def test_the_estimate_bounds_the_measured_peak_within_3x(overrides):
    cfg = TrainConfig(**{"lr": 1e-9, "max_updates": 2, "stop_on_solve": False, **overrides})
    peak, lengths = measured_peak(cfg)
    assert lengths == [cfg.max_episode_steps] * 2, "the worst case: every episode reaches the time limit"
    estimate = run_footprint(cfg).total
    assert estimate >= peak, f"estimate {size_text(estimate)} < measured {size_text(peak)}"
    if estimate > 1 * MB:  # below that, the fixed allowance for Python objects dominates
        assert estimate <= 3 * peak, f"estimate {size_text(estimate)} > 3 x measured {size_text(peak)}"


def test_parts_add_up_and_seeds_multiply_the_persistent_parts():
    f1, f5 = run_footprint(TrainConfig(), 1), run_footprint(TrainConfig(), 5)
    assert f5.per_seed == f1.per_seed and f5.working == f1.working
    assert f5.total > f1.total + 3 * f1.per_seed
    assert all(part > 0 for part in (f1.rollout, f1.evaluation, f1.snapshots, f1.history, f1.working))


def test_budgets_fit_a_690_mb_host_and_every_preset_and_compare_page_choice():
    assert RUN_BUDGET <= SERVER_BUDGET / 3 and SERVER_BUDGET + 215 * MB <= 690 * MB - 100 * MB
    for name in PRESETS:
        assert run_footprint(preset_config(name), MAX_SEEDS).total < RUN_BUDGET / 2, name
    widest = CompareSettings(tuple(c for c in COMPARE_CHOICES if c != "gae")[-MAX_ESTIMATORS + 1:] + ("gae:0.5",),
                             n_seeds=MAX_SEEDS, batch_episodes=max(COMPARE_EPISODES))
    assert comparison_footprint(CompareSettings()) < comparison_footprint(widest) <= COMPARISON_BUDGET


def test_the_heaviest_link_of_the_issue_is_refused_naming_its_fields():
    cfg = TrainConfig(policy="mlp", hidden=(512,) * 4, batch_episodes=4096, eval_episodes=10000,
                      max_episode_steps=100_000)
    with pytest.raises(BudgetError) as caught:
        require_fits(cfg, 5)
    error = caught.value
    assert isinstance(error, ConfigError) and error.field == "batch_episodes" and error.value == 4096
    assert {"batch_episodes", "max_episode_steps", "hidden", "n_seeds"} <= set(error.fields)
    assert error.estimate > 1e12 and error.limit == RUN_BUDGET
    message = str(error)
    assert message.startswith("This run would need about ") and "the limit here is 120 MB: lower " in message
    assert "4,096 episodes per update x 100,000-step time limit" in message and message.count(".") <= 2


@pytest.mark.parametrize("overrides, fields, words", [
    ({"batch_episodes": 4096}, ("batch_episodes", "max_episode_steps"), "lower episodes per update or the time limit"),
    ({"eval_episodes": 10_000, "max_episode_steps": 2000}, ("eval_episodes", "max_episode_steps"),
     "10,000 evaluation episodes x 2,000-step time limit"),
    ({"policy": "mlp", "hidden": (512, 512)}, ("batch_episodes", "max_episode_steps", "hidden"),
     "16 episodes per update x 500-step time limit through hidden layers 512,512"),
    ({"batch_episodes": 1, "max_updates": 10_000_000}, ("max_updates", "max_env_steps"), "history of up to"),
])
def test_a_run_over_budget_names_what_drives_its_size(overrides, fields, words):
    with pytest.raises(BudgetError) as caught:
        require_fits(TrainConfig(**overrides))
    assert caught.value.fields[: len(fields)] == fields and words in str(caught.value)


def test_a_wide_network_keeps_fewer_snapshots_instead_of_being_refused():
    """Snapshots (the heatmap's checkpoints) of a 256,256 MLP would take 0.5 MB each: a live run
    keeps as many as SNAPSHOT_BUDGET allows over its seeds (at least 2), so the run fits; with
    200 a seed it would not, and the message would name the snapshots."""
    wide = TrainConfig(policy="mlp", hidden=(256, 256), batch_episodes=8)
    assert live_snapshots(TrainConfig(), 5) == 200 and live_snapshots(TrainConfig(policy="mlp", hidden=(64, 64))) == 200
    kept = live_snapshots(wide)
    assert 2 <= kept < 200 and live_snapshots(wide, 5) < kept
    assert require_fits(wide).total <= RUN_BUDGET
    assert run_footprint(wide).snapshots <= SNAPSHOT_BUDGET + 8 * 8 * n_params(wide)
    with pytest.raises(BudgetError, match="602 snapshots of a 67,586-parameter policy"):
        require_fits(wide, max_snapshots=200)


def test_a_run_within_budget_passes_and_the_budget_is_a_parameter():
    assert require_fits(TrainConfig(), 5).total < RUN_BUDGET
    with pytest.raises(BudgetError, match="the limit here is 1.0 MB"):
        require_fits(TrainConfig(), 1, budget=MB)


def test_evaluate_footprint_grows_with_episodes_times_steps():
    assert evaluate_footprint((), 20_000, 20_000) > 20e9
    assert evaluate_footprint((), 100, 500) < 5 * MB
    assert evaluate_footprint((512,) * 4, 1000, 500) > evaluate_footprint((), 1000, 500)


@pytest.mark.parametrize("n, text", [(3.1e9, "3.1 GB"), (120e6, "120 MB"), (12.2e9, "12 GB"), (999, "999 B")])
def test_size_text(n, text):
    assert size_text(n) == text


def test_a_comparison_over_its_budget_is_refused_in_words():
    from pg.runs.footprint import require_comparison_fits

    assert require_comparison_fits(CompareSettings()) == comparison_footprint(CompareSettings())
    with pytest.raises(BudgetError, match=r"This comparison would need about .* the limit here is 1.0 MB: lower"):
        require_comparison_fits(CompareSettings(), budget=MB)
