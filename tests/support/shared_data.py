"""Where the tests find the workplace's shared files: the real market candles and the seed document.

One definition for the whole suite. ``TRADEREADY_MARKET_DATA`` points at another folder of candles
(the files of ``/work/shared/data/market``: ``BTCUSDT-1h.csv`` and the rest), ``TRADEREADY_SEED`` at
another copy of ``training-tracking.txt``. The session refuses to start when either is missing
(``tests/conftest.py``): the tests that read them must fail loudly, never skip.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["BTC_1H", "MARKET", "SEED", "missing"]

MARKET = Path(os.environ.get("TRADEREADY_MARKET_DATA", "/work/shared/data/market"))
BTC_1H = MARKET / "BTCUSDT-1h.csv"
SEED = Path(os.environ.get("TRADEREADY_SEED", "/work/shared/seeds/training-tracking.txt"))


def missing() -> list[str]:
    """What the suite needs and cannot find, with the variable that points elsewhere."""
    problems = []
    if not BTC_1H.is_file():
        problems.append(f"real market candles: {BTC_1H} not found (set TRADEREADY_MARKET_DATA to their folder)")
    if not SEED.is_file():
        problems.append(f"the seed document: {SEED} not found (set TRADEREADY_SEED to its path)")
    return problems
