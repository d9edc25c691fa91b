"""The gradient theorem: the derivation step by step (pg.lessons.derivation.STEPS), each step beside a
numerical check on a problem solved exactly. Each step's check is cached by its own inputs
(pages/theorem_compute.py) and drawn by pages/theorem_steps.py, theorem_baseline_steps.py and
theorem_trainer_steps.py; the controls inside the page rerun
their own part alone (st.fragment), and the link to this view is published from the fragment that
holds b and the learning rate."""

import inspect

import streamlit as st

from pages import theorem_baseline_steps as baseline_steps
from pages import theorem_steps as steps
from pages import theorem_trainer_steps as trainer_steps
from pages.links import restore
from pages.theorem_text import PARTS, count_in_words
from pg.algo.reinforce import reinforce_gradient, surrogate_loss
from pg.app.state import TheoremState
from pg.lessons import derivation

NAMES = {"tiny_cartpole": "Tiny CartPole (3 states, 4 steps)", "bandit": "Three-armed bandit"}
THETA_TEX = {"tiny_cartpole": [r"$\theta_\text{left}$", r"$\theta_\text{up}$", r"$\theta_\text{right}$"],
             "bandit": [r"$\theta_0$", r"$\theta_1$", r"$\theta_2$"]}

ss = st.session_state
restore(TheoremState, "theorem_")  # a link's settings, on the first run of a visit
with st.sidebar:
    problem = st.radio("**The problem**", list(NAMES), format_func=NAMES.get, key="theorem_problem")
    theta = tuple(st.slider(label, -3.0, 3.0, default, 0.1, key=f"theorem_logit_{i}")
                  for i, (label, default) in enumerate(zip(THETA_TEX[problem], (0.5, 0.0, -0.5))))
    episodes = int(st.select_slider("Episodes per estimate, N", [2**k for k in range(9)], value=16,
                                    key="theorem_episodes"))
    seed = int(st.number_input("Seed", 0, 1_000_000, 0, 1, key="theorem_seed"))

setup = derivation.make_setup(problem, theta)
st.title("The gradient theorem")
st.markdown("Why does $\\nabla_\\theta \\log \\pi_\\theta(a_t \\mid s_t)\\,G_t$ point uphill? "
            f"{count_in_words(len(derivation.STEPS))} steps from the objective to the update that trains the "
            f"agent as it runs, each checked beside it on {setup.describe()}")
st.caption("Move the sliders in the sidebar: every number and chart below is recomputed, none is typed in.")

# Three tabs, and only the open one's steps are computed and drawn (on_change="rerun"): a sidebar
# change recomputes a third of the page, and a first visit draws a third of it (issue "Instant")
for key in ("theorem_b", "theorem_lr", "theorem_predict"):  # the values of widgets in a closed tab are kept
    if key in ss:
        ss[key] = ss[key]
if ss.get("theorem_part") in PARTS:  # a link's tab (restore), on the first run of a visit
    ss["theorem_tab"] = PARTS[ss.pop("theorem_part")]
tabs = dict(zip(PARTS, st.tabs(list(PARTS.values()), key="theorem_tab", on_change="rerun")))
if tabs["theorem"].open:
    with tabs["theorem"]:
        steps.objective(setup, problem, theta, episodes, seed)
        steps.log_derivative(setup, problem, theta)
        steps.dynamics(setup, problem, theta, seed)
        steps.estimator(setup, problem, theta, episodes, seed)
        steps.reward_to_go(setup, problem, theta, episodes, seed)
if tabs["baselines"].open:
    with tabs["baselines"]:
        baseline_steps.baseline(setup, problem, theta, episodes, seed)  # ... to the end of step 7, and the link
        baseline_steps.loss_device(setup, problem, theta, episodes, seed)
else:
    baseline_steps.publish_view(problem, theta, episodes, seed, next(p for p, tab in tabs.items() if tab.open))
if tabs["trainer"].open:
    with tabs["trainer"]:
        trainer_steps.discount(setup, problem, theta)
        trainer_steps.normalise(setup, problem, theta, episodes, seed)
        trainer_steps.adam(setup, problem, theta, episodes, seed)
        trainer_steps.on_policy_step(setup, problem, theta)
        trainer_steps.performance(setup, problem, theta)

with st.expander("The code that runs: `pg.algo.reinforce.reinforce_gradient` and `surrogate_loss`", icon=":material/code:"):
    st.code("\n\n".join(inspect.getsource(f) for f in (reinforce_gradient, surrogate_loss)), language="python")
