"""The error hierarchy of :mod:`tradeready_core`.

Every error raised on purpose by the core package derives from :class:`TradeReadyCoreError`.
Parameter and data errors also derive from :class:`ValueError`, so callers that only know the
standard library can still catch them::

    from tradeready_core.errors import InvalidParameterError
    from tradeready_core.timeframes import timeframe_seconds

    try:
        timeframe_seconds("2h")
    except InvalidParameterError as exc:
        print(exc)  # timeframe must be one of ('1m', ...); got '2h'
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

__all__ = [
    "DataFormatError",
    "DataValidationError",
    "EpisodeFinishedError",
    "InsufficientDataError",
    "InvalidParameterError",
    "TradeReadyCoreError",
]


class TradeReadyCoreError(Exception):
    """Base class of every error raised by ``tradeready_core``."""


class InvalidParameterError(TradeReadyCoreError, ValueError):
    """A parameter has a value outside what is allowed (the message names both)."""


class DataValidationError(TradeReadyCoreError, ValueError):
    """Candles failed validation.

    ``issues`` holds the individual problems (each naming its row number), in the order found.
    """

    def __init__(self, message: str, issues: Iterable[Any] = ()) -> None:
        super().__init__(message)
        self.issues: list[Any] = list(issues)


class DataFormatError(TradeReadyCoreError, ValueError):
    """A file or frame is not in a recognised candle format."""


class InsufficientDataError(TradeReadyCoreError, ValueError):
    """There are fewer candles than the requested operation needs."""


class EpisodeFinishedError(TradeReadyCoreError, RuntimeError):
    """The simulator was stepped after its episode ended (call ``reset()`` first)."""
