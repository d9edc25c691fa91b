"""pg.app.live_view: what the live page shows of a run, as plain values (the banner's level and
text, the caption, the chart columns), for a viewer who may be behind the computation."""

from __future__ import annotations

import numpy as np
import pytest
from live_helpers import finish, quick

from pg.algo.reinforce import TrainConfig
from pg.app.live_view import (
    Status,
    chart_columns,
    empty_columns,
    progress_text,
    pushes_right_share,
    run_status,
    solve_rule,
    untrained,
    untrained_config,
)
from pg.runs.collapse import COLLAPSE_UPDATES
from pg.runs.history import HISTORY_FIELDS
from pg.runs.live import LiveRun
from pg.viz.training_charts import BAND_FIELDS


# ---------------------------------------------------------------------------------------------
# The banner and the caption
# ---------------------------------------------------------------------------------------------
def test_run_status_before_anything_and_while_running():
    live = LiveRun(quick(max_updates=50, stop_on_solve=False, eval_every=1000))
    assert run_status(live) is None
    live.step()
    assert run_status(live) is None


def test_run_status_when_out_of_budget():
    live = finish(LiveRun(quick(max_updates=3, eval_every=1000)))
    assert run_status(live) == Status("unsolved", "Not solved: stopped by max updates at update 3.")


def test_run_status_when_solved_names_update_return_and_cost():
    live = finish(LiveRun(TrainConfig(seed=0)))
    s = live.seeds[0].solved
    status = run_status(live)
    assert status.level == "solved"
    assert s.confirm_return >= 475
    assert status.text == (f"Solved at update {s.iteration}: greedy mean return {s.eval_return:.1f} over 100 "
                           f"episodes ≥ 475, confirmed at {s.confirm_return:.1f} on 100 fresh episodes, after "
                           f"{s.wall_time:.2f} s of training, {s.episodes:,} episodes and {s.env_steps:,} env steps.")


def test_run_status_for_several_seeds_counts_the_solved_ones():
    live = LiveRun(TrainConfig(seed=0, max_updates=30), n_seeds=3)
    finish(live)
    status = run_status(live)
    solved = [s for s in live.seeds if s.solved]
    assert status.level == "solved" and status.text.startswith(f"{len(solved)} of 3 seeds solved: seed 0 at update ")
    for s in solved:
        assert f"seed {s.cfg.seed} at update {s.solved.iteration} ({s.solved.wall_time:.2f} s" in status.text


def test_run_status_for_a_viewer_behind_the_computation():
    """A session replaying a shared run sees only what it has reached."""
    live = finish(LiveRun(TrainConfig(seed=0)))
    solved_at = live.seeds[0].solved.iteration
    assert run_status(live, upto=solved_at - 1) is None
    assert run_status(live, upto=solved_at).level == "solved"
    many = finish(LiveRun(TrainConfig(seed=0), n_seeds=2))
    first = min(s.solved.iteration for s in many.seeds)
    assert run_status(many, upto=first - 1) is None
    assert run_status(many, upto=first) == Status("solved", "1 of 2 seeds solved so far.")


def test_progress_text():
    live = LiveRun(quick(max_updates=5, stop_on_solve=False))
    assert progress_text(live) == "update 0 · nothing trained yet"
    finish(live)
    h = live.history(0)
    assert progress_text(live) == f"update 5 · {int(h['env_steps'][-1]):,} env steps · {h['wall_time'][-1]:.2f} s of training"
    assert progress_text(live, upto=2).startswith(f"update 2 · {int(h['env_steps'][1]):,} env steps · ")
    assert progress_text(live, upto=99).startswith("update 5 · ")
    many = LiveRun(quick(max_updates=1), n_seeds=2)
    many.step()
    assert progress_text(many).endswith(" s of training (seed 3; 2 seeds in all)")


# ---------------------------------------------------------------------------------------------
# The chart columns: what a redraw sends, downsampled
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def single() -> LiveRun:
    """300 tiny updates of one seed, evaluated every 7 (complete evaluations)."""
    cfg = TrainConfig(batch_episodes=4, max_episode_steps=30, eval_every=7, eval_episodes=5, eval_early_stop=False,
                      max_updates=300, stop_on_solve=False, seed=2)
    return finish(LiveRun(cfg))


@pytest.fixture(scope="module")
def several() -> LiveRun:
    cfg = TrainConfig(batch_episodes=2, max_episode_steps=30, eval_every=5, eval_episodes=5, eval_early_stop=False,
                      max_updates=120, stop_on_solve=False, seed=4)
    return finish(LiveRun(cfg, n_seeds=3))


def test_chart_columns_of_one_seed_are_its_history_and_episode_returns(single):
    columns = chart_columns(single, max_points=400)
    assert set(columns) == {"max_steps", "solve_return", "history", "episodes"} and columns["max_steps"] == 30
    assert set(columns["history"]) == {*HISTORY_FIELDS, "ma_return"}
    full = single.history(0)
    for name, values in columns["history"].items():
        np.testing.assert_array_equal(values, full[name], err_msg=name)
    np.testing.assert_array_equal(columns["episodes"]["return"], single.episode_points(0, max_points=10_000)["return"])


def test_by_default_a_redraw_sends_at_most_200_points_per_line_and_600_dots(single):
    columns = chart_columns(single)
    assert len(columns["history"]["iteration"]) == 200 and len(columns["episodes"]["episode"]) == 600
    assert columns["history"]["iteration"][-1] == 300 and columns["episodes"]["episode"][-1] == 1200


def test_chart_columns_are_downsampled_whatever_the_length(single):
    columns = chart_columns(single, max_points=50)
    assert len(columns["history"]["iteration"]) <= 50 and len(columns["episodes"]["episode"]) <= 150
    assert columns["history"]["iteration"][0] == 1 and columns["history"]["iteration"][-1] == 300
    assert columns["episodes"]["episode"][-1] == 1200


def test_chart_columns_up_to_an_update(single):
    columns = chart_columns(single, upto=100, max_points=400)
    assert columns["history"]["iteration"].max() == 100
    assert columns["episodes"]["episode"].max() == 400


def test_chart_columns_of_several_seeds_are_a_band_per_charted_field(several):
    columns = chart_columns(several, max_points=400)
    assert set(columns) == {"max_steps", "solve_return", "bands", "seed_lines"}
    assert set(columns["bands"]) == set(BAND_FIELDS)
    for field, band in columns["bands"].items():
        expected = several.band(field, max_points=400)
        for name in ("iteration", "median", "low", "high"):
            np.testing.assert_array_equal(band[name], expected[name], err_msg=(field, name))
    small = chart_columns(several, upto=60, max_points=20)["bands"]["ma_return"]
    assert small["iteration"].max() == 60 and len(small["iteration"]) <= 20


def test_run_status_when_the_run_failed_says_what_happened_not_out_of_budget(monkeypatch):
    from pg.algo.policies import SoftmaxPolicy

    def out_of_memory(self, *args, **kwargs):
        raise MemoryError("Unable to allocate 12.2 GiB")

    live = LiveRun(quick(max_updates=50, stop_on_solve=False))
    live.step()
    monkeypatch.setattr(SoftmaxPolicy, "grad_log_prob", out_of_memory)
    finish(live)
    assert run_status(live) == Status(
        "failed", "The run ran out of memory at update 2: Unable to allocate 12.2 GiB. It stopped; what it recorded "
                  "before is kept. Ask for less memory (fewer episodes per update, a shorter episode time limit, fewer "
                  "evaluation episodes or seeds) or press Start to try again.")
    assert run_status(live, upto=1).level == "failed", "a viewer behind the run is told too"


def test_progress_at_a_fractional_place_counts_the_next_batch_shown_so_far(single):
    assert progress_text(single, upto=0.5) == "update 0 + 2 of 4 episodes of update 1 · nothing trained yet"
    text = progress_text(single, upto=10.75)
    steps = int(single.history(0)["env_steps"][9])
    assert text.startswith(f"update 10 + 3 of 4 episodes of update 11 · {steps:,} env steps · ")
    assert progress_text(single, upto=10.0).startswith("update 10 · ")
    assert progress_text(single, paced=True).endswith(
        f" · computed in {single.compute_seconds:.2f} s; shown at human pace")
    assert chart_columns(single, upto=10.75)["episodes"]["episode"].max() == 43


def test_progress_names_the_seed_it_follows(several):
    assert progress_text(several, seed=2).endswith("(seed 6; 3 seeds in all)")


def test_empty_columns_chart_nothing_but_the_axes_and_bars():
    from pg.viz.training_charts import training_datasets

    for n_seeds in (1, 3):
        data = training_datasets(**empty_columns(TrainConfig(max_episode_steps=200), n_seeds))
        assert list(data["bars"]["value"]) == [195.0]
        assert all(len(frame) == 0 for name, frame in data.items() if name != "bars")


def test_a_collapsed_run_says_what_happened_and_what_to_try():
    cfg = TrainConfig(policy="mlp", optimizer="sgd", lr=5.0, seed=0, max_updates=60)
    live = finish(LiveRun(cfg))
    seed = live.seeds[0]
    assert seed.stop_reason == "collapsed" and live.n == COLLAPSE_UPDATES + 2  # collapsed at update 3
    status = run_status(live)
    assert status.level == "collapsed"
    assert status.text.startswith(f"Collapsed at update {live.n}: the policy became nearly deterministic before "
                                  f"solving (entropy below 0.05 nats for the last {COLLAPSE_UPDATES} updates, 0.000 now)")
    assert f"pushes left in {1 - pushes_right_share(seed.policy):.0%} of the heatmap's states" in status.text
    assert "smaller learning rate" in status.text and "entropy bonus" in status.text
    several = finish(LiveRun(cfg, n_seeds=2))
    text = run_status(several).text
    assert text.startswith("Collapsed without solving: seed 0 at update 10, seed 1 at update")


def test_the_untrained_agent_is_computed_from_the_config_and_deterministic():
    cfg = TrainConfig(eval_episodes=20)
    first = untrained(cfg)
    assert first == untrained(cfg) and first.episodes == 20
    assert 8 <= first.sampled_mean < 100, "an untrained policy drops the pole fast"
    assert first != untrained(TrainConfig(eval_episodes=20, seed=1))


def test_the_solve_rule_is_said_with_the_config_values():
    assert solve_rule(TrainConfig(eval_episodes=30, solve_return=400.0)) == (
        "Solved means: a greedy evaluation on 30 episodes averages at least 400, and a second one on 30 fresh "
        "episodes, run at once, confirms it.")


def test_the_untrained_agent_reads_only_its_own_fields():
    """Its cache key: a learning rate or a baseline changes nothing about the untrained agent."""
    cfg = TrainConfig(eval_episodes=20, lr=0.03, baseline="none", gamma=0.9, batch_episodes=4, seed=5)
    key = untrained_config(cfg)
    assert key == untrained_config(TrainConfig(eval_episodes=20, seed=5, optimizer="sgd", entropy_coef=0.1))
    assert key.lr == TrainConfig().lr and key.seed == 5 and key.eval_episodes == 20
    assert untrained(key) == untrained(cfg)
    for other in (TrainConfig(eval_episodes=20, seed=6), TrainConfig(eval_episodes=20, seed=5, policy="mlp"),
                  TrainConfig(eval_episodes=20, seed=5, max_episode_steps=10)):
        assert untrained_config(other) != key and untrained(other) != untrained(cfg)
