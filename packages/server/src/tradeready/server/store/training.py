"""The training store: runs with running aggregates, episodes written in bulk, curve series.

Every write that adds episodes also updates the run's summary columns in the same transaction,
with atomic ``SET col = col + :delta`` updates, so concurrent writers (threads, processes,
several servers on one PostgreSQL) never lose an increment and listing runs never scans episodes.

Example::

    store = TrainingStore(session)
    run = store.get_run("run_3f9a0c2e1b7d4a55")
    store.lock_run(run["pk"], now)
    stored = store.stored_episodes(run["pk"], [1])
    store.insert_episodes(run["pk"], [{"episode": 1, "roi_pct": -1.2, ...}])   # the ones not stored
    store.add_to_aggregates(run["pk"], EpisodeStats.of(new_rows), now)
"""

from __future__ import annotations

import contextlib
import functools
import json
import math
import threading
from collections import OrderedDict
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from operator import itemgetter
from typing import Any, TypeAlias

import numpy as np
import numpy.typing as npt
import orjson
from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Double,
    Executable,
    Integer,
    Table,
    Update,
    and_,
    bindparam,
    case,
    func,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import CursorResult, Dialect, RowMapping
from sqlalchemy.orm import Session

from tradeready.server.store.driver import alone_if_idle
from tradeready.server.store.models.base import UTCDateTime
from tradeready.server.store.models.training import TrainingEpisode, TrainingRun

__all__ = [
    "EPISODE_COLUMNS",
    "EPISODE_SORT_COLUMNS",
    "SERIES_CACHE",
    "EpisodeStats",
    "SeriesCache",
    "TrainingStore",
    "status_filter",
]

RUNS: Table = TrainingRun.__table__  # type: ignore[assignment]
EPISODES: Table = TrainingEpisode.__table__  # type: ignore[assignment]

EPISODE_COLUMNS = (
    "episode",
    "roi_pct",
    "sharpe_ratio",
    "max_drawdown_pct",
    "total_trades",
    "reward_sum",
    "steps",
    "session_id",
    "started_at",
    "ended_at",
    "sortino_ratio",
    "win_rate",
    "final_equity",
    "terminated",
    "truncated",
    "metrics",
)
"""Episode columns as returned to clients, in order."""
EPISODE_SORT_COLUMNS = (
    "episode",
    "roi_pct",
    "sharpe_ratio",
    "max_drawdown_pct",
    "total_trades",
    "reward_sum",
    "steps",
    "ended_at",
)
"""Episode columns a page of episodes can be sorted by (``ended_at`` aside, also the numeric metrics)."""


@dataclass(frozen=True)
class EpisodeStats:
    """What a set of newly stored episodes adds to a run's aggregates."""

    count: int
    sum_roi_pct: float
    best_roi_pct: float
    worst_roi_pct: float
    last_episode: int
    last_roi_pct: float
    n_sharpe: int
    sum_sharpe: float
    sum_max_drawdown_pct: float
    sum_trades: int
    sum_reward: float
    sum_steps: int

    @classmethod
    def of(cls, rows: Sequence[Mapping[str, Any]]) -> EpisodeStats:
        """Summarise ``rows`` (at least one episode dict)."""
        if not rows:
            raise ValueError("EpisodeStats.of needs at least one episode")
        rois = [float(r["roi_pct"]) for r in rows]
        sharpes = [float(r["sharpe_ratio"]) for r in rows if r.get("sharpe_ratio") is not None]
        last = max(rows, key=lambda r: int(r["episode"]))
        return cls(
            count=len(rows),
            sum_roi_pct=math.fsum(rois),
            best_roi_pct=max(rois),
            worst_roi_pct=min(rois),
            last_episode=int(last["episode"]),
            last_roi_pct=float(last["roi_pct"]),
            n_sharpe=len(sharpes),
            sum_sharpe=math.fsum(sharpes),
            sum_max_drawdown_pct=math.fsum(float(r["max_drawdown_pct"]) for r in rows),
            sum_trades=sum(int(r["total_trades"]) for r in rows),
            sum_reward=math.fsum(float(r["reward_sum"]) for r in rows),
            sum_steps=sum(int(r.get("steps") or 0) for r in rows),
        )


def status_filter(status: str, cutoff: datetime) -> ColumnElement[bool]:
    """SQL condition for a reported status; ``abandoned`` = stored ``running`` with no activity since ``cutoff``."""
    if status == "running":
        return and_(RUNS.c.status == "running", RUNS.c.last_activity_at >= cutoff)
    if status == "abandoned":
        return and_(RUNS.c.status == "running", RUNS.c.last_activity_at < cutoff)
    return RUNS.c.status == status


def _add_to_aggregates_statement(*, all_new: bool = False) -> Update:
    """``UPDATE training_runs SET total_episodes = total_episodes + :p_count, ...``, built once.

    ``all_new``: the variant that finds the run by ``run_id`` and owner and changes it only when every
    episode of the request is numbered above the highest stored one (``:p_first_episode`` is the lowest
    number sent), i.e. when none of them can be stored already.
    """
    c = RUNS.c

    def p(name: str, type_: Any = None) -> Any:
        return bindparam(f"p_{name}", type_=Double() if type_ is None else type_)

    newer = c.last_episode.is_(None) | (c.last_episode < p("last_episode", Integer()))
    where = (
        [
            c.run_id == bindparam("p_run_id"),
            c.account_id == bindparam("p_account_id"),
            c.last_episode.is_(None) | (c.last_episode < p("first_episode", Integer())),
        ]
        if all_new
        else [c.pk == p("pk", Integer())]
    )
    return (
        update(RUNS)
        .where(*where)
        .values(
            total_episodes=c.total_episodes + p("count", Integer()),
            sum_roi_pct=c.sum_roi_pct + p("sum_roi_pct"),
            best_roi_pct=case(
                (c.best_roi_pct.is_(None) | (c.best_roi_pct < p("best_roi_pct")), p("best_roi_pct")),
                else_=c.best_roi_pct,
            ),
            worst_roi_pct=case(
                (c.worst_roi_pct.is_(None) | (c.worst_roi_pct > p("worst_roi_pct")), p("worst_roi_pct")),
                else_=c.worst_roi_pct,
            ),
            last_roi_pct=case((newer, p("last_roi_pct")), else_=c.last_roi_pct),
            last_episode=case((newer, p("last_episode", Integer())), else_=c.last_episode),
            n_sharpe=c.n_sharpe + p("n_sharpe", Integer()),
            sum_sharpe=c.sum_sharpe + p("sum_sharpe"),
            sum_max_drawdown_pct=c.sum_max_drawdown_pct + p("sum_max_drawdown_pct"),
            sum_trades=c.sum_trades + p("sum_trades", BigInteger()),
            sum_reward=c.sum_reward + p("sum_reward"),
            sum_steps=c.sum_steps + p("sum_steps", BigInteger()),
            last_activity_at=p("now", UTCDateTime()),
        )
    )


_ADD_TO_AGGREGATES = _add_to_aggregates_statement().returning(*RUNS.c)
_ADD_IF_ALL_NEW = _add_to_aggregates_statement(all_new=True).returning(RUNS.c.pk, RUNS.c.total_episodes, RUNS.c.status)
_TOUCH = update(RUNS).where(RUNS.c.pk == bindparam("p_pk")).values(last_activity_at=bindparam("p_now", UTCDateTime()))
_GET_RUN = select(RUNS).where(RUNS.c.run_id == bindparam("p_run_id"))
_LOCK_OWNED = (
    update(RUNS)
    .where(RUNS.c.run_id == bindparam("p_run_id"), RUNS.c.account_id == bindparam("p_account_id"))
    .values(last_activity_at=bindparam("p_now", UTCDateTime()))
    .returning(*RUNS.c)
)
_STORED_RANGE = select(EPISODES).where(
    EPISODES.c.run_pk == bindparam("p_run_pk"), EPISODES.c.episode.between(bindparam("p_low"), bindparam("p_high"))
)
_HEARTBEATS: dict[tuple[str, ...], Update] = {}
"""``UPDATE`` statements of a heartbeat by the set of fields it carries, built once each (statement
construction costs more than executing a cached one)."""


def _heartbeat_statement(fields: tuple[str, ...]) -> Update:
    stmt = _HEARTBEATS.get(fields)
    if stmt is None:
        values: dict[str, Any] = {name: bindparam(f"p_{name}", type_=RUNS.c[name].type) for name in fields}
        now: Any = bindparam("p_now", UTCDateTime())
        stmt = (
            update(RUNS)
            .where(RUNS.c.pk == bindparam("p_pk"), RUNS.c.status == "running")
            .values(**values, last_heartbeat_at=now, last_activity_at=now)
        )
        _HEARTBEATS[fields] = stmt
    return stmt


_FETCH_CHUNK = 20_000
_PG_SERIES_ROW = np.dtype([("episode", ">i4"), ("value", ">f8")])
"""One (episode, value) pair as PostgreSQL's ``int4send`` and ``float8send`` write it: big-endian, packed."""
_SQLITE_DATETIME = "%Y-%m-%d %H:%M:%S.%f"  # SQLAlchemy's SQLite storage format, read back by UTCDateTime


def _sqlite_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime(_SQLITE_DATETIME)
    if isinstance(value, dict):
        return json.dumps(value)
    return value


def _pg_value(value: Any) -> Any:
    if isinstance(value, dict):
        from psycopg.types.json import Json  # only needed (and installed) with PostgreSQL

        return Json(value)
    return value


_EPISODE_VALUES = itemgetter(*EPISODE_COLUMNS)
_CONVERTED_AT = tuple(
    1 + EPISODE_COLUMNS.index(name) for name in ("started_at", "ended_at", "metrics")
)  # indexes in an insert's parameter row (run_pk first)


def _check_metric(metric: str) -> None:
    """Only numeric episode columns are series (the name is interpolated into SQL, so this check is a guard)."""
    if metric not in EPISODES.c or metric in {"session_id", "started_at", "ended_at", "metrics"}:
        raise ValueError(f"no numeric episode column {metric!r}")


_PG_ARRAY_TYPES = {
    "episode": "int4",
    "roi_pct": "float8",
    "sharpe_ratio": "float8",
    "max_drawdown_pct": "float8",
    "total_trades": "int4",
    "reward_sum": "float8",
    "steps": "int4",
    "session_id": "text",
    "started_at": "timestamptz",
    "ended_at": "timestamptz",
    "sortino_ratio": "float8",
    "win_rate": "float8",
    "final_equity": "float8",
    "terminated": "bool",
    "truncated": "bool",
    "metrics": "text",  # JSON text, cast to jsonb per row
}
assert tuple(_PG_ARRAY_TYPES) == EPISODE_COLUMNS


def _json_text(value: Any) -> Any:
    """A metrics mapping as JSON text (what the ``metrics`` array carries); ``None`` and text as they are."""
    return orjson.dumps(value).decode() if isinstance(value, dict) else value


class SeriesCache:
    """Metric series of recently charted runs in this process, least recently used first out.

    Bounded by the points it holds (episode number and value, 16 bytes each). Entries are only a
    copy: :meth:`TrainingStore.cached_metric_series` checks every one against the run row before use,
    so several workers and servers over one database stay correct.
    """

    def __init__(self, max_points: int) -> None:
        self.max_points = max_points
        self._entries: OrderedDict[Hashable, tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]] = OrderedDict()
        self._points = 0
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]] | None:
        with self._lock:
            found = self._entries.get(key)
            if found is not None:
                self._entries.move_to_end(key)
            return found

    def put(self, key: Hashable, series: tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]) -> None:
        size = len(series[0])
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._points -= len(old[0])
            if size > self.max_points:
                return
            self._entries[key] = series
            self._points += size
            while self._points > self.max_points:
                _, dropped = self._entries.popitem(last=False)
                self._points -= len(dropped[0])

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._points = 0


SERIES_CACHE = SeriesCache(max_points=4_000_000)
"""This process's :class:`SeriesCache` (at most 4 million points, 64 MB)."""

_DriverSQL: TypeAlias = tuple[str, tuple[str, ...] | None]
"""Driver SQL and its parameter names in order (positional, sqlite3), or ``None`` (named, psycopg)."""
_DRIVER_SQL: dict[tuple[object, str], _DriverSQL] = {}
"""Driver SQL by (id of a module-level statement, or the function building it; dialect name), built once each."""


def _compiled_for(stmt: Executable, dialect: Dialect) -> _DriverSQL:
    """The driver SQL of ``stmt`` (a module-level statement) for ``dialect``, compiled once per dialect."""
    key = (id(stmt), dialect.name)
    found = _DRIVER_SQL.get(key)
    if found is None:
        compiled = stmt.compile(dialect=dialect)  # type: ignore[attr-defined]
        order = tuple(compiled.positiontup) if compiled.positional else None
        found = _DRIVER_SQL[key] = (str(compiled), order)
    return found


def _pg_add_if_all_new(dialect: Dialect) -> _DriverSQL:
    """PostgreSQL: :data:`_ADD_IF_ALL_NEW` and the episodes' insert as one statement (a data-modifying CTE).

    The episodes travel as one array per column (``a_<column>``, ``unnest``), so the SQL is the same for
    any batch size; built once, named parameters. The arrays are sent in PostgreSQL's binary format
    (``%(...)b``): psycopg's text array dumper costs about five times as much CPU. No ``ON CONFLICT``:
    the update's guard (every episode above the run's ``last_episode``, the row locked) already rules
    out a duplicate, and if one slipped through, failing the whole statement keeps the aggregates
    right where skipping the row would not.
    """
    key = (_pg_add_if_all_new, dialect.name)
    found = _DRIVER_SQL.get(key)
    if found is None:
        update_sql, _ = _compiled_for(_ADD_IF_ALL_NEW, dialect)
        arrays = ", ".join(f"%(a_{name})b::{kind}[]" for name, kind in _PG_ARRAY_TYPES.items())
        columns = ", ".join(EPISODE_COLUMNS)
        values = ", ".join(f"e.{name}::jsonb" if name == "metrics" else f"e.{name}" for name in EPISODE_COLUMNS)
        sql = (
            f"WITH run AS ({update_sql}), added AS ("
            f"INSERT INTO training_episodes (run_pk, {columns}) "
            f"SELECT run.pk, {values} FROM run, unnest({arrays}) AS e({columns})) "
            "SELECT pk, total_episodes, status FROM run"
        )
        found = _DRIVER_SQL[key] = (sql, None)
    return found


@functools.cache
def _insert_episodes_sql(dialect_name: str) -> str:
    """The episodes' ``INSERT ... ON CONFLICT DO NOTHING``, positional: ``run_pk``, then :data:`EPISODE_COLUMNS`."""
    placeholder = "%s" if dialect_name == "postgresql" else "?"
    columns = ("run_pk", *EPISODE_COLUMNS)
    return (
        f"INSERT INTO training_episodes ({', '.join(columns)}) "
        f"VALUES ({', '.join([placeholder] * len(columns))}) ON CONFLICT DO NOTHING"
    )


class TrainingStore:
    """Queries and bulk writes for training runs and episodes in one SQLAlchemy session."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def _core(self, stmt: Executable, params: Mapping[str, Any] | None = None) -> CursorResult[Any]:
        """Run a Core statement on the session's connection: same transaction, without the ORM execution layer."""
        return self.session.connection().execute(stmt, params)

    @property
    def dialect(self) -> str:
        return self.session.get_bind().dialect.name

    # --- runs ---------------------------------------------------------------------------------

    def create_run(
        self,
        *,
        run_id: str,
        account_id: str,
        strategy_label: str,
        env_id: str | None,
        config: Mapping[str, Any],
        total_timesteps: int | None,
        now: datetime,
    ) -> bool:
        """Insert a run; ``False`` when ``run_id`` already exists (nothing written)."""
        values = {
            "run_id": run_id,
            "account_id": account_id,
            "strategy_label": strategy_label,
            "env_id": env_id,
            "config": dict(config),
            "status": "running",
            "started_at": now,
            "last_activity_at": now,
            "total_timesteps": total_timesteps,
            "total_episodes": 0,
            "sum_roi_pct": 0.0,
            "n_sharpe": 0,
            "sum_sharpe": 0.0,
            "sum_max_drawdown_pct": 0.0,
            "sum_trades": 0,
            "sum_reward": 0.0,
            "sum_steps": 0,
        }
        stmt = self._insert(RUNS).values(**values).on_conflict_do_nothing(index_elements=["run_id"])
        return self.session.execute(stmt.returning(RUNS.c.pk)).first() is not None

    def get_run(self, run_id: str) -> RowMapping | None:
        """The run row (any account) or ``None``; callers check ``account_id``."""
        return self._core(_GET_RUN, {"p_run_id": run_id}).mappings().first()

    def get_runs(self, run_ids: Iterable[str]) -> list[RowMapping]:
        """Rows of the named runs (any account, in no particular order)."""
        ids = list(run_ids)
        return list(self.session.execute(select(RUNS).where(RUNS.c.run_id.in_(ids))).mappings())

    def update_registration(self, pk: int, *, config: Mapping[str, Any], total_timesteps: int | None) -> None:
        """Replace the config (already merged by the caller) and set ``total_timesteps`` if given."""
        values: dict[str, Any] = {"config": dict(config)}
        if total_timesteps is not None:
            values["total_timesteps"] = total_timesteps
        self.session.execute(update(RUNS).where(RUNS.c.pk == pk).values(**values))

    def list_runs(
        self,
        account_id: str,
        *,
        status: str | None,
        strategy_label: str | None,
        cutoff: datetime,
        limit: int,
        offset: int,
    ) -> tuple[list[RowMapping], int]:
        """One page of the account's runs, newest first, and the number matching the filters."""
        conditions: list[ColumnElement[bool]] = [RUNS.c.account_id == account_id]
        if status is not None:
            conditions.append(status_filter(status, cutoff))
        if strategy_label is not None:
            conditions.append(RUNS.c.strategy_label == strategy_label)
        where = and_(*conditions)
        total = int(self.session.scalar(select(func.count()).select_from(RUNS).where(where)) or 0)
        stmt = select(RUNS).where(where).order_by(RUNS.c.started_at.desc(), RUNS.c.pk.desc())
        rows = list(self.session.execute(stmt.limit(limit).offset(offset)).mappings())
        return rows, total

    def heartbeat(self, pk: int, values: Mapping[str, Any], now: datetime) -> None:
        """Record live progress on a run whose stored status is ``running`` (revives an abandoned one)."""
        fields = {key: value for key, value in values.items() if value is not None}
        params = {f"p_{key}": value for key, value in fields.items()}
        params.update(p_pk=pk, p_now=now)
        self._core(_heartbeat_statement(tuple(fields)), params)

    def complete(self, pk: int, *, status: str, final_stats: Mapping[str, Any] | None, now: datetime) -> None:
        """Mark the run finished once: a later call neither moves ``completed_at`` nor changes the status."""
        self.session.execute(
            update(RUNS)
            .where(RUNS.c.pk == pk, RUNS.c.completed_at.is_(None))
            .values(status=status, completed_at=now, final_stats=final_stats, last_activity_at=now)
        )
        if final_stats is not None:
            self.session.execute(
                update(RUNS).where(RUNS.c.pk == pk, RUNS.c.final_stats.is_(None)).values(final_stats=final_stats)
            )

    # --- episodes -----------------------------------------------------------------------------

    def lock_owned_run(self, run_id: str, account_id: str, now: datetime) -> RowMapping | None:
        """:meth:`get_run` and :meth:`lock_run` in one statement, for ``account_id``'s run only.

        ``None`` (and nothing written) when the run does not exist or belongs to another account.
        """
        params = {"p_run_id": run_id, "p_account_id": account_id, "p_now": now}
        return self._core(_LOCK_OWNED, params).mappings().first()

    def lock_run(self, pk: int, now: datetime) -> None:
        """Take the run's write lock for this transaction (PostgreSQL: row lock; SQLite: the write lock).

        Every episode writer takes it first, so the check for already-stored episodes that follows
        cannot race another writer of the same run.
        """
        self._core(_TOUCH, {"p_pk": pk, "p_now": now})

    def stored_episodes(self, run_pk: int, numbers: Sequence[int]) -> dict[int, RowMapping]:
        """Stored episodes of the run among ``numbers`` (one range scan on the primary key when dense)."""
        if not numbers:
            return {}
        wanted = set(numbers)
        low, high = min(wanted), max(wanted)
        found: dict[int, RowMapping] = {}
        chunks: list[tuple[Any, dict[str, Any] | None]]
        if high - low < 4 * len(wanted):
            chunks = [(_STORED_RANGE, {"p_run_pk": run_pk, "p_low": low, "p_high": high})]
        else:
            ordered = sorted(wanted)
            chunks = [
                (
                    select(EPISODES).where(EPISODES.c.run_pk == run_pk, EPISODES.c.episode.in_(ordered[k : k + 1000])),
                    None,
                )
                for k in range(0, len(ordered), 1000)
            ]
        for stmt, params in chunks:
            for row in self._core(stmt, params).mappings():
                if row["episode"] in wanted:
                    found[int(row["episode"])] = row
        return found

    def insert_episodes(self, run_pk: int, rows: Sequence[Mapping[str, Any]]) -> None:
        """Bulk-insert new episodes with one driver-level ``executemany`` (call :meth:`lock_run` first).

        ``ON CONFLICT DO NOTHING`` keeps the unique key safe even for a caller that skipped the lock.
        """
        if not rows:
            return
        dialect = self.dialect
        convert = _pg_value if dialect == "postgresql" else _sqlite_value
        values = _EPISODE_VALUES
        params = []
        for row in rows:
            param = [run_pk, *values(row)]
            for i in _CONVERTED_AT:  # datetimes and the metrics dict; the rest goes to the driver as is
                if param[i] is not None:
                    param[i] = convert(param[i])
            params.append(param)
        self._run_on_driver(_insert_episodes_sql(dialect), params, many=True)

    def add_new_episodes(
        self, run_id: str, account_id: str, rows: Sequence[Mapping[str, Any]], now: datetime
    ) -> Mapping[str, Any] | None:
        """Store ``rows`` and fold them into the aggregates in two statements, when they are all new.

        The common case of ingest: the episodes are numbered above every stored one, which the run row
        tells (``last_episode`` is the highest stored number), so no stored episode needs to be read.
        The aggregate ``UPDATE`` takes the run's write lock first, as :meth:`lock_run` does, so the
        check cannot race another writer. Returns the updated run row, or ``None`` with nothing written
        when the run is not ``account_id``'s or some episode may already be stored: then take the
        general path (:meth:`lock_owned_run`, :meth:`stored_episodes`, :meth:`insert_episodes`,
        :meth:`add_to_aggregates`). ``rows`` must hold distinct episode numbers.
        """
        stats = EpisodeStats.of(rows)
        params = {f"p_{name}": value for name, value in stats.__dict__.items()}
        params.update(
            p_run_id=run_id,
            p_account_id=account_id,
            p_first_episode=min(int(row["episode"]) for row in rows),
            p_now=now,
        )
        dialect = self.session.get_bind().dialect
        if dialect.name == "postgresql":  # one statement, one round trip: update and insert in a CTE
            for name in EPISODE_COLUMNS:
                params[f"a_{name}"] = [row[name] for row in rows]
            params["a_metrics"] = [_json_text(m) for m in params["a_metrics"]]
            found = self._driver_execute(_pg_add_if_all_new(dialect), params, own_transaction=True)
            return found[0] if found else None
        found = self._driver_execute(_ADD_IF_ALL_NEW, params)
        if not found:
            return None
        self.insert_episodes(int(found[0]["pk"]), rows)
        return found[0]

    def _driver_execute(
        self, stmt: Executable | _DriverSQL, params: Mapping[str, Any], *, own_transaction: bool = False
    ) -> list[dict[str, Any]]:
        """Run a Core statement or driver SQL straight on the driver cursor of the session's connection; rows as dicts.

        For the statements of the ingest hot path: a Core statement is compiled once per dialect
        (:func:`_compiled_for`), driver SQL (:data:`_DriverSQL`) is run as given, and the parameters
        are converted here as SQLAlchemy would store them, which skips SQLAlchemy's per-execution layers
        (about 60 us a statement). Values come back as the driver returns them (no result processing),
        so such statements return numbers and strings only.

        ``own_transaction``: a statement that is atomic by itself and the session's first, on
        PostgreSQL, runs as its own transaction (psycopg autocommit), which saves the ``BEGIN`` and
        ``COMMIT`` round trips; the session's later commit then has nothing to do. Anywhere else it
        runs in the session's transaction as usual.
        """
        sql, order = stmt if isinstance(stmt, tuple) else _compiled_for(stmt, self.session.get_bind().dialect)
        if order is None:  # named parameters (psycopg)
            return self._run_on_driver(sql, params, alone=own_transaction)
        return self._run_on_driver(sql, [_sqlite_value(params[name]) for name in order])  # positional (sqlite3)

    def _run_on_driver(self, sql: str, params: Any, *, many: bool = False, alone: bool = False) -> list[dict[str, Any]]:
        """Run driver SQL on a cursor of the session's connection (``executemany`` if ``many``); rows as dicts.

        ``alone`` (psycopg only): on a connection outside any transaction, run it in autocommit.
        """
        dbapi = self.session.connection().connection.dbapi_connection
        assert dbapi is not None
        cursor = dbapi.cursor()
        try:
            with alone_if_idle(dbapi) if alone else contextlib.nullcontext():
                if many:
                    cursor.executemany(sql, params)
                else:
                    cursor.execute(sql, params)
                if cursor.description is None:
                    return []
                names = [column[0] for column in cursor.description]
                return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
        finally:
            cursor.close()

    def add_to_aggregates(self, pk: int, stats: EpisodeStats, now: datetime) -> RowMapping:
        """Fold ``stats`` into the run's summary atomically; return the updated row."""
        params = {f"p_{name}": value for name, value in stats.__dict__.items()}
        params.update(p_pk=pk, p_now=now)
        return self._core(_ADD_TO_AGGREGATES, params).mappings().one()

    def episodes_page(self, run_pk: int, *, limit: int, offset: int) -> list[RowMapping]:
        """Episodes ``offset .. offset+limit`` in episode order."""
        cols = [EPISODES.c[name] for name in EPISODE_COLUMNS]
        stmt = select(*cols).where(EPISODES.c.run_pk == run_pk).order_by(EPISODES.c.episode).limit(limit).offset(offset)
        return list(self.session.execute(stmt).mappings())

    def cached_metric_series(
        self, run: Mapping[Any, Any], metric: str
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
        """:meth:`metric_series` of ``run`` (a run row) through this process's :data:`SERIES_CACHE`.

        Every cached series is the run's stored episodes as one statement saw them. Episodes are never
        changed or removed once stored, so a cached series holding as many episodes as the run row
        counts is the stored one. One holding fewer is topped up by one statement that reads the
        episodes numbered above its last together with the run's count (the same snapshot): when they
        add up, the result is again exactly the stored episodes; otherwise (an episode arrived below
        the last one) the series is read again. The arrays returned are shared and read-only.
        """
        key = (str(self.session.get_bind().engine.url), str(run["run_id"]), int(run["pk"]), metric)
        cached = SERIES_CACHE.get(key)
        if cached is not None and len(cached[0]) != int(run["total_episodes"]):
            last = int(cached[0][-1]) if len(cached[0]) else -1
            more_episodes, more_values, total = self._series_after(int(run["pk"]), metric, last)
            cached = (
                (np.concatenate([cached[0], more_episodes]), np.concatenate([cached[1], more_values]))
                if len(cached[0]) + len(more_episodes) == total
                else None
            )
        if cached is None:
            cached = self.metric_series(int(run["pk"]), metric)
        for array in cached:
            array.flags.writeable = False
        SERIES_CACHE.put(key, cached)
        return cached

    def _series_after(
        self, run_pk: int, metric: str, after: int
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64], int]:
        """The run's episodes numbered above ``after`` (numbers, ``metric``) and its episode count, in one statement."""
        _check_metric(metric)
        mark = "%s" if self.dialect == "postgresql" else "?"
        sql = (
            f"SELECT r.total_episodes, e.episode, e.{metric} FROM training_runs r "
            f"LEFT JOIN training_episodes e ON e.run_pk = r.pk AND e.episode > {mark} "
            f"WHERE r.pk = {mark} ORDER BY e.episode"
        )
        dbapi = self.session.connection().connection.dbapi_connection
        assert dbapi is not None
        cursor = dbapi.cursor()
        try:
            cursor.execute(sql, (after, run_pk))
            rows = cursor.fetchall()
        finally:
            cursor.close()
        if not rows:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float64), 0
        found = [(episode, value) for _, episode, value in rows if episode is not None]
        table = np.array(found, dtype=np.float64).reshape(-1, 2)  # None -> nan
        return table[:, 0].astype(np.int64), np.ascontiguousarray(table[:, 1]), int(rows[0][0])

    def metric_series(self, run_pk: int, metric: str) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
        """Episode numbers and one metric over the whole run, in episode order (NaN where null).

        One query on the primary-key index selecting two columns, read straight from the driver.
        """
        _check_metric(metric)
        if self.dialect == "postgresql":
            return self._pg_metric_series(run_pk, metric)
        sql = f"SELECT episode, {metric} FROM training_episodes WHERE run_pk = ? ORDER BY episode"
        dbapi = self.session.connection().connection.dbapi_connection
        assert dbapi is not None
        cursor = dbapi.cursor()
        parts: list[npt.NDArray[np.float64]] = []
        try:
            cursor.execute(sql, (run_pk,))
            while chunk := cursor.fetchmany(_FETCH_CHUNK):  # bounded memory for huge runs
                parts.append(np.array(chunk, dtype=np.float64))  # None -> nan
        finally:
            cursor.close()
        if not parts:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float64)
        table = np.concatenate(parts)
        episodes = table[:, 0].astype(np.int64)
        values = np.ascontiguousarray(table[:, 1])
        return episodes, values

    def _pg_metric_series(self, run_pk: int, metric: str) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
        """PostgreSQL: the pairs packed into one ``bytea`` by the server, read straight into numpy (no Python rows).

        Every pair is fixed-size (NULL becomes the float8 ``NaN``), so the value is one structured
        array. No ``ORDER BY``: the pairs come in storage order (episode order, unless episodes
        arrived out of order) and numpy sorts them only if needed, which spares PostgreSQL a sort that
        spills to disk for large runs. (One value is at most 1 GB: about 89 million episodes.)
        """
        sql = (
            f"SELECT string_agg(int4send(episode) || float8send(COALESCE({metric}::float8, 'NaN'::float8)), "
            "''::bytea) FROM training_episodes WHERE run_pk = %s"
        )
        driver: Any = self.session.connection().connection.driver_connection  # a psycopg.Connection
        with driver.cursor(binary=True) as cursor:
            cursor.execute(sql, (run_pk,))
            packed = cursor.fetchone()[0]
        if not packed:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float64)
        rows = np.frombuffer(packed, dtype=_PG_SERIES_ROW)
        episodes, values = rows["episode"].astype(np.int64), rows["value"].astype(np.float64)
        if episodes.size > 1 and not bool(np.all(episodes[1:] > episodes[:-1])):
            order = np.argsort(episodes, kind="stable")
            episodes, values = episodes[order], values[order]
        return episodes, values

    # --- dashboard reads (sorted pages, metric ranges) -----------------------------------------

    def episodes_sorted(self, run_pk: int, *, sort: str, descending: bool, limit: int, offset: int) -> list[RowMapping]:
        """One page of the run's episodes ordered by ``sort`` (nulls last), ties by ascending episode number.

        Sorted by episode, the primary key gives the order; by any other column, the run's rows are read
        through the primary key and sorted with the limit (a top-N sort: no index on metrics, which
        would slow down every ingest; migration 0007 dropped the ROI one).
        """
        if sort not in EPISODE_SORT_COLUMNS:
            raise ValueError(f"cannot sort episodes by {sort!r}; allowed: {', '.join(EPISODE_SORT_COLUMNS)}")
        column = EPISODES.c[sort]
        ordering: list[ColumnElement[Any]] = [column.is_(None)] if column.nullable else []
        ordering.append(column.desc() if descending else column.asc())
        if sort != "episode":
            ordering.append(EPISODES.c.episode.asc())
        stmt = (
            select(*[EPISODES.c[name] for name in EPISODE_COLUMNS])
            .where(EPISODES.c.run_pk == run_pk)
            .order_by(*ordering)
            .limit(limit)
            .offset(offset)
        )
        return list(self.session.execute(stmt).mappings())

    def metric_range(
        self, run_pk: int, metric: str, *, after: int | None, until: int | None, before: int, limit: int
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64], bool]:
        """Episodes in ``(after, until]`` (at most ``limit``; none when ``after`` is ``None``) preceded by
        the ``before`` episodes at or below ``after``, in episode order, with the metric (NaN where null),
        and whether more than ``limit`` episodes were in the range.

        >>> store.metric_range(pk, "roi_pct", after=41, until=None, before=9, limit=10_000)  # doctest: +SKIP
        """
        if metric not in EPISODE_SORT_COLUMNS or metric in ("episode", "ended_at"):
            raise ValueError(f"no numeric episode column {metric!r}")
        column = EPISODES.c[metric]
        mine = EPISODES.c.run_pk == run_pk
        rows: list[tuple[int, float | None]] = []
        truncated = False
        if after is not None:
            newer = select(EPISODES.c.episode, column).where(mine, EPISODES.c.episode > after)
            if until is not None:
                newer = newer.where(EPISODES.c.episode <= until)
            found = self.session.execute(newer.order_by(EPISODES.c.episode).limit(limit + 1)).all()
            truncated = len(found) > limit
            rows = [(int(e), v) for e, v in found[:limit]]
        if before > 0:
            older = select(EPISODES.c.episode, column).where(mine)
            if after is not None:
                older = older.where(EPISODES.c.episode <= after)
            previous = self.session.execute(older.order_by(EPISODES.c.episode.desc()).limit(before)).all()
            rows = [(int(e), v) for e, v in reversed(previous)] + rows
        episodes = np.fromiter((e for e, _ in rows), dtype=np.int64, count=len(rows))
        values = np.array([np.nan if v is None else v for _, v in rows], dtype=np.float64)
        return episodes, values, truncated

    # --- helpers ------------------------------------------------------------------------------

    def _insert(self, table: Table) -> postgresql.Insert | sqlite.Insert:
        if self.dialect == "postgresql":
            return postgresql.insert(table)
        return sqlite.insert(table)
