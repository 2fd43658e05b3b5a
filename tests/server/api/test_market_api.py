"""Market routes against the live server on SQLite and PostgreSQL."""

from __future__ import annotations

import httpx
import numpy as np
import pytest
from tests.support import shared_data
from tests.support.platform import AccountKey, LiveServer

from tradeready.server.db.engine import make_engine, make_session_factory
from tradeready.server.store.market import MarketStore
from tradeready_core.data import Candles, load_candles, resample, synthetic_candles

MARKET = str(shared_data.MARKET)


def _store(server: LiveServer, *candles: Candles) -> None:
    engine = make_engine(server.settings.resolved_database_url)
    try:
        with make_session_factory(engine)() as session:
            for c in candles:
                MarketStore(session).insert_candles(c)
            session.commit()
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def btc_1h() -> Candles:
    return load_candles(f"{MARKET}/BTCUSDT-1h.csv")


def _client(server: LiveServer, account: AccountKey) -> httpx.Client:
    return httpx.Client(base_url=server.url + "/api/v1", headers={"X-API-Key": account.api_key}, timeout=60)


def test_empty_platform_never_invents_data(live_server: LiveServer, account: AccountKey) -> None:
    with _client(live_server, account) as http:
        assert http.get("/market/symbols").json() == {"datasets": []}
        for symbol in ("BTCUSDT", "ETHUSDT", "SOLUSDT"):
            response = http.get("/market/candles", params={"symbol": symbol, "timeframe": "1h"})
            assert response.status_code == 404
            error = response.json()["error"]
            assert error["code"] == "dataset_not_found"
            for command in ("tradeready data import", "tradeready data fetch", "tradeready data demo"):
                assert command in error["message"]


def test_market_routes_need_an_api_key(live_server: LiveServer) -> None:
    with httpx.Client(base_url=live_server.url) as http:
        assert http.get("/api/v1/market/symbols").status_code == 401
        assert http.get("/api/v1/market/candles", params={"symbol": "BTCUSDT"}).status_code == 401


def test_symbols_and_columnar_candles(live_server: LiveServer, account: AccountKey, btc_1h: Candles) -> None:
    _store(live_server, btc_1h)
    with _client(live_server, account) as http:
        datasets = http.get("/market/symbols").json()["datasets"]
        assert datasets == [
            {
                "symbol": "BTCUSDT",
                "timeframe": "1h",
                "first_time": "2021-04-04T20:00:00Z",
                "last_time": "2026-04-15T23:00:00Z",
                "count": 44080,
                "gaps": 5,
                "missing_bars": 12,
                "source": "file",
            }
        ]
        body = http.get(
            "/market/candles",
            params={"symbol": "btcusdt", "timeframe": "1h", "start": "2024-01-01T00:00:00Z", "end": "1735689600000"},
        ).json()
    expected = btc_1h.slice("2024-01-01", "2025-01-01")
    assert (body["symbol"], body["timeframe"], body["source"], body["synthetic"]) == ("BTCUSDT", "1h", "file", False)
    assert body["count"] == len(expected) == 8784
    assert body["open_time"] == expected.open_time.tolist()
    for name in ("open", "high", "low", "close", "volume"):
        assert body[name] == getattr(expected, name).tolist()
    assert body["fingerprint"] == expected.fingerprint


def test_coarser_timeframe_is_resampled(live_server: LiveServer, account: AccountKey, btc_1h: Candles) -> None:
    _store(live_server, btc_1h.slice("2024-01-01", "2024-03-01"))
    with _client(live_server, account) as http:
        body = http.get("/market/candles", params={"symbol": "BTCUSDT", "timeframe": "4h"}).json()
    expected = resample(btc_1h.slice("2024-01-01", "2024-03-01"), "4h")
    assert body["resampled_from"] == "1h"
    assert body["fingerprint"] == expected.fingerprint
    assert np.array_equal(body["close"], expected.close)


def test_synthetic_data_is_labelled(live_server: LiveServer, account: AccountKey) -> None:
    _store(live_server, synthetic_candles("ETHUSDT", "1h", start="2024-01-01", periods=50, seed=2))
    with _client(live_server, account) as http:
        listed = http.get("/market/symbols").json()["datasets"][0]
        body = http.get("/market/candles", params={"symbol": "ETHUSDT", "timeframe": "1h"}).json()
    assert listed["source"] == "synthetic"
    assert (body["source"], body["synthetic"], body["count"]) == ("synthetic", True, 50)


def test_unknown_dataset_lists_what_is_stored(live_server: LiveServer, account: AccountKey, btc_1h: Candles) -> None:
    _store(live_server, btc_1h.slice("2024-01-01", "2024-01-02"))
    with _client(live_server, account) as http:
        response = http.get("/market/candles", params={"symbol": "DOGEUSDT", "timeframe": "1h"})
    assert response.status_code == 404
    error = response.json()["error"]
    assert error["code"] == "dataset_not_found"
    assert "BTCUSDT 1h" in error["message"]
    assert error["details"]["stored"] == [{"symbol": "BTCUSDT", "timeframe": "1h", "source": "file"}]


@pytest.mark.parametrize(
    ("params", "field", "allowed"),
    [
        ({"symbol": "BTCUSDT", "timeframe": "2h"}, "timeframe", ["1m", "5m", "15m", "1h", "4h", "1d"]),
        ({"symbol": "BTC USDT"}, "symbol", "e.g. BTCUSDT"),
        ({"symbol": "BTCUSDT", "start": "not-a-date"}, "start", "epoch ms or ISO-8601"),
        ({"symbol": "BTCUSDT", "start": "2024-02-01", "end": "2024-01-01"}, "end", None),
        ({"symbol": "BTCUSDT", "end": "99999999999999999"}, "end", "epoch ms or ISO-8601"),
        ({}, "symbol", None),
    ],
)
def test_bad_parameters_answer_422_naming_the_field(
    live_server: LiveServer, account: AccountKey, params: dict[str, str], field: str, allowed: object
) -> None:
    with _client(live_server, account) as http:
        response = http.get("/market/candles", params=params)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert error["details"][0]["field"] == field
    if allowed is not None:
        assert error["details"][0]["allowed"] == allowed
