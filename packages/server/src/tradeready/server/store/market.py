"""The market store: bulk candle writes with conflict reporting, range reads, dataset summaries.

Market data is public (shared by every account). Writes are idempotent: candles already stored
with the same values are skipped, candles stored with DIFFERENT values are reported as conflicts
and kept unless ``overwrite=True``. Reads return :class:`tradeready_core.data.Candles`; a timeframe
that is not stored is resampled from a finer stored one.

Example::

    store = MarketStore(session)
    result = store.insert_candles(load_candles("BTCUSDT-1h.csv"))
    result.inserted, result.conflicts            # (44080, 0)
    candles = store.load_candles("BTCUSDT", "4h", start_ms=1_704_067_200_000)
    [d.to_dict() for d in store.list_datasets()]
"""

from __future__ import annotations

import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, cast

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import Connection, Table, bindparam, delete, func, select, update
from sqlalchemy.orm import Session

from tradeready.server.errors import ConflictError, NotFoundError
from tradeready.server.store.models.base import utcnow
from tradeready.server.store.models.market import Candle, MarketDataset
from tradeready_core.data import OHLCV_COLUMNS, Candles, resample
from tradeready_core.data._time import format_ms
from tradeready_core.timeframes import TIMEFRAMES, timeframe_ms

__all__ = [
    "BATCH_SIZE",
    "ConflictExample",
    "DatasetInfo",
    "DatasetNotFoundError",
    "ImportResult",
    "MarketStore",
    "SourceConflictError",
    "clear_cache",
]

BATCH_SIZE: Final[int] = 20_000
"""Rows per executemany batch."""

_EXAMPLES: Final[int] = 5
_CACHE_SIZE: Final[int] = 8
_COLUMNS: Final[tuple[str, ...]] = ("open_time", *OHLCV_COLUMNS)

Progress = Callable[[int], None]
"""Called with the number of rows just written (for progress bars)."""


class DatasetNotFoundError(NotFoundError):
    """No candles stored for a (symbol, timeframe), and none to resample from."""

    code = "dataset_not_found"


class SourceConflictError(ConflictError):
    """Synthetic candles would be mixed into real market data (or the other way round)."""


@dataclass(frozen=True)
class ConflictExample:
    """A candle stored with values different from the ones being imported."""

    open_time: int
    stored: tuple[float, float, float, float, float]
    incoming: tuple[float, float, float, float, float]

    def to_dict(self) -> dict[str, Any]:
        names = OHLCV_COLUMNS
        return {
            "open_time": format_ms(self.open_time),
            "stored": dict(zip(names, self.stored, strict=True)),
            "incoming": dict(zip(names, self.incoming, strict=True)),
        }


@dataclass(frozen=True)
class ImportResult:
    """What :meth:`MarketStore.insert_candles` did."""

    symbol: str
    timeframe: str
    source: str
    received: int
    inserted: int
    unchanged: int
    conflicts: int
    overwritten: int
    conflict_examples: tuple[ConflictExample, ...] = field(default=())
    replaced_synthetic: int = 0


@dataclass(frozen=True)
class DatasetInfo:
    """Summary of one stored dataset."""

    symbol: str
    timeframe: str
    source: str
    first_open_time: int
    last_open_time: int
    count: int
    gaps: int
    missing_bars: int
    version: str

    def to_dict(self) -> dict[str, Any]:
        """The wire form used by ``GET /market/symbols`` (times as ISO-8601 UTC)."""
        return {
            "symbol": self.symbol,
            "timeframe": self.timeframe,
            "first_time": format_ms(self.first_open_time),
            "last_time": format_ms(self.last_open_time),
            "count": self.count,
            "gaps": self.gaps,
            "missing_bars": self.missing_bars,
            "source": self.source,
        }


class _DatasetCache:
    """Per-process LRU of whole datasets, keyed by (symbol, timeframe) and valid for one stored version."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[tuple[str, str], tuple[str, Candles]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, symbol: str, timeframe: str, version: str) -> Candles | None:
        with self._lock:
            item = self._items.get((symbol, timeframe))
            if item is None or item[0] != version:
                return None
            self._items.move_to_end((symbol, timeframe))
            return item[1]

    def put(self, symbol: str, timeframe: str, version: str, candles: Candles) -> None:
        with self._lock:
            self._items[(symbol, timeframe)] = (version, candles)
            self._items.move_to_end((symbol, timeframe))
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


_cache = _DatasetCache(_CACHE_SIZE)


def _info(row: MarketDataset) -> DatasetInfo:
    return DatasetInfo(
        symbol=row.symbol,
        timeframe=row.timeframe,
        source=row.source,
        first_open_time=row.first_open_time,
        last_open_time=row.last_open_time,
        count=row.count,
        gaps=row.gaps,
        missing_bars=row.missing_bars,
        version=row.version,
    )


def _candles_table() -> Table:
    return cast(Table, Candle.__table__)


def _paramstyle(conn: Connection, sql: str) -> str:
    """Our raw SQL uses ``?``; psycopg wants ``%s``."""
    return sql.replace("?", "%s") if conn.dialect.name == "postgresql" else sql


def _rows_to_arrays(rows: Sequence[Sequence[Any]]) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    if not rows:
        return np.zeros(0, np.int64), np.zeros((0, 5), np.float64)
    table = np.array(rows, dtype=np.float64)  # epoch ms < 2**53: exact as float64
    return table[:, 0].astype(np.int64), np.ascontiguousarray(table[:, 1:])


class MarketStore:
    """Candles and dataset summaries in one SQLAlchemy session (the caller commits)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    # ---- reads -------------------------------------------------------------------------------

    def list_datasets(self) -> list[DatasetInfo]:
        """Every stored dataset, by symbol then timeframe (finest first)."""
        rows = self.session.scalars(select(MarketDataset)).all()
        order = {tf: i for i, tf in enumerate(TIMEFRAMES)}
        return sorted((_info(r) for r in rows), key=lambda d: (d.symbol, order.get(d.timeframe, 99)))

    def get_dataset(self, symbol: str, timeframe: str) -> DatasetInfo | None:
        """The summary of one dataset, or ``None``."""
        row = self.session.get(MarketDataset, (symbol, timeframe))
        return None if row is None else _info(row)

    def load_candles(
        self, symbol: str, timeframe: str, start_ms: int | None = None, end_ms: int | None = None
    ) -> Candles:
        """Candles with ``start_ms <= open_time < end_ms``; resampled from finer data when not stored.

        Raises :class:`DatasetNotFoundError` (listing what is stored) when neither the timeframe nor
        a finer one is stored for ``symbol``.
        """
        candles, _ = self.load_candles_with_origin(symbol, timeframe, start_ms, end_ms)
        return candles

    def load_candles_with_origin(
        self, symbol: str, timeframe: str, start_ms: int | None = None, end_ms: int | None = None
    ) -> tuple[Candles, str]:
        """Like :meth:`load_candles`, also returning the stored timeframe the candles came from."""
        info = self.get_dataset(symbol, timeframe)
        if info is not None:
            return self._full(info).slice(start_ms, end_ms), timeframe
        base = self._resample_base(symbol, timeframe)
        if base is None:
            raise self.not_found(symbol, timeframe)
        full = self._full(base)
        step = timeframe_ms(timeframe)
        lo = None if start_ms is None else -(-start_ms // step) * step
        return resample(full.slice(lo, end_ms), timeframe), base.timeframe

    def not_found(self, symbol: str, timeframe: str) -> DatasetNotFoundError:
        """The 404 for a dataset that is neither stored nor resamplable, naming what is stored."""
        stored = self.list_datasets()
        listing = [{"symbol": d.symbol, "timeframe": d.timeframe, "source": d.source} for d in stored]
        if not stored:
            message = (
                f"No market data is stored, so there are no {symbol} {timeframe} candles. Add some with "
                "`tradeready data import PATH`, download Binance archives with `tradeready data fetch "
                f"--symbol {symbol} --timeframe {timeframe} --start 2024-01-01`, or create the clearly "
                "labelled synthetic demo dataset with `tradeready data demo`."
            )
        else:
            names = ", ".join(f"{d.symbol} {d.timeframe}" for d in stored)
            message = (
                f"No {symbol} {timeframe} candles stored (nor a finer timeframe to resample from). "
                f"Stored: {names}. Add data with `tradeready data import` or `tradeready data fetch`."
            )
        return DatasetNotFoundError(message, details={"symbol": symbol, "timeframe": timeframe, "stored": listing})

    def _resample_base(self, symbol: str, timeframe: str) -> DatasetInfo | None:
        """The finer stored dataset to resample from: the longest span, the finest on ties."""
        if timeframe not in TIMEFRAMES:
            return None
        target = timeframe_ms(timeframe)
        candidates = [
            d
            for d in self.list_datasets()
            if d.symbol == symbol and timeframe_ms(d.timeframe) < target and target % timeframe_ms(d.timeframe) == 0
        ]
        if not candidates:
            return None
        return max(candidates, key=lambda d: (d.last_open_time - d.first_open_time, -timeframe_ms(d.timeframe)))

    def _full(self, info: DatasetInfo) -> Candles:
        cached = _cache.get(info.symbol, info.timeframe, info.version)
        if cached is not None:
            return cached
        times, values = self._stored_between(info.symbol, info.timeframe, None, None)
        candles = Candles(
            symbol=info.symbol,
            timeframe=info.timeframe,
            open_time=times,
            open=values[:, 0],
            high=values[:, 1],
            low=values[:, 2],
            close=values[:, 3],
            volume=values[:, 4],
            source=cast(Any, info.source),
        )
        _cache.put(info.symbol, info.timeframe, info.version, candles)
        return candles

    # ---- writes ------------------------------------------------------------------------------

    def insert_candles(
        self, candles: Candles, *, overwrite: bool = False, progress: Progress | None = None
    ) -> ImportResult:
        """Store ``candles``; idempotent. Conflicting stored candles are reported, replaced only with ``overwrite``.

        Real data replaces a synthetic (demo) dataset of the same symbol and timeframe; synthetic
        data is never mixed into real data (:class:`SourceConflictError`).
        """
        symbol, timeframe, source = candles.symbol, candles.timeframe, candles.source
        existing = self.session.get(MarketDataset, (symbol, timeframe))
        replaced = 0
        if existing is not None and (existing.source == "synthetic") != (source == "synthetic"):
            if source == "synthetic":
                raise SourceConflictError(
                    f"{symbol} {timeframe} holds real market data ({existing.source}); synthetic candles are "
                    "never mixed into it. Use another symbol for demo data or delete the dataset first "
                    f"(`tradeready data delete {symbol} --timeframe {timeframe}`).",
                    details={"symbol": symbol, "timeframe": timeframe, "stored_source": existing.source},
                )
            replaced = self.delete_dataset(symbol, timeframe)
            existing = None
        n = len(candles)
        if n == 0:
            return ImportResult(symbol, timeframe, source, 0, 0, 0, 0, 0, (), replaced)
        times = candles.open_time
        values = np.column_stack([getattr(candles, c) for c in OHLCV_COLUMNS])
        stored_times, stored_values = self._stored_between(symbol, timeframe, int(times[0]), int(times[-1]))
        is_stored = np.isin(times, stored_times, assume_unique=True)
        new_idx = np.flatnonzero(~is_stored)
        old_idx = np.flatnonzero(is_stored)
        pos = np.searchsorted(stored_times, times[old_idx])
        differs = ~np.all(stored_values[pos] == values[old_idx], axis=1)
        conflict_idx, conflict_pos = old_idx[differs], pos[differs]
        examples = tuple(
            ConflictExample(
                open_time=int(times[i]),
                stored=cast(Any, tuple(float(x) for x in stored_values[p])),
                incoming=cast(Any, tuple(float(x) for x in values[i])),
            )
            for i, p in zip(conflict_idx[:_EXAMPLES], conflict_pos[:_EXAMPLES], strict=True)
        )
        conn = self.session.connection()
        self._insert_rows(conn, symbol, timeframe, source, times[new_idx], values[new_idx], progress)
        overwritten = 0
        if overwrite and conflict_idx.size:
            self._update_rows(conn, symbol, timeframe, source, times[conflict_idx], values[conflict_idx], progress)
            overwritten = int(conflict_idx.size)
        if progress is not None and old_idx.size - overwritten > 0:
            progress(int(old_idx.size) - overwritten)
        if new_idx.size or overwritten or replaced or existing is None:
            self.refresh_summary(symbol, timeframe)
        return ImportResult(
            symbol=symbol,
            timeframe=timeframe,
            source=source,
            received=n,
            inserted=int(new_idx.size),
            unchanged=int(old_idx.size - conflict_idx.size),
            conflicts=int(conflict_idx.size),
            overwritten=overwritten,
            conflict_examples=examples,
            replaced_synthetic=replaced,
        )

    def delete_dataset(self, symbol: str, timeframe: str) -> int:
        """Delete a dataset's candles and summary; returns the number of candles deleted."""
        table = _candles_table()
        result = self.session.execute(delete(table).where(table.c.symbol == symbol, table.c.timeframe == timeframe))
        self.session.execute(
            delete(MarketDataset).where(MarketDataset.symbol == symbol, MarketDataset.timeframe == timeframe)
        )
        self.session.flush()
        return int(getattr(result, "rowcount", 0) or 0)

    def refresh_summary(self, symbol: str, timeframe: str) -> DatasetInfo | None:
        """Recompute a dataset's summary row from its candles (same transaction); ``None`` when empty."""
        table = _candles_table()
        where = (table.c.symbol == symbol, table.c.timeframe == timeframe)
        count, first, last = self.session.execute(
            select(func.count(), func.min(table.c.open_time), func.max(table.c.open_time)).where(*where)
        ).one()
        row = self.session.get(MarketDataset, (symbol, timeframe))
        if not count:
            if row is not None:
                self.session.delete(row)
                self.session.flush()
            return None
        step = timeframe_ms(timeframe)
        lagged = (
            select((table.c.open_time - func.lag(table.c.open_time).over(order_by=table.c.open_time)).label("delta"))
            .where(*where)
            .subquery()
        )
        gaps = self.session.execute(select(func.count()).where(lagged.c.delta > step)).scalar_one()
        sources = set(self.session.scalars(select(table.c.source).where(*where).distinct()))
        source = sources.pop() if len(sources) == 1 else "file"
        missing = (int(last) - int(first)) // step + 1 - int(count)
        if row is None:
            row = MarketDataset(symbol=symbol, timeframe=timeframe)
            self.session.add(row)
        row.source = source
        row.first_open_time = int(first)
        row.last_open_time = int(last)
        row.count = int(count)
        row.gaps = int(gaps)
        row.missing_bars = int(missing)
        row.version = secrets.token_hex(8)
        row.updated_at = utcnow()
        self.session.flush()
        return _info(row)

    def _select_rows(self, sql: str, params: tuple[Any, ...]) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
        """Run a raw SELECT of (open_time, o, h, l, c, v) on the session's connection (fast path)."""
        conn = self.session.connection()
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute(_paramstyle(conn, sql), params)
            rows = cursor.fetchall()
        finally:
            cursor.close()
        return _rows_to_arrays(rows)

    def _stored_between(
        self, symbol: str, timeframe: str, first: int | None, last: int | None
    ) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
        sql = f"SELECT {', '.join(_COLUMNS)} FROM market_candles WHERE symbol = ? AND timeframe = ?"
        params: tuple[Any, ...] = (symbol, timeframe)
        if first is not None:
            sql += " AND open_time >= ?"
            params += (first,)
        if last is not None:
            sql += " AND open_time <= ?"
            params += (last,)
        return self._select_rows(sql + " ORDER BY open_time", params)

    def _insert_rows(
        self,
        conn: Connection,
        symbol: str,
        timeframe: str,
        source: str,
        times: NDArray[np.int64],
        values: NDArray[np.float64],
        progress: Progress | None,
    ) -> None:
        if not times.size:
            return
        raw = conn.connection.driver_connection
        cursor = raw.cursor()  # type: ignore[union-attr]
        columns = "symbol, timeframe, open_time, open, high, low, close, volume, source"
        try:
            for lo in range(0, int(times.size), BATCH_SIZE):
                t = times[lo : lo + BATCH_SIZE].tolist()
                cols = [values[lo : lo + BATCH_SIZE, j].tolist() for j in range(5)]
                if conn.dialect.name == "postgresql":
                    cursor.execute(
                        f"INSERT INTO market_candles ({columns}) "
                        "SELECT %s, %s, u.* , %s FROM unnest(%s::bigint[], %s::float8[], %s::float8[], "
                        "%s::float8[], %s::float8[], %s::float8[]) AS u "
                        "ON CONFLICT (symbol, timeframe, open_time) DO NOTHING",
                        (symbol, timeframe, source, t, *cols),
                    )
                else:
                    cursor.executemany(
                        f"INSERT INTO market_candles ({columns}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
                        "ON CONFLICT (symbol, timeframe, open_time) DO NOTHING",
                        [(symbol, timeframe, *row, source) for row in zip(t, *cols, strict=True)],
                    )
                if progress is not None:
                    progress(len(t))
        finally:
            cursor.close()

    def _update_rows(
        self,
        conn: Connection,
        symbol: str,
        timeframe: str,
        source: str,
        times: NDArray[np.int64],
        values: NDArray[np.float64],
        progress: Progress | None,
    ) -> None:
        table = _candles_table()
        stmt = (
            update(table)
            .where(
                table.c.symbol == bindparam("b_symbol"),
                table.c.timeframe == bindparam("b_timeframe"),
                table.c.open_time == bindparam("b_open_time"),
            )
            .values(
                open=bindparam("b_open"),
                high=bindparam("b_high"),
                low=bindparam("b_low"),
                close=bindparam("b_close"),
                volume=bindparam("b_volume"),
                source=bindparam("b_source"),
            )
        )
        params = [
            {
                "b_symbol": symbol,
                "b_timeframe": timeframe,
                "b_open_time": t,
                "b_open": v[0],
                "b_high": v[1],
                "b_low": v[2],
                "b_close": v[3],
                "b_volume": v[4],
                "b_source": source,
            }
            for t, v in zip(times.tolist(), values.tolist(), strict=True)
        ]
        for lo in range(0, len(params), BATCH_SIZE):
            conn.execute(stmt, params[lo : lo + BATCH_SIZE])
            if progress is not None:
                progress(len(params[lo : lo + BATCH_SIZE]))


def clear_cache() -> None:
    """Forget every cached dataset of this process (tests; memory pressure)."""
    _cache.clear()
