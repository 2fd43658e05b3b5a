"""The backtest service on a real database (SQLite and PostgreSQL): action log, cache, workers, expiry."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta

import numpy as np
import pytest
from sqlalchemy.orm import Session, sessionmaker
from tests.support.platform import create_account

from tradeready.server.db.engine import make_engine, make_session_factory
from tradeready.server.db.migrate import upgrade
from tradeready.server.errors import ConflictError
from tradeready.server.schemas.backtests import BacktestCreate, BacktestStep, OrderCreate
from tradeready.server.services.backtests import BacktestLimits, BacktestRuntime, BacktestService, compare_metrics
from tradeready.server.settings import Settings
from tradeready.server.store.backtests import BacktestStore, SessionFilter
from tradeready.server.store.driver import postgres_idle
from tradeready.server.store.market import MarketStore
from tradeready.server.store.models.base import utcnow
from tradeready_core.data import Candles, synthetic_candles
from tradeready_core.engine import EngineConfig, replay

START = "2024-01-01T00:00:00Z"


@pytest.fixture
def db(platform_settings: Settings) -> Iterator[sessionmaker[Session]]:
    platform_settings.home.mkdir(parents=True, exist_ok=True)
    upgrade(platform_settings.resolved_database_url)
    engine = make_engine(platform_settings.resolved_database_url)
    yield make_session_factory(engine)
    engine.dispose()


@pytest.fixture
def btc(db: sessionmaker[Session]) -> Candles:
    candles = synthetic_candles("BTCUSDT", "1h", START, 500, seed=3)
    with db() as s:
        MarketStore(s).insert_candles(candles)
        s.commit()
    return candles


@pytest.fixture
def account_id(platform_settings: Settings, db: sessionmaker[Session]) -> str:
    return create_account(platform_settings, "svc").account_id


def _create(db: sessionmaker[Session], runtime: BacktestRuntime, account_id: str, bars: int = 200) -> str:
    with db() as s:
        body = BacktestCreate(
            symbols=["BTCUSDT"], timeframe="1h", start_time=START, end_time=1_704_067_200_000 + bars * 3_600_000
        )
        return BacktestService(s, runtime).create(account_id, body).id


def _step(
    db: sessionmaker[Session], runtime: BacktestRuntime, account_id: str, sid: str, w: float | None, n: int = 1
) -> dict[str, object]:
    with db() as s:
        answer = BacktestService(s, runtime).step(
            account_id, sid, BacktestStep(steps=n, targets=None if w is None else [w])
        )
        s.commit()
        return answer


def _equity(db: sessionmaker[Session], runtime: BacktestRuntime, account_id: str, sid: str) -> np.ndarray:
    with db() as s:
        return np.array(BacktestService(s, runtime).equity_curve(account_id, sid)["equity"])


def _expected(btc: Candles, weights: list[float]) -> np.ndarray:
    return replay(btc.open, btc.high, btc.low, btc.close, EngineConfig(), "1h", 0, np.array(weights)).equity


def test_two_workers_alternating_catch_up_from_the_log(
    db: sessionmaker[Session], btc: Candles, account_id: str
) -> None:
    workers = [BacktestRuntime(), BacktestRuntime()]  # two processes: separate caches, one database
    sid = _create(db, workers[0], account_id)
    weights = [((k * 37) % 11) / 10 for k in range(30)]
    for k, w in enumerate(weights[:2]):
        _step(db, workers[k % 2], account_id, sid, w)
    held = workers[0].cache.peek(sid)
    assert held is not None
    sim_before = held.sim
    for k, w in enumerate(weights[2:]):
        _step(db, workers[k % 2], account_id, sid, w)
    assert held.sim is sim_before  # caught up by replaying only the missing rows, not rebuilt
    expected = _expected(btc, weights)
    for worker in workers:
        assert _equity(db, worker, account_id, sid).tobytes() == expected.tobytes()


def test_a_stale_simulator_catches_up_with_another_workers_steps(
    db: sessionmaker[Session], btc: Candles, account_id: str
) -> None:
    a, b = BacktestRuntime(), BacktestRuntime()
    sid = _create(db, a, account_id)
    _step(db, a, account_id, sid, 0.5)
    _step(db, b, account_id, sid, 0.2)  # b appends behind a's back
    answer = _step(db, a, account_id, sid, 0.9)  # a's cached simulator is one row behind: caught up
    assert answer["step"] == 3
    assert _equity(db, a, account_id, sid).tobytes() == _expected(btc, [0.5, 0.2, 0.9]).tobytes()


def test_rebuild_after_memory_loss_replays_orders_and_cancels(
    db: sessionmaker[Session], btc: Candles, account_id: str
) -> None:
    runtime = BacktestRuntime()
    sid = _create(db, runtime, account_id)
    _step(db, runtime, account_id, sid, 0.8)
    with db() as s:
        service = BacktestService(s, runtime)
        price = float(btc.close[1])
        service.place_order(
            account_id,
            sid,
            OrderCreate(symbol="BTCUSDT", side="sell", type="stop_loss", quantity=0.01, price=price * 1.5),
        )
        service.place_order(
            account_id, sid, OrderCreate(symbol="BTCUSDT", side="buy", type="limit", quantity=0.01, price=price * 0.5)
        )
        service.cancel_order(account_id, sid, "ord_2")
    _step(db, runtime, account_id, sid, None, 40)
    with db() as s:
        before = [
            BacktestService(s, runtime).portfolio(account_id, sid),
            BacktestService(s, runtime).orders(account_id, sid),
        ]
    runtime.cache.discard(sid)
    assert runtime.cache.peek(sid) is None
    with db() as s:
        after = [
            BacktestService(s, runtime).portfolio(account_id, sid),
            BacktestService(s, runtime).orders(account_id, sid),
        ]
    assert after == before
    assert [o["status"] for o in after[1]["orders"]] == ["filled", "cancelled"]


@pytest.mark.slow
def test_a_large_session_is_a_compact_log(db: sessionmaker[Session], account_id: str) -> None:
    candles = synthetic_candles("SOLUSDT", "1m", START, 100_001, seed=4)
    with db() as s:
        MarketStore(s).insert_candles(candles)
        s.commit()
    runtime = BacktestRuntime()
    with db() as s:
        sid = (
            BacktestService(s, runtime)
            .create(
                account_id,
                BacktestCreate(
                    symbols=["SOLUSDT"], timeframe="1m", start_time=START, end_time=int(candles.end_ms) + 60_000
                ),
            )
            .id
        )
    targets = np.round(np.sin(np.arange(100_000) / 50.0) * 0.5 + 0.5, 2).reshape(-1, 1).tolist()
    with db() as s:
        answer = BacktestService(s, runtime).step(account_id, sid, BacktestStep(steps=100_000, targets=targets))
    assert answer["done"] and answer["step"] == 100_000
    with db() as s:
        assert len(BacktestStore(s).load_actions(sid, 0, 10)) == 1  # one packed row for the batch
    live = _equity(db, runtime, account_id, sid)
    with db() as s:
        row = BacktestStore(s).get_owned(account_id, sid)
        assert row is not None and row.status == "completed"
    runtime.cache.discard(sid)
    with db() as s:
        rebuilt = BacktestService(s, runtime).portfolio(account_id, sid)
    assert rebuilt["equity"] == live[-1] and len(live) == 100_001


def test_idle_sessions_expire_and_free_their_memory(db: sessionmaker[Session], btc: Candles, account_id: str) -> None:
    runtime = BacktestRuntime(BacktestLimits(idle_timeout_s=0.3))
    stepped, idle = _create(db, runtime, account_id), _create(db, runtime, account_id)
    _step(db, runtime, account_id, stepped, 0.5)
    assert len(runtime.cache) == 2
    time.sleep(0.4)
    with pytest.raises(ConflictError, match=r"expired: no activity for more than 0\.3 s"):
        _step(db, runtime, account_id, stepped, 0.5)
    with db() as s:
        listed, _ = BacktestService(s, runtime).list(account_id, SessionFilter(), limit=10, offset=0)
        s.commit()
    assert {r.id: r.status for r in listed} == {stepped: "expired", idle: "expired"}
    assert len(runtime.cache) == 0
    with db() as s:
        assert BacktestService(s, runtime).results(account_id, stepped)["step"] == 1  # still readable


def test_the_cache_is_bounded(db: sessionmaker[Session], btc: Candles, account_id: str) -> None:
    runtime = BacktestRuntime(BacktestLimits(max_cached_sessions=2))
    ids = [_create(db, runtime, account_id) for _ in range(4)]
    assert len(runtime.cache) == 2
    for sid in ids:  # evicted sessions rebuild from their log
        assert _step(db, runtime, account_id, sid, 0.3)["step"] == 1


def test_compare_metrics_reports_only_real_differences() -> None:
    server = {"roi_pct": 1.5, "total_trades": 3, "sharpe_ratio": 0.25}
    assert compare_metrics(None, server) == {}
    assert compare_metrics({"roi_pct": 1.5 + 1e-12, "total_trades": 3, "reward_sum": 9.0}, server) == {}
    assert compare_metrics({"roi_pct": 1.6, "total_trades": True, "sharpe_ratio": "x"}, server) == {
        "roi_pct": [1.6, 1.5],
        "total_trades": [True, 3],
        "sharpe_ratio": ["x", 0.25],
    }


def test_advance_refuses_a_stale_log_length_or_an_idle_session(
    db: sessionmaker[Session], btc: Candles, account_id: str
) -> None:
    sid = _create(db, BacktestRuntime(), account_id)
    now = utcnow()
    with db() as s:
        store = BacktestStore(s)
        state = store.get_state(account_id, sid)
        assert state is not None and store.get_state("acc_someone_else", sid) is None
        write = {"kind": "step", "steps": 1, "targets": None, "payload": None, "status": "running", "step": 1}
        hour = timedelta(hours=1)
        assert store.advance(state, **write, cash=1.0, equity=1.0, now=now, active_since=now - hour)
        s.commit()
        assert not store.advance(state, **write, cash=2.0, equity=2.0, now=now, active_since=now - hour)  # stale
        fresh = replace(state, version=state.version + 1)
        assert not store.advance(fresh, **write, cash=3.0, equity=3.0, now=now, active_since=now + hour)  # idle
        s.commit()
        assert [a.seq for a in store.load_actions(sid, 0, 10)] == [0]
        after = store.get_state(account_id, sid)
        assert after is not None and after.version == 1 and after.status == "running"
        s.commit()
        # a read and a write that are the session's only statements: on PostgreSQL each runs as its own
        # transaction (the write as one statement); the same answers and rows as the transactional path
        alone = store.get_state(account_id, sid, alone=True)
        assert alone == after
        packed = b"\x00" * 8
        moved = {**write, "kind": "order", "step": 2, "targets": packed, "payload": {"note": 1}}
        assert store.advance(alone, **moved, cash=4.0, equity=5.0, now=now, active_since=now - hour)
        if s.get_bind().dialect.name == "postgresql":  # it ran as one autocommitted statement: no transaction open
            assert postgres_idle(s.connection().connection.dbapi_connection)
        assert not store.advance(alone, **moved, cash=6.0, equity=6.0, now=now, active_since=now - hour)  # stale
        s.commit()
        log = store.load_actions(sid, 0, 10)
        assert [(a.seq, a.kind, a.targets, a.payload) for a in log[1:]] == [(1, "order", packed, {"note": 1})]
        final = store.get_state(account_id, sid, alone=True)
        assert final is not None and (final.version, final.step, final.status) == (2, 2, "running")
