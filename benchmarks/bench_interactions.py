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

The room case (``--room``): before measuring, 10 more browser contexts open on the same server
and stay idle, spread over the pages (Home, theorem, heatmap, replay, train, compare, credit,
then round again), each drawn once, its looping videos paused once they have a frame (as in
benchmarks/bench_load.py: the room's browsers are other people's laptops, not this machine's
CPUs); and one more context keeps training for the whole measurement: it opens
/train?seed=1000&speed=as-fast-as-possible and a script in that page presses Start, and each
time the run ends (Start enabled again) it steps the Seed up by one (a finished
run of the same settings would only be replayed from the server's registry, not computed) and
presses Start again (the default preset solves in a few seconds, and the two reruns between two
runs take a second or so: the report gives the share of the time a run was going). Only the
measuring context is timed; everything else is measured exactly as without ``--room`` (the
browser also gets bench_load's flags that keep background pages' timers unthrottled). The report
says "ROOM" and gives the idle sessions, the training session's Starts, the share of the
measuring time it had a run going, and the runs the server computed (its ``[pg] computing a new
run`` lines). The room's own drawing (the training charts) still
costs this machine's CPUs: the room figures are pessimistic. One Chromium process, one context
per session.

    python benchmarks/bench_interactions.py [--runs 3] [--quick] [--room] [--pages NAME[,NAME]] [--json]

``--quick``: 1 repetition, two controls per page. ``--pages``: only these pages' first loads and
controls (a title or a URL path, e.g. ``--pages heatmap,"The gradient theorem"``); the Home
reference is always measured. Exit status 1 if any measurement failed, or with ``--room`` if the
training session did not keep training (its error is printed; the others still run).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "browser"))

from bench_load import BROWSER_ARGS, NEW_RUN, PAUSE_VIDEOS  # noqa: E402
from conftest import CHROMIUM, LAPTOP, drawn, start_server, wait_for_app  # noqa: E402

from pages.nav import PAGES as NAV_PAGES  # noqa: E402

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
    kind: str  # "slider" | "number" | "radio" | "toggle" | "tab"
    direction: str = "ArrowRight"  # sliders: the first key to press; tabs: the label's text
    quick: bool = False  # one of the controls kept by --quick

    def locator(self, page):
        return page.locator(f".st-key-{self.key}").first


# Per page: (nav title, controls in the order they are driven). Replay's and Live training's
# lists are sequences: a toggle switched on shows the sliders that follow, then goes off again.
PAGES: list[tuple[str, list[Control]]] = [
    ("The gradient theorem", [  # three tabs, only the open one drawn: opening one is a control too
        Control("theta_left slider", "theorem_logit_0", "slider", quick=True),
        Control("theta_up slider", "theorem_logit_1", "slider"),
        Control("N select slider", "theorem_episodes", "slider"),
        Control("seed number input", "theorem_seed", "number", quick=True),
        Control("problem radio", "theorem_problem", "radio"),
        Control("Baselines tab (steps 6-8)", "theorem_tab", "tab", "Baselines"),
        Control("baseline b slider", "theorem_b", "slider"),
        Control("learning rate slider", "theorem_lr", "slider"),
        Control("seed number input (steps 6-8)", "theorem_seed", "number"),
        Control("trainer tab (steps 9-13)", "theorem_tab", "tab", "The trainer"),
        Control("problem radio (back)", "theorem_problem", "radio"),
        Control("theorem tab (steps 1-5)", "theorem_tab", "tab", "The theorem"),
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
    ("Credit assignment", [
        Control("checkpoint slider", "credit_checkpoint", "slider", quick=True),
        Control("episode seed number input", "credit_seed", "number", quick=True),
        Control("step slider", "credit_step", "slider"),
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
    if control.kind == "tab":
        tab = box.get_by_role("tab").filter(has_text=control.direction).first
        return timed(page, what, tab.click)
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
# The room: idle sessions and one that keeps training
# ---------------------------------------------------------------------------------------------
ROOM_IDLE = 10
ROOM_PAGES = ("", "theorem", "heatmap", "replay", "train", "compare", "credit")  # url paths, in turn
ROOM_SEED = 1000  # the training session's first seed (the measured Live training controls start at 0)
ROOM_TRAIN = "/train?seed={seed}&speed=as-fast-as-possible"

# Runs in the training session's page, every 100 ms: Start; when the run has ended (Start enabled
# again), Seed + 1 (its step-up button), and as soon as the input shows the new seed, Start again,
# without waiting for the seed's rerun to finish (the Start rerun replaces it, with the new seed:
# the server's count of computed runs checks that). A Start only counts once the page shows it
# running (Start disabled). window.__room is what Python reads.
TRAINER = """(() => {
  if (window.__room) return;
  const R = window.__room = {starts: 0, ends: 0, phase: 'idle', runningMs: 0, seeds: [], error: null};
  const busy = () => document.querySelector('[data-testid="stStatusWidget"]')
      || document.querySelector('[data-testid="stAppSkeleton"]') || document.querySelector('[data-stale="true"]');
  const button = (name) => [...document.querySelectorAll('[data-testid="stMain"] button')]
      .find(b => b.innerText.trim().endsWith(name));
  const seed = () => document.querySelector('.st-key-train_seed input');
  let since = performance.now(), last = since, old = null;
  const to = (phase) => { R.phase = phase; since = performance.now(); };
  setInterval(() => {
    const now = performance.now();
    if (R.phase === 'running') R.runningMs += now - last;
    last = now;
    const start = button('Start'), box = seed();
    if (!start || !box) return;
    if (R.phase === 'idle' && !start.disabled) {
      if (R.starts === 0) { start.click(); to('starting'); return; }
      const up = document.querySelector('.st-key-train_seed [data-testid="stNumberInputStepUp"]');
      if (!up) { R.error = 'no step-up button on the Seed input'; return; }
      old = box.value; up.click(); to('seeding');
    } else if (R.phase === 'seeding') {
      if (box.value !== old && !start.disabled) { start.click(); to('starting'); }
      else if (now - since > 30000) { R.error = 'the Seed did not step up within 30 s'; to('idle'); }
    } else if (R.phase === 'starting') {
      if (start.disabled) { R.starts += 1; R.seeds.push(Number(box.value)); to('running'); }
      else if (now - since > 30000) { R.error = 'Start did not start a run within 30 s'; to('idle'); }
    } else if (R.phase === 'running' && !start.disabled && !busy()) { R.ends += 1; to('idle'); }
  }, 100);
})()"""


class Room:
    """``idle`` sessions sitting on ROOM_PAGES in turn and one session training, in ``browser``."""

    def __init__(self, browser, url: str, idle: int = ROOM_IDLE):
        self.browser, self.url, self.idle = browser, url, idle
        self.contexts: list = []
        self.idle_pages = [ROOM_PAGES[i % len(ROOM_PAGES)] for i in range(idle)]
        self.trainer = None
        self.at_start: dict = {}
        self.open_s = None

    def _context(self):
        ctx = self.browser.new_context(viewport=LAPTOP)
        ctx.add_init_script(PAUSE_VIDEOS)
        self.contexts.append(ctx)
        return ctx.new_page()

    def open(self) -> None:
        """Every idle session loads its page (all at once: the server draws them together), then
        each is waited for; then the training session starts its first run."""
        opened, pages = time.monotonic(), []
        for path in self.idle_pages:
            page = self._context()
            page.goto(f"{self.url}/{path}", timeout=TIMEOUT_MS)
            pages.append((path, page))
        for path, page in pages:
            try:
                drawn(page, timeout=TIMEOUT_MS)
            except Exception as e:  # noqa: BLE001
                raise BenchError(f"room: the idle session on /{path} was not drawn: {str(e).splitlines()[0]}") from e
        page = self.trainer = self._context()
        page.goto(self.url + ROOM_TRAIN.format(seed=ROOM_SEED), timeout=TIMEOUT_MS)
        page.get_by_role("heading", name="Live training").first.wait_for(timeout=TIMEOUT_MS)
        drawn(page, timeout=TIMEOUT_MS)
        box = page.locator(".st-key-train_seed input").first
        try:  # the number input shows its default for a moment before the link's value
            page.wait_for_function(f"() => document.querySelector('.st-key-train_seed input')?.value === "
                                   f"'{ROOM_SEED}'", timeout=15_000, polling=100)
        except Exception:  # noqa: BLE001 (then typed, as a visitor would)
            box.fill(str(ROOM_SEED))
            box.press("Enter")
            drawn(page, timeout=TIMEOUT_MS)
        seed = box.input_value()
        speed = page.locator(".st-key-train_speed label:has(input:checked)").first.inner_text().strip()
        if seed != str(ROOM_SEED) or speed != "As fast as possible":
            raise BenchError(f"room: the training session's link was not applied (seed {seed!r}, speed {speed!r})")
        page.evaluate(TRAINER)
        try:
            page.wait_for_function("() => window.__room.starts >= 1", timeout=TIMEOUT_MS, polling=100)
        except Exception as e:  # noqa: BLE001
            raise BenchError(f"room: the training session did not start ({self.state()})") from e
        self.at_start = self.state() | {"t": time.monotonic()}
        self.open_s = self.at_start["t"] - opened

    def state(self) -> dict:
        try:
            return self.trainer.evaluate("() => window.__room ? {...window.__room} : {error: 'page reloaded'}")
        except Exception as e:  # noqa: BLE001
            return {"error": f"unreadable: {str(e).splitlines()[0]}"}

    def report(self) -> dict:
        """What the training session did from the start of the measurement until now."""
        now, first = self.state(), self.at_start
        wall = time.monotonic() - first["t"]
        running = (now.get("runningMs", 0) - first["runningMs"]) / 1000
        return {"open_s": self.open_s, "idle_sessions": self.idle, "idle_pages": ["/" + p for p in self.idle_pages],
                "training_starts": now.get("starts", 0), "training_restarts": max(now.get("starts", 0) - 1, 0),
                "training_runs_ended": now.get("ends", 0), "training_seeds": now.get("seeds", []),
                "training_phase_at_end": now.get("phase"), "measured_s": wall,
                "training_running_share": running / wall if wall > 0 else None, "training_error": now.get("error")}

    def close(self) -> None:
        for ctx in self.contexts:
            try:
                ctx.close()
            except Exception:  # noqa: BLE001 (closing what is left; the browser goes next anyway)
                pass
        self.contexts.clear()


class ServerLog:
    """Reads the server's output (so its pipe never fills) and counts the runs it computed."""

    def __init__(self, proc):
        self.runs_computed, self.tail = 0, []
        self.thread = threading.Thread(target=self._read, args=(proc.stdout,), daemon=True)
        self.thread.start()

    def _read(self, stream) -> None:
        for line in stream:
            self.runs_computed += NEW_RUN in line
            self.tail = (self.tail + [line.rstrip()])[-20:]


# ---------------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------------
def summary(values: list[float]) -> dict:
    return {"median_s": statistics.median(values), "worst_s": max(values), "n": len(values)} if values else {}


def fmt(s: float | None) -> str:
    return "—" if s is None else f"{s:.3f} s"


def print_report(report: dict) -> None:
    ref = report["reference"]["median_s"] if report["reference"] else None
    room = report.get("room_detail")
    if report.get("room"):
        print(f"ROOM: {report.get('room_idle_sessions', ROOM_IDLE)} other sessions idle on the server and one "
              "training, measured in one more session")
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
    if room:
        share = room["training_running_share"]
        print(f"\nRoom: {room['idle_sessions']} idle sessions on {', '.join(room['idle_pages'])}; the training session "
              f"pressed Start {room['training_starts']} times ({room['training_restarts']} restarts, seeds "
              f"{', '.join(map(str, room['training_seeds']))}), had a run going "
              f"{'—' if share is None else f'{share:.0%}'} of the {room['measured_s']:.0f} s measured, and the server "
              f"computed {room['server_runs_computed']} new run(s) in that time (the room took {room['open_s']:.0f} s "
              "to open)")
    for e in report["errors"]:
        print(f"ERROR: {e}")


# ---------------------------------------------------------------------------------------------
def measure(browser, url: str, runs: int, quick: bool, titles: list[str]) -> dict:
    from playwright.sync_api import Error as PlaywrightError

    ctx = browser.new_context(viewport=LAPTOP)
    ctx.add_init_script(INIT)
    page = ctx.new_page()
    watch_runs(page)
    report = {"runs": runs, "quick": quick, "controls": [], "pages": {}, "first_load": {}, "errors": []}
    try:
        # warm the server: every page once (untimed), so first loads and controls see a warm server
        go_home(page, url)
        for title in titles:
            try:
                open_page(page, title)
            except BenchError as e:
                report["errors"].append(f"warm-up: {e}")
            go_home(page, url)

        report["reference_times_s"] = reference(page, url, runs)
        report["reference"] = summary(report["reference_times_s"])

        for title in titles:
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
            if title not in titles:
                continue
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


def page_titles(names: str | None) -> list[str]:
    """The measured pages' titles, in PAGES order, from ``--pages`` (titles or URL paths)."""
    measured = [title for title, _ in PAGES]
    if not names:
        return measured
    by_name = {p.title.lower(): p.title for p in NAV_PAGES} | {p.url_path.lower(): p.title for p in NAV_PAGES if p.url_path}
    wanted = set()
    for name in (n.strip() for n in names.split(",") if n.strip()):
        title = by_name.get(name.strip("/").lower())
        if title not in measured:
            raise ValueError(f"--pages: {name!r} is not a measured page; choose from "
                             + ", ".join(f"{t!r}" for t in measured) + " or their URL paths")
        wanted.add(title)
    return [t for t in measured if t in wanted]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="repetitions per control (default 3)")
    parser.add_argument("--quick", action="store_true", help="1 repetition, two controls per page")
    parser.add_argument("--room", action="store_true",
                        help=f"measure with {ROOM_IDLE} other sessions idle on the server and one training")
    parser.add_argument("--pages", metavar="NAME[,NAME...]", help="only these pages (titles or URL paths)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    runs = 1 if args.quick else max(args.runs, 1)
    try:
        titles = page_titles(args.pages)
    except ValueError as e:
        parser.error(str(e))
    if not Path(CHROMIUM).exists():
        print(f"{CHROMIUM} is not installed (apt-get install chromium)", file=sys.stderr)
        return 2
    from playwright.sync_api import sync_playwright

    started = time.perf_counter()
    proc, url = start_server()
    server_log = ServerLog(proc)
    room_report, room_errors = None, []
    try:
        with sync_playwright() as p:
            # with a room, the background pages' timers and renderers must not be throttled
            # (BROWSER_ARGS: bench_load's, the same flags plus three of that kind)
            browser = p.chromium.launch(
                executable_path=CHROMIUM, headless=True,
                args=BROWSER_ARGS if args.room else
                ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                 "--autoplay-policy=no-user-gesture-required",
                 "--disable-background-networking", "--disable-component-update", "--no-first-run"])
            room = Room(browser, url) if args.room else None
            try:
                if room is not None:
                    room.open()
                    runs_before = server_log.runs_computed
                report = measure(browser, url, runs, args.quick, titles)
                if room is not None:
                    room_report = room.report() | {"server_runs_computed": server_log.runs_computed - runs_before}
            except BenchError as e:  # the room could not be set up: nothing measured
                room_errors.append(str(e))
                report = {"runs": runs, "quick": args.quick, "controls": [], "pages": {}, "first_load": {},
                          "reference": {}, "errors": []}
            finally:
                if room is not None:
                    room.close()
                browser.close()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    report["room"] = args.room
    report["pages_measured"] = titles
    if room_report is not None:
        report["room_idle_sessions"] = room_report["idle_sessions"]
        report["room_training_restarts"] = room_report["training_restarts"]
        report["room_detail"] = room_report
        if room_report["training_error"]:
            room_errors.append(f"room: the training session: {room_report['training_error']}")
        if not room_report["server_runs_computed"]:
            room_errors.append("room: the server computed no training run during the measurement")
        elif room_report["server_runs_computed"] < room_report["training_restarts"] - 1:  # (1: a line read late)
            room_errors.append(f"room: {room_report['training_restarts']} restarts but {room_report['server_runs_computed']}"
                               " runs computed: some Starts replayed a finished run")
    report["errors"] = room_errors + report["errors"]
    report["wall_s"] = time.perf_counter() - started
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print_report(report)
        print(f"\n(the whole benchmark took {report['wall_s']:.0f} s)")
    return 1 if report["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
