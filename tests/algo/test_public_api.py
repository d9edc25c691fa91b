"""pg's public API (pg/__init__.py): exactly the names DESIGN.md promises, importable from pg,
each the object its layer defines (no copies), listed once and sorted in ``__all__``."""

from __future__ import annotations

import pg
import pg.algo.policies
import pg.algo.reinforce
import pg.envs
import pg.runs.checkpoint

PUBLIC_API = {
    "TrainConfig": pg.algo.reinforce, "train": pg.algo.reinforce, "evaluate": pg.algo.reinforce,
    "Update": pg.algo.reinforce, "TrainingDiverged": pg.algo.reinforce, "ConfigError": pg.algo.reinforce,
    "initial_policy": pg.algo.reinforce, "reinforce_gradient": pg.algo.reinforce,
    "make_policy": pg.algo.policies, "LinearSoftmax": pg.algo.policies, "MLPSoftmax": pg.algo.policies,
    "load_policy": pg.runs.checkpoint, "load_run": pg.runs.checkpoint, "save_policy": pg.runs.checkpoint,
    "CheckpointError": pg.runs.checkpoint,
    "CartPole": pg.envs,
}


def test_all_lists_exactly_the_public_api_sorted_without_holes():
    assert pg.__all__ == sorted(PUBLIC_API)
    assert all(isinstance(name, str) and name for name in pg.__all__)


def test_every_public_name_is_its_layers_object():
    for name, home in PUBLIC_API.items():
        assert getattr(pg, name) is getattr(home, name), name


def test_star_import_gives_the_public_api():
    namespace: dict = {}
    exec("from pg import *", namespace)
    assert set(namespace) - {"__builtins__"} == set(PUBLIC_API)

