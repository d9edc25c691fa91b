"""Policy Gradients, Visually: the NumPy core (REINFORCE on a Gymnasium-exact CartPole).

Nothing here imports Streamlit; pygame is imported lazily by pg.viz.render only.
"""


from pg.runs.checkpoint import CheckpointError, load_policy, load_run, save_policy
from pg.envs import CartPole
from pg.algo.policies import LinearSoftmax, MLPSoftmax, make_policy
from pg.algo.reinforce import (
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
