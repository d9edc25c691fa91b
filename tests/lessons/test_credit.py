"""pg.lessons.credit: the episode's weights are the trainer's (G_t - b_t against a plain loop), the
update is train()'s own first update bit for bit, the sign bookkeeping counts what it says, and a
seed gives one answer."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from pg.algo.reinforce import TrainConfig, train
from pg.lessons.credit import ZERO_ADVANTAGE, config_of, credit_assignment, draw_batch
from pg.runs.checkpoint import load_run

SMALL = TrainConfig(batch_episodes=4, max_episode_steps=120, eval_every=10**6)


@pytest.fixture(scope="module")
def shipped():
    from pages.shared import SHIPPED_POLICY

    return load_run(SHIPPED_POLICY)


@pytest.fixture(scope="module")
def early(shipped):
    """The shipped run's policy after one update: short episodes, advantages of both signs."""
    return dict(shipped.checkpoints())[1]


def first_update(policy, cfg: TrainConfig, seed: int):
    """What train() itself does first from ``policy`` with this seed."""
    return next(iter(train(replace(cfg, seed=seed, max_updates=1, eval_every=10**6), policy)))


@pytest.mark.parametrize("settings", [
    {},  # the shipped run's: batch mean, normalised, Adam
    {"baseline": "none", "normalize_advantages": False, "optimizer": "sgd", "lr": 0.01},
    {"baseline": "moving_average", "gamma": 0.9, "max_grad_norm": 0.5},  # fresh: b = 0, as on train()'s first update
    {"returns": "episode", "entropy_coef": 0.01},
    {"advantage": "gae", "gae_lambda": 0.9},
])
def test_the_update_is_trains_own_first_update_bit_for_bit(early, settings):
    cfg = replace(SMALL, **settings)
    credit = credit_assignment(early, cfg, seed=7)
    update = first_update(early, cfg, 7)
    np.testing.assert_array_equal(credit.params_after, update.policy.params)
    assert credit.length == update.episode_lengths[0]
    np.testing.assert_array_equal(credit.batch_lengths, update.episode_lengths)
    assert credit.grad_norm == update.grad_norm
    np.testing.assert_array_equal(credit.params_before, early.params)


def test_the_advantage_is_the_discounted_return_minus_the_leave_one_out_batch_mean(early):
    """Recomputed by plain loops from the batch: G_t = sum_k gamma^k r_(t+k) over the episode's
    own rewards, b_t = mean of G_t over the other episodes alive at t."""
    cfg = replace(SMALL, gamma=0.97)
    credit = credit_assignment(early, cfg, seed=3)
    batch = draw_batch(early, cfg, 3)
    returns = []
    for n in range(batch.alive.shape[1]):
        rewards = batch.rewards[batch.alive[:, n], n]
        returns.append([sum(cfg.gamma**k * r for k, r in enumerate(rewards[t:])) for t in range(len(rewards))])
    G = np.array(returns[0])
    b = np.array([np.mean([g[t] for g in returns[1:] if len(g) > t]) if any(len(g) > t for g in returns[1:]) else 0.0
                  for t in range(len(G))])
    np.testing.assert_allclose(credit.G, G, rtol=1e-12)
    np.testing.assert_allclose(credit.b, b, rtol=1e-12)
    np.testing.assert_array_equal(credit.adv, credit.G - credit.b)  # exactly: advantages() subtracts
    np.testing.assert_array_equal(credit.rewards, np.ones(credit.length))
    all_adv = []
    for n, g in enumerate(returns):
        others = [h for m, h in enumerate(returns) if m != n]
        all_adv += [g[t] - (np.mean([h[t] for h in others if len(h) > t]) if any(len(h) > t for h in others) else 0.0)
                    for t in range(len(g))]
    all_adv = np.array(all_adv)
    normalised = (credit.adv - all_adv.mean()) / (all_adv.std() + 1e-8)
    np.testing.assert_allclose(credit.weight, normalised, rtol=1e-9, atol=1e-12)


def test_the_probabilities_are_the_policies_and_the_sign_count_is_what_it_says(early):
    credit = credit_assignment(early, SMALL, seed=5)
    after = early.with_params(credit.params_after)
    np.testing.assert_allclose(credit.p_before, early.probs(credit.states)[np.arange(credit.length), credit.actions])
    np.testing.assert_allclose(credit.p_after, after.probs(credit.states)[np.arange(credit.length), credit.actions])
    np.testing.assert_allclose(credit.delta_logp, np.log(credit.p_after) - np.log(credit.p_before), atol=1e-12)
    by_hand = sum((d > 0 and a > 0) or (d < 0 and a < 0) for d, a in zip(credit.delta_logp, credit.adv))
    assert credit.agree_count == by_hand
    assert credit.signed_steps == credit.length  # no advantage of an early policy's batch is 0
    assert 0 < credit.agree_count < credit.length, "a measured count: some steps move against their sign"
    lo, hi = credit.param_changes
    assert 0 < lo <= hi <= SMALL.lr * (1 + 1e-6), "Adam's first step moves each parameter by at most about lr"


def test_states_and_actions_are_the_first_episode_of_the_batch(early):
    credit = credit_assignment(early, SMALL, seed=2)
    batch = draw_batch(early, SMALL, 2)
    n = credit.length
    np.testing.assert_array_equal(credit.states, batch.obs[:n, 0])
    np.testing.assert_array_equal(credit.actions, batch.actions[:n, 0])
    assert batch.alive[:n, 0].all() and (n == len(batch.alive) or not batch.alive[n, 0])


def test_where_every_episode_reaches_the_limit_the_advantage_is_zero_and_not_a_sign(shipped):
    """The final policy balances all 500 steps in every episode: G_t is the same in each, so
    b_t = G_t and the advantage is 0 (up to rounding), which the sign bookkeeping reads as 0."""
    cfg = config_of(shipped.config)
    credit = credit_assignment(shipped.policy, replace(cfg, batch_episodes=4), seed=0)
    assert (credit.batch_lengths == cfg.max_episode_steps).all()
    assert np.abs(credit.adv).max() <= ZERO_ADVANTAGE * credit.G.max()
    assert credit.signed_steps == 0 and credit.agree_count == 0


def test_a_warm_stateful_baseline_has_been_fitted_before_the_batch(early):
    cfg = replace(SMALL, baseline="moving_average")
    cold, warm = credit_assignment(early, cfg, 4), credit_assignment(early, cfg, 4, warm=True)
    assert not cold.warmed and warm.warmed
    np.testing.assert_array_equal(cold.b, 0.0)  # train()'s first update: no earlier batch yet
    assert np.all(warm.b > 0) and np.ptp(warm.b) == 0, "one number: the earlier batch's mean return"
    np.testing.assert_array_equal(cold.G, warm.G)  # the same batch
    same = credit_assignment(early, replace(SMALL, baseline="batch_mean"), 4, warm=True)
    assert not same.warmed, "the batch-mean baseline has no state to warm"


def test_a_seed_gives_one_answer_and_another_seed_another(early):
    first, again, other = (credit_assignment(early, SMALL, s) for s in (11, 11, 12))
    for name in ("states", "actions", "G", "b", "adv", "weight", "logp_after", "params_after"):
        np.testing.assert_array_equal(getattr(first, name), getattr(again, name))
    assert not np.array_equal(first.params_after, other.params_after)


@pytest.mark.parametrize("seed", [-1, True, 1.5, "3"])
def test_a_bad_seed_is_refused_in_words(early, seed):
    with pytest.raises(ValueError, match="seed must be an integer >= 0"):
        credit_assignment(early, SMALL, seed)


def test_a_run_without_settings_uses_the_defaults(shipped):
    assert config_of(None) == TrainConfig()
    assert config_of(shipped.config) == TrainConfig.from_dict(shipped.config)


def test_the_sentences_count_what_the_episode_shows(early):
    from pg.lessons.credit import describe, summary, why_not_every_step

    cfg = TrainConfig(batch_episodes=16)
    credit = credit_assignment(early, cfg, seed=0)
    up, down = int((credit.adv_sign > 0).sum()), int((credit.adv_sign < 0).sum())
    said = summary(credit, cfg)
    assert f"lasted **{credit.length} steps**: {up} with a positive advantage, {down} with a negative one" in said
    assert f"at **{credit.agree_count} of {credit.signed_steps} steps**" in said
    why = why_not_every_step(credit, cfg)
    assert f"{int(credit.batch_lengths.sum())} steps of {len(credit.batch_lengths)} episodes" in why
    assert "Adam starts afresh" in why and "Adam starts afresh" not in why_not_every_step(
        credit, replace(cfg, optimizer="sgd"))
    assert describe(cfg).startswith("γ = 0.99; advantage Gₜ − bₜ with bₜ the mean Gₜ of the batch's other episodes")
    assert "plain gradient ascent with learning rate 0.01" in describe(replace(cfg, optimizer="sgd", lr=0.01))
