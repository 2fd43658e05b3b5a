"""Market data: candles, loaders, validation, resampling and the labelled synthetic generator.

>>> from tradeready_core.data import load_candles, resample, synthetic_candles
>>> btc = load_candles("/work/shared/data/market/BTCUSDT-1h.csv")      # doctest: +SKIP
>>> daily = resample(btc, "1d")                                         # doctest: +SKIP
>>> demo = synthetic_candles("BTCUSDT", "1h", periods=5000, seed=0)    # source == "synthetic"
"""

from tradeready_core.data._time import TimeLike, format_ms, to_ms
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
