"""Credit assignment: one episode of the current policy, step by step, and what one update did to
the probability of each of its actions (issue 15, point 6)."""

import json

import numpy as np
import streamlit as st

from pages.links import publish, restore
from pages.shared import current_run
from pg.algo.policies import policy_from_spec
from pg.algo.reinforce import TrainConfig
from pg.app.state import CreditState
from pg.lessons.credit import CreditAssignment, config_of, credit_assignment, describe, summary, why_not_every_step
from pg.viz.credit_charts import credit_spec, delta_spec

MAX_SEED = 99_999
ACTIONS = ("left", "right")
large = bool(st.session_state.get("present"))


@st.cache_data(show_spinner=False, max_entries=64)
def _credit(spec_json: str, params: np.ndarray, config_json: str, seed: int, warm: bool) -> CreditAssignment:
    policy = policy_from_spec(json.loads(spec_json), params)
    return credit_assignment(policy, TrainConfig.from_dict(json.loads(config_json)), seed, warm)


@st.cache_data(show_spinner=False, max_entries=256)
def _frame(state: tuple, action: int, p_right: float, step: int) -> np.ndarray:
    from pg.viz.render import render_frame  # pygame: imported when a frame is drawn

    return render_frame(state, action=action, p_right=p_right, step=step)


st.title("Credit assignment")
st.markdown(
    "REINFORCE in one sentence: make the actions that were followed by more return than expected more "
    "likely, and the others less. Here is that sentence one step at a time: an episode of the policy, the "
    "return **Gₜ** that followed each action, the baseline **bₜ** the trainer expected, their difference "
    "(the **advantage**), and what one training update on the batch did to the probability of each action."
)
run, source = current_run()
cfg = config_of(run.config)
snapshots = run.checkpoints()
iterations = [iteration for iteration, _ in snapshots]
st.caption(
    f"Showing {source}. The update is the trainer's: {describe(cfg)}."
    + ("" if run.config else " (This file keeps no training settings: the defaults are used.)")
)

# --- controls -------------------------------------------------------------------------------
restore(CreditState, "credit_", allowed={"checkpoint": iterations})  # a link's settings
if st.session_state.get("credit_checkpoint") not in iterations:
    st.session_state.pop("credit_checkpoint", None)  # a different run: start at its default
early = next((it for it in iterations if it >= 1), iterations[-1])  # early: short episodes, mixed advantages
controls = st.columns([3, 1], gap="medium", vertical_alignment="bottom")
if len(iterations) > 1:
    iteration = controls[0].select_slider(
        "Training checkpoint (update)", options=iterations, value=early, key="credit_checkpoint",
        help="The policy whose episode is shown and updated: its parameters after this many updates.",
    )
else:
    iteration = iterations[0]
    controls[0].caption(f"This run kept one checkpoint, update {iteration}.")
seed = int(controls[1].number_input(
    "Episode seed", min_value=0, max_value=MAX_SEED, value=0, step=1, key="credit_seed",
    help="Draws the batch (start states and sampled actions) exactly as training draws its batches: "
    "the episode shown is the batch's first.",
))

publish(CreditState(None if iteration == early else iteration, seed), run=run)  # the link
policy = dict(snapshots)[iteration]
# a stateful baseline (moving average, learned V) has been fitted on earlier batches by this
# checkpoint; after update 0 it is fitted on one earlier batch of the same policy first
credit = _credit(json.dumps(policy.spec), policy.params, json.dumps(cfg.to_dict()), seed, iteration > 0)

# --- the whole episode in numbers (computed from what is drawn below) ----------------------
st.markdown(summary(credit, cfg))
why = why_not_every_step(credit, cfg)


# --- one step: the frame, the numbers, the two charts, a question -----------------------------
@st.fragment
def step_panel(credit: CreditAssignment, key: str, why: str) -> None:
    """Everything that follows the step slider: moving it reruns only this."""
    if st.session_state.get("credit_step", 0) > credit.length - 1:  # a shorter episode than the last one shown
        st.session_state["credit_step"] = credit.length - 1
    t = st.slider("Step t", 0, credit.length - 1, 0, key="credit_step",
                  help="Move through the episode; the dashed line in both charts marks this step.")
    state, action = credit.states[t], int(credit.actions[t])
    p_before, p_after = credit.p_before[t], credit.p_after[t]
    p_right = p_before if action == 1 else 1 - p_before
    sign = int(credit.adv_sign[t])
    picture, numbers = st.columns([1, 1.25], gap="large")
    picture.image(_frame(tuple(map(float, state)), action, float(p_right), t), width="stretch",
                  caption=f"Step {t}: the policy pushed {ACTIONS[action]} (arrow); P(right) = {p_right:.2f}.")
    with numbers:
        row = st.columns(3)
        row[0].metric("Push aₜ", ACTIONS[action])
        row[1].metric("Reward rₜ", f"{credit.rewards[t]:g}")
        row[2].metric("Return Gₜ", f"{credit.G[t]:.2f}",
                      help=f"The discounted reward-to-go from step t: rₜ + γ rₜ₊₁ + …, γ = {cfg.gamma:g}.")
        row = st.columns(3)
        row[0].metric("Baseline bₜ", f"{credit.b[t]:.2f}")
        row[1].metric("Advantage", f"{credit.adv[t]:+.2f}" if sign else "0",
                      delta={1: "above bₜ", -1: "below bₜ", 0: "at bₜ"}[sign],
                      delta_color="normal" if sign else "off", delta_arrow="auto" if sign else "off",
                      help="Gₜ − bₜ: what followed the action, minus what the trainer expected."
                      if cfg.advantage == "returns" else "The critic's estimate (TD or GAE), as the trainer uses it.")
        change = credit.delta_logp[t]
        row[2].metric("New π(aₜ|sₜ)", f"{p_after:.3f}", delta=f"{p_after - p_before:+.3f}",
                      help=f"After one update on the batch. Before: {p_before:.3f}. Change of log π(aₜ|sₜ): "
                      f"{change:+.4f}.")
    st.vega_lite_chart(credit_spec(credit.G, credit.b, credit.adv, credit.adv_sign, t, large=large), width="stretch")
    st.caption("Bars: the advantage of each step (green above 0, orange below). Lines: the return that followed "
               "each step and the baseline subtracted from it. Dashed: step t.")
    st.vega_lite_chart(delta_spec(credit.delta_logp, credit.adv_sign, t, large=large), width="stretch")
    st.caption("What one update did to log π(aₜ|sₜ) at each step: a green bar up or an orange bar down is a step "
               "that moved as the rule says. " + why)

    # Predict, then check (issue 15, point 7): never blocks, answered from the measured change.
    what = {1: "positive", -1: "negative", 0: "0"}[sign]
    guess = st.radio(
        f"Predict, then check: at step {t} the advantage is {what}. After the update, will π(aₜ|sₜ) go up "
        "or down?", ("up", "down"), index=None, horizontal=True, key=f"credit_predict_{key}_{t}",
    )
    if guess is not None:
        moved = "up" if change > 0 else "down" if change < 0 else "nowhere"
        rule = {1: "up", -1: "down", 0: None}[sign]
        follows = ("as the sign rule says" if moved == rule else
                   "against the sign rule: the rest of the batch pulled harder here" if rule else
                   "with an advantage of 0, only the rest of the batch moved it")
        said = f"It went {moved}: from {p_before:.3f} to {p_after:.3f} (Δ log π = {change:+.4f}), {follows}."
        (st.success if guess == moved else st.info)(("Right. " if guess == moved else "Not this time. ") + said)


step_panel(credit, f"{iteration}_{seed}", why)
