"""The theorem page's steps 1 to 5, one function each (pages/views/theorem.py calls them in order;
steps 6-8 are pages/theorem_baseline_steps.py, 9-13 pages/theorem_trainer_steps.py, their shared
pieces pages/theorem_text.py).

Each step reads its own cached check (pages/theorem_compute.py). The controls inside the page
(6: the baseline b, 7: the learning rate, and the "predict, then check" question) are drawn in
``st.fragment``s, so moving one reruns its part of the page alone: the question its own answer;
b and the learning rate the part from step 6's b panel to the end of step 7, with the page's link
(``publish``), which carries both. Every sentence about a result is
built from the numbers on screen, and fits the problem shown (Tiny CartPole or the bandit, whose
episodes are one step long).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from pages import theorem_chart_specs as chart_specs
from pages import theorem_compute as compute
from pages.theorem_text import metrics, num, one_step, step, vec


# ---------------------------------------------------------------------------------------------
# Steps 1-3
# ---------------------------------------------------------------------------------------------
def objective(setup, problem, theta, episodes, seed):
    o = compute.objective(problem, theta, episodes, seed)
    what = ("An episode is one pull of an arm and $R(\\tau)$ its reward" if one_step(setup)
            else "A trajectory $\\tau$ is one episode and $R(\\tau)$ its total reward")
    _, right = step(1, f"{what}. This problem has **{o.n_trajectories}** possible trajectories, so the sum can be "
                    "done exactly (each reward at its mean); sampled episodes estimate it.")
    with right:
        metrics(("J(θ), exact", f"{o.J_exact:.4f}", {"help": f"the sum over all {o.n_trajectories} trajectories"}),
                (f"mean return, N = {o.episodes}", f"{o.J_sample:.3f}",
                 {"delta": f"± {num(o.J_sample_se, '.3f')} (1 s.e.)", "delta_color": "off", "delta_arrow": "off"}))
        st.caption(f"The {o.n_trajectories} trajectories' probabilities add up to {o.prob_sum:.12f}"
                   + (f"; the sample mean is {abs(o.z):.1f} standard errors from J." if np.isfinite(o.z) else "."))


def log_derivative(setup, problem, theta):
    ld = compute.log_derivative(problem, theta)
    _, right = step(2, "Multiplying and dividing by $P$ turns a sum of gradients into an **expectation**, which "
                    "episodes can sample. Checked on $\\pi$ itself: finite differences of $\\pi(a|s)$ against "
                    "$\\pi\\,\\nabla\\log\\pi$ from the policy's gradient code, for every state and action (table below).")
    with right:
        metrics(("largest |difference|", f"{ld.max_diff:.1e}", {"help": "over every state, action and θ component"}),
                ("∇J: theorem − finite diff.", f"{ld.theorem_diff:.1e}",
                 {"help": f"theorem: {vec(ld.grad_J)}; finite differences of J: {vec(ld.grad_J_fd)}"}))
    st.table(pd.DataFrame([{"state, action": f"{r.state}, {r.action}", "π(a|s)": f"{r.pi:.4f}",
                           "∇π(a|s), finite differences": vec(r.fd), "π ∇log π(a|s), analytic": vec(r.analytic),
                           "|difference|": f"{r.diff:.1e}"} for r in ld.rows]).set_index("state, action"))


def dynamics(setup, problem, theta, seed):
    dy = compute.dynamics(problem, theta, seed)
    labels = list(setup.theta_labels)
    if one_step(setup):
        text = ("A bandit has no start state and no transitions: $\\log P(\\tau) = \\log \\pi_\\theta(a)$, so on this "
                "problem the step holds by construction (an identity). Switch to Tiny CartPole to see the dynamics "
                "terms checked.")
        path = f"A sampled episode (one pull): **{dy.actions[0]}**."
    else:
        text = ("The start and transition probabilities (grey) do not depend on $\\theta$: the gradient needs **no "
                "model of the environment**, only the policy's own log-probabilities. The check can fail: finite "
                "differences of the *whole* $\\log P(\\tau)$, dynamics terms included, against the policy terms' "
                "gradient alone.")
        steps = " → ".join(f"*{s}* → **{a}**" for s, a in zip(dy.states, dy.actions))
        path = (f"A sampled trajectory (the longest of {dy.candidates} sampled episodes, {len(dy.actions)} steps): "
                f"{steps}{' → *falls*' if dy.fell else ''}")
    _, right = step(3, text)
    with right:
        st.markdown(path)
        metrics(("log π terms", f"{dy.log_policy:.4f}"), ("dynamics terms", f"{dy.log_dynamics:.4f}"),
                ("largest |difference|", f"{dy.max_diff:.1e}"))
        st.table(pd.DataFrame([dy.fd_grad_log_P, dy.score], columns=labels, index=[
            "∇ log P(τ), finite differences, all terms", "Σ ∇ log π, policy terms only"]).map("{:+.6f}".format))


# ---------------------------------------------------------------------------------------------
# Steps 4-5
# ---------------------------------------------------------------------------------------------
def estimator(setup, problem, theta, episodes, seed):
    est, rm = compute.estimate(problem, theta, episodes, seed), compute.rmse_study(problem, theta, seed)
    inside = "inside" if rm.interval_contains_theory else "**outside**"
    left, right = step(4, "An average of $N$ independent episodes: its mean squared error is $\\mathrm{tr\\,Cov}/N$, "
                       "so the root-mean-square error times $\\sqrt N$ is the same for every $N$, "
                       f"$\\sqrt{{\\mathrm{{tr\\,Cov}}}} = {rm.rmse_sqrt_n:.3f}$ here (an identity, computed by "
                       f"enumeration: the dashed line). Measured over {rm.repeats} repeats at each $N$, the log-log "
                       f"slope is **{rm.slope:.3f}**, {rm.level:.0%} interval **{rm.slope_low:.3f} to "
                       f"{rm.slope_high:.3f}** (bootstrap over the repeats): −0.5 is {inside} it. For scale, "
                       f"$\\|\\nabla J\\| = {np.linalg.norm(est.exact):.3f}$.")
    left.vega_lite_chart(chart_specs.components_spec(problem, theta, episodes, seed), width="stretch")
    right.vega_lite_chart(chart_specs.rmse_spec(problem, theta, episodes, seed), width="stretch")


def reward_to_go(setup, problem, theta, episodes, seed):
    var = compute.variance(problem, theta, episodes, seed)
    whole, to_go, change = var.whole_return, var.reward_to_go, var.reward_to_go_change
    text = ("A reward earned before $t$ cannot depend on $a_t$: its term averages to zero and only adds noise, "
            "so each $\\nabla\\log\\pi$ is weighted by the reward still to come.")
    if one_step(setup):
        same = "so the two variances below are equal" if whole.variance == to_go.variance else "yet the variances differ"
        text += (" Here every episode is one step: there is no earlier reward to drop, $G_0 = R(\\tau)$, the two "
                 f"weights are the same numbers, {same}.")
    _, right = step(5, text)
    with right:
        st.markdown(f"The same {var.n_estimates} batches of $N = {var.episodes}$ episodes, two weights:")
        metrics(("variance with R(τ)", f"{whole.variance:.4g}"),
                ("variance with G_t", f"{to_go.variance:.4g}", {"delta": f"{change:+.0%}" if change else None,
                                                                "delta_color": "inverse"}))
        st.caption(f"Both unbiased: the means of the {var.n_estimates} estimates miss ∇J by {whole.bias:.3f} and "
                   f"{to_go.bias:.3f}; noise alone, √(variance / {var.n_estimates}), predicts {whole.bias_se:.3f} "
                   f"and {to_go.bias_se:.3f}.")
    return var
