"""Policy Gradients, Visually: the NumPy core (REINFORCE on a Gymnasium-exact CartPole).

Nothing here imports Streamlit; pygame is imported lazily by pg.render only.
"""


from pg.checkpoint import CheckpointError, load_policy, load_run, save_policy
from pg.envs import CartPole
from pg.policies import LinearSoftmax, MLPSoftmax, make_policy
from pg.reinforce import (
    TrainConfig,
    TrainingDiverged,
    Update,
    evaluate,
    initial_policy,
    reinforce_gradient,
    train,
)

__all__ = [
    "CartPole",
    "CheckpointError",

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
