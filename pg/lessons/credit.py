"""Credit assignment, one episode at a time (issue 15, point 6).

"Increase the probability of actions that led to high returns", step by step: one episode of a
policy, the weight REINFORCE puts on each of its steps, and what one update did to each step's
probability. Nothing here is a new formula: the batch is drawn as ``train()`` draws its first
batch, the returns, baseline and advantages are pg.algo.estimators.advantages', and the update
is pg.algo.reinforce's gradient, clipping and optimizer step on that batch.

==============  ==========  ===================================================================
field           shape       meaning (episode 0 of the batch: the episode shown)
==============  ==========  ===================================================================
states          (T, 4)      s_t, the state the action was chosen in
actions         (T,)        a_t, 0 = push left, 1 = push right
rewards         (T,)        r_t (1 per step in CartPole)
G               (T,)        the return weight: reward-to-go sum_k gamma^(k-t) r_k (or G_0)
b               (T,)        the baseline the trainer subtracts (the critic's V(s_t) for TD / GAE)
adv             (T,)        the advantage: G_t - b_t (or the critic's TD / GAE estimate)
weight          (T,)        what multiplies grad log pi(a_t|s_t) in the update: adv, normalised
                            over the whole batch if the run normalises
logp_before     (T,)        log pi(a_t|s_t) before the update
logp_after      (T,)        log pi(a_t|s_t) after it
==============  ==========  ===================================================================

Why the sign rule need not hold at every step: the update is one step along the gradient of
the *whole batch* (every step of every episode pulls on the same parameters), normalisation
shifts each advantage by the batch mean, and Adam rescales each parameter's step. A step's
probability moves with its own advantage only where its own pull wins; ``agree_count`` counts
where it did.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from pg.algo.baselines import make_baseline
from pg.algo.estimators import advantages
from pg.algo.optim import clip_grad_norm, make_optimizer
from pg.algo.reinforce import TrainConfig, reinforce_gradient
from pg.algo.rollout import Batch, Roller
from pg.envs import CartPole

EPISODE = 0
"""the episode shown is episode 0 of the batch"""
ZERO_ADVANTAGE = 1e-9
"""an advantage within this fraction of the episode's largest return of 0 counts as 0 (rounding)"""
WARM_UP_STREAM = 9
"""draw_batch(seed=[seed, WARM_UP_STREAM]): the earlier batch a stateful baseline is fitted on"""


@dataclass(frozen=True)
class CreditAssignment:
    """One episode's credit and one update's effect on it (shapes in the module docstring)."""

    states: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    G: np.ndarray
    b: np.ndarray
    adv: np.ndarray
    weight: np.ndarray
    logp_before: np.ndarray
    logp_after: np.ndarray
    batch_lengths: np.ndarray  # (N,) steps of each episode of the batch (episode 0 is this one)
    params_before: np.ndarray  # (P,)
    params_after: np.ndarray  # (P,) after the trainer's step on the batch
    grad_norm: float  # of the batch's gradient estimate, before any clipping
    config: TrainConfig  # the run's config the batch and the update follow
    warmed: bool  # a stateful baseline was fitted on an earlier batch first

    @property
    def length(self) -> int:
        return len(self.actions)

    @property
    def p_before(self) -> np.ndarray:
        """(T,) pi(a_t|s_t) before the update."""
        return np.exp(self.logp_before)

    @property
    def p_after(self) -> np.ndarray:
        """(T,) pi(a_t|s_t) after the update."""
        return np.exp(self.logp_after)

    @property
    def delta_logp(self) -> np.ndarray:
        """(T,) log pi_new(a_t|s_t) - log pi_old(a_t|s_t): > 0 where the update made a_t likelier."""
        return self.logp_after - self.logp_before

    @property
    def adv_sign(self) -> np.ndarray:
        """(T,) +1, -1, or 0 where the advantage is 0 up to rounding (|adv| <= ZERO_ADVANTAGE
        times the largest |G| of the episode: e.g. every episode of the batch ran to the
        limit, so G_t equals its batch mean)."""
        tolerance = ZERO_ADVANTAGE * max(1.0, float(np.abs(self.G).max(initial=0.0)))
        return np.where(np.abs(self.adv) <= tolerance, 0, np.sign(self.adv)).astype(np.int64)

    @property
    def signed_steps(self) -> int:
        """Steps with a nonzero advantage: those the sign rule speaks about."""
        return int((self.adv_sign != 0).sum())

    @property
    def agrees(self) -> np.ndarray:
        """(T,) bool: the probability moved the way the advantage's sign says (up for > 0,
        down for < 0). A step whose advantage or change is 0 does not agree."""
        return np.sign(self.delta_logp) * self.adv_sign > 0

    @property
    def agree_count(self) -> int:
        """Steps whose probability moved with the sign of their advantage G_t - b_t."""
        return int(self.agrees.sum())

    @property
    def weight_agree_count(self) -> int:
        """Steps whose probability moved with the sign of their weight in the update (the
        advantage after normalisation, if the run normalises)."""
        return int((np.sign(self.delta_logp) * np.sign(self.weight) > 0).sum())

    @property
    def param_changes(self) -> tuple[float, float]:
        """The smallest and the largest |change| of one parameter in the update."""
        change = np.abs(self.params_after - self.params_before)
        return float(change.min()), float(change.max())


def config_of(run_config: dict | None) -> TrainConfig:
    """The TrainConfig a run was trained with; the defaults for a file that kept none."""
    return TrainConfig() if run_config is None else TrainConfig.from_dict(run_config)


def draw_batch(policy, cfg: TrainConfig, seed) -> Batch:
    """N = cfg.batch_episodes episodes of ``policy``, drawn as ``train(replace(cfg, seed=seed))``
    draws its first batch: SeedSequence(seed) spawns (parameters, start states, actions,
    evaluations), the roller is seeded with the second and the actions with the third.
    The returned Batch owns its arrays."""
    _, env_seed, action_seed, _ = np.random.SeedSequence(seed).spawn(4)
    roller = Roller(CartPole(cfg.batch_episodes, cfg.max_episode_steps), seed=env_seed)
    batch = roller.run(policy, np.random.default_rng(action_seed))
    return Batch(batch.obs.copy(), batch.actions.copy(), batch.rewards.copy(), batch.alive.copy())


def trainer_baseline(cfg: TrainConfig, seed: int, policy=None, warm: bool = False):
    """The baseline (or critic) ``train()`` builds for ``cfg``. With ``warm``, a stateful one
    (moving average, learned value) is first updated on one earlier batch of ``policy``, as
    the trainer's has been updated on the batches before a checkpoint; the batch-mean baseline
    and no baseline have no state, so ``warm`` changes nothing for them."""
    critic = cfg.advantage != "returns"
    name = "value" if critic else cfg.baseline
    baseline = make_baseline(name, 4, cfg.max_episode_steps, cfg.value_model, seed=seed)
    if warm and name in ("moving_average", "value"):
        earlier = draw_batch(policy, cfg, [int(seed), WARM_UP_STREAM])
        G, _, _ = advantages(cfg.advantage, earlier, cfg.gamma, baseline, cfg.returns, cfg.gae_lambda)
        baseline.update(earlier, G)
    return baseline


def trainer_step(policy, batch: Batch, cfg: TrainConfig, baseline):
    """The update ``train()`` makes on ``batch``, on a copy of ``policy`` with a fresh optimizer
    (a checkpoint keeps no optimizer state): reinforce_gradient, clip_grad_norm, optimizer.step.
    Returns (the new policy, the gradient's norm before clipping)."""
    grad, _, _ = reinforce_gradient(policy, batch, cfg.gamma, baseline, cfg.returns, cfg.normalize_advantages,
                                    cfg.entropy_coef, cfg.advantage, cfg.gae_lambda)
    grad, grad_norm = clip_grad_norm(grad, cfg.max_grad_norm)
    new = policy.copy()
    make_optimizer(cfg.optimizer, new.params.size, cfg.lr).step(new.params, grad)
    return new, grad_norm


def credit_assignment(policy, cfg: TrainConfig, seed: int, warm: bool = False) -> CreditAssignment:
    """Episode 0 of a batch of ``policy`` drawn with ``seed``, the trainer's weights on its steps,
    and how one trainer update on the whole batch moved log pi(a_t|s_t) at each of them.

    With a batch-mean baseline or none, the update is exactly the first update of
    ``train(replace(cfg, seed=seed), policy)`` (tests/lessons/test_credit.py compares the two).
    ``warm``: see ``trainer_baseline`` (a page passes it for a checkpoint after update 0).
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be an integer >= 0, got {seed!r}")
    cfg = replace(cfg, seed=int(seed))  # the value critic's initialisation follows the seed, as in train()
    baseline = trainer_baseline(cfg, int(seed), policy, warm)
    batch = draw_batch(policy, cfg, int(seed))
    # The weights on each step: the returns, the baseline and the advantage as training computes
    # them (advantages() is what reinforce_gradient calls), and the advantage after the batch's
    # normalisation, which is what the gradient multiplies.
    G, b, adv = advantages(cfg.advantage, batch, cfg.gamma, baseline, cfg.returns, cfg.gae_lambda)
    _, _, weight = reinforce_gradient(policy, batch, cfg.gamma, baseline, cfg.returns, cfg.normalize_advantages,
                                      cfg.entropy_coef, cfg.advantage, cfg.gae_lambda)
    new, grad_norm = trainer_step(policy, batch, cfg, baseline)

    alive = batch.alive[:, EPISODE]
    obs, actions = batch.obs[: len(alive)][alive, EPISODE], batch.actions[alive, EPISODE]
    return CreditAssignment(
        states=obs.copy(),
        actions=actions.astype(np.int64),
        rewards=batch.rewards[alive, EPISODE].copy(),
        G=G[alive, EPISODE].copy(),
        b=b[alive, EPISODE].copy(),
        adv=adv[alive, EPISODE].copy(),
        weight=weight[alive, EPISODE].copy(),
        logp_before=policy.log_prob(obs, actions),
        logp_after=new.log_prob(obs, actions),
        batch_lengths=batch.lengths.copy(),
        params_before=policy.params.copy(),
        params_after=new.params.copy(),
        grad_norm=grad_norm,
        config=cfg,
        warmed=warm and (cfg.advantage != "returns" or cfg.baseline in ("moving_average", "value")),
    )
