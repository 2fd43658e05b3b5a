"""Load candles from files and frames: :func:`load_candles` and :func:`load_binance_kline_archive`.

Accepted inputs (the layout is detected, never configured):

- plain OHLCV CSV or Parquet with a header: a time column named ``open_time``, ``timestamp``,
  ``unix``, ``datetime``, ``date`` or ``time`` (any case; or only ``close_time``/``close_datetime``,
  converted to open time), plus ``open, high, low, close, volume``; a banner line above the header
  (CryptoDataDownload) is skipped;
- Binance kline CSV or ZIP (data.binance.vision): 12 columns, with or without a header;
- a :class:`pandas.DataFrame` (time column or ``DatetimeIndex``).

Times may be epoch seconds, ms, µs or ns (the unit is detected PER VALUE by magnitude, so a
Binance history spanning 2024 -> 2025 that mixes ms and µs loads correctly), ISO-8601 with an
offset, or naive strings/datetimes, which are read in ``tz`` (default UTC). Newest-first files are
reversed. The symbol and timeframe come from the arguments, else from the file name
(``BTCUSDT-1h-2024-01.zip``, ``BTCUSDT-1h.csv``), else from a ``symbol``/``ticker`` column and the
median spacing of the open times. Every row is validated with its source row number::

    candles = load_candles("/data/BTCUSDT-1h.csv")            # Candles(symbol='BTCUSDT', ...)
    candles, report = load_candles_with_report("prices.parquet", symbol="ETHUSDT")
    report.gaps                                                # outages, never filled

Hard problems raise :class:`~tradeready_core.errors.DataValidationError` whose message lists the
first few with row numbers; gaps and spikes are warnings in the report unless ``strict=True``.
"""

from __future__ import annotations

import io
import os
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import numpy as np
from numpy.typing import NDArray

from tradeready_core.data.candles import OHLCV_COLUMNS, Candles, Source
from tradeready_core.data.validation import (
    DEFAULT_SPIKE_THRESHOLD,
    ValidationIssue,
    ValidationReport,
    check_arrays,
)
from tradeready_core.errors import DataFormatError, InsufficientDataError, InvalidParameterError
from tradeready_core.timeframes import TIMEFRAMES, timeframe_ms

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "BINANCE_KLINE_COLUMNS",
    "infer_from_filename",
    "load_binance_kline_archive",
    "load_candles",
    "load_candles_with_report",
]

BINANCE_KLINE_COLUMNS: Final[tuple[str, ...]] = (
    "open_time",
    "open",
    "high",
    "low",
    "close",
    "volume",
    "close_time",
    "quote_volume",
    "count",
    "taker_buy_volume",
    "taker_buy_quote_volume",
    "ignore",
)
"""The 12 columns of a Binance kline file, in file order."""

_OPEN_TIME_NAMES: Final[tuple[str, ...]] = (
    "opentime",
    "timestamp",
    "unix",
    "unixtimestamp",
    "datetime",
    "date",
    "time",
)
_CLOSE_TIME_NAMES: Final[tuple[str, ...]] = ("closetime", "closedatetime", "closetimestamp")
_SYMBOL_NAMES: Final[tuple[str, ...]] = ("symbol", "ticker", "pair")
_FILENAME_NOISE: Final[frozenset[str]] = frozenset({"binance", "spot", "kline", "klines", "data", "ohlcv"})
_INTERVAL_TOKEN: Final[re.Pattern[str]] = re.compile(r"^\d+(?:s|m|h|d|w|mo|M)$")
_AWARE_SUFFIX: Final[str] = r"\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?\s*(?:[zZ]|[+-]\d{2}(?::?\d{2})?)$"
_HEAD_BYTES: Final[int] = 65_536
_EPOCH_MIN: Final[float] = 1e9  # 2001-09-09 in seconds; smaller values are not candle times


def _norm(name: object) -> str:
    return re.sub(r"[^a-z0-9]", "", str(name).lower())


@dataclass
class _Raw:
    """A table as read, before interpretation; ``rows`` are 1-based source row numbers."""

    frame: pd.DataFrame
    rows: NDArray[np.int64]
    positional: bool
    name: str | None
    label: str


@dataclass
class _Layout:
    time: Any
    time_is_close: bool
    ohlcv: dict[str, Any]
    symbol_column: Any | None
    binance: bool


def infer_from_filename(name: str | os.PathLike[str]) -> tuple[str | None, str | None]:
    """Symbol and interval from a candle file name, e.g. ``BTCUSDT-1h-2024-01.zip`` -> ('BTCUSDT', '1h').

    The interval is returned as written (it may be one the platform does not support, like ``3m``);
    either part is ``None`` when the name does not show it.

    >>> infer_from_filename("Binance_ETH_USDT_1h.csv")
    ('ETHUSDT', '1h')
    """
    base = Path(os.fspath(name)).name
    stem = base.split(".", 1)[0]
    tokens = [t for t in re.split(r"[-_\s]+", stem) if t]
    for k, tok in enumerate(tokens):
        if _INTERVAL_TOKEN.match(tok):
            parts = [t for t in tokens[:k] if t.lower() not in _FILENAME_NOISE]
            symbol = "".join(parts).upper() if parts and all(p.isalnum() for p in parts) else None
            return symbol, tok
    return None, None


# ----------------------------------------------------------------------------------------- reading


def _detect_csv_layout(head: bytes, label: str) -> tuple[int, bool, str]:
    """(lines to skip, has header, delimiter) from the first bytes of a CSV file."""
    text = head.decode("utf-8-sig", errors="replace")
    lines = text.splitlines()
    if len(head) >= _HEAD_BYTES and lines:
        lines = lines[:-1]  # the last line may be cut
    for idx, line in enumerate(lines[:20]):
        if not line.strip():
            continue
        delim = max((",", ";", "\t"), key=line.count)
        fields = [f.strip().strip('"').strip("'") for f in line.split(delim)]
        if _is_number(fields[0]):
            return idx, False, delim
        names = {_norm(f) for f in fields}
        if names & {*_OPEN_TIME_NAMES, *_CLOSE_TIME_NAMES}:
            return idx, True, delim
    raise DataFormatError(
        f"{label}: no header with a time column ({', '.join(_OPEN_TIME_NAMES + _CLOSE_TIME_NAMES)}) "
        "and no numeric first field in the first lines; not a candle CSV"
    )


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _read_csv(source: str | os.PathLike[str] | bytes, name: str | None, label: str) -> _Raw:
    import pandas as pd

    if isinstance(source, bytes):
        head = source[:_HEAD_BYTES]
    else:
        with open(source, "rb") as fh:
            head = fh.read(_HEAD_BYTES)
    skip, header, delim = _detect_csv_layout(head, label)
    buffer: Any = io.BytesIO(source) if isinstance(source, bytes) else source
    try:
        frame = pd.read_csv(
            buffer,
            sep=delim,
            skiprows=skip,
            header=0 if header else None,
            skip_blank_lines=False,
            low_memory=False,
            index_col=False,
            encoding="utf-8-sig",
        )
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        raise DataFormatError(f"{label}: cannot parse as CSV: {exc}") from exc
    first_line = skip + (2 if header else 1)
    rows = np.arange(first_line, first_line + len(frame), dtype=np.int64)
    return _Raw(frame, rows, not header, name, label)


def _zip_member(archive: zipfile.ZipFile, label: str) -> tuple[str, bytes]:
    members = [m for m in archive.namelist() if not m.endswith("/")]
    csvs = [m for m in members if m.lower().endswith(".csv")]
    if len(csvs) != 1:
        raise DataFormatError(f"{label}: a candle ZIP must hold exactly one .csv file; got {members}")
    return csvs[0], archive.read(csvs[0])


def _read_zip(source: str | os.PathLike[str] | bytes, label: str) -> _Raw:
    try:
        with zipfile.ZipFile(io.BytesIO(source) if isinstance(source, bytes) else source) as archive:
            member, data = _zip_member(archive, label)
    except zipfile.BadZipFile as exc:
        raise DataFormatError(f"{label}: not a valid ZIP archive: {exc}") from exc
    return _read_csv(data, Path(member).name, f"{label}:{member}")


def _read_path(path: Path) -> _Raw:
    import pandas as pd

    label = path.name
    if not path.is_file():
        raise DataFormatError(f"no such candle file: {str(path)!r}")
    with open(path, "rb") as fh:
        magic = fh.read(4)
    if magic.startswith(b"PK"):
        raw = _read_zip(path, label)
        raw.name = raw.name if infer_from_filename(raw.name or "")[0] else path.name
        return raw
    if magic == b"PAR1":
        frame = pd.read_parquet(path)
        return _Raw(frame, np.arange(1, len(frame) + 1, dtype=np.int64), False, path.name, label)
    return _read_csv(path, path.name, label)


# ------------------------------------------------------------------------------------ interpreting


def _layout(raw: _Raw, symbol: str | None) -> _Layout:
    import pandas as pd

    frame = raw.frame
    columns = list(frame.columns)
    if raw.positional or isinstance(frame.columns, pd.RangeIndex):
        if len(columns) < 6:
            raise DataFormatError(
                f"{raw.label}: a file without a header needs at least 6 columns "
                f"(time, open, high, low, close, volume); got {len(columns)}"
            )
        ohlcv = dict(zip(OHLCV_COLUMNS, columns[1:6], strict=True))
        return _Layout(columns[0], False, ohlcv, None, len(columns) == 12)
    by_norm: dict[str, Any] = {}
    for col in columns:
        by_norm.setdefault(_norm(col), col)
    time_col = next((by_norm[n] for n in _OPEN_TIME_NAMES if n in by_norm), None)
    is_close = False
    if time_col is None:
        time_col = next((by_norm[n] for n in _CLOSE_TIME_NAMES if n in by_norm), None)
        is_close = time_col is not None
    if time_col is None and (isinstance(frame.index, pd.DatetimeIndex) or _norm(frame.index.name) in _OPEN_TIME_NAMES):
        time_col = _INDEX
    if time_col is None:
        raise DataFormatError(
            f"{raw.label}: no time column; expected one of {list(_OPEN_TIME_NAMES)} "
            f"(or {list(_CLOSE_TIME_NAMES)}, any case) or a DatetimeIndex; got columns {columns}"
        )
    ohlcv = {}
    for name in OHLCV_COLUMNS[:4]:
        if name not in by_norm:
            raise DataFormatError(f"{raw.label}: missing column {name!r}; got columns {columns}")
        ohlcv[name] = by_norm[name]
    ohlcv["volume"] = _volume_column(by_norm, symbol, raw, columns)
    symbol_col = next((by_norm[n] for n in _SYMBOL_NAMES if n in by_norm), None)
    binance = [_norm(c) for c in columns] == [_norm(c) for c in BINANCE_KLINE_COLUMNS]
    return _Layout(time_col, is_close, ohlcv, symbol_col, binance)


_INDEX: Final[str] = "\x00index"


def _volume_column(by_norm: dict[str, Any], symbol: str | None, raw: _Raw, columns: list[Any]) -> Any:
    for n in ("volume", "vol", "basevolume"):
        if n in by_norm:
            return by_norm[n]
    # CryptoDataDownload: "Volume BTC", "Volume USDT": the base asset's is the candle volume
    named = [(n[len("volume") :], col) for n, col in by_norm.items() if n.startswith("volume")]
    hint = (symbol or infer_from_filename(raw.name or "")[0] or "").upper()
    symbol_col = next((by_norm[n] for n in _SYMBOL_NAMES if n in by_norm), None)
    if not hint and symbol_col is not None:
        first = raw.frame[symbol_col].dropna()
        hint = re.sub(r"[^A-Za-z0-9]", "", str(first.iloc[0])).upper() if len(first) else ""
    for suffix, col in named:
        if hint and suffix and hint.startswith(suffix.upper()):
            return col
    if named:
        return named[0][1]
    raise DataFormatError(f"{raw.label}: missing column 'volume'; got columns {columns}")


def _epoch_to_ms(values: NDArray[Any]) -> tuple[NDArray[np.int64], NDArray[np.bool_]]:
    """Epoch numbers in s/ms/µs/ns, unit chosen per value by magnitude -> (ms, valid mask)."""
    fvals = values.astype(np.float64)
    mag = np.abs(fvals)
    ok = np.isfinite(fvals) & (fvals >= _EPOCH_MIN) & (mag < 1e20)
    # seconds < 1e11 <= ms < 1e14 <= µs < 1e17 <= ns
    unit = np.select([mag < 1e11, mag < 1e14, mag < 1e17], [0, 1, 2], 3)
    if values.dtype.kind in "iu" or (np.all(fvals[ok] == np.floor(fvals[ok]))):
        ints = np.where(ok, fvals, 0).astype(np.int64) if values.dtype.kind == "f" else values.astype(np.int64)
        ints = np.where(ok, ints, 0)
        ms = np.select(
            [unit == 0, unit == 1, unit == 2],
            [ints * 1000, ints, ints // 1000],
            ints // 1_000_000,
        )
    else:
        scale = np.select([unit == 0, unit == 1, unit == 2], [1e3, 1.0, 1e-3], 1e-6)
        ms = np.floor(np.round(np.where(ok, fvals, 0.0) * scale, 3)).astype(np.int64)
    return ms.astype(np.int64), ok


def _strings_to_ms(col: pd.Series[Any], tz: str) -> tuple[NDArray[np.int64], NDArray[np.bool_]]:
    import pandas as pd

    text = col.astype(pd.StringDtype("pyarrow")).str.strip()
    aware = text.str.contains(_AWARE_SUFFIX, regex=True, na=False).to_numpy(dtype=bool)
    out = np.zeros(len(text), dtype=np.int64)
    ok = np.zeros(len(text), dtype=bool)
    if aware.any():
        parsed = pd.to_datetime(text[aware], format="ISO8601", utc=True, errors="coerce")
        ms, good = _datetimes_to_ms(parsed, tz)
        out[aware], ok[aware] = ms, good
    naive = ~aware
    if naive.any():
        parsed = pd.to_datetime(text[naive], format="ISO8601", errors="coerce")
        ms, good = _datetimes_to_ms(parsed, tz)
        out[naive], ok[naive] = ms, good
    return out, ok


def _datetimes_to_ms(col: pd.Series[Any], tz: str) -> tuple[NDArray[np.int64], NDArray[np.bool_]]:
    """Datetimes (naive = in ``tz``; ambiguous or non-existent local times become invalid) -> ms."""
    if getattr(col.dt, "tz", None) is None:
        col = col.dt.tz_localize(tz, ambiguous="NaT", nonexistent="NaT")
    ok = col.notna().to_numpy(dtype=bool)
    naive_utc = col.dt.tz_convert("UTC").dt.tz_localize(None)
    ms = naive_utc.to_numpy(dtype="datetime64[ms]").astype(np.int64)
    return np.where(ok, ms, 0).astype(np.int64), ok


def _times(raw: _Raw, layout: _Layout, tz: str) -> tuple[NDArray[np.int64], NDArray[np.bool_], pd.Series[Any]]:
    import pandas as pd

    frame = raw.frame
    col = pd.Series(frame.index, index=frame.index) if layout.time is _INDEX else frame[layout.time]
    if pd.api.types.is_datetime64_any_dtype(col.dtype):
        ms, ok = _datetimes_to_ms(col, tz)
    elif pd.api.types.is_numeric_dtype(col.dtype) and not pd.api.types.is_bool_dtype(col.dtype):
        ms, ok = _epoch_to_ms(col.to_numpy(dtype=np.float64 if col.dtype.kind == "f" else np.int64, na_value=0))
        ok &= col.notna().to_numpy(dtype=bool)
    else:
        present = col.dropna()
        if len(present) and _is_number(str(present.iloc[0]).strip()):
            numeric = pd.to_numeric(col, errors="coerce")
            ms, ok = _epoch_to_ms(numeric.to_numpy(dtype=np.float64, na_value=np.nan))
        else:
            ms, ok = _strings_to_ms(col, tz)
    return ms, ok, col


def _median_step(times: NDArray[np.int64]) -> int | None:
    uniq = np.unique(times)
    if uniq.size < 2:
        return None
    return int(np.median(np.diff(uniq)))


def _describe_step(step_ms: int) -> str:
    for tf in reversed(TIMEFRAMES):
        if step_ms == timeframe_ms(tf):
            return tf
    return f"{step_ms} ms"


def _resolve_timeframe(timeframe: str | None, name: str | None, times: NDArray[np.int64], label: str) -> str:
    origin = "argument"
    tf = timeframe
    if tf is None and name:
        tf = infer_from_filename(name)[1]
        origin = "file name"
    step = _median_step(times)
    if tf is None:
        if step is None:
            raise InvalidParameterError(
                f"{label}: cannot infer the timeframe from fewer than 2 distinct times; pass timeframe= "
                f"(one of {TIMEFRAMES})"
            )
        tf = _describe_step(step)
        if tf not in TIMEFRAMES:
            raise InvalidParameterError(
                f"{label}: cannot infer the timeframe: the median spacing of open times is {tf}, "
                f"not one of {TIMEFRAMES}; pass timeframe= or resample the source"
            )
        return tf
    if tf not in TIMEFRAMES:
        raise InvalidParameterError(f"{label}: timeframe (from the {origin}) must be one of {TIMEFRAMES}; got {tf!r}")
    if step is not None and np.unique(times).size >= 3 and step != timeframe_ms(tf):
        raise DataFormatError(
            f"{label}: timeframe is {tf!r} (from the {origin}) but the median spacing of open times is "
            f"{_describe_step(step)}; pass the matching timeframe="
        )
    return tf


def _resolve_symbol(symbol: str | None, raw: _Raw, layout: _Layout, keep: NDArray[np.bool_]) -> str:
    if symbol is not None:
        return symbol
    from_name = infer_from_filename(raw.name)[0] if raw.name else None
    if from_name:
        return from_name
    if layout.symbol_column is not None:
        values = raw.frame[layout.symbol_column][keep].dropna().astype(str).unique()
        cleaned = sorted({re.sub(r"[^A-Za-z0-9]", "", v).upper() for v in values} - {""})
        if len(cleaned) == 1:
            return cleaned[0]
        if len(cleaned) > 1:
            raise DataFormatError(
                f"{raw.label}: column {layout.symbol_column!r} holds several symbols {cleaned[:5]}; "
                "candles hold one symbol, so split the file first"
            )
    raise InvalidParameterError(
        f"{raw.label}: cannot infer the symbol (no symbol in the file name or a symbol/ticker column); "
        "pass symbol=, e.g. symbol='BTCUSDT'"
    )


def _interpret(
    raw: _Raw,
    *,
    symbol: str | None,
    timeframe: str | None,
    tz: str,
    strict: bool,
    spike_threshold: float,
    source: Source | None,
) -> tuple[Candles, ValidationReport]:
    import pandas as pd

    _check_tz(tz)
    frame = raw.frame
    # blank lines (kept so that row numbers stay line numbers) are dropped here
    keep = ~frame.isna().all(axis=1).to_numpy(dtype=bool) if len(frame.columns) else np.zeros(0, bool)
    if not keep.any():
        raise InsufficientDataError(f"{raw.label}: no candle rows")
    layout = _layout(raw, symbol)
    ms, ok, time_col = _times(raw, layout, tz)
    ms, ok, rows = ms[keep], ok[keep], raw.rows[keep]
    values = {
        name: pd.to_numeric(frame[col], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)[keep]
        for name, col in layout.ohlcv.items()
    }
    source_values = {name: frame[col].to_numpy(dtype=object)[keep] for name, col in layout.ohlcv.items()}
    raw_times = time_col.to_numpy()[keep]
    # newest-first files are reversed (a file that is otherwise out of order is an error)
    valid = np.flatnonzero(ok)
    if valid.size >= 2 and np.all(np.diff(ms[valid]) < 0):
        ms, ok, rows, raw_times = ms[::-1], ok[::-1], rows[::-1], raw_times[::-1]
        values = {k: v[::-1] for k, v in values.items()}
        source_values = {k: v[::-1] for k, v in source_values.items()}
    tf = _resolve_timeframe(timeframe, raw.name, ms[ok], raw.label)
    if layout.time_is_close:
        # close time = open + interval - 1 unit (…999 ms) or open + interval
        ms = np.where((ms + 1) % 1000 == 0, ms + 1, ms) - timeframe_ms(tf)
    name = _resolve_symbol(symbol, raw, layout, keep)
    invalid = [
        ValidationIssue(
            "invalid_time",
            int(rows[i]),
            f"time {_plain(raw_times[i])!r} is not a valid time (epoch s/ms/µs/ns >= {_EPOCH_MIN:.0e} s, "
            f"or ISO-8601; naive times are read in tz={tz!r})",
        )
        for i in np.flatnonzero(~ok)
    ]
    report = check_arrays(
        ms,
        ok,
        values,
        rows,
        tf,
        spike_threshold=spike_threshold,
        strict=strict,
        label=raw.label,
        extra=invalid,
        raw=source_values,
    )
    report.raise_for_errors()
    kind: Source = source or ("binance" if layout.binance else "file")
    candles = Candles(
        symbol=name,
        timeframe=tf,
        open_time=ms,
        open=values["open"],
        high=values["high"],
        low=values["low"],
        close=values["close"],
        volume=values["volume"],
        source=kind,
    )
    return candles, report


def _plain(value: Any) -> Any:
    """numpy scalars as Python values, so messages show ``17`` rather than ``np.int64(17)``."""
    return value.item() if isinstance(value, np.generic) else value


def _check_tz(tz: str) -> None:
    import pandas as pd

    try:
        pd.Timestamp("2024-01-01").tz_localize(tz)
    except Exception as exc:  # zoneinfo/pytz raise different types for unknown names
        raise InvalidParameterError(
            f"tz must be an IANA time zone name such as 'UTC' or 'Europe/Berlin'; got {tz!r}"
        ) from exc


def _to_raw(source: str | os.PathLike[str] | pd.DataFrame) -> _Raw:
    import pandas as pd

    if isinstance(source, pd.DataFrame):
        return _Raw(source, np.arange(1, len(source) + 1, dtype=np.int64), False, None, "frame")
    if isinstance(source, str | os.PathLike):
        return _read_path(Path(os.fspath(source)))
    raise InvalidParameterError(
        f"source must be a file path (CSV, Parquet, Binance kline ZIP) or a pandas DataFrame; "
        f"got {type(source).__name__}"
    )


# ------------------------------------------------------------------------------------------ public


def load_candles_with_report(
    source: str | os.PathLike[str] | pd.DataFrame,
    *,
    symbol: str | None = None,
    timeframe: str | None = None,
    tz: str = "UTC",
    strict: bool = False,
    spike_threshold: float = DEFAULT_SPIKE_THRESHOLD,
) -> tuple[Candles, ValidationReport]:
    """Like :func:`load_candles`, also returning the :class:`ValidationReport` (gaps, spikes)."""
    return _interpret(
        _to_raw(source),
        symbol=symbol,
        timeframe=timeframe,
        tz=tz,
        strict=strict,
        spike_threshold=spike_threshold,
        source=None,
    )


def load_candles(
    source: str | os.PathLike[str] | pd.DataFrame,
    *,
    symbol: str | None = None,
    timeframe: str | None = None,
    tz: str = "UTC",
    strict: bool = False,
    spike_threshold: float = DEFAULT_SPIKE_THRESHOLD,
) -> Candles:
    """Load and validate the candles of one symbol from a CSV/Parquet/ZIP path or a DataFrame.

    ``tz`` is the zone of naive times (default UTC). Raises
    :class:`~tradeready_core.errors.DataFormatError` for an unrecognised layout and
    :class:`~tradeready_core.errors.DataValidationError` for bad rows (gaps and spikes too
    when ``strict``). Source is ``"binance"`` for Binance kline layouts, ``"file"`` otherwise.

    >>> btc = load_candles("/work/shared/data/market/BTCUSDT-1h.csv")    # doctest: +SKIP
    >>> btc.symbol, btc.timeframe, len(btc)                              # doctest: +SKIP
    ('BTCUSDT', '1h', 44080)
    """
    candles, _ = load_candles_with_report(
        source, symbol=symbol, timeframe=timeframe, tz=tz, strict=strict, spike_threshold=spike_threshold
    )
    return candles


def load_binance_kline_archive(
    archive: bytes | str | os.PathLike[str],
    *,
    symbol: str | None = None,
    timeframe: str | None = None,
    strict: bool = False,
) -> Candles:
    """Read one data.binance.vision kline ZIP (bytes or path) into ``source="binance"`` candles.

    Symbol and timeframe default to the archive's CSV name (``BTCUSDT-1h-2025-01.csv``); ms and µs
    timestamps are both accepted.

    >>> candles = load_binance_kline_archive(zip_bytes)     # doctest: +SKIP
    """
    if isinstance(archive, bytes):
        label = "archive"
        raw = _read_zip(archive, label)
    elif isinstance(archive, str | os.PathLike):
        path = Path(os.fspath(archive))
        if not path.is_file():
            raise DataFormatError(f"no such archive: {str(path)!r}")
        raw = _read_zip(path, path.name)
        if not infer_from_filename(raw.name or "")[0]:
            raw.name = path.name
    else:
        raise InvalidParameterError(f"archive must be bytes or a path; got {type(archive).__name__}")
    n_cols = len(raw.frame.columns)
    if n_cols != 12:
        raise DataFormatError(f"{raw.label}: a Binance kline file has 12 columns; got {n_cols}")
    candles, _ = _interpret(
        raw,
        symbol=symbol,
        timeframe=timeframe,
        tz="UTC",
        strict=strict,
        spike_threshold=DEFAULT_SPIKE_THRESHOLD,
        source="binance",
    )
    return candles
