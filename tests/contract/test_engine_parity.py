"""One engine, four roads: the gym env (local), the engine's ``replay()``, the server's step API and
the server's replay endpoint give bit-identical equity curves and identical metrics for the same
candles and the same actions (SPEC §2.1), on SQLite and PostgreSQL.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
import pytest
from numpy.typing import NDArray
from tests.support.platform import AccountKey, LiveServer

from agentexchange import AgentExchangeClient
from tradeready.server.db.engine import make_engine, make_session_factory
from tradeready.server.store.market import MarketStore
from tradeready_core.data import MarketData, synthetic_candles
from tradeready_core.engine import EngineConfig, EpisodeResult, replay
from tradeready_gym.envs import ContinuousTradingEnv

START = "2024-01-01T00:00:00Z"
HOUR = 3_600_000
BARS = 400
CONFIG = EngineConfig(starting_balance=10_000.0, fee_rate=0.001, slippage_bps=5.0)


@pytest.fixture
def market(live_server: LiveServer) -> MarketData:
    btc = synthetic_candles("BTCUSDT", "1h", START, BARS, seed=21)
    eth = synthetic_candles("ETHUSDT", "1h", START, BARS, seed=22)
    engine = make_engine(live_server.settings.resolved_database_url)
    try:
        with make_session_factory(engine)() as db:
            for candles in (btc, eth):
                MarketStore(db).insert_candles(candles)
            db.commit()
    finally:
        engine.dispose()
    return MarketData.from_candles([btc, eth])


@pytest.fixture
def client(live_server: LiveServer, account: AccountKey) -> Iterator[AgentExchangeClient]:
    with AgentExchangeClient(api_key=account.api_key, base_url=live_server.url, max_retries=0) as sdk:
        yield sdk


def _engine(market: MarketData, columns: list[int], start: int, targets: NDArray[np.float64]) -> EpisodeResult:
    def cut(a: NDArray[np.float64]) -> NDArray[np.float64]:
        return np.ascontiguousarray(a[:, columns])

    return replay(cut(market.open), cut(market.high), cut(market.low), cut(market.close), CONFIG, "1h", start, targets)


def _wire(targets: NDArray[np.float64]) -> list[list[float | None]]:
    return [[None if math.isnan(w) else w for w in row] for row in targets.tolist()]


def _server_step(
    client: AgentExchangeClient, symbols: list[str], start_ms: int, targets: NDArray[np.float64], *, batch: bool
) -> str:
    steps = int(targets.shape[0])
    session = client.create_backtest(
        symbols=symbols, timeframe="1h", start_time=start_ms, end_time=start_ms + (steps + 1) * HOUR,
        starting_balance=CONFIG.starting_balance, fee_rate=CONFIG.fee_rate, slippage_bps=CONFIG.slippage_bps,
    )  # fmt: skip
    assert session["total_steps"] == steps
    rows = _wire(targets)
    if batch:
        answer = client.step_backtest(session["session_id"], steps=steps, targets=rows)  # type: ignore[arg-type]
    else:
        for row in rows:
            answer = client.step_backtest(session["session_id"], steps=1, targets=row)
    assert answer["done"]
    return session["session_id"]


def _server_replay(
    client: AgentExchangeClient, symbols: list[str], start_ms: int, targets: NDArray[np.float64], metrics: object
) -> str:
    rows = _wire(targets)
    recorded = client.replay_episode(
        {
            "symbols": symbols, "timeframe": "1h", "start_time": start_ms,
            "targets": [r[0] for r in rows] if len(symbols) == 1 else rows, "metrics": metrics,
            "starting_balance": CONFIG.starting_balance, "fee_rate": CONFIG.fee_rate,
            "slippage_bps": CONFIG.slippage_bps, "strategy_label": "parity",
        }
    )  # fmt: skip
    assert recorded["metrics_mismatch"] is None, recorded["metrics_mismatch"]
    return recorded["session_id"]


def _assert_same(client: AgentExchangeClient, session_id: str, expected: EpisodeResult) -> None:
    equity = np.array(client.get_equity_curve(session_id)["equity"], dtype=np.float64)
    assert equity.tobytes() == expected.equity.tobytes()  # bit for bit
    assert client.get_backtest(session_id)["metrics"] == expected.metrics.as_dict()
    trades = client.get_trades(session_id)
    assert [(t["quantity"], t["price"], t["fee"]) for t in trades] == [
        (f.quantity, f.price, f.fee) for f in expected.fills
    ]


def test_env_engine_step_api_and_replay_agree_single_asset(
    client: AgentExchangeClient, market: MarketData, db_backend: str
) -> None:
    frame = market.candles("BTCUSDT").to_frame()
    env = ContinuousTradingEnv(
        "BTCUSDT", data=frame, timeframe="1h", lookback_window=10, episode_length=80, track_training=False,
        starting_balance=CONFIG.starting_balance, fee_rate=CONFIG.fee_rate, slippage_bps=CONFIG.slippage_bps,
    )  # fmt: skip
    env.reset(seed=5)
    env.action_space.seed(5)
    info: dict[str, object] = {}
    done = False
    while not done:
        _, _, terminated, truncated, info = env.step(env.action_space.sample())
        done = terminated or truncated
    local = env.episode_result()
    env.close()
    log = np.asarray(info["action_log"], dtype=np.float64)
    start_ms = int(info["episode_start_time"])  # type: ignore[call-overload]
    start = int(np.searchsorted(market.open_time, start_ms))

    engine = _engine(market, [0], start, log)
    assert engine.equity.tobytes() == local.equity.tobytes()
    assert engine.metrics == local.metrics and info["episode_metrics"] == local.metrics.as_dict()

    stepped = _server_step(client, ["BTCUSDT"], start_ms, log, batch=False)
    _assert_same(client, stepped, engine)
    replayed = _server_replay(client, ["BTCUSDT"], start_ms, log, info["episode_metrics"])
    _assert_same(client, replayed, engine)


def test_engine_step_api_and_replay_agree_two_assets_with_holds(
    client: AgentExchangeClient, market: MarketData
) -> None:
    rng = np.random.default_rng(9)
    steps, start = 120, 37
    targets = rng.uniform(0.0, 0.6, size=(steps, 2))
    targets[rng.random((steps, 2)) < 0.3] = np.nan  # holds
    start_ms = int(market.open_time[start])
    engine = _engine(market, [0, 1], start, targets)
    assert engine.metrics.total_trades > 20

    for batch in (False, True):
        _assert_same(client, _server_step(client, ["BTCUSDT", "ETHUSDT"], start_ms, targets, batch=batch), engine)
    replayed = _server_replay(client, ["BTCUSDT", "ETHUSDT"], start_ms, targets, engine.metrics.as_dict())
    _assert_same(client, replayed, engine)


def test_replay_flags_metrics_that_do_not_match(client: AgentExchangeClient, market: MarketData) -> None:
    targets = np.full((10, 1), 0.5)
    engine = _engine(market, [0], 0, targets)
    claimed = {**engine.metrics.as_dict(), "sharpe_ratio": engine.metrics.sharpe_ratio + 1e-3, "total_trades": 99}
    recorded = client.replay_episode(
        {"symbols": ["BTCUSDT"], "timeframe": "1h", "start_time": int(market.open_time[0]),
         "targets": [0.5] * 10, "metrics": claimed}
    )  # fmt: skip
    assert recorded["metrics_mismatch"] == {
        "sharpe_ratio": [claimed["sharpe_ratio"], engine.metrics.sharpe_ratio],
        "total_trades": [99, engine.metrics.total_trades],
    }
