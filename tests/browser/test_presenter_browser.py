"""Presenter mode in a real browser at projector size (1280x720): larger type than normal, less
chrome, the sidebar folded away, and the story's Next and Back walk every page in teaching order.
(That every page fits that screen is tests/browser/test_layout_browser.py.) Screenshots of each stop
(first screen and whole page) go to artifacts/screens/."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest
from conftest import assert_clean_but_known_noise, drawn, full_screenshot, screenshot, wait_for_page, watch_network

pytestmark = pytest.mark.browser

MAIN = '[data-testid="stMain"]'
STORY = [  # (url path, heading) in teaching order
    ("/", "Policy Gradients, Visually"),
    ("/theorem", "The gradient theorem"),
    ("/train", "Live training"),
    ("/heatmap", "Policy heatmap"),
    ("/replay", "Replay"),
    ("/credit", "Credit assignment"),
    ("/compare", "Compare estimators"),
]
SIZES = """() => { const size = s => { const e = document.querySelector(s);
                                   return e ? parseFloat(getComputedStyle(e).fontSize) : null; };
  return {body: size('[data-testid="stMain"] [data-testid="stMarkdownContainer"] p'),
          h1: size('[data-testid="stMain"] h1'), metric: size('[data-testid="stMetricValue"]'),
          caption: size('[data-testid="stMain"] [data-testid="stCaptionContainer"]')}; }"""


PRESENTER_BODY = 20  # px at 1280 wide: the root font grows with the viewport (pages/presenter.py)


def arrive(page, heading: str) -> None:
    wait_for_page(page, heading)


def visit(page, url: str, heading: str) -> None:
    page.console_errors.clear()  # each visit is judged on its own network log (watch_network)
    watch_network(page)
    page.goto(url)
    arrive(page, heading)


def query_of(page) -> dict[str, str]:
    return {k: v[-1] for k, v in parse_qs(urlsplit(page.url).query).items()}


def test_presenter_mode_sets_larger_type_and_hides_the_toolbar(server, projector_page):
    page = projector_page
    visit(page, server["url"] + "/heatmap", "Policy heatmap")
    normal = page.evaluate(SIZES)
    visit(page, server["url"] + "/heatmap?present=1", "Policy heatmap")
    large = page.evaluate(SIZES)
    for part in ("body", "h1", "metric", "caption"):
        assert large[part] >= 1.2 * normal[part], (part, normal, large)
    assert large["body"] >= PRESENTER_BODY
    assert not page.locator('[data-testid="stMainMenu"], [data-testid="stToolbarActions"]').first.is_visible()
    assert not page.locator('[data-testid="stSidebar"]').is_visible(), "the sidebar is folded away"
    page.locator('[data-testid="stExpandSidebarButton"]').click()  # and one click brings it back
    page.locator('[data-testid="stSidebar"]').get_by_text("Presenter mode").wait_for()
    assert_clean_but_known_noise(page)


def test_the_story_walks_every_page_in_order_with_next_and_back(server, projector_page):
    page = projector_page
    visit(page, server["url"] + "/?present=1", STORY[0][1])
    panel = page.locator(".st-key-story_panel")
    panel.wait_for()
    stops = ["Home"] + [heading for _, heading in STORY[1:]]
    for k, title in enumerate(stops, start=1):
        assert panel.get_by_text(f"{k}. {title}").count() == 1, "every stop is listed, in order"
    screenshot(page, "presenter-1-home")
    full_screenshot(page, "presenter-1-home")

    for k, (path, heading) in enumerate(STORY[1:], start=2):
        page.locator(".st-key-story_next button").click()
        arrive(page, heading)
        assert urlsplit(page.url).path == path and query_of(page) == {"present": "1"}
        bar = page.locator(".st-key-story_bar")
        assert f"Story: step {k} of {len(STORY)}" in bar.inner_text()
        nxt = page.locator(".st-key-story_next button")
        if k < len(STORY):
            assert f"Next: {STORY[k][1]}" in nxt.inner_text()
        else:
            assert nxt.is_disabled() and "The end" in nxt.inner_text()
        assert page.evaluate(SIZES)["body"] >= PRESENTER_BODY, "presenter mode carries on from page to page"
        screenshot(page, f"presenter-{k}-{path.strip('/')}")
        full_screenshot(page, f"presenter-{k}-{path.strip('/')}")

    for path, heading in reversed(STORY[:-1]):
        page.locator(".st-key-story_back button").click()
        arrive(page, heading)
        assert urlsplit(page.url).path == path
    assert page.locator(".st-key-story_back button").is_disabled()
    assert_clean_but_known_noise(page)


def test_the_sidebar_switch_turns_presenter_mode_on_and_off(server, projector_page):
    page = projector_page
    visit(page, server["url"] + "/theorem", "The gradient theorem")
    normal = page.evaluate(SIZES)["body"]
    switch = page.locator('[data-testid="stSidebar"]').get_by_text("Presenter mode")
    switch.click()
    page.wait_for_timeout(400)
    drawn(page)
    assert page.evaluate(SIZES)["body"] > normal
    assert query_of(page) == {"present": "1"}
    page.locator(".st-key-story_bar").get_by_text(f"Story: step 2 of {len(STORY)}").wait_for()
    page.locator('[data-testid="stSidebar"]').wait_for(state="hidden")  # presenter mode folds it away
    page.locator('[data-testid="stExpandSidebarButton"]').click()
    switch.click()
    page.wait_for_timeout(400)
    drawn(page)
    assert page.evaluate(SIZES)["body"] == normal
    assert query_of(page) == {} and page.locator(".st-key-story_bar").count() == 0
    assert_clean_but_known_noise(page)


def test_a_presenters_link_opens_the_view_in_presenter_mode(server, projector_page):
    page = projector_page
    visit(page, server["url"] + "/heatmap?present=1&x=0.5&checkpoint=0", "Policy heatmap")
    assert page.locator('[data-testid="stSlider"] input[type="range"]').nth(1).get_attribute("aria-valuetext") == "0.5"
    assert page.get_by_text(re.compile(r"^Slice at x = 0\.5 m")).count() == 1
    assert f"Story: step 4 of {len(STORY)}" in page.locator(".st-key-story_bar").inner_text()
    assert page.evaluate(SIZES)["body"] >= PRESENTER_BODY
    assert page.get_by_text("Slide the checkpoint to update 0").filter(visible=True).count() == 0, "notes closed"
    page.locator(".st-key-story_bar").get_by_role("button", name=re.compile("Notes")).click()
    page.get_by_text("Slide the checkpoint to update 0").wait_for()
    screenshot(page, "presenter-heatmap-notes")
    assert_clean_but_known_noise(page)
