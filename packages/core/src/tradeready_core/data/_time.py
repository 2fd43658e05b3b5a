"""Small time helpers shared by the data modules (UTC epoch milliseconds everywhere).

pandas is imported only when needed (``TimeLike`` at runtime, ``pd.Timestamp`` inputs, strings that
are not plain ISO 8601, times outside pandas' nanosecond range), so the platform server can parse and
format times without loading pandas.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import TYPE_CHECKING, Any

import numpy as np

from tradeready_core.errors import InvalidParameterError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["TimeLike", "format_ms", "to_ms"]

if TYPE_CHECKING:
    TimeLike = int | np.integer | str | dt.datetime | dt.date | pd.Timestamp | np.datetime64
    """A point in time: epoch milliseconds (int), an ISO-8601 string, or a datetime-like (naive = UTC)."""

_TIMELIKE_DOC = "A point in time: epoch milliseconds (int), an ISO-8601 string, or a datetime-like (naive = UTC)."

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_MS = dt.timedelta(milliseconds=1)
# pd.Timestamp holds int64 nanoseconds (1677-09-21 .. 2262-04-11); outside whole years 1678..2261 the
# pandas path runs, so out-of-range inputs fail exactly as before
_SAFE_MIN_MS = -9_183_110_400_000  # 1679-01-01T00:00:00Z
_SAFE_MAX_MS = 9_183_110_400_000 - 86_400_000 * 366  # comfortably before 2262-04-11
# plain ISO 8601 that datetime.fromisoformat and pd.Timestamp read the same way (up to microseconds)
_PLAIN_ISO = re.compile(
    r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?)?(?:Z|[+-]\d{2}:\d{2})?",
    re.ASCII,
)


def __getattr__(name: str) -> Any:
    """``TimeLike`` is built on first access (it names ``pd.Timestamp``, so it needs pandas)."""
    if name == "TimeLike":
        import pandas as pd

        alias = int | np.integer | str | dt.datetime | dt.date | pd.Timestamp | np.datetime64
        globals()["TimeLike"] = alias
        return alias
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _datetime_ms(value: dt.datetime) -> int | None:
    """Epoch ms of a stdlib datetime (naive = UTC), or None when pandas must decide (out of its range)."""
    aware = value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value
    ms = (aware - _EPOCH) // _MS
    return ms if _SAFE_MIN_MS <= ms <= _SAFE_MAX_MS else None


def _fast_ms(value: object) -> int | None:
    """Epoch ms without pandas for stdlib dates/datetimes and plain ISO-8601 strings; None otherwise.

    Subclasses (``pd.Timestamp`` is a datetime) take the pandas path.
    """
    kind = type(value)
    if kind is dt.datetime and isinstance(value, dt.datetime):
        return _datetime_ms(value)
    if kind is dt.date and isinstance(value, dt.date):
        return _datetime_ms(dt.datetime.combine(value, dt.time()))
    if kind is str and isinstance(value, str) and _PLAIN_ISO.fullmatch(value):
        try:
            parsed = dt.datetime.fromisoformat(value)
        except ValueError:
            return None  # e.g. month 13: let pandas raise its own error
        return _datetime_ms(parsed)
    return None


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
    fast = _fast_ms(value)
    if fast is not None:
        return fast
    import pandas as pd

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
    whole = int(ms)
    if _SAFE_MIN_MS <= whole <= _SAFE_MAX_MS:
        text = (_EPOCH + dt.timedelta(milliseconds=whole)).strftime("%Y-%m-%dT%H:%M:%S")
    else:
        import pandas as pd

        text = pd.Timestamp(whole, unit="ms", tz="UTC").strftime("%Y-%m-%dT%H:%M:%S")
    if ms % 1000:
        text += f".{ms % 1000:03d}"
    return text + "Z"
