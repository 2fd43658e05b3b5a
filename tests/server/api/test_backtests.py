"""Backtest sessions against the live server on SQLite and PostgreSQL, through the SDK and httpx."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import numpy as np
import pytest
from tests.support.platform import AccountKey, LiveServer

from agentexchange import AgentExchangeClient, ConflictError, ValidationError
from agentexchange.types import Backtest
from tradeready.server.db.engine import make_engine, make_session_factory
from tradeready.server.settings import Settings
from tradeready.server.store.market import MarketStore
from tradeready_core.data import Candles, MarketData, synthetic_candles
from tradeready_core.engine import EngineConfig, replay

START = "2024-01-01T00:00:00Z"
START_MS = 1_704_067_200_000
HOUR = 3_600_000
BARS = 300


def store_candles(settings: Settings, *candles: Candles) -> None:
    """Insert candles into the platform's database through the market store."""
    engine = make_engine(settings.resolved_database_url)
    try:
        with make_session_factory(engine)() as db:
            for c in candles:
                MarketStore(db).insert_candles(c)
            db.commit()
    finally:
        engine.dispose()


@pytest.fixture
def btc() -> Candles:
    return synthetic_candles("BTCUSDT", "1h", START, BARS, seed=11)


@pytest.fixture
def eth() -> Candles:
    return synthetic_candles("ETHUSDT", "1h", START, BARS, seed=12)


@pytest.fixture
def market(live_server: LiveServer, btc: Candles, eth: Candles) -> MarketData:
    store_candles(live_server.settings, btc, eth)
    return MarketData.from_candles([btc, eth])


@pytest.fixture
def client(live_server: LiveServer, account: AccountKey, market: MarketData) -> Iterator[AgentExchangeClient]:
    with AgentExchangeClient(api_key=account.api_key, base_url=live_server.url, max_retries=0) as sdk:
        yield sdk


@pytest.fixture
def http(live_server: LiveServer, account: AccountKey, market: MarketData) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live_server.url + "/api/v1", headers={"X-API-Key": account.api_key}) as c:
        yield c


def _bars(n: int) -> int:
    return START_MS + n * HOUR


def test_single_asset_session_steps_orders_and_reads(client: AgentExchangeClient, market: MarketData) -> None:
    session = client.create_backtest(
        symbols=["BTCUSDT"], timeframe="1h", start_time=START, end_time=_bars(100), strategy_label="manual"
    )
    sid = session["session_id"]
    assert session["status"] == "created" and session["total_steps"] == 99 and session["step"] == 0
    assert session["episode_start_time"] == START

    first = client.step_backtest(sid, steps=1, targets=[0.5])
    assert first["step"] == 1 and first["status"] == "running" and len(first["fills"]) == 1
    assert first["fills"][0]["side"] == "buy" and first["fills"][0]["time"] == _bars(1)

    close = float(market.close[1, 0])
    order = client.place_order(sid, symbol="BTCUSDT", side="sell", type="limit", quantity=0.01, price=close * 1.5)
    assert order["status"] == "pending" and order["order_id"] == "ord_1"
    tp = client.place_order(sid, symbol="BTCUSDT", side="sell", type="take_profit", quantity=0.01, price=close * 0.9)
    cancelled = client.cancel_order(sid, order["order_id"])
    assert cancelled["status"] == "cancelled"

    held = client.step_backtest(sid, steps=5)  # hold: no rebalance, the take-profit triggers at once
    assert held["step"] == 6 and held["steps_executed"] == 5
    assert [f["kind"] for f in held["fills"]] == ["take_profit"]
    orders = {o["order_id"]: o for o in client.get_orders(sid)}
    assert orders[tp["order_id"]]["status"] == "filled" and orders["ord_1"]["status"] == "cancelled"

    trades = client.get_trades(sid)
    assert len(trades) == 2 and client.get_trades(sid, limit=1, offset=1)[0]["kind"] == "take_profit"
    curve = client.get_equity_curve(sid)
    assert curve["time"] == [_bars(k) for k in range(7)]
    portfolio = client.get_portfolio(sid)
    assert portfolio["equity"] == curve["equity"][-1] == held["equity"]
    assert isinstance(portfolio["positions"], list)
    assert portfolio["positions"][0]["quantity"] == pytest.approx(first["fills"][0]["quantity"] - 0.01)
    results = client.get_backtest_results(sid)
    assert results["status"] == "running" and results["total_trades"] == 2 and not results["done"]
    assert results["final_equity"] == held["equity"]


def test_multi_asset_targets_as_rows_and_mapping(client: AgentExchangeClient, market: MarketData) -> None:
    sid = client.create_backtest(symbols=["BTCUSDT", "ETHUSDT"], timeframe="1h", start_time=START, end_time=_bars(50))[
        "session_id"
    ]
    mapped = client.step_backtest(sid, steps=1, targets={"ETHUSDT": 0.3})  # BTC holds (flat)
    assert [p["symbol"] for p in mapped["positions"]] == ["BTCUSDT", "ETHUSDT"]
    assert mapped["positions"][0]["quantity"] == 0.0 and mapped["positions"][1]["quantity"] > 0
    rows = [[0.2, None], [0.4, 0.1], [None, None]]
    stepped = client.step_backtest(sid, steps=3, targets=rows)  # type: ignore[arg-type]
    assert stepped["step"] == 4 and stepped["steps_executed"] == 3

    expected = replay(
        market.open, market.high, market.low, market.close, EngineConfig(), "1h", 0,
        np.array([[np.nan, 0.3], [0.2, np.nan], [0.4, 0.1], [np.nan, np.nan]]),
    )  # fmt: skip
    equity = np.array(client.get_equity_curve(sid)["equity"])
    assert equity.tobytes() == expected.equity.tobytes()


def test_session_runs_to_completion_and_stores_results(client: AgentExchangeClient) -> None:
    sid = client.create_backtest(symbols=["BTCUSDT"], timeframe="1h", start_time=START, end_time=_bars(30))[
        "session_id"
    ]
    final = client.step_backtest(sid, steps=1_000, targets=[0.7])
    assert final["done"] and final["steps_executed"] == 29 and final["status"] == "completed"
    session = client.get_backtest(sid)
    assert session["status"] == "completed" and session["completed_at"] is not None
    metrics = session["metrics"]
    assert metrics is not None and metrics["steps"] == 29
    results = client.get_backtest_results(sid)
    assert results["done"] and results["roi_pct"] == metrics["roi_pct"]
    assert len(client.get_equity_curve(sid)["equity"]) == 30
    with pytest.raises(ConflictError, match="completed"):
        client.step_backtest(sid, steps=1)
    with pytest.raises(ConflictError, match="completed"):
        client.cancel_backtest(sid)


def test_seeded_episode_window_is_deterministic(client: AgentExchangeClient) -> None:
    made = [
        client.create_backtest(
            symbols=["BTCUSDT"], timeframe="1h", start_time=START, end_time=_bars(BARS), episode_length=24, seed=seed
        )
        for seed in (7, 7, 8)
    ]
    assert all(m["total_steps"] == 24 and m["episode_length"] == 24 for m in made)
    assert made[0]["episode_start_time"] == made[1]["episode_start_time"] != made[2]["episode_start_time"]
    drawn = client.create_backtest(
        symbols=["BTCUSDT"], timeframe="1h", start_time=START, end_time=_bars(BARS), episode_length=24
    )
    assert isinstance(drawn["seed"], int)  # drawn and returned, so the window can be reproduced


def test_list_filters_and_pagination(client: AgentExchangeClient) -> None:
    def make(label: str) -> str:
        made = client.create_backtest(
            symbols=["BTCUSDT"], timeframe="1h", start_time=START, end_time=_bars(10), strategy_label=label
        )
        return made["session_id"]

    manual = make("manual")
    train_a, train_b = make("train_ppo"), make("train_dqn")
    client.cancel_backtest(train_b)
    replayed = client.replay_episode(
        {"symbols": ["BTCUSDT"], "timeframe": "1h", "start_time": START, "targets": [0.5, None],
         "strategy_label": "ppo_v1", "training_run_id": "run_abc", "episode": 1}
    )  # fmt: skip

    def ids(rows: list[Backtest]) -> list[str]:
        return [r["session_id"] for r in rows]

    assert ids(client.list_backtests()) == [replayed["session_id"], train_b, train_a, manual]
    assert ids(client.list_backtests(exclude_label_prefix="train_")) == [replayed["session_id"], manual]
    assert ids(client.list_backtests(strategy_label="train_ppo")) == [train_a]
    assert ids(client.list_backtests(status="cancelled")) == [train_b]
    assert ids(client.list_backtests(source="training")) == [replayed["session_id"]]
    assert ids(client.list_backtests(training_run_id="run_abc")) == [replayed["session_id"]]
    assert ids(client.list_backtests(limit=2, offset=1)) == [train_b, train_a]
    assert ids(client.list_backtests(exclude_label_prefix="%")) == ids(client.list_backtests())  # LIKE-escaped


def test_cancel_is_idempotent_and_keeps_results(client: AgentExchangeClient) -> None:
    sid = client.create_backtest(symbols=["BTCUSDT"], timeframe="1h", start_time=START, end_time=_bars(40))[
        "session_id"
    ]
    client.step_backtest(sid, steps=3, targets=[1.0])
    cancelled = client.cancel_backtest(sid)
    assert cancelled["status"] == "cancelled" and cancelled["step"] == 3
    assert client.cancel_backtest(sid)["status"] == "cancelled"
    assert len(client.get_equity_curve(sid)["equity"]) == 4
    assert client.get_backtest_results(sid)["total_trades"] == 1
    with pytest.raises(ConflictError, match="cancelled"):
        client.step_backtest(sid, steps=1)
    with pytest.raises(ConflictError, match="cancelled"):
        client.place_order(sid, symbol="BTCUSDT", side="buy", quantity=0.1)


def test_session_survives_restart_and_is_shared_by_servers(
    live_server: LiveServer, account: AccountKey, market: MarketData
) -> None:
    """State is the stored action log: a restarted server and a second server continue the same session."""
    other = LiveServer(live_server.settings).start()
    try:
        clients = [
            AgentExchangeClient(api_key=account.api_key, base_url=s.url, max_retries=0) for s in (live_server, other)
        ]
        sid = clients[0].create_backtest(symbols=["BTCUSDT"], timeframe="1h", start_time=START, end_time=_bars(60))[
            "session_id"
        ]
        weights = [0.1 * (k % 7) for k in range(20)]
        for k, w in enumerate(weights[:10]):  # alternate between the two servers
            clients[k % 2].step_backtest(sid, steps=1, targets=[w])
        clients[1].place_order(sid, symbol="BTCUSDT", side="sell", type="stop_loss", quantity=0.001, price=1.0)
        live_server.stop()
        live_server.start()
        restarted = AgentExchangeClient(api_key=account.api_key, base_url=live_server.url, max_retries=0)
        for w in weights[10:]:
            restarted.step_backtest(sid, steps=1, targets=[w])
        mine = restarted.get_equity_curve(sid)["equity"]
        theirs = clients[1].get_equity_curve(sid)["equity"]
        for c in (*clients, restarted):
            c.close()
    finally:
        other.stop()
    expected = replay(
        market.open[:, :1], market.high[:, :1], market.low[:, :1], market.close[:, :1], EngineConfig(), "1h", 0,
        np.array(weights),
    )  # fmt: skip
    assert np.array(mine).tobytes() == np.array(theirs).tobytes() == expected.equity.tobytes()


def test_replay_records_authoritative_results_and_flags_mismatch(
    client: AgentExchangeClient, market: MarketData
) -> None:
    targets = [0.5, None, 1.0, 0.0, 0.25]
    expected = replay(
        market.open[:, :1], market.high[:, :1], market.low[:, :1], market.close[:, :1], EngineConfig(), "1h", 3,
        np.array([np.nan if t is None else t for t in targets]),
    )  # fmt: skip
    metrics = expected.metrics.as_dict()
    body = {
        "symbols": ["BTCUSDT"], "timeframe": "1h", "start_time": _bars(3), "end_time": _bars(8),
        "targets": targets, "metrics": {**metrics, "reward_sum": 1.5},
        "dataset_fingerprint": market.candles("BTCUSDT").slice(_bars(3), _bars(9)).fingerprint,
        "training_run_id": "run_1", "episode": 4, "strategy_label": "ppo_v1",
    }  # fmt: skip
    recorded = client.replay_episode(body)
    assert recorded["created"] and recorded["status"] == "completed" and recorded["source"] == "training"
    assert recorded["metrics_mismatch"] is None and recorded["metrics"] == metrics
    sid = recorded["session_id"]
    assert np.array(client.get_equity_curve(sid)["equity"]).tobytes() == expected.equity.tobytes()
    assert len(client.get_trades(sid)) == len(expected.fills)

    again = client.replay_episode({**body, "metrics": {"roi_pct": 99.0}})
    assert again["session_id"] == sid and not again["created"]  # idempotent per (run, episode)

    wrong = client.replay_episode(
        {**body, "episode": 5, "metrics": {**metrics, "roi_pct": 99.0}, "dataset_fingerprint": "0" * 64}
    )
    assert wrong["created"] and wrong["session_id"] != sid
    mismatch = wrong["metrics_mismatch"]
    assert mismatch is not None and mismatch["roi_pct"] == [99.0, metrics["roi_pct"]]
    assert mismatch["dataset_fingerprint"][0] == "0" * 64
    assert client.get_backtest(wrong["session_id"])["metrics_mismatch"] == wrong["metrics_mismatch"]
    assert client.get_backtest_results(wrong["session_id"])["metrics_mismatch"] == wrong["metrics_mismatch"]


def test_replay_with_gaps_needs_matching_bars(client: AgentExchangeClient) -> None:
    body = {"symbols": ["BTCUSDT"], "timeframe": "1h", "start_time": _bars(BARS - 3), "targets": [0.5] * 5}
    with pytest.raises(ValidationError, match="5 target rows need 6 bars") as info:
        client.replay_episode(body)
    assert info.value.details[0]["field"] == "targets"


SESSION_ROUTES: list[tuple[str, str, dict[str, object] | None]] = [
    ("GET", "/backtests/{sid}", None),
    ("POST", "/backtests/{sid}/step", {"steps": 1, "targets": [1.0]}),
    ("POST", "/backtests/{sid}/orders", {"symbol": "BTCUSDT", "side": "buy", "type": "market", "quantity": 0.1}),
    ("DELETE", "/backtests/{sid}/orders/ord_1", None),
    ("GET", "/backtests/{sid}/portfolio", None),
    ("GET", "/backtests/{sid}/orders", None),
    ("GET", "/backtests/{sid}/trades", None),
    ("GET", "/backtests/{sid}/equity-curve", None),
    ("GET", "/backtests/{sid}/results", None),
    ("POST", "/backtests/{sid}/cancel", {}),
]
"""Every route with a session id in its path."""


def test_the_route_list_covers_every_session_route(live_server: LiveServer) -> None:
    paths = httpx.get(live_server.url + "/openapi.json").json()["paths"]
    documented = {
        (method.upper(), path.removeprefix("/api/v1").replace("{session_id}", "{sid}").replace("{order_id}", "ord_1"))
        for path, methods in paths.items()
        if "{session_id}" in path
        for method in methods
    }
    assert documented == {(method, path) for method, path, _ in SESSION_ROUTES}


@pytest.mark.parametrize(("method", "path", "body"), SESSION_ROUTES, ids=[f"{m} {p}" for m, p, _ in SESSION_ROUTES])
def test_another_accounts_session_answers_404_before_any_write(
    http: httpx.Client, other_account: AccountKey, method: str, path: str, body: dict[str, object] | None
) -> None:
    good = {"symbols": ["BTCUSDT"], "timeframe": "1h", "start_time": START, "end_time": _bars(20)}
    sid = http.post("/backtests", json=good).json()["session_id"]
    http.post(f"/backtests/{sid}/step", json={"steps": 2, "targets": [0.5]})
    pending = {"symbol": "BTCUSDT", "side": "buy", "type": "limit", "quantity": 0.1, "price": 1.0}
    http.post(f"/backtests/{sid}/orders", json=pending)
    before = [http.get(f"/backtests/{sid}{part}").json() for part in ("", "/orders", "/equity-curve")]

    answer = http.request(method, path.format(sid=sid), json=body, headers={"X-API-Key": other_account.api_key})
    assert answer.status_code == 404, answer.text
    error = answer.json()["error"]
    assert error["code"] == "session_not_found" and sid in error["message"]
    after = [http.get(f"/backtests/{sid}{part}").json() for part in ("", "/orders", "/equity-curve")]
    assert after == before  # same step, status, updated_at, orders and curve: nothing was written


def test_ownership_matrix_between_two_accounts(
    live_server: LiveServer, http: httpx.Client, other_account: AccountKey
) -> None:
    body = {"symbols": ["BTCUSDT"], "timeframe": "1h", "start_time": START, "end_time": _bars(20)}
    keys = {"alice": dict(http.headers), "mallory": {"X-API-Key": other_account.api_key}}
    sessions = {who: http.post("/backtests", json=body, headers=h).json()["session_id"] for who, h in keys.items()}
    for caller, headers in keys.items():
        listed = [s["session_id"] for s in http.get("/backtests", headers=headers).json()["backtests"]]
        assert listed == [sessions[caller]]
        for owner, sid in sessions.items():
            status = http.get(f"/backtests/{sid}/results", headers=headers).status_code
            assert status == (200 if owner == caller else 404), (caller, owner)


def _error(response: httpx.Response, status: int) -> dict[str, object]:
    assert response.status_code == status, response.text
    error: dict[str, object] = response.json()["error"]
    return error


def test_bad_inputs_answer_4xx_envelopes(http: httpx.Client) -> None:
    good = {"symbols": ["BTCUSDT"], "timeframe": "1h", "start_time": START, "end_time": _bars(20)}
    unknown = _error(http.post("/backtests", json={**good, "symbols": ["NOPEUSDT"]}), 404)
    assert unknown["code"] == "dataset_not_found" and "NOPEUSDT" in str(unknown["message"])
    backwards = _error(http.post("/backtests", json={**good, "end_time": START}), 422)
    assert backwards["code"] == "validation_error" and "end_time must be after start_time" in str(backwards["message"])
    broke = _error(http.post("/backtests", json={**good, "starting_balance": -5}), 422)
    assert broke["details"][0]["field"] == "starting_balance"  # type: ignore[index]
    nan_balance = http.post(
        "/backtests", content=b'{"symbols": ["BTCUSDT"], "timeframe": "1h", "start_time": 0, "end_time": 1, '
        b'"starting_balance": NaN}', headers={"content-type": "application/json"},
    )  # fmt: skip
    assert _error(nan_balance, 422)["details"][0]["field"] == "starting_balance"  # type: ignore[index]
    bad_tf = _error(http.post("/backtests", json={**good, "timeframe": "2h"}), 422)
    assert "1h" in str(bad_tf["details"][0]["allowed"])  # type: ignore[index]
    empty_range = _error(
        http.post("/backtests", json={**good, "start_time": "2030-01-01", "end_time": "2030-02-01"}), 422
    )
    assert "no BTCUSDT 1h candles" in str(empty_range["message"])
    too_long = _error(http.post("/backtests", json={**good, "episode_length": 500}), 422)
    assert "episode_length 500 exceeds the 19 steps" in str(too_long["message"])

    sid = http.post("/backtests", json=good).json()["session_id"]
    step = f"/backtests/{sid}/step"
    infinite = http.post(
        step, content=b'{"steps": 1, "targets": [Infinity]}', headers={"content-type": "application/json"}
    )
    assert "finite number, or null/NaN to hold" in str(_error(infinite, 422)["message"])
    nan_hold = http.post(step, content=b'{"steps": 1, "targets": [NaN]}', headers={"content-type": "application/json"})
    assert nan_hold.status_code == 200 and nan_hold.json()["fills"] == []  # NaN = hold
    wrong_len = _error(http.post(step, json={"steps": 1, "targets": [0.5, 0.5]}), 422)
    assert "this session trades 1 symbol(s) ['BTCUSDT']" in str(wrong_len["message"])
    wrong_rows = _error(http.post(step, json={"steps": 2, "targets": [[0.5], [0.5], [0.5]]}), 422)
    assert "2 rows (one per step)" in str(wrong_rows["message"])
    unknown_symbol = _error(http.post(step, json={"targets": {"ETHUSDT": 0.5}}), 422)
    assert "'ETHUSDT' is not traded by this session" in str(unknown_symbol["message"])
    too_many = _error(http.post(step, json={"steps": 100_001}), 422)
    assert too_many["details"][0] == {  # type: ignore[index]
        "field": "steps", "message": "at most 100000 steps per request; got 100001. Send several requests.",
        "received": 100001, "allowed": "1..100000",
    }  # fmt: skip
    zero = _error(http.post(step, json={"steps": 0}), 422)
    assert zero["details"][0]["field"] == "steps"  # type: ignore[index]
    assert http.get(f"/backtests/{sid}").json()["step"] == 1  # only the NaN hold step was applied

    orders = f"/backtests/{sid}/orders"
    no_price = _error(http.post(orders, json={"symbol": "BTCUSDT", "side": "buy", "type": "limit", "quantity": 1}), 422)
    assert "a limit order needs a price" in str(no_price["message"])
    bad_side = _error(
        http.post(orders, json={"symbol": "BTCUSDT", "side": "long", "type": "market", "quantity": 1}), 422
    )
    assert bad_side["details"][0]["field"] == "side"  # type: ignore[index]
    other_symbol = _error(
        http.post(orders, json={"symbol": "ETHUSDT", "side": "buy", "type": "market", "quantity": 1}), 422
    )
    assert "not traded by this session" in str(other_symbol["message"])
    assert _error(http.delete(f"{orders}/ord_9"), 404)["code"] == "not_found"
    assert _error(http.get("/backtests", params={"status": "sleeping"}), 422)["code"] == "validation_error"
    assert _error(http.get("/backtests/bt_nope"), 404)["code"] == "session_not_found"


def test_replay_bad_inputs(http: httpx.Client) -> None:
    body = {"symbols": ["BTCUSDT", "ETHUSDT"], "timeframe": "1h", "start_time": START, "targets": [0.5, 0.5]}
    flat = _error(http.post("/backtests/replay", json=body), 422)
    assert "flat list of weights is for one symbol" in str(flat["message"])
    ragged = _error(http.post("/backtests/replay", json={**body, "targets": [[0.5, 0.5], [0.5]]}), 422)
    assert "same length" in str(ragged["message"])
    no_run = _error(http.post("/backtests/replay", json={**body, "targets": [[0.5, 0.5]], "episode": 3}), 422)
    assert "episode needs a training_run_id" in str(no_run["message"])
    empty = _error(http.post("/backtests/replay", json={**body, "targets": []}), 422)
    assert empty["details"][0]["field"] == "targets"  # type: ignore[index]
