"""Advantage estimators: what multiplies grad log pi(a_t|s_t), as interchangeable parts.

    grad J ~= 1/N sum_n sum_t grad log pi(a_t|s_t) * adv_t

Every estimator below is one ``TrainConfig`` (``returns``, ``baseline``, ``advantage``,
``gae_lambda``), so ``train()`` runs each one unchanged. From the most variance to the least:

====================  ===========================================  ==============================
name                  adv_t                                        bias
====================  ===========================================  ==============================
reinforce             G_0, the whole discounted return             none (Williams, 1992)
rtg                   G_t = sum_{k>=t} gamma^(k-t) r_k              none: past rewards dropped
rtg-moving-average    G_t - b, b an average of past batches        none
rtg-batch-mean        G_t - mean of G_t over the other episodes    none (leave-one-out)
rtg-value             G_t - V(s_t), V fitted on past batches       none
td0                   delta_t = r_t + gamma V(s_{t+1}) - V(s_t)    as wrong as V: actor-critic
gae:LAMBDA            sum_k (gamma lambda)^k delta_{t+k}           lambda = 1 is rtg-value
====================  ===========================================  ==============================

TD(0) and GAE use a critic V(s_t, t / max_steps): the value baseline of pg.algo.baselines, fitted
after each batch on that batch's reward-to-go, so an estimate never meets a critic fitted to
its own episodes. GAE with lambda = 1 telescopes to G_t - V(s_t) (the unbiased rtg-value);
lambda = 0 is the one-step TD error; in between, lambda trades the critic's bias for the
sampled returns' variance. The time limit ends the return, as everywhere in pg (the critic
sees the time left, so the value of the state the limit cut off is 0); ``bootstrap`` lets a
caller treat it as a cut instead.

Shapes: (T, N) is time by episode, as in pg.algo.returns.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from pg.algo.returns import gae, reward_to_go, whole_episode_weights

ADVANTAGES = ("returns", "td0", "gae")
"""TrainConfig.advantage: "returns" (G_t or G_0 minus ``baseline``), "td0" or "gae\""""


# ---------------------------------------------------------------------------------------------
# The advantage of every step of a batch
# ---------------------------------------------------------------------------------------------
def critic_advantages(kind: str, batch, V: np.ndarray, gamma: float, lam: float = 0.95,
                      bootstrap: np.ndarray | None = None) -> np.ndarray:
    """(T, N) actor-critic advantages from the critic's values ``V`` (T, N) at the visited states.

    "td0": delta_t = r_t + gamma V(s_{t+1}) - V(s_t); "gae": sum_k (gamma lam)^k delta_{t+k}.
    V after an episode's last step is 0, or ``bootstrap[n]`` (N,) when given.
    """
    if kind not in ("td0", "gae"):
        raise ValueError(f"critic advantage must be one of td0, gae; got {kind!r}")
    return gae(batch.rewards, V, batch.alive, gamma, 0.0 if kind == "td0" else lam, bootstrap)


def advantages(kind: str, batch, gamma: float, baseline, returns: str = "reward_to_go", lam: float = 0.95,
               bootstrap: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(G, b, adv)``, each (T, N): the return weights, what is subtracted, the advantage.

    ``kind`` "returns": adv = G - b with G the reward-to-go (or the whole return, ``returns``
    = "episode") and b = ``baseline.values``. "td0" / "gae": ``baseline`` is the critic, G the
    reward-to-go it is fitted on, adv its TD / GAE estimate.

    This is the weight on grad log pi that training uses:
    pg.algo.reinforce.reinforce_gradient calls it (and then only normalises, if asked), so
    tests/algo/test_estimators.py tests the code that trains.
    """
    if kind not in ADVANTAGES:
        raise ValueError(f"advantage must be one of {', '.join(ADVANTAGES)}; got {kind!r}")
    # 1. The weight of each log-probability: the reward-to-go G_t (rewards before t cannot
    #    depend on a_t, so dropping them removes noise, not signal) or the whole return. A
    #    critic is always fitted on the reward-to-go.
    if returns == "reward_to_go" or kind != "returns":
        G = reward_to_go(batch.rewards, batch.alive, gamma)
    else:
        G = whole_episode_weights(batch.rewards, batch.alive, gamma)
    # 2. Subtract a baseline b(s_t). It does not depend on a_t, so E[grad log pi * b] = 0:
    #    no bias, less variance.
    b = baseline.values(batch, G)
    if kind == "returns":
        return G, b, G - b
    # 2'. Actor-critic: with b = V(s_t) a learned critic, replace the sampled G_t by
    #     r_t + gamma V(s_{t+1}) (TD(0)), or a (gamma lambda)-weighted mix of both (GAE):
    #     less variance, bought with the critic's bias.
    return G, b, critic_advantages(kind, batch, b, gamma, lam, bootstrap)


# ---------------------------------------------------------------------------------------------
# Named estimators: what the Compare page, the CLI and the benchmark pick from
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class EstimatorSpec:
    """One estimator by name: the TrainConfig fields that make it."""

    name: str
    """its short name, e.g. "rtg-value" or "gae:0.95" (what --estimators takes)"""
    label: str
    """how charts and tables name it"""
    returns: str = "reward_to_go"
    baseline: str = "none"
    advantage: str = "returns"
    gae_lambda: float = 0.95

    @property
    def overrides(self) -> dict:
        """The TrainConfig fields this estimator sets."""
        return {"returns": self.returns, "baseline": self.baseline, "advantage": self.advantage,
                "gae_lambda": self.gae_lambda}

    def config(self, base):
        """``base`` (a TrainConfig) with this estimator's fields."""
        return replace(base, **self.overrides)

    @property
    def uses_critic(self) -> bool:
        """True if it needs a learned value function (fitted before a probe)."""
        return self.baseline == "value" or self.advantage != "returns"


_FIXED = {
    "reinforce": EstimatorSpec("reinforce", "REINFORCE: whole return G₀", returns="episode"),
    "rtg": EstimatorSpec("rtg", "reward-to-go Gₜ"),
    "rtg-moving-average": EstimatorSpec("rtg-moving-average", "Gₜ − moving average", baseline="moving_average"),
    "rtg-batch-mean": EstimatorSpec("rtg-batch-mean", "Gₜ − batch mean", baseline="batch_mean"),
    "rtg-value": EstimatorSpec("rtg-value", "Gₜ − V(sₜ)", baseline="value"),
    "td0": EstimatorSpec("td0", "actor-critic TD(0)", baseline="value", advantage="td0", gae_lambda=0.0),
}
ESTIMATOR_NAMES = (*_FIXED, "gae:LAMBDA")
"""every name parse_estimator accepts ("gae:LAMBDA" with LAMBDA in [0, 1], e.g. gae:0.95)"""
DEFAULT_ESTIMATORS = ("reinforce", "rtg-batch-mean", "td0", "gae:0.95")


def gae_spec(lam: float) -> EstimatorSpec:
    """GAE(lambda) for lambda in [0, 1]."""
    if isinstance(lam, bool) or not isinstance(lam, (int, float, np.integer, np.floating)) \
            or not math.isfinite(lam) or not 0.0 <= lam <= 1.0:
        raise ValueError(f"GAE lambda must be a number in [0, 1], got {lam!r}")
    lam = float(lam)
    return EstimatorSpec(f"gae:{lam:g}", f"GAE λ = {lam:g}", baseline="value", advantage="gae", gae_lambda=lam)


def parse_estimator(text: str) -> EstimatorSpec:
    """An EstimatorSpec from its name ("rtg-value", "gae:0.9", "gae" = gae:0.95); ValueError
    naming the choices otherwise."""
    name = str(text).strip().lower()
    if name in _FIXED:
        return _FIXED[name]
    if name == "gae" or name.startswith("gae:"):
        number = name.partition(":")[2] or "0.95"
        try:
            lam = float(number)
        except ValueError:
            raise ValueError(f"GAE lambda must be a number in [0, 1], got {number!r} (as in gae:0.95)") from None
        return gae_spec(lam)
    raise ValueError(f"estimator must be one of {', '.join(ESTIMATOR_NAMES)}; got {text!r}")


def parse_estimators(text: str) -> list[EstimatorSpec]:
    """A comma-separated list of names, without repeats (ValueError names the bad one)."""
    specs = [parse_estimator(part) for part in str(text).split(",") if part.strip()]
    if not specs:
        raise ValueError("give at least one estimator, e.g. reinforce,rtg-batch-mean,td0,gae:0.95")
    names = [s.name for s in specs]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ValueError(f"estimator {repeated[0]} is listed twice")
    return specs
