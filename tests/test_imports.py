"""The house rules on imports, checked on every module's source (module level and inside
functions, ``if`` blocks and ``try`` blocks alike):

- nothing in pg/ imports Streamlit or pages/;
- pg/'s layers import one way: envs <- algo <- runs, viz <- lessons <- app <- the CLI;
- no import cycle anywhere in pg/;
- no page script imports another page script;
- nothing outside tests imports Streamlit's private modules (streamlit.runtime, .web, .elements):
  a hosted deploy installs the newest Streamlit, where a private name can vanish;
- every third-party package that non-test code imports is declared in requirements.txt.

Each rule is a small function, tested first on sources made to break it, so it can fail.
"""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PRIVATE_STREAMLIT = ("streamlit.runtime", "streamlit.web", "streamlit.elements")
# pg's layers, lowest first: a module may import its own layer's modules or a lower layer's.
LAYERS = {"envs": 0, "algo": 1, "runs": 2, "viz": 2, "lessons": 3, "app": 4}
TOP = 5  # pg/__init__.py, pg/__main__.py, pg/cli.py, pg/bench.py: the command line and the API
# import name -> the requirements.txt distribution that provides it
DISTRIBUTION = {"pygame": "pygame-ce", "av": "av"}


def imported_modules(source: str, module: str = "", is_package: bool = False) -> set[str]:
    """Every module a source imports, anywhere in it, as absolute dotted names.

    ``from a.b import c`` yields ``a.b.c`` when c is a submodule and ``a.b`` otherwise; both are
    returned (``a.b`` and ``a.b.c``), and the caller keeps the names that are modules.
    Relative imports are resolved against ``module``.
    """
    found: set[str] = set()
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parts = parts[: len(parts) - node.level + 1]
                base = ".".join(parts + ([node.module] if node.module else []))
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def sources(*folders: str) -> dict[str, Path]:
    """module name -> path for every .py file under the given folders (or files) of the repo."""
    out = {}
    for folder in folders:
        path = ROOT / folder
        for file in [path] if path.is_file() else sorted(path.rglob("*.py")):
            out[module_name(file)] = file
    return out


def import_graph(modules: dict[str, str]) -> dict[str, set[str]]:
    """module -> the modules of ``modules`` it imports, from a name -> source mapping."""
    graph = {}
    for name, source in modules.items():
        is_package = name in {m.rpartition(".")[0] for m in modules}
        graph[name] = {m for m in imported_modules(source, name, is_package) if m in modules and m != name}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as [a, b, ..., a], or None (depth-first search with colours)."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def layer(module: str) -> int:
    parts = module.split(".")
    return LAYERS.get(parts[1], TOP) if len(parts) > 1 else TOP


def layer_violations(graph: dict[str, set[str]]) -> list[str]:
    """Imports from a pg module into a higher layer (or a sibling layer of the same rank)."""
    bad = []
    for module, targets in graph.items():
        for target in targets:
            same_layer = module.split(".")[:2] == target.split(".")[:2]
            if target != "pg" and not same_layer and layer(target) >= layer(module) and layer(module) != TOP:
                bad.append(f"{module} -> {target}")
            if target == "pg" and layer(module) != TOP:
                bad.append(f"{module} -> pg (import from the layer that defines it)")
    return sorted(bad)


def forbidden(module_sources: dict[str, str], prefixes: tuple[str, ...]) -> list[str]:
    """(module, import) pairs where a module imports a name starting with one of ``prefixes``."""
    return sorted(
        f"{name} imports {imp}"
        for name, source in module_sources.items()
        for imp in imported_modules(source, name)
        if any(imp == p or imp.startswith(p + ".") for p in prefixes)
    )


def read(mapping: dict[str, Path]) -> dict[str, str]:
    return {name: path.read_text() for name, path in mapping.items()}


PG = read(sources("pg"))
APP_CODE = read(sources("pg", "pages", "streamlit_app.py", "benchmarks"))


# -- the rules can fail ------------------------------------------------------------------------


def test_the_import_walk_sees_imports_inside_functions_and_relative_ones():
    source = "import os\ndef f():\n    if True:\n        from streamlit.runtime import x\n    from . import nn\n"
    found = imported_modules(source, "pg.algo.policies")
    assert {"os", "streamlit.runtime", "streamlit.runtime.x", "pg.algo", "pg.algo.nn"} <= found
    assert forbidden({"pg.x": source}, ("streamlit",)) == ["pg.x imports streamlit.runtime", "pg.x imports streamlit.runtime.x"]


def test_the_cycle_finder_finds_a_cycle_hidden_in_a_function():
    modules = {
        "pg.runs.checkpoint": "from pg.algo.policies import make_policy\n",
        "pg.algo.policies": "def save(self):\n    from pg.runs.checkpoint import save_policy\n",
        "pg.algo.nn": "",
    }
    assert find_cycle(import_graph(modules)) == ["pg.algo.policies", "pg.runs.checkpoint", "pg.algo.policies"]
    assert find_cycle(import_graph({"pg.a": "import pg.b", "pg.b": ""})) is None


def test_the_layer_rule_flags_an_import_upwards():
    graph = {"pg.algo.policies": {"pg.runs.checkpoint", "pg.algo.nn"}, "pg.viz.style": {"pg.runs.live"}, "pg.cli": {"pg.app.state"}}
    assert layer_violations(graph) == ["pg.algo.policies -> pg.runs.checkpoint", "pg.viz.style -> pg.runs.live"]


# -- the rules hold ----------------------------------------------------------------------------


def test_nothing_in_pg_imports_streamlit_or_pages():
    assert forbidden(PG, ("streamlit", "pages")) == []


def test_pg_has_no_import_cycle():
    graph = import_graph(PG)
    assert len(graph) >= 30
    assert find_cycle(graph) is None


def test_pg_layers_import_one_way():
    assert layer_violations(import_graph(PG)) == []


def test_no_page_script_imports_another():
    views = read(sources("pages/views"))
    assert len(views) >= 6
    assert forbidden(views, ("pages.views",)) == []


def test_nothing_outside_tests_imports_streamlit_private_modules():
    assert len(APP_CODE) >= 40
    assert forbidden(APP_CODE, PRIVATE_STREAMLIT) == []


def test_every_third_party_import_is_declared_in_requirements():
    requirements = (ROOT / "requirements.txt").read_text()
    declared = {re.split(r"[<>=!~\[ ;]", line.strip(), maxsplit=1)[0].lower()
                for line in requirements.splitlines() if line.strip() and not line.startswith("#")}
    # benchmarks reuse each other's helpers and the tests' (tests/*.py, tests/browser/conftest.py)
    local = {"pg", "pages", "benchmarks", "streamlit_app", "conftest"} | {f.stem for f in (ROOT / "benchmarks").glob("*.py")}
    local |= {f.stem for f in (ROOT / "tests").glob("*.py")}
    third_party = {
        top
        for name, source in APP_CODE.items()
        for imp in imported_modules(source, name)
        if (top := imp.split(".")[0]) and top not in sys.stdlib_module_names and top not in local
        and not top.startswith("test_")
    }
    undeclared = sorted(p for p in third_party if DISTRIBUTION.get(p, p).lower() not in declared)
    # benchmarks may drive a browser and the reference: those come from requirements-dev.txt
    dev_only = {"playwright", "gymnasium", "pytest", "hypothesis"}
    assert [p for p in undeclared if p not in dev_only] == []


@pytest.mark.parametrize("name", sorted(n for n in APP_CODE if n.startswith("pg.") and n != "pg.__main__"))
def test_every_pg_module_imports_alone(name):
    """Each module imports in a fresh namespace without another having been imported first
    (an order-dependent import is a hidden cycle)."""
    import subprocess

    done = subprocess.run([sys.executable, "-c", f"import {name}"], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
