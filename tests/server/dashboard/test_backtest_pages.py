"""The backtest list (hide training sessions) and session page against the live server, on both databases."""

from __future__ import annotations

import httpx
import numpy as np
import pytest
from tests.server.dashboard.platform_data import run_session, store_candles
from tests.support.platform import AccountKey, LiveServer

from tradeready.server.dashboard.backtests import drawdown_pct


def test_hide_training_sessions_and_open_one(web: httpx.Client, api: httpx.Client, live_server: LiveServer) -> None:
    store_candles(live_server)
    run_id = api.post("/training/runs", json={"strategy_label": "ppo_v1"}).json()["run_id"]
    manual = run_session(api, "sma_cross")
    prefixed = run_session(api, "ppo_v1_eval")
    trained = run_session(api, "ppo_v1", training_run_id=run_id, episode=1, source="training")

    everything = web.get("/backtests").text
    assert all(s in everything for s in (manual, prefixed, trained))
    by_link = web.get("/backtests", params={"hide_training": "1"}).text
    assert manual in by_link and prefixed in by_link and trained not in by_link
    by_prefix = web.get("/backtests", params={"hide_training": "1", "label_prefix": "ppo_"}).text
    assert manual in by_prefix and prefixed not in by_prefix and trained not in by_prefix
    of_run = web.get("/backtests", params={"training_run_id": run_id}).text
    assert trained in of_run and manual not in of_run
    assert web.get("/backtests", params={"status": "exploded"}).status_code == 422

    page = web.get(f"/backtests/{trained}")
    assert page.status_code == 200
    assert f'href="/training/{run_id}"' in page.text
    charts = web.get(f"/dashboard-api/backtests/{manual}/charts").json()
    assert charts["symbol"] == "BTCUSDT" and charts["price"]["kind"] == "ohlc"
    assert len(charts["equity"]["time"]) == len(charts["equity"]["equity"]) >= 2
    assert charts["trades"] and {t["side"] for t in charts["trades"]} <= {"buy", "sell"}
    assert min(charts["drawdown"]["drawdown_pct"]) == 0.0
    assert web.get(f"/dashboard-api/backtests/{manual}/charts", params={"symbol": "ETHUSDT"}).status_code == 422


def test_backtests_of_another_account_are_invisible(
    web: httpx.Client, live_server: LiveServer, other_account: AccountKey
) -> None:
    store_candles(live_server)
    with httpx.Client(base_url=live_server.url + "/api/v1", headers={"X-API-Key": other_account.api_key}) as theirs:
        hidden = run_session(theirs, "their_secret")
    assert hidden not in web.get("/backtests").text
    assert "No backtest sessions yet" in web.get("/backtests").text
    assert web.get(f"/backtests/{hidden}").status_code == 404
    assert web.get(f"/dashboard-api/backtests/{hidden}/charts").status_code == 404


def test_drawdown_is_measured_from_the_running_peak() -> None:
    assert drawdown_pct(np.array([100.0, 110.0, 99.0, 121.0])).tolist() == pytest.approx([0.0, 0.0, 10.0, 0.0])
    assert drawdown_pct(np.array([], dtype=np.float64)).tolist() == []
