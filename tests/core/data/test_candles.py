"""Candles and MarketData: structure, immutability, slicing, frames, fingerprints, alignment."""

from __future__ import annotations

import dataclasses
import pickle
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tradeready_core.data import Candles, MarketData, load_candles, synthetic_candles
from tradeready_core.errors import InsufficientDataError, InvalidParameterError

HOUR_MS = 3_600_000
JAN_2024 = 1_704_067_200_000


def tiny(n: int = 4, symbol: str = "BTCUSDT", start: int = JAN_2024, source: str = "file") -> Candles:
    t = start + HOUR_MS * np.arange(n)
    base = 100.0 + np.arange(n)
    return Candles(
        symbol=symbol,
        timeframe="1h",
        open_time=t,
        open=base,
        high=base + 2,
        low=base - 1,
        close=base + 1,
        volume=np.full(n, 10.0),
        source=source,  # type: ignore[arg-type]
    )


def test_arrays_are_contiguous_read_only_copies() -> None:
    opens = np.array([1.0, 2.0, 3.0])
    c = Candles("X", "1h", [0, HOUR_MS, 2 * HOUR_MS], opens, [2, 3, 4], [0.5, 1, 2], [1, 2, 3], [1, 1, 1])
    opens[0] = 99.0
    assert c.open[0] == 1.0
    assert c.open_time.dtype == np.int64
    for name in ("open_time", "open", "high", "low", "close", "volume"):
        arr = getattr(c, name)
        assert arr.flags.c_contiguous and not arr.flags.writeable
        with pytest.raises(ValueError, match="read-only"):
            arr[0] = 0
    with pytest.raises(dataclasses.FrozenInstanceError):
        c.symbol = "Y"  # type: ignore[misc]
    assert c.high.dtype == np.float64 and len(c) == 3 and not c.is_synthetic


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"timeframe": "2h"}, r"timeframe must be one of .*; got '2h'"),
        ({"source": "yahoo"}, r"source must be one of \('binance', 'file', 'synthetic'\); got 'yahoo'"),
        ({"symbol": ""}, "symbol must be a non-empty string"),
        ({"open_time": [0, 0, HOUR_MS]}, "strictly increasing; got 0"),
        ({"open_time": [0.5, 1, 2]}, "whole epoch milliseconds"),
        ({"volume": [1.0, 2.0]}, r"volume must have the same length as open_time \(3\); got 2"),
        ({"close": ["a", "b", "c"]}, "close must hold numbers"),
    ],
)
def test_structural_errors(kwargs: dict[str, object], message: str) -> None:
    args: dict[str, object] = {
        "symbol": "X",
        "timeframe": "1h",
        "open_time": [0, HOUR_MS, 2 * HOUR_MS],
        "open": [1.0, 1.0, 1.0],
        "high": [1.0, 1.0, 1.0],
        "low": [1.0, 1.0, 1.0],
        "close": [1.0, 1.0, 1.0],
        "volume": [1.0, 1.0, 1.0],
        **kwargs,
    }
    with pytest.raises(InvalidParameterError, match=message):
        Candles(**args)  # type: ignore[arg-type]


def test_pickle_round_trip_keeps_arrays_read_only() -> None:
    c = tiny(5, source="synthetic")
    back = pickle.loads(pickle.dumps(c))
    assert back == c and back.source == "synthetic"
    assert not back.close.flags.writeable and not back.open_time.flags.writeable
    m = MarketData.from_candles([c, tiny(5, "ETHUSDT")])
    m_back = pickle.loads(pickle.dumps(m))
    assert m_back == m and not m_back.close.flags.writeable


def test_slice_is_half_open_and_accepts_times() -> None:
    c = tiny(10)
    part = c.slice(JAN_2024 + 2 * HOUR_MS, "2024-01-01T05:00:00Z")
    np.testing.assert_array_equal(part.open_time, JAN_2024 + HOUR_MS * np.arange(2, 5))
    assert np.shares_memory(part.open, c.open)
    assert len(c.slice(pd.Timestamp("2024-01-01 08:00", tz="UTC"))) == 2
    assert len(c.slice(None, JAN_2024)) == 0
    assert len(c.slice("2024-02-01", "2024-01-01")) == 0
    with pytest.raises(InvalidParameterError, match="start must be"):
        c.slice("not a time")
    with pytest.raises(InsufficientDataError, match="empty"):
        _ = c.slice(end=0).start_ms


def test_to_frame_from_frame_round_trip() -> None:
    c = tiny(6, source="binance")
    frame = c.to_frame()
    assert list(frame.columns) == ["open_time", "open", "high", "low", "close", "volume"]
    assert str(frame["open_time"].dtype) == "datetime64[ms, UTC]"
    assert Candles.from_frame(frame, "BTCUSDT", "1h", "binance") == c
    as_ints = frame.assign(open_time=c.open_time)
    assert Candles.from_frame(as_ints, "BTCUSDT", "1h", "binance") == c
    naive = frame.assign(open_time=frame["open_time"].dt.tz_localize(None))
    assert Candles.from_frame(naive, "BTCUSDT", "1h", "binance") == c


def test_fingerprint_is_pinned_and_content_sensitive() -> None:
    c = tiny()
    # a cache key must not drift between versions or platforms
    assert c.fingerprint == tiny().fingerprint
    assert c.fingerprint == "7b99f7cb88ec9872f8e7d887e4f8f9b6722342d99904fc0ccc20ac99e13de450"
    assert len(c.fingerprint) == 64
    assert dataclasses.replace(c, symbol="ETHUSDT").fingerprint != c.fingerprint
    assert dataclasses.replace(c, source="synthetic").fingerprint != c.fingerprint
    assert dataclasses.replace(c, timeframe="4h").fingerprint != c.fingerprint
    volume = c.volume.copy()
    volume[-1] += 1e-9
    assert dataclasses.replace(c, volume=volume).fingerprint != c.fingerprint
    assert c.slice(JAN_2024 + HOUR_MS).fingerprint != c.fingerprint
    assert hash(c) == hash(tiny()) and c == tiny() and c != tiny(5)


def test_fingerprint_changes_when_the_file_is_edited(market_dir: Path, tmp_path: Path) -> None:
    copy = tmp_path / "BTCUSDT-1m.csv"
    shutil.copyfile(market_dir / "BTCUSDT-1m.csv", copy)
    copy.chmod(0o644)
    original = load_candles(copy)
    assert load_candles(copy).fingerprint == original.fingerprint
    lines = copy.read_text().splitlines()
    t, o, h, lo, c, v = lines[25_000].split(",")
    lines[25_000] = ",".join([t, o, h, lo, c, f"{float(v) + 0.00001:.5f}"])  # one volume, 1e-5 BTC
    copy.write_text("\n".join(lines) + "\n")
    edited = load_candles(copy)
    assert edited.fingerprint != original.fingerprint
    assert int(np.sum(edited.volume != original.volume)) == 1


def test_market_data_inner_join_reports_dropped_bars() -> None:
    a = tiny(10, "BTCUSDT")
    b = tiny(10, "ETHUSDT", start=JAN_2024 + 3 * HOUR_MS, source="binance")
    m = MarketData.from_candles([a, b])
    assert m.symbols == ("BTCUSDT", "ETHUSDT") and m.sources == ("file", "binance")
    np.testing.assert_array_equal(m.open_time, JAN_2024 + HOUR_MS * np.arange(3, 10))
    assert m.dropped_bars == (3, 3)
    assert m.close.shape == (7, 2) and m.close.flags.c_contiguous and not m.close.flags.writeable
    np.testing.assert_array_equal(m.close[:, 0], a.close[3:])
    np.testing.assert_array_equal(m.close[:, 1], b.close[:7])
    assert m.candles("ETHUSDT") == b.slice(end=JAN_2024 + 10 * HOUR_MS)
    assert len(m.slice(JAN_2024 + 5 * HOUR_MS)) == 5
    assert MarketData.from_candles({"BTCUSDT": a, "ETHUSDT": b}).fingerprint == m.fingerprint
    with pytest.raises(InvalidParameterError, match="mapping key 'BTC' must equal the candles' symbol"):
        MarketData.from_candles({"BTC": a})
    assert MarketData.from_candles([b, a]).fingerprint != m.fingerprint
    assert not m.is_synthetic and m.n_assets == 2


def test_market_data_on_real_files(market_dir: Path, btc_1h: Candles) -> None:
    sol = load_candles(market_dir / "SOLUSDT-1h.csv")
    m = MarketData.from_candles([btc_1h, sol])
    # SOL starts earlier and has 5 extra gaps of its own; BTC's 5 gaps are shared
    assert len(m) == 44_080 and m.dropped_bars == (0, 49_750 - 44_080)
    assert m.volume.shape == (44_080, 2)


def test_market_data_errors() -> None:
    with pytest.raises(InvalidParameterError, match="share one timeframe"):
        MarketData.from_candles([tiny(), synthetic_candles(timeframe="4h", periods=10)])
    with pytest.raises(InsufficientDataError, match="share no open time"):
        MarketData.from_candles([tiny(3), tiny(3, "ETHUSDT", start=JAN_2024 + 10 * HOUR_MS)])
    with pytest.raises(InvalidParameterError, match="symbols must be unique"):
        MarketData.from_candles([tiny(), tiny()])
    with pytest.raises(InvalidParameterError, match="at least one"):
        MarketData.from_candles([])
    with pytest.raises(InvalidParameterError, match="symbol must be one of"):
        MarketData.from_candles([tiny()]).candles("ETHUSDT")
    with pytest.raises(InvalidParameterError, match=r"close must have shape \(4, 1\)"):
        dataclasses.replace(MarketData.from_candles([tiny()]), close=np.ones((3, 1)))
