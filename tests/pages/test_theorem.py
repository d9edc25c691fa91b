"""The theorem page through the entry file (AppTest): what it shows, that every widget
changes what it should (and only that), and that each step is computed only when its own
inputs change (call counters on the pg functions)."""

import functools
import inspect
import re
from collections import Counter
from types import SimpleNamespace

import numpy as np
import pytest
from app_helpers import chart_specs, open_page, texts

from pages import theorem_compute
from pages.theorem_text import PARTS
from pg.algo.reinforce import reinforce_gradient
from pg.lessons import adam_scale, baseline_curve, derivation, discounting, normalisation, on_policy, rmse, tightened
from pg.lessons.derivation import make_setup


def metric(at, label_start: str, nth: int = 0) -> str:
    values = [m.value for m in at.metric if m.label.startswith(label_start)]
    assert values, f"no metric labelled {label_start!r}: {[m.label for m in at.metric]}"
    return values[nth]


def table(at, first_index: str):
    for t in at.table:
        if str(t.value.index[0]) == first_index:
            return t.value
    raise AssertionError(f"no table whose first row is {first_index!r}")


def assert_no_nan_shown(at):
    shown = texts(at) + " ".join(t.value.to_string() for t in at.table) + " ".join(str(m.delta) for m in at.metric)
    assert not re.search(r"\bnan\b|\binf\b", shown, re.IGNORECASE), "a NaN or inf reached the page"


def show(at, part: str):
    """Open one of the page's tabs (only the open tab's steps are computed and drawn)."""
    at.session_state["theorem_tab"] = PARTS[part]
    at.run()
    assert not at.exception
    return at


KINDS = ("title", "metric", "table", "latex", "subheader", "markdown", "caption", "success", "info", "warning", "error")


def whole(at) -> SimpleNamespace:
    """The elements of all three tabs, each opened in turn; the first tab is open again after."""
    page = SimpleNamespace(**{kind: [] for kind in KINDS}, specs=[])
    for part in PARTS:
        show(at, part)
        for kind in KINDS:
            getattr(page, kind).extend(getattr(at, kind))
        page.specs.extend(chart_specs(at))
    show(at, "theorem")
    return page


@pytest.fixture(scope="module")
def at():
    return whole(open_page("theorem"))


def test_the_derivation_is_on_the_page(at):
    assert_no_nan_shown(at)
    assert at.title[0].value == "The gradient theorem"
    shown = [e.value.removeprefix("$$").removesuffix("$$").strip() for e in at.latex]  # st.latex wraps in $$
    assert shown == [tex for _, texs in derivation.STEPS for tex in texs]
    headings = [h.value for h in at.subheader]
    assert headings == [f"{i}. {title}" for i, (title, _) in enumerate(derivation.STEPS, start=1)]


def test_every_number_comes_from_pg_derivation(at):
    checks = derivation.all_checks("tiny_cartpole", (0.5, 0.0, -0.5), 16, 0)
    assert metric(at, "J(θ), exact") == f"{checks.objective.J_exact:.4f}"
    assert metric(at, "mean return, N = 16") == f"{checks.objective.J_sample:.3f}"
    assert metric(at, "variance with R(τ)") == f"{checks.variance.rows[0].variance:.4g}"
    rm = rmse.rmse_study(checks.setup, tightened.stream(0, "rmse"))
    assert f"slope is **{rm.slope:.3f}**, 95% interval **{rm.slope_low:.3f} to {rm.slope_high:.3f}**" in texts(at)
    mean_vs_sum = table(at, "backprop")
    assert mean_vs_sum.iloc[0, 1] == f"{checks.mean_vs_sum.mean_ratio:.10f}"
    assert mean_vs_sum.iloc[2, 1].endswith(f"{checks.mean_vs_sum.expected_mean_ratio:.10f}")
    exact = table(at, "sample mean").loc["exact (enumeration)"]
    assert all(abs(float(v)) < 1e-12 for v in exact)


def test_the_page_has_three_tabs_and_draws_only_the_open_ones_steps():
    at = open_page("theorem")
    assert [t.label for t in at.tabs] == list(PARTS.values())
    counts = [len(show(at, part).subheader) for part in PARTS]
    assert counts == [5, 3, 5] and sum(counts) == len(derivation.STEPS)
    assert [c.value for c in at.expander[0].code], "the code is under every tab"


def test_the_open_tab_is_in_the_link():  # (and a link opens it: tests/pages/test_deep_links.py)
    at = show(open_page("theorem"), "trainer")
    assert at.query_params["part"] == "trainer"
    assert "part" not in show(at, "theorem").query_params  # the first tab is the default: not written


def test_b_and_the_learning_rate_keep_their_values_while_their_tab_is_closed():
    at = show(open_page("theorem"), "baselines")
    at.slider(key="theorem_b").set_value(-1.5).run()
    at.slider(key="theorem_lr").set_value(1.0).run()
    show(at, "trainer")
    at.number_input(key="theorem_seed").set_value(3).run()
    assert show(at, "baselines").slider(key="theorem_b").value == -1.5 and at.slider(key="theorem_lr").value == 1.0


def test_charts_and_code(at):
    specs = at.specs
    assert len(specs) == 4
    marks = [[la["mark"]["type"] for la in s["layer"]] for s in specs]
    assert marks[0][0] == "bar"  # exact vs one estimate
    assert marks[1][:2] == ["line", "circle"] and specs[1]["layer"][1]["encoding"]["y"]["scale"]["type"] == "log"  # RMSE
    assert marks[2][:3] == ["line", "rule", "circle"] and marks[2][-2:] == ["rule", "text"]  # Var(b), your b last
    assert specs[2]["layer"][-1]["mark"]["text"] == "your b = 2"
    assert marks[3][:3] == ["rule", "bar", "text"]  # the signal ||grad J||^2, the variances, labelled
    (code,) = [c.value for c in open_page("theorem").expander[0].code]
    assert code.startswith("def reinforce_gradient") and "\ndef surrogate_loss" in code
    assert inspect.getsource(reinforce_gradient) in code  # the code shown is the code that runs


def test_every_widget_changes_what_it_should():
    at = open_page("theorem")
    J0, sample0 = metric(at, "J(θ), exact"), metric(at, "mean return")
    after0 = metric(show(at, "baselines"), "J after")
    show(at, "theorem")

    at.number_input(key="theorem_seed").set_value(7).run()
    assert not at.exception
    assert metric(at, "J(θ), exact") == J0  # exact values do not depend on the seed
    assert metric(at, "mean return") != sample0  # the samples do

    for i in range(3):
        before = metric(at, "J(θ), exact")
        at.slider(key=f"theorem_logit_{i}").set_value(1.0 + i * 0.3).run()
        assert not at.exception
        assert metric(at, "J(θ), exact") != before, f"theorem_logit_{i} did not change J"
    assert "0.73 (leans left)" in texts(at)  # sigmoid(1.0): the intro states pi(right | s)

    at.select_slider(key="theorem_episodes").set_value(64).run()
    assert not at.exception
    assert metric(at, "mean return, N = 64")
    J_now = metric(at, "J(θ), exact")
    show(at, "baselines")
    assert table(at, "backprop").iloc[2, 1].startswith("64/")  # N / sum_n T_n with the new N

    before = table(at, "sample mean")
    at.slider(key="theorem_b").set_value(-4.0).run()
    after = table(at, "sample mean")
    assert not after.equals(before)
    np.testing.assert_allclose(after.loc["sample mean"].astype(float), -2 * before.loc["sample mean"].astype(float),
                               atol=1e-4)  # the same samples, b = -4 instead of 2

    before = metric(at, "J after")
    at.slider(key="theorem_lr").set_value(1.5).run()
    assert metric(at, "J after") != before and metric(at, "J before") == J_now

    show(at, "theorem")
    at.radio(key="theorem_problem").set_value("bandit").run()
    assert not at.exception
    assert "three-armed bandit" in texts(at)
    assert [s.label for s in at.slider][-3:] == [r"$\theta_0$", r"$\theta_1$", r"$\theta_2$"]
    assert metric(at, "dynamics terms") == "0.0000"  # a bandit has no dynamics
    assert metric(at, "variance with R(τ)") == metric(at, "variance with G_t")  # one step: G_0 = R
    assert metric(at, "J(θ), exact") != J0 and after0
    assert_no_nan_shown(whole(at))


def test_degenerate_batches_show_no_nan():
    """N = 1 has no standard error; a batch whose advantages all vanish has no direction."""
    at = open_page("theorem")
    at.select_slider(key="theorem_episodes").set_value(1).run()
    assert not at.exception
    assert_no_nan_shown(at)
    for i, value in enumerate((3.0, 3.0, 3.0)):
        at.slider(key=f"theorem_logit_{i}").set_value(value)
    at.select_slider(key="theorem_episodes").set_value(2).run()
    for seed in range(4):
        at.number_input(key="theorem_seed").set_value(seed).run()
        assert not at.exception
        assert_no_nan_shown(whole(at))


# --- each step computed only when its own inputs change ----------------------------------------
COUNTED = {  # the pg function behind each step's cached call (pages/theorem_compute.py)
    derivation: ("objective_check", "log_derivative_check", "dynamics_check", "estimate_check", "variance_study",
                 "baseline_zero_check", "update_check", "loss_device_check", "mean_vs_sum_check"),
    rmse: ("rmse_study",), baseline_curve: ("variance_curve", "measured_points"), discounting: ("discounting_table",),
    normalisation: ("normalisation_study",), adam_scale: ("adam_scale_study",), on_policy: ("on_policy_check", "loss_check"),
}
ALL_COUNTED = {name for names in COUNTED.values() for name in names}
EXACT_ONLY = {"log_derivative_check", "variance_curve", "discounting_table", "on_policy_check", "loss_check"}  # no seed
IN_PART = {  # what each tab computes (the variance study is drawn in steps 5 and 6)
    "theorem": {"objective_check", "log_derivative_check", "dynamics_check", "estimate_check", "rmse_study",
                "variance_study"},
    "baselines": {"variance_study", "baseline_zero_check", "variance_curve", "measured_points", "update_check",
                  "loss_device_check", "mean_vs_sum_check"},
    "trainer": {"discounting_table", "normalisation_study", "adam_scale_study", "on_policy_check", "loss_check"},
}
READ_N = {"objective_check", "estimate_check", "variance_study", "update_check", "loss_device_check",
          "mean_vs_sum_check", "normalisation_study", "adam_scale_study"}  # the steps that average N episodes


def _count(monkeypatch) -> Counter:
    counter = Counter()
    for module, names in COUNTED.items():
        for name in names:
            original = getattr(module, name)

            def counted(*args, _name=name, _original=original, **kwargs):
                counter[_name] += 1
                return _original(*args, **kwargs)

            monkeypatch.setattr(module, name, functools.wraps(original)(counted))
    return counter


@pytest.fixture
def calls(monkeypatch):
    """A Counter of calls to each step's pg function, counted from the moment the test resets it."""
    return _count(monkeypatch)


def test_only_the_open_tabs_steps_are_computed_and_each_tab_once():
    theorem_compute.clear()  # every step computes on its first showing, whatever ran before in this process
    calls = None
    with pytest.MonkeyPatch.context() as patch:
        calls = _count(patch)
        at = open_page("theorem")
        assert set(calls) == IN_PART["theorem"] and set(calls.values()) == {1}
        for part in ("baselines", "trainer"):
            calls.clear()
            show(at, part)
            assert set(calls) == IN_PART[part] - IN_PART["theorem"] and set(calls.values()) == {1}
        assert set().union(*IN_PART.values()) == ALL_COUNTED
        calls.clear()
        show(at, "theorem")
        assert dict(calls) == {}  # back to a tab already computed: all hits


def test_a_steps_own_control_recomputes_that_step_alone(calls):
    at = show(open_page("theorem"), "baselines")
    calls.clear()
    at.slider(key="theorem_b").set_value(-3.0).run()
    assert dict(calls) == {"baseline_zero_check": 1}  # step 6's b: only its zero-mean check

    calls.clear()
    at.slider(key="theorem_lr").set_value(1.25).run()
    assert dict(calls) == {"update_check": 1}  # step 7's learning rate: only the update

    calls.clear()
    at.radio(key="theorem_predict").set_value("go up").run()
    assert dict(calls) == {}  # the question reads the exact curve already computed


@pytest.mark.parametrize("part", list(PARTS))
def test_the_seed_recomputes_the_sampled_steps_once_each_and_theta_every_step_once(calls, part):
    at = show(open_page("theorem"), part)
    k = list(PARTS).index(part)  # values no other test (or tab) has computed: the caches are per process
    calls.clear()
    at.number_input(key="theorem_seed").set_value(4242 + k).run()
    assert not at.exception
    assert set(calls) == IN_PART[part] - EXACT_ONLY and set(calls.values()) == {1}

    calls.clear()
    at.slider(key="theorem_logit_1").set_value(0.7 + 0.1 * k).run()
    assert set(calls) == IN_PART[part] and set(calls.values()) == {1}  # each step computed once, none twice

    calls.clear()
    at.slider(key="theorem_logit_1").set_value(0.0).run()  # back to a view already computed: all hits
    assert dict(calls) == {}


@pytest.mark.parametrize("part", list(PARTS))
def test_n_recomputes_only_the_steps_that_average_over_n_episodes(calls, part):
    """N feeds the steps that average N episodes; the RMSE study (every N at once), the b checks,
    the dynamics and the exact steps do not read it, so a new N leaves them cached."""
    at = show(open_page("theorem"), part)
    calls.clear()
    at.select_slider(key="theorem_episodes").set_value({"theorem": 64, "baselines": 128, "trainer": 256}[part]).run()
    assert not at.exception
    assert set(calls) == READ_N & IN_PART[part] and set(calls.values()) == {1}


# --- the trainer as it runs (steps 9-13), the baseline curve, the question --------------------
def test_the_trainers_steps_show_the_exact_numbers(at):
    setup = make_setup("tiny_cartpole", (0.5, 0.0, -0.5))
    table_99 = table(at, "1").loc["0.99"]  # discounting: one row per gamma
    usual = discounting.discounting_check(setup, 0.99)
    assert table_99["without γ^t: bias"] == f"{usual.bias:.2e}" and float(table_99["with γ^t: error"]) < 1e-12
    assert f"misses $\\nabla J_\\gamma$ by **{usual.bias:.2e}**" in texts(at)
    ns = normalisation.normalisation_study(setup, 16, tightened.stream(0, "normalisation"), normalisation.page_batches(16))
    assert metric(at, "length ×") == f"{ns.rms_ratio:.2f}" and metric(at, "normalised") == f"{ns.cosine_normalised:.3f}"
    ad = adam_scale.adam_scale_study(setup, 16, tightened.stream(0, "adam"))
    assert metric(at, "SGD step ×") == f"{ad.constant.c[0]:.4f}"  # SGD's step scales by c exactly
    assert abs(float(metric(at, "Adam step ×")) - 1) < 1e-4  # Adam's does not
    assert f"{ad.constant.adam_max_rel_diff:.1e}, within the bound" in texts(at)
    op = on_policy.on_policy_check(setup, setup.theta + np.asarray(tightened.OLD_POLICY_SHIFT))
    assert metric(at, "as if on-policy: error") == f"{op.stale_error:.4f}" and op.stale_error > 0.01
    assert float(metric(at, "weighted: error")) < 1e-10 and f"reach {op.max_weight:.2f} here" in texts(at)
    lc = on_policy.loss_check(setup)
    losses = table(at, "-2")
    assert list(losses["E[L_b], exact"]) == [f"{v:.4f}" for v in lc.loss_vs_b] and len(set(losses["J(θ), exact"])) == 1
    curve = baseline_curve.variance_curve(setup, "episode")
    assert f"at the best constant b* = E[|∇log P|² R] / E[|∇log P|²] = {curve.b_star:.3f}" in texts(at)
    assert f"{curve.at_zero / 16:.4g} at b = 0" in texts(at)
    assert_no_nan_shown(at)


def test_the_new_steps_follow_their_widgets():
    at = show(open_page("theorem"), "trainer")
    before = {k: metric(at, k) for k in ("length ×", "as if on-policy: error", "SGD step ×")}
    discount_before, losses_before = table(at, "1"), table(at, "-2")
    at.slider(key="theorem_logit_0").set_value(1.5).run()
    assert not at.exception
    assert metric(at, "as if on-policy: error") != before["as if on-policy: error"]
    assert not table(at, "1").equals(discount_before) and not table(at, "-2").equals(losses_before)
    at.select_slider(key="theorem_episodes").set_value(32).run()
    assert metric(at, "length ×") != before["length ×"] and metric(at, "SGD step ×") != before["SGD step ×"]
    show(at, "baselines")
    spec = chart_specs(at)[0]
    at.slider(key="theorem_b").set_value(-4.5).run()
    moved = chart_specs(at)[0]
    assert moved["layer"][-1]["mark"]["text"] == "your b = -4.5" and moved["layer"][:-2] == spec["layer"][:-2]
    at.select_slider(key="theorem_episodes").set_value(1).run()
    assert "choose $N \\ge 2$" in texts(show(at, "trainer"))  # normalising one episode's batch: said, not computed
    assert_no_nan_shown(whole(at))


def test_predict_then_check_waits_for_an_answer_and_checks_it_with_the_curve():
    at = show(open_page("theorem"), "baselines")
    question = at.radio(key="theorem_predict")
    assert question.value is None and "Answer to see the check" in texts(at)  # no answer by default
    curve = baseline_curve.variance_curve(make_setup("tiny_cartpole", (0.5, 0.0, -0.5)), "episode")
    down = curve.at_mean_return < curve.at_zero
    question.set_value("go down").run()
    shown = (at.success if down else at.info)[0].value
    assert shown.startswith("Right" if down else "Not this time")
    assert f"from {curve.at_zero / 16:.4g} at $b = 0$ to {curve.at_mean_return / 16:.4g}" in shown
    at.radio(key="theorem_predict").set_value("go up").run()
    assert (at.info if down else at.success)[0].value.startswith("Not this time" if down else "Right")


def test_every_sentence_fits_the_bandit():
    at = open_page("theorem")
    at.radio(key="theorem_problem").set_value("bandit").run()
    assert not at.exception
    page = whole(at)
    shown = texts(page)
    assert "longest of" not in shown and "A sampled episode (one pull): **arm" in shown
    assert re.search(r"softmax\}\(\\theta\) = \(0\.\d\d, 0\.\d\d, 0\.\d\d\)\$", shown)  # probabilities, no "+"
    assert "A bandit has no start state and no transitions" in shown  # step 3: an identity here, said so
    assert "no earlier reward to drop" in shown and "the two variances below are equal" in shown  # step 5
    assert metric(page, "variance with R(τ)") == metric(page, "variance with G_t")
    assert "$\\sum_n T_n = N$ and the two losses are the same" in shown  # step 8
    assert "$\\gamma^0 = 1$, so dropping the factor changes nothing" in shown  # step 9
    assert "c = N / \\sum_n T_n = 1$" in shown and metric(page, "SGD step ×") == "1.0000"  # step 11
    assert "An episode is one pull of an arm" in shown and "trajectory $\\tau$ is one episode" not in shown
    assert_no_nan_shown(page)
