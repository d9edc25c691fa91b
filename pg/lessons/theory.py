"""Problems small enough to compute the policy gradient exactly.

The gradient theorem page (pg.lessons.derivation), the variance probe (pg.lessons.variance) and
tests/lessons/test_theory.py check the Monte-Carlo estimator of pg.algo.reinforce against the
exact numbers computed here:

* ``SoftmaxBandit``: one state, K arms with Gaussian rewards. J(theta) = sum_a pi(a) mu_a.
* ``TabularMDP``: a few states, a short horizon; every trajectory is enumerated with its
  probability, so J(theta) = sum_tau P(tau; theta) R(tau) and grad J are sums, not estimates.

Both use the same policy class (``LinearSoftmax``) and the same padded ``Batch`` layout as
CartPole, so the estimator under test is the one that trains the agent, unchanged
(pg.lessons.derivation.reinforce_estimates draws the estimates, pg.lessons.stats summarises them).

=========  ===============  ===============================================================
symbol     shape            meaning
=========  ===============  ===============================================================
theta      (P,)             policy parameters (``policy.params``)
P_tau      (n_traj,)        probability of each enumerated trajectory
R_tau      (n_traj,)        its discounted return
score      (n_traj, P)      sum_t grad log pi(a_t | s_t) along it
=========  ===============  ===============================================================
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pg.algo.policies import LinearSoftmax
from pg.algo.rollout import Batch


# ---------------------------------------------------------------------------------------------
# Trajectories, enumerated
# ---------------------------------------------------------------------------------------------
@dataclass
class Trajectories:
    """Every possible trajectory of a problem under a policy, as one padded batch."""

    batch: Batch  # (T, n_traj) padded like a rollout
    prob: np.ndarray  # (n_traj,) P(tau; theta); sums to 1
    mean_reward: np.ndarray  # (T, n_traj) expected reward of each step given (s, a)


# ---------------------------------------------------------------------------------------------
# The bandit
# ---------------------------------------------------------------------------------------------
@dataclass
class SoftmaxBandit:
    """K arms; pulling arm a pays N(means[a], noise^2). One step per episode.

    The single state's feature is 0, so the linear policy's logits are its biases:
    pi(a) = softmax(theta)_a with theta = the last K parameters.
    """

    means: tuple[float, ...] = (1.0, 2.0, 0.5)
    noise: float = 1.0

    @property
    def n_actions(self) -> int:
        return len(self.means)

    @property
    def horizon(self) -> int:
        return 1

    @property
    def obs_dim(self) -> int:
        return 1

    def make_policy(self, logits) -> LinearSoftmax:
        """The policy pi = softmax(logits)."""
        logits = np.asarray(logits, dtype=np.float64)
        return LinearSoftmax(1, self.n_actions, params=np.concatenate([np.zeros(self.n_actions), logits]))

    def trajectories(self, policy) -> Trajectories:
        K = self.n_actions
        obs = np.zeros((1, K, 1))
        actions = np.arange(K)[None, :]
        prob = policy.probs(obs[0])[np.arange(K), actions[0]]
        mean_reward = np.asarray(self.means, dtype=np.float64)[None, :]
        batch = Batch(obs, actions, mean_reward.copy(), np.ones((1, K), dtype=bool))
        return Trajectories(batch, prob, mean_reward)

    def sample(self, policy, n_episodes: int, rng: np.random.Generator) -> Batch:
        obs = np.zeros((1, n_episodes, 1))
        actions = policy.act(obs, rng=rng)
        rewards = np.asarray(self.means)[actions] + self.noise * rng.standard_normal((1, n_episodes))
        return Batch(obs, actions, rewards, np.ones((1, n_episodes), dtype=bool))


# ---------------------------------------------------------------------------------------------
# The tabular MDP
# ---------------------------------------------------------------------------------------------
@dataclass
class TabularMDP:
    """States 0..S-1, actions 0..A-1, horizon H; the policy sees a one-hot state.

    transitions: (S, A, S + 1): P(s' | s, a), the last column being "episode over".
    rewards: (S, A) mean reward of taking a in s; observed with N(0, noise^2) added.
    start: (S,) start-state distribution.
    """

    transitions: np.ndarray
    rewards: np.ndarray
    start: np.ndarray
    horizon: int = 3
    noise: float = 0.0

    @classmethod
    def tiny_cartpole(cls, horizon: int = 4) -> TabularMDP:
        """CartPole in three states: the pole leans left (0), is upright (1) or leans right (2).

        Pushing the cart toward the lean (left when it leans left) brings the pole upright with
        probability 0.8; pushing away from it makes the pole fall (episode over) with
        probability 0.9. From upright, a push tips the pole the other way with probability 0.7.
        Every step pays +1, the falling one included, as in CartPole.
        """
        LEFT, UP, RIGHT, FALL = 0, 1, 2, 3
        P = np.zeros((3, 2, 4))
        P[LEFT, 0, [UP, LEFT]] = 0.8, 0.2
        P[LEFT, 1, [FALL, LEFT]] = 0.9, 0.1
        P[RIGHT, 1, [UP, RIGHT]] = 0.8, 0.2
        P[RIGHT, 0, [FALL, RIGHT]] = 0.9, 0.1
        P[UP, 0, [RIGHT, UP]] = 0.7, 0.3
        P[UP, 1, [LEFT, UP]] = 0.7, 0.3
        return cls(P, np.ones((3, 2)), np.array([0.25, 0.5, 0.25]), horizon)

    @classmethod
    def random(cls, n_states=3, n_actions=2, horizon=3, seed=0, noise=0.5, reward_mean=1.0) -> TabularMDP:
        """A random MDP: Dirichlet transitions (each with a chance to end the episode),
        rewards N(reward_mean, 1) per (s, a)."""
        rng = np.random.default_rng(seed)
        P = rng.dirichlet(np.ones(n_states + 1), size=(n_states, n_actions))
        R = rng.normal(reward_mean, 1.0, (n_states, n_actions))
        start = rng.dirichlet(np.ones(n_states))
        return cls(P, R, start, horizon, noise)

    @property
    def n_states(self) -> int:
        return self.rewards.shape[0]

    @property
    def n_actions(self) -> int:
        return self.rewards.shape[1]

    @property
    def obs_dim(self) -> int:
        return self.n_states

    def make_policy(self, logits) -> LinearSoftmax:
        """Tabular softmax: pi(a|s) = softmax(logits[s]) for an (S, A) table of logits."""
        logits = np.asarray(logits, dtype=np.float64).reshape(self.n_states, self.n_actions)
        return LinearSoftmax(self.n_states, self.n_actions, np.concatenate([logits.ravel(), np.zeros(self.n_actions)]))

    def trajectories(self, policy) -> Trajectories:
        S, A, H = self.n_states, self.n_actions, self.horizon
        eye = np.eye(S)
        pi = policy.probs(eye)  # (S, A)
        paths = []  # (prob, states, actions)
        for s0 in np.flatnonzero(self.start):
            stack = [(self.start[s0], [int(s0)], [])]
            while stack:
                p, states, acts = stack.pop()
                s = states[-1]
                for a in range(A):
                    pa = p * pi[s, a]
                    if len(acts) + 1 == H:
                        paths.append((pa, states, acts + [a]))
                        continue
                    for s_next in range(S + 1):
                        q = self.transitions[s, a, s_next]
                        if q == 0:
                            continue
                        if s_next == S:  # the episode ends here
                            paths.append((pa * q, states, acts + [a]))
                        else:
                            stack.append((pa * q, states + [s_next], acts + [a]))
        n = len(paths)
        obs = np.zeros((H, n, S))
        actions = np.zeros((H, n), dtype=np.intp)
        alive = np.zeros((H, n), dtype=bool)
        mean_reward = np.zeros((H, n))
        for j, (_, states, acts) in enumerate(paths):
            T = len(acts)
            obs[np.arange(T), j] = eye[states[:T]]
            actions[:T, j] = acts
            alive[:T, j] = True
            mean_reward[:T, j] = self.rewards[states[:T], acts]
        prob = np.array([p for p, _, _ in paths])
        return Trajectories(Batch(obs, actions, mean_reward.copy(), alive), prob, mean_reward)

    def sample(self, policy, n_episodes: int, rng: np.random.Generator) -> Batch:
        """``n_episodes`` episodes, all at once. The policy is evaluated once on its S + 1
        possible observations (each one-hot state, and the zeros an ended episode sees), and
        each draw reads its cumulative row from a table: the same draws, in the same order, as
        stepping ``policy.act`` on every episode's observation (``sample_stepwise``, which
        tests/lessons/test_theory.py compares with this bit for bit), without evaluating the
        policy on every episode at every step."""
        S, A, H = self.n_states, self.n_actions, self.horizon
        seen = np.vstack([np.eye(S), np.zeros((1, S))])  # row s: state s; row S: an ended episode
        cum_pi = np.cumsum(policy.probs(seen), axis=-1)  # (S + 1, A), as policy.act sums it
        cum_P = np.cumsum(self.transitions, axis=-1).reshape(S * A, S + 1)  # row s * A + a, as _categorical sums it
        rows = np.zeros((H, n_episodes), dtype=np.intp)  # what each episode sees: its state, or S once ended
        actions = np.zeros((H, n_episodes), dtype=np.intp)
        rewards = np.zeros((H, n_episodes))
        alive = np.zeros((H, n_episodes), dtype=bool)
        # state: S once the episode has ended (and only then), so it is also the row of ``seen`` it sees
        state = _draw(rng.random(n_episodes), np.cumsum(self.start)[None, :], np.zeros(n_episodes, np.intp))
        live = np.ones(n_episodes, dtype=bool)
        for t in range(H):
            alive[t] = live
            rows[t] = state
            actions[t] = _draw(rng.random(n_episodes), cum_pi, state) * live
            sa = np.minimum(state, S - 1) * A + actions[t]  # (s, a), an ended episode's read and discarded
            r = self.rewards.ravel().take(sa)
            noise = rng.standard_normal(n_episodes)  # drawn even without noise: the stream stays the same
            rewards[t] = (r + self.noise * noise if self.noise else r) * live  # r + 0 * noise is r
            state = np.where(live, _draw(rng.random(n_episodes), cum_P, sa), S)
            live = state < S
        return Batch(seen.take(rows, axis=0), actions, rewards, alive)

    def sample_stepwise(self, policy, n_episodes: int, rng: np.random.Generator) -> Batch:
        """``sample`` written step by step with ``policy.act`` on every episode's observation:
        the reference that ``sample`` must equal exactly (tests)."""
        S, H = self.n_states, self.horizon
        eye = np.eye(S)
        obs = np.zeros((H, n_episodes, S))
        actions = np.zeros((H, n_episodes), dtype=np.intp)
        rewards = np.zeros((H, n_episodes))
        alive = np.zeros((H, n_episodes), dtype=bool)
        state = _categorical(np.broadcast_to(self.start, (n_episodes, S)), rng)
        live = np.ones(n_episodes, dtype=bool)
        for t in range(H):
            alive[t] = live
            obs[t] = eye[np.minimum(state, S - 1)] * live[:, None]
            actions[t] = policy.act(obs[t], rng=rng) * live
            r = self.rewards[np.minimum(state, S - 1), actions[t]]
            rewards[t] = (r + self.noise * rng.standard_normal(n_episodes)) * live
            nxt = _categorical(self.transitions[np.minimum(state, S - 1), actions[t]], rng)
            state = np.where(live, nxt, state)
            live = live & (state < S)
        return Batch(obs, actions, rewards, alive)


def _draw(u: np.ndarray, cum: np.ndarray, row: np.ndarray) -> np.ndarray:
    """(M,) the inverse-CDF draw of ``_categorical`` (and of policy.act) for uniforms ``u`` (M,)
    from the cumulative rows ``cum[row]`` (K columns): how many of the row's sums u exceeds,
    at most K - 1. Counted one column at a time, the same integers as summing ``u > cum[row]``
    over a row and clipping: a cumulative sum never decreases, so u exceeds the last sum only if
    it exceeds all the others, and the clip takes that count back to K - 1; the last column is
    therefore never read."""
    count = np.zeros(len(u), dtype=np.intp)
    for j in range(cum.shape[1] - 1):
        count += u > cum[:, j].take(row)
    return count


def _categorical(p: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """(M,) one draw from each row of an (M, K) probability table."""
    u = rng.random((len(p), 1))
    return np.minimum((u > np.cumsum(p, axis=1)).sum(axis=1), p.shape[1] - 1)


# ---------------------------------------------------------------------------------------------
# Exact quantities
# ---------------------------------------------------------------------------------------------
def exact_objective(problem, policy, gamma: float = 1.0) -> float:
    """J(theta) = E[sum_t gamma^t r_t], summed over every trajectory."""
    traj = problem.trajectories(policy)
    discounts = gamma ** np.arange(len(traj.mean_reward))[:, None]
    return float(traj.prob @ (discounts * traj.mean_reward).sum(axis=0))


def trajectory_scores(policy, traj: Trajectories) -> np.ndarray:
    """(n_traj, P) sum_t grad log pi(a_t|s_t) for each enumerated trajectory, all at once for a
    linear softmax (d log pi / d logits = onehot(a) - pi, then the layer's backward pass per
    trajectory); any other policy goes through ``trajectory_scores_loop``, the reference
    (tests check the two agree)."""
    if type(policy) is not LinearSoftmax:
        return trajectory_scores_loop(policy, traj)
    b = traj.batch
    obs = np.asarray(b.obs, dtype=np.float64)  # (T, n, O)
    dlogits = -policy.probs(obs)  # (T, n, A)
    np.put_along_axis(dlogits, b.actions[..., None].astype(np.intp), 1.0 + np.take_along_axis(
        dlogits, b.actions[..., None].astype(np.intp), axis=-1), axis=-1)
    dlogits *= b.alive[..., None]
    n = dlogits.shape[1]
    weights = np.einsum("tno,tna->noa", obs, dlogits).reshape(n, -1)  # W is (O, A) row-major
    return np.concatenate([weights, dlogits.sum(axis=0)], axis=1)


def trajectory_scores_loop(policy, traj: Trajectories) -> np.ndarray:
    """``trajectory_scores`` one trajectory at a time through ``policy.grad_log_prob``: any policy."""
    n = traj.batch.alive.shape[1]
    scores = np.zeros((n, policy.params.size))
    for j in range(n):
        alive = traj.batch.alive[:, j]
        scores[j] = policy.grad_log_prob(traj.batch.obs[alive, j], traj.batch.actions[alive, j])
    return scores


def exact_gradient(problem, policy, gamma: float = 1.0) -> np.ndarray:
    """(P,) grad J = sum_tau P(tau) R(tau) grad log P(tau), the policy-gradient theorem applied
    exactly. (tests check it against finite differences of exact_objective.)"""
    traj = problem.trajectories(policy)
    discounts = gamma ** np.arange(len(traj.mean_reward))[:, None]
    R = (discounts * traj.mean_reward).sum(axis=0)
    return (traj.prob * R) @ trajectory_scores(policy, traj)


def finite_difference_gradient(problem, policy, gamma: float = 1.0, eps: float = 1e-5) -> np.ndarray:
    """(P,) central differences of the exact objective: an independent check of the theorem."""
    grad = np.zeros(policy.params.size)
    for i in range(policy.params.size):
        plus, minus = policy.params.copy(), policy.params.copy()
        plus[i] += eps
        minus[i] -= eps
        grad[i] = (
            exact_objective(problem, policy.with_params(plus), gamma)
            - exact_objective(problem, policy.with_params(minus), gamma)
        ) / (2 * eps)
    return grad
