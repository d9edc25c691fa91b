"""Policy Gradients, Visually: the NumPy core (REINFORCE on a Gymnasium-exact CartPole).

Nothing here imports Streamlit; pygame is imported lazily by pg.render only.
"""


from pg.envs import CartPole
from pg.policies import LinearSoftmax, MLPSoftmax, make_policy
from pg.reinforce import TrainConfig, TrainingDiverged, Update, evaluate, reinforce_gradient, train

__all__ = [
    "CartPole",

    "LinearSoftmax",
    "MLPSoftmax",
    "TrainConfig",
    "TrainingDiverged",
    "Update",
    "evaluate",


    "make_policy",
    "reinforce_gradient",

    "train",
]
