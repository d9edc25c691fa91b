"""The theorem page's steps, one function each (pages/views/theorem.py calls them in order).

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

from pages import theorem_compute as compute
from pages.links import publish
from pg.app.state import TheoremState
from pg.lessons import derivation
from pg.viz.theorem_charts import with_b_rule

WORDS = dict(enumerate(("zero", "One", "Two", "Three", "Four", "Five", "Six", "Seven", "Eight", "Nine", "Ten",
                        "Eleven", "Twelve", "Thirteen", "Fourteen", "Fifteen")))
PREDICT = ("go down", "go up")


def count_in_words(n: int) -> str:
    return WORDS.get(n, str(n))


def vec(v, digits=4) -> str:
    """(+0.1234, -0.5000, ...); a value that rounds to zero is written +0.0000, never -0.0000."""
    return "(" + ", ".join(f"{(x if abs(x) >= 0.5 * 10**-digits else 0.0):+.{digits}f}" for x in v) + ")"


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


def nan_stat(f, x) -> float:
    """f (np.nanmean, nanmin, ...) of x, or nan when every value is nan (no warning)."""
    x = np.asarray(x, dtype=np.float64)
    return float(f(x)) if np.isfinite(x).any() else float("nan")


def one_step(setup) -> bool:
    """Every episode is a single step (the bandit)."""
    return setup.problem.horizon == 1


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
    left.vega_lite_chart(compute.components_spec(problem, theta, episodes, seed), width="stretch")
    right.vega_lite_chart(compute.rmse_spec(problem, theta, episodes, seed), width="stretch")


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
    st.vega_lite_chart(compute.variance_bars_spec(problem, theta, episodes, seed), width="stretch")
    st.caption(f"Variance of {var.n_estimates} estimates from N = {var.episodes} episodes each, the same batches for "
               "every estimator. Dashed: the squared length of the exact gradient, the signal the noise hides.")
    lr = update(problem, theta, episodes, seed)
    publish(TheoremState(problem, *theta, int(episodes), int(seed), float(b), float(lr)))


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
    spec = compute.baseline_curve_spec(problem, theta, episodes, seed)
    st.vega_lite_chart(with_b_rule(spec, float(b), below=len(compute.baseline_marks(curve)), large=True),
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
