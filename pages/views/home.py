"""Home: a trained agent balancing, policy gradients in three sentences, the one equation,
and the map of the pages."""

import streamlit as st

from pages.cached import shipped_replay
from pages.links import publish, restore
from pages.nav import PAGES
from pages.presenter import story_panel
from pages.shared import shipped_run
from pg.app.state import HomeState

restore(HomeState, "home_")  # Home takes no settings: this only warns about unknown ones

run = shipped_run()
st.title("Policy Gradients, Visually")  # drawn before the clip is made (on a cold start, it is)
left, right = st.columns([1.15, 1], gap="large")
with left:
    st.markdown(
        "**A policy gradient method learns by trial and error, directly in the space of behaviours.** "
        "The agent acts with a stochastic policy $\\pi_\\theta(a \\mid s)$, a probability for every action "
        "in every state, and plays whole episodes. Then it nudges $\\theta$ so that actions followed by "
        "more reward than usual become more likely and the others less likely, and plays again."
    )
    st.markdown("REINFORCE, the simplest such method, is one line of mathematics:")
    st.latex(
        r"\theta \leftarrow \theta + \alpha \, \frac{1}{N} \sum_{n=1}^{N} \sum_{t=0}^{T_n - 1}"
        r"\nabla_\theta \log \pi_\theta(a_t \mid s_t)\,\big(G_t - b(s_t)\big)"
    )
    st.caption(
        "α: learning rate · N: episodes per update · G_t: reward-to-go (the reward still to come "
        "after step t) · b(s_t): a baseline, what the agent expected · ∇ log π: which way to move θ "
        "to make a_t more likely."
    )
with right:
    episode, video = shipped_replay()
    st.video(video, format="video/mp4", autoplay=True, loop=True, muted=True)
    cfg = run.config or {}
    st.caption(
        f"The shipped agent (a {run.policy.kind} softmax policy, {run.policy.params.size} numbers) "
        f"in the episode shown: it {episode.summary}, taking the likelier push every step. "
        f"It learned this in {len(run.history.get('iteration', [])) or '?'} updates of REINFORCE."
    )

if st.session_state.get("present"):
    story_panel()  # presenter mode: the same pages as a story in teaching order, with Next and Back
else:
    st.subheader("Explore")
    others = PAGES[1:]  # every page but Home, in teaching order
    columns = [column for _ in range(0, len(others), 3) for column in st.columns(3)]  # rows of three
    for column, page in zip(columns, others):
        with column.container(border=True):
            st.page_link(page.script, label=f"**{page.title}**", icon=page.icon)
            st.caption(page.blurb)

publish(HomeState())
