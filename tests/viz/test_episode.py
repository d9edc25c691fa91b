"""pg.viz.episode's words and clips: every sentence about an episode is read off its states,
the untrained agent is shown sampling (the rule that keeps "untrained vs trained" honest), and
two clips sized together last equally long."""

from __future__ import annotations

import io

import numpy as np
import pytest

from pg.algo.reinforce import initial_policy
from pg.app.presets import preset_config
from pg.envs.cartpole import THETA_THRESHOLD, X_THRESHOLD
from pg.runs.checkpoint import load_run
from pg.viz.episode import Episode, agent_sentence, comparison_sentence, episode_video, run_episode

SHIPPED = "assets/policy.npz"


def test_the_mlp_presets_untrained_agent_fools_greedy_replay_but_not_sampled():
    """Its probabilities sit at 0.5, so argmax turns tiny logit differences into a fixed
    controller that balances; sampled, as the policy actually acts, it drops the pole."""
    untrained = initial_policy(preset_config("neural network"))
    greedy, sampled = run_episode(untrained, seed=0), run_episode(untrained, seed=0, greedy=False)
    assert greedy.length == 500, "the trap this rule avoids: a greedy untrained agent 'balances'"
    assert sampled.length < 500 and sampled.terminated
    assert abs(np.degrees(sampled.states[-1, 2])) > np.degrees(THETA_THRESHOLD)
    sentence = agent_sentence("untrained", sampled, greedy=False)
    assert sentence == (
        f"The untrained agent, sampling each push from its policy, dropped the pole at step "
        f"{sampled.length} (θ past 12°)."
    )
    assert "balanced" not in sentence


def test_summaries_are_read_off_the_states():
    fell = run_episode(load_run(SHIPPED).snapshots[0][1], seed=0, greedy=False)
    assert fell.summary == f"dropped the pole at step {fell.length} (θ past 12°)"
    assert fell.end_label == f"fell at step {fell.length}"
    balanced = run_episode(load_run(SHIPPED).policy, seed=0)
    assert balanced.truncated and not balanced.terminated
    assert balanced.summary == "balanced all 500 steps" and balanced.end_label == "balanced 500 steps"
    states = np.zeros((4, 4))
    states[-1, 0] = X_THRESHOLD + 0.1
    off = Episode(states, np.ones(3, int), np.full(3, 0.9), np.zeros(3), True, False)
    assert off.summary == "ran the cart off the track at step 3 (|x| > 2.4 m)"
    assert off.end_label == "off the track at step 3"


def test_comparison_names_whoever_lasted_longer():
    run = load_run(SHIPPED)
    short = run_episode(run.snapshots[0][1], seed=0, greedy=False)
    long = run_episode(run.policy, seed=0)
    assert comparison_sentence("untrained", short, "trained", long) == (
        f"The trained agent lasted {long.length - short.length} steps longer than the untrained one."
    )
    assert comparison_sentence("trained", short, "untrained", long).startswith("The untrained agent lasted")
    assert comparison_sentence("a", short, "b", short) == f"Both lasted {short.length} steps."


def test_two_clips_sized_together_last_equally_long():
    av = pytest.importorskip("av")
    run = load_run(SHIPPED)
    episodes = [run_episode(run.snapshots[0][1], seed=0, greedy=False), run_episode(run.policy, seed=2)]
    axis = max(e.length for e in episodes)
    n_frames = axis + 1 + 10
    last_shown, durations = [], []
    for episode in episodes:
        with av.open(io.BytesIO(episode_video(episode, n_frames=n_frames, axis_steps=axis))) as container:
            last_shown.append([float(f.time) for f in container.decode(video=0)][-1])
            durations.append(container.duration / av.time_base)
    assert last_shown == pytest.approx([(n_frames - 1) / 50] * 2), "the short one holds its last frame, not looping"
    assert durations[0] == pytest.approx(durations[1]) == pytest.approx(n_frames / 50, abs=1e-3)
