"""Home in a real browser: the agent plays, the equation renders, every page is one click
away and loads clean; screenshots at laptop and projector size."""

from __future__ import annotations

import pytest
from conftest import assert_clean, full_screenshot, screenshot, wait_for_app

pytestmark = pytest.mark.browser

PAGES = ["The gradient theorem", "Policy heatmap", "Replay"]


def _video_state(page) -> dict:
    return page.evaluate(
        """() => { const v = document.querySelector('[data-testid="stMain"] video');
                   return v && {duration: v.duration, error: v.error && v.error.code, ready: v.readyState,
                                t: v.currentTime, w: v.videoWidth, h: v.videoHeight}; }"""
    )


def test_home_plays_the_agent_and_renders_the_equation(server, page):
    page.goto(server["url"])
    wait_for_app(page)
    page.get_by_role("heading", name="Policy Gradients, Visually").wait_for()
    page.locator(".katex").first.wait_for()
    page.wait_for_function("() => { const v = document.querySelector('video'); return v && v.readyState >= 2; }")
    first = _video_state(page)
    assert first["error"] is None and first["duration"] == pytest.approx(10.0, abs=0.1)  # 500 steps at 50 fps
    assert first["w"] > 0 and first["h"] > 0
    # it plays: its clock moves on (given up to 10 s: a busy machine may start the clip late)
    try:
        page.wait_for_function(f"() => document.querySelector('[data-testid=\"stMain\"] video').currentTime > {first['t']}",
                               timeout=10_000)
    except Exception:  # noqa: BLE001 -- reported below with the video's state
        pass
    assert _video_state(page)["t"] > first["t"], f"the replay does not play: {_video_state(page)}"
    # the video sits in the first screen, next to the equation
    box = page.locator('[data-testid="stMain"] video').bounding_box()
    assert box["y"] + box["height"] / 2 < page.viewport_size["height"]
    assert_clean(page)
    screenshot(page, "home")


def test_home_on_a_projector(server, projector_page):
    projector_page.goto(server["url"])
    wait_for_app(projector_page)
    projector_page.locator(".katex").first.wait_for()
    projector_page.wait_for_function("() => { const v = document.querySelector('video'); return v && v.readyState >= 2; }")
    assert_clean(projector_page)
    screenshot(projector_page, "home")
    full_screenshot(projector_page, "home")


@pytest.mark.parametrize("title", PAGES)
def test_every_page_link_on_home_opens_its_page_clean(server, page, title):
    page.goto(server["url"])
    wait_for_app(page)
    page.locator('[data-testid="stMain"]').get_by_role("link", name=title).click()
    page.get_by_role("heading", name=title).first.wait_for(timeout=30_000)
    wait_for_app(page)
    page.wait_for_timeout(500)
    wait_for_app(page)
    assert_clean(page)
