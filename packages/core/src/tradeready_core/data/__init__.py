"""Market data: candles, loaders, validation, resampling and the labelled synthetic generator.

>>> from tradeready_core.data import load_candles, resample, synthetic_candles
>>> btc = load_candles("/work/shared/data/market/BTCUSDT-1h.csv")      # doctest: +SKIP
>>> daily = resample(btc, "1d")                                         # doctest: +SKIP
>>> demo = synthetic_candles("BTCUSDT", "1h", periods=5000, seed=0)    # source == "synthetic"
"""

from typing import TYPE_CHECKING, Any

from tradeready_core.data._time import format_ms, to_ms
from tradeready_core.data.candles import OHLCV_COLUMNS, SOURCES, Candles, MarketData, Source
from tradeready_core.data.loaders import (
    BINANCE_KLINE_COLUMNS,
    infer_from_filename,
    load_binance_kline_archive,
    load_candles,
    load_candles_with_report,
)
from tradeready_core.data.resample import resample
from tradeready_core.data.synthetic import synthetic_candles, synthetic_market
from tradeready_core.data.validation import (
    DEFAULT_SPIKE_THRESHOLD,
    ISSUE_KINDS,
    Gap,
    IssueKind,
    Severity,
    ValidationIssue,
    ValidationReport,
    validate_candles,
)

if TYPE_CHECKING:
    from tradeready_core.data._time import TimeLike


def __getattr__(name: str) -> Any:
    """``TimeLike`` names ``pandas.Timestamp``; it is built (and pandas imported) on first access."""
    if name == "TimeLike":
        from tradeready_core.data import _time

        return _time.TimeLike
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "BINANCE_KLINE_COLUMNS",
    "DEFAULT_SPIKE_THRESHOLD",
    "ISSUE_KINDS",
    "OHLCV_COLUMNS",
    "SOURCES",
    "Candles",
    "Gap",
    "IssueKind",
    "MarketData",
    "Severity",
    "Source",
    "TimeLike",
    "ValidationIssue",
    "ValidationReport",
    "format_ms",
    "infer_from_filename",
    "load_binance_kline_archive",
    "load_candles",
    "load_candles_with_report",
    "resample",
    "synthetic_candles",
    "synthetic_market",
    "to_ms",
    "validate_candles",
]
