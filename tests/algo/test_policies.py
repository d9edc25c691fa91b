"""pg.algo.policies: softmax policies checked against finite differences and direct formulas."""

from __future__ import annotations

import re

import numpy as np
import pytest
from helpers import central_fd, rel_err
from hypothesis import given, settings
from hypothesis import strategies as st

from pg.algo import nn
from pg.algo.policies import LinearSoftmax, MLPSoftmax, make_policy, policy_from_spec

FD_TOL = 1e-6

POLICY_CASES = [
    ("linear", (), 2),
    ("linear", (), 3),
    ("mlp", (8,), 2),
    ("mlp", (8,), 3),
    ("mlp", (5, 7), 2),
    ("mlp", (5, 7), 3),
]


def random_policy(kind, hidden, n_actions, obs_dim=4, seed=0, scale=0.7):
    """A policy with random (not near-uniform) weights and biases, so every term of the
    gradient matters."""
    rng = np.random.default_rng(seed)
    if kind == "linear":
        policy = LinearSoftmax(obs_dim, n_actions)
    else:
        policy = MLPSoftmax(obs_dim, n_actions, hidden)
    policy.params[:] = rng.normal(0.0, scale, policy.params.size)
    return policy


def random_data(n_actions, obs_dim=4, n=13, seed=1):
    rng = np.random.default_rng(seed)
    obs = rng.normal(0.0, 1.0, (n, obs_dim))
    actions = rng.integers(0, n_actions, n)
    weights = rng.normal(0.0, 1.0, n)
    return obs, actions, weights


def reference_logits(policy, obs):
    """Logits computed from the documented parameter layout with plain loops."""
    obs = np.atleast_2d(obs)
    if policy.kind == "linear":
        d, k = policy.obs_dim, policy.n_actions
        W = policy.params[: d * k].reshape(d, k)
        b = policy.params[d * k :]
        return np.array([[sum(o[i] * W[i, a] for i in range(d)) + b[a] for a in range(k)] for o in obs])
    sizes = (policy.obs_dim, *policy.hidden, policy.n_actions)
    out = []
    for o in obs:
        h, i = list(o), 0
        for j, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            W = policy.params[i : i + fan_in * fan_out].reshape(fan_in, fan_out)
            i += fan_in * fan_out
            b = policy.params[i : i + fan_out]
            i += fan_out
            z = [sum(h[r] * W[r, c] for r in range(fan_in)) + b[c] for c in range(fan_out)]
            h = z if j == len(sizes) - 2 else [np.tanh(v) for v in z]
        out.append(h)
    return np.array(out)


# ---------------------------------------------------------------------------------------------
# Gradients against central finite differences
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind, hidden, n_actions", POLICY_CASES)
@pytest.mark.parametrize("weighted", [True, False])
def test_grad_log_prob_matches_finite_differences(kind, hidden, n_actions, weighted):
    """grad_log_prob = d/dtheta sum_i w_i log pi(a_i|s_i) to relative error < 1e-6 (with
    weights=None meaning all ones)."""
    policy = random_policy(kind, hidden, n_actions)
    obs, actions, weights = random_data(n_actions)
    w = weights if weighted else np.ones(len(obs))

    def objective(theta):
        return float((w * policy.with_params(theta).log_prob(obs, actions)).sum())

    analytic = policy.grad_log_prob(obs, actions, weights if weighted else None)
    numeric = central_fd(objective, policy.params)
    assert analytic.shape == policy.params.shape
    assert rel_err(analytic, numeric) < FD_TOL


@pytest.mark.parametrize("kind, hidden, n_actions", POLICY_CASES)
@pytest.mark.parametrize("weighted", [True, False])
def test_grad_entropy_matches_finite_differences(kind, hidden, n_actions, weighted):
    """grad_entropy = d/dtheta sum_i w_i H(pi(.|s_i)) to relative error < 1e-6."""
    policy = random_policy(kind, hidden, n_actions, seed=3)
    obs, _, weights = random_data(n_actions, seed=4)
    w = weights if weighted else np.ones(len(obs))

    def objective(theta):
        return float((w * policy.with_params(theta).entropy(obs)).sum())

    analytic = policy.grad_entropy(obs, weights if weighted else None)
    assert rel_err(analytic, central_fd(objective, policy.params)) < FD_TOL


@settings(max_examples=25, deadline=None)
@given(
    kind=st.sampled_from(["linear", "mlp"]),
    obs_dim=st.integers(1, 5),
    n_actions=st.integers(2, 4),
    hidden=st.lists(st.integers(1, 6), min_size=1, max_size=3),
    n=st.integers(1, 9),
    seed=st.integers(0, 2**31),
)
def test_grad_log_prob_property_random_shapes(kind, obs_dim, n_actions, hidden, n, seed):
    """For random shapes, sizes and weights, grad_log_prob agrees with finite differences and
    accepts (T, N)-shaped obs/actions/weights the same as flattened ones."""
    policy = random_policy(kind, tuple(hidden), n_actions, obs_dim=obs_dim, seed=seed)
    obs, actions, weights = random_data(n_actions, obs_dim=obs_dim, n=2 * n, seed=seed + 1)

    def objective(theta):
        return float((weights * policy.with_params(theta).log_prob(obs, actions)).sum())

    analytic = policy.grad_log_prob(obs, actions, weights)
    assert rel_err(analytic, central_fd(objective, policy.params)) < FD_TOL
    shaped = policy.grad_log_prob(obs.reshape(2, n, obs_dim), actions.reshape(2, n), weights.reshape(2, n))
    np.testing.assert_allclose(shaped, analytic, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("n", [2, 5])
def test_grad_log_prob_reads_bool_actions_as_indices_like_log_prob(n):
    """Bool actions mean 0/1 (as log_prob, CartPole.step and the rollout's buffers treat
    them): grad_log_prob gives the same gradient for bools as for the equal ints."""
    policy = random_policy("linear", (), 2, seed=21)
    obs, _, weights = random_data(2, n=n, seed=22)
    bools = np.ones(n, dtype=bool)
    np.testing.assert_array_equal(policy.log_prob(obs, bools), policy.log_prob(obs, bools.astype(int)))
    np.testing.assert_allclose(
        policy.grad_log_prob(obs, bools, weights), policy.grad_log_prob(obs, bools.astype(int), weights), rtol=1e-14
    )


def test_grad_log_prob_rejects_mismatched_lengths():
    """obs, actions and weights of different lengths: ValueError listing the three lengths."""
    policy = random_policy("linear", (), 2)
    obs, actions, weights = random_data(2, n=5)
    with pytest.raises(ValueError, match="5, 4 and 5"):
        policy.grad_log_prob(obs, actions[:4], weights)


# ---------------------------------------------------------------------------------------------
# Probabilities
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind, hidden, n_actions", POLICY_CASES)
def test_logits_match_a_plain_loop_forward(kind, hidden, n_actions):
    """logits follow the documented parameter layout (checked by a loop over the layers)."""
    policy = random_policy(kind, hidden, n_actions, seed=9)
    obs, _, _ = random_data(n_actions, n=6, seed=10)
    np.testing.assert_allclose(policy.logits(obs), reference_logits(policy, obs), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kind, hidden, n_actions", POLICY_CASES)
def test_probs_log_prob_entropy_match_direct_formulas(kind, hidden, n_actions):
    """probs are positive and sum to 1 (= softmax of the logits); log_prob is log of probs
    gathered at the action; entropy is -sum p log p; leading shapes (T, N) are kept."""
    policy = random_policy(kind, hidden, n_actions, seed=2)
    obs, actions, _ = random_data(n_actions, n=12, seed=3)
    z = policy.logits(obs)
    softmax = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    p = policy.probs(obs)
    assert p.shape == (12, n_actions)
    assert (p > 0).all()
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=0, atol=1e-14)
    np.testing.assert_allclose(p, softmax, rtol=1e-12)
    np.testing.assert_allclose(policy.log_prob(obs, actions), np.log(p[np.arange(12), actions]), rtol=1e-12)
    np.testing.assert_allclose(policy.entropy(obs), -(softmax * np.log(softmax)).sum(axis=1), rtol=1e-12)
    shaped = obs.reshape(3, 4, -1)
    assert policy.probs(shaped).shape == (3, 4, n_actions)
    np.testing.assert_allclose(policy.log_prob(shaped, actions.reshape(3, 4)).ravel(), policy.log_prob(obs, actions))
    assert policy.entropy(shaped).shape == (3, 4)


def test_probabilities_stay_finite_for_huge_logits():
    """Softmax is computed stably: logits of +-1e4 give probabilities 0/1, not NaN."""
    policy = LinearSoftmax(1, 2, params=np.array([-1e4, 1e4, 0.0, 0.0]))
    obs = np.array([[1.0], [-1.0]])
    p = policy.probs(obs)
    assert np.isfinite(p).all() and np.array_equal(p, [[0.0, 1.0], [1.0, 0.0]])
    assert np.isfinite(policy.entropy(obs)).all()
    assert np.isfinite(policy.grad_log_prob(obs, np.array([0, 1]))).all()


def test_entropy_of_uniform_policy_is_log_n():
    """A zero-parameter policy is uniform: entropy log(n_actions), probs 1/n."""
    for n_actions in (2, 3, 5):
        policy = LinearSoftmax(4, n_actions)
        obs = np.random.default_rng(0).normal(size=(7, 4))
        np.testing.assert_allclose(policy.entropy(obs), np.log(n_actions), rtol=1e-14)
        np.testing.assert_allclose(policy.probs(obs), 1 / n_actions, rtol=1e-14)


@pytest.mark.parametrize("kind, hidden, n_actions", POLICY_CASES)
def test_greedy_act_is_argmax_of_probs(kind, hidden, n_actions):
    """act(greedy=True) returns the most probable action for every state."""
    policy = random_policy(kind, hidden, n_actions, seed=5, scale=1.5)
    obs, _, _ = random_data(n_actions, n=200, seed=6)
    greedy = policy.act(obs, greedy=True)
    assert greedy.shape == (200,)
    assert np.array_equal(greedy, policy.probs(obs).argmax(axis=1))
    assert len(np.unique(greedy)) > 1  # the check is not trivially about one action


@pytest.mark.parametrize("kind, hidden, n_actions", POLICY_CASES)
def test_sampled_act_frequencies_match_probs(kind, hidden, n_actions):
    """Sampled actions follow pi(.|s): for 4 states x 20,000 draws each, every action count is
    within 5 binomial standard deviations of M p (a false alarm has probability < 1e-5), and
    the chi-square statistic is below 30 (its mean is n_actions - 1 <= 2)."""
    policy = random_policy(kind, hidden, n_actions, seed=7, scale=0.6)
    states, _, _ = random_data(n_actions, n=4, seed=8)
    draws = 20_000
    rng = np.random.default_rng(123)
    for s in states:
        p = policy.probs(s[None])[0]
        actions = policy.act(np.repeat(s[None], draws, axis=0), rng=rng)
        assert actions.shape == (draws,) and actions.min() >= 0 and actions.max() < n_actions
        counts = np.bincount(actions, minlength=n_actions)
        expected = draws * p
        assert (np.abs(counts - expected) < 5 * np.sqrt(expected * (1 - p))).all(), (counts, expected)
        assert ((counts - expected) ** 2 / expected).sum() < 30


def test_act_without_rng_raises():
    """Sampling needs an explicit Generator (no hidden global random state)."""
    with pytest.raises(ValueError, match="rng"):
        LinearSoftmax().act(np.zeros((2, 4)))


@pytest.mark.parametrize("kind, hidden", [("linear", ()), ("mlp", (8,)), ("mlp", (5, 7))])
def test_binary_margin_is_logit_of_action_one(kind, hidden):
    """binary_margin()(obs) = log pi(1|s) - log pi(0|s) = logit P(push right)."""
    policy = random_policy(kind, hidden, 2, seed=11)
    obs, _, _ = random_data(2, n=50, seed=12)
    p = policy.probs(obs)
    margin = policy.binary_margin()(obs)
    assert margin.shape == (50,)
    np.testing.assert_allclose(margin, np.log(p[:, 1]) - np.log(p[:, 0]), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(1 / (1 + np.exp(-margin)), p[:, 1], rtol=1e-12)


def test_binary_margin_needs_two_actions():
    """binary_margin on a 3-action policy: ValueError naming the action count."""
    for policy in (LinearSoftmax(4, 3), MLPSoftmax(4, 3, (4,))):
        with pytest.raises(ValueError, match="3"):
            policy.binary_margin()


# ---------------------------------------------------------------------------------------------
# Construction and bookkeeping
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["linear", "mlp"])
def test_make_policy_is_deterministic_by_seed(kind):
    """Same seed, same parameters; another seed, other parameters; a Generator works as seed;
    the initial policy is near uniform (init_scale small)."""
    a = make_policy(kind, hidden=(16,), seed=3)
    b = make_policy(kind, hidden=(16,), seed=3)
    c = make_policy(kind, hidden=(16,), seed=4)
    d = make_policy(kind, hidden=(16,), seed=np.random.default_rng(3))
    assert np.array_equal(a.params, b.params) and np.array_equal(a.params, d.params)
    assert not np.array_equal(a.params, c.params)
    assert np.abs(a.params).max() > 0
    obs = np.random.default_rng(0).normal(size=(20, 4))
    np.testing.assert_allclose(a.probs(obs), 0.5, atol=0.05)


def test_make_policy_rejects_unknown_kind():
    with pytest.raises(ValueError, match="'cnn'"):
        make_policy("cnn")


def test_make_policy_shapes():
    """Parameter counts: linear (obs_dim + 1) * n_actions; MLP sum of (fan_in + 1) * fan_out."""
    assert make_policy("linear", obs_dim=4, n_actions=3).params.shape == (15,)
    mlp = make_policy("mlp", obs_dim=4, n_actions=3, hidden=(5, 7))
    assert mlp.params.shape == (5 * 5 + 6 * 7 + 8 * 3,)
    assert mlp.params.dtype == np.float64


@pytest.mark.parametrize(
    "build, expected, given",
    [
        (lambda: LinearSoftmax(4, 2, params=np.zeros(9)), "10", r"\(9,\)"),
        (lambda: LinearSoftmax(3, 3, params=np.zeros((4, 3))), "12", r"\(4, 3\)"),
        (lambda: MLPSoftmax(4, 2, (8,), params=np.zeros(59)), "58", r"\(59,\)"),
        (lambda: MLPSoftmax(4, 3, (5, 7), params=np.zeros(3)), str(25 + 42 + 24), r"\(3,\)"),
    ],
)
def test_wrong_parameter_size_names_expected_and_given(build, expected, given):
    """A parameter vector of the wrong size: ValueError with the expected count and the shape
    given."""
    with pytest.raises(ValueError) as info:
        build()
    assert expected in str(info.value)
    assert re.search(given, str(info.value))


def test_mlp_rejects_empty_or_zero_hidden():
    for hidden in ((), (0,), (4, -1)):
        with pytest.raises(ValueError, match="hidden"):
            MLPSoftmax(4, 2, hidden)


@pytest.mark.parametrize("kind, hidden, n_actions", POLICY_CASES)
def test_policy_from_spec_round_trip(kind, hidden, n_actions):
    """policy_from_spec(policy.spec, policy.params) rebuilds the same policy: same class,
    spec, params and probabilities."""
    policy = random_policy(kind, hidden, n_actions, seed=13)
    rebuilt = policy_from_spec(policy.spec, policy.params)
    assert type(rebuilt) is type(policy) and rebuilt.spec == policy.spec
    assert np.array_equal(rebuilt.params, policy.params)
    obs, _, _ = random_data(n_actions, n=5)
    assert np.array_equal(rebuilt.probs(obs), policy.probs(obs))
    with pytest.raises(ValueError, match="'cnn'"):
        policy_from_spec({**policy.spec, "kind": "cnn"}, policy.params)


@pytest.mark.parametrize("kind, hidden", [("linear", ()), ("mlp", (8,))])
def test_copy_and_with_params_are_independent(kind, hidden):
    """copy() and with_params() own their parameters: changing one never changes another."""
    policy = random_policy(kind, hidden, 2, seed=14)
    original = policy.params.copy()
    clone = policy.copy()
    assert np.array_equal(clone.params, original) and not np.shares_memory(clone.params, policy.params)
    clone.params += 1.0
    assert np.array_equal(policy.params, original)
    policy.params *= 2.0
    assert np.array_equal(clone.params, original + 1.0)
    theta = np.zeros_like(original)
    other = policy.with_params(theta)
    theta[:] = 5.0
    assert np.array_equal(other.params, np.zeros_like(original))
    if kind == "mlp":
        assert clone.hidden == policy.hidden


def test_params_are_a_flat_float64_copy_of_the_input():
    """Constructing from an int array gives float64; the caller's array is not aliased."""
    given = np.arange(10)
    policy = LinearSoftmax(4, 2, params=given)
    assert policy.params.dtype == np.float64 and policy.params.shape == (10,)
    policy.params[0] = 99
    assert given[0] == 0


def test_mlp_logits_use_nn_layout():
    """The MLP policy's logits are nn.forward's output on its layer sizes."""
    policy = random_policy("mlp", (6, 3), 2, seed=15)
    obs, _, _ = random_data(2, n=4)
    np.testing.assert_array_equal(policy.logits(obs), nn.forward(policy.params, (4, 6, 3, 2), obs)[1])
