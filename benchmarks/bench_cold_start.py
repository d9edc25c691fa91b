"""Cold start: ``streamlit run`` to the Home page fully drawn in Chromium, median of runs.

"Fully drawn" = the script run has finished, KaTeX has rendered the equation, and the
replay <video> has loaded its metadata (so the agent is on screen). Each run starts a new
server (nothing cached) and a new browser context. Also reports the import time of the app's
Python modules in a fresh interpreter.

``--fresh-venv DIR`` first makes a new virtual environment in DIR with only requirements.txt
installed (what a hosted server or a newcomer's laptop has: no test tools), reports how long
that install took, and measures with that interpreter. ``--python PATH`` measures with an
existing interpreter.

    python benchmarks/bench_cold_start.py [--runs 5] [--fresh-venv DIR | --python PATH] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "browser"))

from conftest import CHROMIUM, start_server, wait_for_app  # noqa: E402


def fresh_venv(directory: Path) -> tuple[str, dict]:
    """A new venv in ``directory`` with only requirements.txt: (its python, what it took)."""
    if directory.exists():
        raise SystemExit(f"{directory} exists: give a new directory for the fresh venv")
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "venv", str(directory)], check=True)
    python = str(directory / "bin" / "python")
    subprocess.run([python, "-m", "pip", "install", "-q", "--disable-pip-version-check", "-r",
                    str(ROOT / "requirements.txt")], check=True)
    installed = subprocess.run([python, "-m", "pip", "list", "--format=freeze", "--disable-pip-version-check"],
                               check=True, capture_output=True, text=True).stdout.split()
    dev_only = [m for m in ("pytest", "playwright", "gymnasium", "hypothesis")
                if subprocess.run([python, "-c", f"import {m}"], capture_output=True).returncode == 0]
    if dev_only:
        raise SystemExit(f"the fresh venv can import {dev_only}: not a requirements.txt-only environment")
    return python, {"venv": str(directory), "install_s": time.perf_counter() - start, "packages": len(installed),
                    "pinned": [p for p in installed if p.split("==")[0].lower() in
                               ("streamlit", "numpy", "altair", "pygame-ce", "av")]}


def import_seconds(python: str, repeats: int = 3) -> float:
    """Median wall time of a fresh interpreter importing streamlit, altair and pg's app modules."""
    code = "import streamlit, altair, pg, pg.viz.policy_charts, pg.viz.render, pg.lessons.theory"
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run([python, "-c", code], cwd=ROOT, check=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def one_cold_start(browser, python: str) -> dict:
    start = time.perf_counter()
    proc, url = start_server(python=python)
    healthy = time.perf_counter() - start
    try:
        ctx = browser.new_context(viewport={"width": 1366, "height": 860})
        page = ctx.new_page()
        page.goto(url)
        wait_for_app(page, timeout=60_000)
        page.locator(".katex").first.wait_for(timeout=60_000)
        page.wait_for_function("() => { const v = document.querySelector('video'); return v && v.readyState >= 1 && v.duration > 0; }",
                               timeout=60_000)
        drawn = time.perf_counter() - start
        ctx.close()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    return {"healthy_s": healthy, "home_drawn_s": drawn}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="2 runs")
    parser.add_argument("--json", action="store_true")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--fresh-venv", type=Path, help="make a venv here with only requirements.txt, measure with it")
    where.add_argument("--python", default=sys.executable, help="the interpreter that runs streamlit")
    args = parser.parse_args()
    runs = 2 if args.quick else args.runs
    python, setup = args.python, {}
    if args.fresh_venv is not None:
        python, setup = fresh_venv(args.fresh_venv.resolve())
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                    args=["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"])
        first = one_cold_start(browser, python)  # the OS file cache is cold: every .py read from disk
        results = [one_cold_start(browser, python) for _ in range(runs)]
        browser.close()
    drawn = [r["home_drawn_s"] for r in results]
    report = {
        "python": python,
        **setup,
        "first_start_s": first["home_drawn_s"],
        "runs": results,
        "median_home_drawn_s": statistics.median(drawn),
        "min_home_drawn_s": min(drawn),
        "max_home_drawn_s": max(drawn),
        "median_healthy_s": statistics.median(r["healthy_s"] for r in results),
        "import_s": import_seconds(python),
    }
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        if setup:
            print(f"Fresh venv {setup['venv']}: requirements.txt installed in {setup['install_s']:.0f} s, "
                  f"{setup['packages']} packages ({', '.join(setup['pinned'])}); no test tools importable")
        print(f"Python: {python}")
        print(f"Cold start, {runs} runs: streamlit run -> Home drawn (equation + replay video loaded)")
        print(f"  the very first start (files not yet in the OS cache): {report['first_start_s']:.2f} s")
        print(f"  median {report['median_home_drawn_s']:.2f} s (min {report['min_home_drawn_s']:.2f}, "
              f"max {report['max_home_drawn_s']:.2f}); server healthy after {report['median_healthy_s']:.2f} s")
        print(f"  import streamlit + altair + pg app modules in a fresh interpreter: {report['import_s']:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
