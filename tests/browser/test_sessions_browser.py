"""Sessions in a real browser: two sessions training side by side each see their own run, and
two sessions on the same settings share one computation. (benchmarks/bench_load.py does the
same with 20 and 50 sessions, and measures time and memory.)"""

from __future__ import annotations

import re
import threading

import pytest
from conftest import start_server, wait_for_app

from pg.algo.reinforce import TrainConfig, train
from pg.app.presets import config_from_form, form_values

pytestmark = pytest.mark.browser

MAIN = '[data-testid="stMain"]'
NEW_RUN = re.compile(r"\[pg\] computing a new run: seed (\d+), (\d+) seed\(s\)")
WALL = re.compile(r"after ([\d.]+) s of training")


@pytest.fixture(scope="module")
def logged_server():
    """A server of its own whose output is read as it comes (runs are counted from it)."""
    proc, url = start_server()
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True)
    reader.start()
    yield {"url": url, "lines": lines}
    proc.terminate()
    proc.wait(timeout=10)


def expected_banner(seed: int) -> str:
    """The page's banner for the default settings and ``seed``, its wall time left as {wall}."""
    cfg = TrainConfig(seed=seed)
    assert config_from_form({**form_values(TrainConfig()), "seed": seed}) == cfg
    episodes = 0
    for update in train(cfg):
        episodes += len(update.episode_returns)
        if update.solved:
            return (f"Solved at update {update.iteration}: greedy mean return {update.eval_return:.1f} over "
                    f"{cfg.eval_episodes} episodes ≥ {cfg.solve_return:g}, confirmed at {update.confirm_return:.1f} "
                    f"on {cfg.eval_episodes} fresh episodes, after {{wall}} s of training, "
                    f"{episodes:,} episodes and {update.env_steps:,} env steps.")
    raise AssertionError(f"seed {seed} does not solve")


def runs_computed(lines: list[str]) -> list[tuple[int, int]]:
    """(seed, seeds) of every "computing a new run" message (two may share a line)."""
    return [(int(s), int(n)) for line in list(lines) for s, n in NEW_RUN.findall(line)]


def open_with_seed(browser, url: str, seed: int, enter: bool = True):
    ctx = browser.new_context(viewport={"width": 1366, "height": 860})
    page = ctx.new_page()
    page.set_default_timeout(90_000)  # a busy CI machine
    page.goto(url + "/train")  # a deep link runs through the entry even on a fresh server
    page.get_by_role("heading", name="Live training").wait_for()
    wait_for_app(page, timeout=90_000)
    box = page.get_by_label("Seed", exact=True)
    box.fill(str(seed))
    if enter:
        box.press("Enter")
        try:  # let the rerun start (a quick one may come and go unseen), then finish
            page.wait_for_selector('[data-testid="stStatusWidget"]', timeout=1500)
        except Exception:  # noqa: BLE001
            pass
        wait_for_app(page, timeout=90_000)
        assert box.input_value() == str(seed)
    return ctx, page


def start(page):
    page.locator(MAIN).get_by_role("button", name="Start").click()


def banner_text(page) -> str:
    banner = page.locator(f'{MAIN} [data-testid="stAlert"]').filter(has_text="Solved at update")
    banner.wait_for()
    wait_for_app(page, timeout=90_000)
    return banner.first.inner_text().strip()


def check(banner: str, seed: int) -> None:
    wall = WALL.search(banner)
    assert wall, banner
    assert banner == expected_banner(seed).format(wall=wall.group(1))


def test_two_sessions_training_at_once_each_see_their_own_run(logged_server, browser):
    before = len(runs_computed(logged_server["lines"]))
    sessions = [open_with_seed(browser, logged_server["url"], seed) for seed in (3, 5)]
    try:
        for _, page in sessions:  # both press Start before either has finished
            start(page)
        banners = [banner_text(page) for _, page in sessions]
    finally:
        for ctx, _ in sessions:
            ctx.close()
    check(banners[0], 3)
    check(banners[1], 5)
    assert sorted(runs_computed(logged_server["lines"])[before:]) == [(3, 1), (5, 1)]


def test_two_sessions_on_the_same_settings_share_one_computation(logged_server, browser):
    before = len(runs_computed(logged_server["lines"]))
    sessions = [open_with_seed(browser, logged_server["url"], 11) for _ in range(2)]
    try:
        for _, page in sessions:
            start(page)
        banners = [banner_text(page) for _, page in sessions]
    finally:
        for ctx, _ in sessions:
            ctx.close()
    check(banners[0], 11)
    # the banner names the run's training time: two computations would not show the same one
    assert banners[1] == banners[0], "the same run, wall time included: one computation, replayed"
    assert runs_computed(logged_server["lines"])[before:] == [(11, 1)]


def test_a_seed_typed_then_start_trains_that_seed(logged_server, browser):
    ctx, page = open_with_seed(browser, logged_server["url"], 7, enter=False)
    try:
        start(page)  # the click commits the box (blur) and presses Start in the same rerun
        banner = banner_text(page)
        assert page.get_by_label("Seed", exact=True).input_value() == "7"
    finally:
        ctx.close()
    check(banner, 7)
