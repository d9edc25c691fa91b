"""REINFORCE on CartPole, read top to bottom: config, rollout, returns, baseline, gradient, step.

    grad J(theta) ~= 1/N sum_n sum_t grad log pi_theta(a_t|s_t) * (G_t - b_t)

``train(cfg)`` is a generator: it yields one ``Update`` per gradient step, so a caller (the
live page, the CLI, a notebook) can draw, pause, step or stop between any two updates. Given a
``pause`` hook it can also be suspended inside an update, between two time steps.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Generator, Iterator
from dataclasses import asdict, dataclass, field, fields

import numpy as np

from pg.algo.baselines import BASELINES, VALUE_MODELS, make_baseline, normalize_advantages
from pg.algo.estimators import ADVANTAGES, advantages
from pg.algo.optim import OPTIMIZERS, clip_grad_norm, make_optimizer
from pg.algo.policies import POLICY_KINDS, SoftmaxPolicy, make_policy
from pg.algo.rollout import Batch, Roller, StepBudget, to_end
from pg.envs import CartPole
from pg.envs.cartpole import V0_MAX_STEPS, V1_MAX_STEPS

RETURN_KINDS = ("reward_to_go", "episode")
CARTPOLE_V1_SOLVED = 475.0  # greedy mean over 100 episodes, CartPole-v1's rule
CARTPOLE_V0_SOLVED = 195.0  # the "195" of older tutorials: CartPole-v0 (200-step episodes)
MOVING_AVERAGE_EPISODES = 100  # the CartPole convention: average over 100 consecutive episodes


def default_solve_return(max_episode_steps: int) -> float:
    """The solve bar for a time limit: 475 for CartPole-v1 (500 steps), 195 for CartPole-v0
    (200 steps), 95% of the limit for any other (the ratio of v1's bar to its limit).

    TrainConfig(solve_return=None) uses it; a caller deciding whether a config's bar is the
    default for its time limit compares with it (not with 475 or 195 alone).
    """
    bars = {V1_MAX_STEPS: CARTPOLE_V1_SOLVED, V0_MAX_STEPS: CARTPOLE_V0_SOLVED}
    return bars.get(max_episode_steps, 0.95 * max_episode_steps)


class ConfigError(ValueError):
    """A TrainConfig field refuses a value. The message is one sentence a person can act on,
    "<field> must be <what is allowed>, got <value>"; a caller that needs to point at the
    field (a form, the URL state) reads the attributes instead of parsing the message.

    Attributes:
        field: the TrainConfig field at fault, e.g. "lr".
        value: the value it was given, as given.
    """

    def __init__(self, field: str, value, message: str):
        super().__init__(message)
        self.field, self.value = field, value

    def __reduce__(self):  # keep the attributes through pickling (e.g. to another process)
        return type(self), (self.field, self.value, str(self))


class TrainingDiverged(RuntimeError):
    """The run produced NaN or inf. ``policy`` is the last policy whose numbers were finite."""

    def __init__(self, reason: str, policy: SoftmaxPolicy, iteration: int):
        super().__init__(f"training diverged at update {iteration}: {reason}")
        self.reason, self.policy, self.iteration = reason, policy, iteration


# ---------------------------------------------------------------------------------------------
# Config
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TrainConfig:
    """Everything that defines a run. Validated on construction; the same config and seed
    give the same run, bit for bit."""

    policy: str = "linear"
    """policy: "linear" softmax (the classic posts' policy) or "mlp" (tanh hidden layers)"""
    hidden: tuple[int, ...] = (32,)
    """hidden layer sizes of the MLP policy"""
    optimizer: str = "adam"
    """"adam" or "sgd" (plain gradient ascent)"""
    lr: float = 0.2
    """learning rate (step size)"""
    batch_episodes: int = 16
    """episodes per gradient step (N)"""
    gamma: float = 0.99
    """discount factor"""
    returns: str = "reward_to_go"
    """weight of grad log pi(a_t|s_t): "reward_to_go" G_t or the whole "episode" return"""
    baseline: str = "batch_mean"
    """"none", "moving_average" (the classic posts'), "batch_mean" (per step, leave-one-out), "value\""""
    value_model: str = "linear"
    """model of the learned value baseline: "linear" or "mlp\""""
    advantage: str = "returns"
    """"returns" (that weight minus the baseline), or actor-critic from a learned V(s) (value_model; returns and baseline unused): "td0" or "gae\""""
    gae_lambda: float = 0.95
    """GAE's lambda (advantage "gae"): 1 is reward-to-go minus V, 0 is TD(0)"""
    normalize_advantages: bool = True
    """rescale the advantages to mean 0, std 1 in each batch"""
    max_grad_norm: float | None = None
    """clip the gradient to this norm (None: no clipping)"""
    entropy_coef: float = 0.0
    """weight of an entropy bonus added to the objective"""
    max_episode_steps: int = 500
    """episode time limit: 500 is CartPole-v1, 200 is CartPole-v0"""
    eval_every: int = 1
    """run the greedy evaluation every this many updates"""
    eval_episodes: int = 100
    """greedy episodes per evaluation (the CartPole-v1 rule uses 100)"""
    solve_return: float | None = None
    """greedy mean return that counts as solved (None: 475 for v1, 195 for v0). The solve rule:
    an evaluation (``eval_episodes`` greedy episodes from fresh start states) reaches this mean,
    and a second one on as many fresh start states, run at once, confirms it. One evaluation
    alone picks lucky draws: over many updates a policy whose true mean sits just under the
    bar passes now and then (a selection effect); the confirmation costs one more evaluation
    on the updates that pass, nothing on the others"""
    eval_early_stop: bool = True
    """stop an evaluation once the solve bar is out of reach (its mean is then not reported)"""
    stop_on_solve: bool = True
    """end the run on the update that solves"""
    max_updates: int = 1000
    """budget: gradient steps"""
    max_env_steps: int = 2_000_000
    """budget: environment steps (training episodes only)"""
    max_seconds: float = 60.0
    """budget: wall-clock seconds"""
    seed: int = 0
    """seeds everything: initial parameters, start states, sampled actions, evaluations"""

    def __post_init__(self):
        _choice(self, "policy", POLICY_KINDS)
        _choice(self, "optimizer", OPTIMIZERS)
        _choice(self, "returns", RETURN_KINDS)
        _choice(self, "baseline", BASELINES)
        _choice(self, "value_model", VALUE_MODELS)
        _choice(self, "advantage", ADVANTAGES)
        hidden = self.hidden
        if isinstance(hidden, (int, np.integer)) and not isinstance(hidden, bool):
            hidden = (hidden,)
        if (
            not isinstance(hidden, (tuple, list))
            or not 1 <= len(hidden) <= 4
            or not all(_is_int(h) and 1 <= h <= 512 for h in hidden)
        ):
            raise ConfigError("hidden", self.hidden,
                              f"hidden must be 1 to 4 layer sizes, each an integer in [1, 512], got {self.hidden!r}")
        object.__setattr__(self, "hidden", tuple(int(h) for h in hidden))
        _number(self, "lr", 0.0, 10.0, low_open=True)
        _integer(self, "batch_episodes", 1, 4096)
        _number(self, "gamma", 0.0, 1.0)
        _number(self, "gae_lambda", 0.0, 1.0)
        _bool(self, "normalize_advantages")
        if self.max_grad_norm is not None:
            _number(self, "max_grad_norm", 0.0, 1e6, low_open=True)
        _number(self, "entropy_coef", 0.0, 1.0)
        _integer(self, "max_episode_steps", 1, 100_000)
        _integer(self, "eval_every", 1, 1_000_000)
        _integer(self, "eval_episodes", 1, 10_000)
        if self.solve_return is None:
            object.__setattr__(self, "solve_return", default_solve_return(self.max_episode_steps))
        _number(self, "solve_return", 0.0, float(self.max_episode_steps), low_open=True)
        _bool(self, "eval_early_stop")
        _bool(self, "stop_on_solve")
        _integer(self, "max_updates", 1, 10_000_000)
        _integer(self, "max_env_steps", 1, 10**10)
        _number(self, "max_seconds", 0.0, 86_400.0, low_open=True)
        _integer(self, "seed", 0, 2**32 - 1)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["hidden"] = list(self.hidden)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> TrainConfig:
        """Build from a dict (e.g. JSON); unknown keys are an error that names them."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown TrainConfig field(s): {', '.join(map(str, unknown))}")
        d = dict(d)
        if isinstance(d.get("hidden"), list):
            d["hidden"] = tuple(d["hidden"])
        return cls(**d)


def _is_int(v) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)


def _choice(cfg, name, allowed):
    value = getattr(cfg, name)
    if value not in allowed:
        raise ConfigError(name, value, f"{name} must be one of {', '.join(allowed)}; got {value!r}")


def _bool(cfg, name):
    value = getattr(cfg, name)
    if not isinstance(value, (bool, np.bool_)):
        raise ConfigError(name, value, f"{name} must be True or False, got {value!r}")
    object.__setattr__(cfg, name, bool(value))


def _integer(cfg, name, low, high):
    value = getattr(cfg, name)
    if not _is_int(value) or not low <= value <= high:
        raise ConfigError(name, value, f"{name} must be an integer in [{low}, {high}], got {value!r}")
    object.__setattr__(cfg, name, int(value))


def _number(cfg, name, low, high, low_open=False):
    value = getattr(cfg, name)
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    ok = ok and math.isfinite(value) and (low < value if low_open else low <= value) and value <= high
    if not ok:
        bracket = "(" if low_open else "["
        raise ConfigError(name, value, f"{name} must be a number in {bracket}{low:g}, {high:g}], got {value!r}")
    object.__setattr__(cfg, name, float(value))


# ---------------------------------------------------------------------------------------------
# One update's worth of results
# ---------------------------------------------------------------------------------------------
@dataclass
class Update:
    iteration: int
    """1 for the first gradient step"""
    episode_returns: np.ndarray
    """(N,) undiscounted returns of the batch's episodes"""
    episode_lengths: np.ndarray
    """(N,) steps of the batch's episodes"""
    grad_norm: float
    """norm of the gradient estimate, before clipping"""
    entropy: float
    """mean policy entropy over the visited states, in nats"""
    baseline_value: float
    """mean baseline over the visited states (what was subtracted)"""
    loss: float
    """the surrogate -1/N sum logp * adv whose gradient is minus the estimate"""
    policy: SoftmaxPolicy
    """a copy of the policy after this step"""
    wall_time: float
    """seconds train() has spent computing so far (time paused at a yield does not count)"""
    env_steps: int
    """cumulative training environment steps"""
    eval_return: float | None = None
    """greedy mean return, on updates with a completed evaluation"""
    eval_upper_bound: float | None = None
    """on an evaluation cut short: the best mean it could still have reached"""
    confirm_return: float | None = None
    """on an update whose evaluation passed: the greedy mean of the confirming evaluation
    (as many fresh episodes), if it completed"""
    confirm_upper_bound: float | None = None
    """on a confirming evaluation cut short: the best mean it could still have reached"""
    solved: bool = False
    """True on the update that met the solve rule (an evaluation passed and was confirmed)"""
    stop_reason: str | None = None
    """on the last update: "solved", "max_updates", "max_env_steps" or "max_seconds\""""
    eval_returns: np.ndarray | None = field(default=None, repr=False)
    """(eval_episodes,) the greedy returns, on updates with a completed evaluation"""

    @property
    def mean_return(self) -> float:
        return float(self.episode_returns.mean())


# ---------------------------------------------------------------------------------------------
# The estimator
# ---------------------------------------------------------------------------------------------
def reinforce_gradient(policy, batch: Batch, gamma: float, baseline, returns="reward_to_go",
                       normalize=False, entropy_coef=0.0, advantage="returns", gae_lambda=0.95):
    """The REINFORCE estimate of grad J from one batch of N episodes.

    Returns ``(grad, G, adv)``: the (P,) gradient and the (T, N) returns and advantages.
    ``adv`` is pg.algo.estimators.advantages' (normalised if ``normalize``); ``advantage``
    "td0" or "gae" makes it actor-critic: ``baseline`` is then the learned critic V, and G the
    reward-to-go it learns from.
    """
    alive, n_episodes = batch.alive, batch.alive.shape[1]
    # 1-2. The weight of each log-probability: the return G_t (or G_0) minus a baseline
    #      b(s_t), or a critic's TD / GAE estimate (pg.algo.estimators.advantages, steps 1, 2, 2').
    G, _, adv = advantages(advantage, batch, gamma, baseline, returns, gae_lambda)
    if normalize:
        adv = normalize_advantages(adv, alive)
    # 3. grad J ~= 1/N sum_n sum_t grad log pi(a_t | s_t) * adv_t
    obs, actions = batch.obs[alive], batch.actions[alive]
    grad = policy.grad_log_prob(obs, actions, adv[alive]) / n_episodes
    if entropy_coef:
        grad += entropy_coef * policy.grad_entropy(obs) / n_episodes
    return grad, G, adv


def surrogate_loss(policy, batch: Batch, adv: np.ndarray) -> float:
    """-1/N sum logp * adv: a number with no meaning of its own whose gradient (with adv
    held fixed) is minus the REINFORCE estimate. Autodiff code minimises it."""
    alive = batch.alive
    logp = policy.log_prob(batch.obs[alive], batch.actions[alive])
    return float(-(logp * adv[alive]).sum() / alive.shape[1])


# ---------------------------------------------------------------------------------------------
# Evaluation
# ---------------------------------------------------------------------------------------------
class Evaluator:
    """Greedy episodes on a dedicated batch of environments (fresh start states each call)."""

    def __init__(self, episodes: int, max_steps: int, seed):
        self.roller = Roller(CartPole(episodes, max_steps), seed=seed)

    def __call__(self, policy, stop_below: float | None = None):
        """Returns ``(returns, None)`` if every episode finished, else ``(None, upper_bound)``
        when the run was cut short because the mean could no longer reach ``stop_below``."""
        return to_end(self.evaluation(policy, stop_below))

    def evaluation(self, policy, stop_below: float | None = None, pause: Callable[[], bool] | None = None):
        """``__call__`` as a generator that yields None wherever ``pause()`` is True (between
        time steps, pg.algo.rollout.Roller.rollout) and returns its result."""
        batch = yield from self.roller.rollout(policy, greedy=True, stop_below=stop_below, pause=pause)
        still_alive = self.roller.env.alive
        returns = batch.episode_returns.copy()
        if still_alive.any():
            T = self.roller.env.max_steps
            upper = returns + still_alive * (T - len(batch.alive))
            return None, float(upper.mean())
        return returns, None


def evaluate(policy, episodes: int = 100, seed: int = 0, max_steps: int = 500) -> np.ndarray:
    """(episodes,) greedy returns of ``policy`` on CartPole (v1 by default)."""
    check_policy(policy)
    for name, value in (("episodes", episodes), ("max_steps", max_steps)):
        if not _is_int(value) or value < 1:
            raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    returns, _ = Evaluator(int(episodes), int(max_steps), seed)(policy)
    return returns


def check_policy(policy, name: str = "policy") -> None:
    """Refuse, in words, what cannot act in CartPole: anything but a SoftmaxPolicy (a bare
    parameter vector included) or one whose sizes are not CartPole's (4 observations, 2 actions)."""
    if not isinstance(policy, SoftmaxPolicy):
        hint = " (a parameter vector: wrap it with make_policy(...).with_params(params))" \
            if isinstance(policy, np.ndarray) else ""
        raise TypeError(f"{name} must be a policy from pg.make_policy or pg.load_policy, "
                        f"got {type(policy).__module__}.{type(policy).__qualname__}{hint}")
    if (policy.obs_dim, policy.n_actions) != (4, 2):
        raise ValueError(f"{name} must take CartPole's 4 observations and choose between its 2 actions, "
                         f"got a policy of {policy.obs_dim} observations and {policy.n_actions} actions")


# ---------------------------------------------------------------------------------------------
# Training
# ---------------------------------------------------------------------------------------------
def _pause_point(pause):
    """A place where train() may be paused (a generator that yields once if ``pause()``)."""
    if pause is not None and pause():
        yield


def _seeds(cfg: TrainConfig):
    """Independent streams: initial parameters, start states, sampled actions, evaluations."""
    return np.random.SeedSequence(cfg.seed).spawn(4)


def initial_policy(cfg: TrainConfig) -> SoftmaxPolicy:
    """The policy a run with ``cfg`` starts from (update 0): the "untrained" agent."""
    return make_policy(cfg.policy, hidden=cfg.hidden, seed=np.random.default_rng(_seeds(cfg)[0]))


def train(cfg: TrainConfig, policy: SoftmaxPolicy | None = None, *, pause: Callable[[], bool] | None = None,
          budget: StepBudget | None = None) -> Iterator[Update]:
    """Yield one Update per gradient step until solved or out of budget.

    Raises TrainingDiverged (with the last finite policy) instead of producing NaN.

    Two options serve a caller that shares its time and budget between runs (pg.runs.live):

    * ``pause``: a callable asked between any two time steps of a rollout or an evaluation
      and between the steps of an update. Where it returns True the generator yields None
      (not an Update), and the next ``next()`` goes on exactly there: a run paused any number
      of times gives the numbers of one never paused. Time paused does not count as training.
    * ``budget``: a pg.algo.rollout.StepBudget of training env steps, perhaps shared with
      other runs. Once it is spent the run ends (StopIteration) before the next time step,
      with no Update for the batch it cut short.
    """
    if not isinstance(cfg, TrainConfig):
        raise TypeError(f"cfg must be a TrainConfig, got {type(cfg).__qualname__}")
    if policy is not None:
        check_policy(policy)
    return _train(cfg, policy, pause, budget)


def _train(cfg: TrainConfig, policy: SoftmaxPolicy | None, pause, budget) -> Generator[Update | None, None, None]:
    clock = time.perf_counter()  # the clock stops while the caller holds an Update (or is paused)
    elapsed = 0.0

    def paused(steps: Generator):
        """Run ``steps`` (a generator of pg.algo that yields where it pauses) to its value,
        yielding where it yields, with the clock stopped while paused."""
        nonlocal clock, elapsed
        while True:
            try:
                next(steps)
            except StopIteration as end:
                return end.value
            elapsed += time.perf_counter() - clock
            yield None
            clock = time.perf_counter()

    _, env_seed, action_seed, eval_seed = _seeds(cfg)
    policy = initial_policy(cfg) if policy is None else policy.copy()
    roller = Roller(CartPole(cfg.batch_episodes, cfg.max_episode_steps), seed=env_seed)
    action_rng = np.random.default_rng(action_seed)
    evaluator = Evaluator(cfg.eval_episodes, cfg.max_episode_steps, eval_seed)
    critic = cfg.advantage != "returns"  # td0 / gae learn V(s) as the value baseline does
    baseline = make_baseline("value" if critic else cfg.baseline, 4, cfg.max_episode_steps, cfg.value_model,
                             seed=cfg.seed)
    optimizer = make_optimizer(cfg.optimizer, policy.params.size, cfg.lr)
    env_steps = 0

    for iteration in range(1, cfg.max_updates + 1):
        # --- algorithm: collect N episodes with the current policy, estimate, step -------
        batch = yield from paused(roller.rollout(policy, action_rng, pause=pause, budget=budget))
        if batch is None:  # the budget ran out in the middle of the batch
            return
        yield from paused(_pause_point(pause))
        grad, G, adv = reinforce_gradient(
            policy, batch, cfg.gamma, baseline, cfg.returns, cfg.normalize_advantages, cfg.entropy_coef,
            cfg.advantage, cfg.gae_lambda,
        )
        loss = surrogate_loss(policy, batch, adv)
        if not (np.isfinite(grad).all() and math.isfinite(loss)):
            raise TrainingDiverged("the gradient or the loss is not finite", policy.copy(), iteration)
        grad, grad_norm = clip_grad_norm(grad, cfg.max_grad_norm)
        last_good = policy.params.copy()
        optimizer.step(policy.params, grad)
        if not np.isfinite(policy.params).all():
            raise TrainingDiverged("a parameter is not finite", policy.with_params(last_good), iteration)
        baseline_value = baseline.summary
        baseline.update(batch, G)

        # --- bookkeeping: statistics, evaluation, stopping rules -------------------------
        env_steps += batch.env_steps
        entropy = float(policy.with_params(last_good).entropy(batch.obs[batch.alive]).mean())
        update = Update(
            iteration=iteration,
            episode_returns=batch.episode_returns.copy(),
            episode_lengths=batch.lengths.copy(),
            grad_norm=grad_norm,
            entropy=entropy,
            baseline_value=baseline_value,
            loss=loss,
            policy=policy.copy(),
            wall_time=0.0,
            env_steps=env_steps,
        )
        if iteration % cfg.eval_every == 0:
            stop_below = cfg.solve_return if cfg.eval_early_stop else None
            eval_returns, upper = yield from paused(evaluator.evaluation(policy, stop_below, pause))
            if eval_returns is not None:
                update.eval_returns = eval_returns
                update.eval_return = float(eval_returns.mean())
                if update.eval_return >= cfg.solve_return:  # a pass: confirmed on fresh start states
                    confirm, upper = yield from paused(evaluator.evaluation(policy, stop_below, pause))
                    update.confirm_return = None if confirm is None else float(confirm.mean())
                    update.confirm_upper_bound = upper
                    update.solved = confirm is not None and update.confirm_return >= cfg.solve_return
            else:
                update.eval_upper_bound = upper
        elapsed += time.perf_counter() - clock
        update.wall_time = elapsed
        if update.solved and cfg.stop_on_solve:
            update.stop_reason = "solved"
        elif iteration == cfg.max_updates:
            update.stop_reason = "max_updates"
        elif env_steps >= cfg.max_env_steps:
            update.stop_reason = "max_env_steps"
        elif update.wall_time >= cfg.max_seconds:
            update.stop_reason = "max_seconds"
        yield update
        clock = time.perf_counter()
        if update.stop_reason:
            return
