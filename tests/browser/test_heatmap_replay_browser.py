"""The Policy heatmap and Replay pages in a real browser: sliders redraw the heatmap, both
replay videos load and play, nothing errors; screenshots at laptop and projector size."""

from __future__ import annotations

import re

import conftest
import pytest
from conftest import screenshot, wait_for_app, watch_network

pytestmark = pytest.mark.browser

CHART = '[data-testid="stVegaLiteChart"]'
# streamlit 1.67's slider thumb is a visually hidden <input type="range"> (react-aria)
SLIDER_THUMB = '[data-testid="stSlider"] input[type="range"]'
# Only these pages' own direct-visit 404s count as known noise here (conftest.py says why).
KNOWN_404 = re.compile(r"/(heatmap|replay)/_stcore/(health|host-config)$")
VIDEO_STATE = """() => Array.from(document.querySelectorAll('[data-testid="stMain"] video')).map(v => ({
    duration: v.duration, error: v.error && v.error.code, readyState: v.readyState,
    currentTime: v.currentTime, paused: v.paused, width: v.getBoundingClientRect().width,
    played: v.played.length ? v.played.end(0) : 0}))"""


def assert_clean_but_known_noise(page) -> None:
    """conftest's check, with only these pages' 404s as noise, and no replaced video allowed."""
    conftest.assert_clean_but_known_noise(page, known_404=KNOWN_404, media_removed_ok=False)


def warm_up(page, url) -> None:
    """Visit the entry page once. On a freshly started server a deep link is run as a
    Streamlit "pages/ directory" app until some session has run the entry's st.navigation;
    tests/browser/test_fresh_server_browser.py checks that it still lands on the right page."""
    page.goto(url)
    wait_for_app(page)
    # the page titles (not file names) in the sidebar: streamlit_app.py's st.navigation has run
    page.locator('[data-testid="stSidebarNav"]').get_by_text("Policy heatmap").wait_for()


def screenshots(page, name: str) -> None:
    """The first screen as the audience sees it, and the whole page (Streamlit scrolls inside
    stMain, so a full-page screenshot needs a viewport as tall as the content)."""
    screenshot(page, name)
    size = page.viewport_size
    height = page.evaluate("""() => document.querySelector('[data-testid="stMain"]').scrollHeight""")
    if height > size["height"]:
        page.set_viewport_size({"width": size["width"], "height": height})
        page.wait_for_timeout(600)  # charts re-fit to the new viewport
        screenshot(page, f"{name}-full")
        page.set_viewport_size(size)


def open_heatmap(page, url):
    watch_network(page)
    warm_up(page, url)
    page.goto(url + "/heatmap")
    wait_for_app(page)
    page.get_by_role("heading", name="Policy heatmap").wait_for()
    page.locator(f"{CHART} canvas, {CHART} svg").first.wait_for()
    wait_for_app(page)
    assert "Policy heatmap" in page.locator('[data-testid="stSidebarNav"]').inner_text(), "run through streamlit_app.py"


def heatmap_picture(page) -> bytes:
    chart = page.locator(CHART).first
    chart.scroll_into_view_if_needed()
    return chart.screenshot()


def rerun_after(page, action) -> None:
    """Do ``action`` and wait until the app has re-run and drawn again."""
    action()
    page.wait_for_timeout(300)  # the rerun request reaches the server
    wait_for_app(page)
    page.wait_for_timeout(500)  # Vega draws the new data


def test_heatmap_sliders_redraw_the_picture(server, page):
    open_heatmap(page, server["url"])
    thumbs = page.locator(SLIDER_THUMB)
    assert thumbs.count() == 3  # checkpoint, x, cart velocity
    checkpoint = thumbs.nth(0)
    last = checkpoint.input_value()
    final_picture = heatmap_picture(page)

    checkpoint.focus()
    rerun_after(page, lambda: checkpoint.press("Home"))
    assert checkpoint.input_value() == "0" != last
    early_picture = heatmap_picture(page)
    assert early_picture != final_picture, "moving the checkpoint slider redraws the heatmap"
    screenshot(page, "heatmap-early-checkpoint")

    checkpoint.focus()
    rerun_after(page, lambda: checkpoint.press("End"))
    x = thumbs.nth(1)
    x.focus()
    rerun_after(page, lambda: [x.press("ArrowRight") for _ in range(8)])
    assert float(x.get_attribute("aria-valuetext")) == pytest.approx(0.8)
    assert heatmap_picture(page) != final_picture, "moving the cart-position slider redraws the heatmap"
    assert page.get_by_text("Slice at x = 0.8 m").count() == 1

    rerun_after(page, lambda: page.get_by_test_id("stCheckbox").get_by_text("Visited states").click())
    assert_clean_but_known_noise(page)
    screenshots(page, "heatmap")


def test_heatmap_is_large_on_a_large_screen(server, full_hd_page):
    """At 1920x1080 (a large screen or a good projector) the heatmap gets the room it needs.
    At 1280x720 a projector is used in presenter mode: tests/browser/test_layout_browser.py
    checks that the page is whole there."""
    open_heatmap(full_hd_page, server["url"])
    assert_clean_but_known_noise(full_hd_page)
    chart = full_hd_page.locator(CHART).first.bounding_box()
    assert chart["height"] > 350 and chart["width"] > 700
    screenshots(full_hd_page, "heatmap")


def wait_for_videos(page, count: int = 2) -> list[dict]:
    page.wait_for_function(
        f"""() => {{
            const videos = document.querySelectorAll('[data-testid="stMain"] video');
            return videos.length === {count}
                && Array.from(videos).every(v => v.readyState >= 1 && v.duration > 0 && !v.paused);
        }}""",
        timeout=30_000,
    )
    return page.evaluate(VIDEO_STATE)


def assert_playing(page) -> None:
    first = wait_for_videos(page)
    for video in first:
        assert video["error"] is None
        assert video["readyState"] >= 1 and video["duration"] > 0
        assert not video["paused"], "autoplay (muted) starts the replay"
    page.wait_for_timeout(1200)
    later = page.evaluate(VIDEO_STATE)
    for before, after in zip(first, later):
        assert after["error"] is None
        moved = after["currentTime"] != before["currentTime"] or after["played"] > before["played"]
        assert moved, f"the video plays: {before} -> {after}"


def open_replay(page, url):
    watch_network(page)
    warm_up(page, url)
    page.goto(url + "/replay")
    wait_for_app(page)
    page.get_by_role("heading", name="Replay").wait_for()
    page.locator(f"{CHART} canvas, {CHART} svg").first.wait_for()
    wait_for_app(page)
    assert "Policy heatmap" in page.locator('[data-testid="stSidebarNav"]').inner_text(), "run through streamlit_app.py"


def record_specs(page) -> list[str]:
    """Every chart spec the server sends, as the text of the websocket frames that carry it."""
    frames: list[str] = []

    def on_socket(socket):
        socket.on("framereceived", lambda payload: frames.append(
            payload.decode("utf-8", "replace") if isinstance(payload, bytes) else payload))

    page.on("websocket", on_socket)
    return frames


def time_domains(frames: list[str]) -> set[int]:
    """The ends of the time axes ([0, N], N > 1: P(push right)'s [0, 1] is not one) sent last."""
    last = [f for f in frames if '"vconcat"' in f][-2:]  # the two traces charts of the last run
    return {int(n) for f in last for n in re.findall(r'"domain":\s*\[0,\s*(\d+)\]', f) if int(n) > 1}


def test_replay_videos_play_and_the_nudge_reruns(server, page):
    frames = record_specs(page)
    open_replay(page, server["url"])
    assert_playing(page)
    metrics = page.locator('[data-testid="stMetricValue"]').all_inner_texts()
    assert len(metrics) == 2 and metrics[0] != metrics[1]
    durations = [v["duration"] for v in page.evaluate(VIDEO_STATE)]
    assert durations[0] == pytest.approx(durations[1], abs=0.05), "the short clip holds its end: equal clips"
    longest = max(int(m.split()[0]) for m in metrics)
    assert time_domains(frames) == {longest}, "both agents' traces on one time axis, 0 ... the longer episode"
    assert page.get_by_text("The untrained agent, sampling each push from its policy,").count() == 1
    screenshots(page, "replay")

    rerun_after(page, lambda: page.get_by_test_id("stCheckbox").get_by_text("Nudge the pole").click())
    assert page.locator(SLIDER_THUMB).count() == 2  # nudge step and strength
    caption = page.get_by_text(re.compile(r"recovers from nudges between [-+]\d\.\d and [-+]\d\.\d rad/s at step 100"))
    caption.wait_for()
    assert caption.count() == 1
    strength = page.locator(SLIDER_THUMB).nth(1)
    strength.focus()
    rerun_after(page, lambda: strength.press("End"))  # the strongest nudge knocks the pole over
    page.wait_for_function(
        """() => Array.from(document.querySelectorAll('[data-testid="stMetricValue"]'))
                 .map(m => m.innerText).every(t => !t.startsWith('500'))""",
        timeout=30_000,
    )
    assert_playing(page)
    assert_clean_but_known_noise(page)
    screenshots(page, "replay-nudged")


def test_replay_at_projector_size_in_presenter_mode(server, projector_page):
    """At a projector, in presenter mode (sidebar collapsed), the clips are big enough to read."""
    page = projector_page
    watch_network(page)
    warm_up(page, server["url"])
    page.goto(server["url"] + "/replay?present=1")
    wait_for_app(page)
    page.get_by_role("heading", name="Replay").wait_for()
    videos = wait_for_videos(page)
    screenshots(page, "replay-present")
    for video in videos:
        assert 480 <= video["width"] <= 900, "big enough to read from the back, two fit side by side"
    assert_clean_but_known_noise(page)


def test_replay_on_a_phone(server, phone_page):
    open_replay(phone_page, server["url"])
    wait_for_videos(phone_page)
    assert_clean_but_known_noise(phone_page)
    screenshots(phone_page, "replay-phone")
