"""The live training page against headless pg: training speed, redraw rate, five seeds side
by side, server CPU per redraw as the history grows, and Stop latency.

Starts its own ``streamlit run`` (tests/browser/conftest.start_server) and drives Debian's
Chromium with Playwright. Redraws are counted in the browser: a requestAnimationFrame sampler
records every change of the progress caption ("update N · ..."), which is redrawn with the
charts. CPU comes from /proc/<pid>/stat (user + system) of the server and of the Chromium
processes this script started. Runs on a busy machine are slower for both sides; the headless
runs are interleaved with the page's so that both see the same load.

1. speed: one seed, linear policy, 16 episodes per update, evaluated every update, not stopped
   on solve (so every run does the same ``--updates`` updates). Headless: ``train(cfg)`` in
   this process. Page: Start click until the caption shows the last update. ratio = headless
   s / page s (the target is >= 0.7, with >= 4 redraws a second).
2. five seeds: "the seed blog post" preset with 5 seeds side by side on the page until all
   have solved, against the same 5 runs headless one after another.
3. server CPU per redraw at several history lengths: a run of tiny updates (20-step episodes)
   is trained at full speed up to each length, then shown at human pace for a few seconds,
   where each redraw costs the server (CPU - training compute) / redraws.
0. the default run: a fresh visitor's Start at the default speed (a replay at human pace):
   redraws before the solved banner (target >= 20 at >= 4 a second), the replay's length and
   the run's real compute time.
4. Stop: Start a long run, click Stop after ~2 s: the time until the last redraw, and that no
   update follows in the next 1.5 s.

Every page run uses settings no other run used (``max_env_steps`` differs by one, which never
binds), so the server's run registry never hands out a run computed earlier.

    python benchmarks/bench_live.py [--quick] [--json] [--runs 3] [--updates 150]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "browser")]

from conftest import CHROMIUM, LAPTOP, start_server, wait_for_app  # noqa: E402
from test_train_browser import (  # noqa: E402
    MAIN,
    SAMPLER,
    SIDEBAR,
    button,
    caption,
    choose_preset,
    open_train,
    redraws,
    rerun_after,
    seen,
    set_advanced,
    set_number,
    set_seeds,
    update_of,
    wait_until_finished,
)

from pg.algo.reinforce import TrainConfig, train  # noqa: E402
from pg.app.presets import preset_config  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")
RATIO_TARGET, REDRAW_TARGET = 0.7, 4.0


# ---------------------------------------------------------------------------------------------
# CPU of processes
# ---------------------------------------------------------------------------------------------
def cpu_seconds(pids) -> float:
    total = 0
    for pid in pids:
        try:
            fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except OSError:
            pass
    return total / TICKS


def chromium_pids() -> list[int]:
    """The Chromium processes started by this script (descendants of it)."""
    parent = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                parent[int(entry)] = int(open(f"/proc/{entry}/stat").read().rsplit(")", 1)[1].split()[1])
            except OSError:
                pass
    me, found = os.getpid(), []
    for pid in parent:
        ancestor = parent.get(pid, 0)
        while ancestor > 1 and ancestor != me:
            ancestor = parent.get(ancestor, 0)
        if ancestor == me:
            try:
                if b"chrom" in open(f"/proc/{pid}/cmdline", "rb").read():
                    found.append(pid)
            except OSError:
                pass
    return found


class Meter:
    """CPU seconds of the server and of Chromium since ``start()``."""

    def __init__(self, server_pid: int):
        self.server_pid = server_pid

    def start(self):
        self.chromium = chromium_pids()
        self.s0, self.c0, self.t0 = cpu_seconds([self.server_pid]), cpu_seconds(self.chromium), time.perf_counter()
        return self

    def read(self) -> dict:
        return {"wall_s": time.perf_counter() - self.t0, "server_cpu_s": cpu_seconds([self.server_pid]) - self.s0,
                "chromium_cpu_s": cpu_seconds(self.chromium) - self.c0}


def training_seconds(text: str) -> float:
    return float(re.search(r"([\d.]+) s of training", text).group(1))


def redraw_rate(frames) -> float:
    if len(frames) < 2:
        return 0.0
    return (len(frames) - 1) / ((frames[-1][0] - frames[0][0]) / 1000)


def headless_seconds(cfgs) -> float:
    start = time.perf_counter()
    for cfg in cfgs:
        for _ in train(cfg):
            pass
    return time.perf_counter() - start


# ---------------------------------------------------------------------------------------------
# The measurements
# ---------------------------------------------------------------------------------------------
def fresh_page(browser, url):
    ctx = browser.new_context(viewport=LAPTOP, accept_downloads=True)
    page = ctx.new_page()
    page.console_errors = []
    page.on("console", lambda m: m.type == "error" and page.console_errors.append(m.text))
    open_train(page, url)
    choose_speed(page, "As fast as possible")  # (the page's default is a replay at human pace)
    return ctx, page


def default_run(browser, url) -> dict:
    """A fresh visitor's Start at the default speed (a replay at human pace): the redraws seen
    before the solved banner, their rate, and the run's compute time against its replay's."""
    ctx = browser.new_context(viewport=LAPTOP)
    page = ctx.new_page()
    try:
        open_train(page, url)
        page.evaluate(SAMPLER)
        button(page, "Start").click()
        banner = page.locator(MAIN).get_by_text(re.compile(r"^Solved at update \d+"))
        banner.wait_for(timeout=120_000)
        solved_at = int(re.match(r"Solved at update (\d+)", banner.inner_text()).group(1))
        wait_until_finished(page)
        frames = [f for f in redraws(seen(page)) if "untrained" not in f[1]]
        before = [f for f in frames if update_of(f[1]) < solved_at]
        computed = float(re.search(r"computed in ([\d.]+) s", frames[-1][1]).group(1))
    finally:
        ctx.close()
    return {"solved_at": solved_at, "redraws_before_banner": len(before), "redraws_per_s": redraw_rate(before),
            "replay_s": (before[-1][0] - before[0][0]) / 1000, "computed_s": computed}


def speed(browser, url, meter, updates: int, rep: int) -> dict:
    budget = 2_000_000 - rep  # never binds; makes the settings new to the server's registry
    cfg = TrainConfig(stop_on_solve=False, max_updates=updates, max_env_steps=budget)
    headless = headless_seconds([cfg])
    ctx, page = fresh_page(browser, url)
    try:
        set_advanced(page, stop_on_solve=False, max_updates=updates, max_env_steps=budget)
        page.evaluate(SAMPLER)
        meter.start()
        button(page, "Start").click()
        page.locator(MAIN).get_by_text(re.compile(rf"^update {updates} · ")).wait_for(timeout=300_000)
        cpu = meter.read()
        frames = redraws(seen(page))
        wait_until_finished(page)
        train_s = training_seconds(frames[-1][1])
    finally:
        ctx.close()
    return {"updates": updates, "headless_s": headless, "page_s": cpu["wall_s"], "ratio": headless / cpu["wall_s"],
            "page_training_s": train_s, "redraws": len(frames), "redraws_per_s": redraw_rate(frames),
            "server_cpu_s": cpu["server_cpu_s"], "chromium_cpu_s": cpu["chromium_cpu_s"]}


def five_seeds(browser, url, meter, rep: int) -> dict:
    budget = 2_000_000 - 100 - rep
    base = preset_config("the seed blog post", max_env_steps=budget)
    headless = headless_seconds([preset_config("the seed blog post", seed=i) for i in range(5)])
    ctx, page = fresh_page(browser, url)
    try:
        choose_preset(page, "the seed blog post")
        set_seeds(page, 5)
        set_advanced(page, max_env_steps=budget)
        page.evaluate(SAMPLER)
        meter.start()
        button(page, "Start").click()
        page.locator(MAIN).get_by_text(re.compile(r"^5 of 5 seeds solved")).wait_for(timeout=300_000)
        cpu = meter.read()
        frames = redraws(seen(page))
        wait_until_finished(page)
    finally:
        ctx.close()
    assert base.batch_episodes == 1
    return {"headless_5_in_sequence_s": headless, "page_5_side_by_side_s": cpu["wall_s"],
            "ratio": headless / cpu["wall_s"], "redraws": len(frames), "redraws_per_s": redraw_rate(frames),
            "server_cpu_s": cpu["server_cpu_s"], "chromium_cpu_s": cpu["chromium_cpu_s"]}


def choose_speed(page, name: str) -> None:
    rerun_after(page, lambda: page.locator(SIDEBAR).get_by_text(name, exact=True).click())


def cpu_per_redraw(browser, url, meter, lengths, window: float, rep: int) -> list[dict]:
    """Train tiny updates at full speed to each length, then watch ``window`` seconds at human
    pace (a redraw every 0.2 s, a few updates each): CPU per redraw at that history length."""
    ctx, page = fresh_page(browser, url)
    rows = []
    try:
        set_advanced(page, max_episode_steps=20, eval_every=1000, stop_on_solve=False, max_updates=1_000_000,
                     max_env_steps=5_000_000 - rep)
        set_number(page, "Episodes per update N", 1)
        for length in lengths:
            n = update_of(caption(page)) if page.locator(f"{MAIN} [data-testid=stCaptionContainer]").count() else 0
            if n < length - 150:  # full speed up to about ``length``
                choose_speed(page, "As fast as possible")
                button(page, "Start").click()
                deadline = time.monotonic() + 120
                while time.monotonic() < deadline:
                    texts = page.locator(MAIN).get_by_text(re.compile(r"^update \d+ · ")).all_inner_texts()
                    if texts and update_of(texts[0]) >= length - 150:
                        break
                    time.sleep(0.02)
                button(page, "Stop").click()
                wait_until_finished(page)
            choose_speed(page, "Human pace")
            pace = page.locator(SIDEBAR).locator('[data-testid="stSlider"] input[type="range"]').nth(1)
            if pace.get_attribute("aria-valuenow") != "30":  # the fastest human pace: 30 updates a second
                pace.focus()
                rerun_after(page, lambda pace=pace: pace.press("End"))
            page.evaluate(SAMPLER)
            before = page.locator(MAIN).get_by_text(re.compile(r"^update \d+ · ")).all_inner_texts()
            train0 = training_seconds(before[0]) if before and "nothing" not in before[0] else 0.0
            meter.start()
            button(page, "Start").click()
            time.sleep(window)
            cpu = meter.read()
            frames = redraws(seen(page))
            button(page, "Stop").click()
            wait_until_finished(page)
            shown = [f for f in frames if "nothing" not in f[1]]
            trained = (training_seconds(shown[-1][1]) - train0) if shown else 0.0
            n_redraws = max(1, len(frames))
            rows.append({"history": update_of(frames[-1][1]) if frames else 0, "redraws": len(frames),
                         "redraws_per_s": redraw_rate(frames), "server_cpu_s": cpu["server_cpu_s"],
                         "training_s": trained,
                         "server_ms_per_redraw": 1e3 * (cpu["server_cpu_s"] - trained) / n_redraws,
                         "chromium_ms_per_redraw": 1e3 * cpu["chromium_cpu_s"] / n_redraws})
    finally:
        ctx.close()
    return rows


def stop_latency(browser, url, rep: int) -> dict:
    ctx, page = fresh_page(browser, url)
    try:
        set_advanced(page, max_episode_steps=50, eval_every=1000, stop_on_solve=False, max_updates=1_000_000,
                     max_env_steps=5_000_000 - 100 - rep)
        page.evaluate(SAMPLER)
        button(page, "Start").click()
        time.sleep(2.0)
        clicked = page.evaluate("performance.now()")
        button(page, "Stop").click()
        wait_until_finished(page)
        idle = (page.evaluate("performance.now()") - clicked) / 1000
        at_stop = update_of(caption(page))
        time.sleep(1.5)
        after = update_of(caption(page))
        last = redraws(seen(page))[-1]
    finally:
        ctx.close()
    return {"last_redraw_after_click_s": (last[0] - clicked) / 1000, "idle_after_click_s": idle,
            "stopped_at_update": at_stop, "still_stopped_1_5_s_later": after == at_stop}


# ---------------------------------------------------------------------------------------------
def median_of(rows: list[dict]) -> dict:
    keys = [k for k, v in rows[0].items() if isinstance(v, (int, float)) and not isinstance(v, bool)]
    out = {k: statistics.median(r[k] for r in rows) for k in keys}
    out.update({k: all(r[k] for r in rows) for k, v in rows[0].items() if isinstance(v, bool)})
    out["runs"] = len(rows)
    return out


def measure(runs: int, updates: int, lengths, window: float) -> dict:
    from playwright.sync_api import sync_playwright

    proc, url = start_server()
    result = {"cpus": os.cpu_count(), "load_average_before": os.getloadavg()[0]}
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                        args=["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"])
            meter = Meter(proc.pid)
            warm, page = fresh_page(browser, url)  # first visit: imports, caches, Chromium warm-up
            wait_for_app(page)
            warm.close()
            result["default_run"] = default_run(browser, url)  # once: the registry then shares it
            result["speed"] = [speed(browser, url, meter, updates, rep) for rep in range(runs)]
            result["five_seeds"] = [five_seeds(browser, url, meter, rep) for rep in range(runs)]
            result["cpu_per_redraw"] = [cpu_per_redraw(browser, url, meter, lengths, window, rep)
                                        for rep in range(max(1, runs - 1))]
            result["stop"] = [stop_latency(browser, url, rep) for rep in range(runs)]
            browser.close()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    result["load_average_after"] = os.getloadavg()[0]
    result["summary"] = {
        "default_run": result["default_run"],
        "speed": median_of(result["speed"]),
        "five_seeds": median_of(result["five_seeds"]),
        "cpu_per_redraw": [median_of([run[i] for run in result["cpu_per_redraw"]]) for i in range(len(lengths))],
        "stop": median_of(result["stop"]),
    }
    return result


def print_table(result: dict) -> None:
    s = result["summary"]
    sp, five, stop = s["speed"], s["five_seeds"], s["stop"]
    print(f"Live training page vs headless pg ({sp['runs']} run(s) each, medians; {result['cpus']} CPUs, "
          f"load average {result['load_average_before']:.1f} -> {result['load_average_after']:.1f})")
    d = s["default_run"]
    print(f"0. the default run at the default speed: solved at update {d['solved_at']}, "
          f"{d['redraws_before_banner']} redraws before the banner in {d['replay_s']:.1f} s "
          f"({d['redraws_per_s']:.1f}/s; target >= 20 at >= 4/s), computed in {d['computed_s']:.2f} s")
    print(f"1. one seed, {int(sp['updates'])} updates (linear, 16 episodes/update, evaluated every update)")
    print(f"   headless {sp['headless_s']:.2f} s | page {sp['page_s']:.2f} s (training {sp['page_training_s']:.2f} s) | "
          f"ratio {sp['ratio']:.2f} (target >= {RATIO_TARGET}) | {sp['redraws_per_s']:.1f} redraws/s "
          f"(target >= {REDRAW_TARGET:.0f}) | CPU server {sp['server_cpu_s']:.1f} s, chromium {sp['chromium_cpu_s']:.1f} s")
    print('2. five seeds, "the seed blog post" until all solved')
    print(f"   headless 5 in sequence {five['headless_5_in_sequence_s']:.2f} s | page 5 side by side "
          f"{five['page_5_side_by_side_s']:.2f} s | ratio {five['ratio']:.2f} | {five['redraws_per_s']:.1f} redraws/s")
    print("3. server CPU per redraw (human pace, 20-step episodes) by history length")
    print(f"   {'updates':>8} {'redraws':>8} {'redraws/s':>10} {'server ms/redraw':>17} {'chromium ms/redraw':>19}")
    for row in s["cpu_per_redraw"]:
        print(f"   {int(row['history']):>8} {int(row['redraws']):>8} {row['redraws_per_s']:>10.1f} "
              f"{row['server_ms_per_redraw']:>17.1f} {row['chromium_ms_per_redraw']:>19.1f}")
    print(f"4. Stop: last redraw {stop['last_redraw_after_click_s']:.2f} s after the click, page idle after "
          f"{stop['idle_after_click_s']:.2f} s; no update in the next 1.5 s: "
          f"{'yes' if stop['still_stopped_1_5_s_later'] else 'NO'}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="repetitions of each measurement (medians)")
    parser.add_argument("--updates", type=int, default=150, help="updates of the one-seed speed run")
    parser.add_argument("--quick", action="store_true", help="one run each, shorter runs (about a minute)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args()
    if args.quick:
        result = measure(1, min(args.updates, 80), (100, 1000, 3000), 2.0)
    else:
        result = measure(args.runs, args.updates, (100, 1000, 3000, 10_000), 3.0)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print_table(result)
    s = result["summary"]
    ok = s["stop"]["still_stopped_1_5_s_later"]
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
