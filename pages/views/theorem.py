"""The gradient theorem: the derivation step by step (pg.lessons.derivation.STEPS), each step beside a
numerical check on a problem solved exactly (pg.lessons.derivation computes, pg.viz.theorem_charts draws)."""

import inspect

import numpy as np
import pandas as pd
import streamlit as st

from pages.links import publish, restore
from pg.algo.reinforce import reinforce_gradient, surrogate_loss
from pg.app.state import TheoremState
from pg.lessons import derivation
from pg.viz.theorem_charts import convergence_chart, gradient_components_chart, variance_chart

NAMES = {"tiny_cartpole": "Tiny CartPole (3 states, 4 steps)", "bandit": "Three-armed bandit"}
THETA_TEX = {"tiny_cartpole": [r"$\theta_\text{left}$", r"$\theta_\text{up}$", r"$\theta_\text{right}$"],
             "bandit": [r"$\theta_0$", r"$\theta_1$", r"$\theta_2$"]}
all_checks = st.cache_data(derivation.all_checks, show_spinner="Computing the checks...", max_entries=64)


def vec(v, digits=4) -> str:
    return "(" + ", ".join(f"{x:+.{digits}f}" for x in v) + ")"


def num(x: float, spec: str) -> str:
    return format(x, spec) if np.isfinite(x) else "—"  # e.g. a ratio to an estimate that came out 0


def step(number: int, text: str):
    """Step ``number`` of derivation.STEPS: heading, then equations and text in the left column."""
    st.subheader(f"{number}. {derivation.STEPS[number - 1][0]}", divider="gray")
    left, right = st.columns([1.05, 1], gap="medium")
    for tex in derivation.STEPS[number - 1][1]:
        left.latex(tex)
    left.markdown(text)
    return left, right


def metrics(*items):  # side by side; each item is (label, value) or (label, value, st.metric keywords)
    for col, (label, value, *kw) in zip(st.columns(len(items)), items):
        col.metric(label, value, **(kw[0] if kw else {}))


restore(TheoremState, "theorem_")  # a link's settings, on the first run of a visit
with st.sidebar:
    problem = st.radio("**The problem**", list(NAMES), format_func=NAMES.get, key="theorem_problem")
    theta = tuple(st.slider(label, -3.0, 3.0, default, 0.1, key=f"theorem_logit_{i}")
                  for i, (label, default) in enumerate(zip(THETA_TEX[problem], (0.5, 0.0, -0.5))))
    episodes = st.select_slider("Episodes per estimate, N", [2**k for k in range(9)], value=16, key="theorem_episodes")
    seed = int(st.number_input("Seed", 0, 1_000_000, 0, 1, key="theorem_seed"))

checks = all_checks(problem, theta, int(episodes), seed)
setup, THETA = checks.setup, list(checks.setup.theta_labels)
st.title("The gradient theorem")
st.markdown("Why does $\\nabla_\\theta \\log \\pi_\\theta(a_t \\mid s_t)\\,G_t$ point uphill? Eight steps from the objective "
            f"to the update that trains the agent, each checked beside it on {setup.describe()}")
st.caption("Move the sliders in the sidebar: every number and chart below is recomputed, none is typed in.")

o = checks.objective
_, right = step(1, "A trajectory $\\tau$ is one episode and $R(\\tau)$ its total reward. This problem has "
                f"**{o.n_trajectories}** possible trajectories, so the sum can be done exactly; sampled episodes estimate it.")
with right:
    metrics(("J(θ), exact", f"{o.J_exact:.4f}", {"help": f"the sum over all {o.n_trajectories} trajectories"}),
            (f"mean return, N = {o.episodes}", f"{o.J_sample:.3f}",
             {"delta": f"± {num(o.J_sample_se, '.3f')} (1 s.e.)", "delta_color": "off", "delta_arrow": "off"}))
    st.caption(f"The {o.n_trajectories} trajectories' probabilities add up to {o.prob_sum:.12f}"
               + (f"; the sample mean is {abs(o.z):.1f} standard errors from J." if np.isfinite(o.z) else "."))

ld = checks.log_derivative
_, right = step(2, "Multiplying and dividing by $P$ turns a sum of gradients into an **expectation**, which episodes "
                "can sample. Checked on $\\pi$ itself: finite differences of $\\pi(a|s)$ against $\\pi\\,\\nabla\\log\\pi$ "
                "from the policy's gradient code, for every state and action (table below).")
with right:
    metrics(("largest |difference|", f"{ld.max_diff:.1e}", {"help": "over every state, action and θ component"}),
            ("∇J: theorem − finite diff.", f"{ld.theorem_diff:.1e}",
             {"help": f"theorem: {vec(ld.grad_J)}; finite differences of J: {vec(ld.grad_J_fd)}"}))
st.table(pd.DataFrame([{"state, action": f"{r.state}, {r.action}", "π(a|s)": f"{r.pi:.4f}",
                       "∇π(a|s), finite differences": vec(r.fd), "π ∇log π(a|s), analytic": vec(r.analytic),
                       "|difference|": f"{r.diff:.1e}"} for r in ld.rows]).set_index("state, action"))

dy = checks.dynamics
_, right = step(3, "The start and transition probabilities (grey) do not depend on $\\theta$: the gradient needs "
                "**no model of the environment**, only the policy's own log-probabilities.")
with right:
    path = " → ".join(f"*{s}* → **{a}**" for s, a in zip(dy.states, dy.actions))
    st.markdown(f"A sampled trajectory (longest of {dy.candidates}): {path}{' → *falls*' if dy.fell else ''}")
    metrics(("log π terms", f"{dy.log_policy:.4f}"), ("dynamics terms", f"{dy.log_dynamics:.4f}"),
            ("largest |difference|", f"{dy.max_diff:.1e}"))
    st.table(pd.DataFrame([dy.fd_grad_log_P, dy.score], columns=THETA, index=[
        "∇ log P(τ), finite differences, all terms", "Σ ∇ log π, policy terms only"]).map("{:+.6f}".format))

cv, est = checks.convergence, checks.estimate
left, right = step(4, f"An average of $N$ independent episodes, so its error shrinks like $1/\\sqrt N$. Measured over "
                   f"{cv.repeats} repeats at each $N$ (bars: 10th to 90th percentile), the fitted log-log slope is "
                   f"**{cv.slope:.3f}**; theory: −0.5. For scale, $\\|\\nabla J\\| = {cv.exact_norm:.3f}$.")
left.altair_chart(gradient_components_chart(THETA, est.exact, est.g_hat, f"one estimate, N = {episodes}", large=True),
                  width="stretch")
right.altair_chart(convergence_chart(cv.n, cv.error, cv.low, cv.high, cv.reference, highlight_n=episodes,
                                     large=True, height=420), width="stretch")

var = checks.variance
whole, to_go, change = var.whole_return, var.reward_to_go, var.reward_to_go_change
_, right = step(5, "A reward earned before $t$ cannot depend on $a_t$: its term averages to zero and only adds noise, "
                "so each $\\nabla\\log\\pi$ is weighted by the reward still to come.")
with right:
    st.markdown(f"The same {var.n_estimates} batches of $N = {var.episodes}$ episodes, two weights:")
    metrics(("variance with R(τ)", f"{whole.variance:.4g}"),
            ("variance with G_t", f"{to_go.variance:.4g}", {"delta": f"{change:+.0%}" if change else None,
                                                            "delta_color": "inverse"}))
    st.caption(f"Both unbiased: the means of the {var.n_estimates} estimates miss ∇J by {whole.bias:.3f} and "
               f"{to_go.bias:.3f}; noise alone, √(variance / {var.n_estimates}), predicts {whole.bias_se:.3f} "
               f"and {to_go.bias_se:.3f}.")

left, right = step(6, "Anything that does not depend on the action can be subtracted without bias: the expectation is "
                   "unchanged, the variance is not.")
b = left.slider("constant baseline b", -5.0, 5.0, 2.0, 0.5, key="theorem_b")
bz = derivation.baseline_zero_check(setup, b, derivation.stream(seed, "baseline_zero"))
right.markdown(f"$\\sum_t \\nabla\\log\\pi(a_t|s_t) \\cdot b$ with $b = {bz.b:g}$: its mean over {bz.episodes} "
               "sampled episodes, and its exact expectation:")
right.table(pd.DataFrame([bz.mean, bz.se, bz.z, bz.exact], columns=THETA, index=[
    "sample mean", "standard error", "mean / s.e.", "exact (enumeration)"]).map("{:.3g}".format))
st.altair_chart(variance_chart([r.estimator for r in var.rows], [r.variance for r in var.rows],
                               [r.has_baseline for r in var.rows], signal=var.exact_sq_norm, large=True),
                width="stretch")
st.caption(f"Variance of {var.n_estimates} estimates from N = {var.episodes} episodes each, the same batches for "
           "every estimator. Dashed: the squared length of the exact gradient, the signal the noise hides.")

left, right = step(7, "This is `reinforce_gradient` below, with reward-to-go and the batch-mean baseline (episode $n$'s "
                   "$b_t$ is the mean $G_t$ of the other episodes).")
lr = left.slider("learning rate α", 0.05, 2.0, 0.5, 0.05, key="theorem_lr")
up = derivation.update_check(setup, int(episodes), lr, derivation.stream(seed, "update"))
with right:
    metrics(("J before the step", f"{up.J_before:.4f}"),
            ("J after θ ← θ + α ĝ", f"{up.J_after:.4f}", {"delta": f"{up.J_gain:+.4f}"}))
    st.caption(f"Both exact. ĝ = {vec(up.g_hat, 3)} against ∇J = {vec(up.exact, 3)}: cosine {num(up.cosine, '.3f')}. "
               f"A step along the exact gradient would reach J = {up.J_after_exact_step:.4f}.")

ls, ms = checks.loss, checks.mean_vs_sum
_, right = step(8, "Autodiff code minimises $L$ because its gradient is the estimate; its value means nothing. Written "
                "as `.mean()` over all steps instead of a sum divided by $N$, it rescales the step by $N / \\sum_n T_n$: "
                "a learning rate that shrinks as episodes get longer.")
with right:
    metrics(("L(θ) on one batch", f"{ls.loss:.4f}", {"help": "its value is not J"}), ("J(θ), exact", f"{ls.J:.4f}"))
    st.markdown(f"Finite differences of `surrogate_loss` match $-\\hat g$ to a relative **{ls.rel_diff:.1e}**. Each "
                f"loss's gradient ÷ $(-\\hat g)$, on $N = {ms.N}$ episodes of $\\sum_n T_n = {ms.steps}$ steps:")
    st.table(pd.DataFrame({"sum / N (surrogate_loss)": [num(ms.sum_ratio, ".10f"), num(ms.sum_ratio_fd, ".8f"), "1"],
                           "mean over all steps": [num(ms.mean_ratio, ".10f"), num(ms.mean_ratio_fd, ".8f"),
                                                   f"{ms.N}/{ms.steps} = {ms.expected_mean_ratio:.10f}"]},
                          index=["backprop", "finite differences", "predicted"]))

with st.expander("The code that runs: `pg.algo.reinforce.reinforce_gradient` and `surrogate_loss`", icon=":material/code:"):
    st.code("\n\n".join(inspect.getsource(f) for f in (reinforce_gradient, surrogate_loss)), language="python")

publish(TheoremState(problem, *theta, int(episodes), seed, b, lr))
