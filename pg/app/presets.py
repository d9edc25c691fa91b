"""Named starting points for the live training page (and the CLI's users)."""

from __future__ import annotations

from dataclasses import replace

from pg.algo.reinforce import CARTPOLE_V0_SOLVED, CARTPOLE_V1_SOLVED, ConfigError, TrainConfig, default_solve_return
from pg.runs.footprint import RUN_BUDGET, require_fits

V1, V0 = f"{CARTPOLE_V1_SOLVED:g}", f"{CARTPOLE_V0_SOLVED:g}"  # the bars as the texts below write them

PRESETS: dict[str, dict] = {
    "fastest": {
        "description": "The default: linear policy, Adam, 16 episodes per update, reward-to-go minus "
        "the batch mean, normalised. Solves CartPole-v1 in about 20 updates.",
        "config": {},
    },
    "the seed blog post": {
        "description": "The classic REINFORCE post: a linear softmax policy, plain gradient ascent, one "
        "episode per update, the whole-episode return minus a moving average, 1000 episodes. Such posts "
        f"call CartPole solved at an average of {V0}: that is CartPole-v0's bar (200-step episodes); "
        f"CartPole-v1 (500 steps) asks for {V1}, the bar used here.",
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
    f"CartPole-v0 (the {V0} bar)": {
        "description": f"Episodes cut at 200 steps, solved at a greedy mean of {V0}: the older benchmark.",
        "config": {"max_episode_steps": 200},
    },
}


def preset_config(name: str, **overrides) -> TrainConfig:
    """The TrainConfig of a preset (ValueError naming the presets if unknown)."""
    if name not in PRESETS:
        raise ValueError(f"preset must be one of {', '.join(repr(p) for p in PRESETS)}; got {name!r}")
    return replace(TrainConfig(**PRESETS[name]["config"]), **overrides)


# ---------------------------------------------------------------------------------------------
# The live page's form: one widget per TrainConfig field (pure data; the page draws it)
# ---------------------------------------------------------------------------------------------
# A run started from the page may not hold a shared server longer than this:
MAX_PAGE_SECONDS = 60.0  # seconds of training (TrainConfig's default)
MAX_PAGE_ENV_STEPS = 5_000_000  # environment steps, summed over a run's episodes
# (field, widget, label, options) -- widget is one of: choice, int, float, bool, text
FORM_MAIN = [
    ("policy", "choice", "Policy", ("linear", "mlp")),
    ("hidden", "text", "Hidden layers (MLP), e.g. 32 or 64,64", None),
    ("optimizer", "choice", "Optimizer", ("adam", "sgd")),
    ("lr", "float", "Learning rate α", (0.0, 10.0, 0.001)),
    ("batch_episodes", "int", "Episodes per update N", (1, 4096, 1)),
    ("gamma", "float", "Discount γ", (0.0, 1.0, 0.01)),
    ("returns", "choice", "Weight of ∇log π", ("reward_to_go", "episode")),
    ("baseline", "choice", "Baseline b", ("none", "moving_average", "batch_mean", "value")),
    ("normalize_advantages", "bool", "Normalise advantages", None),
    ("seed", "int", "Seed", (0, 2**32 - 1, 1)),
]
FORM_ADVANCED = [
    ("value_model", "choice", "Value model (baseline = value)", ("linear", "mlp")),
    ("advantage", "choice", "Advantage estimator", ("returns", "td0", "gae")),
    ("gae_lambda", "float", "GAE λ", (0.0, 1.0, 0.05)),
    ("max_grad_norm", "text", "Clip gradient norm at (none = off)", None),
    ("entropy_coef", "float", "Entropy bonus", (0.0, 1.0, 0.001)),
    ("max_episode_steps", "int", "Episode time limit (500 = v1, 200 = v0)", (1, 100_000, 50)),
    ("eval_every", "int", "Greedy evaluation every k updates", (1, 1_000_000, 1)),
    ("eval_episodes", "int", "Evaluation episodes", (1, 10_000, 10)),
    ("solve_return", "text", f"Solved at greedy mean (none = {V1} for v1, {V0} for v0)", None),
    ("eval_early_stop", "bool", "Cut an evaluation short once the bar is out of reach", None),
    ("stop_on_solve", "bool", "Stop when solved", None),
    ("max_updates", "int", "Budget: updates", (1, 10_000_000, 100)),
    ("max_env_steps", "int", "Budget: environment steps", (1, MAX_PAGE_ENV_STEPS, 100_000)),
    ("max_seconds", "float", "Budget: seconds of training", (0.0, MAX_PAGE_SECONDS, 5.0)),
]


def form_values(cfg: TrainConfig) -> dict:
    """Widget values for a config (texts for the fields typed as text)."""
    values = cfg.to_dict()
    values["hidden"] = ",".join(str(h) for h in cfg.hidden)
    values["max_grad_norm"] = "none" if cfg.max_grad_norm is None else f"{cfg.max_grad_norm:g}"
    default = cfg.solve_return == default_solve_return(cfg.max_episode_steps)  # "none" means that bar
    values["solve_return"] = "none" if default else f"{cfg.solve_return:g}"
    return values


def config_from_form(values: dict, n_seeds: int = 1, budget: int | None = RUN_BUDGET) -> TrainConfig:
    """A validated TrainConfig from widget values; pg.algo.reinforce.ConfigError (a ValueError)
    names the field at fault in its message and in ``.field``. A config whose run with
    ``n_seeds`` seeds would need more than ``budget`` bytes (pg.runs.footprint) is refused with
    a pg.runs.footprint.BudgetError (a ConfigError) naming what to lower; ``budget=None`` checks
    the fields alone."""
    values = dict(values)
    values["hidden"] = _parse_sizes(values.get("hidden", "32"))
    for name in ("max_grad_norm", "solve_return"):
        values[name] = _parse_optional_number(name, values.get(name, "none"))
    cfg = TrainConfig(**values)
    if budget is not None:
        require_fits(cfg, n_seeds, budget)
    return cfg


def try_config(values: dict, n_seeds: int = 1) -> tuple[TrainConfig | None, str | None]:
    """(config, None) from widget values, or (None, what is wrong) if they cannot train (with
    ``n_seeds`` seeds: a config over the memory budget cannot)."""
    try:
        return config_from_form(values, n_seeds), None
    except ValueError as error:
        return None, str(error)


def _parse_sizes(text) -> tuple:
    if isinstance(text, (tuple, list)):
        return tuple(text)
    try:
        return tuple(int(part) for part in str(text).replace(" ", "").split(",") if part)
    except ValueError:
        raise ConfigError("hidden", text,
                          f"hidden must be layer sizes separated by commas, like 32 or 64,64; got {text!r}") from None


def _parse_optional_number(name: str, text):
    if text is None or isinstance(text, (int, float)):
        return text
    if str(text).strip().lower() in ("", "none"):
        return None
    try:
        return float(text)
    except ValueError:
        raise ConfigError(name, text, f"{name} must be a number or 'none', got {text!r}") from None
