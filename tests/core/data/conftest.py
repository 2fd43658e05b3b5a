"""Fixtures for the market-data tests: the real files (read in place) and tiny generated candles."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from tests.support import shared_data

from tradeready_core.data import Candles, load_candles

MARKET_DIR = shared_data.MARKET

HOUR_MS = 3_600_000
JAN_2024 = 1_704_067_200_000  # 2024-01-01T00:00:00Z


@pytest.fixture(scope="session")
def market_dir() -> Path:
    """The directory of real Binance spot candles (see its README.md)."""
    assert (MARKET_DIR / "BTCUSDT-1h.csv").is_file(), f"real market data not found in {MARKET_DIR}"
    return MARKET_DIR


@pytest.fixture(scope="session")
def btc_1h(market_dir: Path) -> Candles:
    return load_candles(market_dir / "BTCUSDT-1h.csv")


@pytest.fixture(scope="session")
def btc_1m(market_dir: Path) -> Candles:
    return load_candles(market_dir / "BTCUSDT-1m.csv")


OhlcvRows = list[tuple[int, float, float, float, float, float]]


@pytest.fixture
def make_rows() -> Callable[..., OhlcvRows]:
    """``make_rows(n, start=JAN_2024, step=HOUR_MS)`` -> consistent (time_ms, o, h, l, c, v) rows."""

    def make(n: int, start: int = JAN_2024, step: int = HOUR_MS) -> OhlcvRows:
        rng = np.random.default_rng(n)
        rows: OhlcvRows = []
        price = 100.0
        for i in range(n):
            close = round(price * (1 + rng.normal(0, 0.01)), 2)
            high = round(max(price, close) + 0.5, 2)
            low = round(min(price, close) - 0.5, 2)
            rows.append((start + i * step, price, high, low, close, round(10 + i * 0.5, 3)))
            price = close
        return rows

    return make
