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


# ---------------------------------------------------------------------------------------------
# The page's sentences, from the numbers it shows
# ---------------------------------------------------------------------------------------------
BASELINES = {"none": "none", "moving_average": "a moving average of earlier returns",
             "batch_mean": "the mean Gₜ of the batch's other episodes", "value": "a learned V(sₜ)"}


def describe(cfg: TrainConfig) -> str:
    """The run's settings that shape the weights and the update, in words."""
    if cfg.advantage == "returns":
        weight = (f"Gₜ − bₜ with bₜ {BASELINES[cfg.baseline]}"
                  + (" (here Gₜ is the whole episode's return G₀ at every step)" if cfg.returns == "episode" else ""))
    else:
        weight = f"the learned critic's {'TD(0)' if cfg.advantage == 'td0' else f'GAE(λ = {cfg.gae_lambda:g})'} estimate"
    return (f"γ = {cfg.gamma:g}; advantage {weight}; "
            f"{'normalised over the batch; ' if cfg.normalize_advantages else ''}"
            f"{'Adam' if cfg.optimizer == 'adam' else 'plain gradient ascent'} with learning rate {cfg.lr:g}; "
            f"{cfg.batch_episodes} episodes per update")


def summary(credit: CreditAssignment, cfg: TrainConfig) -> str:
    """The sentence over the step slider: the episode's advantages by sign, and how many steps
    moved the way their advantage's sign says after the update (Markdown)."""
    signs = credit.adv_sign
    n_up, n_down = int((signs > 0).sum()), int((signs < 0).sum())
    sentence = (
        f"The first episode of a batch of {cfg.batch_episodes} lasted **{credit.length} steps**: "
        f"{n_up} with a positive advantage, {n_down} with a negative one"
        + (f", {credit.length - n_up - n_down} with an advantage of 0 (up to rounding)"
           if n_up + n_down < credit.length else "")
        + ". "
    )
    if not credit.signed_steps:
        sentence += "With no advantage to follow, the sign rule has nothing to say here"
        sentence += (f"; yet Adam's first step is sized by the learning rate, not by the gradient, so the update still "
                     f"moved log π(aₜ|sₜ) by up to {np.abs(credit.delta_logp).max():.3g}." if cfg.optimizer == "adam"
                     else ".")
    else:
        sentence += (
            f"After one update on the whole batch, π(aₜ|sₜ) moved the way the sign of its advantage says "
            f"(up for +, down for −) at **{credit.agree_count} of {credit.signed_steps} steps** "
            f"({credit.agree_count / credit.signed_steps:.0%})."
        )
    return sentence


def why_not_every_step(credit: CreditAssignment, cfg: TrainConfig) -> str:
    """Why one update does not move every step's probability with its advantage's sign: the
    reasons that hold for this run (batch, normalisation, Adam), with their measured numbers."""
    signs = credit.adv_sign
    reasons = [f"the update is one step for the whole batch: {int(credit.batch_lengths.sum())} steps of "
               f"{len(credit.batch_lengths)} episodes pull on the same {credit.params_before.size} parameters"]
    if cfg.normalize_advantages and credit.signed_steps:
        flipped = int((np.sign(credit.weight) * signs < 0).sum())
        if flipped:
            reasons.append(f"normalisation subtracts the batch's mean advantage, which flips the sign of the weight at "
                           f"{flipped} of this episode's steps (against the normalised weight's sign, "
                           f"{credit.weight_agree_count} steps moved as the rule says)")
    if cfg.optimizer == "adam":
        reasons.append(f"Adam starts afresh here (a checkpoint keeps no optimizer state), and its first step moves "
                       f"every parameter by about the learning rate {cfg.lr:g} (measured: by {credit.param_changes[0]:.3f} "
                       f"to {credit.param_changes[1]:.3f})")
    return ("Why not every step: alone, a step's own term in the gradient (its weight times ∇log π(aₜ|sₜ)) would "
           "move its probability the way its weight's sign says, to first order; but " + "; ".join(reasons)
           + ". So at a given step the other terms can outweigh its own.")
