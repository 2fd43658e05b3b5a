"""Aggregate candles to a coarser timeframe without look-ahead: :func:`resample`.

A target bar covers ``[bucket, bucket + target)`` on the UTC grid (4h buckets start at 00, 04, ...
UTC; 1d at 00:00 UTC). It takes the first open, max high, min low, last close and summed volume of
the source bars inside it, and it is emitted only when it can be trusted:

- ``incomplete="drop"`` (default): only buckets holding ALL their source bars. A bucket touching a
  gap (an exchange outage) is omitted, so the output shows a gap there too; nothing is filled.
- ``incomplete="aggregate"``: buckets with missing bars INSIDE the series are built from the bars
  present (as an exchange aggregates the trades that happened). The edges must still be known:
  the first bucket must begin with a source bar and the last must end with one, because data
  before the first or after the last source bar is unknown and a partial trailing bucket would be
  a still-forming candle (look-ahead in a backtest).

>>> hourly = resample(minute_candles, "1h")          # doctest: +SKIP
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from tradeready_core.data.candles import Candles
from tradeready_core.errors import InvalidParameterError
from tradeready_core.timeframes import TIMEFRAMES, timeframe_ms

__all__ = ["resample"]


def resample(
    candles: Candles,
    timeframe: str,
    *,
    incomplete: Literal["drop", "aggregate"] = "drop",
) -> Candles:
    """Candles aggregated to ``timeframe`` (a multiple of the source timeframe).

    Symbol and source are kept, so resampled synthetic data stays labelled synthetic.
    """
    if not isinstance(candles, Candles):
        raise InvalidParameterError(f"candles must be Candles; got {type(candles).__name__}")
    if timeframe not in TIMEFRAMES:
        raise InvalidParameterError(f"timeframe must be one of {TIMEFRAMES}; got {timeframe!r}")
    if incomplete not in ("drop", "aggregate"):
        raise InvalidParameterError(f"incomplete must be 'drop' or 'aggregate'; got {incomplete!r}")
    src_ms, dst_ms = timeframe_ms(candles.timeframe), timeframe_ms(timeframe)
    if dst_ms < src_ms or dst_ms % src_ms:
        coarser = [tf for tf in TIMEFRAMES if timeframe_ms(tf) % src_ms == 0]
        raise InvalidParameterError(
            f"cannot resample {candles.timeframe} candles to {timeframe!r}; allowed targets: {coarser}"
        )
    if dst_ms == src_ms:
        return candles
    per_bucket = dst_ms // src_ms
    times = candles.open_time
    if times.size and np.any(times % src_ms):
        raise InvalidParameterError(
            f"{candles.symbol} {candles.timeframe} candles have open times off their grid; validate them first"
        )
    bucket = times - times % dst_ms
    starts = np.flatnonzero(np.r_[True, bucket[1:] != bucket[:-1]]) if times.size else np.zeros(0, np.intp)
    counts = np.diff(np.r_[starts, times.size])
    complete = counts == per_bucket
    chosen = complete
    if incomplete == "aggregate" and starts.size:
        # only the edges are unknown: the first bucket must start with its first bar and the last
        # bucket must end with its last bar; missing bars in between are outages
        chosen = np.ones(starts.size, dtype=bool)
        chosen[0] = times[0] == bucket[0]
        chosen[-1] &= times[-1] + src_ms == bucket[-1] + dst_ms
    ends = np.r_[starts[1:], times.size]
    if starts.size:
        high = np.maximum.reduceat(candles.high, starts)
        low = np.minimum.reduceat(candles.low, starts)
        volume = np.add.reduceat(candles.volume, starts)
    else:
        high = low = volume = np.zeros(0)
    return Candles(
        symbol=candles.symbol,
        timeframe=timeframe,
        open_time=bucket[starts][chosen],
        open=candles.open[starts][chosen],
        high=high[chosen],
        low=low[chosen],
        close=candles.close[ends - 1][chosen],
        volume=volume[chosen],
        source=candles.source,
    )
