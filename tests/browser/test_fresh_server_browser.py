"""A deep link as the very first request of a freshly started server.

A folder named pages/ beside the entry makes Streamlit start in its legacy pages-directory
mode until some session calls st.navigation. The first visitor of a workshop link must still
get the app: the right page, the entry's full navigation, its settings from the link, and no
"Page not found" dialog (pages/nav.py, enter_through_the_entry, says how). Each case starts
its own server, so that its request really is the first.
"""

from __future__ import annotations

import pytest
from conftest import LAPTOP, screenshot, start_server, wait_for_app

from pages.nav import PAGES

pytestmark = pytest.mark.browser

TITLES = [page.title for page in PAGES]


@pytest.mark.parametrize(
    ("path", "heading", "shown"),
    [
        ("/heatmap?checkpoint=5", "Policy heatmap", "5"),
        ("/replay", "Replay", None),
        ("/theorem?present=1", "The gradient theorem", "Story: step 2 of"),
    ],
)
def test_a_deep_link_as_a_fresh_servers_first_request_shows_the_page(browser, path, heading, shown):
    proc, url = start_server()
    ctx = browser.new_context(viewport=LAPTOP)
    try:
        page = ctx.new_page()
        page.goto(url + path)
        wait_for_app(page)
        page.get_by_role("heading", name=heading, exact=True).first.wait_for()
        nav = page.locator('[data-testid="stSidebarNav"]')
        nav.get_by_text(TITLES[-1]).wait_for()
        assert [t for t in TITLES if t in nav.inner_text()] == TITLES, nav.inner_text()
        page.wait_for_timeout(1000)  # a dialog would have arrived with the first run's messages
        assert page.locator('[role="dialog"]').count() == 0, page.locator('[role="dialog"]').all_inner_texts()
        assert page.url.split("?")[0] == url + path.split("?")[0]
        if shown == "5":  # the link's checkpoint reached the slider
            slider = page.locator('[data-testid="stSlider"]').first
            assert slider.locator('[data-testid="stSliderThumbValue"]').inner_text() == "5"
        elif shown:
            assert shown in page.locator('[data-testid="stMain"]').inner_text()
        screenshot(page, "fresh-server" + path.split("?")[0].replace("/", "-"))
    finally:
        ctx.close()
        proc.terminate()
        proc.wait(timeout=10)
