"""Data resolution: local data in every accepted form, and the platform through the SDK with a disk cache.

The platform side uses the real ``AgentExchangeClient`` over an ``httpx.MockTransport`` that serves
the documented ``/market/symbols`` and ``/market/candles`` shapes (the server is another issue).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
from tests.support.shared_data import MARKET

from agentexchange import AgentExchangeClient
from tradeready_core.data import Candles, load_candles
from tradeready_core.errors import InvalidParameterError
from tradeready_gym.data_source import default_cache_dir, resolve_market_data
from tradeready_gym.errors import DataSourceError


@pytest.fixture(scope="module")
def btc() -> pd.DataFrame:
    frame = pd.read_csv(MARKET / "BTCUSDT-1h.csv")
    return frame[(frame["open_time"] >= "2024-01-01") & (frame["open_time"] < "2024-02-01")].reset_index(drop=True)


def test_dataframe_path_candles_and_mapping(btc: pd.DataFrame, tmp_path: Path) -> None:
    from_frame = resolve_market_data(["BTCUSDT"], "1h", data=btc)
    assert from_frame.symbols == ("BTCUSDT",) and len(from_frame) == len(btc)
    csv = tmp_path / "btc.csv"
    btc.to_csv(csv, index=False)
    from_path = resolve_market_data(["BTCUSDT"], "1h", data=str(csv))
    np.testing.assert_array_equal(from_path.close, from_frame.close)
    candles = load_candles(btc, symbol="BTCUSDT")
    assert resolve_market_data(["BTCUSDT"], "1h", data=candles).fingerprint == from_frame.fingerprint
    both = resolve_market_data(["BTCUSDT", "ETHUSDT"], "1h", data={"BTC": btc, "ETHUSDT": btc})
    assert both.close.shape == (len(btc), 2)


def test_time_window_keeps_warmup_bars_before_start(btc: pd.DataFrame) -> None:
    market = resolve_market_data(
        ["BTCUSDT"], "1h", data=btc, start_time="2024-01-10", end_time="2024-01-20", warmup_bars=24
    )
    assert market.open_time[0] == pd.Timestamp("2024-01-09", tz="UTC").value // 10**6
    assert market.open_time[-1] == pd.Timestamp("2024-01-19T23:00", tz="UTC").value // 10**6


def test_finer_data_is_resampled_and_coarser_rejected(btc: pd.DataFrame) -> None:
    minutes = pd.read_csv(MARKET / "BTCUSDT-1m.csv", nrows=600)
    five = resolve_market_data(["BTCUSDT"], "5m", data=minutes)
    assert five.timeframe == "5m" and len(five) == 120
    with pytest.raises(InvalidParameterError, match="has 1h candles, which cannot make timeframe='5m'"):
        resolve_market_data(["BTCUSDT"], "5m", data=btc)


def test_bad_data_inputs(btc: pd.DataFrame) -> None:
    with pytest.raises(InvalidParameterError, match="must be a pandas DataFrame, a file path or Candles; got list"):
        resolve_market_data(["BTCUSDT"], "1h", data=[1, 2, 3])  # type: ignore[arg-type]
    with pytest.raises(InvalidParameterError, match="pass data as a mapping"):
        resolve_market_data(["BTCUSDT", "ETHUSDT"], "1h", data=btc)
    with pytest.raises(InvalidParameterError, match="timeframe must be one of"):
        resolve_market_data(["BTCUSDT"], "3h", data=btc)


class FakePlatform:
    """Serves the documented market endpoints from real candles and counts requests."""

    def __init__(self, candles: Candles) -> None:
        self.candles = candles
        self.requests: list[str] = []
        self.up = True

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request.url.path)
        if not self.up:
            raise httpx.ConnectError("connection refused", request=request)
        c = self.candles
        if request.url.path.endswith("/market/symbols"):
            return httpx.Response(
                200,
                json={
                    "datasets": [
                        {
                            "symbol": c.symbol,
                            "timeframe": c.timeframe,
                            "first_time": int(c.open_time[0]),
                            "last_time": int(c.open_time[-1]),
                            "count": len(c),
                            "gaps": 0,
                            "source": c.source,
                        }
                    ]
                },
            )
        if request.url.path.endswith("/market/candles"):
            params = request.url.params
            part = c.slice(
                int(params["start"]) if "start" in params else None, int(params["end"]) if "end" in params else None
            )
            body: dict[str, Any] = {
                "symbol": part.symbol,
                "timeframe": part.timeframe,
                "source": part.source,
                "fingerprint": part.fingerprint,
                "open_time": part.open_time.tolist(),
            }
            for name in ("open", "high", "low", "close", "volume"):
                body[name] = getattr(part, name).tolist()
            return httpx.Response(200, json=body)
        return httpx.Response(404, json={"error": {"code": "not_found", "message": "no route", "details": None}})


def client_for(platform: FakePlatform) -> AgentExchangeClient:
    http = httpx.Client(transport=httpx.MockTransport(platform), base_url="http://platform.test")
    return AgentExchangeClient(api_key="ak_live_test", http_client=http, max_retries=0)


def test_platform_download_is_cached_by_fingerprint(btc: pd.DataFrame, tmp_path: Path) -> None:
    platform = FakePlatform(load_candles(btc, symbol="BTCUSDT"))
    client = client_for(platform)
    kwargs: dict[str, Any] = {
        "start_time": "2024-01-05",
        "end_time": "2024-01-25",
        "client": client,
        "cache_dir": tmp_path,
    }
    first = resolve_market_data(["BTCUSDT"], "1h", **kwargs)
    assert platform.requests.count("/api/v1/market/candles") == 1
    assert len(first) == 20 * 24
    assert list(tmp_path.glob("*.npz"))  # stored under its fingerprint
    again = resolve_market_data(["BTCUSDT"], "1h", **kwargs)  # summary unchanged: from the cache
    assert platform.requests.count("/api/v1/market/candles") == 1
    assert again.fingerprint == first.fingerprint
    platform.up = False  # offline: the cached copy still serves
    offline = resolve_market_data(["BTCUSDT"], "1h", **kwargs)
    assert offline.fingerprint == first.fingerprint


def test_unreachable_platform_without_data_is_one_clear_error(tmp_path: Path, btc: pd.DataFrame) -> None:
    platform = FakePlatform(load_candles(btc, symbol="BTCUSDT"))
    platform.up = False
    with pytest.raises(DataSourceError) as err:
        resolve_market_data(["BTCUSDT"], "1h", client=client_for(platform), cache_dir=tmp_path)
    message = str(err.value)
    assert "http://platform.test" in message and "tradeready serve" in message and "data=" in message


def test_env_gets_candles_from_the_platform(btc: pd.DataFrame, tmp_path: Path) -> None:
    import gymnasium as gym

    import tradeready_gym  # noqa: F401  (registers the ids)

    platform = FakePlatform(load_candles(btc, symbol="BTCUSDT"))
    env = gym.make(
        "TradeReady-BTC-v0",
        client=client_for(platform),
        cache_dir=str(tmp_path),
        track_training=False,
        lookback_window=10,
    )
    assert platform.requests == []  # nothing is fetched before the first reset
    obs, info = env.reset(seed=0)
    assert obs.shape == env.observation_space.shape and info["equity"] == 10_000.0
    assert "/api/v1/market/candles" in platform.requests


def test_default_cache_dir_honours_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TRADEREADY_CACHE_DIR", str(tmp_path / "x"))
    assert default_cache_dir() == tmp_path / "x"
    monkeypatch.delenv("TRADEREADY_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert default_cache_dir() == tmp_path / "tradeready" / "candles"
