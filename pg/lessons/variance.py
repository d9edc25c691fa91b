"""The gradient-variance probe: many independent estimates at one fixed policy, per estimator.

Training moves the policy, so a learning curve mixes how noisy an estimator is with where it
has led the policy. The probe holds the policy still: it draws ``n_estimates`` independent
batches of ``episodes`` episodes from that one policy and computes every estimator's gradient
on each batch (the same batches for every estimator, so their differences are not sampling
luck), with pg.algo.reinforce.reinforce_gradient, the code that trains. Then, per estimator,
pg.lessons.stats.estimate_statistics (imported here, so ``from pg.lessons.variance import
estimate_statistics`` works too) summarises the estimates: mean (P,), variance (trace of the
covariance of one estimate), relative_variance (variance / ||mean||^2), cosine_mean and cosine_std
(the cosine between one estimate and the mean of the others). On pg.lessons.theory's problems
(``problem=``) the exact gradient is known, and each row also has ``bias_sq``, ``mse``,
``cosine_exact`` and ``exact_norm``; the table of them all is in pg.lessons.stats. There,
``expected_estimate`` also gives an estimator's exact expectation for a fixed critic, so its bias
is known exactly.

Baselines and critics that learn (moving average, value, and the critic of TD(0) / GAE) are
first fitted on ``fit_episodes`` independent episodes of the same policy, then held fixed, so
no estimate meets a baseline fitted to its own episodes.
"""

from __future__ import annotations

import time

import numpy as np

from pg.algo.baselines import BatchMean, MLPValue, make_baseline
from pg.algo.estimators import EstimatorSpec, advantages, parse_estimator
from pg.algo.reinforce import reinforce_gradient
from pg.algo.returns import reward_to_go
from pg.algo.rollout import Roller
from pg.envs import CartPole
from pg.lessons.stats import estimate_statistics
from pg.lessons.theory import exact_gradient

MLP_FIT_ROUNDS = 10  # an MLP critic takes 20 Adam steps per fit: 200 in all, as over a run's batches
MLP_FIT_STATES = 2048  # ... on at most this many of the fit episodes' states (the cost grows fast)


class GradientProbe:
    """The probe, runnable in steps (one batch, every estimator, per ``step``)."""

    def __init__(self, policy, estimators, n_estimates: int = 32, episodes: int = 16, seed: int = 0,
                 problem=None, gamma: float = 0.99, max_steps: int = 500, fit_episodes: int = 64,
                 value_model: str = "linear", normalize: bool = False):
        if not 2 <= n_estimates <= 100_000:
            raise ValueError(f"n_estimates must be an integer in [2, 100000], got {n_estimates!r}")
        if not 1 <= episodes <= 4096:
            raise ValueError(f"episodes must be an integer in [1, 4096], got {episodes!r}")
        self.policy = policy.copy()
        self.specs = [s if isinstance(s, EstimatorSpec) else parse_estimator(s) for s in estimators]
        self.n_estimates, self.episodes, self.gamma, self.normalize = n_estimates, episodes, gamma, normalize
        self.problem = problem
        fit_seed, env_seed, action_seed = np.random.SeedSequence(seed).spawn(3)
        if problem is None:
            self._roller = Roller(CartPole(episodes, max_steps), seed=env_seed)
            obs_dim, horizon = 4, max_steps
        else:
            obs_dim, horizon = problem.obs_dim, problem.horizon
        self._rng = np.random.default_rng(action_seed)
        self.baselines = [
            make_baseline("value" if s.uses_critic else s.baseline, obs_dim, horizon, value_model, seed=seed)
            for s in self.specs
        ]
        self._fit(fit_episodes, fit_seed, max_steps)
        self.estimates = np.zeros((len(self.specs), n_estimates, policy.params.size))
        self.returns = np.zeros((n_estimates, episodes))
        self.n = 0
        self.seconds = 0.0

    def _sample(self, roller, rng, n_episodes):
        if self.problem is not None:
            return self.problem.sample(self.policy, n_episodes, rng)
        return roller.run(self.policy, rng)

    def _fit(self, fit_episodes: int, seed, max_steps: int) -> None:
        """Fit every learning baseline on the same independent episodes, then hold it fixed."""
        if not any(s.baseline in ("moving_average", "value") or s.uses_critic for s in self.specs):
            return
        env_seed, action_seed, subset_seed = seed.spawn(3)
        roller = None if self.problem is not None else Roller(CartPole(fit_episodes, max_steps), seed=env_seed)
        batch = self._sample(roller, np.random.default_rng(action_seed), fit_episodes)
        G = reward_to_go(batch.rewards, batch.alive, self.gamma)
        for baseline in self.baselines:
            if isinstance(getattr(baseline, "model", None), MLPValue):
                baseline.fit_fixed(batch, G, MLP_FIT_ROUNDS, MLP_FIT_STATES, subset_seed)
            else:
                baseline.update(batch, G)

    @property
    def done(self) -> bool:
        return self.n >= self.n_estimates

    def step(self) -> None:
        """One more batch: one more estimate of every estimator."""
        if self.done:
            return
        start = time.perf_counter()
        batch = self._sample(getattr(self, "_roller", None), self._rng, self.episodes)
        self.returns[self.n] = batch.episode_returns
        for k, (spec, baseline) in enumerate(zip(self.specs, self.baselines)):
            self.estimates[k, self.n] = reinforce_gradient(
                self.policy, batch, self.gamma, baseline, spec.returns, self.normalize,
                advantage=spec.advantage, gae_lambda=spec.gae_lambda,
            )[0]
        self.n += 1
        self.seconds += time.perf_counter() - start

    def run(self, seconds: float | None = None) -> bool:
        """Step until done (or about ``seconds``, at least one step). Returns ``done``."""
        deadline = None if seconds is None else time.perf_counter() + seconds
        while not self.done:
            self.step()
            if deadline is not None and time.perf_counter() >= deadline:
                break
        return self.done

    def results(self) -> dict[str, dict]:
        """{estimator name: statistics} over the estimates drawn so far (at least 2): the
        estimator's label, EstimateStatistics.as_dict(), ``episodes`` per estimate and the
        ``mean_return`` of the episodes drawn."""
        if self.n < 2:
            raise ValueError(f"the probe needs at least 2 estimates, has {self.n}")
        exact = None if self.problem is None else exact_gradient(self.problem, self.policy, self.gamma)
        out = {}
        for spec, estimates in zip(self.specs, self.estimates[:, : self.n]):
            out[spec.name] = {"label": spec.label, **estimate_statistics(estimates, exact).as_dict(),
                              "episodes": self.episodes, "mean_return": float(self.returns[: self.n].mean())}
        return out


def expected_estimate(problem, policy, estimator, baseline, gamma: float = 1.0) -> np.ndarray:
    """(P,) E[g], the exact expectation of a one-episode estimate with a *fixed* ``baseline``
    (or critic) on a pg.lessons.theory problem: sum over every trajectory of P(tau) g(tau), rewards at
    their means (every estimator is linear in the rewards, and the noise has mean 0).

    Minus exact_gradient, it is the estimator's bias, exactly: 0 for the "returns" kinds and
    for GAE(1) whatever the critic; for TD(0) and GAE(lambda < 1), 0 only with the true V.
    (Not for the batch mean, which depends on the other episodes of a batch.)
    """
    spec = estimator if isinstance(estimator, EstimatorSpec) else parse_estimator(estimator)
    if isinstance(baseline, BatchMean):
        raise ValueError("expected_estimate needs a baseline of the state alone; the batch mean depends on the "
                         "other episodes of a batch")
    traj = problem.trajectories(policy)
    b = traj.batch
    batch = type(b)(b.obs, b.actions, traj.mean_reward, b.alive)
    adv = advantages(spec.advantage, batch, gamma, baseline, spec.returns, spec.gae_lambda)[2]
    weighted = adv * traj.prob[None, :]  # each trajectory's estimate, weighted by its probability
    return policy.grad_log_prob(b.obs[b.alive], b.actions[b.alive], weighted[b.alive])


def gradient_probe(policy, estimator_specs, n_estimates: int = 32, episodes: int = 16, seed: int = 0,
                   max_steps: int = 500, fit_episodes: int = 64, problem=None, gamma: float = 0.99,
                   value_model: str = "linear", normalize: bool = False) -> dict[str, dict]:
    """Run the whole probe at ``policy`` (on CartPole, or on a pg.lessons.theory ``problem``).

    ``estimator_specs``: EstimatorSpecs or names ("reinforce", "gae:0.9", ...). Returns
    {name: statistics} (see the module docstring); deterministic for a given seed.
    """
    probe = GradientProbe(policy, estimator_specs, n_estimates, episodes, seed, problem, gamma, max_steps,
                          fit_episodes, value_model, normalize)
    probe.run()
    return probe.results()
