"""Load: many concurrent browser sessions against one ``streamlit run`` server (loopback only).

One Chromium, one browser context per session (a context is a Streamlit session of its own),
driven by Playwright's async API from one event loop (asyncio.gather).

Phase 1, isolation: N sessions open Home, go to Live training by the sidebar link, each set
its own seed (0..N-1), press Start together, wait for the "Solved at update" banner, then go to
Replay and wait until both videos can play (readyState >= 2, duration > 0). Every banner,
progress caption and Replay metric is checked against the same run computed here without
Streamlit (pg.train with TrainConfig(seed=s)), so a session that showed another's run, or a
wrong number, fails. Reports Start -> banner for the first, median and last session, and the
server's RSS (VmRSS, sampled every 0.2 s): baseline after a warm-up session, peak, and after
every context has closed and Streamlit has dropped the sessions. ``--rounds 2`` repeats the
phase with new seeds on the same server: memory that grows again is a per-session leak, a
plateau is bounded caches and the allocator keeping freed memory.

Phase 2, the crowd: M sessions on a fresh server open /train on the default settings and press
Start together. Counts the runs the server computed (its ``[pg] computing a new run``
messages) and checks that all M banners are identical, wall time included: one computation.

    python benchmarks/bench_load.py [--sessions 20] [--crowd 50] [--rounds 1] [--quick] [--json]

Bounded in time: 600 s, or 180 s with ``--quick`` (4 sessions and a crowd of 8; what
benchmarks/run.py passes). Every wait is cut by the budget. On a machine too small for all
the sessions, no session starts opening after a share of the time (see open_all): the phase
goes on with those that opened and the report says REDUCED. Each looping video is paused once
it has a frame (``--play-videos`` to keep them playing): the browser shares the CPUs with the
server, and 40 playing videos would starve it. Disconnected sessions are kept by Streamlit for
``server.disconnectedSessionTTL`` (120 s by default); the servers here get ``--ttl`` (3 s)
through STREAMLIT_SERVER_DISCONNECTED_SESSION_TTL, and since Streamlit drops expired sessions
only when its session store is next written, a probe session opens and closes before the
"after" reading. Exit status 0 only if every measured session was correct and finished.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import signal
import statistics
import sys
import threading
import time
from pathlib import Path
from urllib.request import urlopen

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "browser"))

from conftest import CHROMIUM, start_server  # noqa: E402

from pg.algo.reinforce import TrainConfig, initial_policy, train  # noqa: E402
from pg.app.presets import config_from_form, form_values  # noqa: E402
from pg.viz.episode import run_episode  # noqa: E402

WARM_UP_SEED = 10_000  # phase 1's warm-up session: a seed no measured session uses
NEW_RUN = "[pg] computing a new run"
BROWSER_ARGS = ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--autoplay-policy=no-user-gesture-required", "--disable-background-networking",
                "--disable-component-update", "--no-first-run", "--disable-background-timer-throttling",
                "--disable-renderer-backgrounding", "--disable-backgrounding-occluded-windows"]
NAV = '[data-testid="stSidebarNav"]'
VIEWPORT = {"width": 1366, "height": 860}
APP_DONE = """() => !document.querySelector('[data-testid="stStatusWidget"]')
    && !document.querySelector('[data-testid="stAppSkeleton"]')
    && document.querySelector('[data-testid="stMain"]')"""
VIDEOS_READY = """() => { const v = document.querySelectorAll('[data-testid="stMain"] video');
    return v.length === 2 && Array.from(v).every(x => x.readyState >= 2 && x.duration > 0)
        && document.querySelectorAll('[data-testid="stMain"] [data-testid="stMetric"]').length === 2; }"""
# A looping autoplayed video costs the browser a core's share per page (Home has one, Replay two):
# 20 pages of them starve everything on 2 CPUs, the server included. Each video is paused once it
# has a frame to show (readyState >= 2), unless --play-videos. The server does the same work.
PAUSE_VIDEOS = """document.addEventListener('loadeddata', e => {
    if (e.target instanceof HTMLMediaElement) e.target.pause(); }, true);
document.addEventListener('playing', e => {
    if (e.target instanceof HTMLMediaElement && e.target.readyState >= 2) e.target.pause(); }, true);"""
PLAY_VIDEOS = False
SERVERS: set = set()  # running servers, for the last-resort kill
DEADLINE = None  # the run's Deadline (guarded() tells a timeout of the budget from a failure)
OPEN_PARALLEL = 4  # sessions opening at once (Chromium's page loads, not the server, are the limit)
ISOLATION_SHARE = 0.5  # of the budget, for phase 1 when a crowd follows
OPEN_SHARE = 0.5  # of a round's time: no session starts opening after that (see open_all)
CROWD_OPEN_SHARE = 0.7  # of the time left for the crowd (it has no Replay or memory settling)
BANNER = re.compile(r"Solved at update (\d+): greedy mean return ([\d.]+) over (\d+) episodes ≥ ([\d.]+), "
                    r"confirmed at [\d.]+ on \d+ fresh episodes, "
                    r"after ([\d.]+) s of training, ([\d,]+) episodes and ([\d,]+) env steps\.")


T_START = time.monotonic()
VERBOSE = False


def log(message: str) -> None:
    """Progress on stderr (with --verbose)."""
    if VERBOSE:
        print(f"[{time.monotonic() - T_START:6.1f} s] {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------
# What every session must show, computed here without Streamlit
# ---------------------------------------------------------------------------------------------
def expected(seed: int) -> dict:
    """The page's run for ``seed`` (the default preset = TrainConfig()), up to the update that
    solves: the banner and caption texts with the wall time left as {wall}, and the lengths of
    the Replay page's two greedy episodes (episode seed 0)."""
    cfg = TrainConfig(seed=seed)
    assert config_from_form({**form_values(TrainConfig()), "seed": seed}) == cfg, "the page's config differs"
    untrained, episodes, solved = initial_policy(cfg), 0, None
    for update in train(cfg):
        episodes += len(update.episode_returns)
        if update.solved:
            solved = update
            break
    if solved is None:
        raise RuntimeError(f"seed {seed} does not solve within the default budget; pick another seed")
    return {
        "seed": seed,
        "iteration": solved.iteration,
        "banner": (f"Solved at update {solved.iteration}: greedy mean return {solved.eval_return:.1f} over "
                   f"{cfg.eval_episodes} episodes ≥ {cfg.solve_return:g}, confirmed at {solved.confirm_return:.1f} "
                   f"on {cfg.eval_episodes} fresh episodes, after {{wall}} s of training, "
                   f"{episodes:,} episodes and {solved.env_steps:,} env steps."),
        "caption": f"update {solved.iteration} · {solved.env_steps:,} env steps · {{wall}} s of training",
        "untrained_steps": run_episode(untrained, seed=0, greedy=False).length,  # Replay samples it
        "trained_steps": run_episode(solved.policy, seed=0).length,
    }


def check_session(result: dict, want: dict) -> list[str]:
    """What in a session's readings differs from its own seed's run (empty: all correct)."""
    problems = []
    match = BANNER.fullmatch(result.get("banner") or "")
    if not match:
        return [f"no solved banner: {result.get('banner') or result.get('error')!r}"]
    wall = match.group(5)
    if result["banner"] != want["banner"].format(wall=wall):
        problems.append(f"banner {result['banner']!r} != {want['banner'].format(wall=wall)!r}")
    caption = want["caption"].format(wall=wall)  # (at human pace the caption goes on: computed in ...)
    if not any(c == caption or c.startswith(caption + " · ") for c in result.get("captions", [])):
        problems.append(f"caption {want['caption'].format(wall=wall)!r} not in {result.get('captions')}")
    if "metrics" in result:
        expect = [f"Untrained · update 0 · sampled\n\n{want['untrained_steps']} steps",
                  f"Trained · update {want['iteration']} · greedy\n\n{want['trained_steps']} steps"]
        got = result["metrics"]
        if len(got) != 2 or not all(g.startswith(e) for g, e in zip(got, expect)):
            problems.append(f"replay metrics {got!r}, expected to start with {expect!r}")
        if "Showing your training run." not in result.get("replay_captions", []):
            problems.append(f"replay does not show the session's run: {result.get('replay_captions')}")
    return problems


# ---------------------------------------------------------------------------------------------
# The server: stdout read in a thread, memory sampled in another
# ---------------------------------------------------------------------------------------------
class Server:
    def __init__(self, ttl: int, settle: float):
        self.ttl, self.settle = ttl, settle
        self.baseline_media = 0  # bytes of media files held with no session open (the probe's)
        self.proc, self.url = start_server({"STREAMLIT_SERVER_DISCONNECTED_SESSION_TTL": str(ttl)})
        SERVERS.add(self)
        self.started = time.monotonic()
        self.lines: list[tuple[float, str]] = []
        self.samples: list[tuple[float, int]] = []  # (monotonic time, VmRSS in KiB)
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._read, daemon=True),
                         threading.Thread(target=self._sample, daemon=True)]
        for thread in self._threads:
            thread.start()

    def _read(self):
        for line in self.proc.stdout:  # ends when the server exits
            self.lines.append((time.monotonic(), line.rstrip("\n")))

    def status_kib(self, field: str) -> int | None:
        try:
            with open(f"/proc/{self.proc.pid}/status") as f:
                for line in f:
                    if line.startswith(field + ":"):
                        return int(line.split()[1])
        except OSError:
            return None
        return None

    def _sample(self):
        while not self._stop.is_set():
            rss = self.status_kib("VmRSS")
            if rss is not None:
                self.samples.append((time.monotonic(), rss))
            self._stop.wait(0.2)

    def cpu_s(self) -> float:
        """User + system CPU seconds the server has used so far (all its threads)."""
        try:
            with open(f"/proc/{self.proc.pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, IndexError, ValueError):
            return float("nan")

    def rss_mb(self, start: float, end: float | None = None, how=max) -> float:
        end = time.monotonic() if end is None else end
        values = [kib for t, kib in self.samples if start <= t <= end]
        return how(values) / 1024 if values else float("nan")

    async def settled_rss_mb(self, seconds: float = 1.0) -> float:
        """Median RSS over the next ``seconds``."""
        start = time.monotonic()
        await asyncio.sleep(seconds)
        return self.rss_mb(start, how=statistics.median)

    def new_runs(self, since: float = 0.0) -> list[str]:
        """The server's "computing a new run" messages. Counted by occurrence, not by line:
        two sessions printing at the same moment can share a line."""
        return [NEW_RUN + rest for t, line in self.lines if t >= since
                for rest in re.findall(re.escape(NEW_RUN) + r"(: seed \d+, \d+ seed\(s\))", line)]

    def metrics(self) -> dict:
        """Streamlit's /_stcore/metrics: live sessions, and the bytes held per cache type
        (session state, st.cache_data, st.cache_resource, media files ...). Streamlit computes
        the cache figures at most every 5 s, so they may lag by that much."""
        try:
            text = urlopen(self.url + "/_stcore/metrics", timeout=10).read().decode()
        except OSError as error:
            return {"error": str(error)}
        out: dict = {"cache_bytes": {}}
        for line in text.splitlines():
            if line.startswith("active_sessions"):
                out["active_sessions"] = int(float(line.split()[-1]))
            elif line.startswith("cache_memory_bytes{"):
                kind = re.search(r'cache_type="([^"]*)"', line)
                kind = kind.group(1) if kind else "?"
                out["cache_bytes"][kind] = out["cache_bytes"].get(kind, 0) + int(float(line.split()[-1]))
        return out

    def stop(self):
        self._stop.set()
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except Exception:  # noqa: BLE001 -- never leave it behind
                self.proc.kill()
                self.proc.wait(timeout=10)
        for thread in self._threads:
            thread.join(timeout=5)
        SERVERS.discard(self)


# ---------------------------------------------------------------------------------------------
# One browser session
# ---------------------------------------------------------------------------------------------
class Deadline:
    def __init__(self, seconds: float):
        self.end = time.monotonic() + seconds

    def left(self) -> float:
        return self.end - time.monotonic()

    async def sleep(self, seconds: float):
        """asyncio.sleep, cut short by the deadline."""
        await asyncio.sleep(max(0.0, min(seconds, self.left())))

    def ms(self, cap: float = 120.0) -> float:
        """Playwright timeout: what is left of the budget, at most ``cap`` seconds."""
        return max(1.0, min(cap, self.end - time.monotonic())) * 1000


async def wait_app(page, deadline: Deadline):
    await page.wait_for_selector('[data-testid="stApp"]', timeout=deadline.ms())
    await page.wait_for_function(APP_DONE, timeout=deadline.ms())


async def rerun_done(page, deadline: Deadline):
    """After an input that reruns the script: let the rerun start (the status widget shows
    up only for runs that take a moment), then wait for it to finish."""
    try:
        await page.wait_for_selector('[data-testid="stStatusWidget"]', timeout=1500)
    except Exception:  # noqa: BLE001 -- a fast rerun may come and go unseen
        pass
    await wait_app(page, deadline)


async def new_context(browser):
    ctx = await browser.new_context(viewport=VIEWPORT)
    if not PLAY_VIDEOS:
        await ctx.add_init_script(PAUSE_VIDEOS)
    return ctx


class Session:
    def __init__(self, browser, index: int, seed: int | None):
        self.browser, self.index, self.seed = browser, index, seed
        self.result: dict = {"session": index, "seed": seed}
        self.ctx = self.page = None

    async def open_train(self, url: str, deadline: Deadline, deep_link: bool = False):
        """Home, then Live training by its sidebar link (or straight to its URL), then this
        session's seed."""
        self.ctx = await new_context(self.browser)
        page = self.page = await self.ctx.new_page()
        self.result["page_errors"] = []
        page.on("pageerror", lambda error: self.result["page_errors"].append(str(error)))
        await page.goto(url + ("/train" if deep_link else ""), timeout=deadline.ms())
        await wait_app(page, deadline)
        if not deep_link:
            await page.locator(NAV).get_by_role("link", name="Live training").click(timeout=deadline.ms())
        await page.get_by_role("heading", name="Live training").wait_for(timeout=deadline.ms())
        await wait_app(page, deadline)
        if self.seed is not None:
            box = page.get_by_label("Seed", exact=True)
            await box.fill(str(self.seed), timeout=deadline.ms())
            await box.press("Enter", timeout=deadline.ms())
            await rerun_done(page, deadline)
            value = await box.input_value(timeout=deadline.ms())
            if value != str(self.seed):
                raise RuntimeError(f"the Seed box shows {value!r}, not {self.seed}")
        await self.start_button().wait_for(timeout=deadline.ms())

    def start_button(self):
        return self.page.locator('[data-testid="stMain"]').get_by_role("button", name="Start")

    async def train(self, t0: float, deadline: Deadline):
        """Press Start; time it to the banner; read the banner and the captions."""
        page = self.page
        clicked = time.monotonic()
        self.result["click_at"] = clicked - t0
        await self.start_button().click(timeout=deadline.ms())
        self.result["clicked_at"] = time.monotonic() - t0
        banner = page.locator('[data-testid="stMain"] [data-testid="stAlert"]').filter(has_text="Solved at update")
        await banner.wait_for(timeout=deadline.ms(300))
        self.result["solved_s"] = time.monotonic() - clicked
        self.result["solved_at"] = time.monotonic() - t0
        await wait_app(page, deadline)  # the run ends with a full rerun (buttons, downloads)
        self.result["banner"] = (await banner.first.inner_text(timeout=deadline.ms())).strip()
        self.result["captions"] = [c.strip() for c in await page.locator(
            '[data-testid="stMain"] [data-testid="stCaptionContainer"]').all_inner_texts()]

    async def replay(self, deadline: Deadline):
        """Replay by its sidebar link; wait until both videos can play; read the metrics."""
        page, start = self.page, time.monotonic()
        await page.locator(NAV).get_by_role("link", name="Replay").click(timeout=deadline.ms())
        await page.get_by_role("heading", name="Replay").wait_for(timeout=deadline.ms())
        await wait_app(page, deadline)
        await page.wait_for_function(VIDEOS_READY, timeout=deadline.ms(300))
        self.result["replay_s"] = time.monotonic() - start
        main = page.locator('[data-testid="stMain"]')
        self.result["metrics"] = [m.strip() for m in await main.locator('[data-testid="stMetric"]').all_inner_texts()]
        if len(self.result["metrics"]) != 2:  # what the page showed instead, for the report
            self.result["page_text"] = (await main.inner_text())[:2000]
        self.result["replay_captions"] = [c.strip() for c in await main.locator(
            '[data-testid="stCaptionContainer"]').all_inner_texts()]

    async def close(self):
        if self.ctx is not None:
            try:
                await self.ctx.close()
            except Exception:  # noqa: BLE001 -- the browser may be gone already
                pass
            self.ctx = None


async def guarded(session: Session, step, *args):
    """Run one session step; a failure is recorded on the session, not raised."""
    if "error" in session.result:
        return
    try:
        await step(*args)
    except Exception as error:  # noqa: BLE001
        session.result["error"] = f"{type(error).__name__}: {str(error).splitlines()[0]}"
        if DEADLINE is not None and DEADLINE.left() < 1.0:
            session.result["unfinished"] = True  # stopped by the time budget, not by the app


NOT_OPENED = "not opened: the time for opening sessions ran out"


async def open_all(sessions: list[Session], url: str, deadline: Deadline, cutoff: float,
                   deep_link: bool = False) -> list[Session]:
    """Every session to Live training, at most OPEN_PARALLEL opening at the same time. No
    session starts opening after ``cutoff`` (monotonic time): on a machine too small for them
    all, the phase goes on with those that opened. Returns the sessions ready to press Start."""
    gate = asyncio.Semaphore(OPEN_PARALLEL)

    async def one(session):
        async with gate:
            if time.monotonic() > cutoff:
                session.result["error"] = NOT_OPENED
                return
            await guarded(session, session.open_train, url, deadline, deep_link)

    await asyncio.gather(*(one(s) for s in sessions))
    return [s for s in sessions if "error" not in s.result]


async def probe(browser, url: str, deadline: Deadline):
    """Open Home in a new session and close it. Streamlit reaps expired disconnected sessions
    only when its session store is written to, which the probe's own disconnect does."""
    session = Session(browser, -1, None)
    try:
        session.ctx = await new_context(browser)
        session.page = await session.ctx.new_page()
        await session.page.goto(url, timeout=deadline.ms())
        await wait_app(session.page, deadline)
    finally:
        await session.close()


async def memory_after_close(server: Server, browser, deadline: Deadline) -> dict:
    """RSS ``server.settle`` s after the last context closed, then after a probe session made
    Streamlit drop the expired disconnected sessions."""
    await deadline.sleep(max(server.settle, server.ttl + 1.0))
    out = {"after_close_mb": await server.settled_rss_mb(),
           "after_close_metrics": await asyncio.to_thread(server.metrics)}
    # dropped sessions release their media files: wait for that (the probe's own disconnect may
    # take a moment to reach a loaded server), up to 15 s
    media, limit = "st_memory_media_file_storage", server.baseline_media + 2**20
    if deadline.left() > 5:
        await probe(browser, server.url, deadline)
        for _ in range(15):
            await deadline.sleep(1.0)
            held = (await asyncio.to_thread(server.metrics)).get("cache_bytes", {}).get(media, 0)
            if held <= limit or deadline.left() < 3:
                break
    out["after_reap_mb"] = await server.settled_rss_mb()
    out["after_reap_metrics"] = await asyncio.to_thread(server.metrics)
    out["sessions_dropped"] = out["after_reap_metrics"].get("cache_bytes", {}).get(media, 0) <= limit
    return out


# ---------------------------------------------------------------------------------------------
# The phases
# ---------------------------------------------------------------------------------------------
async def isolation_round(browser, server: Server, seeds: list[int], wants: dict, deadline: Deadline,
                          open_cutoff: float) -> dict:
    """One round: len(seeds) sessions, one seed each, Start together, then Replay, then close."""
    report: dict = {"seeds": f"{seeds[0]}..{seeds[-1]}", "sessions": len(seeds)}
    phase_start = time.monotonic()
    runs_before = len(server.new_runs())
    sessions = [Session(browser, i, seed) for i, seed in enumerate(seeds)]
    try:
        t = time.monotonic()
        ready = await open_all(sessions, server.url, deadline, open_cutoff)
        report["open_all_s"] = time.monotonic() - t
        report["opened"] = len(ready)
        report["metrics_all_open"] = await asyncio.to_thread(server.metrics)
        log(f"  {len(ready)} of {len(sessions)} sessions on Live training after {report['open_all_s']:.1f} s; Start")
        t0 = time.monotonic()  # everyone presses Start now
        await asyncio.gather(*(guarded(s, s.train, t0, deadline) for s in ready))
        report["all_solved_s"] = time.monotonic() - t0
        clicks = [s.result["clicked_at"] for s in sessions if "clicked_at" in s.result]
        report["start_spread_s"] = max(clicks) - min(clicks) if clicks else None
        log(f"  all solved after {report['all_solved_s']:.1f} s; Replay")
        t = time.monotonic()
        await asyncio.gather(*(guarded(s, s.replay, deadline) for s in sessions))
        report["all_replays_s"] = time.monotonic() - t
        report["peak_mb"] = server.rss_mb(phase_start)
        report["log_new_runs"] = len(server.new_runs()) - runs_before
        report["new_run_lines"] = server.new_runs()[runs_before:]
        report["pg_log_lines"] = [line for _, line in server.lines if "[pg]" in line]
    finally:
        t = time.monotonic()
        await asyncio.gather(*(s.close() for s in sessions))
        report["close_all_s"] = time.monotonic() - t
        log("  closed; waiting for Streamlit to drop the sessions")
    report |= await memory_after_close(server, browser, deadline)

    results = [s.result for s in sessions if s.result.get("error") != NOT_OPENED]
    for r in results:
        r["problems"] = check_session(r, wants[r["seed"]])
        r["correct"] = not r["problems"] and "error" not in r
    solved = sorted(r["solved_s"] for r in results if "solved_s" in r)
    replays = [r["replay_s"] for r in results if "replay_s" in r]
    report |= {
        "results": results,
        "measured": len(results),
        "correct_count": sum(r["correct"] for r in results),
        "unfinished": sum(bool(r.get("unfinished")) for r in results),
        "solved_count": len(solved),
        "first_solved_s": solved[0] if solved else None,
        "median_solved_s": statistics.median(solved) if solved else None,
        "last_solved_s": solved[-1] if solved else None,
        "median_replay_s": statistics.median(replays) if replays else None,
        "page_errors": sum(len(r.get("page_errors", [])) for r in results),
    }
    return report


async def phase_isolation(report: dict, browser, n: int, rounds: int, ttl: int, settle: float,
                          deadline: Deadline, phase_end: float) -> dict:
    seeds = list(range(n * rounds))
    wants = {s: expected(s) for s in [*seeds, WARM_UP_SEED]}
    distinct = len({(w["banner"], w["untrained_steps"]) for w in wants.values()}) == len(wants)
    server = Server(ttl, settle)
    report |= {"sessions": n, "rounds": rounds, "disconnected_session_ttl_s": ttl, "settle_s": settle,
               "expected_results_distinct": distinct, "rounds_detail": [], "all_correct": False}
    log(f"phase 1: server up, {n} x {rounds} sessions")
    try:
        report["start_mb"] = await server.settled_rss_mb(0.5)
        # warm-up: imports, chart specs, the renderer, and st.navigation's first run
        warm = Session(browser, 0, WARM_UP_SEED)
        await guarded(warm, warm.open_train, server.url, deadline)
        await guarded(warm, warm.train, time.monotonic(), deadline)
        await guarded(warm, warm.replay, deadline)
        await warm.close()
        problems = check_session(warm.result, wants[WARM_UP_SEED])
        report["warm_up"] = {"ok": not problems and "error" not in warm.result, "problems": problems,
                             **{k: warm.result.get(k) for k in ("solved_s", "replay_s", "error")}}
        await deadline.sleep(ttl + 1.0)
        await probe(browser, server.url, deadline)
        await deadline.sleep(2.0)
        report["baseline_mb"] = await server.settled_rss_mb()
        report["baseline_metrics"] = await asyncio.to_thread(server.metrics)
        server.baseline_media = report["baseline_metrics"].get("cache_bytes", {}).get("st_memory_media_file_storage", 0)
        for k in range(rounds):
            log(f"phase 1: baseline {report['baseline_mb']:.0f} MB; round {k + 1}")
            cpu, now = server.cpu_s(), time.monotonic()
            cutoff = now + OPEN_SHARE * (phase_end - now) / (rounds - k)
            one = await isolation_round(browser, server, seeds[k * n:(k + 1) * n], wants, deadline, cutoff)
            one["server_cpu_s"] = server.cpu_s() - cpu
            so_far = sum(r["measured"] for r in report["rounds_detail"]) + one["measured"]
            for key in ("after_close_mb", "after_reap_mb"):
                one[key.replace("_mb", "_minus_baseline_mb")] = one[key] - report["baseline_mb"]
                one[key.replace("_mb", "_per_session_kb")] = 1024 * (one[key] - report["baseline_mb"]) / max(1, so_far)
            report["rounds_detail"].append(one)
        report["vm_hwm_mb"] = (server.status_kib("VmHWM") or 0) / 1024
    finally:
        server.stop()
        report["server_log_tail"] = [line for _, line in server.lines[-15:]]
    rounds_done = report["rounds_detail"]
    report["all_correct"] = bool(rounds_done) and distinct and report["warm_up"]["ok"] and all(
        r["measured"] and r["correct_count"] == r["measured"] for r in rounds_done) and len(rounds_done) == rounds
    report["reduced"] = any(r["measured"] < n for r in rounds_done)
    report["peak_mb"] = max(r["peak_mb"] for r in rounds_done) if rounds_done else None
    return report


async def phase_crowd(report: dict, browser, m: int, ttl: int, deadline: Deadline) -> dict:
    want = expected(TrainConfig().seed)
    server = Server(ttl, 0.0)
    report |= {"sessions": m, "seed": TrainConfig().seed, "ok": False}
    log(f"phase 2: server up, {m} sessions")
    sessions: list[Session] = []
    try:
        report["start_mb"] = await server.settled_rss_mb(0.5)
        sessions = [Session(browser, i, None) for i in range(m)]  # the default settings
        t = time.monotonic()
        # straight to /train: Home's video and equation, times M, would only slow the browser down
        cutoff = t + CROWD_OPEN_SHARE * (deadline.end - t)
        ready = await open_all(sessions, server.url, deadline, cutoff, deep_link=True)
        report["open_all_s"] = time.monotonic() - t
        report["opened"] = len(ready)
        log(f"  {len(ready)} of {m} sessions on Live training after {report['open_all_s']:.1f} s; Start")
        report["before_start_mb"] = await server.settled_rss_mb(0.5)
        runs_before, cpu = len(server.new_runs()), server.cpu_s()
        t0 = time.monotonic()
        await asyncio.gather(*(guarded(s, s.train, t0, deadline) for s in ready))
        report["all_solved_s"] = time.monotonic() - t0
        report["server_cpu_s"] = server.cpu_s() - cpu
        report["peak_mb"] = server.rss_mb(server.started)
        clicks = [s.result["clicked_at"] for s in sessions if "clicked_at" in s.result]
        report["start_spread_s"] = max(clicks) - min(clicks) if clicks else None
        await asyncio.sleep(0.5)
        report["new_run_lines"] = server.new_runs(0.0)
        report["log_new_runs"] = len(server.new_runs()) - runs_before
        await asyncio.gather(*(s.close() for s in sessions))
    finally:
        server.stop()
    results = [s.result for s in sessions if s.result.get("error") != NOT_OPENED]
    for r in results:
        r["problems"] = check_session(r, want)
        r["correct"] = not r["problems"] and "error" not in r
    banners = {r.get("banner") for r in results}
    solved = sorted(r["solved_s"] for r in results if "solved_s" in r)
    # A banner names its run's training wall time (to 0.01 s): two computations of the same
    # settings show the same numbers but not the same time. Distinct banners = runs computed.
    report["runs_computed"] = len({r["banner"] for r in results if BANNER.fullmatch(r.get("banner") or "")})
    report |= {
        "results": results,
        "measured": len(results),
        "solved_count": len(solved),
        "correct_count": sum(r["correct"] for r in results),
        "unfinished": sum(bool(r.get("unfinished")) for r in results),
        "all_banners_identical": len(banners) == 1 and None not in banners,
        "distinct_banners": sorted(b or "(none)" for b in banners),
        "first_solved_s": solved[0] if solved else None,
        "median_solved_s": statistics.median(solved) if solved else None,
        "last_solved_s": solved[-1] if solved else None,
        "page_errors": sum(len(r.get("page_errors", [])) for r in results),
        "server_log_tail": [line for _, line in server.lines[-15:]],
    }
    report["ok"] = (report["all_banners_identical"] and 0 < report["correct_count"] == len(results)
                    and report["runs_computed"] == 1)
    report["reduced"] = len(results) < m
    return report


async def run(args, report: dict) -> dict:
    from playwright.async_api import async_playwright

    global DEADLINE
    deadline = DEADLINE = Deadline(args.budget)
    started = time.monotonic()
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, headless=True, args=BROWSER_ARGS)
        try:
            if args.sessions:
                share = ISOLATION_SHARE if args.crowd else 1.0
                await phase_isolation(report.setdefault("isolation", {}), browser, args.sessions, args.rounds,
                                      args.ttl, args.settle, deadline, started + share * args.budget)
            if args.crowd:
                await phase_crowd(report.setdefault("crowd", {}), browser, args.crowd, args.ttl, deadline)
        finally:
            await browser.close()
    report["wall_s"] = time.monotonic() - started
    return report


# ---------------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------------
def fmt(value, spec=".2f", unit=""):
    return "-" if value is None else f"{value:{spec}}{unit}"


def metrics_text(m: dict) -> str:
    if "error" in m:
        return m["error"]
    caches = ", ".join(f"{k} {v / 2**20:.1f} MB" for k, v in sorted(m.get("cache_bytes", {}).items()))
    return f"active sessions {m.get('active_sessions', '-')}; {caches}"


def print_report(report: dict) -> None:
    iso, crowd = report.get("isolation"), report.get("crowd")
    load = " / ".join(f"{a:.1f}" for a in report.get("loadavg_before", ())[:1] + report.get("loadavg_after", ())[:1])
    print(f"Load test: {report['cpus']} CPUs, one Chromium, one browser context (= one Streamlit session) per "
          f"session; wall {report['wall_s']:.0f} s of a {report['budget_s']:.0f} s budget"
          f"{' (TIMED OUT: partial)' if report.get('timed_out') else ''}; 1-min load average before / after {load}")
    if iso:
        n = iso.get("sessions")
        print(f"\nPhase 1, isolation: {n} sessions per round, one seed each, Start pressed together, then Replay; "
              f"{iso.get('rounds')} round(s) on one server (server.disconnectedSessionTTL "
              f"{iso.get('disconnected_session_ttl_s')} s)")
        row = "  {:<44}" + "{:>14}" * max(1, len(iso.get("rounds_detail", [])))
        rounds = iso.get("rounds_detail", [])
        print(row.format("", *[f"round {k}" for k in range(1, len(rounds) + 1)]))
        lines = [
            ("seeds", lambda r: r.get("seeds")),
            ("sessions opened and measured", lambda r: f"{r.get('measured')}/{r.get('sessions')}"),
            ("open + Live training + seed, all (s)", lambda r: fmt(r.get("open_all_s"), ".1f")),
            ("Start clicks spread over (s)", lambda r: fmt(r.get("start_spread_s"), ".2f")),
            ("Start -> 'Solved' banner, 1st session (s)", lambda r: fmt(r.get("first_solved_s"), ".2f")),
            ("  median (s)", lambda r: fmt(r.get("median_solved_s"), ".2f")),
            ("  last session (s)", lambda r: fmt(r.get("last_solved_s"), ".2f")),
            ("Replay, both videos playable, median (s)", lambda r: fmt(r.get("median_replay_s"), ".2f")),
            ("  all sessions (s)", lambda r: fmt(r.get("all_replays_s"), ".1f")),
            ("correct: own seed's banner, caption, replay", lambda r: f"{r.get('correct_count')}/{r.get('measured')}"),
            ("  unfinished at the time limit", lambda r: r.get("unfinished")),
            ("runs computed (server log)", lambda r: r.get("log_new_runs")),
            ("page errors", lambda r: r.get("page_errors")),
            ("server CPU (s)", lambda r: fmt(r.get("server_cpu_s"), ".1f")),
            ("server RSS peak (MB)", lambda r: fmt(r.get("peak_mb"), ".0f")),
            (f"RSS {iso.get('settle_s', 0):.0f} s after all closed (MB)",
             lambda r: fmt(r.get("after_close_mb"), ".0f")),
            ("RSS after Streamlit dropped them (MB)", lambda r: fmt(r.get("after_reap_mb"), ".0f")
             + ("" if r.get("sessions_dropped", True) else " (not yet)")),
            ("  minus baseline (MB)", lambda r: fmt(r.get("after_reap_minus_baseline_mb"), "+.1f")),
            ("  per session so far (KB)", lambda r: fmt(r.get("after_reap_per_session_kb"), "+.0f")),
        ]
        for label, get in lines:
            print(row.format(label, *[str(get(r)) for r in rounds]))
        print(f"  server RSS: at start {fmt(iso.get('start_mb'), '.0f')} MB, baseline (after a warm-up session, "
              f"closed) {fmt(iso.get('baseline_mb'), '.0f')} MB, peak {fmt(iso.get('peak_mb'), '.0f')} MB "
              f"(kernel VmHWM {fmt(iso.get('vm_hwm_mb'), '.0f')} MB)")
        print(f"  /_stcore/metrics, baseline          : {metrics_text(iso.get('baseline_metrics') or {})}")
        for k, r in enumerate(rounds, 1):
            for label, key in (("all open", "metrics_all_open"), ("after close", "after_close_metrics"),
                               ("after reap", "after_reap_metrics")):
                print(f"  /_stcore/metrics, round {k} {label:<11}: {metrics_text(r.get(key) or {})}")
            for bad in [x for x in r.get("results", []) if not x["correct"]][:10]:
                print(f"  ! round {k} session {bad['session']} (seed {bad['seed']}): "
                      f"{bad.get('error') or '; '.join(bad['problems'])}")
        if iso.get("warm_up") and not iso["warm_up"]["ok"]:
            print(f"  ! warm-up session: {iso.get('warm_up')}")
        if iso.get("reduced"):
            print(f"  REDUCED: not all {n} sessions could be opened in the time; the figures are for those measured")
        print(f"  every session correct, none saw another's run: {'yes' if iso.get('all_correct') else 'NO'}")
    if crowd:
        m = crowd.get("sessions")
        print(f"\nPhase 2, the crowd: {m} sessions on the default settings (seed {crowd.get('seed')}), fresh server, "
              f"Start clicks spread over {fmt(crowd.get('start_spread_s'), '.2f', ' s')}")
        if crowd.get("reduced"):
            print(f"  REDUCED: {crowd.get('measured')} of {m} sessions could be opened in the time")
        print(f"  runs actually computed (distinct banners, each names its run's training time): "
              f"{crowd.get('runs_computed')}")
        print(f"  '{NEW_RUN}' messages the server printed: {crowd.get('log_new_runs')}"
              + ("" if crowd.get("log_new_runs") == crowd.get("runs_computed") else
                 " (differs from the runs computed: the registry (pg/app/registry.py) announces each run it "
                 "creates once, under its lock, so a difference means a run was made twice)"))
        print(f"  {crowd.get('opened')} on Live training after {fmt(crowd.get('open_all_s'), '.1f', ' s')}; "
              f"Start -> banner: 1st {fmt(crowd.get('first_solved_s'), '.2f', ' s')}, "
              f"median {fmt(crowd.get('median_solved_s'), '.2f', ' s')}, "
              f"last ({crowd.get('solved_count')}th) {fmt(crowd.get('last_solved_s'), '.2f', ' s')}")
        print(f"  banners identical, wall time included: {'yes' if crowd.get('all_banners_identical') else 'NO'}; "
              f"correct {crowd.get('correct_count')}/{crowd.get('measured')} "
              f"({crowd.get('unfinished')} unfinished at the time limit); page errors {crowd.get('page_errors')}; "
              f"server CPU {fmt(crowd.get('server_cpu_s'), '.1f', ' s')} from Start to the last banner")
        print(f"  server RSS: at start {fmt(crowd.get('start_mb'), '.0f')} MB, {m} sessions open "
              f"{fmt(crowd.get('before_start_mb'), '.0f')} MB, peak {fmt(crowd.get('peak_mb'), '.0f')} MB")
        for r in [r for r in crowd.get("results", []) if not r["correct"]][:10]:
            print(f"  ! session {r.get('session')}: {r.get('error') or '; '.join(r.get('problems'))}")
        if len(crowd.get("distinct_banners", [])) > 1:
            for banner in crowd.get("distinct_banners", [])[:5]:
                print(f"    banner seen: {banner}")


def main() -> int:
    global VERBOSE, PLAY_VIDEOS, OPEN_PARALLEL
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=20, help="phase 1: sessions, one seed each")
    parser.add_argument("--crowd", type=int, default=50, help="phase 2: sessions on the same defaults")
    parser.add_argument("--quick", action="store_true", help="4 sessions, a crowd of 8, 180 s at most")
    parser.add_argument("--rounds", type=int, default=None,
                        help="phase 1 rounds on the same server, new seeds each (default 1); with 2, memory "
                             "that grows again in round 2 is a per-session leak, a plateau is bounded caches "
                             "(run it with --crowd 0 to give both rounds the whole budget)")
    parser.add_argument("--ttl", type=int, default=None,
                        help="server.disconnectedSessionTTL for the servers, seconds "
                             "(3, quick 2; Streamlit's default is 120)")
    parser.add_argument("--settle", type=float, default=None,
                        help="seconds after the last context closed before 'after close' (10, quick 3)")
    parser.add_argument("--budget", type=float, default=None, help="hard time bound in seconds")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--open-parallel", type=int, default=4,
                        help="sessions opening the app at the same time (all then press Start together)")
    parser.add_argument("--play-videos", action="store_true",
                        help="let the browser keep playing the looping videos (by default each is paused "
                             "once it has a frame: on 2 CPUs 20 playing pages starve the server)")
    parser.add_argument("--verbose", action="store_true", help="progress on stderr")
    args = parser.parse_args()
    VERBOSE, PLAY_VIDEOS, OPEN_PARALLEL = args.verbose, args.play_videos, max(1, args.open_parallel)
    if args.quick:
        args.sessions, args.crowd = min(args.sessions, 4), min(args.crowd, 8)
    if args.ttl is None:
        args.ttl = 2 if args.quick else 3
    if args.settle is None:
        args.settle = 3.0 if args.quick else 10.0
    if args.rounds is None:
        args.rounds = 1
    if args.budget is None:
        args.budget = 180.0 if args.quick else 600.0
    if not os.path.exists(CHROMIUM):
        print(f"skipped: {CHROMIUM} is not installed")
        return 0

    # the last resort: whatever hangs, the process ends (the servers are its children and are
    # terminated in finally blocks; Chromium dies with the Playwright driver)
    def kill_all():
        for server in list(SERVERS):
            server.proc.kill()
        os._exit(3)

    def terminated(signum, frame):  # stopped from outside: take the servers down with us
        for server in list(SERVERS):
            server.proc.kill()
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, terminated)
    killer = threading.Timer(args.budget + 90, kill_all)
    killer.daemon = True
    killer.start()
    report: dict = {"budget_s": args.budget, "cpus": os.cpu_count(), "timed_out": False,
                    "loadavg_before": os.getloadavg()}
    try:
        # every wait in the phases is bounded by the budget, so they end on time with what they
        # measured; this bound is only a backstop
        asyncio.run(asyncio.wait_for(run(args, report), timeout=args.budget + 45))
    except TimeoutError:
        print(f"bench_load: over the {args.budget:.0f} s budget, stopped; partial results follow", file=sys.stderr)
        report["timed_out"] = True
    except SystemExit as stop:  # SIGTERM: the servers are down; say what was measured
        print(f"bench_load: terminated (exit {stop.code}); partial results follow", file=sys.stderr)
        report["timed_out"] = report["terminated"] = True
    finally:
        killer.cancel()
    report.setdefault("wall_s", time.monotonic() - T_START)
    report["loadavg_after"] = os.getloadavg()
    if args.json:
        print(json.dumps(report, indent=2, ensure_ascii=False))
    else:
        print_report(report)
    ok = (not report["timed_out"] and report.get("isolation", {}).get("all_correct", True)
          and report.get("crowd", {}).get("ok", True))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
