"""Market-data rules: parameter parsing, the columnar candles payload, imports and the demo dataset.

Routes and the CLI call these; the store does the SQL.

Example::

    start_ms = parse_time("2024-01-01", field="start")          # 1704067200000
    payload = candles_payload(store, "BTCUSDT", "1h", start_ms, None)
    return NumpyJSONResponse(payload)                          # numpy arrays serialised by orjson
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Final

import orjson
from starlette.responses import Response

from tradeready.server.errors import RequestValidationFailed
from tradeready.server.store.market import ImportResult, MarketStore, Progress
from tradeready_core.data import Candles, synthetic_candles
from tradeready_core.data._time import format_ms, to_ms
from tradeready_core.errors import InvalidParameterError
from tradeready_core.timeframes import TIMEFRAMES

__all__ = [
    "DEMO_SYMBOLS",
    "NumpyJSONResponse",
    "candles_payload",
    "check_symbol",
    "check_timeframe",
    "demo_candles",
    "import_candles",
    "parse_time",
]

DEMO_SYMBOLS: Final[tuple[str, ...]] = ("BTCUSDT", "ETHUSDT", "SOLUSDT")
"""Symbols of the synthetic demo dataset (same names as the envs use; labelled ``source="synthetic"``)."""

_SYMBOL = re.compile(r"^[A-Z0-9][A-Z0-9_\-]{1,39}$")
_DEMO_START: Final[str] = "2024-01-01"
_MAX_MS: Final[int] = 32_503_680_000_000  # year 3000


class NumpyJSONResponse(Response):
    """JSON via orjson, with numpy arrays serialised natively (no per-element Python objects)."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=orjson.OPT_SERIALIZE_NUMPY)


def _invalid(field: str, message: str, received: Any, allowed: Any = None) -> RequestValidationFailed:
    detail: dict[str, Any] = {"field": field, "message": message, "received": received}
    if allowed is not None:
        detail["allowed"] = allowed
    return RequestValidationFailed(f"Invalid request: {field}: {message}", details=[detail])


def check_timeframe(timeframe: str, field: str = "timeframe") -> str:
    """``timeframe`` if supported, else a 422 naming the allowed values."""
    if timeframe not in TIMEFRAMES:
        raise _invalid(field, f"timeframe must be one of {list(TIMEFRAMES)}; got {timeframe!r}", timeframe, TIMEFRAMES)
    return timeframe


def check_symbol(symbol: str, field: str = "symbol") -> str:
    """The symbol, upper-cased; 422 unless it looks like ``BTCUSDT`` (letters, digits, ``_``, ``-``)."""
    value = symbol.strip().upper()
    if not _SYMBOL.match(value):
        raise _invalid(
            field, f"symbol must be 2-40 letters/digits such as 'BTCUSDT'; got {symbol!r}", symbol, "e.g. BTCUSDT"
        )
    return value


def parse_time(value: str | None, field: str) -> int | None:
    """Epoch ms from epoch ms digits or an ISO-8601 string (naive = UTC); ``None`` stays ``None``."""
    if value is None or value == "":
        return None
    text = value.strip()
    try:
        ms = int(text) if re.fullmatch(r"-?\d+", text) else to_ms(text, name=field)
        if not 0 <= ms < _MAX_MS:
            raise InvalidParameterError(f"{field} out of range")
        return ms
    except InvalidParameterError:
        raise _invalid(
            field,
            f"{field} must be epoch milliseconds or ISO-8601 (e.g. 2024-01-01T00:00:00Z); got {value!r}",
            value,
            "epoch ms or ISO-8601",
        ) from None


def candles_payload(
    store: MarketStore, symbol: str, timeframe: str, start_ms: int | None, end_ms: int | None
) -> dict[str, Any]:
    """The columnar candles answer (``open_time`` in epoch ms; arrays stay numpy for orjson)."""
    if start_ms is not None and end_ms is not None and start_ms >= end_ms:
        raise _invalid(
            "end", f"end must be after start; got start={format_ms(start_ms)}, end={format_ms(end_ms)}", end_ms
        )
    candles, origin = store.load_candles_with_origin(symbol, timeframe, start_ms, end_ms)
    return {
        "symbol": candles.symbol,
        "timeframe": candles.timeframe,
        "source": candles.source,
        "synthetic": candles.is_synthetic,
        "resampled_from": None if origin == timeframe else origin,
        "fingerprint": candles.fingerprint,
        "count": len(candles),
        "open_time": candles.open_time,
        "open": candles.open,
        "high": candles.high,
        "low": candles.low,
        "close": candles.close,
        "volume": candles.volume,
    }


def import_candles(
    store: MarketStore, candles: Candles, *, overwrite: bool = False, progress: Progress | None = None
) -> ImportResult:
    """Store candles (idempotent; conflicts reported, replaced only with ``overwrite``)."""
    return store.insert_candles(candles, overwrite=overwrite, progress=progress)


def demo_candles(
    symbols: Sequence[str] = DEMO_SYMBOLS, timeframe: str = "1h", periods: int = 365 * 24, seed: int = 7
) -> list[Candles]:
    """The deterministic synthetic demo dataset (``source="synthetic"``), one Candles per symbol."""
    check_timeframe(timeframe)
    if periods < 2:
        raise InvalidParameterError(f"periods must be at least 2; got {periods}")
    return [
        synthetic_candles(symbol, timeframe, start=_DEMO_START, periods=periods, seed=seed + i)
        for i, symbol in enumerate(symbols)
    ]
