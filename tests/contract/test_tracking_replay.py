"""Contract gym tracker <-> platform: what the tracker reports is what the platform's replay computes.

For every kind of environment the tracker uploads each episode's action log; the platform replays
it through the same engine on its own candles and records any difference with the client's metrics
(``metrics_mismatch``). A mismatch, a refused payload or a missing session fails here.
"""

from __future__ import annotations

from typing import Any

import pytest
from tests.gym.tracking.helpers import insert_candles, make_env, run_episodes, tracker_of
from tests.support import shared_data
from tests.support.platform import AccountKey, LiveServer

from agentexchange import AgentExchangeClient
from tradeready_core.data import load_candles

MARKET = str(shared_data.MARKET)
VARIANTS: dict[str, dict[str, Any]] = {
    "discrete": {"env_id": "TradeReady-BTC-v0", "position_size": 0.5},
    "continuous-short-costs": {
        "env_id": "TradeReady-BTC-Continuous-v0",
        "allow_short": True,
        "fee_rate": 0.002,
        "slippage_bps": 12.0,
    },
    "portfolio": {"env_id": "TradeReady-Portfolio-v0", "symbols": ["BTCUSDT", "ETHUSDT", "SOLUSDT"]},
}


@pytest.fixture
def client(live_server: LiveServer, account: AccountKey) -> Any:
    for symbol in ("BTCUSDT", "ETHUSDT", "SOLUSDT"):
        insert_candles(live_server, load_candles(f"{MARKET}/{symbol}-1h.csv").slice("2024-12-01", "2025-02-01"))
    with AgentExchangeClient(api_key=account.api_key, base_url=live_server.url) as made:
        yield made


@pytest.fixture(autouse=True)
def isolated_trainer(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRADEREADY_HOME", str(tmp_path / "trainer-home"))
    monkeypatch.setenv("TRADEREADY_CACHE_DIR", str(tmp_path / "candle-cache"))
    monkeypatch.setenv("TRADEREADY_TRACKING_SESSION", f"contract-{tmp_path.name}")


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_reported_metrics_equal_the_platforms_replay(client: AgentExchangeClient, variant: str) -> None:
    kwargs = dict(VARIANTS[variant])
    env = make_env(client, label=f"contract_{variant}", episode_length=30, **kwargs)
    played = run_episodes(env, 4, seed=11)
    env.close()

    run = client.get_training_run(tracker_of(env).run_id or "")
    assert run["status"] == "completed" and run["total_episodes"] == 4
    for stored, mine in zip(run["episodes"], played, strict=True):
        session = client.get_backtest(stored["session_id"])
        assert session["metrics_mismatch"] is None, session["metrics_mismatch"]
        assert session["source"] == "training" and session["strategy_label"] == f"contract_{variant}"
        assert session["total_steps"] == stored["steps"] == 30
        for name in ("roi_pct", "sharpe_ratio", "max_drawdown_pct", "total_trades", "final_equity"):
            assert stored[name] == mine[name] == session["metrics"][name]
        assert session["engine_config"]["allow_short"] is bool(kwargs.get("allow_short", False))
    # the run's live progress came through the heartbeat (the last one is sent before completion)
    assert run["current_step"] == 4 * 30
