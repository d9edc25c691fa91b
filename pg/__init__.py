"""Policy Gradients, Visually: the NumPy core (REINFORCE on a Gymnasium-exact CartPole).

The public API is what ``__all__`` lists; everything else is imported from its layer
(pg.envs, pg.algo, pg.runs, pg.lessons, pg.viz, pg.app). Nothing here imports Streamlit;
pygame is imported lazily by pg.viz.render only.
"""

from pg.algo.policies import LinearSoftmax, MLPSoftmax, make_policy
from pg.algo.reinforce import (
    ConfigError,
    TrainConfig,
    TrainingDiverged,
    Update,
    evaluate,
    initial_policy,
    reinforce_gradient,
    train,
)
from pg.envs import CartPole
from pg.runs.checkpoint import CheckpointError, load_policy, load_run, save_policy

__all__ = [
    "CartPole",
    "CheckpointError",
    "ConfigError",
    "LinearSoftmax",
    "MLPSoftmax",
    "TrainConfig",
    "TrainingDiverged",
    "Update",
    "evaluate",
    "initial_policy",
    "load_policy",
    "load_run",
    "make_policy",
    "reinforce_gradient",
    "save_policy",
    "train",
]
