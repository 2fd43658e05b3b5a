"""The market-data model: :class:`Candles` (one symbol) and :class:`MarketData` (N aligned symbols).

Times are candle OPEN times in UTC epoch milliseconds (int64); prices and volumes are float64.
All arrays are C-contiguous and read-only, so a dataset can be shared without being changed::

    candles = Candles(
        symbol="BTCUSDT", timeframe="1h", open_time=[0, 3_600_000],
        open=[1.0, 2.0], high=[2.0, 3.0], low=[1.0, 2.0], close=[2.0, 3.0], volume=[5.0, 6.0],
    )
    candles.fingerprint          # sha256 hex of the content; changes when any value changes
    market = MarketData.from_candles([btc, eth])   # inner join on open_time
    market.close.shape           # (T, 2)
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from functools import cached_property
from typing import TYPE_CHECKING, Any, Final, Literal, TypeAlias, cast, get_args

import numpy as np
from numpy.typing import ArrayLike, NDArray

from tradeready_core.data._time import format_ms, to_ms
from tradeready_core.errors import DataFormatError, InsufficientDataError, InvalidParameterError
from tradeready_core.timeframes import TIMEFRAMES

if TYPE_CHECKING:
    import pandas as pd

    from tradeready_core.data._time import TimeLike

__all__ = ["OHLCV_COLUMNS", "SOURCES", "Candles", "MarketData", "Source"]

Source: TypeAlias = Literal["binance", "file", "synthetic"]
"""Where candles came from: Binance kline data, a user file/frame, or the synthetic generator."""

SOURCES: Final[tuple[str, ...]] = get_args(Source)

OHLCV_COLUMNS: Final[tuple[str, ...]] = ("open", "high", "low", "close", "volume")

_FINGERPRINT_VERSION: Final[bytes] = b"tradeready-candles-v1\x00"


def _frozen_array(values: ArrayLike, dtype: type[np.generic], *, name: str, ndim: int) -> NDArray[Any]:
    """A C-contiguous read-only ``dtype`` array with its own memory (a private copy unless already so)."""
    arr = np.asarray(values)
    if arr.dtype == np.bool_ or arr.dtype.kind not in "iuf":
        raise InvalidParameterError(f"{name} must hold numbers; got an array of dtype {arr.dtype}")
    if dtype is np.int64 and arr.dtype.kind == "f" and not np.all(np.isfinite(arr) & (arr == np.round(arr))):
        raise InvalidParameterError(f"{name} must hold whole epoch milliseconds; got fractional values")
    if arr.ndim != ndim:
        raise InvalidParameterError(f"{name} must be {ndim}-dimensional; got shape {arr.shape}")
    if not (arr.dtype == dtype and arr.flags.c_contiguous and _is_immutable(arr)):
        arr = np.array(arr, dtype=dtype, order="C", copy=True)
        arr.flags.writeable = False
    return arr


def _is_immutable(arr: NDArray[Any]) -> bool:
    """True when neither ``arr`` nor any array it views is writeable (so sharing it is safe)."""
    current: object = arr
    while isinstance(current, np.ndarray):
        if current.flags.writeable:
            return False
        current = current.base
    return current is None


def _check_timeframe(timeframe: str) -> None:
    if timeframe not in TIMEFRAMES:
        raise InvalidParameterError(f"timeframe must be one of {TIMEFRAMES}; got {timeframe!r}")


def _check_source(source: str) -> None:
    if source not in SOURCES:
        raise InvalidParameterError(f"source must be one of {SOURCES}; got {source!r}")


def _check_symbol(symbol: object) -> None:
    if not isinstance(symbol, str) or not symbol or symbol.strip() != symbol or " " in symbol:
        raise InvalidParameterError(f"symbol must be a non-empty string without spaces; got {symbol!r}")


def _check_increasing(open_time: NDArray[np.int64], *, name: str = "open_time") -> None:
    if open_time.size > 1:
        steps = np.diff(open_time)
        bad = np.flatnonzero(steps <= 0)
        if bad.size:
            i = int(bad[0]) + 1
            raise InvalidParameterError(
                f"{name} must be strictly increasing; got {open_time[i]} ({format_ms(int(open_time[i]))}) "
                f"at index {i} after {open_time[i - 1]} ({format_ms(int(open_time[i - 1]))}); "
                "use load_candles() to sort and validate raw data"
            )


def _hash_arrays(header: Mapping[str, object], arrays: Iterable[NDArray[Any]]) -> str:
    digest = hashlib.sha256(_FINGERPRINT_VERSION)
    digest.update(json.dumps(header, sort_keys=True, separators=(",", ":")).encode())
    for arr in arrays:
        little = arr.astype(arr.dtype.newbyteorder("<"), copy=False)
        digest.update(np.ascontiguousarray(little).tobytes())
    return digest.hexdigest()


def _frame_times_to_ms(df: pd.DataFrame) -> NDArray[np.int64]:
    """``open_time`` of a normalised frame as int64 ms: int column, datetime column, or a DatetimeIndex."""
    import pandas as pd

    if "open_time" in df.columns:
        col: pd.Series[Any] | pd.Index[Any] = df["open_time"]
    elif isinstance(df.index, pd.DatetimeIndex):
        col = df.index
    else:
        raise DataFormatError(
            f"frame must have an 'open_time' column or a DatetimeIndex; got columns {list(df.columns)} "
            "(use load_candles() for other layouts)"
        )
    values = pd.Series(col)
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        if values.isna().any():
            raise DataFormatError("open_time contains missing values (NaT)")
        if getattr(values.dt, "tz", None) is None:
            values = values.dt.tz_localize("UTC")
        converted = values.dt.tz_convert("UTC").dt.as_unit("ms")
        return cast(NDArray[np.int64], converted.astype("int64").to_numpy(dtype=np.int64))
    if pd.api.types.is_integer_dtype(values.dtype):
        return cast(NDArray[np.int64], values.to_numpy(dtype=np.int64))
    raise DataFormatError(
        f"open_time must be int64 epoch milliseconds or datetimes; got dtype {values.dtype} "
        "(use load_candles() to parse strings)"
    )


@dataclass(frozen=True, eq=False, init=False)
class Candles:
    """Candles of ONE symbol on one timeframe, sorted by open time.

    ``open_time`` is int64 epoch ms (UTC, strictly increasing, the candle OPEN time); the five
    price/volume arrays are float64. Every array is C-contiguous, read-only and the same length.
    Structural checks happen here; data checks (OHLC consistency, gaps, ...) are
    :func:`~tradeready_core.data.validate_candles`' job, and :func:`~tradeready_core.data.load_candles`
    runs both.

    >>> c = Candles("BTCUSDT", "1h", [0, 3_600_000], [1.0, 2.0], [2.0, 3.0], [1.0, 2.0], [2.0, 3.0], [5.0, 6.0])
    >>> len(c), c.is_synthetic
    (2, False)
    """

    symbol: str
    timeframe: str
    open_time: NDArray[np.int64]
    open: NDArray[np.float64]
    high: NDArray[np.float64]
    low: NDArray[np.float64]
    close: NDArray[np.float64]
    volume: NDArray[np.float64]
    source: Source = "file"

    def __init__(
        self,
        symbol: str,
        timeframe: str,
        open_time: ArrayLike,
        open: ArrayLike,
        high: ArrayLike,
        low: ArrayLike,
        close: ArrayLike,
        volume: ArrayLike,
        source: Source = "file",
    ) -> None:
        # explicit so that any array-like is accepted (and typed as such); stored as frozen ndarrays
        for name, value in (
            ("symbol", symbol),
            ("timeframe", timeframe),
            ("open_time", open_time),
            ("open", open),
            ("high", high),
            ("low", low),
            ("close", close),
            ("volume", volume),
            ("source", source),
        ):
            object.__setattr__(self, name, value)
        self._check()

    def _check(self) -> None:
        _check_symbol(self.symbol)
        _check_timeframe(self.timeframe)
        _check_source(self.source)
        times = _frozen_array(self.open_time, np.int64, name="open_time", ndim=1)
        object.__setattr__(self, "open_time", times)
        for name in OHLCV_COLUMNS:
            arr = _frozen_array(getattr(self, name), np.float64, name=name, ndim=1)
            if arr.shape != times.shape:
                raise InvalidParameterError(
                    f"{name} must have the same length as open_time ({times.size}); got {arr.size}"
                )
            object.__setattr__(self, name, arr)
        _check_increasing(times)

    def __len__(self) -> int:
        return int(self.open_time.size)

    def __reduce__(self) -> tuple[type[Candles], tuple[Any, ...]]:
        # rebuild through __init__ so that unpickled arrays are read-only again
        return (Candles, tuple(getattr(self, f.name) for f in fields(self)))

    def __repr__(self) -> str:
        span = f"{format_ms(self.start_ms)} .. {format_ms(self.end_ms)}" if len(self) else "empty"
        return (
            f"Candles(symbol={self.symbol!r}, timeframe={self.timeframe!r}, source={self.source!r}, "
            f"n={len(self)}, {span})"
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Candles):
            return NotImplemented
        return self.fingerprint == other.fingerprint

    def __hash__(self) -> int:
        return hash(self.fingerprint)

    @property
    def is_synthetic(self) -> bool:
        """True for generated data; such candles must never be shown as real market data."""
        return self.source == "synthetic"

    @property
    def start_ms(self) -> int:
        """Open time of the first candle (raises :class:`InsufficientDataError` when empty)."""
        if not len(self):
            raise InsufficientDataError(f"{self.symbol} {self.timeframe} candles are empty")
        return int(self.open_time[0])

    @property
    def end_ms(self) -> int:
        """Open time of the last candle (raises :class:`InsufficientDataError` when empty)."""
        if not len(self):
            raise InsufficientDataError(f"{self.symbol} {self.timeframe} candles are empty")
        return int(self.open_time[-1])

    @cached_property
    def fingerprint(self) -> str:
        """Stable sha256 hex of symbol, timeframe, source and every value: the dataset's cache key."""
        header = {"kind": "candles", "symbol": self.symbol, "timeframe": self.timeframe, "source": self.source}
        return _hash_arrays(header, (self.open_time, *(getattr(self, c) for c in OHLCV_COLUMNS)))

    def slice(self, start: TimeLike | None = None, end: TimeLike | None = None) -> Candles:
        """Candles with ``start <= open_time < end`` (either bound may be ``None``); shares memory.

        Bounds are epoch ms, ISO strings or datetimes (naive = UTC).
        """
        lo = 0 if start is None else int(np.searchsorted(self.open_time, to_ms(start, name="start"), "left"))
        hi = len(self) if end is None else int(np.searchsorted(self.open_time, to_ms(end, name="end"), "left"))
        hi = max(lo, hi)
        return Candles(
            symbol=self.symbol,
            timeframe=self.timeframe,
            open_time=self.open_time[lo:hi],
            open=self.open[lo:hi],
            high=self.high[lo:hi],
            low=self.low[lo:hi],
            close=self.close[lo:hi],
            volume=self.volume[lo:hi],
            source=self.source,
        )

    def to_frame(self) -> pd.DataFrame:
        """A DataFrame with ``open_time`` (datetime64[ms, UTC]) and the five float columns."""
        import pandas as pd

        data: dict[str, Any] = {
            "open_time": pd.to_datetime(np.asarray(self.open_time), unit="ms", utc=True).as_unit("ms")
        }
        for name in OHLCV_COLUMNS:
            data[name] = np.array(getattr(self, name))
        return pd.DataFrame(data)

    @classmethod
    def from_frame(cls, df: pd.DataFrame, symbol: str, timeframe: str, source: Source = "file") -> Candles:
        """Build from a normalised frame (``open_time`` int ms or datetimes, naive = UTC, sorted).

        This is the inverse of :meth:`to_frame`; it does not parse other layouts or validate OHLC
        values. Use :func:`~tradeready_core.data.load_candles` for raw files and frames.
        """
        missing = [c for c in OHLCV_COLUMNS if c not in df.columns]
        if missing:
            raise DataFormatError(f"frame is missing columns {missing}; got columns {list(df.columns)}")
        return cls(
            symbol=symbol,
            timeframe=timeframe,
            open_time=_frame_times_to_ms(df),
            open=df["open"].to_numpy(dtype=np.float64),
            high=df["high"].to_numpy(dtype=np.float64),
            low=df["low"].to_numpy(dtype=np.float64),
            close=df["close"].to_numpy(dtype=np.float64),
            volume=df["volume"].to_numpy(dtype=np.float64),
            source=source,
        )


@dataclass(frozen=True, eq=False, init=False)
class MarketData:
    """N symbols on one timeframe, aligned on their common open times.

    ``open_time`` has shape ``(T,)``; ``open/high/low/close/volume`` have shape ``(T, N)``, column
    ``j`` belonging to ``symbols[j]``. ``dropped_bars[j]`` counts bars of ``symbols[j]`` that were
    left out by the alignment (times missing in another symbol); no value is ever filled in.

    >>> market = MarketData.from_candles([btc, eth])          # doctest: +SKIP
    >>> market.symbols, market.close.shape                     # doctest: +SKIP
    (('BTCUSDT', 'ETHUSDT'), (26842, 2))
    """

    symbols: tuple[str, ...]
    timeframe: str
    open_time: NDArray[np.int64]
    open: NDArray[np.float64]
    high: NDArray[np.float64]
    low: NDArray[np.float64]
    close: NDArray[np.float64]
    volume: NDArray[np.float64]
    sources: tuple[Source, ...]
    dropped_bars: tuple[int, ...] = field(default=())

    def __init__(
        self,
        symbols: Sequence[str],
        timeframe: str,
        open_time: ArrayLike,
        open: ArrayLike,
        high: ArrayLike,
        low: ArrayLike,
        close: ArrayLike,
        volume: ArrayLike,
        sources: Sequence[Source],
        dropped_bars: Sequence[int] = (),
    ) -> None:
        for name, value in (
            ("symbols", symbols),
            ("timeframe", timeframe),
            ("open_time", open_time),
            ("open", open),
            ("high", high),
            ("low", low),
            ("close", close),
            ("volume", volume),
            ("sources", sources),
            ("dropped_bars", dropped_bars),
        ):
            object.__setattr__(self, name, value)
        self._check()

    def _check(self) -> None:
        symbols = tuple(self.symbols)
        if not symbols:
            raise InvalidParameterError("MarketData needs at least one symbol; got none")
        for s in symbols:
            _check_symbol(s)
        if len(set(symbols)) != len(symbols):
            raise InvalidParameterError(f"symbols must be unique; got {symbols}")
        object.__setattr__(self, "symbols", symbols)
        _check_timeframe(self.timeframe)
        sources = tuple(self.sources)
        if len(sources) != len(symbols):
            raise InvalidParameterError(f"sources must have one entry per symbol ({len(symbols)}); got {sources}")
        for src in sources:
            _check_source(src)
        object.__setattr__(self, "sources", sources)
        dropped = tuple(int(d) for d in self.dropped_bars) or (0,) * len(symbols)
        if len(dropped) != len(symbols):
            raise InvalidParameterError(f"dropped_bars must have one entry per symbol; got {dropped}")
        object.__setattr__(self, "dropped_bars", dropped)
        times = _frozen_array(self.open_time, np.int64, name="open_time", ndim=1)
        object.__setattr__(self, "open_time", times)
        expected = (times.size, len(symbols))
        for name in OHLCV_COLUMNS:
            arr = _frozen_array(getattr(self, name), np.float64, name=name, ndim=2)
            if arr.shape != expected:
                raise InvalidParameterError(f"{name} must have shape {expected} (T, N); got {arr.shape}")
            object.__setattr__(self, name, arr)
        _check_increasing(times)

    @classmethod
    def from_candles(cls, candles: Sequence[Candles] | Mapping[str, Candles]) -> MarketData:
        """Align candles of several symbols (same timeframe) on the open times they all share.

        >>> MarketData.from_candles({"BTCUSDT": btc, "ETHUSDT": eth})   # doctest: +SKIP
        """
        if isinstance(candles, Mapping):
            for key, value in candles.items():
                if isinstance(value, Candles) and key != value.symbol:
                    raise InvalidParameterError(
                        f"mapping key {key!r} must equal the candles' symbol; got {value.symbol!r}"
                    )
            items = list(candles.values())
        else:
            items = list(candles)
        if not items:
            raise InvalidParameterError("from_candles needs at least one Candles; got none")
        for c in items:
            if not isinstance(c, Candles):
                raise InvalidParameterError(f"from_candles expects Candles; got {type(c).__name__}")
        timeframes = {c.timeframe for c in items}
        if len(timeframes) != 1:
            raise InvalidParameterError(
                f"all candles must share one timeframe; got {sorted(timeframes)} (resample first)"
            )
        common = items[0].open_time
        for c in items[1:]:
            common = np.intersect1d(common, c.open_time, assume_unique=True)
        if common.size == 0:
            raise InsufficientDataError(
                f"the candles of {[c.symbol for c in items]} share no open time; nothing to align"
            )
        positions = [np.searchsorted(c.open_time, common) for c in items]
        arrays = {
            name: np.column_stack([getattr(c, name)[pos] for c, pos in zip(items, positions, strict=True)])
            for name in OHLCV_COLUMNS
        }
        return cls(
            symbols=tuple(c.symbol for c in items),
            timeframe=items[0].timeframe,
            open_time=common,
            sources=tuple(c.source for c in items),
            dropped_bars=tuple(len(c) - common.size for c in items),
            **arrays,
        )

    def __len__(self) -> int:
        return int(self.open_time.size)

    def __reduce__(self) -> tuple[type[MarketData], tuple[Any, ...]]:
        return (MarketData, tuple(getattr(self, f.name) for f in fields(self)))

    def __repr__(self) -> str:
        return (
            f"MarketData(symbols={self.symbols!r}, timeframe={self.timeframe!r}, sources={self.sources!r}, "
            f"T={len(self)}, dropped_bars={self.dropped_bars!r})"
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, MarketData):
            return NotImplemented
        return self.fingerprint == other.fingerprint

    def __hash__(self) -> int:
        return hash(self.fingerprint)

    @property
    def n_assets(self) -> int:
        """Number of symbols ``N``."""
        return len(self.symbols)

    @property
    def is_synthetic(self) -> bool:
        """True when any symbol's data is synthetic."""
        return "synthetic" in self.sources

    @cached_property
    def fingerprint(self) -> str:
        """Stable sha256 hex of symbols, timeframe, sources and every aligned value."""
        header = {
            "kind": "market",
            "symbols": list(self.symbols),
            "timeframe": self.timeframe,
            "sources": list(self.sources),
        }
        return _hash_arrays(header, (self.open_time, *(getattr(self, c) for c in OHLCV_COLUMNS)))

    def candles(self, symbol: str) -> Candles:
        """The aligned candles of one symbol."""
        try:
            j = self.symbols.index(symbol)
        except ValueError:
            raise InvalidParameterError(f"symbol must be one of {self.symbols}; got {symbol!r}") from None
        return Candles(
            symbol=symbol,
            timeframe=self.timeframe,
            open_time=self.open_time,
            open=self.open[:, j],
            high=self.high[:, j],
            low=self.low[:, j],
            close=self.close[:, j],
            volume=self.volume[:, j],
            source=self.sources[j],
        )

    def slice(self, start: TimeLike | None = None, end: TimeLike | None = None) -> MarketData:
        """Rows with ``start <= open_time < end`` (either bound may be ``None``)."""
        lo = 0 if start is None else int(np.searchsorted(self.open_time, to_ms(start, name="start"), "left"))
        hi = len(self) if end is None else int(np.searchsorted(self.open_time, to_ms(end, name="end"), "left"))
        hi = max(lo, hi)
        return MarketData(
            symbols=self.symbols,
            timeframe=self.timeframe,
            open_time=self.open_time[lo:hi],
            open=self.open[lo:hi],
            high=self.high[lo:hi],
            low=self.low[lo:hi],
            close=self.close[lo:hi],
            volume=self.volume[lo:hi],
            sources=self.sources,
            dropped_bars=self.dropped_bars,
        )
