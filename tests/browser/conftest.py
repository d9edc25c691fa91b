"""Fixtures for browser tests: a real ``streamlit run`` server and Debian's Chromium driven by
Playwright (never ``playwright install``: the browser is /usr/bin/chromium).

Screenshots go to artifacts/screens/ (git-ignored); look at them.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.request import urlopen

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
SCREENS = ROOT / "artifacts" / "screens"
LAPTOP = {"width": 1440, "height": 900}
PROJECTOR = {"width": 1280, "height": 720}  # a workshop projector (presenter mode)
FULL_HD = {"width": 1920, "height": 1080}  # a large screen or a good projector
PHONE = {"width": 390, "height": 844}

pytestmark = pytest.mark.browser


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(extra_env: dict | None = None, python: str | None = None):
    """Start ``streamlit run`` on a free loopback port (with ``python``, this interpreter by
    default); returns (process, url)."""
    port = _free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1", **(extra_env or {})}
    proc = subprocess.Popen(
        [python or sys.executable, "-m", "streamlit", "run", "streamlit_app.py",
         "--server.headless", "true", "--server.port", str(port), "--server.address", "127.0.0.1",
         "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none",
         "--client.toolbarMode", "minimal"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited early:\n{proc.stdout.read()}")
        try:
            if urlopen(url + "/_stcore/health", timeout=1).read() == b"ok":
                return proc, url
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("streamlit did not become healthy within 60 s")


@pytest.fixture(scope="session")
def server():
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    proc, url = start_server()
    yield {"url": url, "proc": proc}
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(scope="session")
def browser():
    playwright = pytest.importorskip("playwright.sync_api")
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    with playwright.sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                  "--autoplay-policy=no-user-gesture-required",
                  "--disable-background-networking", "--disable-component-update", "--no-first-run"],
        )
        yield b
        b.close()


def _new_page(browser, viewport, **options):
    ctx = browser.new_context(viewport=viewport, accept_downloads=True, **options)
    page = ctx.new_page()
    page.console_errors = []
    page.on("console", lambda m: m.type == "error" and page.console_errors.append(m.text))
    page.on("pageerror", lambda e: page.console_errors.append(str(e)))
    return ctx, page


def _page_at(viewport: dict, **options):
    """A fixture: a new browser context and page at ``viewport``, closed after the test."""
    @pytest.fixture
    def fixture(browser):
        ctx, pg = _new_page(browser, viewport, **options)
        yield pg
        ctx.close()
    return fixture


page = _page_at(LAPTOP)
projector_page = _page_at(PROJECTOR)
full_hd_page = _page_at(FULL_HD)
phone_page = _page_at(PHONE, is_mobile=True)


def wait_for_app(page, timeout: float = 30_000) -> None:
    """Wait until the script run has finished (status widget gone, main area drawn)."""
    page.wait_for_selector('[data-testid="stApp"]', timeout=timeout)
    page.wait_for_function(
        """() => !document.querySelector('[data-testid="stStatusWidget"]')
            && !document.querySelector('[data-testid="stAppSkeleton"]')
            && document.querySelector('[data-testid="stMain"]')""",
        timeout=timeout,
    )


def assert_clean(page) -> None:
    """No Streamlit exception box and no JavaScript console error."""
    assert page.locator('[data-testid="stException"]').count() == 0, "a Streamlit exception is shown"
    assert not page.console_errors, f"console errors: {page.console_errors}"


def screenshot(page, name: str) -> Path:
    SCREENS.mkdir(parents=True, exist_ok=True)
    size = page.viewport_size
    path = SCREENS / f"{name}-{size['width']}x{size['height']}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def full_screenshot(page, name: str) -> Path:
    """Streamlit scrolls inside stMain, so a full_page screenshot shows one screen: grow the
    viewport to the content's height, take it, then restore the viewport."""
    size = page.viewport_size
    height = page.evaluate("""() => document.querySelector('[data-testid="stMain"]').scrollHeight""")
    page.set_viewport_size({"width": size["width"], "height": int(height) + 40})
    page.wait_for_timeout(1500)  # let the container-width charts re-layout
    wait_for_app(page)
    path = screenshot(page, f"{name}-full")
    page.set_viewport_size(size)
    return path


# --- console noise that is not the app's doing --------------------------------------------------
# A direct visit to a page's URL (/heatmap) first asks /<page>/_stcore/health and /host-config
# (404), then the right URLs (streamlit/streamlit#7074); the favicon of a ":material/...:" page
# icon comes from fonts.gstatic.com, unreachable offline. watch_network() records responses and
# failed requests; assert_clean_but_known_noise() drops exactly those lines, then assert_clean().
# Also dropped: Chromium's "play() request was interrupted because the media was removed" when
# a rerun replaces an autoplaying st.video before it started (settings changed quickly).
KNOWN_404 = re.compile(r"/[A-Za-z0-9_-]+/_stcore/(health|host-config)$")
KNOWN_OFFLINE = re.compile(r"^https://fonts\.gstatic\.com/")
NOT_FOUND = "Failed to load resource: the server responded with a status of 404 (Not Found)"
UNRESOLVED = "Failed to load resource: net::ERR_NAME_NOT_RESOLVED"
MEDIA_REMOVED = "The play() request was interrupted because the media was removed from the document."


def watch_network(page) -> None:
    page.bad_responses, page.failed_requests = [], []
    page.on("response", lambda r: r.status >= 400 and page.bad_responses.append((r.status, r.url)))
    page.on("requestfailed", lambda r: page.failed_requests.append((r.failure, r.url)))


def assert_clean_but_known_noise(page, known_404: re.Pattern = KNOWN_404, media_removed_ok: bool = True) -> None:
    """assert_clean, after dropping the console lines of the known noise above (only those).
    A test may narrow what counts as noise: ``known_404`` (which pages' URLs), and
    ``media_removed_ok=False`` where no video should ever be replaced before it plays."""
    assert [r for r in page.bad_responses if not (r[0] == 404 and known_404.search(r[1]))] == []
    failed = [url for failure, url in page.failed_requests if failure != "net::ERR_ABORTED"]  # cut by a rerun
    assert [url for url in failed if not KNOWN_OFFLINE.search(url)] == []
    for message, count in ((NOT_FOUND, len(page.bad_responses)), (UNRESOLVED, len(failed))):
        for _ in range(count):
            if message in page.console_errors:
                page.console_errors.remove(message)
    if media_removed_ok:
        page.console_errors[:] = [e for e in page.console_errors if MEDIA_REMOVED not in e]
    assert_clean(page)


# --- waiting for a whole page -------------------------------------------------------------------
# The status widget can be absent for a moment while a long first run (Replay encodes two
# videos) is still drawing, so a page is "ready" once the last thing it draws is there.
LAST_DRAWN = {
    "Policy Gradients, Visually": '[data-testid="stMain"] .st-key-story_panel, [data-testid="stMain"] h3:has-text("Explore")',
    "The gradient theorem": '[data-testid="stMain"] [data-testid="stExpander"]:has-text("The code that runs")',
    "Live training": '[data-testid="stMain"] [data-testid="stButton"]:has-text("Reset")',
    "Policy heatmap": '[data-testid="stMain"] [data-testid="stMetricValue"]',
    "Replay": '[data-testid="stMain"] [data-testid="stVegaLiteChart"] >> nth=1',
    "Credit assignment": '[data-testid="stMain"] [data-testid="stRadio"]',
    "Compare estimators": '[data-testid="stMain"] [data-testid="stExpander"]:has-text("How the variance and the direction are measured")',
}


def drawn(page, timeout: float = 60_000) -> None:
    """No run in progress and no element left over from the previous run (twice, 0.5 s apart)."""
    for _ in range(2):
        wait_for_app(page, timeout=timeout)
        page.wait_for_function("() => !document.querySelector('[data-stale=\"true\"]')", timeout=timeout)
        page.wait_for_timeout(500)


def wait_for_page(page, heading: str, timeout: float = 60_000) -> None:
    """Wait until the page titled ``heading`` has finished its run and drawn everything."""
    wait_for_app(page, timeout=timeout)
    page.get_by_role("heading", name=heading).first.wait_for(timeout=timeout)
    page.locator(LAST_DRAWN[heading]).first.wait_for(timeout=timeout)
    drawn(page, timeout)


def pytest_collection_modifyitems(items):
    """A real browser against a real server on a busy 2-core machine can miss a wait: each
    browser test gets two retries (pytest-rerunfailures); it must still pass once. All browser
    tests run in one pytest-xdist worker, one after another (one server, one Chromium), while
    the other worker runs the rest of the suite (pytest.ini: ``-n 2 --dist loadgroup``)."""
    for item in items:
        if "browser" in item.keywords:
            item.add_marker(pytest.mark.flaky(reruns=2, reruns_delay=2))
            item.add_marker(pytest.mark.xdist_group("browser"))
