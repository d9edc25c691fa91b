"""Mean or sum, SGD or Adam: what rescaling the gradient by a constant c does to the update.

Writing the loss as a mean over all steps instead of a sum over episodes / N multiplies the
gradient by c = N / sum_n T_n (pg.lessons.derivation.mean_vs_sum_check). With SGD the update
lr * g scales by c: the same as a c times smaller learning rate. Adam divides the running mean
of the gradients by the root of the running mean of their squares; feeding it c * g multiplies
m by c and v by c^2 (exactly, up to floating-point rounding), so per component

    update(c g) = lr m_hat / (sqrt(v_hat) + eps / c)       update(g) = lr m_hat / (sqrt(v_hat) + eps)

which differ only through eps. The relative difference of each component is exactly
eps |1/c - 1| / (sqrt(v_hat) + eps / c) <= eps |1/c - 1| / sqrt(v_hat) (``adam_bound``): with
eps = 1e-8 and gradients of order 0.1, about 1e-7 |1/c - 1|. So with Adam, the choice of mean
or sum (a constant c) barely matters; with SGD it is a factor c on the step. (In training, c
varies from batch to batch with the episodes' lengths: then Adam cancels its average, not its
fluctuations; ``varying_scale`` measures that case.)

The gradients fed to both optimisers are REINFORCE estimates at the theorem page's theta, one
per batch (pg.lessons.derivation.batch_reinforce_estimates: sample_batches then
reinforce_estimates, all batches at once, equal up to rounding), so the numbers are of the size
the page shows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pg.algo.optim import SGD, Adam
from pg.lessons.derivation import Setup, _rng, batch_reinforce_estimates

ADAM_STEPS = 20  # updates compared


def _updates(optimizer, grads: np.ndarray) -> np.ndarray:
    """(K, P) the update each gradient of ``grads`` (K, P) makes, in order, from 0."""
    params = np.zeros(grads.shape[1])
    out = np.zeros_like(grads)
    for k, g in enumerate(grads):
        before = params.copy()
        optimizer.step(params, g)
        out[k] = params - before
    return out


def _step_ratio(scaled: np.ndarray, plain: np.ndarray) -> np.ndarray:
    """(K,) ||scaled update|| / ||plain update|| per step; nan where the plain update is 0 (a zero
    gradient, e.g. a batch whose advantages all vanish: there is no step to compare)."""
    top, bottom = np.linalg.norm(scaled, axis=1), np.linalg.norm(plain, axis=1)
    return np.divide(top, bottom, out=np.full(len(top), np.nan), where=bottom > 0)


@dataclass(frozen=True)
class ScaleCheck:
    """The updates of K gradients g_k against those of c_k g_k, for SGD and Adam."""

    c: np.ndarray  # (K,) the factor on each gradient
    sgd_ratio: np.ndarray  # (K,) ||SGD update with c g|| / ||SGD update with g||: equals c (nan for a zero step)
    adam_ratio: np.ndarray  # (K,) the same for Adam: near 1 (nan for a zero step)
    adam_max_rel_diff: float  # max over steps and components of |u(c g) - u(g)| / |u(g)|
    adam_bound: float  # eps |1/c - 1| / min sqrt(v_hat): the largest that difference can be (constant c)
    lr: float


def scale_check(grads: np.ndarray, c, lr: float = 0.1, eps: float = 1e-8) -> ScaleCheck:
    """SGD and Adam (pg.algo.optim, fresh from 0) on ``grads`` (K, P) and on c_k * grads
    (``c``: one factor, or one per gradient)."""
    grads = np.asarray(grads, dtype=np.float64)
    c = np.broadcast_to(np.asarray(c, dtype=np.float64), (len(grads),))
    if not (c > 0).all():
        raise ValueError("the factors c must be positive")
    P = grads.shape[1]
    scaled = grads * c[:, None]
    sgd, sgd_c = _updates(SGD(P, lr), grads), _updates(SGD(P, lr), scaled)
    adam, adam_c = _updates(Adam(P, lr, eps=eps), grads), _updates(Adam(P, lr, eps=eps), scaled)
    rel = np.abs(adam_c - adam)[adam != 0] / np.abs(adam)[adam != 0]
    beta2 = Adam(P, lr).beta2
    v, v_min = np.zeros(P), np.inf  # v_hat of the unscaled run, as Adam computes it
    for t, g in enumerate(grads, start=1):
        v = beta2 * v + (1 - beta2) * g * g
        v_hat = v / (1 - beta2**t)
        if (v_hat > 0).any():  # a zero gradient leaves nothing to bound yet
            v_min = min(v_min, float(np.sqrt(v_hat[v_hat > 0]).min()))
    return ScaleCheck(c=np.array(c), sgd_ratio=_step_ratio(sgd_c, sgd), adam_ratio=_step_ratio(adam_c, adam),
                      adam_max_rel_diff=float(rel.max()) if rel.size else 0.0,
                      adam_bound=float(eps * np.abs(1 / c - 1).max() / v_min), lr=lr)


@dataclass(frozen=True)
class AdamScaleStudy:
    """Mean against sum on the page's problem: a constant c, and c varying with each batch."""

    constant: ScaleCheck  # c = the mean of N / sum_n T_n over the batches, on every step
    varying_scale: ScaleCheck  # c_k = N / sum_n T_n of batch k: what .mean() does in training
    episodes: int  # N


def adam_scale_study(setup: Setup, episodes: int, seed, steps: int = ADAM_STEPS, lr: float = 0.1) -> AdamScaleStudy:
    """``steps`` estimates (reward-to-go, batch-mean baseline) at the setup's theta, fed to SGD
    and Adam as they are and rescaled as a mean over steps would rescale them."""
    batch = setup.problem.sample(setup.policy, steps * episodes, _rng(seed))  # sample_batches' batches, side by side
    grads = batch_reinforce_estimates(setup, batch, episodes, "reward_to_go", "batch_mean")
    c = episodes / batch.alive.reshape(len(batch.alive), steps, episodes).sum(axis=(0, 2))
    return AdamScaleStudy(scale_check(grads, float(c.mean()), lr), scale_check(grads, c, lr), episodes)
