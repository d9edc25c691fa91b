"""The theorem page in a real browser: KaTeX renders, a slider moves a number, no errors; full
screenshots at laptop and projector sizes (artifacts/screens/, to look at)."""

from __future__ import annotations

import pytest
from conftest import assert_clean, full_screenshot, screenshot, wait_for_app

pytestmark = pytest.mark.browser

FIRST_METRIC = '[data-testid="stMain"] [data-testid="stMetricValue"]'


def _open(page, server):
    """Reach the page the way a visitor does: the home URL, then the sidebar link. (Opening
    /theorem directly works too, but Streamlit's frontend first probes /theorem/_stcore/... for
    a base path and logs two harmless 404s as console errors.)"""
    page.goto(server["url"])
    wait_for_app(page)
    page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name="The gradient theorem").click()
    page.get_by_role("heading", name="The gradient theorem").first.wait_for()
    page.locator(".katex").first.wait_for()
    page.locator('[data-testid="stVegaLiteChart"] canvas, [data-testid="stVegaLiteChart"] svg').first.wait_for()
    wait_for_app(page)


def _tab(page, label_start: str) -> None:
    """Open one of the page's three tabs (only the open tab's steps are drawn) and wait for it."""
    page.locator('[data-testid="stMain"] [role="tab"]').filter(has_text=label_start).click()
    page.wait_for_function("""(start) => [...document.querySelectorAll('[data-testid="stMain"] [role="tab"]')]
        .some(t => t.getAttribute('aria-selected') === 'true' && t.innerText.includes(start))""", arg=label_start)
    wait_for_app(page)


def _metric_texts(page) -> list[str]:
    return page.locator(FIRST_METRIC).all_inner_texts()


def test_theorem_page_renders_and_reacts_to_a_slider(server, page):
    _open(page, server)
    page.wait_for_function(  # steps 1-5's equations (KaTeX typesets them as they arrive)
        """() => document.querySelectorAll('[data-testid="stMain"] .katex-display').length >= 5""", timeout=30_000)
    assert page.get_by_role("heading", name="5. Reward-to-go").count() == 1  # the first tab's last step
    assert page.get_by_role("heading", name="6. A baseline").count() == 0  # a closed tab draws nothing
    before = _metric_texts(page)
    assert len(before) >= 6
    screenshot(page, "theorem")
    full_screenshot(page, "theorem")
    _tab(page, "The trainer as it runs")
    page.get_by_role("heading", name="13. The loss is not the performance").wait_for()  # the last step
    full_screenshot(page, "theorem-trainer")
    _tab(page, "The theorem")

    # theta_left (the first theta slider in the sidebar): End pushes it to its maximum
    thumb = page.locator('[data-testid="stSidebar"] [data-testid="stSlider"]').first.get_by_role("slider")
    thumb.focus()
    thumb.press("End")
    page.wait_for_function(
        """(before) => {
            const now = [...document.querySelectorAll('[data-testid="stMain"] [data-testid="stMetricValue"]')]
                .map(e => e.innerText);
            return !document.querySelector('[data-testid="stStatusWidget"]') && now.length === before.length
                && now[0] !== before[0];
        }""",
        arg=before,
        timeout=30_000,
    )
    wait_for_app(page)
    after = _metric_texts(page)
    assert after[0] != before[0]  # J(theta) exact changed with theta
    assert float(thumb.input_value()) == 3.0
    assert_clean(page)


def test_theorem_page_on_a_projector(server, projector_page):
    _open(projector_page, server)
    screenshot(projector_page, "theorem")  # the first screen a room sees
    projector_page.get_by_text("The code that runs").click()
    projector_page.get_by_text("def reinforce_gradient").first.wait_for()
    full_screenshot(projector_page, "theorem")
    assert_clean(projector_page)


def test_theorem_page_switches_to_the_bandit(server, page):
    _open(page, server)
    page.get_by_text("Three-armed bandit").click()
    page.get_by_text("a three-armed bandit").first.wait_for()
    wait_for_app(page)
    assert page.get_by_text("arm 0", exact=False).count() > 0  # the tables now speak of arms
    full_screenshot(page, "theorem-bandit")
    assert_clean(page)


def test_the_baseline_slider_reruns_its_panel_and_keeps_the_link(server, page):
    """b's panel is in a fragment: moving b redraws its part of the page, and the fragment
    publishes the link (URL and "Link to this view" in the sidebar); the other steps stay."""
    _open(page, server)
    _tab(page, "Baselines")
    page.get_by_role("heading", name="6. A baseline").wait_for()
    full_screenshot(page, "theorem-baselines")
    before = _metric_texts(page)
    thumb = page.locator('[data-testid="stMain"] [data-testid="stSlider"]').filter(
        has_text="constant baseline b").get_by_role("slider")
    thumb.focus()
    thumb.press("ArrowLeft")  # 2.0 -> 1.5
    page.wait_for_function("() => new URLSearchParams(location.search).get('b') === '1.5'", timeout=30_000)
    page.get_by_text("at your b = 1.5").first.wait_for()
    wait_for_app(page)
    assert _metric_texts(page) == before  # nothing else recomputed or redrawn with other numbers
    sidebar = page.locator('[data-testid="stSidebar"]')
    assert sidebar.get_by_text("Link to this view").count() == 1  # redrawn in place, not added
    sidebar.get_by_text("Link to this view").click()
    assert "b=1.5" in sidebar.locator('[data-testid="stCode"] code').last.inner_text()
    assert_clean(page)
