"""Shipping candles and a platform-backed env's first ``reset()``, cold and warm cache, on loopback.

Starts the real platform (``tradeready serve``: SQLite under a temporary home by default, or
PostgreSQL with ``--database-url``) holding the real BTCUSDT 1h candles of ``../shared/data/market``
and a year of **synthetic** 1m candles (``XBTUSDT``, labelled synthetic; no real year of 1m
candles is on this machine), then times::

    .venv/bin/python bench/market_data.py

- ``GET /api/v1/market/candles`` through the SDK for one year of 1h candles (8,760) and one year of
  1m candles (525,600) in one response (median of 5);
- ``TradeReady-BTC-v0`` with ``api_key``/``base_url`` and no ``data=`` over one year of 1h candles:
  ``gym.make`` plus the first ``reset()`` with an empty candle cache (download, store on disk,
  features) and again with that cache warm (a new env, same ``cache_dir``).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import gymnasium as gym

import tradeready_gym  # noqa: F401  (registers the environment ids)
from agentexchange import AgentExchangeClient
from remote_step import _free_port, _prepare, _server  # type: ignore[import-not-found]
from tradeready.server.db.engine import make_engine, make_session_factory
from tradeready.server.settings import Settings
from tradeready.server.store.market import MarketStore
from tradeready_core.data import load_candles, synthetic_candles

DATA = Path(os.environ.get("TRADEREADY_MARKET_DATA", "/work/shared/data/market")) / "BTCUSDT-1h.csv"
YEAR_START, YEAR_END = "2025-01-01", "2026-01-01"
MINUTES_A_YEAR = 365 * 24 * 60


def _store(settings: Settings) -> None:
    engine = make_engine(settings.resolved_database_url)
    try:
        with make_session_factory(engine)() as db:
            store = MarketStore(db)
            store.insert_candles(load_candles(DATA))
            store.insert_candles(synthetic_candles("XBTUSDT", "1m", YEAR_START, MINUTES_A_YEAR, seed=3))
            db.commit()
    finally:
        engine.dispose()


def _median_ms(call: Any, repeat: int = 5) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = call()
        times.append(1000 * (time.perf_counter() - started))
    return statistics.median(times), result


def _first_reset(url: str, api_key: str, cache_dir: Path) -> tuple[float, float]:
    """(ms of gym.make, ms of the first reset) of a platform-backed env over one year of 1h candles."""
    started = time.perf_counter()
    env: Any = gym.make(
        "TradeReady-BTC-v0", api_key=api_key, base_url=url, cache_dir=cache_dir, track_training=False,
        start_time=YEAR_START, end_time=YEAR_END, lookback_window=50,
    )  # fmt: skip
    made = time.perf_counter()
    env.reset(seed=0)
    done = time.perf_counter()
    env.close()
    return 1000 * (made - started), 1000 * (done - made)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=None, help="PostgreSQL URL (default: SQLite in a temp home)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tradeready-bench-") as tmp:
        home = Path(tmp)
        settings = Settings(home=home, database_url=args.database_url)
        _, api_key = _prepare(settings)
        _store(settings)
        with _server(home, args.database_url, _free_port()) as (url, _process):
            with AgentExchangeClient(api_key=api_key, base_url=url, timeout=120) as client:
                client.get_candles("BTCUSDT", "1h", YEAR_START, YEAR_END)  # warm-up (connection, caches)
                hour_ms, hours = _median_ms(lambda: client.get_candles("BTCUSDT", "1h", YEAR_START, YEAR_END))
                minute_ms, minutes = _median_ms(lambda: client.get_candles("XBTUSDT", "1m", YEAR_START, YEAR_END))
            cache = home / "candle-cache"
            cold = _first_reset(url, api_key, cache)
            warm = _first_reset(url, api_key, cache)
    backend = "postgresql" if args.database_url else "sqlite"
    print(f"market data on loopback ({backend}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}; median of 5)")
    print(f"  one year of 1h candles, one response   {hour_ms:8.1f} ms   ({len(hours['open_time']):,} bars, real)")
    n_minutes = len(minutes["open_time"])
    print(f"  one year of 1m candles, one response   {minute_ms:8.1f} ms   ({n_minutes:,} bars, synthetic)")
    print(f"  platform env, cold cache: make {cold[0]:7.1f} ms, first reset {cold[1]:7.1f} ms")
    print(f"  platform env, warm cache: make {warm[0]:7.1f} ms, first reset {warm[1]:7.1f} ms")


if __name__ == "__main__":
    main()
