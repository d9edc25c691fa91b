"""The Live training page in a real browser: Start makes the returns chart gain points redraw
after redraw while the live heatmap changes and the solved banner appears; Stop mid-run ends
the updates; the downloaded policy loads back through pg.runs.checkpoint; no console errors;
screenshots at laptop and projector size.

Redraws are counted in the page by a requestAnimationFrame sampler (``SAMPLER``): every frame
it reads the progress caption ("update N · ..."), the number of dots in the returns chart and
a signature of the heatmap's colours, and keeps each change with its time. The helpers here are
also used by benchmarks/bench_live.py.
"""

from __future__ import annotations

import json
import re
import time

import numpy as np
import pytest
from conftest import assert_clean_but_known_noise, drawn, full_screenshot, screenshot, wait_for_app, watch_network

from pg.app.presets import FORM_ADVANCED
from pg.runs.checkpoint import load_run
from pg.viz.training_charts import EVAL_KINDS

pytestmark = pytest.mark.browser

MAIN = '[data-testid="stMain"]'
SIDEBAR = '[data-testid="stSidebar"]'
CHART = '[data-testid="stVegaLiteChart"]'
ADVANCED = "Evaluation, budgets and more"
LABELS = {name: label for name, _, label, _ in FORM_ADVANCED}
KINDS = {name: kind for name, kind, _, _ in FORM_ADVANCED}
# the first test's run: the default preset kept training past its solve, long enough for a
# dozen redraws (the returns chart's pixels are read on only some of them)
UPDATES = 90
SAMPLER = """() => {
  // Per redraw (a new progress caption): its time, the caption, the dots of the returns chart
  // (its bluish pixels: the dots are the only blue there) and a signature of the heatmap's
  // colours. The charts draw on canvases some frames after the caption (many on a busy
  // machine), so the pixels are read again on every 3rd of the next 120 frames and the record
  // keeps the last reading.
  window.__seen = []; let last = null, pending = 0;
  const pixels = (chart) => {
    const canvas = chart && chart.querySelector('canvas');
    if (!canvas || !canvas.width || !canvas.height) return null;
    return canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  };
  const sample = () => {
    const caption = [...document.querySelectorAll('[data-testid="stMain"] [data-testid="stCaptionContainer"]')]
      .map(e => e.innerText).find(t => /^update \\d+/.test(t));
    if (caption && caption !== last) {
      last = caption; pending = 120; window.__seen.push([performance.now(), caption, -1, 0]);
    }
    if (pending > 0 && pending-- % 3 === 0) {
      const charts = document.querySelectorAll('[data-testid="stMain"] [data-testid="stVegaLiteChart"]');
      const record = window.__seen[window.__seen.length - 1];
      const returns = pixels(charts[0]);
      if (returns) {
        let blue = 0;
        for (let i = 0; i < returns.length; i += 4) if (returns[i + 2] - returns[i] > 25 && returns[i + 3] > 0) blue++;
        record[2] = blue;
      }
      const heat = pixels(charts[1]);
      if (heat) {
        let sig = 0;
        for (let i = 0; i < heat.length; i += 4 * 7) sig = (sig * 31 + heat[i] + 2 * heat[i + 1] + 3 * heat[i + 2]) | 0;
        record[3] = sig;
      }
    }
    requestAnimationFrame(sample);
  };
  requestAnimationFrame(sample);
}"""


# ---------------------------------------------------------------------------------------------
# Helpers (shared with benchmarks/bench_live.py)
# ---------------------------------------------------------------------------------------------
def watch_charts(page) -> None:
    """Record the data every chart receives: parse the server's websocket messages (Streamlit's
    ForwardMsg protobufs) and keep, per chart delta, {dataset name: Arrow table}. Call before
    the page opens its websocket."""
    import pyarrow as pa
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    page.chart_data = []

    def on_frame(payload) -> None:
        if isinstance(payload, str):
            return
        msg = ForwardMsg()
        msg.ParseFromString(payload)
        if msg.WhichOneof("type") != "delta" or msg.delta.WhichOneof("type") != "new_element":
            return
        element = msg.delta.new_element
        if element.WhichOneof("type") == "vega_lite_chart":
            tables = {d.name: pa.ipc.open_stream(d.data.data).read_all() for d in element.vega_lite_chart.datasets}
            tables["__title__"] = json.loads(element.vega_lite_chart.spec).get("title")
            page.chart_data.append(tables)

    page.on("websocket", lambda ws: ws.on("framereceived", on_frame))


def open_train(page, url: str) -> None:
    """Home first (a fresh server runs a deep link without the entry), then the page."""
    page.goto(url)
    wait_for_app(page)
    page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name="Live training").click()
    page.get_by_role("heading", name="Live training").wait_for()
    wait_for_app(page)
    page.locator(MAIN).get_by_role("button", name="Start").wait_for()


def rerun_after(page, action) -> None:
    action()
    page.wait_for_timeout(250)
    wait_for_app(page)


def set_advanced(page, **values) -> None:
    """Set fields of the "Evaluation, budgets and more" expander by name."""
    sidebar = page.locator(SIDEBAR)
    field = sidebar.get_by_label(LABELS["max_updates"], exact=True)
    if not field.is_visible():
        sidebar.get_by_text(ADVANCED).click()
        field.wait_for()
    for name, value in values.items():
        control = sidebar.get_by_label(LABELS[name], exact=True)
        if KINDS[name] == "bool":
            if control.is_checked() != value:
                rerun_after(page, sidebar.locator("label").filter(has_text=LABELS[name]).click)
            for _ in range(50):  # the rerun draws the switch again: wait for its new state
                if control.is_checked() == value:
                    break
                page.wait_for_timeout(100)
            assert control.is_checked() == value, name
        else:
            control.fill(str(value))
            rerun_after(page, lambda control=control: control.press("Enter"))


def set_number(page, label: str, value) -> None:
    control = page.locator(SIDEBAR).get_by_label(label, exact=True)
    control.fill(str(value))
    rerun_after(page, lambda: control.press("Enter"))


def set_seeds(page, n: int) -> None:
    thumb = page.locator(SIDEBAR).locator('[data-testid="stSlider"] input[type="range"]').first
    thumb.focus()
    rerun_after(page, lambda: [thumb.press("Home")] + [thumb.press("ArrowRight") for _ in range(n - 1)])


def choose_speed(page, name: str) -> None:
    rerun_after(page, page.locator(SIDEBAR).get_by_text(name, exact=True).click)


def choose_preset(page, name: str) -> None:
    page.locator(SIDEBAR).get_by_label("Preset", exact=True).click()
    rerun_after(page, lambda: page.get_by_role("option", name=name, exact=True).click())


def button(page, name: str):
    return page.locator(MAIN).get_by_role("button", name=name)  # the header has its own "Stop"


def caption(page) -> str:
    return page.locator(MAIN).get_by_test_id("stCaptionContainer").filter(has_text=re.compile(r"^update \d+")).inner_text()


def update_of(text: str) -> int:
    return int(re.match(r"update (\d+)", text).group(1))


def seen(page) -> list[list]:
    """The sampler's records: one per redraw (see SAMPLER)."""
    return page.evaluate("window.__seen")


def redraws(samples: list[list]) -> list[list]:
    """[(ms, caption, blue pixels of the returns chart, heatmap signature)], one per redraw."""
    return samples


def scroll_to_top(page) -> None:
    page.evaluate("""() => document.querySelector('[data-testid="stMain"]').scrollTo(0, 0)""")
    page.wait_for_timeout(300)


def wait_until_finished(page, timeout: float = 120_000) -> None:
    """Start is enabled again once the run has ended and the page has been redrawn."""
    page.wait_for_function(
        """() => { const b = [...document.querySelectorAll('[data-testid="stMain"] button')]
                   .find(b => b.innerText.trim().endsWith('Start'));
                   return b && !b.disabled && !document.querySelector('[data-testid="stStatusWidget"]'); }""",
        timeout=timeout,
    )


# ---------------------------------------------------------------------------------------------
# Tests
# ---------------------------------------------------------------------------------------------
def test_start_redraws_the_charts_the_heatmap_changes_and_the_solved_banner_shows(server, page, tmp_path):
    watch_network(page)
    watch_charts(page)
    open_train(page, server["url"])
    # the default preset, kept training past the solve, as fast as possible: a few seconds of redraws
    choose_speed(page, "As fast as possible")
    set_advanced(page, stop_on_solve=False, max_updates=UPDATES)
    page.evaluate(SAMPLER)
    start = time.perf_counter()
    button(page, "Start").click()
    page.locator(MAIN).get_by_text(re.compile(r"^Solved at update \d+: greedy mean")).wait_for(timeout=60_000)
    page.locator(MAIN).get_by_text(re.compile(rf"^update {UPDATES} · ")).wait_for(timeout=120_000)
    wall = time.perf_counter() - start
    wait_until_finished(page)
    frames = redraws(seen(page))
    updates = [update_of(s[1]) for s in frames]
    assert len(frames) >= 5, f"several redraws while training, got {updates}"
    assert updates == sorted(updates) and updates[-1] == UPDATES and updates[0] <= 1
    # the returns chart gains points: the episode dots it is sent grow redraw after redraw ...
    points = [len(t["episodes"]) for t in page.chart_data if "episodes" in t]
    assert len(points) >= 5 and points == sorted(points) and points[-1] == 600 > points[1], points
    # ... and its picture changes (its blue dots, counted in the canvas)
    blue = [s[2] for s in frames if s[2] >= 0]
    assert len(set(blue)) >= 4, f"the returns chart is redrawn: {blue}"
    # the live heatmap changes: its data and its picture
    grids = [t["grid"].column("p_right").to_pylist() for t in page.chart_data if "grid" in t]
    assert len(grids) >= 5 and len({tuple(g) for g in grids}) >= 4 and len(grids[-1]) == 25 * 25
    assert len({s[3] for s in frames if s[3]}) >= 3, "the heatmap's picture changes as the policy learns"
    rate = (len(frames) - 1) / ((frames[-1][0] - frames[0][0]) / 1000)
    print(f"\n{len(frames)} redraws in {wall:.1f} s: {rate:.1f} redraws/s; updates seen {updates}")
    banner = page.locator(MAIN).get_by_text(re.compile(r"^Solved at update")).inner_text()
    assert "≥ 475" in banner and "confirmed at" in banner
    assert page.locator(f"{MAIN} {CHART}").count() == 7
    # the policy downloads and loads back through pg.runs.checkpoint
    with page.expect_download() as info:
        page.locator(MAIN).get_by_role("button", name="Policy (.npz)").click()
    path = tmp_path / "policy.npz"
    info.value.save_as(path)
    run = load_run(path)
    assert np.isfinite(run.policy.params).all() and run.policy.params.shape == (10,)
    assert run.config["max_updates"] == UPDATES and run.config["stop_on_solve"] is False
    assert len(run.history["iteration"]) == UPDATES and run.history["eval_return"][-1] >= 475
    assert run.snapshots[0][0] == 0 and run.snapshots[-1][0] == UPDATES
    with page.expect_download() as info:
        page.locator(MAIN).get_by_role("button", name="History (CSV)").click()
    csv = (tmp_path / "history.csv")
    info.value.save_as(csv)
    assert csv.read_text().count("\n") == 1 + UPDATES
    assert_clean_but_known_noise(page)
    scroll_to_top(page)
    screenshot(page, "train-solved")
    full_screenshot(page, "train-solved")


def test_stop_mid_run_ends_the_updates(server, page):
    watch_network(page)
    open_train(page, server["url"])
    choose_speed(page, "As fast as possible")
    set_advanced(page, stop_on_solve=False, max_updates=100_000, max_episode_steps=50, eval_every=1000)
    page.evaluate(SAMPLER)
    button(page, "Start").click()
    page.wait_for_function("() => window.__seen.length >= 4", timeout=30_000)  # a few redraws
    assert button(page, "Start").is_disabled()
    clicked = page.evaluate("performance.now()")
    button(page, "Stop").click()
    wait_until_finished(page)
    idle = (page.evaluate("performance.now()") - clicked) / 1000
    stopped_at = update_of(caption(page))
    page.wait_for_timeout(1500)
    assert update_of(caption(page)) == stopped_at, "no updates after Stop"
    last = redraws(seen(page))[-1]
    assert update_of(last[1]) == stopped_at and 0 < stopped_at < 100_000
    latency = (last[0] - clicked) / 1000
    print(f"\nStop: last update drawn {latency:.2f} s after the click (update {stopped_at}), page idle after {idle:.2f} s")
    assert stopped_at < 100_000  # stopped long before the budget; the latency is reported, not timed
    assert page.locator(MAIN).get_by_role("button", name="Policy (.npz)").is_visible()
    assert_clean_but_known_noise(page)
    screenshot(page, "train-stopped")


def test_the_default_run_is_watchable(server, page):
    """A fresh visitor presses Start: a replay at human pace, at least 20 distinct redraws of
    the curves before the solved banner, at least 4 a second, over several seconds, with the
    real compute time in the caption."""
    watch_network(page)
    watch_charts(page)
    open_train(page, server["url"])
    page.evaluate(SAMPLER)
    button(page, "Start").click()
    banner = page.locator(MAIN).get_by_text(re.compile(r"^Solved at update \d+: greedy mean"))
    banner.wait_for(timeout=60_000)
    solved_at = int(re.match(r"Solved at update (\d+)", banner.inner_text()).group(1))
    wait_until_finished(page)
    frames = [f for f in seen(page) if not f[1].startswith("update 0 · the untrained")]
    before = [f for f in frames if update_of(f[1]) < solved_at]
    assert len({f[1] for f in before}) >= 20, [f[1] for f in before]
    # distinct chart data, not only captions: the dots the returns chart is sent grow
    dots = [len(t["episodes"]) for t in page.chart_data if "episodes" in t]
    assert len(set(dots)) >= 20 and dots == sorted(dots), dots
    seconds = (before[-1][0] - before[0][0]) / 1000
    rate = (len(before) - 1) / seconds
    print(f"\n{len(before)} redraws before the banner in {seconds:.1f} s: {rate:.1f} redraws/s (solved at {solved_at})")
    assert rate >= 4 and seconds >= 3, "watchable: several seconds at 4 or more redraws a second"
    assert re.search(r"computed in \d+\.\d\d s; shown at human pace$", caption(page))
    assert "confirmed at" in banner.inner_text()
    # the greedy-evaluation panel was sent every evaluation: the early ones cut short (drawn as
    # their bound), the last one completed, passed and confirmed
    evals = [t["evals"] for t in page.chart_data if "evals" in t][-1]
    assert [int(i) for i in evals.column("iteration").to_pylist()] == list(range(1, solved_at + 1))
    kinds = evals.column("kind").to_pylist()
    assert kinds[0] == EVAL_KINDS[1] and kinds[-1] == EVAL_KINDS[0], kinds
    assert evals.column("note").to_pylist()[-1].startswith("passed, confirmed at")
    assert_clean_but_known_noise(page)
    scroll_to_top(page)
    screenshot(page, "train-default-solved")


def test_a_collapsed_policy_is_explained(server, page):
    """MLP, SGD, learning rate 5 (a link): the policy collapses to one push within a few
    updates; the run stops and the banner says what happened and what to try."""
    watch_network(page)
    page.goto(server["url"])
    wait_for_app(page)
    page.goto(server["url"] + "/train?preset=neural-network&optimizer=sgd&lr=5&speed=as-fast-as-possible")
    page.get_by_role("heading", name="Live training").wait_for()
    wait_for_app(page)
    button(page, "Start").click()
    banner = page.locator(MAIN).get_by_text(re.compile(r"^Collapsed at update \d+: the policy became nearly"))
    banner.wait_for(timeout=60_000)
    wait_until_finished(page)
    text = banner.inner_text()
    assert re.search(r"it pushes (left|right) in \d+% of the heatmap's states", text), text
    assert "smaller learning rate" in text and "entropy bonus" in text
    assert_clean_but_known_noise(page)
    screenshot(page, "train-collapsed")


def test_before_start_the_page_shows_what_will_move(server, page):
    watch_network(page)
    watch_charts(page)
    open_train(page, server["url"])
    page.locator(f"{MAIN} {CHART}").nth(6).wait_for()  # the charts come after the buttons
    drawn(page)
    assert page.locator(f"{MAIN} {CHART}").count() == 7
    bars = [t["bars"].column("value").to_pylist() for t in page.chart_data if "bars" in t]
    assert bars and bars[-1] == [475.0, 195.0], "the solve bars, from the config"
    grids = [t for t in page.chart_data if "grid" in t]
    assert grids and len(grids[-1]["grid"]) == 25 * 25 and grids[-1]["__title__"] == "Policy of seed 0, untrained"
    assert re.match(r"update 0 · the untrained policy returns \d+\.\d on average with sampled actions", caption(page))
    assert "Press Start" in page.locator(MAIN).get_by_test_id("stAlert").first.inner_text()
    assert_clean_but_known_noise(page)
    screenshot(page, "train-before-start")


def test_three_seeds_are_each_plotted_to_their_own_end_and_the_heatmap_names_its_seed(server, page):
    watch_network(page)
    watch_charts(page)
    open_train(page, server["url"])
    choose_speed(page, "As fast as possible")
    set_number(page, "Seed", 1)  # seeds 1, 2, 3 solve at updates 13, 18, 18
    set_seeds(page, 3)
    button(page, "Start").click()
    page.locator(MAIN).get_by_text(re.compile(r"^3 of 3 seeds solved")).wait_for(timeout=60_000)
    wait_until_finished(page)
    last = [t for t in page.chart_data if "seeds" in t][-1]["seeds"].to_pandas()
    ends = last.groupby("seed")["iteration"].max().to_dict()
    assert ends == {1.0: 13.0, 2.0: 18.0, 3.0: 18.0}, ends
    band = [t for t in page.chart_data if "band" in t][-1]["band"].to_pandas()
    assert band.query("field == 'ma_return'")["iteration"].max() == 18
    titles = [t["__title__"] for t in page.chart_data if "grid" in t]
    assert titles[-1] == "Policy of seed 1, update 13"
    picker = page.locator(MAIN).get_by_label("Policy of seed", exact=True)
    wait_for_app(page)
    option = page.get_by_role("option", name="seed 3", exact=True)
    for _ in range(5):  # (a click as the page settles may not open the list)
        picker.click()
        if option.is_visible():
            break
        page.wait_for_timeout(500)
    rerun_after(page, option.click)
    titles = [t["__title__"] for t in page.chart_data if "grid" in t]
    assert titles[-1] == "Policy of seed 3, update 18"
    assert button(page, "Policy of seed 3 (.npz)").is_visible()
    assert caption(page).endswith("(seed 3; 3 seeds in all)")
    assert_clean_but_known_noise(page)
    scroll_to_top(page)
    screenshot(page, "train-3-seeds-laptop")


def test_presenter_mode_at_1280x720_shows_the_returns_and_the_heatmap_whole(server, projector_page):
    page = projector_page
    watch_network(page)
    page.goto(server["url"] + "/?present=1")
    wait_for_app(page)
    page.goto(server["url"] + "/train?present=1")
    page.get_by_role("heading", name="Live training").wait_for()
    wait_for_app(page)
    charts = page.locator(f"{MAIN} {CHART}")
    charts.nth(1).wait_for()
    page.wait_for_timeout(500)
    for k, name in ((0, "returns"), (1, "heatmap")):
        box = charts.nth(k).bounding_box()
        assert box["y"] >= 0 and box["y"] + box["height"] <= 720 and box["x"] + box["width"] <= 1280, (name, box)
    assert page.evaluate("""() => document.querySelector('[data-testid="stMain"]').scrollTop""") == 0
    heat = charts.nth(1).bounding_box()
    assert heat["width"] >= 300 and heat["height"] >= 250, f"a map, not a strip: {heat}"
    screenshot(page, "train-presenter-1280x720-before")
    button(page, "Start").click()
    page.locator(MAIN).get_by_text(re.compile(r"^Solved at update")).wait_for(timeout=60_000)
    wait_until_finished(page)
    scroll_to_top(page)
    for k, name in ((0, "returns"), (1, "heatmap")):
        box = charts.nth(k).bounding_box()
        assert box["y"] >= 0 and box["y"] + box["height"] <= 720, (name, box)
    assert_clean_but_known_noise(page)
    screenshot(page, "train-presenter-1280x720-solved")


def test_the_page_reads_on_a_phone(server, phone_page):
    page = phone_page
    watch_network(page)
    page.goto(server["url"])
    wait_for_app(page)
    page.goto(server["url"] + "/train")
    page.get_by_role("heading", name="Live training").wait_for()
    wait_for_app(page)
    page.locator(f"{MAIN} {CHART}").first.wait_for()
    assert_clean_but_known_noise(page)
    screenshot(page, "train-phone-before")


def test_several_seeds_in_presenter_mode_at_projector_size(server, projector_page):
    """Three seeds from a link, in presenter mode at 1280 x 720: the bands and the heatmap of
    the picked seed on one screen, large enough for the back of the room."""
    page = projector_page
    watch_network(page)
    page.goto(server["url"] + "/?present=1")
    wait_for_app(page)
    page.goto(server["url"] + "/train?present=1&n_seeds=3&speed=as-fast-as-possible")
    page.get_by_role("heading", name="Live training").wait_for()
    wait_for_app(page)
    button(page, "Start").click()
    page.locator(MAIN).get_by_text(re.compile(r"^3 of 3 seeds solved")).wait_for(timeout=60_000)
    wait_until_finished(page)
    scroll_to_top(page)
    assert caption(page).endswith("(seed 0; 3 seeds in all)")
    charts = page.locator(f"{MAIN} {CHART}")
    assert charts.count() == 7
    returns, heatmap = charts.nth(0).bounding_box(), charts.nth(1).bounding_box()
    assert returns["width"] > 700 and returns["height"] > 250, "readable from the back of the room"
    assert heatmap["y"] + heatmap["height"] <= 720 and returns["y"] + returns["height"] <= 720
    assert_clean_but_known_noise(page)
    screenshot(page, "train-3-seeds-presenter")
    full_screenshot(page, "train-3-seeds-presenter")
