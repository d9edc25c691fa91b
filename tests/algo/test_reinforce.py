"""pg.algo.reinforce (TrainConfig, train, evaluate, the estimator); pg.algo.rollout's Roller is
tested in tests/algo/test_rollout.py.

Determinism is tested by training twice; the trained policy is checked in Gymnasium itself;
divergence is forced by patching the gradient; the estimator is checked against finite
differences of its surrogate loss.
"""

from __future__ import annotations

import dataclasses
import math
import pickle
import re
from pathlib import Path

import numpy as np
import pytest
from helpers import central_fd, rel_err
from live_helpers import recorded_history

import pg
from pg import TrainConfig, TrainingDiverged, evaluate, train
from pg.algo.baselines import NoBaseline, make_baseline
from pg.algo.policies import LinearSoftmax, SoftmaxPolicy, make_policy
from pg.algo.reinforce import (
    CARTPOLE_V0_SOLVED,
    CARTPOLE_V1_SOLVED,
    ConfigError,
    default_solve_return,
    reinforce_gradient,
    surrogate_loss,
)
from pg.algo.returns import reward_to_go
from pg.algo.rollout import Roller
from pg.envs import CartPole
from pg.runs.history import HISTORY_FIELDS

PG_DIR = Path(pg.__file__).parent


def margin_policy(gains, bias=0.0) -> LinearSoftmax:
    """A linear policy whose logit of 'push right' is gains . s + bias."""
    gains = np.asarray(gains, dtype=np.float64)
    W = np.stack([-gains / 2, gains / 2], axis=1)
    return LinearSoftmax(4, 2, params=np.concatenate([W.ravel(), [-bias / 2, bias / 2]]))


def run(cfg: TrainConfig, **kwargs):
    """All updates of a run, plus each update's policy parameters copied at yield time."""
    updates, params_at_yield = [], []
    for update in train(cfg, **kwargs):
        updates.append(update)
        params_at_yield.append(update.policy.params.copy())
    return updates, params_at_yield


def history_without_wall_time(updates):
    history = recorded_history(updates)
    return {name: column for name, column in history.items() if name != "wall_time"}


def assert_same_run(a, b):
    ha, hb = history_without_wall_time(a), history_without_wall_time(b)
    assert ha.keys() == hb.keys()
    for name in ha:
        np.testing.assert_array_equal(ha[name], hb[name], err_msg=name)
    assert len(a) == len(b)
    for ua, ub in zip(a, b):
        assert np.array_equal(ua.episode_returns, ub.episode_returns)
        assert np.array_equal(ua.policy.params, ub.policy.params)
        assert (ua.eval_returns is None) == (ub.eval_returns is None)
        if ua.eval_returns is not None:
            assert np.array_equal(ua.eval_returns, ub.eval_returns)
        assert (ua.eval_upper_bound, ua.solved, ua.stop_reason) == (ub.eval_upper_bound, ub.solved, ub.stop_reason)


@pytest.fixture(scope="module")
def default_runs():
    """The default config trained on seeds 0..4 (shared by the solve and Gymnasium tests)."""
    return {seed: run(TrainConfig(seed=seed)) for seed in range(5)}


# ---------------------------------------------------------------------------------------------
# (a) Determinism
# ---------------------------------------------------------------------------------------------
DETERMINISM_CASES = [
    {"policy": policy, "baseline": baseline}
    for policy in ("linear", "mlp")
    for baseline in ("none", "moving_average", "batch_mean", "value")
] + [
    {"policy": "mlp", "hidden": (8, 8), "baseline": "value", "value_model": "mlp"},
    {"baseline": "value", "value_model": "mlp", "returns": "episode"},
    {"optimizer": "sgd", "lr": 0.05, "normalize_advantages": False, "max_grad_norm": 1.0},
    {"entropy_coef": 0.01, "gamma": 1.0, "eval_every": 3},
]


@pytest.mark.parametrize("overrides", DETERMINISM_CASES, ids=lambda d: "-".join(f"{v}" for v in d.values()))
def test_same_config_gives_bit_identical_runs(overrides):
    """Training the same config twice gives bit-identical histories (all columns but
    wall_time), batches, evaluations and parameters; seed 2 gives a different run."""
    cfg = TrainConfig(**{"max_updates": 12, "eval_episodes": 20, "batch_episodes": 8, "seed": 1, **overrides})
    first, _ = run(cfg)
    second, _ = run(cfg)
    assert_same_run(first, second)
    other, _ = run(dataclasses.replace(cfg, seed=2))
    assert not np.array_equal(first[0].episode_returns, other[0].episode_returns)
    assert not np.array_equal(first[-1].policy.params, other[-1].policy.params)


# ---------------------------------------------------------------------------------------------
# (b) No global random state
# ---------------------------------------------------------------------------------------------
def test_training_ignores_and_leaves_the_global_numpy_random_state():
    """np.random.seed(...) before training changes nothing, and training does not draw from
    the global generator (its state is the same before and after)."""
    cfg = TrainConfig(max_updates=6, eval_episodes=20, seed=3, baseline="value", value_model="mlp")
    np.random.seed(1)
    state = np.random.get_state()
    a, _ = run(cfg)
    after = np.random.get_state()
    assert all(np.array_equal(x, y) for x, y in zip(state, after))
    np.random.seed(987654)
    b, _ = run(cfg)
    assert_same_run(a, b)


LEGACY_RANDOM = re.compile(
    r"(?:\bnp|\bnumpy)\.random\.(?!default_rng\b|Generator\b|SeedSequence\b|BitGenerator\b|PCG64\b|PCG64DXSM\b"
    r"|Philox\b|SFC64\b|MT19937\b)\w+"
    r"|from\s+numpy\.random\s+import\s+(?!.*\b(?:default_rng|Generator|SeedSequence)\b)"
    r"|^\s*import\s+random\b|^\s*from\s+random\s+import",
    re.MULTILINE,
)


def test_legacy_random_pattern_catches_global_state_calls():
    """The pattern of the next test flags seed / legacy distributions / stdlib random and
    passes the Generator API (so the next test can fail)."""
    for bad in ["np.random.seed(0)", "x = np.random.rand(3)", "numpy.random.normal(0, 1)",
                "np.random.choice([1, 2])", "import random", "from numpy.random import randn",
                "np.random.RandomState(0)"]:
        assert LEGACY_RANDOM.search(bad), bad
    for good in ["rng = np.random.default_rng(seed)", "np.random.SeedSequence(0).spawn(4)",
                 "rng: np.random.Generator", "rng.random((T, N))", "rng.normal(0, 1)"]:
        assert not LEGACY_RANDOM.search(good), good


def test_no_module_in_pg_uses_global_random_state():
    """No file in pg/ calls np.random.seed, a legacy np.random.<distribution>(...), or the
    stdlib random module: all randomness goes through passed-in Generators."""
    files = sorted(PG_DIR.rglob("*.py"))
    assert len(files) >= 9
    offenders = [
        f"{path.relative_to(PG_DIR.parent)}:{text.count(chr(10), 0, m.start()) + 1}: {m.group(0)}"
        for path in files
        for text in [path.read_text()]
        for m in LEGACY_RANDOM.finditer(text)
    ]
    assert not offenders, offenders


# ---------------------------------------------------------------------------------------------
# (c) TrainConfig validation
# ---------------------------------------------------------------------------------------------
BAD_VALUES = [
    # (field, bad value, substrings the message must contain besides field name and repr)
    ("policy", "cnn", ["linear", "mlp"]),
    ("policy", None, ["linear", "mlp"]),
    ("hidden", (0,), ["[1, 512]"]),
    ("hidden", (), ["1 to 4"]),
    ("hidden", (600,), ["[1, 512]"]),
    ("hidden", (8, 8, 8, 8, 8), ["1 to 4"]),
    ("hidden", (8.5,), ["integer"]),
    ("hidden", "32", ["integer"]),
    ("optimizer", "rmsprop", ["adam", "sgd"]),
    ("lr", 0, ["(0, 10]"]),
    ("lr", 0.0, ["(0, 10]"]),
    ("lr", -1, ["(0, 10]"]),
    ("lr", float("nan"), ["(0, 10]"]),
    ("lr", float("inf"), ["(0, 10]"]),
    ("lr", "a", ["(0, 10]"]),
    ("lr", True, ["(0, 10]"]),
    ("lr", 11.0, ["(0, 10]"]),
    ("batch_episodes", 0, ["[1, 4096]"]),
    ("batch_episodes", 2.5, ["[1, 4096]", "integer"]),
    ("batch_episodes", 16.0, ["[1, 4096]", "integer"]),
    ("batch_episodes", 5000, ["[1, 4096]"]),
    ("gamma", 1.5, ["[0, 1]"]),
    ("gamma", -0.01, ["[0, 1]"]),
    ("returns", "mc", ["reward_to_go", "episode"]),
    ("baseline", "x", ["none", "moving_average", "batch_mean", "value"]),
    ("value_model", "cnn", ["linear", "mlp"]),
    ("normalize_advantages", "yes", ["True or False"]),
    ("normalize_advantages", 1, ["True or False"]),
    ("max_grad_norm", 0.0, ["(0, 1e+06]"]),
    ("max_grad_norm", -1.0, ["(0, 1e+06]"]),
    ("max_grad_norm", float("nan"), ["(0, 1e+06]"]),
    ("advantage", "a3c", ["returns", "td0", "gae"]),
    ("gae_lambda", 1.5, ["[0, 1]"]),
    ("gae_lambda", float("nan"), ["[0, 1]"]),
    ("entropy_coef", -0.1, ["[0, 1]"]),
    ("entropy_coef", 2.0, ["[0, 1]"]),
    ("max_episode_steps", 0, ["[1, 100000]"]),
    ("max_episode_steps", 100_001, ["[1, 100000]"]),
    ("eval_every", 0, ["[1, 1000000]"]),
    ("eval_episodes", 0, ["[1, 10000]"]),
    ("eval_episodes", 10_001, ["[1, 10000]"]),
    ("solve_return", 600, ["(0, 500]"]),
    ("solve_return", 0, ["(0, 500]"]),
    ("solve_return", float("nan"), ["(0, 500]"]),
    ("eval_early_stop", "no", ["True or False"]),
    ("stop_on_solve", None, ["True or False"]),
    ("max_updates", 0, ["[1, 10000000]"]),
    ("max_updates", 1.5, ["[1, 10000000]"]),
    ("max_env_steps", 0, ["[1, 10000000000]"]),
    ("max_env_steps", 10**11, ["[1, 10000000000]"]),
    ("max_seconds", 0, ["(0, 86400]"]),
    ("max_seconds", -5.0, ["(0, 86400]"]),
    ("max_seconds", float("inf"), ["(0, 86400]"]),
    ("seed", -1, ["[0, 4294967295]"]),
    ("seed", 2**32, ["[0, 4294967295]"]),
    ("seed", 1.5, ["[0, 4294967295]"]),
]


@pytest.mark.parametrize("name, value, allowed", BAD_VALUES, ids=lambda x: repr(x)[:20])
def test_bad_config_value_raises_naming_field_allowed_and_given(name, value, allowed):
    """A bad value raises ValueError whose message names the field, the allowed range or
    choices, and the value given."""
    with pytest.raises(ValueError) as info:
        TrainConfig(**{name: value})
    message = str(info.value)
    assert message.startswith(name + " "), message
    assert repr(value) in message, message
    for text in allowed:
        assert text in message, message


@pytest.mark.parametrize("name, value, allowed", BAD_VALUES, ids=lambda x: repr(x)[:20])
def test_bad_config_value_raises_config_error_carrying_field_and_value(name, value, allowed):
    """Every refusal is a ConfigError (a ValueError) whose ``field`` is the field at fault and
    whose ``value`` is the value given, so a form can point at the field without reading the
    message; pickling keeps both."""
    with pytest.raises(ConfigError) as info:
        TrainConfig(**{name: value})
    error = info.value
    assert isinstance(error, ValueError)
    assert error.field == name and error.value is value
    copy = pickle.loads(pickle.dumps(error))
    assert (type(copy), copy.field, str(copy)) == (ConfigError, name, str(error))


def test_config_error_names_the_first_field_at_fault_in_declaration_order():
    with pytest.raises(ConfigError) as info:
        TrainConfig(lr=-1.0, seed=-1)
    assert info.value.field == "lr"


def test_every_config_field_has_a_bad_value_case():
    """Adding a field to TrainConfig without a validation case here fails this test."""
    assert {f.name for f in dataclasses.fields(TrainConfig)} == {name for name, _, _ in BAD_VALUES}


def test_edge_values_are_accepted_and_normalised():
    """The ends of every range are valid; ints become floats for float fields, lists and a
    single int become tuples for hidden, NumPy integers are accepted; solve_return defaults to
    475 for 500-step episodes, 195 for 200-step ones, 95% otherwise."""
    cfg = TrainConfig(lr=10, gamma=1, entropy_coef=1, hidden=[16, 16], batch_episodes=np.int64(4096),
                      seed=2**32 - 1, solve_return=500, max_grad_norm=1e6, max_seconds=86_400)
    assert cfg.lr == 10.0 and isinstance(cfg.lr, float) and cfg.hidden == (16, 16)
    assert type(cfg.batch_episodes) is int and cfg.batch_episodes == 4096
    assert TrainConfig(hidden=32).hidden == (32,)
    assert TrainConfig(gamma=0.0).gamma == 0.0
    assert TrainConfig().solve_return == 475.0
    assert TrainConfig(max_episode_steps=200).solve_return == 195.0
    assert TrainConfig(max_episode_steps=300).solve_return == pytest.approx(285.0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.lr = 0.1


@pytest.mark.parametrize("max_episode_steps, bar", [(500, 475.0), (200, 195.0), (300, 285.0), (1, 0.95)])
def test_default_solve_return_is_the_bar_of_the_time_limit(max_episode_steps, bar):
    """One home for the bars: 475 is CartPole-v1's (500 steps), 195 CartPole-v0's (200 steps),
    95% of the limit otherwise; TrainConfig(solve_return=None) takes the same value."""
    assert default_solve_return(max_episode_steps) == pytest.approx(bar)
    assert TrainConfig(max_episode_steps=max_episode_steps).solve_return == default_solve_return(max_episode_steps)
    assert (CARTPOLE_V1_SOLVED, CARTPOLE_V0_SOLVED) == (475.0, 195.0)


def test_a_non_default_bar_is_kept_whatever_the_time_limit():
    """solve_return=195 with 500-step episodes is a choice, not the default: it stays 195."""
    cfg = TrainConfig(solve_return=195.0)
    assert (cfg.max_episode_steps, cfg.solve_return) == (500, 195.0)
    assert cfg.solve_return != default_solve_return(cfg.max_episode_steps)
    assert TrainConfig.from_dict(cfg.to_dict()).solve_return == 195.0


def test_numpy_scalars_are_normalised_to_python_types():
    """A config built from NumPy scalars (e.g. values read from an array) stores plain Python
    bool / int / float, so to_dict() is JSON-serialisable (checkpoints store it as JSON)."""
    import json

    cfg = TrainConfig(normalize_advantages=np.True_, eval_early_stop=np.False_, stop_on_solve=np.True_,
                      seed=np.int64(3), lr=np.float32(0.125), hidden=(np.int64(8),))
    d = cfg.to_dict()
    for name in ("normalize_advantages", "eval_early_stop", "stop_on_solve"):
        assert type(d[name]) is bool, (name, type(d[name]))
    assert type(d["seed"]) is int and type(d["lr"]) is float and type(d["hidden"][0]) is int
    assert TrainConfig.from_dict(json.loads(json.dumps(d))) == cfg


def test_from_dict_names_unknown_keys():
    with pytest.raises(ValueError, match="learning_rate"):
        TrainConfig.from_dict({"learning_rate": 0.1, "seed": 1})
    with pytest.raises(ValueError, match="'cnn'"):
        TrainConfig.from_dict({"policy": "cnn"})


@pytest.mark.parametrize(
    "cfg",
    [TrainConfig(), TrainConfig(policy="mlp", hidden=(8, 4), baseline="value", value_model="mlp", lr=0.01,
                                max_grad_norm=0.5, max_episode_steps=200, seed=9, normalize_advantages=False)],
)
def test_to_dict_from_dict_round_trip(cfg):
    """from_dict(to_dict(cfg)) == cfg, also through JSON (hidden as a list)."""
    import json

    d = cfg.to_dict()
    assert isinstance(d["hidden"], list) and set(d) == {f.name for f in dataclasses.fields(TrainConfig)}
    assert TrainConfig.from_dict(d) == cfg
    assert TrainConfig.from_dict(json.loads(json.dumps(d))) == cfg


# ---------------------------------------------------------------------------------------------
# (d) The default config solves CartPole-v1; its updates are sensible
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("seed", range(5))
def test_default_config_solves_cartpole_v1(default_runs, seed):
    """Every one of seeds 0..4 ends with solved=True and stop_reason 'solved': a greedy mean
    of >= 475 over 100 evaluation episodes. Only the last update is solved or has a
    stop_reason."""
    updates, _ = default_runs[seed]
    last = updates[-1]
    assert last.solved and last.stop_reason == "solved"
    assert last.eval_return >= 475.0
    assert last.eval_returns.shape == (100,) and last.eval_returns.mean() == last.eval_return
    assert not any(u.solved or u.stop_reason for u in updates[:-1])
    assert len(updates) < 1000
    assert last.confirm_return >= 475.0  # and a second evaluation confirmed it


def test_solved_survives_a_second_look():
    """The policy a default run calls solved averages at least 475 on 1,000 fresh greedy
    episodes, for each of seeds 0..19. With one evaluation deciding alone, seed 16 stopped at a
    policy averaging 471.8 (issue 13): the confirmation is what this test checks."""
    for seed in range(20):
        last = list(train(TrainConfig(seed=seed)))[-1]
        assert last.solved, seed
        assert evaluate(last.policy, episodes=1000, seed=10_000 + seed).mean() >= 475.0, seed


def test_a_pass_that_is_not_confirmed_does_not_stop_the_run():
    """Seed 16's evaluation at update 15 passes (475.08) but its confirmation falls short
    (cut off once 475 was out of reach): the run is not solved there and goes on."""
    updates = list(train(TrainConfig(seed=16)))
    u = updates[14]
    assert u.iteration == 15 and u.eval_return >= 475.0
    assert not u.solved and u.stop_reason is None
    assert u.confirm_return is None and u.confirm_upper_bound < 475.0
    assert len(updates) > 15 and updates[-1].solved


def test_confirmation_runs_only_on_a_pass():
    """Updates whose evaluation failed (or was cut short) carry no confirmation."""
    updates = list(train(TrainConfig(seed=0)))
    for u in updates:
        passed = u.eval_return is not None and u.eval_return >= 475.0
        assert passed or (u.confirm_return is None and u.confirm_upper_bound is None)


@pytest.mark.parametrize("seed", [0, 3])
def test_update_fields_are_finite_and_sensible(default_runs, seed):
    """Iterations count from 1; episode returns and lengths are (batch_episodes,) and equal
    (reward 1 per step) within [1, 500]; env_steps grows by the batch's steps; grad norm,
    entropy (in [0, log 2]), baseline and loss are finite; wall time is non-decreasing;
    evaluations are either a mean in [1, 500] or an upper bound below the bar."""
    updates, _ = default_runs[seed]
    env_steps = 0
    for k, u in enumerate(updates, start=1):
        assert u.iteration == k
        assert u.episode_returns.shape == (16,) and u.episode_lengths.shape == (16,)
        assert np.array_equal(u.episode_returns, u.episode_lengths.astype(float))
        assert 1 <= u.episode_returns.min() and u.episode_returns.max() <= 500
        env_steps += int(u.episode_lengths.sum())
        assert u.env_steps == env_steps
        assert math.isfinite(u.grad_norm) and u.grad_norm > 0
        assert 0 <= u.entropy <= math.log(2) + 1e-12
        assert math.isfinite(u.baseline_value) and math.isfinite(u.loss)
        assert u.mean_return == u.episode_returns.mean()
        if u.eval_return is not None:
            assert 1 <= u.eval_return <= 500 and u.eval_upper_bound is None
        else:
            assert u.eval_upper_bound is not None and u.eval_upper_bound < 475
    assert all(b.wall_time >= a.wall_time >= 0 for a, b in zip(updates, updates[1:]))
    assert updates[-1].wall_time < 30


def test_update_policy_is_a_snapshot(default_runs):
    """Each Update's policy is its own copy: unchanged by the later steps, sharing no memory
    with the next update's, and different from it (training moved)."""
    updates, params_at_yield = default_runs[0]
    for u, params in zip(updates, params_at_yield):
        assert np.array_equal(u.policy.params, params)
    for a, b in zip(updates, updates[1:]):
        assert a.policy is not b.policy and not np.shares_memory(a.policy.params, b.policy.params)
        assert not np.array_equal(a.policy.params, b.policy.params)


def test_scribbling_on_a_yielded_policy_does_not_change_the_run():
    """The caller may modify update.policy: the rest of the run is the same as without."""
    cfg = TrainConfig(max_updates=6, eval_episodes=20, seed=4)
    reference, _ = run(cfg)
    scribbled = []
    for u in train(cfg):
        scribbled.append(u)
        scribbled_params = u.policy.params.copy()
        u.policy.params[:] = 1e3
    assert np.array_equal(scribbled_params, reference[-1].policy.params)
    for a, b in zip(reference, scribbled):
        assert np.array_equal(a.episode_returns, b.episode_returns)


def test_train_from_a_given_policy_copies_it():
    """train(cfg, policy) starts from that policy's parameters and never modifies it."""
    start = make_policy("linear", seed=42)
    before = start.params.copy()
    updates, _ = run(TrainConfig(max_updates=3, eval_episodes=10), policy=start)
    assert np.array_equal(start.params, before)
    assert not np.array_equal(updates[0].policy.params, before)


# ---------------------------------------------------------------------------------------------
# (e) Budgets
# ---------------------------------------------------------------------------------------------
def test_max_updates_stops_the_run():
    updates, _ = run(TrainConfig(max_updates=4, eval_episodes=10, seed=0))
    assert [u.iteration for u in updates] == [1, 2, 3, 4]
    assert updates[-1].stop_reason == "max_updates" and not updates[-1].solved
    assert all(u.stop_reason is None for u in updates[:-1])


def test_max_env_steps_stops_on_the_first_update_reaching_it():
    updates, _ = run(TrainConfig(max_env_steps=1500, eval_every=1000, seed=0))
    assert updates[-1].stop_reason == "max_env_steps"
    assert updates[-1].env_steps >= 1500 > updates[-2].env_steps
    assert all(u.stop_reason is None for u in updates[:-1])


def test_max_seconds_stops_the_run():
    updates, _ = run(TrainConfig(max_seconds=0.05, stop_on_solve=False, eval_every=1000, seed=0))
    assert updates[-1].stop_reason == "max_seconds"
    assert updates[-1].wall_time >= 0.05
    assert all(u.wall_time < 0.05 and u.stop_reason is None for u in updates[:-1])


def test_stop_on_solve_false_trains_past_solving():
    """With stop_on_solve=False solved updates carry no stop_reason; the budget ends the run."""
    updates, _ = run(TrainConfig(seed=1, stop_on_solve=False, max_updates=25))
    assert len(updates) == 25 and updates[-1].stop_reason == "max_updates"
    solved = [u for u in updates if u.solved]
    assert solved and all(u.stop_reason is None for u in solved if u is not updates[-1])


# ---------------------------------------------------------------------------------------------
# (f) Divergence
# ---------------------------------------------------------------------------------------------
def _assert_update_finite(u):
    numbers = [u.grad_norm, u.entropy, u.baseline_value, u.loss, u.wall_time, u.env_steps]
    assert all(math.isfinite(x) for x in numbers)
    assert np.isfinite(u.episode_returns).all() and np.isfinite(u.policy.params).all()
    assert u.eval_return is None or math.isfinite(u.eval_return)


def _patch_grad(monkeypatch, on_call: int, replace):
    original = SoftmaxPolicy.grad_log_prob
    calls = {"n": 0}

    def patched(self, *args, **kwargs):
        calls["n"] += 1
        grad = original(self, *args, **kwargs)
        return replace(grad) if calls["n"] == on_call else grad

    monkeypatch.setattr(SoftmaxPolicy, "grad_log_prob", patched)


@pytest.mark.parametrize("kind", ["linear", "mlp"])
def test_nan_gradient_raises_training_diverged_with_last_good_policy(monkeypatch, kind):
    """A NaN gradient on the 3rd update raises TrainingDiverged at iteration 3, carrying the
    policy after update 2 (finite); the two yielded updates hold no NaN."""
    _patch_grad(monkeypatch, 3, lambda g: g * np.nan)
    updates = []
    with pytest.raises(TrainingDiverged) as info:
        for u in train(TrainConfig(policy=kind, max_updates=10, eval_episodes=10, seed=0)):
            updates.append(u)
    assert len(updates) == 2 and info.value.iteration == 3
    assert "update 3" in str(info.value) and "not finite" in info.value.reason
    assert np.isfinite(info.value.policy.params).all()
    assert np.array_equal(info.value.policy.params, updates[-1].policy.params)
    for u in updates:
        _assert_update_finite(u)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_overflowing_step_raises_training_diverged_with_params_before_the_step(monkeypatch):
    """A finite but huge gradient that overflows the parameters to inf (SGD, lr 10) raises
    TrainingDiverged whose policy has the finite parameters from before that step."""
    _patch_grad(monkeypatch, 3, lambda g: np.full_like(g, 1e308))
    cfg = TrainConfig(optimizer="sgd", lr=10.0, batch_episodes=1, normalize_advantages=False,
                      baseline="none", max_updates=10, eval_episodes=10, seed=0)
    updates = []
    with pytest.raises(TrainingDiverged) as info:
        for u in train(cfg):
            updates.append(u)
    assert len(updates) == 2 and info.value.iteration == 3
    assert np.isfinite(info.value.policy.params).all()
    assert np.array_equal(info.value.policy.params, updates[-1].policy.params)
    for u in updates:
        _assert_update_finite(u)


# ---------------------------------------------------------------------------------------------
# The estimator
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("entropy_coef", [0.0, 0.05])
@pytest.mark.parametrize("kind", ["linear", "mlp"])
def test_reinforce_gradient_is_minus_grad_of_surrogate_loss(kind, entropy_coef):
    """With the advantages held fixed, reinforce_gradient equals minus the finite-difference
    gradient of surrogate_loss (-1/N sum logp * adv), plus entropy_coef times the gradient of
    1/N sum H(pi(.|s_t)); with no baseline and no normalisation adv is the reward-to-go."""
    policy = make_policy(kind, hidden=(6,), seed=1, init_scale=0.5)
    roller = Roller(CartPole(5, 60), seed=0)
    batch = roller.run(policy, np.random.default_rng(0))
    grad, G, adv = reinforce_gradient(policy, batch, 0.9, NoBaseline(), entropy_coef=entropy_coef)
    np.testing.assert_array_equal(G, reward_to_go(batch.rewards, batch.alive, 0.9))
    np.testing.assert_array_equal(adv, G)
    obs = batch.obs[batch.alive]

    def objective(theta):
        other = policy.with_params(theta)
        bonus = entropy_coef * other.entropy(obs).sum() / 5
        return -surrogate_loss(other, batch, adv) + bonus

    assert rel_err(grad, central_fd(objective, policy.params)) < 1e-6


def test_reinforce_gradient_with_normalised_advantages_and_episode_returns():
    """returns='episode' weights every step by G_0; normalize rescales adv over alive steps."""
    policy = make_policy("linear", seed=2, init_scale=0.5)
    batch = Roller(CartPole(6, 80), seed=1).run(policy, np.random.default_rng(1))
    baseline = make_baseline("batch_mean")
    _, G, adv = reinforce_gradient(policy, batch, 0.99, baseline, returns="episode", normalize=True)
    lengths = batch.alive.sum(axis=0)
    G0 = np.array([sum(0.99**k for k in range(L)) for L in lengths])
    np.testing.assert_allclose(G, G0[None, :] * batch.alive, rtol=1e-12)
    assert abs(adv[batch.alive].mean()) < 1e-10 and abs(adv[batch.alive].std() - 1) < 1e-6
    assert not adv[~batch.alive].any()


# ---------------------------------------------------------------------------------------------
# (g) A policy trained here scores the same in Gymnasium
# ---------------------------------------------------------------------------------------------
def _gym_greedy_episode(env, policy, start=None, seed=None, float32_obs=False):
    """Return and visited states of one greedy episode in a Gymnasium env."""
    obs, _ = env.reset(seed=seed)
    if start is not None:
        env.unwrapped.state = start.copy()
    states, total = [np.array(env.unwrapped.state)], 0.0
    while True:
        s = obs.astype(np.float64) if float32_obs else np.asarray(env.unwrapped.state, dtype=np.float64)
        action = int(policy.act(s[None], greedy=True)[0])
        obs, reward, terminated, truncated, _ = env.step(action)
        total += reward
        states.append(np.array(env.unwrapped.state))
        if terminated or truncated:
            return total, np.array(states)


@pytest.mark.parametrize("snapshot", ["early", "solved"])
def test_trained_policy_scores_the_same_in_gymnasium(default_runs, snapshot):
    """20 greedy episodes from evaluate's start states: in Gymnasium CartPole-v1 (policy fed
    the float64 env.unwrapped.state) every return and every visited state equal ours exactly.
    Checked for the solved policy of seed 0 and for an early snapshot whose returns vary."""
    gym = pytest.importorskip("gymnasium")
    updates, _ = default_runs[0]
    policy = updates[-1].policy if snapshot == "solved" else updates[1].policy
    ours = evaluate(policy, episodes=20, seed=5)
    batch = Roller(CartPole(20, 500), seed=5).run(policy, greedy=True)  # evaluate's own episodes
    assert np.array_equal(batch.episode_returns, ours)
    env = gym.make("CartPole-v1")
    for i in range(20):
        total, states = _gym_greedy_episode(env, policy, start=batch.obs[0, i])
        assert total == ours[i], f"episode {i}: gymnasium {total}, ours {ours[i]}"
        L = int(ours[i])
        np.testing.assert_array_equal(states[:L], batch.obs[:L, i])
    if snapshot == "early":
        assert len(np.unique(ours)) > 3 and ours.mean() < 400
    else:
        assert ours.mean() >= 475


def test_trained_policy_solves_gymnasium_with_float32_observations(default_runs):
    """Fed Gymnasium's own float32 observations (the usual way), the solved seed-0 policy
    still averages >= 475 over 20 episodes (the mean is printed for the report)."""
    gym = pytest.importorskip("gymnasium")
    policy = default_runs[0][0][-1].policy
    env = gym.make("CartPole-v1")
    returns = [_gym_greedy_episode(env, policy, seed=100 + i, float32_obs=True)[0] for i in range(20)]
    print(f"float32-observation mean return over 20 Gymnasium episodes: {np.mean(returns):.1f}")
    assert np.mean(returns) >= 475


# ---------------------------------------------------------------------------------------------
# (i) evaluate
# ---------------------------------------------------------------------------------------------
def test_evaluate_returns_one_greedy_return_per_episode():
    """(episodes,) float returns in [1, max_steps]; the same seed gives the same returns."""
    policy = margin_policy((0, -0.5, 1, 1))
    returns = evaluate(policy, episodes=37, seed=2)
    assert returns.shape == (37,) and returns.dtype == np.float64
    assert returns.min() >= 1 and returns.max() <= 500
    assert np.array_equal(returns, evaluate(policy, episodes=37, seed=2))
    assert not np.array_equal(returns, evaluate(policy, episodes=37, seed=3))
    v0 = evaluate(margin_policy((0, 0, 1, 0.5)), episodes=5, seed=0, max_steps=200)
    assert np.array_equal(v0, np.full(5, 200.0))


def test_history_has_one_row_per_update(default_runs):
    """The recorded history (RunRecorder) of a default run: every documented column, one row
    per update, episodes counted, NaN eval_return exactly where no evaluation completed (the
    default runs cut hopeless evaluations short)."""
    updates, _ = default_runs[1]
    history = recorded_history(updates)
    assert tuple(history) == HISTORY_FIELDS
    assert all(column.shape == (len(updates),) for column in history.values())
    np.testing.assert_array_equal(history["episodes"], 16 * np.arange(1, len(updates) + 1))
    np.testing.assert_array_equal(np.isnan(history["eval_return"]), [u.eval_return is None for u in updates])


# ---------------------------------------------------------------------------------------------
# (j) train's pause hook and step budget; the arguments of evaluate and train
# ---------------------------------------------------------------------------------------------
PAUSABLE = [
    TrainConfig(seed=0),  # solves at update 18: evaluations complete and cut short
    TrainConfig(seed=7, policy="mlp", hidden=(8,), baseline="value", value_model="mlp", max_updates=6,
                stop_on_solve=False, eval_every=2, eval_episodes=20),
]


@pytest.mark.parametrize("cfg", PAUSABLE, ids=["default", "mlp"])
@pytest.mark.parametrize("every", [1, 3, 50])
def test_a_run_paused_anywhere_gives_the_numbers_of_one_never_paused(cfg, every):
    """Pausing at every ``every``-th time the hook is asked (in rollouts, evaluations and
    between the steps of an update) changes nothing: same updates, same policies, bit for bit."""
    reference, _ = run(cfg)
    asked = {"n": 0}

    def pause():
        asked["n"] += 1
        return asked["n"] % every == 0

    updates, pauses = [], 0
    for item in train(cfg, pause=pause):
        if item is None:
            pauses += 1
        else:
            updates.append(item)
    assert pauses >= asked["n"] // every > 0
    assert len(updates) == len(reference)
    for a, b in zip(updates, reference, strict=True):
        np.testing.assert_array_equal(a.policy.params, b.policy.params)
        assert (a.eval_return, a.eval_upper_bound, a.env_steps, a.stop_reason) == (
            b.eval_return, b.eval_upper_bound, b.env_steps, b.stop_reason)
    for name, column in history_without_wall_time(updates).items():
        np.testing.assert_array_equal(column, history_without_wall_time(reference)[name], err_msg=name)


def test_time_paused_does_not_count_as_training():
    import time

    cfg = TrainConfig(seed=0, max_updates=2, stop_on_solve=False)
    asked = {"n": 0}

    def pause():  # the first three times asked
        asked["n"] += 1
        return asked["n"] <= 3

    start, updates = time.perf_counter(), []
    for item in train(cfg, pause=pause):
        if item is None:
            time.sleep(0.2)  # the caller away (another tick, another session)
        else:
            updates.append(item)
    elapsed = time.perf_counter() - start
    assert len(updates) == 2 and updates[-1].wall_time <= elapsed - 0.6


def test_a_step_budget_ends_the_run_before_the_batch_that_would_overshoot_it():
    """train(cfg) alone overshoots max_env_steps by most of a batch (its check comes after the
    update); with a StepBudget of the same size the run stops in the middle of that batch,
    takes less than one time step's batch (N steps) more than the cap, and records no update
    for the batch it cut short."""
    from pg.algo.rollout import StepBudget

    cfg = TrainConfig(seed=1, max_env_steps=5000, stop_on_solve=False)
    plain, _ = run(cfg)
    assert plain[-1].stop_reason == "max_env_steps" and plain[-1].env_steps > 5000
    budget = StepBudget(5000)
    capped = list(train(cfg, budget=budget))
    taken = 5000 - budget.left
    assert 5000 <= taken < 5000 + cfg.batch_episodes
    assert len(capped) == len(plain) - 1 and capped[-1].env_steps < 5000 and capped[-1].stop_reason is None
    for a, b in zip(capped, plain, strict=False):
        np.testing.assert_array_equal(a.policy.params, b.policy.params)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"episodes": 0}, "episodes must be an integer >= 1, got 0"),
        ({"episodes": 2.5}, "episodes must be an integer >= 1, got 2.5"),
        ({"max_steps": 0}, "max_steps must be an integer >= 1, got 0"),
        ({"max_steps": "500"}, "max_steps must be an integer >= 1, got '500'"),
    ],
)
def test_evaluate_names_the_argument_at_fault(kwargs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        evaluate(margin_policy((0, 0, 1, 1)), **kwargs)


def test_a_parameter_vector_is_not_a_policy():
    for call in (lambda p: evaluate(p), lambda p: train(TrainConfig(), policy=p)):
        with pytest.raises(TypeError, match=r"policy must be a policy from pg.make_policy or pg.load_policy, "
                                            r"got numpy.ndarray \(a parameter vector: wrap it"):
            call(np.zeros(10))
        with pytest.raises(TypeError, match="got builtins.str"):
            call("policy.npz")
    wrong_size = make_policy("linear", obs_dim=5, n_actions=2, seed=0)
    with pytest.raises(ValueError, match="CartPole's 4 observations .* got a policy of 5 observations and 2 actions"):
        evaluate(wrong_size)
    with pytest.raises(TypeError, match="cfg must be a TrainConfig"):
        train({"seed": 0})

