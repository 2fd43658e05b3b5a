"""The training pages and their data endpoints against the live server with real runs, on both databases."""

from __future__ import annotations

import re
import time
from typing import Any

import httpx
import pytest
from tests.server.dashboard.conftest import sign_in
from tests.server.dashboard.platform_data import evaluation_body
from tests.support.platform import AccountKey, LiveServer, create_account

from tradeready.server.dashboard.assets import PLOTLY_URL
from tradeready.server.settings import Settings


def make_run(api: httpx.Client, label: str, rois: list[float], **extra: Any) -> str:
    created = api.post("/training/runs", json={"strategy_label": label, **extra})
    assert created.status_code == 201, created.text
    run_id: str = created.json()["run_id"]
    if rois:
        episodes = [
            {
                "episode": i,
                "roi_pct": roi,
                "sharpe_ratio": roi / 2,
                "max_drawdown_pct": abs(roi) + 1,
                "total_trades": i % 7,
                "reward_sum": roi * 10,
                "session_id": f"bt_{run_id[-6:]}_{i}" if i % 2 else None,
            }
            for i, roi in enumerate(rois, start=1)
        ]
        sent = api.post(f"/training/runs/{run_id}/episodes", json={"episodes": episodes})
        assert sent.status_code == 200, sent.text
    return run_id


def episode_numbers(html: str) -> list[int]:
    body = html.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return [int(n) for n in re.findall(r'<tr>\s*<td class="num">(\d+)</td>', body)]


def test_empty_training_page_says_how_to_start(web: httpx.Client, live_server: LiveServer) -> None:
    page = web.get("/training")
    assert page.status_code == 200
    assert "No training runs yet" in page.text
    assert 'gym.make("TradeReady-BTC-Continuous-v0"' in page.text
    assert f"TRADEREADY_BASE_URL={live_server.url}" in page.text


def test_training_page_lists_cards_table_and_sparklines(web: httpx.Client, api: httpx.Client) -> None:
    active = make_run(api, "ppo_v1", [1.0, -2.0, 3.0], env_id="TradeReady-BTC-v0", total_timesteps=1000)
    beat = {
        "step": 640,
        "episode": 4,
        "episode_steps": 40,
        "episode_length": 160,
        "steps_per_second": 812.5,
        "total_timesteps": 1000,
        "timesteps_done": 640,
    }
    assert api.post(f"/training/runs/{active}/heartbeat", json=beat).status_code == 200
    done = make_run(api, "dqn_v1", [0.5, 0.7])
    assert api.post(f"/training/runs/{done}/complete", json={}).status_code == 200

    page = web.get("/training").text
    card = page.split('id="active-cards"', 1)[1].split("</section>", 1)[0]
    assert active in card and done not in card
    assert "25.0" in card and 'aria-valuenow="64.0"' in card  # episode 40/160 steps; overall 640/1000
    assert "812" in card
    assert page.count('class="spark spark-') == 2
    fragment = web.get("/training/fragments/active").text
    assert active in fragment and "<html" not in fragment

    only_done = web.get("/training/fragments/runs", params={"status": "completed"}).text
    assert done in only_done and active not in only_done
    by_label = web.get("/training/fragments/runs", params={"strategy_label": "ppo_v1"}).text
    assert active in by_label and done not in by_label
    ascending = web.get("/training/fragments/runs", params={"sort": "avg_roi_pct", "order": "asc"}).text
    assert ascending.index(done) < ascending.index(active)  # 0.6 < 0.67
    descending = web.get("/training/fragments/runs", params={"sort": "avg_roi_pct", "order": "desc"}).text
    assert descending.index(active) < descending.index(done)
    bad = web.get("/training", params={"sort": "password"})
    assert bad.status_code == 422
    assert "allowed" in bad.text


def test_run_page_episode_table_sorts_and_pages_on_the_server(web: httpx.Client, api: httpx.Client) -> None:
    rois = [float((i * 37) % 101) - 50.0 for i in range(1, 121)]
    run_id = make_run(api, "sorting", rois, config={"algorithm": "PPO", "hyperparameters": {"learning_rate": 0.0003}})
    page = web.get(f"/training/{run_id}")
    assert page.status_code == 200
    assert "PPO" in page.text and "hyperparameters.learning_rate" in page.text
    assert episode_numbers(page.text) == list(range(120, 70, -1))  # newest first, 50 per page
    assert "Page 1 of 3" in page.text

    best = web.get(f"/training/{run_id}/fragments/episodes", params={"ep_sort": "roi_pct", "ep_order": "desc"})
    expected = sorted(range(1, 121), key=lambda n: (-rois[n - 1], n))[:50]
    assert episode_numbers(best.text) == expected
    last_page = web.get(
        f"/training/{run_id}/fragments/episodes", params={"ep_sort": "roi_pct", "ep_order": "asc", "ep_page": 3}
    )
    assert episode_numbers(last_page.text) == sorted(range(1, 121), key=lambda n: (rois[n - 1], n))[100:]
    assert "Episodes 101–120 of 120" in last_page.text
    assert (
        f'href="/backtests/bt_{run_id[-6:]}_1"'
        in web.get(f"/training/{run_id}/fragments/episodes", params={"ep_sort": "episode", "ep_order": "asc"}).text
    )
    assert web.get(f"/training/{run_id}/fragments/episodes", params={"ep_sort": "nope"}).status_code == 422


def test_curve_endpoints_downsample_and_send_only_new_points(web: httpx.Client, api: httpx.Client) -> None:
    run_id = make_run(api, "curve", [float(i % 9) for i in range(1, 301)])
    gap = [
        {
            "episode": 301,
            "roi_pct": 5.0,
            "sharpe_ratio": None,
            "max_drawdown_pct": 1.0,
            "total_trades": 0,
            "reward_sum": 0.0,
        }
    ]  # an undefined Sharpe ratio inside the window
    assert api.post(f"/training/runs/{run_id}/episodes", json={"episodes": gap}).status_code == 200
    base = f"/dashboard-api/training/runs/{run_id}/learning-curve"
    full = web.get(base, params={"metric": "reward_sum", "window": 5, "max_points": 50}).json()
    assert full["n_total"] == 301 and full["n_returned"] <= 51 and full["method"] == "lttb"
    for metric in ("roi_pct", "sharpe_ratio"):
        for since, window in ((297, 3), (290, 20), (0, 7), (301, 4)):
            rest = f"/training/runs/{run_id}/learning-curve"
            every = api.get(rest, params={"metric": metric, "window": window}).json()["curve"]  # the REST API's
            tail = web.get(base, params={"metric": metric, "window": window, "since_episode": since}).json()
            assert tail["curve"] == [p for p in every if p["episode"] > since], (metric, since, window)
    rest = f"/training/runs/{run_id}/learning-curve"
    every = api.get(rest, params={"metric": "roi_pct", "window": 15}).json()["curve"]
    ranged = web.get(
        base, params={"metric": "roi_pct", "window": 15, "since_episode": 100, "until_episode": 120}
    ).json()
    assert ranged["curve"] == every[100:120] and ranged["truncated"] is False
    three = web.get(base, params={"metric": "roi_pct", "window": 3, "since_episode": 298}).json()["curve"]
    assert three[-1]["smoothed"] == pytest.approx((2.0 + 3.0 + 5.0) / 3)  # episodes 299..301
    bad = web.get(base, params={"metric": "password", "since_episode": 3})
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "validation_error"
    assert web.get(base, params={"window": 0, "since_episode": 3}).status_code == 422
    summary = web.get(f"/dashboard-api/training/runs/{run_id}/summary").json()
    assert summary["total_episodes"] == 301 and "episodes" not in summary and "curve" not in summary


def test_compare_page_marks_the_best_run(web: httpx.Client, api: httpx.Client) -> None:
    good = make_run(api, "good", [2.0, 4.0])
    poor = make_run(api, "poor", [-1.0, 0.0])
    page = web.get("/training/compare", params={"run_ids": f"{good},{poor}"})
    assert page.status_code == 200
    row = page.text.split(f'data-run-id="{good}"', 1)[1].split("</tr>", 1)[0]
    assert 'class="num best"' in row
    poor_row = page.text.split(f'data-run-id="{poor}"', 1)[1].split("</tr>", 1)[0]
    assert poor_row.count('class="num best"') == 1  # the lower (better) average drawdown
    assert web.get("/training/compare", params=[("run_ids", good), ("run_ids", poor)]).status_code == 200
    assert "Choose runs" in web.get("/training/compare").text
    curves = web.get("/dashboard-api/training/compare-curves", params={"run_ids": f"{good},{poor}"}).json()
    assert [r["run_id"] for r in curves["runs"]] == [good, poor]
    assert curves["runs"][0]["strategy_label"] == "good"


def test_another_accounts_runs_are_invisible(
    web: httpx.Client, live_server: LiveServer, other_account: AccountKey
) -> None:
    with httpx.Client(base_url=live_server.url + "/api/v1", headers={"X-API-Key": other_account.api_key}) as theirs:
        hidden = make_run(theirs, "secret_strategy", [1.0])
    assert "secret_strategy" not in web.get("/training").text
    page = web.get(f"/training/{hidden}")
    assert page.status_code == 404
    assert "No training run" in page.text and "secret_strategy" not in page.text
    assert web.get(f"/dashboard-api/training/runs/{hidden}/summary").status_code == 404
    assert web.get(f"/training/{hidden}/fragments/episodes").status_code == 404
    assert web.get("/training/compare", params={"run_ids": hidden}).status_code == 404


def test_abandoned_run_is_shown_as_such(platform_settings: Settings) -> None:
    settings = platform_settings.model_copy(update={"heartbeat_timeout_s": 0.3})
    with LiveServer(settings) as server:
        key = create_account(settings, "carol").api_key
        with httpx.Client(base_url=server.url + "/api/v1", headers={"X-API-Key": key}) as api:
            run_id = make_run(api, "crashed", [1.0])
        time.sleep(0.6)  # longer than the heartbeat timeout: the platform now reports the run abandoned
        with httpx.Client(base_url=server.url) as web:
            sign_in(web, key)
            cards = web.get("/training/fragments/active").text
    assert run_id in cards
    assert 'data-status="abandoned"' in cards and "trainer probably died" in cards
    assert 'data-any-running="false"' in cards


def test_pages_use_only_our_assets_with_a_strict_policy(web: httpx.Client, api: httpx.Client) -> None:
    run_id = make_run(api, "assets", [1.0, 2.0])
    page = web.get(f"/training/{run_id}")
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert sources and all(s.startswith(("/", "#")) for s in sources), sources
    assert PLOTLY_URL in sources
    plotly = web.get(PLOTLY_URL, headers={"Accept-Encoding": "gzip"})
    assert plotly.status_code == 200 and plotly.headers["content-encoding"] == "gzip"
    assert "immutable" in plotly.headers["cache-control"]
    assert b"plotly.js" in plotly.content[:200]
    css_url = next(s for s in sources if "app.css" in s)
    css = web.get(css_url)
    assert css.status_code == 200 and "prefers-color-scheme: dark" in css.text
    assert web.get(css_url, headers={"If-None-Match": css.headers["etag"]}).status_code == 304
    assert web.get("/dashboard/static/../settings.py").status_code == 404


def test_range_answer_tells_when_late_episodes_arrived_below_it(web: httpx.Client, api: httpx.Client) -> None:
    """Episodes reported out of order (a tracker's retried batch): the live range answer's ``total_episodes``
    exceeds the episodes a chart drawn up to ``since_episode`` holds, so the page knows to redraw."""
    run_id = make_run(api, "late", [1.0] * 10)
    base = f"/dashboard-api/training/runs/{run_id}/learning-curve"
    late = [
        {
            "episode": n,
            "roi_pct": float(n),
            "sharpe_ratio": 0.1,
            "max_drawdown_pct": 1.0,
            "total_trades": 1,
            "reward_sum": 0.0,
        }
        for n in range(11, 21)
    ]
    assert api.post(f"/training/runs/{run_id}/episodes", json={"episodes": late[4:]}).status_code == 200
    drawn = web.get(base, params={"window": 3}).json()
    assert [p["episode"] for p in drawn["curve"]] == [*range(1, 11), *range(15, 21)] and drawn["n_total"] == 16
    assert api.post(f"/training/runs/{run_id}/episodes", json={"episodes": late[:4]}).status_code == 200
    after = web.get(base, params={"window": 3, "since_episode": 20}).json()
    assert after["curve"] == [] and after["truncated"] is False
    assert after["total_episodes"] == 20 > drawn["n_total"] + len(after["curve"])
    full = web.get(base, params={"window": 3}).json()["curve"]
    assert [p["episode"] for p in full] == list(range(1, 21))


def test_run_page_shows_evaluations_against_baselines(
    web: httpx.Client, api: httpx.Client, live_server: LiveServer
) -> None:
    run_id = make_run(api, "ppo_eval", [1.0, 2.0], env_id="TradeReady-ETH-v0", config={"algorithm": "SAC"})
    empty = web.get(f"/training/{run_id}").text
    assert 'id="evaluations-empty"' in empty and "Not evaluated yet" in empty
    assert "tradeready evaluate model.zip --algo SAC --env TradeReady-ETH-v0" in empty
    assert f"--run-id {run_id}" in empty

    body = evaluation_body(run_id, [4.0, 2.0], {"buy_and_hold": [1.0, 2.5], "sma_crossover": [-1.0, 0.5]})
    created = api.post("/evaluations", json=body)
    assert created.status_code == 201, created.text
    evaluation_id = created.json()["evaluation_id"]
    listed = api.get("/evaluations", params={"run_id": run_id}).json()["evaluations"]  # the REST view of the same
    assert [e["evaluation_id"] for e in listed] == [evaluation_id]

    page = web.get(f"/training/{run_id}").text
    assert 'id="evaluations-empty"' not in page
    section = page.split(f'data-evaluation-id="{evaluation_id}"', 1)[1].split("</article>", 1)[0]
    assert 'data-verdict="beats"' in section and "Beats buy-and-hold after fees" in section
    assert "+1.25%" in section and "winning 1 of 2 episodes" in section  # mean 3.0 vs 1.75
    rows = re.findall(r'<tr data-agent="([^"]+)"', section)
    assert rows == ["PPO", "buy_and_hold", "sma_crossover"]
    ppo = section.split('data-agent="PPO"', 1)[1].split("</tr>", 1)[0]
    cells = [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r'<td class="num">(.*?)</td>', ppo, re.S)]
    assert cells == ["+3.00%", "0.75", "3.00%", "3.0", "50.0%"]  # mean ROI, Sharpe, max DD, trades, win rate

    no_baseline = evaluation_body(run_id, [-1.0], {"rsi_mean_reversion": [0.5]})
    assert api.post("/evaluations", json=no_baseline).status_code == 201
    losing = evaluation_body(run_id, [-1.0], {"buy_and_hold": [0.5]})
    assert api.post("/evaluations", json=losing).status_code == 201
    page = web.get(f"/training/{run_id}").text
    verdicts = re.findall(r'data-verdict="(\w+)"', page)
    assert verdicts == ["loses", "none", "beats"]  # newest first
    assert "Does not beat buy-and-hold after fees" in page and "ran no buy-and-hold baseline" in page
