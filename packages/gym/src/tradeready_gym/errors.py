"""The error hierarchy of :mod:`tradeready_gym`.

Bad parameters raise :class:`InvalidParameterError` (shared with ``tradeready_core``, also a
``ValueError``), so one ``except`` catches a bad argument wherever it is checked::

    from tradeready_gym.errors import InvalidParameterError

    try:
        gym.make("TradeReady-BTC-v0", timeframe="2h", data=df)
    except InvalidParameterError as exc:
        print(exc)  # timeframe must be one of ('1m', '5m', ...); got '2h'
"""

from __future__ import annotations

from tradeready_core.errors import InvalidParameterError, TradeReadyCoreError

__all__ = [
    "DataSourceError",
    "InvalidParameterError",
    "TradeReadyGymError",
]


class TradeReadyGymError(TradeReadyCoreError):
    """Base class of the errors raised by ``tradeready_gym`` itself."""


class DataSourceError(TradeReadyGymError, RuntimeError):
    """No candles could be resolved: no ``data=`` was given and the platform could not provide them."""
