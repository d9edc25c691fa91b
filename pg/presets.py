"""Named starting points for the live training page (and the CLI's users)."""

from __future__ import annotations

from dataclasses import replace

from pg.reinforce import TrainConfig

PRESETS: dict[str, dict] = {
    "fastest": {
        "description": "The default: linear policy, Adam, 16 episodes per update, reward-to-go minus "
        "the batch mean, normalised. Solves CartPole-v1 in about 20 updates.",
        "config": {},
    },
    "the seed blog post": {
        "description": "The classic REINFORCE post: a linear softmax policy, plain gradient ascent, one "
        "episode per update, the whole-episode return minus a moving average, 1000 episodes. Such posts "
        "call CartPole solved at an average of 195: that is CartPole-v0's bar (200-step episodes); "
        "CartPole-v1 (500 steps) asks for 475, the bar used here.",
        "config": {
            "optimizer": "sgd",
            "lr": 0.002,
            "batch_episodes": 1,
            "returns": "episode",
            "baseline": "moving_average",
            "normalize_advantages": False,
            "max_updates": 1000,
            "eval_every": 10,
        },
    },
    "neural network": {
        "description": "An MLP policy (one hidden layer of 32 tanh units) with a learned value baseline.",
        "config": {"policy": "mlp", "hidden": (32,), "lr": 0.01, "baseline": "value", "eval_every": 2},
    },
    "CartPole-v0 (the 195 bar)": {
        "description": "Episodes cut at 200 steps, solved at a greedy mean of 195: the older benchmark.",
        "config": {"max_episode_steps": 200},
    },
}


def preset_config(name: str, **overrides) -> TrainConfig:
    """The TrainConfig of a preset (ValueError naming the presets if unknown)."""
    if name not in PRESETS:
        raise ValueError(f"preset must be one of {', '.join(repr(p) for p in PRESETS)}; got {name!r}")
    return replace(TrainConfig(**PRESETS[name]["config"]), **overrides)
