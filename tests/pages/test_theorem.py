"""The theorem page through the entry file (AppTest): what it shows, and that every widget
changes what it should (and only that)."""

import inspect
import re

import numpy as np
import pytest
from app_helpers import chart_specs, open_page, texts

from pg.algo.reinforce import reinforce_gradient
from pg.lessons import derivation


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


@pytest.fixture(scope="module")
def at():
    return open_page("theorem")


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
    assert f"slope is **{checks.convergence.slope:.3f}**" in texts(at)
    mean_vs_sum = table(at, "backprop")
    assert mean_vs_sum.iloc[0, 1] == f"{checks.mean_vs_sum.mean_ratio:.10f}"
    assert mean_vs_sum.iloc[2, 1].endswith(f"{checks.mean_vs_sum.expected_mean_ratio:.10f}")
    exact = table(at, "sample mean").loc["exact (enumeration)"]
    assert all(abs(float(v)) < 1e-12 for v in exact)


def test_charts_and_code(at):
    specs = chart_specs(at)
    assert len(specs) == 3
    marks = [[la["mark"]["type"] for la in s["layer"]] for s in specs]
    assert marks[0][0] == "bar"  # exact vs one estimate
    assert marks[1][:3] == ["line", "rule", "circle"] and specs[1]["layer"][2]["encoding"]["y"]["scale"]["type"] == "log"
    assert marks[2][:3] == ["rule", "bar", "text"]  # the signal ||grad J||^2, the variances, labelled
    (code,) = [c.value for c in at.expander[0].code]
    assert code.startswith("def reinforce_gradient") and "\ndef surrogate_loss" in code
    assert inspect.getsource(reinforce_gradient) in code  # the code shown is the code that runs


def test_every_widget_changes_what_it_should():
    at = open_page("theorem")
    J0, sample0, after0 = metric(at, "J(θ), exact"), metric(at, "mean return"), metric(at, "J after")
    zero_table0 = table(at, "sample mean")

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
    assert table(at, "backprop").iloc[2, 1].startswith("64/")  # N / sum_n T_n with the new N

    before = table(at, "sample mean")
    at.slider(key="theorem_b").set_value(-4.0).run()
    after = table(at, "sample mean")
    assert not after.equals(before)
    np.testing.assert_allclose(after.loc["sample mean"].astype(float), -2 * before.loc["sample mean"].astype(float),
                               atol=1e-4)  # the same samples, b = -4 instead of 2
    assert not zero_table0.equals(after)

    before = metric(at, "J after")
    at.slider(key="theorem_lr").set_value(1.5).run()
    assert metric(at, "J after") != before and metric(at, "J before") == metric(at, "J(θ), exact")

    at.radio(key="theorem_problem").set_value("bandit").run()
    assert not at.exception
    assert "three-armed bandit" in texts(at)
    assert [s.label for s in at.slider][-3:] == [r"$\theta_0$", r"$\theta_1$", r"$\theta_2$"]
    assert metric(at, "dynamics terms") == "0.0000"  # a bandit has no dynamics
    assert metric(at, "variance with R(τ)") == metric(at, "variance with G_t")  # one step: G_0 = R
    assert metric(at, "J(θ), exact") != J0 and after0
    assert_no_nan_shown(at)


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
        assert_no_nan_shown(at)
