"""The one feature pipeline: candle features computed once per dataset with TA-Lib.

Usage::

    from tradeready_gym.features import FeaturePipeline

    pipeline = FeaturePipeline(["ohlcv", "rsi_14", "macd", "bollinger", "balance", "position"])
    matrix = pipeline.compute(open_, high, low, close, volume)  # 1-D float64 arrays, oldest first
    matrix.columns      # ('ohlcv_open', ..., 'rsi_14', 'macd_line', ...)
    matrix.values       # (T, F) float32, C-contiguous, read-only
    matrix.warmup       # first row where every column is defined
    t, lookback = 500, 50
    window = matrix.flat[(t - lookback + 1) * matrix.n_columns : (t + 1) * matrix.n_columns]  # a view

Every indicator is computed once, vectorised, by TA-Lib over the whole dataset; nothing is computed
per step. The portfolio scalars (``balance``, ``position``, ``unrealized_pnl``) depend on the
agent's trades, so they are only validated here and reported in
:attr:`FeaturePipeline.portfolio_features`; the environment appends them to each observation.

Timing (no look-ahead)
    Row ``t`` of the matrix uses only candles ``0..t``, i.e. candles closed at or before ``t``: the
    decision taken after candle ``t`` closes sees row ``t``. TA-Lib leaves the first ``lookback``
    rows of each indicator undefined (NaN); :attr:`FeatureMatrix.warmup` is the largest lookback of
    the selected features, the first row where every column is defined. Rows before it may hold
    NaN and must never be observed: an episode whose observations are windows of ``L`` rows starts
    at row ``warmup + L - 1`` or later (:meth:`FeatureMatrix.first_window_end`).

    Columns each feature adds, and its TA-Lib lookback (rows left undefined):

    - ``ohlcv``: ``ohlcv_open``, ``ohlcv_high``, ``ohlcv_low``, ``ohlcv_close``, ``ohlcv_volume``
      (lookback 19: the 20-candle volume SMA)
    - ``rsi_14``: ``rsi_14`` (RSI 14; lookback 14)
    - ``macd``: ``macd_line``, ``macd_signal``, ``macd_hist`` (MACD 12/26/9; lookback 33)
    - ``bollinger``: ``bb_upper``, ``bb_middle``, ``bb_lower`` (BBANDS 20, 2 sigma; lookback 19)
    - ``atr``: ``atr_14`` (ATR 14; lookback 14)
    - ``adx``: ``adx_14`` (ADX 14, the real one; lookback 27)
    - ``returns``: ``log_return`` (lookback 1)
    - ``volume``: ``volume_zscore`` (20-candle SMA and standard deviation; lookback 19)

    RSI, ATR and ADX use Wilder smoothing and MACD uses EMAs: TA-Lib seeds them at the start of
    the dataset, so their first values after the lookback still carry that seed (TA-Lib's
    "unstable period"; it fades within about a hundred candles). They are defined and free of
    look-ahead, but a value depends on where the dataset starts, which is why the matrix is
    computed once per dataset and never over a sliding window.

Scaling (every column is unit-free and clipped to ``[-FEATURE_CLIP, FEATURE_CLIP]``)
    - ``ohlcv_open/high/low`` = ``x_t / close_t - 1`` (the candle's shape relative to its close).
    - ``ohlcv_close`` = ``close_t / close_{t-1} - 1``: the close relative to itself would always be
      0, so the close is given relative to the previous close (the simple return). Together the
      columns of a window encode the price path without any dollar amount.
    - ``ohlcv_volume`` = ``log1p(volume_t / SMA20(volume)_t)`` (0 when the SMA is 0); about 0.69
      for an average candle, at most ``log1p(20)``.
    - ``rsi_14`` = RSI / 100, in ``[0, 1]``; ``adx_14`` = ADX / 100, in ``[0, 1]``.
    - ``macd_line/signal/hist`` = MACD values / ``close_t``.
    - ``bb_upper/middle/lower`` = band / ``close_t`` - 1.
    - ``atr_14`` = ATR / ``close_t``.
    - ``log_return`` = ``log(close_t / close_{t-1})``.
    - ``volume_zscore`` = ``(volume_t - SMA20) / STDDEV20`` (population standard deviation; 0 when
      volume was constant over the 20 candles), which is within ``±sqrt(19)``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Final

import numpy as np
import talib
from numpy.typing import ArrayLike, NDArray
from talib import abstract

from tradeready_core.errors import DataValidationError, InsufficientDataError, InvalidParameterError

__all__ = [
    "FEATURES",
    "FEATURE_CLIP",
    "PORTFOLIO_FEATURES",
    "FeatureMatrix",
    "FeaturePipeline",
]

FEATURE_CLIP: Final[float] = 10.0
"""Every feature value is clipped to ``[-FEATURE_CLIP, FEATURE_CLIP]`` so observation spaces are finite."""

PORTFOLIO_FEATURES: Final[tuple[str, ...]] = ("balance", "position", "unrealized_pnl")
"""Portfolio scalars: accepted by :class:`FeaturePipeline`, computed by the environment each step."""

_Float64 = NDArray[np.float64]
_Columns = list[_Float64]

_VOLUME_PERIOD: Final = 20


def _ratio(numerator: _Float64, denominator: _Float64) -> _Float64:
    """``numerator / denominator``, 0 where the denominator is 0 (NaN stays NaN)."""
    out = np.zeros_like(numerator)
    np.divide(numerator, denominator, out=out, where=denominator != 0.0)
    out[np.isnan(numerator) | np.isnan(denominator)] = np.nan
    return out


def _ohlcv(o: _Float64, h: _Float64, lo: _Float64, c: _Float64, v: _Float64) -> _Columns:
    mean_volume = talib.SMA(v, timeperiod=_VOLUME_PERIOD)
    return [
        o / c - 1.0,
        h / c - 1.0,
        lo / c - 1.0,
        talib.ROCR(c, timeperiod=1) - 1.0,
        np.log1p(_ratio(v, mean_volume)),
    ]


def _rsi(o: _Float64, h: _Float64, lo: _Float64, c: _Float64, v: _Float64) -> _Columns:
    return [talib.RSI(c, timeperiod=14) / 100.0]


def _macd(o: _Float64, h: _Float64, lo: _Float64, c: _Float64, v: _Float64) -> _Columns:
    line, signal, hist = talib.MACD(c, fastperiod=12, slowperiod=26, signalperiod=9)
    return [line / c, signal / c, hist / c]


def _bollinger(o: _Float64, h: _Float64, lo: _Float64, c: _Float64, v: _Float64) -> _Columns:
    upper, middle, lower = talib.BBANDS(c, timeperiod=20, nbdevup=2.0, nbdevdn=2.0)  # matype: SMA (default)
    return [upper / c - 1.0, middle / c - 1.0, lower / c - 1.0]


def _atr(o: _Float64, h: _Float64, lo: _Float64, c: _Float64, v: _Float64) -> _Columns:
    return [talib.ATR(h, lo, c, timeperiod=14) / c]


def _adx(o: _Float64, h: _Float64, lo: _Float64, c: _Float64, v: _Float64) -> _Columns:
    return [talib.ADX(h, lo, c, timeperiod=14) / 100.0]


def _returns(o: _Float64, h: _Float64, lo: _Float64, c: _Float64, v: _Float64) -> _Columns:
    return [np.log(talib.ROCR(c, timeperiod=1))]


def _volume(o: _Float64, h: _Float64, lo: _Float64, c: _Float64, v: _Float64) -> _Columns:
    mean = talib.SMA(v, timeperiod=_VOLUME_PERIOD)
    std = talib.STDDEV(v, timeperiod=_VOLUME_PERIOD, nbdev=1.0)
    return [_ratio(v - mean, std)]


@dataclass(frozen=True, slots=True)
class _Feature:
    columns: tuple[str, ...]
    lookback: int
    compute: Callable[[_Float64, _Float64, _Float64, _Float64, _Float64], _Columns]


def _lookback(name: str, **params: Any) -> int:
    """TA-Lib's own lookback (rows left undefined) for an indicator with these parameters."""
    return int(abstract.Function(name, **params).lookback)  # type: ignore[attr-defined]  # not in the stubs


_SMA_LOOKBACK: Final = _lookback("SMA", timeperiod=_VOLUME_PERIOD)
_FEATURES: Final[Mapping[str, _Feature]] = MappingProxyType(
    {
        "ohlcv": _Feature(
            ("ohlcv_open", "ohlcv_high", "ohlcv_low", "ohlcv_close", "ohlcv_volume"),
            max(_SMA_LOOKBACK, _lookback("ROCR", timeperiod=1)),
            _ohlcv,
        ),
        "rsi_14": _Feature(("rsi_14",), _lookback("RSI", timeperiod=14), _rsi),
        "macd": _Feature(
            ("macd_line", "macd_signal", "macd_hist"),
            _lookback("MACD", fastperiod=12, slowperiod=26, signalperiod=9),
            _macd,
        ),
        "bollinger": _Feature(("bb_upper", "bb_middle", "bb_lower"), _lookback("BBANDS", timeperiod=20), _bollinger),
        "atr": _Feature(("atr_14",), _lookback("ATR", timeperiod=14), _atr),
        "adx": _Feature(("adx_14",), _lookback("ADX", timeperiod=14), _adx),
        "returns": _Feature(("log_return",), _lookback("ROCR", timeperiod=1), _returns),
        "volume": _Feature(
            ("volume_zscore",),
            max(_SMA_LOOKBACK, _lookback("STDDEV", timeperiod=_VOLUME_PERIOD)),
            _volume,
        ),
    }
)

FEATURES: Final[Mapping[str, tuple[str, ...]]] = MappingProxyType(
    {name: feature.columns for name, feature in _FEATURES.items()}
)
"""Candle feature names mapped to the columns each one adds to the matrix, in order."""


class FeatureMatrix:
    """The features of one dataset: ``values[t]`` uses only candles ``0..t``.

    Attributes:
        values: ``(T, F)`` float32, C-contiguous and read-only; rows before ``warmup`` may hold NaN.
        flat: ``values`` raveled (a view): the window of rows ``a..b`` is
            ``flat[a * F : (b + 1) * F]``, zero-copy.
        columns: the ``F`` column names.
        warmup: the first row where every column is defined (finite).
    """

    __slots__ = ("_columns", "_flat", "_values", "_warmup")

    def __init__(self, values: NDArray[np.float32], columns: Sequence[str], warmup: int) -> None:
        if values.ndim != 2 or values.shape[1] != len(columns):
            raise InvalidParameterError(
                f"values must have shape (T, {len(columns)}) for {len(columns)} columns; got {values.shape}"
            )
        matrix = np.ascontiguousarray(values, dtype=np.float32)
        matrix.setflags(write=False)
        self._values = matrix
        self._flat = matrix.reshape(-1)
        self._columns = tuple(columns)
        self._warmup = int(warmup)

    @property
    def values(self) -> NDArray[np.float32]:
        return self._values

    @property
    def flat(self) -> NDArray[np.float32]:
        return self._flat

    @property
    def columns(self) -> tuple[str, ...]:
        return self._columns

    @property
    def warmup(self) -> int:
        return self._warmup

    @property
    def n_columns(self) -> int:
        """``F``, the number of columns (values per row)."""
        return len(self._columns)

    def __len__(self) -> int:
        """``T``, the number of rows (one per candle)."""
        return int(self._values.shape[0])

    def first_window_end(self, lookback_window: int) -> int:
        """The first row ``t`` whose window of ``lookback_window`` rows ending at ``t`` is all defined."""
        if isinstance(lookback_window, bool) or not isinstance(lookback_window, int) or lookback_window < 1:
            raise InvalidParameterError(f"lookback_window must be an int >= 1; got {lookback_window!r}")
        return self._warmup + lookback_window - 1

    def window(self, end: int, lookback_window: int) -> NDArray[np.float32]:
        """Rows ``end - lookback_window + 1 .. end`` as a flat read-only view (no checks: hot path)."""
        width = len(self._columns)
        return self._flat[(end - lookback_window + 1) * width : (end + 1) * width]

    def __repr__(self) -> str:
        return f"FeatureMatrix(rows={len(self)}, columns={self._columns!r}, warmup={self._warmup})"


class FeaturePipeline:
    """Validates a list of feature names and computes the candle features of a dataset.

    Example::

        pipeline = FeaturePipeline(["ohlcv", "rsi_14", "balance"])
        pipeline.candle_features     # ('ohlcv', 'rsi_14')
        pipeline.portfolio_features  # ('balance',)
        pipeline.columns             # ('ohlcv_open', ..., 'ohlcv_volume', 'rsi_14')
        pipeline.warmup              # 19: rows before it are undefined
        matrix = pipeline.compute(open_, high, low, close, volume)

    Names are those of :data:`FEATURES` and :data:`PORTFOLIO_FEATURES`; unknown or repeated names
    raise :class:`~tradeready_core.errors.InvalidParameterError` listing the valid ones. Column
    order follows the order of the names.
    """

    __slots__ = ("_candle", "_columns", "_features", "_portfolio", "_warmup")

    def __init__(self, features: Sequence[str]) -> None:
        valid = (*FEATURES, *PORTFOLIO_FEATURES)
        if isinstance(features, str) or not isinstance(features, Sequence):
            raise InvalidParameterError(
                f"features must be a sequence of feature names such as ['ohlcv', 'rsi_14']; got {features!r}"
            )
        names = list(features)
        if not names:
            raise InvalidParameterError(f"features must name at least one feature; valid names: {valid}")
        unknown = [name for name in names if not isinstance(name, str) or name not in valid]
        if unknown:
            raise InvalidParameterError(f"unknown feature name(s) {unknown}; valid names: {valid}")
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise InvalidParameterError(f"feature name(s) {repeated} given more than once in {names}")
        self._features = tuple(names)
        self._candle = tuple(name for name in names if name in _FEATURES)
        self._portfolio = tuple(name for name in names if name in PORTFOLIO_FEATURES)
        self._columns = tuple(column for name in self._candle for column in _FEATURES[name].columns)
        self._warmup = max((_FEATURES[name].lookback for name in self._candle), default=0)

    @property
    def features(self) -> tuple[str, ...]:
        """Every name given, in order."""
        return self._features

    @property
    def candle_features(self) -> tuple[str, ...]:
        """The names computed here from candles, in order."""
        return self._candle

    @property
    def portfolio_features(self) -> tuple[str, ...]:
        """The portfolio scalars requested, in order (the environment computes them each step)."""
        return self._portfolio

    @property
    def columns(self) -> tuple[str, ...]:
        """The column names of the matrix :meth:`compute` returns."""
        return self._columns

    @property
    def warmup(self) -> int:
        """The first row where every column is defined (the largest TA-Lib lookback selected)."""
        return self._warmup

    def config(self) -> dict[str, Any]:
        """A JSON-ready description, e.g. for registering a training run."""
        return {"features": list(self._features), "columns": list(self._columns), "warmup": self._warmup}

    def compute(
        self, open: ArrayLike, high: ArrayLike, low: ArrayLike, close: ArrayLike, volume: ArrayLike
    ) -> FeatureMatrix:
        """Compute the candle features of a whole dataset (1-D arrays, oldest candle first).

        Raises:
            InvalidParameterError: the arrays are not 1-D or differ in length.
            InsufficientDataError: fewer than ``warmup + 1`` candles.
            DataValidationError: a non-finite value, a close <= 0 or a negative volume.
        """
        arrays = _as_candle_arrays(open=open, high=high, low=low, close=close, volume=volume)
        rows = arrays[0].shape[0]
        if rows <= self._warmup:
            raise InsufficientDataError(
                f"features {list(self._candle)} need at least {self._warmup + 1} candles "
                f"(warm-up {self._warmup}); got {rows}"
            )
        values = np.empty((rows, len(self._columns)), dtype=np.float32)
        column = 0
        for name in self._candle:
            for series in _FEATURES[name].compute(*arrays):
                values[:, column] = series
                column += 1
        np.clip(values, -FEATURE_CLIP, FEATURE_CLIP, out=values)
        return FeatureMatrix(values, self._columns, self._warmup)

    def __repr__(self) -> str:
        return f"FeaturePipeline({list(self._features)!r})"


def _as_candle_arrays(**named: ArrayLike) -> tuple[_Float64, _Float64, _Float64, _Float64, _Float64]:
    arrays = {name: np.ascontiguousarray(value, dtype=np.float64) for name, value in named.items()}
    shapes = {name: array.shape for name, array in arrays.items()}
    if any(len(shape) != 1 for shape in shapes.values()) or len(set(shapes.values())) != 1:
        raise InvalidParameterError(f"open, high, low, close and volume must be 1-D of one length; got {shapes}")
    for name, array in arrays.items():
        bad = np.flatnonzero(~np.isfinite(array))
        if bad.size:
            raise DataValidationError(f"{name} is not finite at row {int(bad[0])}: {float(array[bad[0]])!r}")
    close, volume = arrays["close"], arrays["volume"]
    bad = np.flatnonzero(close <= 0.0)
    if bad.size:
        raise DataValidationError(f"close must be > 0; got {float(close[bad[0]])!r} at row {int(bad[0])}")
    bad = np.flatnonzero(volume < 0.0)
    if bad.size:
        raise DataValidationError(f"volume must be >= 0; got {float(volume[bad[0]])!r} at row {int(bad[0])}")
    return arrays["open"], arrays["high"], arrays["low"], close, volume
