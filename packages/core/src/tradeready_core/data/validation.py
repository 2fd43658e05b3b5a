"""Candle validation with row numbers: :func:`validate_candles` returns a :class:`ValidationReport`.

Hard errors (the data cannot be trusted): an unparseable time, unsorted or duplicate open times,
times off the timeframe grid, NaN/inf values, non-positive prices, ``high < low``, open or close
outside ``[low, high]``, negative volume. Warnings (real market events worth knowing about):
gaps, which are exchange outages and are never filled, and extreme single-bar moves. With
``strict=True`` warnings count as errors. Nothing is emitted through :mod:`warnings`::

    report = validate_candles(candles)
    report.ok                 # no errors
    report.gaps               # (Gap(first_missing='2021-04-20T02:00:00Z', missing_bars=2, row=...), ...)
    report.raise_for_errors() # DataValidationError listing the first problems with their rows

Row numbers are 1-based and refer to the source: for CSV files (and the CSV inside a ZIP) the
line number in the file, header line included (so the first data row of a file with a header is
row 2, as a spreadsheet shows it); for Parquet files and DataFrames the record's 1-based position.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Literal, TypeAlias

import numpy as np
from numpy.typing import ArrayLike, NDArray

from tradeready_core.data._time import format_ms
from tradeready_core.data.candles import OHLCV_COLUMNS, Candles
from tradeready_core.errors import DataFormatError, DataValidationError, InvalidParameterError
from tradeready_core.timeframes import TIMEFRAMES, timeframe_ms

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "DEFAULT_SPIKE_THRESHOLD",
    "ISSUE_KINDS",
    "Gap",
    "IssueKind",
    "Severity",
    "ValidationIssue",
    "ValidationReport",
    "validate_candles",
]

Severity: TypeAlias = Literal["error", "warning"]
IssueKind: TypeAlias = Literal[
    "invalid_time",
    "unsorted_time",
    "duplicate_time",
    "off_grid",
    "non_finite",
    "non_positive_price",
    "high_below_low",
    "open_outside_range",
    "close_outside_range",
    "negative_volume",
    "spike",
    "gap",
]
ISSUE_KINDS: Final[tuple[str, ...]] = IssueKind.__args__  # type: ignore[attr-defined]
_WARNING_KINDS: Final[frozenset[str]] = frozenset({"spike", "gap"})

DEFAULT_SPIKE_THRESHOLD: Final[float] = 0.7
"""Largest plausible single-bar move, as an absolute log price ratio (0.7 is about x2 or /2).

Checked on the intrabar range ``log(high/low)`` and on ``log(open/prev close)`` and
``log(close/prev close)``. The real 1h files peak at 0.52 (SOLUSDT's listing hour).
"""

_MESSAGE_LIMIT: Final[int] = 5


@dataclass(frozen=True)
class ValidationIssue:
    """One problem found in the data, at a 1-based source row."""

    kind: IssueKind
    row: int
    message: str
    severity: Severity = "error"
    open_time: int | None = None

    def __str__(self) -> str:
        return f"row {self.row}: {self.message}"


@dataclass(frozen=True)
class Gap:
    """Missing candles: ``missing_bars`` bars from ``first_missing_ms``; ``row`` is the candle after."""

    first_missing_ms: int
    missing_bars: int
    row: int

    @property
    def first_missing(self) -> str:
        """First missing open time, ISO-8601 UTC."""
        return format_ms(self.first_missing_ms)

    def __str__(self) -> str:
        return f"gap of {self.missing_bars} bar(s) from {self.first_missing} (before row {self.row})"


@dataclass(frozen=True)
class ValidationReport:
    """The outcome of :func:`validate_candles`; issues are ordered by row."""

    timeframe: str
    n_rows: int
    issues: tuple[ValidationIssue, ...]
    gaps: tuple[Gap, ...]
    label: str = "candles"

    @property
    def errors(self) -> tuple[ValidationIssue, ...]:
        """Issues that make the data unusable."""
        return tuple(i for i in self.issues if i.severity == "error")

    @property
    def warnings(self) -> tuple[ValidationIssue, ...]:
        """Issues that are reported but allowed (gaps, spikes) unless ``strict``."""
        return tuple(i for i in self.issues if i.severity == "warning")

    @property
    def ok(self) -> bool:
        """True when there is no error."""
        return not any(i.severity == "error" for i in self.issues)

    @property
    def missing_bars(self) -> int:
        """Total number of bars missing in gaps."""
        return sum(g.missing_bars for g in self.gaps)

    def of_kind(self, kind: IssueKind) -> tuple[ValidationIssue, ...]:
        """Issues of one kind (see :data:`ISSUE_KINDS`)."""
        if kind not in ISSUE_KINDS:
            raise InvalidParameterError(f"kind must be one of {ISSUE_KINDS}; got {kind!r}")
        return tuple(i for i in self.issues if i.kind == kind)

    def summary(self, limit: int = _MESSAGE_LIMIT) -> str:
        """One line: the error count and the first ``limit`` errors with their rows."""
        errors = self.errors
        if not errors:
            return (
                f"{self.label}: {self.n_rows} rows, no errors, {len(self.gaps)} gap(s) "
                f"({self.missing_bars} missing bars), {len(self.of_kind('spike'))} spike(s)"
            )
        shown = "; ".join(str(e) for e in errors[:limit])
        more = f"; ... and {len(errors) - limit} more" if len(errors) > limit else ""
        return f"{self.label}: {len(errors)} validation error(s) in {self.n_rows} rows: {shown}{more}"

    def raise_for_errors(self) -> None:
        """Raise :class:`DataValidationError` (with ``.issues``) when there is any error."""
        if not self.ok:
            raise DataValidationError(self.summary(), self.errors)


def validate_candles(
    data: Candles | pd.DataFrame,
    *,
    timeframe: str | None = None,
    rows: ArrayLike | None = None,
    spike_threshold: float = DEFAULT_SPIKE_THRESHOLD,
    strict: bool = False,
    label: str | None = None,
) -> ValidationReport:
    """Check candles and report every problem with its 1-based row number.

    ``data`` is a :class:`Candles` or a frame in file order with ``open_time`` (int epoch ms or
    datetimes), ``open, high, low, close, volume`` and optionally ``row`` (source row numbers;
    otherwise ``rows`` or positions 1..n are used). ``timeframe`` is required for a frame.

    >>> report = validate_candles(candles)            # doctest: +SKIP
    >>> [(g.first_missing, g.missing_bars) for g in report.gaps]   # doctest: +SKIP
    [('2021-04-20T02:00:00Z', 2), ...]
    """
    if isinstance(data, Candles):
        tf = timeframe or data.timeframe
        times = np.asarray(data.open_time)
        values = {c: np.asarray(getattr(data, c)) for c in OHLCV_COLUMNS}
        time_ok = np.ones(times.size, dtype=bool)
        name = label or f"{data.symbol} {data.timeframe}"
        if rows is None:
            rows = np.arange(1, times.size + 1)
    elif _is_frame(data):
        import pandas as pd

        if timeframe is None:
            raise InvalidParameterError("timeframe is required when validating a DataFrame; got None")
        tf = timeframe
        missing = [c for c in ("open_time", *OHLCV_COLUMNS) if c not in data.columns]
        if missing:
            raise DataFormatError(f"frame is missing columns {missing}; got columns {list(data.columns)}")
        times, time_ok = _frame_times(data["open_time"])
        values = {c: pd.to_numeric(data[c], errors="coerce").to_numpy(dtype=np.float64) for c in OHLCV_COLUMNS}
        name = label or "frame"
        if rows is None and "row" in data.columns:
            rows = data["row"].to_numpy()
    else:
        raise InvalidParameterError(f"data must be Candles or a pandas DataFrame; got {type(data).__name__}")
    if tf not in TIMEFRAMES:
        raise InvalidParameterError(f"timeframe must be one of {TIMEFRAMES}; got {tf!r}")
    row_arr = np.arange(1, times.size + 1) if rows is None else np.asarray(rows, dtype=np.int64)
    if row_arr.shape != times.shape:
        raise InvalidParameterError(f"rows must have one entry per candle ({times.size}); got {row_arr.size}")
    invalid = [
        ValidationIssue("invalid_time", int(row_arr[i]), "open time is missing or not a valid time")
        for i in np.flatnonzero(~time_ok)
    ]
    return check_arrays(
        times,
        time_ok,
        values,
        row_arr,
        tf,
        spike_threshold=spike_threshold,
        strict=strict,
        label=name,
        extra=invalid,
    )


def _is_frame(data: object) -> bool:
    """Whether ``data`` is a pandas DataFrame (without importing pandas: no pandas, no frame)."""
    pandas = sys.modules.get("pandas")
    return pandas is not None and isinstance(data, pandas.DataFrame)


def _frame_times(col: pd.Series[Any]) -> tuple[NDArray[np.int64], NDArray[np.bool_]]:
    """Epoch ms of an int or datetime column (naive = UTC) and the mask of usable entries."""
    import pandas as pd

    if pd.api.types.is_datetime64_any_dtype(col.dtype):
        ok = col.notna().to_numpy(dtype=bool)
        if getattr(col.dt, "tz", None) is not None:
            col = col.dt.tz_convert("UTC").dt.tz_localize(None)
        ms = col.to_numpy(dtype="datetime64[ms]").astype(np.int64)
        return np.where(ok, ms, 0).astype(np.int64), ok
    num = pd.to_numeric(col, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    ok = np.isfinite(num)
    return np.where(ok, num, 0).astype(np.int64), ok


def _isna(value: Any) -> bool:
    import pandas as pd

    return bool(pd.isna(value))


def _num(value: object) -> str:
    """A number as plain text (``10.5``, ``nan``), not ``np.float64(10.5)``."""
    return repr(float(value))  # type: ignore[arg-type]


def check_arrays(
    times: NDArray[np.int64],
    time_ok: NDArray[np.bool_],
    values: dict[str, NDArray[np.float64]],
    rows: NDArray[np.int64],
    timeframe: str,
    *,
    spike_threshold: float = DEFAULT_SPIKE_THRESHOLD,
    strict: bool = False,
    label: str = "candles",
    extra: list[ValidationIssue] | None = None,
    raw: Mapping[str, NDArray[Any]] | None = None,
) -> ValidationReport:
    """Validate arrays in file order (``time_ok`` masks unparseable times); used by the loaders.

    ``raw`` optionally holds the source values of each column so that messages quote bad text.
    """
    if not spike_threshold > 0:
        raise InvalidParameterError(f"spike_threshold must be > 0 (a log price ratio); got {spike_threshold!r}")
    tf_ms = timeframe_ms(timeframe)
    issues: list[ValidationIssue] = list(extra or ())
    warn: Severity = "error" if strict else "warning"

    def add(kind: IssueKind, idx: NDArray[np.intp], make: Any, severity: Severity = "error") -> None:
        for i in idx:
            t = int(times[i]) if time_ok[i] else None
            issues.append(ValidationIssue(kind, int(rows[i]), make(int(i)), severity, t))

    def when(i: int) -> str:
        return format_ms(int(times[i])) if time_ok[i] else "?"

    valid = np.flatnonzero(time_ok)
    vt = times[valid]
    # duplicates: every later occurrence of an open time, pointing at the first one
    if vt.size:
        uniq, first_pos = np.unique(vt, return_index=True)
        first_of = valid[first_pos[np.searchsorted(uniq, vt)]]
        dup = valid[first_of != valid]
        cols = np.column_stack([values[c] for c in OHLCV_COLUMNS])

        def dup_msg(i: int) -> str:
            j = int(first_of[np.searchsorted(valid, i)])
            same = np.array_equal(cols[i], cols[j], equal_nan=True)
            what = "identical to" if same else "conflicting with"
            return f"duplicate open time {when(i)}, {what} row {int(rows[j])}"

        add("duplicate_time", dup, dup_msg)
        # unsorted: a valid time earlier than the previous valid time
        down = valid[1:][np.diff(vt) < 0]

        def unsorted_msg(i: int) -> str:
            j = int(valid[np.searchsorted(valid, i) - 1])
            return f"open time {when(i)} is earlier than {when(j)} on row {int(rows[j])} (rows must be in time order)"

        add("unsorted_time", down, unsorted_msg)
        off = valid[vt % tf_ms != 0]
        add("off_grid", off, lambda i: f"open time {when(i)} is not on the {timeframe} grid (multiple of {tf_ms} ms)")

    o, h, lo, c, v = (values[k] for k in OHLCV_COLUMNS)
    finite = np.column_stack([np.isfinite(values[k]) for k in OHLCV_COLUMNS])
    bad_rows = np.flatnonzero(~finite.all(axis=1))

    def nan_msg(i: int) -> str:
        parts = []
        for k, ok in zip(OHLCV_COLUMNS, finite[i], strict=True):
            if ok:
                continue
            text = raw[k][i] if raw is not None and k in raw else None
            if text is not None and not _isna(text) and np.isnan(values[k][i]):
                parts.append(f"{k}={str(text)!r}")
            else:
                parts.append(f"{k} missing" if np.isnan(values[k][i]) else f"{k}={_num(values[k][i])}")
        return f"missing or non-numeric value(s): {', '.join(parts)}"

    add("non_finite", bad_rows, nan_msg)
    with np.errstate(invalid="ignore"):
        prices = np.column_stack([o, h, lo, c])
        nonpos = np.flatnonzero((prices <= 0).any(axis=1))
        add(
            "non_positive_price",
            nonpos,
            lambda i: (
                "price(s) must be > 0; got "
                + ", ".join(f"{k}={_num(values[k][i])}" for k in OHLCV_COLUMNS[:4] if values[k][i] <= 0)
            ),
        )
        # open/close range checks are meaningless when the range itself is inverted
        add("high_below_low", np.flatnonzero(h < lo), lambda i: f"high {_num(h[i])} < low {_num(lo[i])}")
        add(
            "open_outside_range",
            np.flatnonzero(((o < lo) | (o > h)) & (h >= lo)),
            lambda i: f"open {_num(o[i])} is outside [low, high] = [{_num(lo[i])}, {_num(h[i])}]",
        )
        add(
            "close_outside_range",
            np.flatnonzero(((c < lo) | (c > h)) & (h >= lo)),
            lambda i: f"close {_num(c[i])} is outside [low, high] = [{_num(lo[i])}, {_num(h[i])}]",
        )
        add("negative_volume", np.flatnonzero(v < 0), lambda i: f"volume must be >= 0; got {_num(v[i])}")

    gaps: list[Gap] = []
    if vt.size:
        # time order, first occurrence of each time, on-grid only: gaps and spikes
        order = valid[np.argsort(vt, kind="stable")]
        st = times[order]
        keep = np.ones(order.size, dtype=bool)
        keep[1:] = st[1:] != st[:-1]
        order = order[keep & (st % tf_ms == 0)]
        st = times[order]
        steps = np.diff(st)
        for k in np.flatnonzero(steps > tf_ms):
            i = int(order[k + 1])
            n_missing = int(steps[k] // tf_ms) - 1
            gap = Gap(int(st[k]) + tf_ms, n_missing, int(rows[i]))
            gaps.append(gap)
            issues.append(
                ValidationIssue(
                    "gap",
                    gap.row,
                    f"{n_missing} missing bar(s) from {gap.first_missing} (not filled)",
                    warn,
                    gap.first_missing_ms,
                )
            )
        with np.errstate(invalid="ignore", divide="ignore"):
            so, sh, sl, sc = o[order], h[order], lo[order], c[order]
            move = np.log(sh / sl)
            prev_close = np.concatenate([[np.nan], sc[:-1]])
            jump = np.fmax(np.abs(np.log(so / prev_close)), np.abs(np.log(sc / prev_close)))
            score = np.fmax(move, jump)
        spikes = np.flatnonzero(score > spike_threshold)
        for k in spikes:
            i = int(order[k])
            issues.append(
                ValidationIssue(
                    "spike",
                    int(rows[i]),
                    f"extreme single-bar move at {when(i)}: |log ratio| {score[k]:.3f} > {spike_threshold} "
                    f"(open {_num(o[i])}, high {_num(h[i])}, low {_num(lo[i])}, close {_num(c[i])})",
                    warn,
                    int(times[i]),
                )
            )
    kind_order = {k: n for n, k in enumerate(ISSUE_KINDS)}
    issues.sort(key=lambda x: (x.row, kind_order[x.kind]))
    return ValidationReport(timeframe, int(times.size), tuple(issues), tuple(gaps), label)
