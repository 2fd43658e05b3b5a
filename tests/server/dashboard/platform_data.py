"""Real data on a live platform for the dashboard tests: candles in the store, stepped backtest sessions."""

from __future__ import annotations

from typing import Any

import httpx
from tests.support.platform import LiveServer

from tradeready.server.db.engine import make_engine, make_session_factory
from tradeready.server.store.market import MarketStore
from tradeready_core.data import synthetic_candles

__all__ = ["run_session", "store_candles"]


def store_candles(server: LiveServer) -> None:
    engine = make_engine(server.settings.resolved_database_url)
    try:
        with make_session_factory(engine)() as session:
            MarketStore(session).insert_candles(synthetic_candles("BTCUSDT", "1h", "2025-01-01", periods=300, seed=3))
            session.commit()
    finally:
        engine.dispose()


def run_session(api: httpx.Client, label: str, **extra: Any) -> str:
    created = api.post(
        "/backtests",
        json={
            "symbols": ["BTCUSDT"],
            "timeframe": "1h",
            "start_time": "2025-01-01T00:00:00Z",
            "end_time": "2025-01-04T00:00:00Z",
            "strategy_label": label,
            **extra,
        },
    )
    assert created.status_code == 201, created.text
    session_id: str = created.json()["session_id"]
    for i in range(8):
        step = api.post(f"/backtests/{session_id}/step", json={"steps": 8, "targets": [1.0 if i % 2 == 0 else 0.0]})
        assert step.status_code == 200, step.text
        if step.json().get("done"):
            break
    return session_id
