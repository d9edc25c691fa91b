"""The Compare page in a real browser: a small comparison runs while the charts grow, Stop
halts it, Run resumes it to the table, the findings and the prediction made before Run checked;
no errors; screenshots at laptop and projector size (artifacts/screens/, to look at)."""

from __future__ import annotations

import re

import pytest
from conftest import assert_clean, full_screenshot, screenshot, start_server, wait_for_app
from test_layout_browser import CHART_TITLES, MEASURE, assert_nothing_cut

pytestmark = pytest.mark.browser

MAIN = '[data-testid="stMain"]'
CHART = '[data-testid="stMain"] [data-testid="stVegaLiteChart"]'
PROGRESS = '[data-testid="stMain"] [data-testid="stProgress"]'
SLIDER_THUMB = '[data-testid="stSlider"] input[type="range"]'
# offline, a ":material/...:" page icon's favicon (fonts.gstatic.com) cannot load: not this page's doing
UNRESOLVED = "Failed to load resource: net::ERR_NAME_NOT_RESOLVED"


def _open(page, server):
    page.goto(server["url"])
    wait_for_app(page)
    page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name="Compare estimators").click()
    page.get_by_role("heading", name="Compare estimators").first.wait_for()
    wait_for_app(page)


def _set_seeds(page, n: int):
    """The "Seeds per estimator" slider (the second slider of the sidebar) to n."""
    thumb = page.locator(f'[data-testid="stSidebar"] {SLIDER_THUMB}').nth(1)
    thumb.focus()
    thumb.press("Home")  # 1
    for _ in range(n - 1):
        thumb.press("ArrowRight")
    page.wait_for_function("(n) => document.querySelectorAll('[data-testid=\"stSidebar\"] input[type=range]')[1]"
                           ".value == String(n)", arg=n)
    page.wait_for_timeout(1000)  # the slider sends its value after a short pause: let that rerun start
    wait_for_app(page)


def _progress_text(page) -> str:
    return page.locator(PROGRESS).first.inner_text()


def _assert_clean(page):
    page.console_errors[:] = [e for e in page.console_errors if e != UNRESOLVED]
    assert_clean(page)


@pytest.fixture
def own_server():
    """A server of this test's own: the comparison it starts, stops and resumes is then new on
    every attempt (a retry on a shared server would be handed the finished one by the registry)."""
    proc, url = start_server()
    yield {"url": url, "proc": proc}
    proc.terminate()
    proc.wait(timeout=10)


def test_a_comparison_runs_stops_resumes_and_fills_the_table(own_server, page):
    server = own_server
    _open(page, server)
    _set_seeds(page, 1)  # one seed: the projector test below has the table's [min–max] ranges
    page.locator(MAIN).get_by_text("TD(0)", exact=True).click()  # the prediction, before Run
    wait_for_app(page)
    screenshot(page, "compare-before")
    page.get_by_role("button", name="Run comparison").click()
    page.locator(CHART).first.wait_for(timeout=30_000)  # the curves draw while it trains
    page.get_by_role("button", name="Stop").click()
    page.wait_for_function("""() => [...document.querySelectorAll('[data-testid="stMain"] button')]
        .some(b => b.innerText.includes('Stop') && b.disabled)""")  # the run after Stop has drawn
    wait_for_app(page)
    page.wait_for_timeout(500)
    stopped = _progress_text(page)
    assert "done" not in stopped, stopped
    assert page.get_by_role("button", name="Run comparison").is_enabled()
    page.wait_for_timeout(1000)
    assert _progress_text(page) == stopped  # nothing runs after Stop

    page.get_by_role("button", name="Run comparison").click()  # resumes the same comparison
    page.wait_for_function(
        """() => { const p = document.querySelector('[data-testid="stMain"] [data-testid="stProgress"]');
                   return p && p.innerText.includes('done:'); }""", timeout=180_000)
    wait_for_app(page)
    assert page.locator(CHART).count() == 4
    assert page.locator(f"{CHART} canvas, {CHART} svg").count() >= 4
    table = page.locator('[data-testid="stMain"] [data-testid="stTable"]').first.inner_text()
    for label in ("REINFORCE: whole return G₀", "Gₜ − batch mean", "actor-critic TD(0)", "GAE λ = 0.95"):
        assert label in table
    assert re.search(r"\d/1", table)  # seeds solved, k of 1
    page.wait_for_function("""() => document.querySelector('[data-testid="stMain"]').innerText
        .includes('Lowest relative variance:')""")  # the findings, drawn by the page's last rerun
    main = page.locator(MAIN).inner_text()
    assert "Seeds 0 for every estimator" in main
    assert "Your prediction matched: actor-critic TD(0)" in main or "you chose actor-critic TD(0)" in main
    screenshot(page, "compare")
    full_screenshot(page, "compare")
    _assert_clean(page)


def test_compare_on_a_projector(server, projector_page):
    """At projector size in presenter mode (large type, the sidebar folded away once it is
    switched on), a whole comparison of the same settings runs to its table, and its charts,
    table and numbers fit the screen's width (tests/browser/test_layout_browser.py measures)."""
    _open(projector_page, server)
    _set_seeds(projector_page, 2)
    projector_page.locator('[data-testid="stSidebar"]').get_by_text("Presenter mode").click()
    projector_page.locator('[data-testid="stSidebar"]').wait_for(state="hidden")
    wait_for_app(projector_page)
    projector_page.get_by_role("button", name="Run comparison").click()
    projector_page.wait_for_function(
        """() => { const p = document.querySelector('[data-testid="stMain"] [data-testid="stProgress"]');
                   return p && p.innerText.includes('done:'); }""", timeout=180_000)
    wait_for_app(projector_page)
    projector_page.wait_for_timeout(1000)
    assert "results below are for the last settings" not in projector_page.locator('[data-testid="stMain"]').inner_text()
    assert "done: 8 runs" in _progress_text(projector_page)  # 4 estimators x 2 seeds
    screenshot(projector_page, "compare")
    full_screenshot(projector_page, "compare")
    assert_nothing_cut(projector_page.evaluate(MEASURE))
    assert [t for t in projector_page.evaluate(CHART_TITLES) if t["cut"]] == [], "chart titles cut"
    _assert_clean(projector_page)
