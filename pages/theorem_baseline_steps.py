"""The theorem page's steps 6 to 8: the baseline (b in its own fragment with step 7's learning
rate and the link), the REINFORCE update, and the loss as a device (pages/theorem_steps.py)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from pages import theorem_chart_specs as chart_specs
from pages import theorem_compute as compute
from pages.links import publish
from pages.theorem_text import PREDICT, metrics, num, one_step, step, vec
from pg.app.state import TheoremState
from pg.lessons import derivation
from pg.viz.theorem_charts import with_b_rule


# ---------------------------------------------------------------------------------------------
# Step 6: a baseline (its own fragment for b, and the predict-then-check question)
# ---------------------------------------------------------------------------------------------
def baseline(setup, problem, theta, episodes, seed):
    """Step 6's text and question; its b panel, the estimators' variances and step 7 follow in
    one fragment (``baseline_and_update``)."""
    left, right = step(6, "Anything that does not depend on the action can be subtracted without bias: the "
                       "expectation is unchanged, the variance is not. Below, for the whole-return estimator of "
                       "step 4 with $R(\\tau) - b$: the variance as a function of a constant $b$, exact on this "
                       "problem, with measured points over it.")
    with right:
        predict(problem, theta, episodes)
    baseline_and_update(problem, theta, episodes, seed)


@st.fragment
def baseline_and_update(problem, theta, episodes, seed):
    """Step 6's b panel and the estimators' variances, step 7 with its learning rate, and the
    page's link: one fragment, so that moving b or the learning rate reruns this part alone and
    "Link to this view" in the sidebar (it carries both; a fragment may write to the sidebar)
    stays current. Everything in it but the two sliders' own checks is a cache hit."""
    b = baseline_panel(problem, theta, episodes, seed)
    var = compute.variance(problem, theta, episodes, seed)
    st.vega_lite_chart(chart_specs.variance_bars_spec(problem, theta, episodes, seed), width="stretch")
    st.caption(f"Variance of {var.n_estimates} estimates from N = {var.episodes} episodes each, the same batches for "
               "every estimator. Dashed: the squared length of the exact gradient, the signal the noise hides.")
    lr = update(problem, theta, episodes, seed)
    publish_view(problem, theta, episodes, seed, "baselines", b, lr)


def publish_view(problem, theta, episodes, seed, part: str, b: float | None = None, lr: float | None = None):
    """The page's link: the sidebar's settings, b and the learning rate (the sliders' own, or
    the values they keep while their tab is closed) and the tab open."""
    kept = TheoremState()
    b = st.session_state.get("theorem_b", kept.b) if b is None else b
    lr = st.session_state.get("theorem_lr", kept.lr) if lr is None else lr
    publish(TheoremState(problem, *theta, int(episodes), int(seed), float(b), float(lr), part))


@st.fragment
def predict(problem, theta, episodes):
    """Predict, then check: answered from the exact curve drawn below (never blocks the page)."""
    curve = compute.variance_curve(problem, theta)
    answer = st.radio("**Predict, then check.** Subtract the mean return $J$ from every $R(\\tau)$ ($b = J$): "
                      "will the variance of $\\hat g$ go up or down, compared with $b = 0$?", PREDICT, index=None,
                      horizontal=True, key="theorem_predict")
    if answer is None:
        st.caption("Answer to see the check; the chart below shows it either way.")
        return
    at_zero, at_mean = curve.at_zero / episodes, curve.at_mean_return / episodes
    truth = PREDICT[0] if at_mean < at_zero else PREDICT[1]
    change = at_mean / at_zero - 1 if at_zero > 0 else float("nan")
    verdict = "Right" if answer == truth else "Not this time"
    (st.success if answer == truth else st.info)(
        f"{verdict}: the variance does {truth.removeprefix('go ')}, from {at_zero:.4g} at $b = 0$ to {at_mean:.4g} "
        f"at $b = J = {curve.mean_return:.3f}$ ({num(change, '+.0%')}), exact for N = {episodes}.")


def baseline_panel(problem, theta, episodes, seed) -> float:
    """The b slider, the check that b adds no bias, and Var(b) with b marked; returns b."""
    setup = derivation.make_setup(problem, theta)
    left, right = st.columns([1.05, 1], gap="medium")
    b = left.slider("constant baseline b", -5.0, 5.0, 2.0, 0.5, key="theorem_b")
    bz = compute.baseline_zero(problem, theta, float(b), seed)
    curve = compute.variance_curve(problem, theta)
    pts = compute.variance_points(problem, theta, seed)
    left.markdown(f"$\\sum_t \\nabla\\log\\pi(a_t|s_t) \\cdot b$ with $b = {bz.b:g}$: its mean over {bz.episodes} "
                  "sampled episodes, and its exact expectation:")
    right.table(pd.DataFrame([bz.mean, bz.se, bz.z, bz.exact], columns=list(setup.theta_labels), index=[
        "sample mean", "standard error", "mean / s.e.", "exact (enumeration)"]).map("{:.3g}".format))
    spec = chart_specs.baseline_curve_spec(problem, theta, episodes, seed)
    st.vega_lite_chart(with_b_rule(spec, float(b), below=len(curve.landmarks()), large=True),
                       width="stretch")
    at_b, at_zero = float(curve.variance(b, episodes)), float(curve.variance(0.0, episodes))
    st.caption(
        f"Variance of the estimate from N = {episodes} episodes (one episode's divided by N). Exact: "
        f"{at_zero:.4g} at b = 0, {curve.at_mean_return / episodes:.4g} at the mean return J = {curve.mean_return:.3f}, "
        f"{curve.at_b_star / episodes:.4g} at the best constant b* = E[|∇log P|² R] / E[|∇log P|²] = "
        f"{curve.b_star:.3f}, and {at_b:.4g} at your b = {b:g}. Points: measured on {pts.episodes} sampled episodes "
        "(bars ±1 s.e.). The mean return is close to, not at, the best constant.")
    return b


# ---------------------------------------------------------------------------------------------
# Steps 7-8
# ---------------------------------------------------------------------------------------------
def update(problem, theta, episodes, seed) -> float:
    """Step 7: the learning-rate slider and the step it makes; returns the learning rate."""
    left, right = step(7, "This is `reinforce_gradient` below with `normalize=False`: reward-to-go and the batch-mean "
                       "baseline (episode $n$'s $b_t$ is the mean $G_t$ of the other episodes). Training normalises "
                       "the advantages by default, which changes the step's length (step 10).")
    lr = left.slider("learning rate α", 0.05, 2.0, 0.5, 0.05, key="theorem_lr")
    up = compute.update(problem, theta, episodes, float(lr), seed)
    with right:
        metrics(("J before the step", f"{up.J_before:.4f}"),
                ("J after θ ← θ + α ĝ", f"{up.J_after:.4f}", {"delta": f"{up.J_gain:+.4f}"}))
        st.caption(f"Both exact. ĝ = {vec(up.g_hat, 3)} against ∇J = {vec(up.exact, 3)}: cosine "
                   f"{num(up.cosine, '.3f')}. A step along the exact gradient would reach J = {up.J_after_exact_step:.4f}.")
    return lr


def loss_device(setup, problem, theta, episodes, seed):
    ls, ms = compute.loss_device(problem, theta, episodes, seed)
    text = ("Autodiff code minimises $L$ because its gradient is the estimate; its value means nothing (step 13). "
            "Written as `.mean()` over all steps instead of a sum divided by $N$, it rescales the gradient by "
            "$N / \\sum_n T_n$: with plain gradient ascent (SGD) a learning rate that shrinks as episodes get "
            "longer; Adam divides by the gradient's own scale and largely cancels it (step 11).")
    if one_step(setup):
        text += " Here every episode is one step, so $\\sum_n T_n = N$ and the two losses are the same."
    _, right = step(8, text)
    with right:
        metrics(("L(θ) on one batch", f"{ls.loss:.4f}", {"help": "its value is not J"}), ("J(θ), exact", f"{ls.J:.4f}"))
        st.markdown(f"Finite differences of `surrogate_loss` match $-\\hat g$ to a relative **{ls.rel_diff:.1e}**. Each "
                    f"loss's gradient ÷ $(-\\hat g)$, on $N = {ms.N}$ episodes of $\\sum_n T_n = {ms.steps}$ steps:")
        st.table(pd.DataFrame({"sum / N (surrogate_loss)": [num(ms.sum_ratio, ".10f"), num(ms.sum_ratio_fd, ".8f"), "1"],
                               "mean over all steps": [num(ms.mean_ratio, ".10f"), num(ms.mean_ratio_fd, ".8f"),
                                                       f"{ms.N}/{ms.steps} = {ms.expected_mean_ratio:.10f}"]},
                              index=["backprop", "finite differences", "predicted"]))
        st.caption("The predicted row is an identity ($L_\\text{mean} = \\frac{N}{\\sum_n T_n} L$ by algebra): what "
                   "can fail is the code, backprop and finite differences, against it.")
