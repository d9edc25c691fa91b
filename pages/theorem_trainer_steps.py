"""The theorem page's steps 9 to 13: the trainer as it runs (discounting, normalisation, Adam,
on-policy, the loss is not the performance), each against exact numbers (pages/theorem_steps.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from pages import theorem_compute as compute
from pages.theorem_text import metrics, nan_stat, num, one_step, step, vec


# ---------------------------------------------------------------------------------------------
# Steps 9-13: the trainer as it runs
# ---------------------------------------------------------------------------------------------
def discount(setup, problem, theta):
    rows = compute.discounting_table(problem, theta)
    usual = next(r for r in rows if r.gamma == 0.99)
    if one_step(setup):
        text = ("Here every episode is one step: $\\gamma^0 = 1$, so dropping the factor changes nothing "
                f"(the largest bias below is {max(r.bias for r in rows):.0e}). On Tiny CartPole it does.")
    else:
        text = (f"At training's $\\gamma = 0.99$ the usual estimator follows a vector that misses $\\nabla J_\\gamma$ by "
                f"**{usual.bias:.2e}** ({num(usual.relative_bias, '.1%')} of its length, "
                f"{num(usual.angle_degrees, '.2f')}° off its direction); at $\\gamma = {rows[-1].gamma:g}$ by "
                f"{rows[-1].bias:.3f} ({num(rows[-1].relative_bias, '.0%')}). Biased, though the common practice.")
    _, right = step(9, "Training discounts ($\\gamma = 0.99$ by default) but drops the $\\gamma^t$ factor: it then "
                    "follows no objective's gradient. With the factor the estimator is unbiased for $J_\\gamma$. "
                    "Both expectations exact, by enumeration. " + text)
    right.table(pd.DataFrame({
        "γ": [f"{r.gamma:g}" for r in rows], "‖∇J_γ‖": [f"{np.linalg.norm(r.exact):.4f}" for r in rows],
        "with γ^t: error": [f"{r.with_factor_error:.1e}" for r in rows],
        "without γ^t: bias": [f"{r.bias:.2e}" for r in rows],
        "angle": [f"{num(r.angle_degrees, '.2f')}°" for r in rows]}).set_index("γ"))


def normalise(setup, problem, theta, episodes, seed):
    ns = compute.normalisation_study(problem, theta, episodes, seed)
    if ns is None:
        step(10, "Training divides each batch's advantages by their spread. With $N = 1$ the batch-mean baseline has "
             "no other episode to average: choose $N \\ge 2$ in the sidebar to measure this step.")
        return
    ratio = ns.orthogonal_normalised / ns.orthogonal_normalised_noise if ns.orthogonal_normalised_noise > 0 else 0.0
    verdict = ("more than noise can make: a bias in direction" if ratio > 3
               else "within what noise alone gives: no bias in direction visible at this precision")
    _, right = step(10, "Training (by default) replaces each batch's advantages by their z-scores before $\\hat g$. "
                    "This rescales $\\hat g$ by a number that depends on the batch, and, since the mean and spread "
                    "come from the same batch, nothing guarantees that the average estimate stays along $\\nabla J$. "
                    f"Measured on {ns.n_batches} batches of $N = {ns.episodes}$: normalised estimates are "
                    f"**{ns.rms_ratio:.2f}×** as long (root mean square), so a learning rate means something else "
                    f"with it; their mean leaves $\\nabla J$'s direction by {ns.direction_bias_degrees:.2f}°, "
                    f"{ratio:.1f} times the noise: {verdict}.")
    with right:
        metrics(("cos(ĝ, ∇J), plain", f"{ns.cosine_plain:.3f}", {"help": f"± {ns.cosine_plain_se:.3f} (1 s.e.)"}),
                ("normalised", f"{ns.cosine_normalised:.3f}", {"help": f"± {ns.cosine_normalised_se:.3f} (1 s.e.)"}),
                ("length ×", f"{ns.rms_ratio:.2f}"))
        st.caption(f"Mean cosine over the batches: {ns.cosine_plain:.3f} ± {ns.cosine_plain_se:.3f} plain, "
                   f"{ns.cosine_normalised:.3f} ± {ns.cosine_normalised_se:.3f} normalised (1 s.e.).")


def adam(setup, problem, theta, episodes, seed):
    ad = compute.adam_study(problem, theta, episodes, seed)
    k, v = ad.constant, ad.varying_scale
    c = float(k.c[0])
    if one_step(setup):
        text = (f"Here every episode is one step, so $c = N / \\sum_n T_n = {c:g}$: mean and sum coincide and there "
                "is nothing to cancel.")
    else:
        text = (f"With $c$ varying per batch as `.mean()` makes it in training ({v.c.min():.3f} to {v.c.max():.3f}), "
                f"Adam's step ratios range from {num(nan_stat(np.nanmin, v.adam_ratio), '.3f')} to "
                f"{num(nan_stat(np.nanmax, v.adam_ratio), '.3f')}: it cancels the average scale, not the "
                "batch-to-batch fluctuation.")
    _, right = step(11, "Training uses Adam, which divides by the root of the gradients' running square: a constant "
                    "factor $c$ on every gradient cancels but for $\\epsilon$. "
                    f"The same {len(k.c)} estimates fed to both optimisers, as they are and times "
                    f"$c = {c:.4f}$ (the mean of $N / \\sum_n T_n$ over these batches). " + text)
    with right:
        metrics(("SGD step ×", num(nan_stat(np.nanmean, k.sgd_ratio), ".4f"), {"help": "equals c"}),
                ("Adam step ×", num(nan_stat(np.nanmean, k.adam_ratio), ".5f"), {"help": "mean over the steps"}))
        st.caption(f"Adam's largest relative change of a step component: {k.adam_max_rel_diff:.1e}, within the bound "
                   f"ε |1/c − 1| / min √v̂ = {k.adam_bound:.1e}.")


def on_policy_step(setup, problem, theta):
    op = compute.on_policy_check(problem, theta)
    _, right = step(12, "The expectation is over episodes of $\\pi_\\theta$ itself. Episodes of an older policy "
                    "(a replay buffer, a batch reused after an update) estimate something else; weighting each "
                    "by $w(\\tau)$ (the dynamics cancel in the ratio) restores $\\nabla J$. REINFORCE is "
                    "**on-policy**: each batch makes one update and is thrown away.")
    with right:
        st.markdown(f"Episodes from $\\theta_\\text{{old}} = {vec(op.theta_old, 1)}$, used at "
                    f"$\\theta = {vec(setup.theta, 1)}$; $\\|\\nabla J\\| = {np.linalg.norm(op.exact):.4f}$. Both exact:")
        metrics(("as if on-policy: error", f"{op.stale_error:.4f}"), ("weighted: error", f"{op.weighted_error:.1e}"))
        st.caption(f"Error: the distance of each estimator's expectation from ∇J. The weights w(τ) reach "
                   f"{op.max_weight:.2f} here; the further apart the policies, the larger they get.")


def performance(setup, problem, theta):
    lc = compute.loss_check(problem, theta)
    rose = (f"the loss ($b = 0$) rose too on {lc.both_rose} of them: a loss that gets \"worse\" while the agent gets better"
            if lc.both_rose else "the loss ($b = 0$) fell on each of those, but its value still depends on $b$")
    _, right = step(13, "A loss curve going down is not learning: the surrogate's value moves with an arbitrary "
                    f"constant $b$ (by {lc.loss_slope:.3f} per unit of $b$), while $J = {lc.J:.4f}$ does not move. "
                    f"Along {len(lc.path_J) - 1} exact gradient-ascent steps from $\\theta$, $J$ rose on {lc.J_rose}; "
                    f"{rose}. Watch the return, not the loss.")
    right.table(pd.DataFrame({"b": [f"{b:g}" for b in lc.bs], "E[L_b], exact": [f"{v:.4f}" for v in lc.loss_vs_b],
                              "J(θ), exact": [f"{lc.J:.4f}"] * len(lc.bs)}).set_index("b"))
