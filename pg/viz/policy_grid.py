"""What a policy does over the (theta, theta_dot) plane: the numbers behind the heatmap page.

The heatmap is a slice of the 4-D state space: the cart's position ``x`` and velocity
``x_dot`` are held fixed (sliders on the page) and the pole's angle and angular velocity vary
over a grid. Angles are shown in degrees because people read "12 degrees", but the policy is
always evaluated in radians, as the environment hands it states.

=================  ========  ====================================================
column             unit      meaning
=================  ========  ====================================================
theta              degrees   pole angle at the cell centre (> 0: leaning right)
theta_lo/hi        degrees   the cell's left and right edges
theta_dot          rad/s     pole angular velocity at the cell centre
theta_dot_lo/hi    rad/s     the cell's lower and upper edges
p_right            1         pi(push right | x, x_dot, theta, theta_dot)
=================  ========  ====================================================

The decision boundary is where P(push right) = 0.5, i.e. where the logit margin
``logit_right - logit_left`` is 0. For the linear policy the margin is linear in the state, so
the boundary is a straight line, computed exactly. For any other policy it is traced on the
grid (marching squares over the cell corners) and every point is refined by bisection along
its grid edge, so each returned point has P = 0.5 to machine precision.

>>> from pg.algo.policies import make_policy
>>> grid = policy_grid(make_policy("linear", seed=0), resolution=5)
>>> len(grid["p_right"]), float(grid["theta"].min()), float(grid["theta"].max())
(25, -9.6, 9.6)
"""

from __future__ import annotations

import math

import numpy as np

from pg.envs.cartpole import THETA_THRESHOLD

THETA_LIMIT_DEG = math.degrees(THETA_THRESHOLD)
"""12 degrees: the episode ends when the pole leans further than this."""
THETA_RANGE_DEG = (-THETA_LIMIT_DEG, THETA_LIMIT_DEG)
DEFAULT_THETA_DOT_LIMIT = 1.5
"""rad/s; the theta_dot half-range when there are no visited states to size it from."""
MIN_THETA_DOT_LIMIT = 0.5
MAX_THETA_DOT_LIMIT = 5.0
THETA_DOT_STEP = 0.25
"""the theta_dot half-range is rounded up to a multiple of this, so the axis has round ends"""
FEATURES = ("x", "x_dot", "theta", "theta_dot")
FEATURE_UNITS = ("m", "m/s", "rad", "rad/s")
BISECTION_STEPS = 60


# ---------------------------------------------------------------------------------------------
# The grid
# ---------------------------------------------------------------------------------------------
def _edges(value_range, n: int) -> np.ndarray:
    low, high = (float(v) for v in value_range)
    if not (math.isfinite(low) and math.isfinite(high) and low < high):
        raise ValueError(f"a range must be two finite numbers (low < high), got {tuple(value_range)}")
    return np.linspace(low, high, n + 1)


def _resolution(resolution) -> tuple[int, int]:
    n_theta, n_theta_dot = (resolution, resolution) if np.ndim(resolution) == 0 else resolution
    if min(n_theta, n_theta_dot) < 2 or max(n_theta, n_theta_dot) > 1000:
        raise ValueError(f"resolution must be between 2 and 1000 cells per axis, got {resolution!r}")
    return int(n_theta), int(n_theta_dot)


def _states(x: float, x_dot: float, theta_deg: np.ndarray, theta_dot: np.ndarray) -> np.ndarray:
    """(..., 4) states with the given pole coordinates and the cart held at (x, x_dot)."""
    theta_deg, theta_dot = np.broadcast_arrays(np.asarray(theta_deg, float), np.asarray(theta_dot, float))
    obs = np.empty(theta_deg.shape + (4,))
    obs[..., 0], obs[..., 1] = x, x_dot
    obs[..., 2], obs[..., 3] = np.radians(theta_deg), theta_dot
    return obs


def policy_grid(
    policy,
    x: float = 0.0,
    x_dot: float = 0.0,
    theta_range=THETA_RANGE_DEG,
    theta_dot_range=(-DEFAULT_THETA_DOT_LIMIT, DEFAULT_THETA_DOT_LIMIT),
    resolution: int | tuple[int, int] = 61,
) -> dict[str, np.ndarray]:
    """P(push right) on a grid of cells over (theta, theta_dot), the cart held at (x, x_dot).

    Args:
        policy: a two-action SoftmaxPolicy (action 1 = push right).
        x, x_dot: cart position (m) and velocity (m/s) shared by every cell.
        theta_range: (low, high) pole angle in **degrees**.
        theta_dot_range: (low, high) pole angular velocity in rad/s.
        resolution: cells per axis, or (cells along theta, cells along theta_dot).

    Returns flat columns (see the module docstring), one row per cell, theta varying fastest.
    """
    n_theta, n_theta_dot = _resolution(resolution)
    theta_edges = _edges(theta_range, n_theta)
    theta_dot_edges = _edges(theta_dot_range, n_theta_dot)
    theta_mid = (theta_edges[:-1] + theta_edges[1:]) / 2
    theta_dot_mid = (theta_dot_edges[:-1] + theta_dot_edges[1:]) / 2
    theta, theta_dot = np.meshgrid(theta_mid, theta_dot_mid)  # (n_theta_dot, n_theta)
    i = np.broadcast_to(np.arange(n_theta), theta.shape).ravel()
    j = np.broadcast_to(np.arange(n_theta_dot)[:, None], theta.shape).ravel()
    p_right = policy.probs(_states(x, x_dot, theta.ravel(), theta_dot.ravel()))[:, 1]
    return {
        "theta": theta.ravel(),
        "theta_lo": theta_edges[i],
        "theta_hi": theta_edges[i + 1],
        "theta_dot": theta_dot.ravel(),
        "theta_dot_lo": theta_dot_edges[j],
        "theta_dot_hi": theta_dot_edges[j + 1],
        "p_right": p_right,
    }


def theta_dot_range(visited_states=None) -> tuple[float, float]:
    """A symmetric theta_dot range (rad/s) that holds nearly every visited state.

    The 99th percentile of |theta_dot| (so one wild terminal state does not squash the
    picture), plus a quarter for margin, rounded up to a multiple of 0.25 and kept within
    [0.5, 5]. With no states it is +-1.5 rad/s.
    """
    states = np.asarray(visited_states if visited_states is not None else np.zeros((0, 4)), float)
    speeds = np.abs(states.reshape(-1, 4)[:, 3]) if states.size else np.zeros(0)
    speeds = speeds[np.isfinite(speeds)]
    if speeds.size == 0:
        return (-DEFAULT_THETA_DOT_LIMIT, DEFAULT_THETA_DOT_LIMIT)
    limit = 1.25 * float(np.percentile(speeds, 99))
    limit = THETA_DOT_STEP * math.ceil(limit / THETA_DOT_STEP - 1e-9)
    limit = min(max(limit, MIN_THETA_DOT_LIMIT), MAX_THETA_DOT_LIMIT)
    return (-limit, limit)


# ---------------------------------------------------------------------------------------------
# The decision boundary, P(push right) = 0.5
# ---------------------------------------------------------------------------------------------
def _margin(policy, obs: np.ndarray) -> np.ndarray:
    """logit(P(right)) = logit_right - logit_left: zero exactly on the boundary."""
    if policy.n_actions != 2:
        raise ValueError(f"the heatmap needs a two-action policy, this one has {policy.n_actions}")
    z = policy.logits(obs)
    return z[..., 1] - z[..., 0]


def _boundary_columns(theta, theta_dot, segment, order) -> dict[str, np.ndarray]:
    return {
        "theta": np.asarray(theta, float),
        "theta_dot": np.asarray(theta_dot, float),
        "segment": np.asarray(segment, dtype=np.int64),
        "order": np.asarray(order, dtype=np.int64),
    }


def decision_boundary(
    policy,
    x: float = 0.0,
    x_dot: float = 0.0,
    theta_range=THETA_RANGE_DEG,
    theta_dot_range=(-DEFAULT_THETA_DOT_LIMIT, DEFAULT_THETA_DOT_LIMIT),
    resolution: int | tuple[int, int] = 61,
) -> dict[str, np.ndarray]:
    """The P = 0.5 curve inside the grid's rectangle, as ordered points.

    Returns columns ``theta`` (degrees), ``theta_dot`` (rad/s), ``segment`` (which polyline
    a point belongs to: the curve may fall into several pieces) and ``order`` (the point's
    position along its polyline). No NaN; empty if the policy never crosses 0.5 here.
    The arguments are those of ``policy_grid``.
    """
    theta_edges = _edges(theta_range, _resolution(resolution)[0])
    theta_dot_edges = _edges(theta_dot_range, _resolution(resolution)[1])
    if policy.kind == "linear" and policy.n_actions == 2:
        return _linear_boundary(policy, x, x_dot, theta_edges[[0, -1]], theta_dot_edges[[0, -1]])
    return _traced_boundary(policy, x, x_dot, theta_edges, theta_dot_edges)


def _linear_boundary(policy, x, x_dot, theta_box, theta_dot_box) -> dict[str, np.ndarray]:
    # margin = A * theta_deg + B * theta_dot + C: a straight line, clipped to the box
    weights = linear_weights(policy)["weight"]
    A, B = weights[2] * math.pi / 180, weights[3]
    C = weights[0] * x + weights[1] * x_dot + weights[4]
    if A == 0 and B == 0:  # P(right) is the same everywhere on this slice
        return _boundary_columns([], [], [], [])
    # walk along the axis the line is flatter against, so no division by a tiny weight
    if abs(B) * np.ptp(theta_dot_box) >= abs(A) * np.ptp(theta_box):
        theta = _clip_line(A, B, C, theta_box, theta_dot_box)
        theta_dot = -(C + A * theta) / B
    else:
        theta_dot = _clip_line(B, A, C, theta_dot_box, theta_box)
        theta = -(C + B * theta_dot) / A
    return _boundary_columns(theta, theta_dot, [0] * len(theta), range(len(theta)))


def _clip_line(A, B, C, u_box, v_box) -> np.ndarray:
    """The u-interval (two points, or none) where v(u) = -(C + A u) / B lies in v_box."""
    u_lo, u_hi = u_box
    if A != 0:
        u_at = sorted(-(C + B * np.asarray(v_box)) / A)
        u_lo, u_hi = max(u_lo, u_at[0]), min(u_hi, u_at[1])
    elif not v_box[0] <= -C / B <= v_box[1]:
        return np.zeros(0)
    return np.array([u_lo, u_hi]) if u_lo <= u_hi else np.zeros(0)


def _traced_boundary(policy, x, x_dot, theta_edges, theta_dot_edges) -> dict[str, np.ndarray]:
    """Marching squares on the grid's corners, each crossing refined by bisection."""
    T, D = np.meshgrid(theta_edges, theta_dot_edges)  # (rows: theta_dot, columns: theta)
    positive = _margin(policy, _states(x, x_dot, T, D)) > 0
    rows, cols = positive.shape

    # crossings on grid edges: ("h", j, i) joins corner (j, i) to (j, i+1); ("v", j, i) joins (j, i) to (j+1, i)
    crossings = {}
    for j, i in zip(*np.nonzero(positive[:, :-1] != positive[:, 1:])):
        crossings[("h", j, i)] = ((j, i), (j, i + 1))
    for j, i in zip(*np.nonzero(positive[:-1, :] != positive[1:, :])):
        crossings[("v", j, i)] = ((j, i), (j + 1, i))
    if not crossings:
        return _boundary_columns([], [], [], [])
    points = _refine(policy, x, x_dot, T, D, crossings)

    # each cell joins the crossings on its sides into short links
    links: dict[tuple, list[tuple]] = {key: [] for key in crossings}
    for j in range(rows - 1):
        for i in range(cols - 1):
            sides = [("h", j, i), ("v", j, i + 1), ("h", j + 1, i), ("v", j, i)]  # bottom, right, top, left
            crossed = [s for s in sides if s in crossings]
            if len(crossed) == 2:
                pairs = [tuple(crossed)]
            elif len(crossed) == 4:  # a saddle: the sign at the cell centre decides
                centre = _states(x, x_dot, T[j, i : i + 2].mean(), D[j : j + 2, i].mean())
                if (_margin(policy, centre) > 0) == positive[j, i]:
                    pairs = [(sides[0], sides[1]), (sides[2], sides[3])]
                else:
                    pairs = [(sides[3], sides[0]), (sides[1], sides[2])]
            else:
                pairs = []
            for a, b in pairs:
                links[a].append(b)
                links[b].append(a)
    return _chain(links, points)


def _refine(policy, x, x_dot, T, D, crossings) -> dict[tuple, tuple[float, float]]:
    """Bisection along each crossed edge, all edges at once: (theta_deg, theta_dot) per key."""
    keys = list(crossings)
    a = np.array([(T[crossings[k][0]], D[crossings[k][0]]) for k in keys])
    b = np.array([(T[crossings[k][1]], D[crossings[k][1]]) for k in keys])
    a_positive = _margin(policy, _states(x, x_dot, a[:, 0], a[:, 1])) > 0
    lo, hi = np.zeros(len(keys)), np.ones(len(keys))
    for _ in range(BISECTION_STEPS):
        mid = (lo + hi) / 2
        point = a + mid[:, None] * (b - a)
        same_as_a = (_margin(policy, _states(x, x_dot, point[:, 0], point[:, 1])) > 0) == a_positive
        lo = np.where(same_as_a, mid, lo)
        hi = np.where(same_as_a, hi, mid)
    point = a + ((lo + hi) / 2)[:, None] * (b - a)
    return {k: (float(p[0]), float(p[1])) for k, p in zip(keys, point)}


def _chain(links: dict[tuple, list[tuple]], points: dict[tuple, tuple]) -> dict[str, np.ndarray]:
    """Join the links into polylines: open ones from their ends first, then closed loops."""
    theta, theta_dot, segment, order = [], [], [], []
    seen: set[tuple] = set()
    starts = [k for k, near in links.items() if len(near) <= 1] + list(links)
    for start in starts:
        if start in seen:
            continue
        path, node = [start], start
        seen.add(start)
        while True:
            following = [n for n in links[node] if n not in seen]
            if not following:
                break
            node = following[0]
            seen.add(node)
            path.append(node)
        if len(path) > 2 and start in links[path[-1]]:
            path.append(start)  # a closed loop
        if len(path) < 2:
            continue
        seg = len(set(segment))
        for k, key in enumerate(path):
            theta.append(points[key][0])
            theta_dot.append(points[key][1])
            segment.append(seg)
            order.append(k)
    return _boundary_columns(theta, theta_dot, segment, order)


# ---------------------------------------------------------------------------------------------
# The linear policy's weights
# ---------------------------------------------------------------------------------------------
def linear_weights(policy) -> dict[str, np.ndarray]:
    """The linear policy's weights toward pushing right, one row per feature and the bias.

    With ``pi(a|s) = softmax(s W + b)`` and two actions, ``P(right) = sigmoid(s . w + c)``
    where ``w = W[:, 1] - W[:, 0]`` and ``c = b[1] - b[0]``: a positive weight means "the
    larger this feature, the more likely a push right".

    Returns columns ``feature`` (x, x_dot, theta, theta_dot, bias), ``unit`` and ``weight``.
    """
    if policy.kind != "linear" or policy.n_actions != 2 or policy.obs_dim != len(FEATURES):
        raise ValueError(f"linear_weights needs a linear CartPole policy with 2 actions, got {policy!r}")
    # params = [W.ravel() (obs_dim x n_actions, row-major), b (n_actions)]: see pg.algo.policies
    W = policy.params[: 2 * len(FEATURES)].reshape(len(FEATURES), 2)
    b = policy.params[2 * len(FEATURES) :]
    return {
        "feature": np.array([*FEATURES, "bias"]),
        "unit": np.array([*FEATURE_UNITS, ""]),
        "weight": np.append(W[:, 1] - W[:, 0], b[1] - b[0]),
    }


__all__ = [
    "THETA_LIMIT_DEG",
    "THETA_RANGE_DEG",
    "decision_boundary",
    "linear_weights",
    "policy_grid",
    "theta_dot_range",
]
