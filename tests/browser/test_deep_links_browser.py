"""Deep links in a real browser: for every page, set widgets, take the URL, open it in a fresh
browser context (a new visitor), and find the same widget values and the same numbers. A link
full of bad parameters shows a warning per parameter and no exception."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest
from conftest import LAPTOP, assert_clean_but_known_noise, drawn, screenshot, start_server, wait_for_page, watch_network

pytestmark = pytest.mark.browser

MAIN, SIDEBAR = '[data-testid="stMain"]', '[data-testid="stSidebar"]'
THUMB = '[data-testid="stSlider"] input[type="range"]'

# Everything a visitor sees that a link must reproduce: each widget's value (sliders by their
# shown text, inputs by value, switches and radios by checked state, select boxes by the chosen
# option) and every metric and caption.
VIEW = """() => {
  const inside = s => Array.from(document.querySelectorAll(
      `[data-testid="stMain"] ${s}, [data-testid="stSidebarUserContent"] ${s}`));
  const label = e => (e.closest('[data-testid^="st"][class*="st-key-"]') || {className: ''}).className
      .split(' ').filter(c => c.startsWith('st-key-')).join('');
  return {
    sliders: inside('[data-testid="stSlider"] input[type="range"]').map(e => e.getAttribute('aria-valuetext')),
    numbers: inside('[data-testid="stNumberInput"] input').map(e => e.value),
    texts: inside('[data-testid="stTextInput"] input').map(e => e.value),
    checks: inside('input[type="checkbox"]').map(e => [label(e), e.checked]),
    radios: inside('[data-testid="stRadio"] input[type="radio"]').map(e => e.checked),
    selects: inside('[data-testid="stSelectbox"]').map(e => e.innerText.trim()),
    chosen: inside('[data-testid="stMultiSelect"] [data-baseweb="tag"]').map(e => e.innerText.trim()),
    tables: inside('[data-testid="stTable"]').map(e => e.innerText),
    metrics: inside('[data-testid="stMetricValue"]').map(e => e.innerText),
    captions: inside('[data-testid="stCaptionContainer"]').map(e => e.innerText),
  };
}"""


def open_page(page, url: str, path: str, heading: str) -> None:
    watch_network(page)
    page.goto(url + path)
    settle(page, heading)


def settle(page, heading: str) -> None:
    wait_for_page(page, heading)


def rerun_after(page, action) -> None:
    """Do ``action`` and wait until the app has re-run and drawn again."""
    action()
    page.wait_for_timeout(400)
    drawn(page)


def press(page, nth: int, *keys: str) -> None:
    thumb = page.locator(THUMB).nth(nth)
    thumb.focus()
    rerun_after(page, lambda: [thumb.press(key) for key in keys])


def type_number(page, label: str, value: str, where: str = MAIN) -> None:
    box = page.locator(where).get_by_label(label, exact=True)
    box.fill(value)
    rerun_after(page, lambda: box.press("Enter"))


def choose(page, label: str, option: str, where: str = SIDEBAR) -> None:
    page.locator(where).get_by_label(label).click()
    rerun_after(page, lambda: page.get_by_role("option", name=option, exact=True).click())


def click_text(page, text: str, where: str = MAIN) -> None:
    rerun_after(page, lambda: page.locator(where).get_by_text(text, exact=True).click())


def link_shown(page) -> str:
    """The URL in "Link to this view" (sidebar)."""
    expander = page.locator(SIDEBAR).get_by_text("Link to this view")
    expander.click()
    code = page.locator(SIDEBAR).locator('[data-testid="stCode"] code').last
    code.wait_for()
    text = code.inner_text().strip()
    expander.click()
    return text


def view(page) -> dict:
    return page.evaluate(VIEW)


def open_in_a_fresh_context(browser, url: str, heading: str):
    ctx = browser.new_context(viewport=LAPTOP)
    fresh = ctx.new_page()
    fresh.console_errors = []
    fresh.on("console", lambda m: m.type == "error" and fresh.console_errors.append(m.text))
    fresh.on("pageerror", lambda e: fresh.console_errors.append(str(e)))
    watch_network(fresh)
    fresh.goto(url)
    settle(fresh, heading)
    return ctx, fresh


def query_of(url: str) -> dict[str, str]:
    return {k: v[-1] for k, v in parse_qs(urlsplit(url).query, keep_blank_values=True).items()}


def set_theorem(page):
    click_text(page, "Three-armed bandit", SIDEBAR)
    press(page, 0, "ArrowRight", "ArrowRight", "ArrowRight")  # θ0: 0.5 -> 0.8
    type_number(page, "Seed", "11", SIDEBAR)
    rerun_after(page, lambda: page.locator(MAIN).get_by_role("tab", name=re.compile("Baselines")).click())
    page.locator(MAIN).get_by_role("heading", name="6. A baseline").wait_for()
    press(page, 4, "ArrowLeft", "ArrowLeft")  # step 6's baseline b (its tab open): 2.0 -> 1.0


def step_once(page):
    """Press Step and wait for the first update's numbers."""
    rerun_after(page, lambda: page.locator(MAIN).get_by_role("button", name="Step").click())
    page.locator(MAIN).get_by_text(re.compile(r"^update 1 ·")).wait_for(timeout=60_000)
    drawn(page)


def set_train(page):
    choose(page, "Preset", "neural network")
    type_number(page, "Seed", "3", SIDEBAR)
    click_text(page, "As fast as possible", SIDEBAR)  # (not the default speed)
    step_once(page)


def set_heatmap(page):
    press(page, 0, "Home", "ArrowRight", "ArrowRight")  # checkpoint: the third one saved
    press(page, 1, *["ArrowRight"] * 6)  # x: 0 -> 0.6
    rerun_after(page, lambda: page.locator(MAIN).get_by_text("Visited states").click())


def set_replay(page):
    type_number(page, "Episode seed", "7")
    click_text(page, "sampled")
    rerun_after(page, lambda: page.locator(MAIN).get_by_text("Nudge the pole", exact=True).click())
    press(page, 1, *["ArrowLeft"] * 15)  # nudge strength: +1.0 -> -0.5


def run_comparison(page):
    """Press Run comparison and wait until it is done and the page has drawn its table."""
    page.locator(MAIN).get_by_role("button", name="Run comparison").click()
    page.wait_for_function(
        """() => { const p = document.querySelector('[data-testid="stMain"] [data-testid="stProgress"]');
                   return p && p.innerText.includes('done:'); }""", timeout=180_000)
    drawn(page)
    page.locator(f'{MAIN} [data-testid="stTable"]').first.wait_for()


def set_compare(page):
    box = page.locator(SIDEBAR).locator('[data-testid="stMultiSelect"] input')
    box.focus()
    rerun_after(page, lambda: box.press("Backspace"))  # drops the last estimator, GAE(λ)
    press(page, 1, "ArrowLeft", "ArrowLeft")  # seeds per estimator: 3 -> 1
    press(page, 2, "ArrowLeft")  # episodes per update: 16 -> 8
    click_text(page, "linear", SIDEBAR)  # the critic
    run_comparison(page)


PAGES = [
    # (path, heading, set the widgets, the query those settings make)
    ("/theorem", "The gradient theorem", set_theorem, {"problem": "bandit", "logit_0": "0.8", "seed": "11", "b": "1",
                                                             "part": "baselines"}),
    ("/train", "Live training", set_train, {"preset": "neural-network", "seed": "3", "speed": "as-fast-as-possible"}),
    ("/heatmap", "Policy heatmap", set_heatmap, {"checkpoint": "2", "x": "0.6", "overlay": "0"}),
    ("/replay", "Replay", set_replay, {"seed": "7", "mode": "sampled", "nudge": "1", "nudge_strength": "-0.5"}),
    (
        "/compare",
        "Compare estimators",
        set_compare,
        {"estimators": "reinforce,rtg-batch-mean,td0", "seeds": "1", "episodes": "8", "critic": "linear"},
    ),
]


@pytest.mark.parametrize("path, heading, set_widgets, expected", PAGES, ids=[p[0].strip("/") for p in PAGES])
def test_a_link_reproduces_the_view_in_a_fresh_browser(server, browser, page, path, heading, set_widgets, expected):
    open_page(page, server["url"], path, heading)
    before = view(page)
    set_widgets(page)
    assert_clean_but_known_noise(page)
    url = page.url
    assert urlsplit(url).path == path
    assert query_of(url) == expected
    shown = view(page)
    assert link_shown(page) == url, "Link to this view shows the page's URL"
    assert shown != before, "the widgets changed the view"
    screenshot(page, f"deep-link-{path.strip('/')}-set")

    ctx, fresh = open_in_a_fresh_context(browser, url, heading)
    try:
        if path == "/train":  # the numbers of a run appear once it has trained: one Step
            step_once(fresh)
        if path == "/compare":  # and a comparison's once it has run
            run_comparison(fresh)
        assert view(fresh) == shown, "the same widget values and the same numbers"
        assert fresh.url == url, "the link is kept in the address bar"
        assert fresh.locator('[data-testid="stAlertContentWarning"]').count() == 0
        assert_clean_but_known_noise(fresh)
        screenshot(fresh, f"deep-link-{path.strip('/')}-opened")
    finally:
        ctx.close()


BAD_LINKS = [
    (
        "/theorem",
        "The gradient theorem",
        "?problem=%3Cscript%3Ealert(1)%3C/script%3E&logit_0=NaN&seed=%27;DROP%20TABLE",
        ["problem", "logit_0", "seed"],
    ),
    (
        "/train",
        "Live training",
        "?lr=abc&hidden=600&n_seeds=99&speed=%E2%98%83&color=red",
        ["lr", "hidden", "n_seeds", "speed", "color"],
    ),
    (
        "/heatmap",
        "Policy heatmap",
        "?checkpoint=99999&x=1e999&overlay=maybe&" + "k" * 200 + "=1",
        ["checkpoint", "x", "overlay", "k" * 24],
    ),
    ("/replay", "Replay", "?seed=-1&mode=GREEDY&nudge_step=0&theta=0.5", ["seed", "mode", "nudge_step", "theta"]),
    (
        "/compare",
        "Compare estimators",
        "?estimators=reinforce,ppo&gae_lambda=0.33&seeds=0&critic=%3Cb%3Ebig%3C/b%3E",
        ["estimators", "gae_lambda", "seeds", "critic"],
    ),
    ("/", "Policy Gradients, Visually", "?present=2&x=1", ["present", "x"]),
]


@pytest.mark.parametrize("path, heading, query, names", BAD_LINKS, ids=[p[0].strip("/") or "home" for p in BAD_LINKS])
def test_a_bad_link_shows_a_warning_per_parameter_and_no_exception(server, page, path, heading, query, names):
    open_page(page, server["url"], path + query, heading)
    boxes = page.locator(f'{MAIN} [data-testid="stAlertContentWarning"]')
    texts = [
        line
        for i in range(boxes.count())
        for line in boxes.nth(i).inner_text().splitlines()
        if line.startswith("Ignored")
    ]
    assert len(texts) == len(names), texts
    for name in names:
        assert any(f"?{name}" in text for text in texts), (name, texts)
    assert page.locator("script:text('alert(1)')").count() == 0
    page.wait_for_url(lambda u: query_of(u) == {}, timeout=10_000)  # rewritten without the bad parameters
    assert_clean_but_known_noise(page)
    screenshot(page, f"deep-link-bad-{path.strip('/') or 'home'}")


# ---------------------------------------------------------------------------------------------
# A link to your own training run: another server recomputes the run and shows the same view
# ---------------------------------------------------------------------------------------------
SEEN_TEXTS = """(() => { window.__seen = new Set();
  new MutationObserver(() => document.querySelectorAll('[data-testid="stProgress"]')
      .forEach(e => window.__seen.add(e.innerText.trim())))
    .observe(document, {subtree: true, childList: true, characterData: true}); })()"""
HEATMAP_VIEW = """() => ({
  checkpoint: document.querySelector('[data-testid="stMain"] [data-testid="stSlider"] input[type="range"]')
      .getAttribute('aria-valuetext'),
  metrics: [...document.querySelectorAll('[data-testid="stMain"] [data-testid="stMetricValue"]')].map(e => e.innerText),
  latex: [...document.querySelectorAll('[data-testid="stMain"] .katex-mathml annotation')].map(e => e.textContent),
})"""


def train_to_the_end(page, url: str) -> None:
    """Live training as fast as possible, seed 5, Start, until the run has ended."""
    open_page(page, url, "/", "Policy Gradients, Visually")
    page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name="Live training").click()
    wait_for_page(page, "Live training")
    fast = page.locator(SIDEBAR).get_by_text(re.compile("fast as possible", re.I))
    if fast.count():
        rerun_after(page, fast.first.click)
    type_number(page, "Seed", "5", SIDEBAR)
    page.locator(MAIN).get_by_role("button", name="Start").click()
    page.wait_for_function(
        """() => { const b = [...document.querySelectorAll('[data-testid="stMain"] button')]
                   .find(b => b.innerText.trim().endsWith('Start'));
                   return b && !b.disabled && !document.querySelector('[data-testid="stStatusWidget"]'); }""",
        timeout=120_000)
    drawn(page)


def test_a_link_to_your_run_opens_the_same_checkpoint_on_another_server(server, browser, page):

    train_to_the_end(page, server["url"])
    page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name="Policy heatmap").click()
    wait_for_page(page, "Policy heatmap")
    assert "your training run" in page.locator(MAIN).inner_text()
    updates = int(query_of(page.url)["run"])  # a short run keeps every checkpoint, 0 to updates
    press(page, 0, "Home", *["ArrowRight"] * (updates // 2))  # a middle checkpoint
    shown = page.evaluate(HEATMAP_VIEW)
    url = link_shown(page)
    query = query_of(url)
    assert query["checkpoint"] == shown["checkpoint"] == str(updates // 2) and query["run"] == str(updates)
    assert query["run_seed"] == "5"
    screenshot(page, "deep-link-run-heatmap-set")

    proc, other = start_server()  # a fresh browser on a fresh server: nobody has this run
    ctx = browser.new_context(viewport=LAPTOP)
    try:
        fresh = ctx.new_page()
        fresh.console_errors = []
        fresh.on("pageerror", lambda e: fresh.console_errors.append(str(e)))
        fresh.add_init_script(SEEN_TEXTS)
        watch_network(fresh)
        fresh.goto(other + urlsplit(url).path + "?" + urlsplit(url).query)
        settle(fresh, "Policy heatmap")
        progress = fresh.evaluate("() => [...window.__seen]")
        assert any(t.startswith("Recomputing the training run in this link: update") for t in progress), progress
        assert fresh.evaluate(HEATMAP_VIEW) == shown, "the same checkpoint and the same numbers"
        assert fresh.locator('[data-testid="stAlertContentWarning"]').count() == 0
        assert "the training run in this link" in fresh.locator(MAIN).inner_text()
        assert query_of(fresh.url) == query, "its own link is the same link"
        assert_clean_but_known_noise(fresh)
        screenshot(fresh, "deep-link-run-heatmap-opened")
    finally:
        ctx.close()
        proc.terminate()
        proc.wait(timeout=10)


def test_a_link_whose_run_cannot_be_reproduced_is_one_line_and_the_shipped_policy(server, page):
    open_page(page, server["url"], "/heatmap?run=221&checkpoint=221&run_lr=abc", "Policy heatmap")
    (warning,) = page.locator(f'{MAIN} [data-testid="stAlertContentWarning"] [data-testid="stMarkdownContainer"]').all()
    text = warning.inner_text().strip()
    assert "\n" not in text and "?run_lr=abc" in text and "Could not reproduce" in text
    assert "pre-trained policy" in page.locator(MAIN).inner_text()
    assert_clean_but_known_noise(page)
    screenshot(page, "deep-link-run-refused")
