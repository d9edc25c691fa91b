"""Replay: the agent before and after training, side by side, with a nudge to test it."""

import streamlit as st

from pages.cached import clips_ahead, episode, nudge_range, start_replays
from pages.links import publish, restore
from pages.shared import current_run
from pg.app.state import ReplayState
from pg.envs.cartpole import INIT_BOUND
from pg.viz.episode import MAX_NUDGE, agent_sentence, clip_options, comparison_sentence
from pg.viz.policy_charts import nudge_range_spec, traces_spec

MAX_SEED = 99_999
NUDGE = (100, 1.0)  # the nudge switch's first step and strength
STATE_SLIDERS = [
    ("x (m)", "x"),
    ("cart velocity (m/s)", "x_dot"),
    ("θ (rad)", "theta"),
    ("angular vel. (rad/s)", "theta_dot"),
]

st.title("Replay")
run, source = current_run()
snapshots = run.checkpoints()
(first_iteration, untrained), (last_iteration, trained) = snapshots[0], snapshots[-1]
st.markdown(
    "The same start, two agents: before and after training. The arrow is the push each chose, "
    "its length how sure it was. The untrained agent samples each push from its policy; under each "
    "cart, the pole angle runs on one time axis for both. Nudge the pole and see whether the trained "
    "policy catches it."
)
st.caption(
    f"Showing {source}."
    + (" It kept no earlier checkpoint, so both sides show its final policy." if len(snapshots) == 1 else "")
)

# --- controls -------------------------------------------------------------------------------
restore(ReplayState, "replay_")  # a link's settings, on the first run of a visit
row = st.columns(4, gap="medium", vertical_alignment="bottom")
seed = row[0].number_input(
    "Episode seed",
    min_value=0,
    max_value=MAX_SEED,
    value=0,
    step=1,
    key="replay_seed",
    help="Draws the start state (like Gymnasium's reset) and, in sampled mode, the actions.",
)
by_hand = row[1].toggle(
    "Set the start by hand",
    value=False,
    key="replay_start_by_hand",
    help="Off: the seed draws the start state. Every start is within ±0.05 of upright and still, as in Gymnasium's CartPole.",
)
mode = row[2].radio(
    "Trained agent's actions",
    ["greedy", "sampled"],
    horizontal=True,
    key="replay_mode",
    help="Greedy: always the more likely push. Sampled: draw each push from the policy, as in training. "
    "The untrained agent always samples: taking its likelier push would turn differences of a hair "
    "around 0.5 into a fixed rule it never learned.",
)
nudge_on = row[3].toggle("Nudge the pole", value=False, key="replay_nudge")

episode_kwargs = {"seed": int(seed), "greedy": mode == "greedy"}
if by_hand:
    episode_kwargs["init_state"] = [
        column.slider(label, -INIT_BOUND, INIT_BOUND, 0.0, 0.01, format="%.2f", key=f"replay_{name}")
        for column, (label, name) in zip(st.columns(4, gap="medium"), STATE_SLIDERS)
    ]
untrained_kwargs = {**episode_kwargs, "greedy": False}  # a stochastic policy, shown as one
if nudge_on:
    _, when, strength = st.columns([2, 1, 1], gap="medium")  # under the nudge switch
    nudge_step = when.slider("Nudge at step", 1, 499, NUDGE[0], key="replay_nudge_step")
    recovery = nudge_range(trained, **episode_kwargs, nudge_step=nudge_step)
    episode_kwargs["nudge_step"] = nudge_step
    episode_kwargs["nudge"] = strength.slider(
        "Strength (rad/s)",
        -MAX_NUDGE,
        MAX_NUDGE,
        NUDGE[1],
        0.1,
        format="%+.1f",
        key="replay_nudge_strength",
        help="Added to the pole's angular velocity at that step; positive flicks the pole to the right. "
        + recovery.sentence(),
    )
    untrained_kwargs.update(nudge_step=nudge_step, nudge=episode_kwargs["nudge"])
    with strength:  # the slider's mark: the strengths it recovers from, and the one chosen
        large = st.session_state.get("present", False)
        st.vega_lite_chart(nudge_range_spec(recovery.low, recovery.high, episode_kwargs["nudge"], MAX_NUDGE, large),
                           width="stretch")
    if recovery.recovers:
        st.caption(recovery.sentence() + " Green, under the slider: the strengths it recovers from.")
    else:
        st.warning(recovery.sentence())

start = dict(zip(("x", "x_dot", "theta", "theta_dot"), episode_kwargs.get("init_state", [0.0] * 4)))
nudge = {"nudge_step": episode_kwargs["nudge_step"], "nudge_strength": episode_kwargs["nudge"]} if nudge_on else {}
publish(ReplayState(seed=int(seed), start_by_hand=by_hand, mode=mode, nudge=nudge_on, **start, **nudge),
        run=run)  # the link, with the run shown

# --- the two agents: one time axis, clips of one duration ---------------------------------
sides = [
    ("untrained", first_iteration, untrained, untrained_kwargs),
    ("trained", last_iteration, trained, episode_kwargs),
]
episodes = [episode(policy, **kwargs) for _, _, policy, kwargs in sides]
video_options = clip_options(episodes)  # one duration, one time axis
axis_steps = video_options["axis_steps"]
settings = f"seed {seed}, trained {mode}, start {episode_kwargs.get('init_state', 'drawn from the seed')}" + (
    f", nudge {episode_kwargs['nudge']:+.1f} rad/s at step {episode_kwargs['nudge_step']}" if nudge_on else ""
)
st.markdown(
    " ".join(agent_sentence(name, e, kwargs["greedy"]) for (name, _, _, kwargs), e in zip(sides, episodes))
    + " " + comparison_sentence("untrained", episodes[0], "trained", episodes[1])
)
# the clips not made yet are made beside this thread (both at once) while it draws the charts
_, finish_clips = start_replays([(policy, video_options, kwargs) for _, _, policy, kwargs in sides])
tops = []
for column, shown in zip(st.columns(2, gap="large"), episodes):
    with column:
        tops.append(st.container())  # the metric and the clip, filled in once the clips are made
        large = st.session_state.get("present", False)
        st.vega_lite_chart(traces_spec(shown, large=large, steps=axis_steps), width="stretch")
        if nudge_on and shown.length <= episode_kwargs["nudge_step"]:
            st.caption(f"This episode ended before the nudge at step {episode_kwargs['nudge_step']}.")
for top, (name, iteration, _, kwargs), shown, video in zip(tops, sides, episodes, finish_clips()):
    with top:
        st.metric(
            f"**{name.capitalize()}** · update {iteration} · {'greedy' if kwargs['greedy'] else 'sampled'}",
            f"{shown.length} steps",
            delta=shown.outcome,
            delta_color="off",
            delta_arrow="off",
            help="Episode length: one point of reward per step balanced.",
        )
        # the alt text names every setting: a new setting is a new element, which autoplays again
        # (Streamlit plays an element's video by itself only the first time it draws it)
        st.video(video, format="video/mp4", autoplay=True, loop=True, muted=True, alt=f"{name} agent: {settings}")
# what a visitor is likely to pick next, made while they watch: the next seed, the other mode,
# and the nudge switched on
ahead = [[(untrained, untrained_kwargs), (trained, {**episode_kwargs, "greedy": not episode_kwargs["greedy"]})]]
if seed < MAX_SEED:
    ahead.insert(0, [(policy, {**kwargs, "seed": int(seed) + 1}) for _, _, policy, kwargs in sides])
if not nudge_on:
    ahead.append([(policy, {**kwargs, "nudge_step": NUDGE[0], "nudge": NUDGE[1]}) for _, _, policy, kwargs in sides])
clips_ahead(ahead)
st.caption(
    "Both clips last equally long and share the time axis of the charts: a shorter episode holds its "
    "last frame. Dashed lines: where the episode ends (θ beyond ±12°, the cart beyond ±2.4 m). "
    "Orange line: the nudge. The untrained agent is the earliest saved checkpoint of the run."
)
