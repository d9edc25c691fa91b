"""The server's share of an interaction: the rerun a widget change causes, timed under AppTest.

Issue "Instant" sets two budgets per widget change: the whole interaction in Chromium
(benchmarks/bench_interactions.py) and the server's share alone, the script's rerun. This
measures the second, for every widget of every page, found on the page itself (so a new control
is measured without editing this file): sliders and select sliders step to a value not shown
before (turning back at their end), number inputs step +1, radios, select boxes and toggles
cycle through their options. Buttons, text inputs, multiselects and file uploaders are left
out (Start, a typed layer list and an upload are runs and files, not slider moves).

Each change is one ``AppTest.run()`` of the entry file, page included (Streamlit's own script
runner, in this process); the reference is a no-op rerun of Home (nothing changed) measured the
same way, which holds AppTest's own cost per run (it compiles the scripts again every run,
which a server does not). Every page is loaded once first (untimed), so caches filled on a
first visit are warm, as on a server that has been up for a while. A page in lazy tabs (the
theorem page: only the open tab's steps run) is measured tab by tab: opening each tab is a
change of its own, then the controls that tab shows.

    python benchmarks/bench_rerun.py [--runs 3] [--pages theorem,heatmap] [--quick] [--json]

Prints per page and per control the median and worst seconds, and the budgets' verdicts
(median at most 0.1 s, worst at most 0.4 s, over all of a page's changes).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
os.environ.setdefault("SDL_VIDEODRIVER", "dummy")

from app_helpers import open_page  # noqa: E402

from pages.nav import PAGES  # noqa: E402

MEDIAN_BUDGET, WORST_BUDGET = 0.1, 0.4
KINDS = ("slider", "select_slider", "number_input", "radio", "selectbox", "toggle")


def controls(at) -> list[tuple[str, str]]:
    """(kind, key) of every widget this benchmark can move, in page order. A radio that shows
    its options through a format_func is left out, and so is one with no answer yet (a
    predict-then-check question): AppTest sets a radio by its value, and only the labels are on
    the page (a select box is set by index, so it stays in)."""
    found = []
    for kind in KINDS:
        for widget in getattr(at, kind):
            if not widget.key or getattr(widget, "disabled", False):
                continue
            if kind == "radio" and (widget.value is None or str(widget.value) not in list(widget.options)):
                continue
            found.append((kind, widget.key))
    return found


def widget(at, kind: str, key: str):
    return next(w for w in getattr(at, kind) if w.key == key)


def next_value(kind: str, w, k: int):
    """The value of the k-th change of this widget (k = 1, 2, ...)."""
    if kind == "toggle":
        return not w.value
    if kind in ("radio", "selectbox", "select_slider"):
        options = list(w.options)
        current = options.index(str(w.value)) if str(w.value) in options else 0
        return w.options[(current + 1) % len(options)] if kind != "select_slider" else _step(options, current, k)
    if kind == "number_input":
        step = w.step or 1
        value = w.value + step if w.max is None or w.value + step <= w.max else w.value - step
        return type(w.value)(value) if isinstance(w.value, (int, float)) else value
    high, step = w.max, w.step or 1  # slider: a new value each time, back at the end
    value = w.value[0] if isinstance(w.value, (tuple, list)) else w.value
    new = value + step * (1 if value + step <= high else -1)
    new = round(new, 10) if isinstance(new, float) else new
    return (new, *w.value[1:]) if isinstance(w.value, (tuple, list)) else new


def _step(options: list, current: int, k: int):
    return options[current + 1] if current + 1 < len(options) else options[current - 1]


def set_value(at, kind, key, value):
    w = widget(at, kind, key)
    if kind == "selectbox":
        w.select_index(list(w.options).index(str(value)))
    else:
        w.set_value(value)


def timed_run(at) -> float:
    start = time.perf_counter()
    at.run()
    took = time.perf_counter() - start
    if at.exception:
        raise RuntimeError(f"the rerun raised: {[e.value for e in at.exception]}")
    return took


def tab_views(url_path: str) -> tuple[str | None, list[str]]:
    """(the session key, the labels) of a page's lazy tabs (st.tabs on_change="rerun": a tab's
    content runs only while it is open), or (None, []): each tab is a view of its own, whose
    controls are measured with it open, and opening it is a change measured too."""
    if url_path == "theorem":
        from pages.theorem_text import PARTS

        return "theorem_tab", list(PARTS.values())
    return None, []


def measure_page(url_path: str, runs: int, quick: bool) -> dict:
    at = open_page(url_path or None, timeout=300)
    tab_key, tabs = tab_views(url_path)
    per_control = {}
    for view in (tabs or [None]):
        if view is not None and view != tabs[0]:  # open the tab: a change of its own
            at.session_state[tab_key] = view
            per_control.setdefault(f"open tab: {view}", []).append(timed_run(at))
        measure_controls(at, [c for c in controls(at) if c[1] not in per_control], runs, quick, per_control)
    if tabs:  # and back to the first tab
        at.session_state[tab_key] = tabs[0]
        per_control.setdefault(f"open tab: {tabs[0]}", []).append(timed_run(at))
    every = [t for times in per_control.values() for t in times]
    return {"controls": {k: {"median": statistics.median(v), "worst": max(v), "n": len(v)} for k, v in per_control.items()},
            "median": statistics.median(every) if every else None, "worst": max(every) if every else None,
            "n": len(every)}


def measure_controls(at, found: list, runs: int, quick: bool, per_control: dict) -> None:
    """``runs`` changes of each control in ``found``, each timed, into ``per_control``."""
    for kind, key in found[:3] if quick else found:
        times = []
        for k in range(1, runs + 1):
            try:
                w = widget(at, kind, key)
            except StopIteration:  # another change hid it (e.g. a switch that shows sliders)
                break
            set_value(at, kind, key, next_value(kind, w, k))
            times.append(timed_run(at))
        if times:
            per_control[key] = times


def reference(runs: int) -> dict:
    at = open_page(None, timeout=300)
    times = [timed_run(at) for _ in range(max(runs, 3) * 3)]
    return {"median": statistics.median(times), "worst": max(times), "n": len(times)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="changes per control (default 3)")
    parser.add_argument("--pages", default="", help="url paths to measure, comma-separated (default: all)")
    parser.add_argument("--quick", action="store_true", help="1 change per control, 3 controls per page")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    runs = 1 if args.quick else args.runs
    chosen = [p for p in PAGES if not args.pages or (p.url_path or "home") in args.pages.split(",")]
    warnings.filterwarnings("ignore")
    for page in chosen:  # warm: every page's first visit, untimed
        open_page(page.url_path or None, timeout=300)
    report = {"reference_noop_home": reference(runs), "pages": {}}
    for page in chosen:
        report["pages"][page.title] = measure_page(page.url_path, runs, args.quick)
    every = [c for p in report["pages"].values() for c in p["controls"].values()]
    report["budget"] = {"median_s": MEDIAN_BUDGET, "worst_s": WORST_BUDGET}
    report["within_budget"] = {title: (p["median"] is None or p["median"] <= MEDIAN_BUDGET)
                               and (p["worst"] is None or p["worst"] <= WORST_BUDGET)
                               for title, p in report["pages"].items()}
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    ref = report["reference_noop_home"]
    print(f"reference: no-op rerun of Home  median {ref['median']:.3f} s  worst {ref['worst']:.3f} s")
    for title, p in report["pages"].items():
        if p["median"] is None:
            print(f"{title}: no control to move")
            continue
        verdict = "within" if report["within_budget"][title] else "OVER"
        print(f"{title}: median {p['median']:.3f} s  worst {p['worst']:.3f} s  ({p['n']} changes; {verdict} "
              f"{MEDIAN_BUDGET} / {WORST_BUDGET} s)")
        for key, c in p["controls"].items():
            print(f"    {key[:44]:44s} median {c['median']:.3f}  worst {c['worst']:.3f}")
    print(f"{len(every)} controls measured")
    return 0


if __name__ == "__main__":
    sys.exit(main())
