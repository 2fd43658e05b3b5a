"""Candle timeframes and their lengths.

Crypto markets trade around the clock, 365 days a year, so annualisation uses
``bars_per_year(tf) = 365 * 86_400 / timeframe_seconds(tf)``::

    >>> timeframe_seconds("1h")
    3600
    >>> bars_per_year("1h")
    8760.0
"""

from __future__ import annotations

from typing import Final

from tradeready_core.errors import InvalidParameterError

__all__ = ["SECONDS_PER_YEAR", "TIMEFRAMES", "bars_per_year", "timeframe_ms", "timeframe_seconds"]

TIMEFRAMES: Final[tuple[str, ...]] = ("1m", "5m", "15m", "1h", "4h", "1d")
"""Supported timeframes, finest first."""

SECONDS_PER_YEAR: Final[int] = 365 * 86_400
"""Seconds in a (365-day) crypto trading year."""

_SECONDS: Final[dict[str, int]] = {
    "1m": 60,
    "5m": 300,
    "15m": 900,
    "1h": 3_600,
    "4h": 14_400,
    "1d": 86_400,
}


def timeframe_seconds(timeframe: str) -> int:
    """Length of one ``timeframe`` bar in seconds; unknown timeframes raise :class:`InvalidParameterError`."""
    try:
        return _SECONDS[timeframe]
    except (KeyError, TypeError):
        raise InvalidParameterError(f"timeframe must be one of {TIMEFRAMES}; got {timeframe!r}") from None


def timeframe_ms(timeframe: str) -> int:
    """Length of one ``timeframe`` bar in milliseconds."""
    return timeframe_seconds(timeframe) * 1000


def bars_per_year(timeframe: str) -> float:
    """Number of ``timeframe`` bars in a 365-day year (used to annualise Sharpe and Sortino)."""
    return SECONDS_PER_YEAR / timeframe_seconds(timeframe)
