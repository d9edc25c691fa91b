"""The Credit assignment page in a real browser: the frame, both charts and the question are drawn;
the step slider reruns only its panel (the frame and the metrics change, the sentence above stays);
answering the question reveals the measured change. Screenshots at laptop size."""

from __future__ import annotations

import re

import conftest
import pytest
from conftest import drawn, screenshot, wait_for_page, watch_network

pytestmark = pytest.mark.browser

MAIN = '[data-testid="stMain"]'
KNOWN_404 = re.compile(r"/credit/_stcore/(health|host-config)$")


def metric(page, label: str) -> str:
    return page.locator(f'{MAIN} [data-testid="stMetric"]:has-text("{label}") [data-testid="stMetricValue"]').inner_text()


def test_the_step_slider_moves_the_frame_and_the_numbers_and_the_question_answers(server, page):
    watch_network(page)
    page.goto(server["url"] + "/credit")
    wait_for_page(page, "Credit assignment")
    assert page.locator(f"{MAIN} [data-testid='stVegaLiteChart']").count() == 2
    image = page.locator(f"{MAIN} [data-testid='stImage'] img")
    assert image.count() == 1 and image.evaluate("img => img.naturalWidth") > 0, "the frame is drawn"
    sentence = page.locator(f"{MAIN} p:has-text('moved the way the sign of its advantage says')").inner_text()
    before = (image.get_attribute("src"), metric(page, "Return Gₜ"))

    thumb = page.get_by_role("slider", name="Step t").first  # streamlit 1.67: a hidden <input type="range">
    thumb.focus()
    for _ in range(5):
        page.keyboard.press("ArrowRight")
    drawn(page)
    assert thumb.get_attribute("aria-valuetext") == "5"
    after = (image.get_attribute("src"), metric(page, "Return Gₜ"))
    assert after[0] != before[0] and after[1] != before[1], "the frame and the return follow the slider"
    assert page.locator(f"{MAIN} p:has-text('moved the way the sign of its advantage says')").inner_text() == sentence

    question = page.locator(f"{MAIN} [data-testid='stRadio']")
    assert "Predict, then check: at step 5" in question.inner_text()
    assert page.locator(f"{MAIN} [data-testid='stAlert']").count() == 0, "nothing revealed before an answer"
    question.get_by_text("up", exact=True).click()
    drawn(page)
    answer = page.locator(f"{MAIN} [data-testid='stAlert']").inner_text()
    assert re.match(r"(Right|Not this time)\. It went (up|down): from 0\.\d{3} to 0\.\d{3}", answer), answer
    screenshot(page, "credit-answered")
    conftest.assert_clean_but_known_noise(page, known_404=KNOWN_404)
