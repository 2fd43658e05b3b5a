"""The dashboard in a real browser (Debian's chromium via Playwright) against the live platform.

Real runs are created through the REST API; a background thread reports a running training while
the browser watches it. Every page's screenshot is saved under ``artifacts/screenshots/``.
"""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.e2e.browser import Browser
from tests.e2e.conftest import Trainer, episode
from tests.server.dashboard.platform_data import evaluation_body, run_session, store_candles
from tests.support.platform import AccountKey, LiveServer

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def make_run(api: httpx.Client, label: str, n_episodes: int, *, complete: bool, **extra: object) -> str:
    run_id: str = api.post("/training/runs", json={"strategy_label": label, **extra}).json()["run_id"]
    if n_episodes:
        batch = [episode(i, ((i * 7) % 11) / 3 - 1.0 + i / 60) for i in range(1, n_episodes + 1)]
        assert api.post(f"/training/runs/{run_id}/episodes", json={"episodes": batch}).status_code == 200
    if complete:
        assert api.post(f"/training/runs/{run_id}/complete", json={}).status_code == 200
    return run_id


def number(text: str) -> int:
    return int(re.sub(r"[^0-9]", "", text) or 0)


def sign_in(page: Page, server: LiveServer, api_key: str) -> None:
    page.goto(server.url + "/training")
    expect(page).to_have_url(re.compile(r"/login\?next=%2Ftraining$"))
    page.get_by_label("API key").fill(api_key)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(server.url + "/training")


def test_watch_a_run_learn_compare_and_sign_out(
    browser: Browser, live_server: LiveServer, account: AccountKey, api: httpx.Client, db_backend: str
) -> None:
    finished = make_run(
        api,
        "dqn_baseline",
        3000,
        complete=True,
        env_id="TradeReady-BTC-v0",
        config={"algorithm": "DQN", "hyperparameters": {"learning_rate": 0.0001}},
    )
    live_id = make_run(
        api,
        "ppo_sharpe_v1",
        40,
        complete=False,
        env_id="TradeReady-BTC-Continuous-v0",
        total_timesteps=200_000,
        config={"algorithm": "PPO", "reward": "SharpeReward(window=50)", "hyperparameters": {"n_steps": 2048}},
    )
    trainer = Trainer(live_server.url, account.api_key, live_id, first_episode=41)
    trainer.start()
    try:
        page = browser.new_page()
        page.goto(live_server.url + "/login")
        browser.screenshot(page, f"01-sign-in-{db_backend}")
        sign_in(page, live_server, account.api_key)
        assert account.api_key not in page.content()

        # /training: the active card's episode count and progress advance without a reload.
        card = page.locator(f'#active-cards [data-run-id="{live_id}"]')
        expect(card).to_be_visible()
        episodes = card.locator('[data-role="episodes"]')
        first = number(episodes.inner_text())
        assert first >= 40
        page.wait_for_function(
            "([sel, n]) => { const el = document.querySelector(sel);"
            " return el && parseInt(el.textContent.replace(/\\D/g, ''), 10) > n; }",
            arg=[f'#active-cards [data-run-id="{live_id}"] [data-role="episodes"]', first],
            timeout=20_000,
        )
        expect(card.get_by_role("progressbar", name="Progress within the current episode")).to_have_attribute(
            "aria-valuenow", re.compile(r"^(25|50|75)\.0$")
        )
        expect(card.get_by_role("progressbar", name="Overall training progress")).to_be_visible()
        expect(page.locator("#nav-live-dot")).to_be_visible()
        expect(page.locator(f'#runs-table tr[data-run-id="{finished}"] svg.spark polyline')).to_have_count(1)
        browser.screenshot(page, f"02-training-{db_backend}")

        # Filter by status, then sort by a column (both server-side, swapped in place).
        page.get_by_label("Status").select_option("completed")
        expect(page.locator("#runs-table tbody tr")).to_have_count(1)
        page.get_by_label("Status").select_option("")
        expect(page.locator("#runs-table tbody tr")).to_have_count(2)
        page.locator('#runs-table a.sort[data-sort="total_episodes"]').click()
        expect(page.locator("#runs-table th[aria-sort]")).to_contain_text("Episodes")

        # The run page: header, chart, live episode count, metric picker, smoothing window.
        page.locator(f'#runs-table tr[data-run-id="{live_id}"] a', has_text="ppo_sharpe_v1").click()
        expect(page).to_have_url(live_server.url + f"/training/{live_id}")
        expect(page.locator("h1")).to_contain_text("ppo_sharpe_v1")
        expect(page.locator("#run-config")).to_contain_text("SharpeReward(window=50)")
        empty_evaluations = page.locator("#evaluations-empty")  # not evaluated yet: how to do it
        expect(empty_evaluations).to_contain_text("Not evaluated yet")
        expect(empty_evaluations.locator("pre")).to_contain_text("tradeready evaluate model.zip --algo PPO")
        expect(empty_evaluations.locator("pre")).to_contain_text(f"--run-id {live_id}")
        chart = page.locator("#curve-chart")
        expect(chart.locator(".main-svg").first).to_be_visible()
        expect(chart).to_have_attribute("data-metric", "roi_pct")
        total = page.locator('#run-summary [data-field="total_episodes"]')
        shown = number(total.inner_text())
        page.wait_for_function(
            "([n]) => parseInt(document.querySelector('#run-summary [data-field=\"total_episodes\"]')"
            ".textContent.replace(/\\D/g, ''), 10) > n",
            arg=[shown],
            timeout=20_000,
        )
        page.wait_for_function(
            "([n]) => parseInt(document.querySelector('#curve-chart').dataset.points, 10) > n",
            arg=[shown],
            timeout=20_000,
        )
        sharpe = page.get_by_role("button", name="Sharpe")
        sharpe.focus()
        page.keyboard.press("Enter")  # keyboard-usable
        expect(sharpe).to_have_attribute("aria-pressed", "true")
        expect(chart).to_have_attribute("data-metric", "sharpe_ratio")
        page.get_by_label("Smoothing window (episodes)").fill("25")
        expect(chart).to_have_attribute("data-window", "25")
        expect(page.locator("#curve-note")).to_contain_text("last 25 episodes")
        page.locator("#episodes-table a.sort", has_text="ROI").click()
        expect(page.locator("#episodes-table")).to_have_attribute("data-sort", "roi_pct")
        expect(chart).to_have_attribute("data-metric", "sharpe_ratio")  # swapped in place, chart untouched
        browser.screenshot(page, f"03-run-{db_backend}")

        # Compare the two runs, selected in the table.
        page.get_by_role("link", name="Training", exact=True).click()
        page.get_by_label(re.compile(f"Select dqn_baseline \\({finished}\\)")).check()
        page.get_by_label(re.compile(f"Select ppo_sharpe_v1 \\({live_id}\\)")).check()
        expect(page.locator("#compare-count")).to_have_text("2 runs selected.")
        page.get_by_role("link", name="Compare selected").click()
        expect(page).to_have_url(re.compile(r"/training/compare\?run_ids="))
        for metric in ("roi_pct", "sharpe_ratio", "reward_sum"):
            expect(page.locator(f"#compare-chart-{metric}")).to_have_attribute("data-traces", "2")
        expect(page.locator("#compare-chart-roi_pct .legend")).to_contain_text("dqn_baseline")
        expect(page.locator("#compare-table td.best").first).to_be_visible()
        browser.screenshot(page, f"04-compare-{db_backend}")

        # A long run is downsampled; zooming in fetches every episode of the visible range.
        # It was evaluated against baselines: the run page shows the table and the verdict.
        body = evaluation_body(finished, [3.0, 1.0], {"buy_and_hold": [2.5, 2.0], "sma_crossover": [0.5, -0.5]})
        assert api.post("/evaluations", json=body).status_code == 201
        page.goto(live_server.url + f"/training/{finished}")
        verdict = page.locator("#evaluations .verdict")
        expect(verdict).to_have_attribute("data-verdict", "loses")
        expect(verdict).to_contain_text("Does not beat buy-and-hold after fees")
        table = page.get_by_role("table", name=re.compile("Agents of evaluation"))
        expect(table.locator("tbody tr")).to_have_count(3)
        expect(table.locator('tr[data-agent="buy_and_hold"] td').first).to_have_text("+2.25%")
        browser.screenshot(page, f"03c-run-evaluations-{db_backend}")
        expect(page.locator("#curve-note")).to_contain_text("of 3,000 episodes (downsampled after smoothing")
        chart = page.locator("#curve-chart")
        downsampled = int(chart.get_attribute("data-points") or 0)
        assert downsampled <= 1001
        page.evaluate("Plotly.relayout(document.getElementById('curve-chart'), {'xaxis.range': [1000.5, 1400.5]})")
        expect(chart).to_have_attribute("data-zoomed", "999-1401")
        expect(chart).to_have_attribute("data-points", "402")  # episodes 1000..1401, each one
        expect(page.locator("#curve-note")).to_contain_text("Zoomed: every episode from 1,000 to 1,401")
        browser.screenshot(page, f"03b-run-zoomed-{db_backend}")
        chart.locator(".nsewdrag").first.dblclick()  # double-click: back to the whole run
        expect(chart).not_to_have_attribute("data-zoomed", re.compile(".*"))
        expect(chart).to_have_attribute("data-points", str(downsampled))

        # The run finishes: the run page shows it and stops polling.
        page.goto(live_server.url + f"/training/{live_id}")
        expect(page.locator("#live-note")).to_contain_text("Live")
        trainer.finish()
        assert api.post(f"/training/runs/{live_id}/complete", json={}).status_code == 200
        expect(page.locator("#run-status .status")).to_have_text("completed", timeout=15_000)
        expect(page.locator("#live-note")).to_have_text("")
        expect(page.locator("#nav-live-dot")).to_be_hidden()

        # Dark theme toggle, phone width.
        page.get_by_role("button", name=re.compile("Switch to (dark|light) theme")).click()
        page.set_viewport_size({"width": 390, "height": 844})
        page.goto(live_server.url + "/training")
        browser.screenshot(page, f"05-training-phone-{db_backend}")
        page.set_viewport_size({"width": 1366, "height": 900})

        # Unknown run: a clear error page (the browser logs the document's own 404, nothing else).
        assert browser.console_errors == []
        page.goto(live_server.url + "/training/run_doesnotexist")
        expect(page.locator("h1")).to_have_text("Not found")
        expect(page.locator("main")).to_contain_text("No training run 'run_doesnotexist' in this account.")
        browser.screenshot(page, f"06-not-found-{db_backend}")
        assert [e for e in browser.console_errors if "/training/run_doesnotexist" not in e] == []
        browser.console_errors.clear()

        page.get_by_role("button", name="Sign out").click()
        expect(page).to_have_url(re.compile(r"/login\?signed_out=1$"))
        page.goto(live_server.url + "/training")
        expect(page).to_have_url(re.compile(r"/login\?next="))
    finally:
        trainer.finish()
    assert trainer.errors == []
    assert browser.console_errors == []


def test_empty_dashboard_explains_how_to_start(
    browser: Browser, live_server: LiveServer, account: AccountKey, db_backend: str
) -> None:
    page = browser.new_page()
    sign_in(page, live_server, account.api_key)
    expect(page.locator("#empty-state")).to_contain_text("Start your first tracked run")
    expect(page.locator("#empty-state pre")).to_contain_text("TradeReady-BTC-Continuous-v0")
    browser.screenshot(page, f"07-training-empty-{db_backend}")
    page.goto(live_server.url + "/training/compare")
    expect(page.get_by_role("link", name="Choose runs")).to_be_visible()
    assert browser.console_errors == []


def test_backtests_hide_training_sessions_and_show_trades(
    browser: Browser, live_server: LiveServer, account: AccountKey, api: httpx.Client, db_backend: str
) -> None:
    store_candles(live_server)
    run_id = make_run(api, "ppo_v1", 0, complete=False)
    manual = run_session(api, "sma_cross")
    trained = run_session(api, "ppo_v1", training_run_id=run_id, episode=1, source="training")
    linked = episode(1, 0.5) | {"session_id": trained}
    assert api.post(f"/training/runs/{run_id}/episodes", json=linked).status_code == 200

    page = browser.new_page()
    sign_in(page, live_server, account.api_key)
    page.get_by_role("link", name="Backtests").click()
    rows = page.locator("#backtests-table tbody tr")
    expect(rows).to_have_count(2)
    browser.screenshot(page, f"08-backtests-{db_backend}")
    page.get_by_label("Hide training sessions").check()
    expect(rows).to_have_count(1)
    expect(page.locator(f'#backtests-table tr[data-session-id="{manual}"]')).to_be_visible()
    expect(page.get_by_label("Hide training sessions")).to_be_checked()

    page.get_by_role("link", name=manual).click()
    expect(page.locator("#equity-chart .main-svg").first).to_be_visible()
    expect(page.locator("#price-chart")).to_have_attribute("data-trades", re.compile(r"^[1-9]\d*$"))
    expect(page.locator("#price-note")).to_contain_text("on BTCUSDT")
    browser.screenshot(page, f"09-backtest-session-{db_backend}")

    # From a training episode to its backtest session.
    page.goto(live_server.url + f"/training/{run_id}")
    page.locator("#episodes-table").get_by_role("link", name="session").click()
    expect(page).to_have_url(live_server.url + f"/backtests/{trained}")
    expect(page.locator("main")).to_contain_text(run_id)
    assert browser.console_errors == []


def test_a_missing_chromium_fails_loudly(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="chromium not found at '/nonexistent/chromium'"):
        Browser.launch(tmp_path / "profile", executable="/nonexistent/chromium")


CHART_XS = (
    "() => { const c = document.getElementById('curve-chart');"
    " return c.data ? c.data.map(t => Array.from(t.x)) : null; }"
)
POINTS_AT_LEAST = "([n]) => parseInt(document.querySelector('#curve-chart').dataset.points, 10) >= n"


def assert_each_episode_once_in_order(xs: list[list[int]], last: int) -> None:
    assert len(xs) == 2
    for trace in xs:
        assert trace == list(range(1, last + 1)), f"episodes missing, out of order or repeated: {trace}"


def test_live_points_arrive_once_and_in_order(
    browser: Browser, live_server: LiveServer, account: AccountKey, api: httpx.Client
) -> None:
    """Several live polls, a hidden/shown tab and late (out-of-order) episodes: each episode once, in order."""
    live_id = make_run(api, "ppo_live", 40, complete=False)
    page = browser.new_page()
    sign_in(page, live_server, account.api_key)
    page.goto(live_server.url + f"/training/{live_id}")
    chart = page.locator("#curve-chart")
    expect(chart).to_have_attribute("data-points", "40")

    def report(numbers: range) -> None:
        batch = [episode(n, (n % 7) / 2 - 1.0) for n in numbers]
        assert api.post(f"/training/runs/{live_id}/episodes", json={"episodes": batch}).status_code == 200

    # a tracker's spool delivers 46..52 before 41..45 (a batch that failed and was retried)
    report(range(46, 53))
    page.wait_for_function(POINTS_AT_LEAST, arg=[47], timeout=15_000)
    for _ in range(3):  # the tab is shown again while a poll may be in flight: never two pollers
        page.evaluate("() => document.dispatchEvent(new Event('visibilitychange'))")
        page.wait_for_timeout(300)
    report(range(41, 46))
    page.wait_for_function(POINTS_AT_LEAST, arg=[52], timeout=15_000)
    for n in range(53, 60):  # then in order, one per poll or so
        report(range(n, n + 1))
        page.wait_for_timeout(400)
    page.wait_for_function(POINTS_AT_LEAST, arg=[59], timeout=15_000)
    page.wait_for_timeout(2_500)  # one more poll: nothing is appended twice
    assert_each_episode_once_in_order(page.evaluate(CHART_XS), 59)
    expect(chart).to_have_attribute("data-points", "59")

    page.get_by_label("Smoothing window (episodes)").fill("5")  # a full redraw agrees
    expect(chart).to_have_attribute("data-window", "5")
    assert_each_episode_once_in_order(page.evaluate(CHART_XS), 59)
    assert browser.console_errors == []
