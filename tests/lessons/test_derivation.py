"""pg.lessons.derivation: each numerical check of the theorem page, asserted against known truth.

Statistical bounds use Z = 4.5 standard errors (a false alarm about 7e-6 per component under the
normal approximation); the seeds are fixed, so every outcome is reproducible.
"""

import dataclasses
import math

import numpy as np
import pytest

from pg.algo.baselines import make_baseline
from pg.algo.reinforce import reinforce_gradient
from pg.lessons import derivation as d
from pg.lessons.stats import estimate_statistics
from pg.lessons.theory import TabularMDP, exact_gradient, exact_objective, finite_difference_gradient

Z = 4.5
THETAS = {"tiny_cartpole": (0.5, 0.0, -0.5), "bandit": (0.3, -0.2, 0.5)}


@pytest.fixture(scope="module", params=d.PROBLEMS)
def setup(request):
    return d.make_setup(request.param, THETAS[request.param])


@pytest.fixture(scope="module")
def cartpole():
    return d.make_setup("tiny_cartpole", THETAS["tiny_cartpole"])


def test_make_setup_rejects_bad_input():
    with pytest.raises(ValueError, match="problem must be one of"):
        d.make_setup("mountain_car", (0, 0, 0))
    with pytest.raises(ValueError, match="3 finite numbers"):
        d.make_setup("bandit", (0.0, 1.0))
    with pytest.raises(ValueError, match="3 finite numbers"):
        d.make_setup("bandit", (0.0, math.nan, 1.0))
    with pytest.raises(ValueError, match="episodes"):
        d.all_checks("bandit", (0, 0, 0), 0, 0)


def test_theta_is_what_the_policy_uses():
    """theta_s is the logit of push right in state s: pi(right|s) = sigmoid(theta_s)."""
    theta = np.array([0.7, -1.2, 2.0])
    pi = d.make_setup("tiny_cartpole", theta).probs_table()
    np.testing.assert_allclose(pi[:, 1], 1 / (1 + np.exp(-theta)), atol=1e-12)
    bandit = d.make_setup("bandit", theta).probs_table()[0]
    np.testing.assert_allclose(bandit, np.exp(theta) / np.exp(theta).sum(), atol=1e-12)


def test_exact_grad_is_the_theta_part_of_the_full_gradient(setup):
    """Chain rule: d/dtheta = the columns of the full parameter gradient that theta sets;
    checked against central differences of J in theta itself."""
    J = lambda th: exact_objective(setup.problem, setup.policy_at(th))  # noqa: E731
    fd = d._central_difference(J, setup.theta, 1e-6)
    np.testing.assert_allclose(setup.exact_grad, fd, atol=1e-8)
    full = exact_gradient(setup.problem, setup.policy)
    np.testing.assert_allclose(setup.exact_grad, full[setup.theta_index], atol=1e-15)


# --- step 1 -----------------------------------------------------------------------------------
def test_objective_sample_mean_agrees_with_enumeration(setup):
    o = d.objective_check(setup, 4000, 0)
    assert o.J_exact == pytest.approx(exact_objective(setup.problem, setup.policy), abs=1e-14)
    assert o.prob_sum == pytest.approx(1.0, abs=1e-12)
    assert abs(o.J_sample - o.J_exact) < Z * o.J_sample_se
    assert o.z == pytest.approx((o.J_sample - o.J_exact) / o.J_sample_se)


# --- step 2 -----------------------------------------------------------------------------------
@pytest.mark.parametrize("theta", [(0.5, 0.0, -0.5), (-2.0, 1.5, 0.3)])
@pytest.mark.parametrize("name", d.PROBLEMS)
def test_log_derivative_trick(name, theta):
    ld = d.log_derivative_check(d.make_setup(name, theta))
    assert ld.max_diff < 1e-8
    assert len(ld.rows) == {"tiny_cartpole": 6, "bandit": 3}[name]
    assert ld.theorem_diff < 1e-6
    for r in ld.rows:  # the identity is pointwise: grad pi = pi grad log pi
        np.testing.assert_allclose(r.fd, r.analytic, atol=1e-8)


def test_policy_gradient_theorem_matches_pg_theory(cartpole):
    fd = finite_difference_gradient(cartpole.problem, cartpole.policy)
    np.testing.assert_allclose(d.log_derivative_check(cartpole).grad_J_fd, fd[cartpole.theta_index], atol=1e-8)


# --- step 3 -----------------------------------------------------------------------------------
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_dynamics_drop_out(setup, seed):
    dy = d.dynamics_check(setup, seed)
    assert dy.max_diff < 1e-6
    np.testing.assert_allclose(dy.fd_grad_log_P, dy.score, atol=1e-6)
    if setup.name == "tiny_cartpole":
        assert dy.log_dynamics < 0  # the transitions are in log P(tau), and still drop out
    else:
        assert dy.log_dynamics == 0.0


def test_trajectory_log_prob_reproduces_the_enumerated_probabilities(cartpole):
    """An independent check of log P(tau) = policy + dynamics terms: exp of it is P(tau)."""
    traj = cartpole.problem.trajectories(cartpole.policy)
    for j in range(traj.prob.size):
        T = int(traj.batch.alive[:, j].sum())
        states = list(cartpole.state_index(traj.batch.obs[:T, j]))
        actions = list(traj.batch.actions[:T, j])
        log_policy, log_dynamics = d.trajectory_log_prob(cartpole, cartpole.theta, states, actions)
        assert math.exp(log_policy + log_dynamics) == pytest.approx(traj.prob[j], rel=1e-10)


# --- step 4 -----------------------------------------------------------------------------------
def test_single_episode_estimates_average_to_reinforce_gradient(setup):
    """The convergence study's shortcut is the estimator itself: the mean of the single-episode
    estimates equals reinforce_gradient (whole return, no baseline) on the same batch."""
    batch = setup.problem.sample(setup.policy, 37, np.random.default_rng(4))
    grad, _, _ = reinforce_gradient(setup.policy, batch, 1.0, make_baseline("none"), "episode")
    np.testing.assert_allclose(d.episode_estimates(setup, batch).mean(axis=0), grad[setup.theta_index], atol=1e-12)


def test_estimate_check_uses_reinforce_gradient(cartpole):
    est = d.estimate_check(cartpole, 16, 5)
    batch = cartpole.problem.sample(cartpole.policy, 16, np.random.default_rng(5))
    grad, _, _ = reinforce_gradient(cartpole.policy, batch, 1.0, make_baseline("none"), "episode")
    np.testing.assert_array_equal(est.g_hat, grad[cartpole.theta_index])
    assert est.error == pytest.approx(np.linalg.norm(est.g_hat - cartpole.exact_grad))


def test_convergence_is_one_over_sqrt_n(setup):
    cv = d.convergence_study(setup, 0)
    assert -0.7 <= cv.slope <= -0.3
    assert np.all(np.isfinite(cv.error)) and np.all(cv.low <= cv.error + 1e-12)
    assert np.all(cv.error <= cv.high + 1e-12)
    assert cv.reference[0] == cv.error[0]  # c / sqrt(n) fitted at the first point
    np.testing.assert_allclose(cv.reference * np.sqrt(cv.n), cv.reference[0] * np.sqrt(cv.n[0]))
    assert cv.error[-1] < cv.error[0] / 10  # 1024 episodes: sqrt(1024) = 32 times smaller, roughly


# --- steps 5 and 6 ----------------------------------------------------------------------------
@pytest.mark.parametrize("b", [2.0, -3.5])
def test_score_times_constant_baseline_has_mean_zero(setup, b):
    bz = d.baseline_zero_check(setup, b, 0)
    assert np.all(np.abs(bz.mean) < Z * bz.se)
    assert np.all(np.abs(bz.exact) < 1e-12)
    assert bz.per_state_max < 1e-12  # sum_a pi grad log pi = 0 in every state
    np.testing.assert_allclose(bz.z, bz.mean / bz.se)


def test_score_times_zero_baseline_is_zero(cartpole):
    bz = d.baseline_zero_check(cartpole, 0.0, 0)
    assert np.all(bz.mean == 0) and np.all(bz.exact == 0)


def test_variance_ordering_on_tiny_cartpole(cartpole):
    var = d.variance_study(cartpole, 16, 0)
    v = {(r.returns, r.baseline): r.variance for r in var.rows}
    assert [r.estimator for r in var.rows] == [e[0] for e in d.ESTIMATORS]
    assert v[("episode", "none")] > v[("reward_to_go", "none")] > v[("reward_to_go", "batch_mean")]
    for baseline in ("moving_average", "batch_mean", "value"):
        assert v[("reward_to_go", baseline)] < 0.5 * v[("reward_to_go", "none")]
    for r in var.rows:  # every estimator unbiased: the mean's distance from grad J is noise-sized
        assert r.bias < Z * r.bias_se
    assert var.exact_sq_norm == pytest.approx(float(cartpole.exact_grad @ cartpole.exact_grad))


def test_reward_to_go_changes_nothing_on_a_one_step_bandit():
    var = d.variance_study(d.make_setup("bandit", THETAS["bandit"]), 8, 0, n_estimates=50)
    assert var.rows[0].variance == pytest.approx(var.rows[1].variance, rel=1e-12)


def test_reinforce_estimates_learn_the_baseline_as_training_does(cartpole):
    """Batches sampled in one go, then estimated in order: a stateful baseline meets each batch
    fitted to the earlier ones only, as in training (the value baseline is 0 before its first
    fit), and a baseline object can stand in for a name."""
    batches = d.sample_batches(cartpole.problem, cartpole.policy, 3, 8, 0)
    est = d.reinforce_estimates(cartpole.problem, cartpole.policy, batches, "reward_to_go", "value")
    assert est.shape == (3, cartpole.policy.params.size)
    first, _, _ = reinforce_gradient(cartpole.policy, batches[0], 1.0, make_baseline("none"))
    np.testing.assert_allclose(est[0], first, atol=1e-12)
    assert not np.allclose(est[1], reinforce_gradient(cartpole.policy, batches[1], 1.0, make_baseline("none"))[0])
    value = make_baseline("value", cartpole.problem.obs_dim, cartpole.problem.horizon)
    by_hand = []
    for batch in batches:  # the training loop's order: estimate with the baseline, then fit it
        grad, G, _ = reinforce_gradient(cartpole.policy, batch, 1.0, value)
        value.update(batch, G)
        by_hand.append(grad)
    np.testing.assert_array_equal(est, by_hand)
    fresh = make_baseline("value", cartpole.problem.obs_dim, cartpole.problem.horizon)
    np.testing.assert_array_equal(d.reinforce_estimates(cartpole.problem, cartpole.policy, batches,
                                                        "reward_to_go", fresh), est)


def test_sample_batches_are_the_columns_of_one_sample(cartpole):
    batches = d.sample_batches(cartpole.problem, cartpole.policy, 3, 5, 4)
    whole = cartpole.problem.sample(cartpole.policy, 15, np.random.default_rng(4))
    assert [b.alive.shape[1] for b in batches] == [5, 5, 5]
    for i, b in enumerate(batches):
        np.testing.assert_array_equal(b.actions, whole.actions[:, 5 * i : 5 * (i + 1)])
        np.testing.assert_array_equal(b.rewards, whole.rewards[:, 5 * i : 5 * (i + 1)])


def test_variance_rows_are_the_shared_statistics(cartpole):
    """Each row's variance, bias and bias_se are pg.lessons.stats' of that estimator's
    estimates (theta's components) on the study's batches."""
    var = d.variance_study(cartpole, 8, 2, n_estimates=30)
    batches = d.sample_batches(cartpole.problem, cartpole.policy, 30, 8, 2)
    for row, (label, returns, baseline) in zip(var.rows, d.ESTIMATORS, strict=True):
        est = d.reinforce_estimates(cartpole.problem, cartpole.policy, batches, returns, baseline)
        stats = estimate_statistics(cartpole.d_theta(est), cartpole.exact_grad)
        assert (row.estimator, row.returns, row.baseline) == (label, returns, baseline)
        assert (row.variance, row.bias, row.bias_se) == (stats.variance, stats.bias, stats.bias_se)
        assert row.has_baseline == (baseline != "none")
    assert var.whole_return is var.rows[0] and var.reward_to_go is var.rows[1]
    assert var.reward_to_go_change == var.rows[1].variance / var.rows[0].variance - 1


# --- step 7 -----------------------------------------------------------------------------------
def test_update_check(cartpole):
    up = d.update_check(cartpole, 64, 0.1, 0)
    assert -1 <= up.cosine <= 1
    assert up.J_after_exact_step > up.J_before  # a small step along grad J goes uphill
    np.testing.assert_allclose(up.theta_after, cartpole.theta + 0.1 * up.g_hat)
    assert up.J_after == pytest.approx(exact_objective(cartpole.problem, cartpole.policy_at(up.theta_after)))
    assert up.J_gain == up.J_after - up.J_before  # the page's delta


# --- step 8 -----------------------------------------------------------------------------------
@pytest.mark.parametrize("episodes", [1, 16, 200])
def test_loss_gradient_is_minus_the_estimate(setup, episodes):
    ls = d.loss_device_check(setup, episodes, 3)
    assert ls.rel_diff < 1e-6
    np.testing.assert_allclose(ls.fd_grad_loss, -ls.g_hat, atol=1e-6 * max(1.0, np.abs(ls.g_hat).max()))


@pytest.mark.parametrize("episodes", [4, 16, 200])
def test_mean_loss_rescales_by_episodes_over_steps(setup, episodes):
    ms = d.mean_vs_sum_check(setup, episodes, 3)
    assert ms.N == episodes and ms.steps >= episodes
    assert ms.expected_mean_ratio == ms.N / ms.steps
    assert ms.sum_ratio == pytest.approx(1.0, abs=1e-10)
    assert ms.mean_ratio == pytest.approx(ms.N / ms.steps, rel=1e-10)
    assert ms.sum_ratio_fd == pytest.approx(1.0, rel=1e-6)
    assert ms.mean_ratio_fd == pytest.approx(ms.N / ms.steps, rel=1e-6)
    np.testing.assert_allclose(ms.sum_grad, -ms.g_hat, atol=1e-12)
    assert ms.sum_loss == pytest.approx(d.loss_device_check(setup, episodes, 3).loss, rel=1e-12)
    if setup.name == "bandit":  # one step per episode: the two losses coincide
        assert ms.mean_ratio == pytest.approx(1.0, abs=1e-12)


# --- the page's whole computation -------------------------------------------------------------
def _flatten(x, prefix=""):
    if dataclasses.is_dataclass(x):
        for f in dataclasses.fields(x):
            if f.name != "setup":
                yield from _flatten(getattr(x, f.name), f"{prefix}.{f.name}")
    elif isinstance(x, (list, tuple)) and x and dataclasses.is_dataclass(x[0]):
        for i, v in enumerate(x):
            yield from _flatten(v, f"{prefix}[{i}]")
    elif isinstance(x, (int, float, np.ndarray, np.floating, np.integer)):
        yield prefix, np.asarray(x, dtype=float)


@pytest.fixture(scope="module")
def default_checks():
    return d.all_checks("tiny_cartpole", (0.5, 0.0, -0.5), 16, 0)


def test_all_checks_is_deterministic(default_checks):
    again = d.all_checks("tiny_cartpole", (0.5, 0.0, -0.5), 16, 0)
    first = dict(_flatten(default_checks))
    second = dict(_flatten(again))
    assert first.keys() == second.keys() and len(first) > 40
    for key in first:
        np.testing.assert_array_equal(first[key], second[key], err_msg=key)


def test_all_checks_are_typed_and_frozen(default_checks):
    """One frozen dataclass per step's check, grouped in one result, every field documented."""
    c = default_checks
    assert isinstance(c, d.Checks) and isinstance(c.setup, d.Setup)
    for f in dataclasses.fields(c):
        if f.name != "setup":
            check = getattr(c, f.name)
            assert dataclasses.is_dataclass(check) and type(check).__doc__, f.name
            with pytest.raises(dataclasses.FrozenInstanceError):
                setattr(check, dataclasses.fields(check)[0].name, None)
    assert all(isinstance(r, d.LogDerivativeRow) for r in c.log_derivative.rows)
    assert all(isinstance(r, d.VarianceRow) for r in c.variance.rows)


def test_another_seed_changes_the_samples_not_the_exact_values(default_checks):
    other = d.all_checks("tiny_cartpole", (0.5, 0.0, -0.5), 16, 1)
    assert other.objective.J_exact == default_checks.objective.J_exact
    np.testing.assert_array_equal(other.estimate.exact, default_checks.estimate.exact)
    assert not np.array_equal(other.estimate.g_hat, default_checks.estimate.g_hat)
    assert other.variance.rows[0].variance != default_checks.variance.rows[0].variance


def test_each_check_has_its_own_reproducible_stream():
    draw = lambda seed, name: np.random.default_rng(d.stream(seed, name)).random(4)  # noqa: E731
    np.testing.assert_array_equal(draw(0, "loss"), draw(0, "loss"))
    assert not np.array_equal(draw(0, "objective"), draw(0, "loss"))
    assert not np.array_equal(draw(0, "loss"), draw(1, "loss"))


def test_steps_pair_each_equation_with_a_title():
    assert len(d.STEPS) == 13
    for title, tex in d.STEPS:
        assert title and tex and all(isinstance(t, str) and t.strip() for t in tex)
        assert all(t.count("{") == t.count("}") for t in tex)  # balanced braces: KaTeX would fail


def test_each_problem_describes_itself_with_its_numbers_at_theta():
    bandit = d.make_setup("bandit", [0.5, 0.0, -0.5])
    pi = bandit.probs_table()[0]
    text = bandit.describe()
    assert text.startswith("**a three-armed bandit**") and ", ".join(map(str, bandit.problem.means)) in text
    assert "(" + ", ".join(f"{p:.2f}" for p in pi) + ")$." in text  # probabilities, never "+0.51"
    assert "+" not in text.split("softmax")[1]
    cart = d.make_setup("tiny_cartpole", [0.5, 0.0, -0.5])
    text = cart.describe()
    assert f"at most {cart.problem.horizon} steps" in text
    for state, p in zip(cart.state_names, cart.probs_table()[:, 1]):
        assert f"{p:.2f} ({state})" in text
    assert d.make_setup("tiny_cartpole", [2.0, 0.0, -0.5]).describe() != text, "recomputed at theta"


@pytest.mark.parametrize("theta", [(0.5, 0.0, -0.5), (3.0, -2.0, 1.0)])
def test_enumerating_once_gives_the_same_trajectories(theta):
    setup = d.make_setup("tiny_cartpole", theta)
    plain = TabularMDP.trajectories(setup.problem, setup.policy)  # the search, every time
    for policy in (setup.policy, setup.policy_at(np.array(theta) + 0.7)):  # the second call reuses the paths
        fast, slow = setup.problem.trajectories(policy), TabularMDP.trajectories(setup.problem, policy)
        np.testing.assert_allclose(fast.prob, slow.prob, rtol=1e-13, atol=0)
        for name in ("obs", "actions", "rewards", "alive"):
            np.testing.assert_array_equal(getattr(fast.batch, name), getattr(slow.batch, name))
        np.testing.assert_array_equal(fast.mean_reward, slow.mean_reward)
    assert len(plain.prob) == len(fast.prob)


@pytest.mark.parametrize("episodes", [1, 8])
def test_batch_reinforce_estimates_are_reinforce_estimates_batch_by_batch(setup, episodes):
    """The variance study's estimates, all batches at once, against reinforce_gradient one batch
    after another (the stateful baselines learning in order): equal up to rounding."""
    batches = d.sample_batches(setup.problem, setup.policy, 12, episodes, 5)
    whole = setup.problem.sample(setup.policy, 12 * episodes, np.random.default_rng(5))
    for _, returns, baseline in d.ESTIMATORS:
        slow = setup.d_theta(d.reinforce_estimates(setup.problem, setup.policy, batches, returns, baseline))
        fast = d.batch_reinforce_estimates(setup, whole, episodes, returns, baseline)
        np.testing.assert_allclose(fast, slow, rtol=0, atol=1e-12, err_msg=f"{returns}, {baseline}")
    none = d.batch_reinforce_estimates(setup, whole, episodes, "reward_to_go", "none")
    learned = d.batch_reinforce_estimates(setup, whole, episodes, "reward_to_go", "value")
    np.testing.assert_array_equal(learned[0], none[0])  # V is 0 before its first fit ...
    assert not np.allclose(learned[1:], none[1:])  # ... and fitted after it
    with pytest.raises(ValueError):
        d.batch_reinforce_estimates(setup, whole, 5, "reward_to_go", "none")  # 12 * episodes is not a multiple of 5


def test_step_scores_are_the_score_table_at_each_step(cartpole):
    batch = cartpole.problem.sample(cartpole.policy, 50, np.random.default_rng(0))
    states = batch.obs.argmax(axis=-1)
    np.testing.assert_array_equal(cartpole.state_index(batch.obs), states)
    np.testing.assert_array_equal(cartpole.step_scores(batch), cartpole.score_table()[states, batch.actions])
    other = cartpole.score_table(cartpole.theta + 0.5)  # another theta: computed, not the cached table
    assert not np.allclose(other, cartpole.score_table())
