"""Policy heatmap: what the policy would do in every pole state, at any checkpoint of training."""

import numpy as np
import streamlit as st

from pages.cached import policy_picture, visited
from pages.links import publish, restore
from pages.shared import current_run
from pg.app.state import HeatmapState
from pg.envs.cartpole import X_THRESHOLD
from pg.viz.policy_charts import heatmap_spec, weight_decimals, weights_spec
from pg.viz.policy_grid import THETA_RANGE_DEG, linear_weights, theta_dot_range

RESOLUTION = 61  # cells per axis: fine enough for a smooth picture, 3,721 cells to draw
GREEDY_EPISODES = 8
MAX_DOTS = 1500  # more visited states than this only darken the picture
present = st.session_state.get("present", False)  # presenter mode: larger chart type

st.title("Policy heatmap")
run, source = current_run()
snapshots = run.checkpoints()
iterations = [iteration for iteration, _ in snapshots]
restore(HeatmapState, "heatmap_", allowed={"checkpoint": iterations})  # a link's settings
st.markdown(
    "Every square is one state of the pole. Its colour is the probability that the policy pushes "
    "the cart **:red[right]** rather than **:blue[left]**; the black line is where it cannot decide "
    "(P = 0.5). Slide through training to watch the policy take shape."
)
st.caption(f"Showing {source}: {len(snapshots)} checkpoints, updates {iterations[0]} to {iterations[-1]}.")

# --- controls -------------------------------------------------------------------------------
if st.session_state.get("heatmap_checkpoint") not in iterations:
    st.session_state.pop("heatmap_checkpoint", None)  # a different run: start at its final policy
controls = st.columns([2.4, 1.7, 1.7, 1.6], gap="medium", vertical_alignment="bottom")
iteration = controls[0].select_slider(
    "Training checkpoint (update)",
    options=iterations,
    value=iterations[-1],
    key="heatmap_checkpoint",
    help="The policy's parameters as they were after this many gradient updates.",
)
x = controls[1].slider(
    "Cart position x (m)",
    -X_THRESHOLD,
    X_THRESHOLD,
    0.0,
    0.1,
    format="%.1f",
    key="heatmap_x",
    help="The heatmap is a slice: the cart's position is held at this value in every square.",
)
x_dot = controls[2].slider(
    "Cart velocity (m/s)",
    -2.0,
    2.0,
    0.0,
    0.1,
    format="%.1f",
    key="heatmap_x_dot",
    help="The cart's velocity, also held fixed across the slice.",
)

overlay = controls[3].toggle("Visited states", value=True, key="heatmap_overlay")
publish(HeatmapState(None if iteration == iterations[-1] else iteration, x, x_dot, overlay), run=run)  # the link

# --- compute --------------------------------------------------------------------------------
policy = dict(snapshots)[iteration]
states = visited(policy, GREEDY_EPISODES)
# one theta_dot axis for the whole run (wide enough for the first and the final policy's
# states), so the picture does not jump as the slider moves
limit = max(theta_dot_range(visited(p, GREEDY_EPISODES))[1] for _, p in (snapshots[0], snapshots[-1]))
span = (-limit, limit)
grid, boundary = policy_picture(policy, x, x_dot, THETA_RANGE_DEG, span, RESOLUTION)

# --- draw -----------------------------------------------------------------------------------
picture, side = st.columns([1.45, 1], gap="large")
with picture:
    dots = states[:: -(-len(states) // MAX_DOTS)] if overlay else None  # every k-th state, at most MAX_DOTS
    st.vega_lite_chart(heatmap_spec(grid, boundary, dots, large=present), width="stretch")
    low, high = grid["p_right"].min(), grid["p_right"].max()
    st.caption(
        f"Slice at x = {x:.1f} m, cart velocity {x_dot:.1f} m/s. θ > 0: the pole leans right; a pole "
        "leaning or falling right needs a push right to get the cart back under it."
        + (f" Dots: the states of {GREEDY_EPISODES} greedy episodes of this checkpoint (at any x)." if overlay else "")
    )
with side:
    mean_length = len(states) / GREEDY_EPISODES
    returns = dict(zip(run.history.get("iteration", []), run.history.get("mean_return", [])))
    a, b = st.columns(2)
    a.metric(
        "Greedy return",
        f"{mean_length:.0f}",
        help=f"Mean length of {GREEDY_EPISODES} greedy episodes of this checkpoint (500 is the limit).",
    )
    if iteration in returns and np.isfinite(returns[iteration]):
        b.metric(
            "Training return", f"{returns[iteration]:.0f}", help="Mean return of the sampled episodes of this update."
        )
    if high - low < 0.1:
        st.info(
            f"Undecided everywhere on this slice: P(push right) is between {low:.3f} and {high:.3f}, "
            "so a sampled push is a coin flip. Training has not shaped this policy yet.",
            icon=":material/casino:",
        )
    if policy.kind == "linear":
        weights = linear_weights(policy)
        st.subheader("The weights")
        w, d = weights["weight"], weight_decimals(weights["weight"])
        st.latex(
            rf"\begin{{gathered}}P(\text{{right}}) = \sigma(z)\\ z = {w[0]:+.{d}f}\,x {w[1]:+.{d}f}\,\dot x\\"
            rf"{w[2]:+.{d}f}\,\theta {w[3]:+.{d}f}\,\dot\theta {w[4]:+.{d}f}\end{{gathered}}"
        )
        st.vega_lite_chart(weights_spec(weights, large=present, height=300 if present else 220), width="stretch")
        st.caption(
            "Each weight is W[:, right] − W[:, left]: a positive (red) weight makes a push right more likely "
            "as its feature grows. The features have different units, so compare signs, not sizes."
        )
    else:
        st.subheader("The network")
        st.info(
            f"This is a neural-network policy with {policy.params.size:,} parameters "
            f"(layers {' → '.join(str(n) for n in policy.layer_sizes)}): too many to show one by one. "
            "The heatmap is the picture of what they compute.",
            icon=":material/hub:",
        )
