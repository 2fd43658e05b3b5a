"""Small time helpers shared by the data modules (UTC epoch milliseconds everywhere)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from tradeready_core.errors import InvalidParameterError

__all__ = ["TimeLike", "format_ms", "to_ms"]

TimeLike = int | np.integer | str | dt.datetime | dt.date | pd.Timestamp | np.datetime64
"""A point in time: epoch milliseconds (int), an ISO-8601 string, or a datetime-like (naive = UTC)."""


def to_ms(value: TimeLike, *, name: str = "time") -> int:
    """Convert ``value`` to UTC epoch milliseconds; naive datetimes and strings are taken as UTC.

    >>> to_ms("2024-01-01")
    1704067200000
    >>> to_ms(1704067200000)
    1704067200000
    """
    if isinstance(value, bool):
        raise InvalidParameterError(f"{name} must be epoch ms, an ISO-8601 string or a datetime; got {value!r}")
    if isinstance(value, int | np.integer):
        return int(value)
    try:
        ts = pd.Timestamp(value)
    except (TypeError, ValueError) as exc:
        raise InvalidParameterError(
            f"{name} must be epoch ms, an ISO-8601 string or a datetime; got {value!r}"
        ) from exc
    if pd.isna(ts):
        raise InvalidParameterError(f"{name} must be a valid time; got {value!r}")
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return int(ts.as_unit("ns").value) // 1_000_000


def format_ms(ms: int) -> str:
    """Format epoch milliseconds as ISO-8601 UTC with a ``Z`` suffix.

    >>> format_ms(1704067200000)
    '2024-01-01T00:00:00Z'
    """
    ts = pd.Timestamp(int(ms), unit="ms", tz="UTC")
    text = ts.strftime("%Y-%m-%dT%H:%M:%S")
    if ms % 1000:
        text += f".{ms % 1000:03d}"
    return text + "Z"
