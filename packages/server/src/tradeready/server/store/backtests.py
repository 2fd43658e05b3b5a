"""The backtests store: sessions, their append-only action logs and stored results.

Every write goes through the caller's SQLAlchemy session (the caller commits). Appending to a
session's log is a guarded compare-and-set on ``backtest_sessions.version`` followed by one insert, so
two workers stepping the same session can never interleave their actions.

Example::

    store = BacktestStore(session)
    row = store.get_owned(account_id, "bt_3f9a0c2e1b7d4a55")          # None when not ours
    state = store.get_state(account_id, row.id)                         # the hot-path read
    ok = store.advance(state, kind="step", steps=1, targets=b"...", payload=None, status="running",
                       step=1, cash=5_000.0, equity=10_012.5, now=now, active_since=cutoff)
    actions = store.load_actions(row.id, 0, state.version + 1)
"""

from __future__ import annotations

import contextlib
import functools
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, Dialect, Table, delete, func, insert, select, update
from sqlalchemy.orm import Session

from tradeready.server.store.driver import alone_if_idle
from tradeready.server.store.models.backtests import BacktestAction, BacktestResult, BacktestSession

__all__ = ["ACTIVE_STATUSES", "STATUSES", "ActionRecord", "BacktestStore", "SessionFilter", "SessionState"]

STATUSES: tuple[str, ...] = ("created", "running", "completed", "cancelled", "expired")
"""Every status a session can have."""

ACTIVE_STATUSES: tuple[str, ...] = ("created", "running")
"""Statuses in which a session accepts steps and orders."""

_sessions = cast(Table, BacktestSession.__table__)
_actions = cast(Table, BacktestAction.__table__)


@dataclass(frozen=True, slots=True)
class ActionRecord:
    """One stored log row (see :class:`~tradeready.server.store.models.backtests.BacktestAction`)."""

    seq: int
    kind: str
    steps: int
    targets: bytes | None
    payload: dict[str, Any] | None


@dataclass(slots=True)
class SessionState:
    """What the trading path needs of a session row (read with one prebuilt query, no ORM)."""

    id: str
    account_id: str
    status: str
    version: int
    step: int
    updated_at: datetime
    symbols: list[str]
    timeframe: str
    total_steps: int
    first_bar_ms: int
    last_bar_ms: int
    engine_config: dict[str, Any]
    dataset_fingerprint: str
    metrics: dict[str, Any] | None
    client_metrics: dict[str, Any] | None
    metrics_mismatch: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class SessionFilter:
    """Filters of :meth:`BacktestStore.list_sessions` (``None`` = no filter)."""

    status: str | None = None
    strategy_label: str | None = None
    exclude_label_prefix: str | None = None
    source: str | None = None
    training_run_id: str | None = None


@functools.cache
def _raw_select_state(dialect: Dialect) -> tuple[str, list[Callable[[Any], Any] | None]]:
    """``SELECT`` of a :class:`SessionState` in the driver's paramstyle, with each column's result processor."""
    names = SessionState.__slots__
    sql = f"SELECT {', '.join(names)} FROM backtest_sessions WHERE id = {'%s' if dialect.name == 'postgresql' else '?'}"
    processors: list[Callable[[Any], Any] | None] = [
        _sessions.c[name].type.dialect_impl(dialect).result_processor(dialect, None) for name in names
    ]
    return sql, processors


_RAW_ADVANCE = (
    "UPDATE backtest_sessions SET version = ?, status = ?, step = ?, cash = ?, equity = ?, updated_at = ?, "
    "completed_at = ?, metrics = ?{json} WHERE id = ? AND version = ? AND status IN ('created', 'running') "
    "AND updated_at >= ?"
)
_RAW_INSERT_ACTION = (
    "INSERT INTO backtest_actions (session_id, seq, kind, steps, targets, payload) VALUES (?, ?, ?, ?, ?, ?{json})"
)


_RAW_LOAD_ACTIONS = (
    "SELECT seq, kind, steps, targets, payload FROM backtest_actions "
    "WHERE session_id = ? AND seq >= ? AND seq < ? ORDER BY seq"
)


def _json_value(raw: Any) -> Any:
    """A JSON column read through the driver: SQLite gives text, psycopg parsed values."""
    return json.loads(raw) if isinstance(raw, str | bytes) else raw


@functools.cache
def _raw_statements(dialect: Dialect) -> tuple[str, str, Callable[[datetime], Any]]:
    """The hot-path SQL in the driver's paramstyle, and how the driver wants a timestamp bound.

    Stepping writes through the session's own DBAPI connection (same transaction) to skip the
    statement machinery; values are bound exactly as SQLAlchemy's column types would bind them.
    """
    if dialect.name == "postgresql":
        update_sql = _RAW_ADVANCE.format(json="::json").replace("?", "%s")
        insert_sql = _RAW_INSERT_ACTION.format(json="::json").replace("?", "%s")
    else:
        update_sql, insert_sql = _RAW_ADVANCE.format(json=""), _RAW_INSERT_ACTION.format(json="")
    process = _sessions.c.updated_at.type.bind_processor(dialect)

    def stamp(value: datetime) -> Any:
        return value if process is None else process(value)

    return update_sql, insert_sql, stamp


@functools.cache
def _pg_advance_alone() -> str:
    """PostgreSQL: :data:`_RAW_ADVANCE` and the log row's insert as one statement, run as its own transaction.

    The insert reads the update's ``RETURNING``, so it happens exactly when the compare-and-set
    does; the answer is how many rows it inserted (1, or 0 with nothing written). ``set_config(...,
    true)`` turns ``synchronous_commit`` off for this statement's own transaction, as ``SET LOCAL``
    does in :meth:`BacktestStore.advance`'s transactional path.
    """
    update_sql = _RAW_ADVANCE.format(json="::json").replace("?", "%s")
    return (
        "WITH cfg AS (SELECT set_config('synchronous_commit', 'off', true) AS value), "
        f"up AS ({update_sql} RETURNING id), "
        "ins AS (INSERT INTO backtest_actions (session_id, seq, kind, steps, targets, payload) "
        "SELECT up.id, %s, %s, %s, %s, %s::json FROM up RETURNING seq) "
        "SELECT (SELECT count(*) FROM ins) FROM cfg"
    )


class BacktestStore:
    """Backtest sessions, action logs and results in one SQLAlchemy session."""

    def __init__(self, session: Session) -> None:
        self.session = session

    # ---- sessions ------------------------------------------------------------------------------

    def add_session(self, row: BacktestSession) -> BacktestSession:
        """Insert a new session row (flushed, so constraint violations surface here)."""
        self.session.add(row)
        self.session.flush()
        return row

    def get_owned(self, account_id: str, session_id: str) -> BacktestSession | None:
        """The session ``session_id`` if it belongs to ``account_id``, else ``None`` (no existence leak)."""
        row = self.session.get(BacktestSession, session_id, populate_existing=True)
        if row is None or row.account_id != account_id:
            return None
        return row

    def get_state(self, account_id: str, session_id: str, *, alone: bool = False) -> SessionState | None:
        """The trading state of ``session_id`` if it belongs to ``account_id`` (one prebuilt query).

        ``alone``: on PostgreSQL, a read that is the session's first statement runs as its own
        transaction (no ``BEGIN`` round trip), for callers whose writes are compare-and-set guarded
        anyway (stepping).
        """
        conn = self.session.connection()
        sql, processors = _raw_select_state(conn.dialect)
        dbapi = conn.connection.dbapi_connection
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            with alone_if_idle(dbapi) if alone else contextlib.nullcontext():
                cursor.execute(sql, (session_id,))
                found = cursor.fetchone()
        finally:
            cursor.close()
        if found is None or found[1] != account_id:
            return None
        return SessionState(*(v if p is None else p(v) for v, p in zip(found, processors, strict=True)))

    def find_episode(self, account_id: str, training_run_id: str, episode: int) -> BacktestSession | None:
        """The session recorded for one episode of a training run, if any."""
        stmt = select(BacktestSession).where(
            BacktestSession.account_id == account_id,
            BacktestSession.training_run_id == training_run_id,
            BacktestSession.episode == episode,
        )
        return self.session.scalars(stmt).first()

    def list_sessions(
        self, account_id: str, where: SessionFilter, *, limit: int, offset: int
    ) -> tuple[list[BacktestSession], int]:
        """One page of the account's sessions, newest first, and the total number matching."""
        conditions: list[Any] = [BacktestSession.account_id == account_id]
        if where.status is not None:
            conditions.append(BacktestSession.status == where.status)
        if where.strategy_label is not None:
            conditions.append(BacktestSession.strategy_label == where.strategy_label)
        if where.exclude_label_prefix:
            conditions.append(~BacktestSession.strategy_label.startswith(where.exclude_label_prefix, autoescape=True))
        if where.source is not None:
            conditions.append(BacktestSession.source == where.source)
        if where.training_run_id is not None:
            conditions.append(BacktestSession.training_run_id == where.training_run_id)
        total = self.session.scalar(select(func.count()).select_from(BacktestSession).where(*conditions)) or 0
        stmt = (
            select(BacktestSession)
            .where(*conditions)
            .order_by(BacktestSession.created_at.desc(), BacktestSession.id.desc())
            .limit(limit)
            .offset(offset)
        )
        return list(self.session.scalars(stmt)), int(total)

    def update_session(self, session_id: str, seen: int, changes: dict[str, Any]) -> bool:
        """Apply ``changes`` if the session's log length is still ``seen`` (compare-and-set)."""
        result = self.session.execute(
            update(_sessions).where(_sessions.c.id == session_id, _sessions.c.version == seen).values(**changes)
        )
        return _rowcount(result) == 1

    def expire_idle(self, cutoff: datetime, now: datetime) -> int:
        """Mark every active session not touched since ``cutoff`` as expired; returns how many."""
        result = self.session.execute(
            update(_sessions)
            .where(_sessions.c.status.in_(ACTIVE_STATUSES), _sessions.c.updated_at < cutoff)
            .values(status="expired", completed_at=now)
        )
        return _rowcount(result)

    # ---- action log ----------------------------------------------------------------------------

    def advance(
        self,
        state: SessionState,
        *,
        kind: str,
        steps: int,
        targets: bytes | None,
        payload: dict[str, Any] | None,
        status: str,
        step: int,
        cash: float,
        equity: float,
        now: datetime,
        active_since: datetime,
        metrics: dict[str, Any] | None = None,
    ) -> bool:
        """Append one log row and record where the session is, with one compare-and-set update.

        The update only applies while the session's log length is still ``state.version``, it is
        active, and it was touched at or after ``active_since`` (not idle-expired). The hot path of
        stepping (raw statements on the session's connection); ``False`` (nothing written) otherwise.
        On PostgreSQL the transaction commits with ``synchronous_commit = off``; a step that does not
        end the episode and is the session's first write runs as one statement in its own transaction
        (:func:`_pg_advance_alone`: one round trip instead of five).
        """
        conn = self.session.connection()
        update_sql, insert_sql, stamp = _raw_statements(conn.dialect)
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        update_params = (
            state.version + 1,
            status,
            step,
            cash,
            equity,
            stamp(now),
            stamp(now) if status not in ACTIVE_STATUSES else None,
            None if metrics is None else json.dumps(metrics),
            state.id,
            state.version,
            stamp(active_since),
        )
        payload_json = None if payload is None else json.dumps(payload)
        try:
            if metrics is None and conn.dialect.name == "postgresql":
                with alone_if_idle(conn.connection.dbapi_connection) as alone:
                    if alone:
                        cursor.execute(
                            _pg_advance_alone(), (*update_params, state.version, kind, steps, targets, payload_json)
                        )
                        row = cursor.fetchone()
                        return row is not None and row[0] == 1
            if conn.dialect.name == "postgresql":
                # A step's commit need not wait for the WAL flush (like SQLite's WAL + synchronous=NORMAL):
                # a crash can lose the last instants of steps, never consistency.
                cursor.execute("SET LOCAL synchronous_commit TO OFF")
            cursor.execute(update_sql, update_params)
            if cursor.rowcount != 1:
                return False
            cursor.execute(insert_sql, (state.id, state.version, kind, steps, targets, payload_json))
        finally:
            cursor.close()
        return True

    def add_action(
        self,
        session_id: str,
        seq: int,
        *,
        kind: str,
        steps: int = 0,
        targets: bytes | None = None,
        payload: dict[str, Any] | None = None,
    ) -> None:
        """Insert log row ``seq`` without touching the session row (for sessions written whole)."""
        self.session.execute(
            insert(_actions).values(
                session_id=session_id, seq=seq, kind=kind, steps=steps, targets=targets, payload=payload
            )
        )

    def load_actions(self, session_id: str, start: int, stop: int) -> list[ActionRecord]:
        """Log rows with ``start <= seq < stop``, in order."""
        if stop <= start:
            return []
        conn = self.session.connection()
        sql = _RAW_LOAD_ACTIONS if conn.dialect.name != "postgresql" else _RAW_LOAD_ACTIONS.replace("?", "%s")
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute(sql, (session_id, start, stop))
            rows = cursor.fetchall()
        finally:
            cursor.close()
        return [
            ActionRecord(
                int(seq),
                kind,
                int(steps),
                None if blob is None else bytes(blob),
                None if kind == "step" else _json_value(payload),
            )
            for seq, kind, steps, blob, payload in rows
        ]

    # ---- results -------------------------------------------------------------------------------

    def save_result(self, result: BacktestResult) -> None:
        """Store (or replace) the results of a finished session."""
        self.session.execute(delete(BacktestResult).where(BacktestResult.session_id == result.session_id))
        self.session.add(result)
        self.session.flush()

    def get_result(self, session_id: str) -> BacktestResult | None:
        """The stored results of a finished session, if any."""
        return self.session.get(BacktestResult, session_id)


def _rowcount(result: Any) -> int:
    return int(result.rowcount) if isinstance(result, CursorResult) else 0
