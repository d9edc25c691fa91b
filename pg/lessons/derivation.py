"""The policy-gradient theorem, one numerical check per step of the derivation.

The theorem page (pages/views/theorem.py) shows each step as an equation and, beside it, the result
of one function here; tests/lessons/test_derivation.py asserts each result against known truth. Every
check runs on one of pg.lessons.theory's exactly solvable problems, so "the exact value" is a sum over
every trajectory, not another estimate:

* ``tiny_cartpole``: CartPole in three states (leans left, upright, leans right), 4 steps.
  theta_s is the logit of "push right" in state s (the logit of "push left" is 0), so
  pi(right | s) = sigmoid(theta_s).
* ``bandit``: one state, three arms; theta_k is arm k's logit, pi = softmax(theta).

=========  =============  ===============================================================
symbol     shape          meaning
=========  =============  ===============================================================
theta      (3,)           the parameters on the page's sliders
logp       (T, N)         log pi(a_t | s_t) of each step of N sampled episodes
score      (3,)           grad_theta log pi(a|s) (of one step) or sum_t of it (of an episode)
G          (T, N)         reward-to-go sum_{t' >= t} r_t'  (gamma = 1)
b          scalar/(T, N)  baseline
adv        (T, N)         G - b, the weight of each grad log pi
g_hat      (3,)           a REINFORCE estimate of grad J; ``exact``: grad J by enumeration
=========  =============  ===============================================================

Gradients are with respect to theta: the policy objects of pg.algo.policies have more parameters
(weights and biases of a linear softmax); ``Setup.theta_index`` picks out those that theta
sets, which by the chain rule gives d/dtheta exactly. Every function takes its randomness as a
seed and is deterministic given it.

Each check returns a small frozen dataclass whose fields are documented where it is defined
(``ObjectiveCheck``, ``LogDerivativeCheck``, ...); ``all_checks`` groups those that depend only
on the problem, theta, N and the seed in one ``Checks``, so the page reads
``checks.objective.J_exact``. The variance study draws its estimates with
``batch_reinforce_estimates``: ``sample_batches`` then ``reinforce_estimates`` (the path
tests/lessons/test_theory.py checks for unbiasedness against the exact gradient), computed for
all batches at once and equal to it up to rounding (tests/lessons/test_derivation.py); it
summarises them with pg.lessons.stats.estimate_statistics.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property, lru_cache

import numpy as np

from pg.algo.baselines import LinearValue, MovingAverage, make_baseline
from pg.algo.reinforce import reinforce_gradient, surrogate_loss
from pg.algo.returns import reward_to_go
from pg.algo.rollout import Batch
from pg.lessons.stats import estimate_statistics
from pg.lessons.theory import SoftmaxBandit, TabularMDP, Trajectories, exact_gradient, exact_objective

PROBLEMS = ("tiny_cartpole", "bandit")
GAMMA = 1.0  # undiscounted, as in the derivation on the page
CONVERGENCE_NS = tuple(2**k for k in range(0, 11))  # 1 .. 1024 episodes per estimate
CONVERGENCE_REPEATS = 40
VARIANCE_ESTIMATES = 200  # estimates per estimator in the variance study
SCORE_EPISODES = 4000  # episodes averaged in the E[grad log pi * b] = 0 check
ESTIMATORS = (  # (label, returns, baseline): the variants of the variance study, in page order
    ("whole return R(τ)", "episode", "none"),
    ("reward-to-go G_t", "reward_to_go", "none"),
    ("G_t − moving average", "reward_to_go", "moving_average"),
    ("G_t − batch mean", "reward_to_go", "batch_mean"),
    ("G_t − learned V(s_t)", "reward_to_go", "value"),
)


# ---------------------------------------------------------------------------------------------
# The derivation, as the page writes it (LaTeX), one entry per check below
# ---------------------------------------------------------------------------------------------
STEPS = (
    ("The objective", (
        r"J(\theta) = \mathbb{E}_{\tau \sim \pi_\theta}\big[R(\tau)\big] = \sum_\tau P(\tau;\theta)\,R(\tau)",)),
    ("The log-derivative trick", (
        r"\nabla_\theta P = P\,\nabla_\theta \log P",
        r"\begin{aligned} \nabla_\theta J &= \sum_\tau \nabla_\theta P(\tau;\theta)\,R(\tau) \\"
        r" &= \sum_\tau P(\tau;\theta)\,\nabla_\theta \log P(\tau;\theta)\,R(\tau) \\"
        r" &= \mathbb{E}_\tau\big[R(\tau)\,\nabla_\theta \log P(\tau;\theta)\big] \end{aligned}")),
    ("The dynamics drop out", (
        r"\begin{aligned} \log P(\tau;\theta) = {} & \textcolor{#6b7280}{\log \rho_0(s_0)} \\"
        r" & + \sum_t \log \pi_\theta(a_t \mid s_t) \\"
        r" & + \textcolor{#6b7280}{\sum_t \log P(s_{t+1} \mid s_t, a_t)} \end{aligned}",
        r"\nabla_\theta \log P(\tau;\theta) = \sum_t \nabla_\theta \log \pi_\theta(a_t \mid s_t)")),
    ("The estimator, and its error", (
        r"\nabla_\theta J = \mathbb{E}_\tau\Big[R(\tau) \sum_t \nabla_\theta \log \pi_\theta(a_t \mid s_t)\Big]",
        r"\hat g = \frac{1}{N} \sum_{n=1}^{N} R(\tau_n) \sum_t \nabla_\theta \log \pi_\theta(a^n_t \mid s^n_t)")),
    ("Reward-to-go", (
        r"\nabla_\theta J = \mathbb{E}\Big[\sum_t \nabla_\theta \log \pi_\theta(a_t \mid s_t)\,G_t\Big]",
        r"G_t = \sum_{t' \ge t} r_{t'}")),
    ("A baseline", (
        r"\begin{aligned} \mathbb{E}_{a \sim \pi_\theta}\big[\nabla_\theta \log \pi_\theta(a \mid s)\, b\big]"
        r" &= b \sum_a \nabla_\theta \pi_\theta(a \mid s) \\"
        r" &= b\, \nabla_\theta \sum_a \pi_\theta(a \mid s) \\ &= b\,\nabla_\theta 1 = 0 \end{aligned}",
        r"\nabla_\theta J = \mathbb{E}\Big[\sum_t \nabla_\theta \log \pi_\theta(a_t \mid s_t)\,"
        r"\big(G_t - b(s_t)\big)\Big]")),
    ("The REINFORCE update", (
        r"\hat g = \frac{1}{N} \sum_{n=1}^{N} \sum_t \nabla_\theta \log \pi_\theta(a^n_t \mid s^n_t)\,"
        r"\underbrace{\big(G^n_t - b^n_t\big)}_{\text{adv}}",
        r"\theta \leftarrow \theta + \alpha\,\hat g")),
    ("The \"loss\" is a device", (
        r"\begin{aligned} L(\theta) &= -\frac{1}{N} \sum_n \sum_t \log \pi_\theta(a_t \mid s_t)\,\text{adv}_t \\"
        r" \nabla_\theta L &= -\hat g \quad \text{(adv held fixed)} \end{aligned}",
        r"\begin{aligned} L_\text{mean} &= -\frac{1}{\sum_n T_n} \sum_n \sum_t \log \pi_\theta(a_t \mid s_t)\,"
        r"\text{adv}_t \\ &= \frac{N}{\sum_n T_n}\,L(\theta) \\"
        r" \nabla_\theta L_\text{mean} &= -\frac{N}{\sum_n T_n}\,\hat g \end{aligned}")),
    # the trainer as it runs (issue 15): pg.lessons.discounting, normalisation, adam_scale, on_policy
    ("Discounting, as training does it", (
        r"J_\gamma(\theta) = \mathbb{E}\Big[\sum_t \gamma^t r_t\Big], \qquad G^\gamma_t = \sum_{k \ge t} \gamma^{k-t} r_k",
        r"\nabla_\theta J_\gamma = \mathbb{E}\Big[\sum_t \gamma^t\,\nabla_\theta \log \pi_\theta(a_t \mid s_t)\,G^\gamma_t\Big]",
        r"\begin{aligned} & \text{training drops } \gamma^t\text{:} \\ & \mathbb{E}\Big[\sum_t \nabla_\theta \log "
        r"\pi_\theta(a_t \mid s_t)\,G^\gamma_t\Big] \ne \nabla_\theta J_\gamma \end{aligned}")),
    ("Advantage normalisation", (
        r"\text{adv}_t \leftarrow \frac{\text{adv}_t - \operatorname{mean}(\text{adv})}{\operatorname{std}(\text{adv})}"
        r"\quad \text{(over the batch's steps)}",)),
    ("Adam, and the scale of the gradient", (
        r"\begin{aligned} m &\leftarrow \beta_1 m + (1 - \beta_1)\,g, \qquad v \leftarrow \beta_2 v + (1 - \beta_2)\,g^2 \\"
        r" \Delta\theta &= \alpha\,\hat m \,/\, \big(\sqrt{\hat v} + \epsilon\big) \end{aligned}",
        r"g \to c\,g: \quad \Delta\theta \to \alpha\,\hat m \,/\, \big(\sqrt{\hat v} + \epsilon / c\big)")),
    ("On-policy", (
        r"\nabla_\theta J = \mathbb{E}_{\tau \sim \pi_\theta}\Big[\sum_t \nabla_\theta \log \pi_\theta(a_t \mid s_t)\,G_t\Big]",
        r"\begin{aligned} & = \mathbb{E}_{\tau \sim \pi_\text{old}}\Big[w(\tau) \sum_t \nabla_\theta \log \pi_\theta(a_t \mid s_t)\,"
        r"G_t\Big] \\ & w(\tau) = \prod_t \frac{\pi_\theta(a_t \mid s_t)}{\pi_\text{old}(a_t \mid s_t)} \end{aligned}")),
    ("The loss is not the performance", (
        r"\mathbb{E}\big[L_b(\theta)\big] = -\mathbb{E}\Big[\sum_t \log \pi_\theta(a_t \mid s_t)\,(G_t - b)\Big]",
        r"\frac{\partial\, \mathbb{E}[L_b]}{\partial b} = \mathbb{E}\Big[\sum_t \log \pi_\theta(a_t \mid s_t)\Big] < 0,"
        r"\qquad \frac{\partial J}{\partial b} = 0")),
)


# ---------------------------------------------------------------------------------------------
# The problem at the sliders' theta
# ---------------------------------------------------------------------------------------------
@dataclass
class Setup:
    """A problem, its policy at theta, and names for the page."""

    name: str
    problem: SoftmaxBandit | TabularMDP
    theta: np.ndarray  # (3,)
    theta_index: np.ndarray  # (3,) positions of theta in policy.params
    theta_labels: tuple[str, ...]
    state_names: tuple[str, ...]
    action_names: tuple[str, ...]

    @cached_property
    def policy(self):
        return self.policy_at(self.theta)

    @cached_property
    def exact_grad(self) -> np.ndarray:
        """(3,) grad_theta J by enumerating every trajectory."""
        return self.d_theta(exact_gradient(self.problem, self.policy, GAMMA))

    def policy_at(self, theta):
        theta = np.asarray(theta, dtype=np.float64)
        if self.name == "bandit":
            return self.problem.make_policy(theta)
        return self.problem.make_policy(np.stack([np.zeros_like(theta), theta], axis=1))

    def d_theta(self, grad_params: np.ndarray) -> np.ndarray:
        """(..., 3) the theta components of a gradient over all policy parameters."""
        return np.asarray(grad_params)[..., self.theta_index]

    def state_index(self, obs: np.ndarray) -> np.ndarray:
        """(...) the state number of each observation (the bandit has one state, 0)."""
        if self.name == "bandit":
            return np.zeros(obs.shape[:-1], dtype=np.intp)
        return (obs @ np.arange(obs.shape[-1], dtype=np.float64)).astype(np.intp)  # one-hot (or 0 once ended): exact

    def step_scores(self, batch: Batch, masked: bool = False) -> np.ndarray:
        """(T, N, 3) grad_theta log pi(a_t|s_t) of every step of ``batch``, read from
        ``score_table``; the steps after an episode's end read garbage, or 0 if ``masked`` (the
        same as multiplying by ``batch.alive``, up to the sign of a zero)."""
        table = self.score_table()
        S, A, P = table.shape
        rows = self.state_index(batch.obs) * A + batch.actions
        if masked:  # row S * A: zeros
            return self._masked_table.take(np.where(batch.alive, rows, S * A), axis=0)
        return table.reshape(S * A, P).take(rows, axis=0)

    @cached_property
    def _masked_table(self) -> np.ndarray:
        table = self.score_table()
        return np.vstack([table.reshape(-1, table.shape[-1]), np.zeros((1, table.shape[-1]))])

    def score_table(self, theta=None) -> np.ndarray:
        """(S, A, 3) grad_theta log pi(a|s) for every state and action, from the policy's own
        gradient code (at the setup's theta: computed once, read-only)."""
        if theta is None:
            return self._score_table
        return self._score_table_at(self.policy_at(theta))

    @cached_property
    def _score_table(self) -> np.ndarray:
        table = self._score_table_at(self.policy)
        table.setflags(write=False)
        return table

    def _score_table_at(self, policy) -> np.ndarray:
        S, A = len(self.state_names), len(self.action_names)
        table = np.zeros((S, A, len(self.theta)))
        for s in range(S):
            for a in range(A):
                table[s, a] = self.d_theta(policy.grad_log_prob(self._obs(s)[None], np.array([a])))
        return table

    def probs_table(self, theta=None) -> np.ndarray:
        """(S, A) pi(a|s)."""
        policy = self.policy if theta is None else self.policy_at(theta)
        return policy.probs(np.stack([self._obs(s) for s in range(len(self.state_names))]))

    def describe(self) -> str:
        """The problem in a Markdown sentence (with TeX), its numbers computed at theta."""
        pi = self.probs_table()
        if self.name == "bandit":
            return (f"**a three-armed bandit**: one step per episode; arm $k$ pays its mean "
                    f"({', '.join(map(str, self.problem.means))}) plus unit Gaussian noise; "
                    f"$\\pi = \\mathrm{{softmax}}(\\theta) = ({', '.join(f'{p:.2f}' for p in pi[0])})$.")
        return ("**a CartPole small enough to solve exactly**: the pole leans left, stands upright or leans right; "
                "pushing toward the lean rights it, pushing away topples it; +1 per step, at most "
                f"{self.problem.horizon} steps. $\\theta_s$ is the logit of *push right* in state $s$: the policy "
                "pushes right with probability " + ", ".join(f"{p:.2f} ({s})" for s, p in zip(self.state_names, pi[:, 1]))
                + ".")

    def _obs(self, s: int) -> np.ndarray:
        return np.eye(self.problem.obs_dim)[s] if self.name != "bandit" else np.zeros(1)


class _Uniform:
    """A stand-in policy with pi(a|s) = 1 for every s and a: enumerating with it leaves in each
    trajectory's probability the dynamics' share alone, rho0(s_0) prod_t P(s_t+1|s_t, a_t)."""

    def __init__(self, n_states: int, n_actions: int):
        self.shape = (n_states, n_actions)

    def probs(self, obs):
        return np.ones(self.shape)


class EnumeratedMDP(TabularMDP):
    """A TabularMDP that enumerates its trajectories once. Which paths exist, and their order,
    does not depend on the policy (only transitions of probability 0 are left out), so
    ``trajectories(policy)`` reuses them and multiplies the dynamics' share of each path's
    probability by its policy terms: the same Trajectories as TabularMDP's (up to rounding in
    the last place, tests/lessons/test_derivation.py), without the search on every call. The
    page enumerates some 50 times per setting; this is most of what a new theta costs."""

    def trajectories(self, policy) -> Trajectories:
        paths = self.__dict__.get("_paths")
        if paths is None:
            paths = self.__dict__["_paths"] = super().trajectories(_Uniform(self.n_states, self.n_actions))
        b = paths.batch
        states = b.obs.argmax(axis=-1)  # (T, n) one-hot states (0 after an episode ends, masked below)
        pi = policy.probs(np.eye(self.n_states))[states, b.actions]
        prob = paths.prob * np.where(b.alive, pi, 1.0).prod(axis=0)
        return Trajectories(Batch(b.obs.copy(), b.actions.copy(), b.rewards.copy(), b.alive.copy()), prob,
                            paths.mean_reward.copy())


@lru_cache(maxsize=1)
def _tiny_cartpole() -> EnumeratedMDP:
    """One tiny CartPole for every setup, so that its paths are enumerated once per process
    (problems are never modified)."""
    return EnumeratedMDP.tiny_cartpole()


def make_setup(name: str, theta) -> Setup:
    """The page's problem ``name`` (one of PROBLEMS) with parameters ``theta`` (3 numbers)."""
    theta = np.asarray(theta, dtype=np.float64).reshape(-1)
    if theta.shape != (3,) or not np.isfinite(theta).all():
        raise ValueError(f"theta must be 3 finite numbers, got {theta!r}")
    if name == "bandit":
        return Setup(name, SoftmaxBandit(), theta, np.arange(3, 6),
                     ("θ_0", "θ_1", "θ_2"), ("the bandit",), ("arm 0", "arm 1", "arm 2"))
    if name == "tiny_cartpole":
        # W is (3 states x 2 actions) row-major: the "push right" logit of state s is at 2s + 1
        return Setup(name, _tiny_cartpole(), theta, np.array([1, 3, 5]),
                     ("θ_left", "θ_up", "θ_right"),
                     ("leans left", "upright", "leans right"), ("push left", "push right"))
    raise ValueError(f"problem must be one of {', '.join(PROBLEMS)}, got {name!r}")


def _rng(seed) -> np.random.Generator:
    return np.random.default_rng(seed)


def _columns(batch: Batch, start: int, stop: int) -> Batch:
    """Episodes start..stop-1 of a batch, as a batch."""
    cols = slice(start, stop)
    return Batch(batch.obs[:, cols], batch.actions[:, cols], batch.rewards[:, cols], batch.alive[:, cols])


def _episode_scores(setup: Setup, batch: Batch) -> np.ndarray:
    """(N, 3) sum_t grad log pi(a_t|s_t) of each episode."""
    return setup.step_scores(batch, masked=True).sum(axis=0)  # (T, N, 3) summed over t


def _central_difference(f, x: np.ndarray, eps: float) -> np.ndarray:
    grad = np.zeros(x.size)
    for i in range(x.size):
        step = np.zeros(x.size)
        step[i] = eps
        grad[i] = (f(x + step) - f(x - step)) / (2 * eps)
    return grad


def _ratio(g: np.ndarray, reference: np.ndarray) -> float:
    """The scalar c that best fits g = c * reference (nan if reference is 0)."""
    denom = float(reference @ reference)
    return float(g @ reference / denom) if denom > 0 else float("nan")


# ---------------------------------------------------------------------------------------------
# Step 1. The objective J(theta) = E[R(tau)] = sum_tau P(tau; theta) R(tau)
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ObjectiveCheck:
    """J by enumeration beside the average return of sampled episodes."""

    J_exact: float  # sum_tau P(tau; theta) R(tau), over every trajectory
    n_trajectories: int  # how many trajectories that sum has
    prob_sum: float  # sum_tau P(tau; theta): 1 up to rounding
    J_sample: float  # mean return R of the sampled episodes
    J_sample_se: float  # its standard error, std(R) / sqrt(episodes) (nan for one episode)
    z: float  # (J_sample - J_exact) / J_sample_se (nan without a standard error)
    episodes: int  # episodes sampled


def objective_check(setup: Setup, episodes: int, seed) -> ObjectiveCheck:
    """J by enumeration against the average return of ``episodes`` sampled episodes."""
    traj = setup.problem.trajectories(setup.policy)
    returns = setup.problem.sample(setup.policy, episodes, _rng(seed)).rewards.sum(axis=0)
    se = returns.std(ddof=1) / np.sqrt(episodes) if episodes > 1 else float("nan")
    J = exact_objective(setup.problem, setup.policy, GAMMA)
    return ObjectiveCheck(
        J_exact=J,
        n_trajectories=len(traj.prob),
        prob_sum=float(traj.prob.sum()),
        J_sample=float(returns.mean()),
        J_sample_se=float(se),
        z=float((returns.mean() - J) / se) if se > 0 else float("nan"),
        episodes=episodes,
    )


# ---------------------------------------------------------------------------------------------
# Step 2. The log-derivative trick: grad pi = pi grad log pi
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class LogDerivativeRow:
    """grad_theta pi(a|s) two ways, for one state and action."""

    state: str  # the state's name (Setup.state_names)
    action: str  # the action's name (Setup.action_names)
    pi: float  # pi(a|s)
    fd: np.ndarray  # (3,) grad_theta pi(a|s) by central differences
    analytic: np.ndarray  # (3,) pi(a|s) grad_theta log pi(a|s), from the policy's gradient code
    diff: float  # max |fd - analytic|


@dataclass(frozen=True)
class LogDerivativeCheck:
    """The trick on every (s, a), and the theorem it leads to on J itself."""

    rows: tuple[LogDerivativeRow, ...]  # one per (state, action), states outermost
    max_diff: float  # the largest row.diff
    grad_J: np.ndarray  # (3,) grad_theta J by the theorem (enumeration)
    grad_J_fd: np.ndarray  # (3,) central differences of the exact J
    theorem_diff: float  # max |grad_J - grad_J_fd|


def log_derivative_check(setup: Setup, eps: float = 1e-6) -> LogDerivativeCheck:
    """For every (s, a): grad_theta pi(a|s) by central differences against pi * grad log pi
    from the policy's analytic gradient; and the theorem itself, grad J by enumeration
    against central differences of J."""
    pi, score = setup.probs_table(), setup.score_table()
    rows = []
    for s, state in enumerate(setup.state_names):
        for a, action in enumerate(setup.action_names):
            fd = _central_difference(lambda th: setup.probs_table(th)[s, a], setup.theta, eps)  # noqa: B023 (called at once, inside the loop)
            analytic = pi[s, a] * score[s, a]
            rows.append(LogDerivativeRow(state, action, float(pi[s, a]), fd, analytic, float(np.abs(fd - analytic).max())))
    exact = setup.exact_grad
    fd_J = _central_difference(
        lambda th: exact_objective(setup.problem, setup.policy_at(th), GAMMA), setup.theta, eps)
    return LogDerivativeCheck(
        rows=tuple(rows),
        max_diff=max(r.diff for r in rows),
        grad_J=exact,
        grad_J_fd=fd_J,
        theorem_diff=float(np.abs(exact - fd_J).max()),
    )


# ---------------------------------------------------------------------------------------------
# Step 3. log P(tau) = log rho0(s0) + sum_t log pi(a_t|s_t) + log P(s_t+1|s_t,a_t): the dynamics
#         do not depend on theta, so they drop out of the gradient.
# ---------------------------------------------------------------------------------------------
def trajectory_log_prob(setup: Setup, theta, states, actions) -> tuple[float, float]:
    """(policy part, dynamics part) of log P(tau; theta) for one trajectory.

    The dynamics part is log rho0(s0) plus the log-probability of every transition, including
    the fall that ends an episode shorter than the horizon."""
    pi = setup.probs_table(theta)
    log_policy = float(sum(np.log(pi[s, a]) for s, a in zip(states, actions)))
    if setup.name == "bandit":
        return log_policy, 0.0
    P, S, H = setup.problem.transitions, setup.problem.n_states, setup.problem.horizon
    log_dyn = np.log(setup.problem.start[states[0]])
    for t in range(len(actions) - 1):
        log_dyn += np.log(P[states[t], actions[t], states[t + 1]])
    if len(actions) < H:
        log_dyn += np.log(P[states[-1], actions[-1], S])
    return log_policy, float(log_dyn)


@dataclass(frozen=True)
class DynamicsCheck:
    """One sampled trajectory: the gradient of its whole log P against the policy terms alone."""

    states: tuple[str, ...]  # (T,) the state names along it
    actions: tuple[str, ...]  # (T,) the action names along it
    fell: bool  # whether it ended before the horizon (the pole fell)
    candidates: int  # episodes sampled, of which it is the longest
    log_policy: float  # sum_t log pi(a_t|s_t)
    log_dynamics: float  # log rho0(s_0) + sum_t log P(s_t+1|s_t, a_t) (0 for the bandit)
    fd_grad_log_P: np.ndarray  # (3,) central differences of log_policy + log_dynamics
    score: np.ndarray  # (3,) sum_t grad log pi(a_t|s_t), from the policy's gradient code
    max_diff: float  # max |fd_grad_log_P - score|


def dynamics_check(setup: Setup, seed, eps: float = 1e-6, candidates: int = 8) -> DynamicsCheck:
    """One sampled trajectory (the longest of ``candidates`` sampled episodes, so that it shows
    several transitions): central differences of the whole log P(tau; theta), transition
    probabilities included, against sum_t grad log pi(a_t|s_t), computed without them."""
    batch = setup.problem.sample(setup.policy, candidates, _rng(seed))
    j = int(batch.lengths.argmax())
    T = int(batch.lengths[j])
    states = [int(s) for s in setup.state_index(batch.obs[:T, j])]
    actions = [int(a) for a in batch.actions[:T, j]]
    log_policy, log_dynamics = trajectory_log_prob(setup, setup.theta, states, actions)
    fd = _central_difference(lambda th: sum(trajectory_log_prob(setup, th, states, actions)), setup.theta, eps)
    score = setup.d_theta(setup.policy.grad_log_prob(batch.obs[:T, j], batch.actions[:T, j]))
    return DynamicsCheck(
        states=tuple(setup.state_names[s] for s in states),
        actions=tuple(setup.action_names[a] for a in actions),
        fell=setup.name != "bandit" and T < setup.problem.horizon,
        candidates=candidates,
        log_policy=log_policy,
        log_dynamics=log_dynamics,
        fd_grad_log_P=fd,
        score=score,
        max_diff=float(np.abs(fd - score).max()),
    )


# ---------------------------------------------------------------------------------------------
# Step 4. The estimator g_hat = 1/N sum_n R(tau_n) sum_t grad log pi, converging like 1/sqrt(N)
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class EstimateCheck:
    """One REINFORCE estimate (whole return, no baseline) beside grad J."""

    g_hat: np.ndarray  # (3,) the estimate from ``episodes`` episodes
    exact: np.ndarray  # (3,) grad J by enumeration
    error: float  # ||g_hat - exact||
    episodes: int  # N


def estimate_check(setup: Setup, episodes: int, seed) -> EstimateCheck:
    """One estimate from ``episodes`` episodes (whole return, no baseline) beside grad J."""
    batch = setup.problem.sample(setup.policy, episodes, _rng(seed))
    g_hat = setup.d_theta(reinforce_gradient(setup.policy, batch, GAMMA, make_baseline("none"), "episode")[0])
    exact = setup.exact_grad
    return EstimateCheck(g_hat, exact, float(np.linalg.norm(g_hat - exact)), episodes)


def episode_estimates(setup: Setup, batch: Batch) -> np.ndarray:
    """(N, 3) the single-episode estimates R(tau_n) sum_t grad log pi(a_t|s_t): the estimate
    of reinforce_gradient (whole return, no baseline) from N episodes is their mean
    (tests check the two agree)."""
    return batch.rewards.sum(axis=0)[:, None] * _episode_scores(setup, batch)


@dataclass(frozen=True)
class ConvergenceStudy:
    """The error of an estimate from n episodes, for each n, against c / sqrt(n)."""

    n: np.ndarray  # (K,) episodes per estimate (CONVERGENCE_NS)
    error: np.ndarray  # (K,) ||g_hat_n - grad J|| averaged over the repeats
    low: np.ndarray  # (K,) its 10th percentile over the repeats
    high: np.ndarray  # (K,) its 90th percentile
    reference: np.ndarray  # (K,) c / sqrt(n), through the first point
    slope: float  # least-squares slope of log error against log n (theory: -0.5)
    intercept: float  # ... and its intercept
    repeats: int  # independent estimates at each n
    exact_norm: float  # ||grad J||, for scale


def convergence_study(setup: Setup, seed, ns=CONVERGENCE_NS, repeats: int = CONVERGENCE_REPEATS) -> ConvergenceStudy:
    """For each n: ``repeats`` independent estimates from n episodes each; the error
    ||g_hat_n - grad J|| averaged over them (and its 10th/90th percentiles), the reference
    line c / sqrt(n) through the first point, and the least-squares log-log slope.

    Repeat r at size n averages the first n of a pool of max(ns) episodes of its own, so the
    repeats are independent; the points for different n share episodes (nested samples)."""
    ns = np.asarray(ns, dtype=int)
    pool = episode_estimates(setup, setup.problem.sample(setup.policy, repeats * int(ns.max()), _rng(seed)))
    running = np.cumsum(pool.reshape(repeats, int(ns.max()), -1), axis=1)  # (repeats, n_max, 3)
    errors = np.linalg.norm(running[:, ns - 1] / ns[None, :, None] - setup.exact_grad, axis=-1)  # (repeats, len(ns))
    mean = errors.mean(axis=0)
    low, high = np.percentile(errors, [10, 90], axis=0)
    reference = mean[0] * np.sqrt(ns[0]) / np.sqrt(ns)
    slope, intercept = np.polyfit(np.log(ns), np.log(mean), 1)
    return ConvergenceStudy(n=ns, error=mean, low=low, high=high, reference=reference, slope=float(slope),
                            intercept=float(intercept), repeats=repeats,
                            exact_norm=float(np.linalg.norm(setup.exact_grad)))


# ---------------------------------------------------------------------------------------------
# Step 5/6. Reward-to-go and baselines: E[grad log pi(a|s) b] = 0, and what it buys (variance)
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class BaselineZeroCheck:
    """E[sum_t grad log pi(a_t|s_t) * b] for a constant b: sampled, and exactly."""

    b: float  # the constant baseline
    mean: np.ndarray  # (3,) the sample mean over ``episodes`` episodes
    se: np.ndarray  # (3,) its standard error
    z: np.ndarray  # (3,) mean / se (0 where se is 0)
    exact: np.ndarray  # (3,) b * sum_tau P(tau) score(tau) by enumeration: 0 up to rounding
    per_state_max: float  # max over s of |sum_a pi(a|s) grad log pi(a|s)|: 0 up to rounding
    episodes: int  # episodes sampled


def baseline_zero_check(setup: Setup, b: float, seed, episodes: int = SCORE_EPISODES) -> BaselineZeroCheck:
    """E[sum_t grad log pi(a_t|s_t) * b] for a constant b: the sample mean over ``episodes``
    episodes with its standard error, and the exact value from enumeration
    (b * sum_tau P(tau) score(tau)), which is 0 because sum_a pi grad log pi = grad 1 = 0
    (``per_state_max``: the largest |sum_a pi(a|s) grad log pi(a|s)| over the states)."""
    batch = setup.problem.sample(setup.policy, episodes, _rng(seed))
    sampled = estimate_statistics(b * _episode_scores(setup, batch))  # (N, 3) one value per episode
    traj = setup.problem.trajectories(setup.policy)
    exact = b * traj.prob @ _episode_scores(setup, traj.batch)
    per_state = (setup.probs_table()[..., None] * setup.score_table()).sum(axis=1)  # (S, 3)
    mean, se = sampled.mean, sampled.standard_error
    return BaselineZeroCheck(b=float(b), mean=mean, se=se, z=np.divide(mean, se, out=np.zeros(3), where=se > 0),
                             exact=exact, per_state_max=float(np.abs(per_state).max()), episodes=episodes)


def sample_batches(problem, policy, n_batches: int, episodes: int, seed) -> list[Batch]:
    """``n_batches`` independent batches of ``episodes`` episodes of ``policy`` on ``problem``
    (a pg.lessons.theory problem), sampled in one go; ``seed``: a seed or a Generator."""
    batch = problem.sample(policy, n_batches * episodes, _rng(seed))
    return [_columns(batch, i * episodes, (i + 1) * episodes) for i in range(n_batches)]


def reinforce_estimates(problem, policy, batches: list[Batch], returns: str = "reward_to_go",
                        baseline="none") -> np.ndarray:
    """(len(batches), P) one pg.algo.reinforce.reinforce_gradient estimate per batch, in order,
    over all of the policy's parameters (``Setup.d_theta`` picks theta's).

    ``baseline``: a name of pg.algo.baselines.BASELINES, or any object with ``values(batch, G)``
    and ``update(batch, G)``. Stateful baselines (moving average, value) learn from each batch
    after it is used, as in training, so each estimate only meets a baseline fitted to earlier
    batches (the value baseline is 0 before its first fit)."""
    if isinstance(baseline, str):
        baseline = make_baseline(baseline, problem.obs_dim, problem.horizon)
    out = np.zeros((len(batches), policy.params.size))
    for i, batch in enumerate(batches):
        out[i], G, _ = reinforce_gradient(policy, batch, GAMMA, baseline, returns)
        baseline.update(batch, G)
    return out


def batch_reinforce_estimates(setup: Setup, batch: Batch, episodes: int, returns: str = "reward_to_go",
                              baseline: str = "none") -> np.ndarray:
    """(M, 3) ``reinforce_estimates``' theta components for the M consecutive batches of
    ``episodes`` episodes of ``batch`` (T, M * episodes), all batches at once:
    grad log pi(a_t|s_t) read from ``Setup.score_table`` and each baseline of
    pg.algo.baselines written for all batches together (a stateful one still meets each batch
    fitted to the earlier batches only: the moving average through its recursion over the
    batches' mean returns; the linear value baseline V fitted on batch i - 1 alone, a closed
    form, so every fit is one batched solve). Equal to ``setup.d_theta(reinforce_estimates(...))``
    up to rounding (tests/lessons/test_derivation.py, to 1e-12)."""
    return _estimates(setup, batch, batch_terms(setup, batch, episodes), returns, baseline)


@dataclass(frozen=True)
class BatchTerms:
    """What every estimator of ``batch_reinforce_estimates`` reads from one sample split into
    M batches of N episodes, computed once per sample."""

    alive: np.ndarray  # (T, M, N)
    G: np.ndarray  # (T, M, N) reward-to-go (gamma = GAMMA)
    score: np.ndarray  # (T, M, N, 3) grad_theta log pi(a_t|s_t) of every step (dead steps too)


def batch_terms(setup: Setup, batch: Batch, episodes: int) -> BatchTerms:
    """``BatchTerms`` of ``batch`` (T, M * episodes) split into batches of ``episodes``."""
    T, total = batch.alive.shape
    M, N = total // episodes, episodes
    if M * N != total:
        raise ValueError(f"{total} episodes do not split into batches of {episodes}")
    G = reward_to_go(batch.rewards, batch.alive, GAMMA).reshape(T, M, N)
    return BatchTerms(batch.alive.reshape(T, M, N), G, setup.step_scores(batch).reshape(T, M, N, -1))


def _estimates(setup: Setup, batch: Batch, terms: BatchTerms, returns: str, baseline: str) -> np.ndarray:
    """(M, 3) ``batch_reinforce_estimates`` from the sample's ``terms``."""
    if returns not in ("episode", "reward_to_go"):
        raise ValueError(f"returns must be episode or reward_to_go, got {returns!r}")
    alive, G = terms.alive, terms.G
    W = G if returns == "reward_to_go" else G[:1] * alive  # the weights of grad log pi (the baseline's G)
    b = _batch_baseline(setup, batch, W, alive, baseline)
    return np.einsum("tmnp,tmn->mp", terms.score, (W - b) * alive) / alive.shape[2]


def _batch_baseline(setup: Setup, batch: Batch, W: np.ndarray, alive: np.ndarray, name: str) -> np.ndarray:
    """(T, M, N) pg.algo.baselines' ``values`` of baseline ``name`` for each of the M batches,
    each stateful one updated with the batches before it only (``batch_reinforce_estimates``)."""
    T, M, N = W.shape
    if name == "none":
        return np.zeros_like(W)
    if name == "batch_mean":  # BatchMean: the mean of W_t over the batch's other episodes
        others = alive.sum(axis=2, keepdims=True) - 1
        return np.divide(W.sum(axis=2, keepdims=True) - W, others, out=np.zeros_like(W), where=others > 0) * alive
    if name == "moving_average":  # MovingAverage: 0 before the first batch, then the recursion
        decay, previous, average = MovingAverage().decay, np.zeros(M), None
        for i, mean in enumerate(W[0].mean(axis=1)):
            previous[i] = 0.0 if average is None else average
            average = float(mean) if average is None else decay * average + (1 - decay) * float(mean)
        return previous[None, :, None] * alive
    if name == "value":  # ValueBaseline(LinearValue): ridge regression of W on (state, t / H, 1)
        obs = batch.obs[:T].reshape(T, M, N, -1)
        t = np.broadcast_to((np.arange(T) / setup.problem.horizon)[:, None, None, None], (T, M, N, 1))
        A = np.concatenate([obs, t, np.ones((T, M, N, 1))], axis=-1) * alive[..., None]  # dead steps: 0 rows
        ridge, count = LinearValue(1).ridge, alive.sum(axis=(0, 2)).astype(np.float64)
        reg = np.eye(A.shape[-1]) * ridge
        reg[-1, -1] = 0.0  # the intercept is not shrunk
        lhs = np.einsum("tmnf,tmng->mfg", A, A) + count[:, None, None] * reg
        fitted = np.linalg.solve(lhs, np.einsum("tmnf,tmn->mf", A, W)[..., None])[..., 0]  # (M, F): V of batch i
        before = np.concatenate([np.zeros((1, A.shape[-1])), fitted[:-1]])  # what batch i meets
        return np.einsum("tmnf,mf->tmn", A, before) * alive
    raise ValueError(f"baseline must be one of none, batch_mean, moving_average, value; got {name!r}")


@dataclass(frozen=True)
class VarianceRow:
    """One estimator of ESTIMATORS over the variance study's batches."""

    estimator: str  # its label on the page
    returns: str  # "episode" (R(tau)) or "reward_to_go" (G_t)
    baseline: str  # a name of pg.algo.baselines.BASELINES
    variance: float  # trace of the covariance of one estimate (pg.lessons.stats)
    bias: float  # ||mean of the estimates - grad J||
    bias_se: float  # sqrt(variance / n_estimates): the bias that noise alone gives

    @property
    def has_baseline(self) -> bool:
        return self.baseline != "none"


@dataclass(frozen=True)
class VarianceStudy:
    """Every estimator of ESTIMATORS on the same batches."""

    rows: tuple[VarianceRow, ...]  # in the order of ESTIMATORS
    exact_sq_norm: float  # ||grad J||^2: the signal the noise hides
    episodes: int  # N, episodes per estimate
    n_estimates: int  # estimates (batches) per estimator

    @property
    def whole_return(self) -> VarianceRow:
        """The row of R(tau) without a baseline (ESTIMATORS' first)."""
        return self.rows[0]

    @property
    def reward_to_go(self) -> VarianceRow:
        """The row of G_t without a baseline (ESTIMATORS' second)."""
        return self.rows[1]

    @property
    def reward_to_go_change(self) -> float:
        """The relative change in variance from R(tau) to G_t (-0.3: 30% less)."""
        return self.reward_to_go.variance / self.whole_return.variance - 1


def variance_study(setup: Setup, episodes: int, seed, n_estimates: int = VARIANCE_ESTIMATES) -> VarianceStudy:
    """Each estimator of ESTIMATORS on the same ``n_estimates`` batches of ``episodes``
    episodes: the variance (trace of the covariance of the estimates), and the distance of
    their mean from grad J next to that distance's standard error (unbiased: about 1 SE)."""
    batch = setup.problem.sample(setup.policy, n_estimates * episodes, _rng(seed))  # = sample_batches'
    rows, terms = [], batch_terms(setup, batch, episodes)
    for label, returns, baseline in ESTIMATORS:
        g_hat = _estimates(setup, batch, terms, returns, baseline)  # batch_reinforce_estimates'
        stats = estimate_statistics(g_hat, setup.exact_grad)
        rows.append(VarianceRow(label, returns, baseline, stats.variance, stats.bias, stats.bias_se))
    exact = setup.exact_grad
    return VarianceStudy(tuple(rows), float(exact @ exact), episodes, n_estimates)


# ---------------------------------------------------------------------------------------------
# Step 7. The update theta <- theta + alpha g_hat, with g_hat = 1/N sum sum grad log pi * adv
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class UpdateCheck:
    """One REINFORCE step and what it does to the exact J."""

    g_hat: np.ndarray  # (3,) the estimate (reward-to-go, batch-mean baseline)
    exact: np.ndarray  # (3,) grad J
    cosine: float  # cos(g_hat, grad J) (nan if either is 0)
    J_before: float  # J(theta), exact
    J_after: float  # J(theta + lr g_hat), exact
    J_after_exact_step: float  # J(theta + lr grad J), exact
    theta_after: np.ndarray  # (3,) theta + lr g_hat

    @property
    def J_gain(self) -> float:
        """J_after - J_before: what the step bought."""
        return self.J_after - self.J_before


def update_check(setup: Setup, episodes: int, lr: float, seed) -> UpdateCheck:
    """One REINFORCE step (reward-to-go, batch-mean baseline) and its effect on the exact J."""
    batch = setup.problem.sample(setup.policy, episodes, _rng(seed))
    g_hat = setup.d_theta(reinforce_gradient(setup.policy, batch, GAMMA, make_baseline("batch_mean"))[0])
    exact = setup.exact_grad
    denom = np.linalg.norm(g_hat) * np.linalg.norm(exact)
    J = lambda th: exact_objective(setup.problem, setup.policy_at(th), GAMMA)  # noqa: E731
    return UpdateCheck(g_hat=g_hat, exact=exact, cosine=float(g_hat @ exact / denom) if denom > 0 else float("nan"),
                       J_before=J(setup.theta), J_after=J(setup.theta + lr * g_hat),
                       J_after_exact_step=J(setup.theta + lr * exact), theta_after=setup.theta + lr * g_hat)


# ---------------------------------------------------------------------------------------------
# Step 8. The "loss" -1/N sum logp * adv: a device whose gradient is -g_hat; mean vs sum
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class LossDeviceCheck:
    """The surrogate loss on one batch: its gradient is -g_hat, its value is not J."""

    loss: float  # L(theta) = -1/N sum_n sum_t logp * adv
    J: float  # J(theta), exact, to compare the value with
    fd_grad_loss: np.ndarray  # (3,) central differences of L, adv held fixed
    g_hat: np.ndarray  # (3,) the estimate of reinforce_gradient on the same batch
    rel_diff: float  # ||fd_grad_loss + g_hat|| / max(||g_hat||, ||fd_grad_loss||) (0 if both are 0)


def loss_device_check(setup: Setup, episodes: int, seed, eps: float = 1e-6) -> LossDeviceCheck:
    """On one batch: central differences of pg.algo.reinforce.surrogate_loss (adv held fixed)
    against minus the estimate of pg.algo.reinforce.reinforce_gradient; and the loss's value,
    which is not J."""
    batch = setup.problem.sample(setup.policy, episodes, _rng(seed))
    grad, G, adv = reinforce_gradient(setup.policy, batch, GAMMA, make_baseline("batch_mean"))
    g_hat = setup.d_theta(grad)
    fd = _central_difference(lambda th: surrogate_loss(setup.policy_at(th), batch, adv), setup.theta, eps)
    scale = max(np.linalg.norm(g_hat), np.linalg.norm(fd))
    return LossDeviceCheck(loss=surrogate_loss(setup.policy, batch, adv),
                           J=exact_objective(setup.problem, setup.policy, GAMMA), fd_grad_loss=fd, g_hat=g_hat,
                           rel_diff=float(np.linalg.norm(fd + g_hat) / scale) if scale > 0 else 0.0)


@dataclass(frozen=True)
class MeanVsSumCheck:
    """The loss written as a sum over episodes / N and as a mean over all steps, on one batch.

    For each way, ``<way>_grad`` is its gradient by backpropagation, ``<way>_ratio`` and
    ``<way>_ratio_fd`` the scalar c in (its gradient) = -c g_hat by backpropagation and by
    central differences (nan if g_hat is 0), ``<way>_loss`` its value."""

    N: int  # episodes in the batch
    steps: int  # sum_n T_n, the alive steps
    expected_mean_ratio: float  # N / steps: the mean's predicted ratio (the sum's is 1)
    g_hat: np.ndarray  # (3,) the estimate on the batch (reward-to-go, batch-mean baseline)
    sum_grad: np.ndarray  # (3,)
    sum_ratio: float
    sum_ratio_fd: float
    sum_loss: float
    mean_grad: np.ndarray  # (3,)
    mean_ratio: float
    mean_ratio_fd: float
    mean_loss: float


def mean_vs_sum_check(setup: Setup, episodes: int, seed, eps: float = 1e-6) -> MeanVsSumCheck:
    """Two ways to write the loss over the same batch (adv held fixed):

    * ``sum / N``: -1/N sum_n sum_t logp * adv    (pg.algo.reinforce.surrogate_loss)
    * ``mean``:    -mean over all alive steps of logp * adv  (what ``loss.mean()`` gives)

    Each gradient is taken by backpropagation (the vector-Jacobian product
    grad_log_prob(obs, a, dloss/dlogp), what autodiff computes) and by central differences,
    and compared with the estimate g_hat: the ratios are 1 and N / (number of steps)."""
    batch = setup.problem.sample(setup.policy, episodes, _rng(seed))
    grad, _, adv = reinforce_gradient(setup.policy, batch, GAMMA, make_baseline("batch_mean"))
    g_hat, alive = setup.d_theta(grad), batch.alive
    N, steps = alive.shape[1], int(alive.sum())
    obs, actions, weights = batch.obs[alive], batch.actions[alive], adv[alive]

    def loss(theta, denominator):
        return float(-(setup.policy_at(theta).log_prob(obs, actions) * weights).sum() / denominator)

    ways = {}
    for name, denominator in (("sum", N), ("mean", steps)):
        backprop = -setup.d_theta(setup.policy.grad_log_prob(obs, actions, weights / denominator))
        fd = _central_difference(lambda th: loss(th, denominator), setup.theta, eps)  # noqa: B023 (called at once, inside the loop)
        ways[f"{name}_grad"] = backprop
        ways[f"{name}_ratio"] = _ratio(-backprop, g_hat)
        ways[f"{name}_ratio_fd"] = _ratio(-fd, g_hat)
        ways[f"{name}_loss"] = loss(setup.theta, denominator)
    return MeanVsSumCheck(N=N, steps=steps, expected_mean_ratio=N / steps, g_hat=g_hat, **ways)


# ---------------------------------------------------------------------------------------------
# Everything the page shows, from its widgets
# ---------------------------------------------------------------------------------------------
STREAMS = ("objective", "dynamics", "estimate", "convergence", "baseline_zero", "variance", "update", "loss")


def stream(seed: int, check: str) -> np.random.SeedSequence:
    """The random stream of one check: independent of the other checks' streams, and the same
    whichever checks run (so a widget that one check reads leaves the others' numbers alone)."""
    return np.random.SeedSequence([int(seed), STREAMS.index(check)])


@dataclass(frozen=True)
class Checks:
    """The page's checks that depend only on the problem, theta, N and the seed, one per step."""

    setup: Setup  # the problem at theta
    objective: ObjectiveCheck  # step 1
    log_derivative: LogDerivativeCheck  # step 2
    dynamics: DynamicsCheck  # step 3
    estimate: EstimateCheck  # step 4: one estimate
    convergence: ConvergenceStudy  # step 4: its error against N
    variance: VarianceStudy  # steps 5 and 6
    loss: LossDeviceCheck  # step 8
    mean_vs_sum: MeanVsSumCheck  # step 8, on the same batch as ``loss``


def all_checks(problem: str, theta, episodes: int, seed: int) -> Checks:
    """The checks of the page that depend only on the problem, theta, N and the seed, in one
    call (tests and scripts; the page calls each check on its own, cached by its own inputs:
    pages/theorem_compute.py). baseline_zero_check and update_check also read b and the
    learning rate: the page runs them beside their own sliders, with
    ``stream(seed, "baseline_zero")`` / ``"update"``."""
    setup = make_setup(problem, theta)
    if isinstance(episodes, bool) or not 1 <= int(episodes) <= 100_000:
        raise ValueError(f"episodes must be an integer in [1, 100000], got {episodes!r}")
    episodes = int(episodes)
    return Checks(
        setup=setup,
        objective=objective_check(setup, episodes, stream(seed, "objective")),
        log_derivative=log_derivative_check(setup),
        dynamics=dynamics_check(setup, stream(seed, "dynamics")),
        estimate=estimate_check(setup, episodes, stream(seed, "estimate")),
        convergence=convergence_study(setup, stream(seed, "convergence")),
        variance=variance_study(setup, episodes, stream(seed, "variance")),
        loss=loss_device_check(setup, episodes, stream(seed, "loss")),
        mean_vs_sum=mean_vs_sum_check(setup, episodes, stream(seed, "loss")),  # the same batch
    )
