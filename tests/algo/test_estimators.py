"""pg.algo.estimators and the actor-critic path of pg.algo.reinforce: every advantage estimator against a
plain Python loop on random padded batches, GAE's two limits (lambda = 1 is reward-to-go minus
V, lambda = 0 is TD(0)), the estimator's gradient against finite differences of its surrogate,
the new TrainConfig fields' validation, and the default training path left exactly as it was."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from helpers import central_fd, random_padded_batch, rel_err

import pg.algo.estimators
import pg.algo.reinforce
from pg.algo.baselines import BatchMean, NoBaseline, make_baseline, normalize_advantages
from pg.algo.estimators import (
    ADVANTAGES,
    DEFAULT_ESTIMATORS,
    ESTIMATOR_NAMES,
    EstimatorSpec,
    advantages,
    critic_advantages,
    gae_spec,
    parse_estimator,
    parse_estimators,
)
from pg.algo.policies import make_policy
from pg.algo.reinforce import TrainConfig, reinforce_gradient, surrogate_loss, train
from pg.algo.rollout import Batch, Roller
from pg.envs import CartPole

GAMMAS = [0.0, 0.5, 0.99, 1.0]


class FixedCritic:
    """A critic whose values are given: V(s_t) of episode n is values[t, n]."""

    def __init__(self, values):
        self.v = values

    def values(self, batch, G):
        return np.where(batch.alive, self.v, 0.0)


def padded(seed, T=12, N=7):
    rewards, values, alive, lengths = random_padded_batch(np.random.default_rng(seed), T, N)
    batch = Batch(np.zeros((T, N, 4)), np.zeros((T, N), np.uint8), rewards, alive)
    return batch, values, lengths


# ---------------------------------------------------------------------------------------------
# Plain loops: one episode, one step at a time
# ---------------------------------------------------------------------------------------------
def loop_rtg(rewards, lengths, gamma, n, t):
    return sum(gamma ** (k - t) * float(rewards[k, n]) for k in range(t, lengths[n]))


def loop_td0(rewards, values, lengths, gamma, n, t):
    v_next = float(values[t + 1, n]) if t + 1 < lengths[n] else 0.0
    return float(rewards[t, n]) + gamma * v_next - float(values[t, n])


def loop_gae(rewards, values, lengths, gamma, lam, n, t):
    return sum((gamma * lam) ** (k - t) * loop_td0(rewards, values, lengths, gamma, n, k)
               for k in range(t, lengths[n]))


def each_step(lengths):
    return [(n, t) for n in range(len(lengths)) for t in range(lengths[n])]


@pytest.mark.parametrize("gamma", GAMMAS)
@pytest.mark.parametrize("seed", [0, 1])
def test_td0_and_gae_match_plain_loops(gamma, seed):
    """td0: r_t + gamma V(s_{t+1}) - V(s_t), V = 0 after the last step; gae: the (gamma lam)-
    discounted sum of those deltas to the episode's end; 0 outside episodes (junk ignored)."""
    batch, values, lengths = padded(seed)
    td0 = critic_advantages("td0", batch, values, gamma)
    for lam in (0.0, 0.3, 0.95, 1.0):
        A = critic_advantages("gae", batch, values, gamma, lam)
        expected = np.zeros_like(A)
        for n, t in each_step(lengths):
            expected[t, n] = loop_gae(batch.rewards, values, lengths, gamma, lam, n, t)
        np.testing.assert_allclose(A, expected, rtol=1e-10, atol=1e-10)
    expected = np.zeros_like(td0)
    for n, t in each_step(lengths):
        expected[t, n] = loop_td0(batch.rewards, values, lengths, gamma, n, t)
    np.testing.assert_allclose(td0, expected, rtol=1e-12, atol=1e-12)
    assert not td0[~batch.alive].any()


@pytest.mark.parametrize("gamma", GAMMAS)
def test_returns_estimators_match_plain_loops(gamma):
    """"returns": reward-to-go (or the whole return G_0) minus the baseline, step by step;
    the leave-one-out batch mean against its own loop."""
    batch, values, lengths = padded(3, T=10, N=6)
    G, b, adv = advantages("returns", batch, gamma, FixedCritic(values))
    G0, _, adv0 = advantages("returns", batch, gamma, NoBaseline(), returns="episode")
    _, b_mean, adv_mean = advantages("returns", batch, gamma, BatchMean())
    for n, t in each_step(lengths):
        g = loop_rtg(batch.rewards, lengths, gamma, n, t)
        assert G[t, n] == pytest.approx(g, abs=1e-10)
        assert adv[t, n] == pytest.approx(g - values[t, n], abs=1e-10)
        assert adv0[t, n] == pytest.approx(loop_rtg(batch.rewards, lengths, gamma, n, 0), abs=1e-10)
        others = [loop_rtg(batch.rewards, lengths, gamma, m, t) for m in range(len(lengths))
                  if m != n and t < lengths[m]]
        expected_b = sum(others) / len(others) if others else 0.0
        assert b_mean[t, n] == pytest.approx(expected_b, abs=1e-10)
        assert adv_mean[t, n] == pytest.approx(g - expected_b, abs=1e-10)
    for array in (adv, adv0, adv_mean):
        assert not array[~batch.alive].any()


@pytest.mark.parametrize("gamma", GAMMAS)
@pytest.mark.parametrize("seed", range(4))
def test_gae_lambda_one_is_reward_to_go_minus_v(gamma, seed):
    """GAE(1) telescopes: sum_k gamma^k delta_{t+k} = G_t - V(s_t) exactly (no bootstrap)."""
    batch, values, _ = padded(seed)
    G, b, _ = advantages("returns", batch, gamma, FixedCritic(values))
    _, _, A = advantages("gae", batch, gamma, FixedCritic(values), lam=1.0)
    np.testing.assert_allclose(A, G - b, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("gamma", GAMMAS)
@pytest.mark.parametrize("seed", range(4))
def test_gae_lambda_zero_is_td0(gamma, seed):
    batch, values, _ = padded(seed)
    critic = FixedCritic(values)
    np.testing.assert_array_equal(advantages("gae", batch, gamma, critic, lam=0.0)[2],
                                  advantages("td0", batch, gamma, critic, lam=0.7)[2])


def test_bootstrap_values_the_state_after_the_last_step():
    """With ``bootstrap`` (the critic's value of the state a time limit cut off), GAE(1) is
    the reward-to-go with gamma^(L-t) bootstrap added, minus V."""
    batch, values, lengths = padded(5)
    boot = np.random.default_rng(9).normal(size=len(lengths)) * 10
    A = critic_advantages("gae", batch, values, 0.9, 1.0, bootstrap=boot)
    for n, t in each_step(lengths):
        G = loop_rtg(batch.rewards, lengths, 0.9, n, t) + 0.9 ** (lengths[n] - t) * boot[n]
        assert A[t, n] == pytest.approx(G - values[t, n], abs=1e-10)


def test_unknown_kinds_are_refused_with_the_choices():
    batch, values, _ = padded(0)
    with pytest.raises(ValueError, match="advantage must be one of returns, td0, gae; got 'mc'"):
        advantages("mc", batch, 0.9, NoBaseline())
    with pytest.raises(ValueError, match="td0, gae; got 'returns'"):
        critic_advantages("returns", batch, values, 0.9)


# ---------------------------------------------------------------------------------------------
# reinforce_gradient: the same advantages, and the gradient of its surrogate
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def cartpole_batch():
    policy = make_policy("linear", seed=4, init_scale=0.5)
    batch = Roller(CartPole(6, 80), seed=2).run(policy, np.random.default_rng(2))
    critic = make_baseline("value", 4, 80, "linear")
    G = advantages("returns", batch, 0.95, NoBaseline())[0]
    critic.update(batch, G)  # a critic fitted on something, so V is not 0
    return policy, batch, critic


@pytest.mark.parametrize("spec", ["reinforce", "rtg", "rtg-batch-mean", "rtg-value", "td0", "gae:0.9", "gae:1"])
def test_reinforce_gradient_uses_the_estimators_advantages(cartpole_batch, spec):
    """reinforce_gradient's (G, adv) are pg.algo.estimators.advantages' for every named estimator,
    and its gradient is minus the finite-difference gradient of surrogate_loss (adv fixed)."""
    policy, batch, critic = cartpole_batch
    s = parse_estimator(spec)
    baseline = critic if s.uses_critic else make_baseline(s.baseline)
    grad, G, adv = reinforce_gradient(policy, batch, 0.95, baseline, s.returns, advantage=s.advantage,
                                      gae_lambda=s.gae_lambda)
    G2, _, adv2 = advantages(s.advantage, batch, 0.95, baseline, s.returns, s.gae_lambda)
    np.testing.assert_array_equal(G, G2)
    np.testing.assert_array_equal(adv, adv2)
    fd = central_fd(lambda theta: -surrogate_loss(policy.with_params(theta), batch, adv), policy.params)
    assert rel_err(grad, fd) < 1e-6


@pytest.mark.parametrize("normalize", [False, True])
@pytest.mark.parametrize("spec", ["reinforce", "rtg-moving-average", "rtg-value", "gae:0.9"])
def test_reinforce_gradient_weights_are_the_estimators_advantages(cartpole_batch, spec, normalize):
    """The seam: the weight on each grad log pi in reinforce_gradient is
    estimators.advantages' adv (rescaled by normalize_advantages when asked), bit for bit."""
    policy, batch, critic = cartpole_batch
    s = parse_estimator(spec)
    baseline = critic if s.uses_critic else make_baseline(s.baseline)
    alive = batch.alive
    grad, _, adv = reinforce_gradient(policy, batch, 0.95, baseline, s.returns, normalize,
                                      advantage=s.advantage, gae_lambda=s.gae_lambda)
    weights = advantages(s.advantage, batch, 0.95, baseline, s.returns, s.gae_lambda)[2]
    if normalize:
        weights = normalize_advantages(weights, alive)
    np.testing.assert_array_equal(adv, weights)
    expected = policy.grad_log_prob(batch.obs[alive], batch.actions[alive], weights[alive]) / alive.shape[1]
    np.testing.assert_array_equal(grad, expected)


def test_reinforce_gradient_calls_estimators_advantages(cartpole_batch, monkeypatch):
    """One implementation: reinforce_gradient gets (G, adv) from estimators.advantages, with
    its arguments passed through, so a stand-in for that function is what the gradient weighs."""
    policy, batch, _ = cartpole_batch
    alive = batch.alive
    stand_in_adv = np.random.default_rng(0).normal(size=alive.shape) * alive
    stand_in_G = np.full(alive.shape, 7.0)
    calls = []

    def stand_in(kind, batch_, gamma, baseline, returns, lam):
        calls.append((kind, batch_, gamma, baseline, returns, lam))
        return stand_in_G, None, stand_in_adv

    monkeypatch.setattr(pg.algo.reinforce, "advantages", stand_in)
    baseline = NoBaseline()
    grad, G, adv = reinforce_gradient(policy, batch, 0.9, baseline, "episode", advantage="gae", gae_lambda=0.7)
    assert calls == [("gae", batch, 0.9, baseline, "episode", 0.7)]
    assert G is stand_in_G and adv is stand_in_adv
    expected = policy.grad_log_prob(batch.obs[alive], batch.actions[alive], stand_in_adv[alive]) / alive.shape[1]
    np.testing.assert_array_equal(grad, expected)


def test_critic_kinds_fit_the_critic_on_reward_to_go_even_with_episode_returns(cartpole_batch):
    """For td0 / gae, G is the reward-to-go whatever ``returns`` says: it is the critic's target."""
    policy, batch, critic = cartpole_batch
    _, G, _ = reinforce_gradient(policy, batch, 0.95, critic, "episode", advantage="td0")
    np.testing.assert_array_equal(G, advantages("returns", batch, 0.95, NoBaseline())[0])


# ---------------------------------------------------------------------------------------------
# TrainConfig: the two new fields
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name, value, allowed", [
    ("advantage", "ppo", ["returns, td0, gae"]),
    ("advantage", None, ["returns, td0, gae"]),
    ("gae_lambda", 1.5, ["[0, 1]"]),
    ("gae_lambda", -0.1, ["[0, 1]"]),
    ("gae_lambda", float("nan"), ["[0, 1]"]),
    ("gae_lambda", "0.9", ["[0, 1]"]),
    ("gae_lambda", True, ["[0, 1]"]),
])
def test_bad_new_config_values_name_field_range_and_value(name, value, allowed):
    with pytest.raises(ValueError) as info:
        TrainConfig(**{name: value})
    message = str(info.value)
    assert message.startswith(name + " ") and repr(value) in message, message
    for text in allowed:
        assert text in message, message


def test_new_fields_default_to_todays_behaviour_and_round_trip():
    """Old configs (dicts without the new keys, as in old checkpoint files) load with the
    defaults; new ones round-trip through to_dict / from_dict."""
    cfg = TrainConfig()
    assert (cfg.advantage, cfg.gae_lambda) == ("returns", 0.95)
    old = {k: v for k, v in cfg.to_dict().items() if k not in ("advantage", "gae_lambda")}
    assert TrainConfig.from_dict(old) == cfg
    new = TrainConfig(advantage="gae", gae_lambda=1, value_model="mlp")
    assert new.gae_lambda == 1.0 and isinstance(new.gae_lambda, float)
    assert TrainConfig.from_dict(new.to_dict()) == new
    assert set(ADVANTAGES) == {"returns", "td0", "gae"}


# ---------------------------------------------------------------------------------------------
# train(): the default path is the old one; GAE(1) trains exactly like the value baseline
# ---------------------------------------------------------------------------------------------
# (updates, env steps) of the default config for seeds 0, 1, 2, recorded before the
# estimators were added (the whole history was also compared bit for bit then)
RECORDED_DEFAULT_RUNS = {0: (18, 23967), 1: (13, 14070), 2: (18, 22332)}


def test_default_config_never_reaches_the_actor_critic_code(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the default path called critic_advantages")

    monkeypatch.setattr(pg.algo.estimators, "critic_advantages", refuse)
    for seed, (updates, env_steps) in RECORDED_DEFAULT_RUNS.items():
        last = list(train(TrainConfig(seed=seed)))[-1]
        assert (last.iteration, last.env_steps) == (updates, env_steps) and last.solved


@pytest.mark.parametrize("value_model", ["linear", "mlp"])
def test_gae_lambda_one_trains_bit_identically_to_the_value_baseline(value_model):
    """advantage='gae', gae_lambda=1 is reward-to-go minus the learned V: the same run as
    baseline='value', update for update (the critic is the value baseline, fitted the same way)."""
    common = {"value_model": value_model, "max_updates": 6, "normalize_advantages": False, "seed": 3}
    a = list(train(TrainConfig(baseline="value", **common)))
    b = list(train(TrainConfig(advantage="gae", gae_lambda=1.0, baseline="none", **common)))
    assert len(a) == len(b) == 6
    for ua, ub in zip(a, b):
        np.testing.assert_allclose(ub.policy.params, ua.policy.params, rtol=1e-9, atol=1e-12)
        assert ua.baseline_value == pytest.approx(ub.baseline_value, rel=1e-9)


@pytest.mark.parametrize("advantage", ["td0", "gae"])
def test_actor_critic_runs_are_deterministic(advantage):
    cfg = TrainConfig(advantage=advantage, value_model="mlp", max_updates=4, seed=5)
    a, b = list(train(cfg)), list(train(cfg))
    for ua, ub in zip(a, b):
        np.testing.assert_array_equal(ua.policy.params, ub.policy.params)
        assert ua.loss == ub.loss


# ---------------------------------------------------------------------------------------------
# Named estimators
# ---------------------------------------------------------------------------------------------
def test_named_estimators_parse_and_configure():
    base = TrainConfig(lr=0.1, seed=7)
    assert parse_estimator("reinforce").config(base).returns == "episode"
    assert parse_estimator("RTG-Batch-Mean").config(base).baseline == "batch_mean"
    td0 = parse_estimator("td0").config(base)
    assert (td0.advantage, td0.lr, td0.seed) == ("td0", 0.1, 7)
    g = parse_estimator("gae:0.5")
    assert (g.name, g.advantage, g.gae_lambda) == ("gae:0.5", "gae", 0.5) and g.uses_critic
    assert parse_estimator("gae") == gae_spec(0.95) and parse_estimator(" gae:1.0 ").name == "gae:1"
    assert not parse_estimator("rtg-batch-mean").uses_critic and parse_estimator("rtg-value").uses_critic
    assert [s.name for s in parse_estimators("reinforce, td0,gae:0.9")] == ["reinforce", "td0", "gae:0.9"]
    assert [s.name for s in parse_estimators(",".join(DEFAULT_ESTIMATORS))] == list(DEFAULT_ESTIMATORS)
    assert len({s.label for s in map(parse_estimator, [n for n in ESTIMATOR_NAMES if n != "gae:LAMBDA"])}) == 6
    assert isinstance(g, EstimatorSpec) and dataclasses.is_dataclass(g)


@pytest.mark.parametrize("text, message", [
    ("ppo", "estimator must be one of reinforce, rtg,"),
    ("gae:x", "GAE lambda must be a number in [0, 1], got 'x'"),
    ("gae:1.5", "GAE lambda must be a number in [0, 1], got 1.5"),
    ("gae:nan", "GAE lambda must be a number in [0, 1], got nan"),
])
def test_bad_estimator_names_say_what_is_allowed(text, message):
    with pytest.raises(ValueError) as info:
        parse_estimator(text)
    assert message in str(info.value)


def test_estimator_lists_refuse_repeats_and_emptiness():
    with pytest.raises(ValueError, match="td0 is listed twice"):
        parse_estimators("td0,rtg,td0")
    with pytest.raises(ValueError, match="at least one"):
        parse_estimators(" , ")
    with pytest.raises(ValueError, match="gae:0.9 is listed twice"):
        parse_estimators("gae:0.9,gae:0.90")
