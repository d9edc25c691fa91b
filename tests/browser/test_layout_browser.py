"""Every page read whole, measured in the DOM (issue 13, points 7 and 8).

In presenter mode at 1280x720 (a workshop projector) and 1920x1080: nothing in the main column
is wider than the viewport or cut by its container, no equation overflows, no button label or
metric value is cut to "…", the sidebar is folded away and the speaker notes are not shown to
the room. On a 390x844 phone: the sidebar is closed on load, the title and the first lines are
on the first screen, an equation fits or scrolls, and no chart title is cut.
Screenshots of every page at the three sizes go to artifacts/screens/layout-*.png.
"""

from __future__ import annotations

import pytest
from conftest import assert_clean_but_known_noise, full_screenshot, screenshot, wait_for_page, watch_network

from pages.nav import PAGES

pytestmark = pytest.mark.browser

HOME_HEADING = "Policy Gradients, Visually"
STOPS = [pytest.param(page, id=page.url_path or "home") for page in PAGES]
KATEX_SLACK = 3  # px: KaTeX's struts overhang a display by up to 2 px (.vlist-t2), not a cut glyph

# What a viewer would see cut off, measured in the main column. An element inside a container
# that scrolls sideways on purpose (overflow-x auto/scroll: a code block, a table, an equation
# too wide for a phone) is not cut; inside one that hides overflow, it must fit that container;
# elsewhere, the viewport. Chart internals (SVG) and KaTeX's hidden MathML copy are skipped.
MEASURE = """() => {
  const vw = document.documentElement.clientWidth;
  const main = document.querySelector('[data-testid="stMain"]');
  const label = e => (e.getAttribute('data-testid') || e.tagName) + ': ' + (e.innerText || e.textContent || '').slice(0, 40);
  const out = {vw, main: [main.scrollWidth, main.clientWidth], wide: [], clipped: [], katex: [], buttons: [], metrics: []};
  for (const e of main.querySelectorAll('*')) {
    if (e.closest('.katex-mathml') || e.tagName === 'INPUT' || (e.closest('svg') && e.tagName !== 'svg')) continue;
    const r = e.getBoundingClientRect();
    if (r.width === 0 || r.height === 0 || !e.checkVisibility()) continue;
    let a = e.parentElement, box = null;
    while (a && a !== main && !box) { if (getComputedStyle(a).overflowX !== 'visible') box = a; a = a.parentElement; }
    if (box && ['auto', 'scroll'].includes(getComputedStyle(box).overflowX)) continue;
    const edge = box ? box.getBoundingClientRect() : {left: 0, right: vw};
    if (r.right > edge.right + 1 || r.left < edge.left - 1) (box ? out.clipped : out.wide).push(label(e));
  }
  for (const e of main.querySelectorAll('.katex-display'))
    if (e.checkVisibility()) out.katex.push({text: e.textContent.slice(0, 40), scroll: e.scrollWidth, client: e.clientWidth,
                                             overflow: getComputedStyle(e).overflowX});
  for (const b of main.querySelectorAll('button')) {
    const p = b.querySelector('[data-testid="stMarkdownContainer"] p') || b;
    if (b.checkVisibility() && p.scrollWidth > p.clientWidth + 1) out.buttons.push([b.innerText, p.scrollWidth, p.clientWidth]);
  }
  for (const m of main.querySelectorAll('[data-testid="stMetricValue"]')) {
    const v = m.querySelector('div') || m;
    if (v.scrollWidth > v.clientWidth + 1) out.metrics.push([m.innerText, v.scrollWidth, v.clientWidth]);
  }
  const sidebar = document.querySelector('[data-testid="stSidebar"]');
  const s = sidebar ? sidebar.getBoundingClientRect() : {width: 0, right: 0};
  out.sidebar_open = !!sidebar && sidebar.checkVisibility() && s.width > 0 && s.right > 0;
  return out;
}"""

# Chart titles, axis titles and legend titles of the SVG charts: Vega ends a text it had to
# shorten with "…", and a text wider than the chart runs out of the SVG, which cuts it.
CHART_TITLES = """() => {
  const out = [], SLACK = 6;  // px: a rotated axis title's box (its line's ascent and descent) may pass the edge, its glyphs do not
  for (const svg of document.querySelectorAll('[data-testid="stMain"] [data-testid="stVegaLiteChart"] svg.marks')) {
    const box = svg.getBoundingClientRect();
    for (const t of svg.querySelectorAll('.role-title text, .role-axis-title text, .role-legend-title text')) {
      const r = t.getBoundingClientRect();
      out.push({text: t.textContent, at: [r.left, r.right, r.top, box.left, box.right].map(Math.round), cut: t.textContent.endsWith('…') || r.left < box.left - SLACK || r.right > box.right + SLACK});
    }
  }
  return out;
}"""


def heading(page) -> str:
    return page.title if page.url_path else HOME_HEADING


def open_page(browser_page, server, stop, present: bool) -> dict:
    watch_network(browser_page)
    browser_page.goto(f"{server['url']}/{stop.url_path}" + ("?present=1" if present else ""))
    wait_for_page(browser_page, heading(stop))
    browser_page.wait_for_timeout(500)  # container-width charts settle after the last run
    return browser_page.evaluate(MEASURE)


def assert_nothing_cut(m: dict) -> None:
    assert m["main"][0] <= m["main"][1], f"the main column scrolls sideways: {m['main']}"
    assert m["wide"] == [], f"wider than the viewport ({m['vw']} px): {m['wide'][:5]}"
    assert m["clipped"] == [], f"cut by its container: {m['clipped'][:5]}"
    assert m["buttons"] == [], f"button labels cut: {m['buttons']}"
    assert m["metrics"] == [], f"metric values cut: {m['metrics']}"


def assert_presented(browser_page, stop, size: str) -> None:
    m = open_page(browser_page, browser_page.server, stop, present=True)
    name = f"layout-{stop.url_path or 'home'}-present"
    screenshot(browser_page, name)
    assert_nothing_cut(m)
    too_wide = [k for k in m["katex"] if k["scroll"] > k["client"] + KATEX_SLACK]
    assert too_wide == [], f"equations not whole at {size}: {too_wide}"
    if not stop.url_path or stop.url_path == "theorem":
        assert m["katex"], "the page's key equation is drawn"
    assert not m["sidebar_open"], "presenter mode folds the sidebar away"
    notes = browser_page.get_by_text(stop.notes[:60])
    assert notes.filter(visible=True).count() == 0, "the speaker notes are not projected to the room"
    assert_clean_but_known_noise(browser_page)
    full_screenshot(browser_page, name)


@pytest.mark.parametrize("stop", STOPS)
def test_presenter_mode_at_1280x720_shows_every_page_whole(server, projector_page, stop):
    projector_page.server = server
    assert_presented(projector_page, stop, "1280x720")


@pytest.mark.parametrize("stop", STOPS)
def test_presenter_mode_at_1920x1080_shows_every_page_whole(server, full_hd_page, stop):
    full_hd_page.server = server
    assert_presented(full_hd_page, stop, "1920x1080")


@pytest.mark.parametrize("stop", STOPS)
def test_the_first_screen_of_every_page_reads_on_a_phone(server, phone_page, stop):
    page = phone_page
    m = open_page(page, server, stop, present=False)
    screenshot(page, f"layout-{stop.url_path or 'home'}-phone")
    assert not m["sidebar_open"], "the sidebar stays closed on a phone's first load"
    height = page.viewport_size["height"]
    title = page.locator('[data-testid="stMain"] h1').first.bounding_box()
    first = page.locator('[data-testid="stMain"] [data-testid="stMarkdown"] p').first
    assert title["y"] >= 0 and title["y"] + title["height"] <= height, "the title is on the first screen"
    assert first.bounding_box()["y"] < height, "the first lines are on the first screen"
    assert_nothing_cut(m)
    cut = [k for k in m["katex"] if k["scroll"] > k["client"] + KATEX_SLACK and k["overflow"] not in ("auto", "scroll")]
    assert cut == [], f"equations cut instead of fitting or scrolling: {cut}"
    titles = page.evaluate(CHART_TITLES)
    assert [t["text"] for t in titles if t["cut"]] == [], "chart titles cut"
    assert_clean_but_known_noise(page)
    full_screenshot(page, f"layout-{stop.url_path or 'home'}-phone")


def test_home_keeps_the_speaker_notes_for_the_presenter(server, projector_page):
    page = projector_page
    open_page(page, server, PAGES[0], present=True)
    notes = page.get_by_text(PAGES[1].notes[:60])
    assert notes.filter(visible=True).count() == 0, "closed by default"
    page.locator(".st-key-story_notes summary").click()
    notes.first.wait_for()  # one click away for the presenter, every stop's notes
    assert page.get_by_text(PAGES[0].notes[:60]).first.is_visible()
