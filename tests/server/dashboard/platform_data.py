"""Real data on a live platform for the dashboard tests: candles in the store, stepped backtest sessions."""

from __future__ import annotations

from typing import Any

import httpx
from tests.support.platform import LiveServer

from tradeready.server.db.engine import make_engine, make_session_factory
from tradeready.server.store.market import MarketStore
from tradeready_core.data import synthetic_candles

__all__ = ["evaluation_body", "run_session", "store_candles"]


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


def evaluation_body(run_id: str, model_rois: list[float], baselines: dict[str, list[float]]) -> dict[str, Any]:
    """A ``POST /evaluations`` body: the model ``PPO`` and named baselines, one ROI per held-out episode."""

    def agent(name: str, kind: str, rois: list[float]) -> dict[str, Any]:
        return {
            "name": name,
            "kind": kind,
            "episodes": [
                {
                    "episode": i,
                    "roi_pct": roi,
                    "sharpe_ratio": roi / 4,
                    "max_drawdown_pct": 3.0,
                    "total_trades": 2 * i,
                    "win_rate": 0.5,
                }
                for i, roi in enumerate(rois, start=1)
            ],
        }

    windows = [
        {
            "episode": i,
            "start_time": 1_700_000_000_000 + i * 10**8,
            "end_time": 1_700_000_000_000 + i * 10**8 + 3_600_000,
            "steps": 500,
        }
        for i in range(1, len(model_rois) + 1)
    ]
    return {
        "run_id": run_id,
        "name": "held-out Q3",
        "model": "PPO",
        "env_id": "TradeReady-BTC-v0",
        "episodes": windows,
        "agents": [agent("PPO", "model", model_rois)] + [agent(n, "baseline", r) for n, r in baselines.items()],
    }
