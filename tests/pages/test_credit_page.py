"""The Credit assignment page under AppTest: the episode's numbers and the agreement count are
computed (recomputed here through pg), the step slider moves the charts' rule and the metrics,
the predict-then-check question answers both ways from the measured change, and a bad seed or a
run without settings still gives a working page."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pytest
from app_helpers import open_page, texts

from pg.algo.policies import make_policy
from pg.lessons.credit import config_of, credit_assignment
from pg.runs.checkpoint import Run, load_run

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture(scope="module")
def shipped():
    from pages.shared import SHIPPED_POLICY

    return load_run(SHIPPED_POLICY)


def expected(run, iteration: int, seed: int):
    return credit_assignment(dict(run.checkpoints())[iteration], config_of(run.config), seed, warm=iteration > 0)


def rule_steps(at) -> list[float]:
    """The t of the dashed step rule in each chart, from the data sent to the browser."""
    steps = []
    for chart in at.get("vega_lite_chart"):
        spec = json.loads(chart.proto.spec)
        data = {d.name: pa.ipc.open_stream(d.data.data).read_all().to_pandas() for d in chart.proto.datasets}
        for layer in spec["layer"]:
            mark = layer["mark"]["type"] if isinstance(layer["mark"], dict) else layer["mark"]
            if mark == "rule" and "x" in layer["encoding"]:
                steps.append(float(data[layer["data"]["name"]]["t"].iloc[0]))
    return steps


def metric(at, label: str) -> str:
    (value,) = [m.value for m in at.metric if m.label == label]
    return value


def test_the_page_shows_the_episode_the_count_and_a_step_and_asks_before_it_tells(shipped):
    """One visit: the default view, then the step slider moves the rule and the numbers, and the
    question answers both ways."""
    at = open_page("credit")
    assert at.title[0].value == "Credit assignment"
    iteration = at.select_slider(key="credit_checkpoint").value
    assert iteration == 1, "an early checkpoint by default: short episodes, advantages of both signs"
    credit = expected(shipped, 1, 0)
    text = texts(at)
    assert f"lasted **{credit.length} steps**" in text
    assert f"{int((credit.adv_sign > 0).sum())} with a positive advantage" in text
    assert f"at **{credit.agree_count} of {credit.signed_steps} steps**" in text
    assert 0 < credit.agree_count < credit.signed_steps  # the page says so: not every step follows the rule
    assert "Adam starts afresh" in text and f"{credit.param_changes[1]:.3f})" in text
    assert len(at.get("vega_lite_chart")) == 2 and len(at.get("image")) == 1
    assert rule_steps(at) == [0.0, 0.0]
    assert at.slider(key="credit_step").max == credit.length - 1
    assert metric(at, "Return Gₜ") == f"{credit.G[0]:.2f}"

    t = int(np.flatnonzero(credit.adv_sign < 0)[0])  # a step with a negative advantage
    at.slider(key="credit_step").set_value(t).run()
    assert not at.exception
    assert rule_steps(at) == [float(t), float(t)]
    assert metric(at, "Return Gₜ") == f"{credit.G[t]:.2f}" and metric(at, "Baseline bₜ") == f"{credit.b[t]:.2f}"
    assert metric(at, "Advantage") == f"{credit.adv[t]:+.2f}"
    assert metric(at, "New π(aₜ|sₜ)") == f"{credit.p_after[t]:.3f}"
    (question,) = at.radio
    assert question.value is None, "no answer by default"
    assert f"at step {t} the advantage is negative" in question.label
    assert not at.success and not at.info, "nothing is revealed before an answer"
    moved = "up" if credit.delta_logp[t] > 0 else "down"
    question.set_value(moved).run()
    (right,) = at.success
    assert right.value.startswith("Right.") and f"It went {moved}" in right.value
    assert f"{credit.delta_logp[t]:+.4f}" in right.value
    assert ("as the sign rule says" in right.value) == (moved == "down")
    at.radio[0].set_value("down" if moved == "up" else "up").run()
    (wrong,) = at.info
    assert wrong.value.startswith("Not this time.") and f"It went {moved}" in wrong.value


def test_seed_and_checkpoint_change_the_episode_and_a_bad_seed_falls_back(shipped):
    at = open_page("credit")
    at.number_input(key="credit_seed").set_value(3).run()
    assert f"lasted **{expected(shipped, 1, 3).length} steps**" in texts(at)
    at.select_slider(key="credit_checkpoint").set_value(5).run()
    credit = expected(shipped, 5, 3)
    assert f"at **{credit.agree_count} of {credit.signed_steps} steps**" in texts(at)
    assert at.slider(key="credit_step").max == credit.length - 1
    at.number_input(key="credit_seed").set_value(-4).run()  # out of range: the widget keeps a valid seed
    assert not at.exception
    seed = at.number_input(key="credit_seed").value
    assert 0 <= seed and f"lasted **{expected(shipped, 5, seed).length} steps**" in texts(at)
    at.select_slider(key="credit_checkpoint").set_value(40).run()  # every episode reaches the limit: G_t = b_t
    final = expected(shipped, 40, seed)
    assert final.signed_steps == 0 and "the sign rule has nothing to say here" in texts(at)
    assert f"by up to {np.abs(final.delta_logp).max():.3g}." in texts(at)
    at.slider(key="credit_step").set_value(300).run()
    at.select_slider(key="credit_checkpoint").set_value(5).run()  # a shorter episode: the step is clamped to it
    assert not at.exception and at.slider(key="credit_step").value == expected(shipped, 5, seed).length - 1


def test_a_file_without_settings_or_snapshots_uses_the_defaults_and_says_so():
    at = open_page("credit")
    policy = make_policy("linear", seed=3, init_scale=0.5)
    at.session_state["run"] = Run(policy=policy)
    at.run()
    assert not at.exception
    assert "keeps no training settings: the defaults are used" in texts(at)
    assert "This run kept one checkpoint, update 0." in texts(at)
    credit = credit_assignment(policy, config_of(None), 0)
    assert f"lasted **{credit.length} steps**" in texts(at)
