"""Interaction latency in Chromium: every control of every page, from the input event until
the page is settled, with a no-op rerun of Home as the reference, and each page's first load.

Starts its own ``streamlit run`` (tests/browser/conftest.start_server) and drives Debian's
Chromium (/usr/bin/chromium, never ``playwright install``) at 1440 x 900.

Latency of a control = the time from the input event (the ``keydown`` of ArrowRight on a
slider's focused thumb or of Enter after filling a number input, the ``mousedown`` of a click
on a radio option or a toggle; the event's own timeStamp) until the page is *settled*: the
rerun this input caused has finished (the server's ``script_finished`` message, read from the
websocket), Streamlit's status widget is gone, no element is stale, and no DOM mutation
(MutationObserver on the whole document: nodes, attributes, text) has happened for QUIET_MS.
The figure is the time of the last mutation: the quiet period itself is not counted.

Each slider press moves to a value not shown before in this run (a new value for the page's
caches, as a visitor exploring would), turning back only at the slider's end; number inputs
step +1 each time. Radios and toggles can only flip between values seen before.

Reference: a no-op rerun of Home, the trivial page (no widget of its own): the ``r`` keyboard
shortcut (Streamlit's "Rerun"), which reruns the script with every input unchanged.

First load (warm server: every page has been visited once, untimed): from the ``mousedown`` on
the page's link in the sidebar (from Home, settled) until its title and its first chart
(a drawn <canvas>/<svg>) or video (a frame decoded) are on screen, and until the page settles.

    python benchmarks/bench_interactions.py [--runs 3] [--quick] [--json]

``--quick``: 1 repetition, two controls per page. Exit status 1 if any measurement failed
(its error is printed; the others still run).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "browser"))

from conftest import CHROMIUM, LAPTOP, start_server, wait_for_app  # noqa: E402

QUIET_MS = 300
TITLE_ONLY = {"Compare estimators"}  # no chart or video before Run: its first load is the title drawn
TIMEOUT_MS = 60_000
MAIN, SIDEBAR = '[data-testid="stMain"]', '[data-testid="stSidebar"]'

# Installed in every document before its scripts: the time of the last DOM mutation and of the
# first input event after the benchmark arms it.
INIT = """
(() => {
  window.__lastMut = performance.now();
  window.__t0 = null;
  window.__armed = false;
  const start = () => {
    new MutationObserver(() => { window.__lastMut = performance.now(); })
      .observe(document, {subtree: true, childList: true, attributes: true, characterData: true});
  };
  if (document.documentElement) start(); else document.addEventListener('DOMContentLoaded', start);
  for (const type of ['keydown', 'mousedown']) {
    window.addEventListener(type, (e) => {
      if (window.__armed && window.__t0 === null) window.__t0 = e.timeStamp;
    }, true);
  }
})();
"""

SETTLED = f"""() => !document.querySelector('[data-testid="stStatusWidget"]')
    && !document.querySelector('[data-testid="stAppSkeleton"]')
    && !document.querySelector('[data-stale="true"]')
    && performance.now() - window.__lastMut >= {QUIET_MS}"""

FIRST_DRAWN = """([title, visual]) => {
  if (window.__drawnAt) return true;
  const main = document.querySelector('[data-testid="stMain"]');
  if (!main) return false;
  const heading = [...main.querySelectorAll('h1')].find(h => h.innerText.trim() === title
      && !h.closest('[data-stale="true"]'));
  if (!heading) return false;
  const fresh = (e) => !e.closest('[data-stale="true"]');
  const chart = [...main.querySelectorAll('[data-testid="stVegaLiteChart"] canvas, [data-testid="stVegaLiteChart"] svg')]
      .some(e => fresh(e) && e.getBoundingClientRect().width > 0);
  const video = [...main.querySelectorAll('video')].some(v => fresh(v) && v.readyState >= 2);
  if (visual && !(chart || video)) return false;
  window.__noVisual = !visual;
  window.__drawnAt = performance.now();
  return true;
}"""


class BenchError(RuntimeError):
    pass


# ---------------------------------------------------------------------------------------------
# Controls
# ---------------------------------------------------------------------------------------------
@dataclass
class Control:
    name: str
    key: str  # the widget's key: Streamlit gives its element the class st-key-<key>
    kind: str  # "slider" | "number" | "radio" | "toggle"
    direction: str = "ArrowRight"  # sliders: the first key to press
    quick: bool = False  # one of the controls kept by --quick

    def locator(self, page):
        return page.locator(f".st-key-{self.key}").first


# Per page: (nav title, controls in the order they are driven). Replay's and Live training's
# lists are sequences: a toggle switched on shows the sliders that follow, then goes off again.
PAGES: list[tuple[str, list[Control]]] = [
    ("The gradient theorem", [
        Control("theta_left slider", "theorem_logit_0", "slider", quick=True),
        Control("theta_up slider", "theorem_logit_1", "slider"),
        Control("N select slider", "theorem_episodes", "slider"),
        Control("seed number input", "theorem_seed", "number", quick=True),
        Control("problem radio", "theorem_problem", "radio"),
        Control("baseline b slider", "theorem_b", "slider"),
        Control("learning rate slider", "theorem_lr", "slider"),
        Control("problem radio (back)", "theorem_problem", "radio"),
    ]),
    ("Policy heatmap", [
        Control("checkpoint slider", "heatmap_checkpoint", "slider", "ArrowLeft", quick=True),
        Control("x slider", "heatmap_x", "slider", quick=True),
        Control("x_dot slider", "heatmap_x_dot", "slider"),
        Control("visited states toggle", "heatmap_overlay", "toggle"),
        Control("visited states toggle (back)", "heatmap_overlay", "toggle"),
    ]),
    ("Replay", [
        Control("episode seed number input", "replay_seed", "number", quick=True),
        Control("greedy/sampled radio", "replay_mode", "radio", quick=True),
        Control("greedy/sampled radio (back)", "replay_mode", "radio"),
        Control("nudge toggle on", "replay_nudge", "toggle"),
        Control("nudge step slider", "replay_nudge_step", "slider"),
        Control("nudge strength slider", "replay_nudge_strength", "slider"),
        Control("nudge toggle off", "replay_nudge", "toggle"),
        Control("start by hand on", "replay_start_by_hand", "toggle"),
        Control("start x slider", "replay_x", "slider"),
        Control("start theta slider", "replay_theta", "slider"),
        Control("start by hand off", "replay_start_by_hand", "toggle"),
    ]),
    ("Live training", [
        Control("seed number input", "train_seed", "number", quick=True),
        Control("episodes per update number input", "train_batch_episodes", "number"),
        Control("seeds side by side slider", "train_n_seeds", "slider", quick=True),
        Control("human pace slider (if enabled)", "train_pace", "slider"),
        Control("speed radio", "train_speed", "radio"),
        Control("speed radio (back)", "train_speed", "radio"),
        Control("normalise advantages toggle", "train_normalize_advantages", "toggle"),
        Control("normalise advantages toggle (back)", "train_normalize_advantages", "toggle"),
    ]),
    ("Compare estimators", [
        Control("seeds per estimator slider", "compare_seeds", "slider", "ArrowLeft", quick=True),
        Control("episodes per update select slider", "compare_episodes", "slider", quick=True),
        Control("GAE lambda slider", "compare_gae_lambda", "slider", "ArrowLeft"),
        Control("critic radio", "compare_critic", "radio"),
        Control("critic radio (back)", "compare_critic", "radio"),
        Control("normalise advantages toggle", "compare_normalize", "toggle"),
        Control("normalise advantages toggle (back)", "compare_normalize", "toggle"),
    ]),
]


# ---------------------------------------------------------------------------------------------
# Measuring
# ---------------------------------------------------------------------------------------------
def watch_runs(page) -> None:
    """Count the server's script_finished messages (ForwardMsg protobufs on the websocket)."""
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    page.runs_finished = 0

    def on_frame(payload) -> None:
        if isinstance(payload, str):
            return
        msg = ForwardMsg()
        try:
            msg.ParseFromString(payload)
        except Exception:  # noqa: BLE001 (not a ForwardMsg: ignore)
            return
        if msg.WhichOneof("type") == "script_finished":
            page.runs_finished += 1

    page.on("websocket", lambda ws: ws.on("framereceived", on_frame))


def settle(page, what: str, timeout: float = TIMEOUT_MS) -> None:
    try:
        page.wait_for_function(SETTLED, timeout=timeout, polling=50)
    except Exception as e:  # noqa: BLE001
        raise BenchError(f"{what}: the page did not settle (status widget gone, nothing stale, no DOM "
                         f"change for {QUIET_MS} ms) within {timeout / 1000:.0f} s") from e
    if page.locator('[data-testid="stException"]').count():
        raise BenchError(f"{what}: the page shows a Streamlit exception")


def arm(page) -> None:
    page.evaluate("() => { window.__t0 = null; window.__armed = true; }")


def timed(page, what: str, action) -> float:
    """Seconds from the input event of ``action`` until the page settled after the rerun it caused."""
    before = page.runs_finished
    arm(page)
    action()
    deadline = time.monotonic() + TIMEOUT_MS / 1000
    while page.runs_finished <= before:
        if time.monotonic() > deadline:
            raise BenchError(f"{what}: no script run finished within {TIMEOUT_MS / 1000:.0f} s of the input "
                             "(the control did not trigger a rerun?)")
        page.wait_for_timeout(20)
    settle(page, what)
    t0, last = page.evaluate("() => [window.__t0, window.__lastMut]")
    page.evaluate("() => { window.__armed = false; }")
    if t0 is None:
        raise BenchError(f"{what}: no keydown/mousedown event was seen")
    return max(last - t0, 0.0) / 1000


def drive(page, control: Control, title: str) -> float | None:
    """One input on ``control``; its latency, or None if the control is absent or disabled."""
    what = f"{title} / {control.name}"
    box = control.locator(page)
    if not box.count():
        raise BenchError(f"{what}: no element .st-key-{control.key} on the page")
    if control.kind == "slider":
        thumb = box.get_by_role("slider").first
        if thumb.get_attribute("aria-disabled") == "true" or thumb.is_disabled():
            return None
        now, low, high = (float(thumb.get_attribute(aria) or thumb.get_attribute(attr) or 0)
                          for aria, attr in (("aria-valuenow", "value"), ("aria-valuemin", "min"), ("aria-valuemax", "max")))
        if thumb.get_attribute("aria-valuenow") is None:
            now = float(thumb.input_value())
        key = control.direction
        if (key == "ArrowRight" and now >= high) or (key == "ArrowLeft" and now <= low):
            key = "ArrowLeft" if key == "ArrowRight" else "ArrowRight"
        control.direction = key  # keep going the same way: new values each time
        thumb.focus()
        return timed(page, what, lambda: thumb.press(key))
    if control.kind == "number":
        field = box.locator("input").first
        value = int(float(field.input_value()))
        field.fill(str(value + 1))
        return timed(page, what, lambda: field.press("Enter"))
    if control.kind == "radio":
        labels = box.locator('[role="radiogroup"] label')
        for i in range(labels.count()):
            if not labels.nth(i).locator("input").is_checked():
                return timed(page, what, labels.nth(i).click)
        raise BenchError(f"{what}: every option is checked?")
    if control.kind == "toggle":
        label = box.locator("label").first
        return timed(page, what, lambda: label.click())
    raise ValueError(control.kind)


def go_home(page, url: str) -> None:
    page.goto(url)
    wait_for_app(page, timeout=TIMEOUT_MS)
    page.get_by_role("heading", name="Policy Gradients, Visually").first.wait_for(timeout=TIMEOUT_MS)
    settle(page, "Home")


def open_page(page, title: str) -> dict:
    """From a settled Home: click ``title``'s sidebar link; seconds to first drawn and to settled."""
    link = page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name=title, exact=True)
    page.evaluate("() => { window.__drawnAt = null; window.__noVisual = false; }")
    arm(page)
    link.click()
    try:
        page.wait_for_function(FIRST_DRAWN, arg=[title, title not in TITLE_ONLY], timeout=TIMEOUT_MS, polling="raf")
    except Exception as e:  # noqa: BLE001
        raise BenchError(f"{title}: title and first chart or video not drawn within {TIMEOUT_MS / 1000:.0f} s") from e
    wait_for_app(page, timeout=TIMEOUT_MS)
    settle(page, f"{title} first load")
    t0, drawn_at, last, novisual = page.evaluate("() => [window.__t0, window.__drawnAt, window.__lastMut, window.__noVisual]")
    page.evaluate("() => { window.__armed = false; }")
    return {"drawn_s": (drawn_at - t0) / 1000, "settled_s": (last - t0) / 1000, "title_only": bool(novisual)}


def reference(page, url: str, runs: int) -> list[float]:
    """No-op reruns of Home: the 'r' shortcut with the focus on the page's body."""
    go_home(page, url)
    out = []
    for _ in range(max(runs, 3)):
        page.locator(MAIN).locator("h1").first.click()  # focus on the page, not in a widget
        settle(page, "Home (before the no-op rerun)")
        out.append(timed(page, "Home / no-op rerun ('r')", lambda: page.keyboard.press("r")))
    return out


# ---------------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------------
def summary(values: list[float]) -> dict:
    return {"median_s": statistics.median(values), "worst_s": max(values), "n": len(values)} if values else {}


def fmt(s: float | None) -> str:
    return "—" if s is None else f"{s:.3f} s"


def print_report(report: dict) -> None:
    ref = report["reference"]["median_s"] if report["reference"] else None
    print(f"Interaction latency in Chromium {LAPTOP['width']}x{LAPTOP['height']}: input event -> page settled "
          f"(no DOM change for {QUIET_MS} ms, not counted); {report['runs']} repetition(s) per control")
    rows = [("page", "control", "median", "worst")]
    for r in report["controls"]:
        if r.get("skipped"):
            rows.append((r["page"], r["control"], "skipped", r["skipped"]))
        elif r["times_s"]:
            rows.append((r["page"], r["control"], fmt(r["median_s"]), fmt(r["worst_s"])))
        if r.get("errors"):
            rows.append((r["page"], r["control"], "FAILED", r["errors"][0][:80]))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    for row in rows:
        print("  " + "  ".join(cell.ljust(w) for cell, w in zip(row[:3], widths)) + "  " + row[3])
    print("\nPer page (every input on the page):")
    print(f"  {'page':<22} {'median':>9} {'worst':>9} {'n':>4} {'median / reference':>20}")
    for title, s in report["pages"].items():
        if s:
            ratio = f"{s['median_s'] / ref:.1f}x" if ref else "—"
            print(f"  {title:<22} {fmt(s['median_s']):>9} {fmt(s['worst_s']):>9} {s['n']:>4} {ratio:>20}")
    if report["reference"]:
        r = report["reference"]
        print(f"\nReference, a no-op rerun of Home ('r' shortcut, every input unchanged): median {fmt(r['median_s'])}, "
              f"worst {fmt(r['worst_s'])} (n = {r['n']})")
    print("\nFirst load in a warm server (click on the sidebar link from Home):")
    print(f"  {'page':<22} {'title + first chart/video':>26} {'settled':>9}   (median; worst)")
    for title, s in report["first_load"].items():
        if s.get("error"):
            print(f"  {title:<22} FAILED: {s['error']}")
            continue
        note = "  (no chart or video before an action: title only)" if s["title_only"] else ""
        print(f"  {title:<22} {fmt(s['drawn_median_s']) + ' ; ' + fmt(s['drawn_worst_s']):>26} "
              f"{fmt(s['settled_median_s']):>9}{note}")
    for e in report["errors"]:
        print(f"ERROR: {e}")


# ---------------------------------------------------------------------------------------------
def measure(browser, url: str, runs: int, quick: bool) -> dict:
    from playwright.sync_api import Error as PlaywrightError

    ctx = browser.new_context(viewport=LAPTOP)
    ctx.add_init_script(INIT)
    page = ctx.new_page()
    watch_runs(page)
    report = {"runs": runs, "quick": quick, "controls": [], "pages": {}, "first_load": {}, "errors": []}
    try:
        # warm the server: every page once (untimed), so first loads and controls see a warm server
        go_home(page, url)
        for title, _ in PAGES:
            try:
                open_page(page, title)
            except BenchError as e:
                report["errors"].append(f"warm-up: {e}")
            go_home(page, url)

        report["reference_times_s"] = reference(page, url, runs)
        report["reference"] = summary(report["reference_times_s"])

        for title, _ in PAGES:
            loads, error = [], None
            for _ in range(runs):
                try:
                    go_home(page, url)
                    loads.append(open_page(page, title))
                except BenchError as e:
                    error = str(e)
                    break
            s = {"error": error} if not loads else {
                "drawn_median_s": statistics.median(x["drawn_s"] for x in loads),
                "drawn_worst_s": max(x["drawn_s"] for x in loads),
                "settled_median_s": statistics.median(x["settled_s"] for x in loads),
                "settled_worst_s": max(x["settled_s"] for x in loads),
                "title_only": any(x["title_only"] for x in loads), "error": error}
            report["first_load"][title] = s

        for title, controls in PAGES:
            chosen = [c for c in controls if c.quick] if quick else controls
            go_home(page, url)
            try:
                open_page(page, title)
            except BenchError as e:
                report["errors"].append(str(e))
                continue
            results = {c.name: {"page": title, "control": c.name, "times_s": [], "errors": []} for c in chosen}
            for _ in range(runs):
                for c in chosen:
                    r = results[c.name]
                    try:
                        t = drive(page, c, title)
                    except (BenchError, PlaywrightError) as e:
                        e = e if isinstance(e, BenchError) else BenchError(f"{title} / {c.name}: {str(e).splitlines()[0]}")
                        r["errors"].append(str(e))
                        report["errors"].append(str(e))
                        try:
                            settle(page, f"{title} after an error")
                        except BenchError:
                            pass
                        continue
                    if t is None:
                        r["skipped"] = "disabled"
                    else:
                        r["times_s"].append(t)
            page_times = []
            for r in results.values():
                r.update(summary(r["times_s"]))
                if r["times_s"]:
                    r.pop("skipped", None)
                page_times += r["times_s"]
                report["controls"].append(r)
            report["pages"][title] = summary(page_times)
    finally:
        ctx.close()
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="repetitions per control (default 3)")
    parser.add_argument("--quick", action="store_true", help="1 repetition, two controls per page")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    runs = 1 if args.quick else max(args.runs, 1)
    if not Path(CHROMIUM).exists():
        print(f"{CHROMIUM} is not installed (apt-get install chromium)", file=sys.stderr)
        return 2
    from playwright.sync_api import sync_playwright

    started = time.perf_counter()
    proc, url = start_server()
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=CHROMIUM, headless=True,
                args=["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                      "--autoplay-policy=no-user-gesture-required",
                      "--disable-background-networking", "--disable-component-update", "--no-first-run"])
            try:
                report = measure(browser, url, runs, args.quick)
            finally:
                browser.close()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    report["wall_s"] = time.perf_counter() - started
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print_report(report)
        print(f"\n(the whole benchmark took {report['wall_s']:.0f} s)")
    return 1 if report["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
