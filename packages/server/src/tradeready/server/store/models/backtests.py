"""Backtest tables: sessions, their action logs and the stored results of finished sessions.

A session's state is its configuration plus its ACTION LOG (``backtest_actions``): every worker
rebuilds the simulator by replaying the log through the engine, so nothing lives only in one
process. ``BacktestSession.version`` is the number of log rows; appending a row bumps it with a
compare-and-set (``UPDATE ... WHERE version = :seen``), which serialises writers across workers.
A finished session keeps its authoritative equity curve, fills and orders in ``backtest_results``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Double,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    PrimaryKeyConstraint,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from tradeready.server.store.models.base import Base, UTCDateTime, utcnow

__all__ = ["BacktestAction", "BacktestResult", "BacktestSession"]


class BacktestSession(Base):
    """One backtest session (created through the API, or recorded from a gym episode by replay)."""

    __tablename__ = "backtest_sessions"
    __table_args__ = (
        UniqueConstraint("account_id", "training_run_id", "episode", name="uq_backtest_sessions_run_episode"),
        Index("ix_backtest_sessions_account_created", "account_id", "created_at"),
        Index("ix_backtest_sessions_status_updated", "status", "updated_at"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(16))
    symbols: Mapped[list[str]] = mapped_column(JSON)
    timeframe: Mapped[str] = mapped_column(String(8))
    start_ms: Mapped[int] = mapped_column(BigInteger)
    end_ms: Mapped[int] = mapped_column(BigInteger)
    first_bar_ms: Mapped[int] = mapped_column(BigInteger)
    last_bar_ms: Mapped[int] = mapped_column(BigInteger)
    total_steps: Mapped[int] = mapped_column(Integer)
    engine_config: Mapped[dict[str, Any]] = mapped_column(JSON)
    starting_balance: Mapped[float] = mapped_column(Double)
    fee_rate: Mapped[float] = mapped_column(Double)
    slippage_bps: Mapped[float] = mapped_column(Double)
    allow_short: Mapped[bool] = mapped_column(Boolean)
    strategy_label: Mapped[str] = mapped_column(String(100), index=True)
    episode_length: Mapped[int | None] = mapped_column(Integer, nullable=True)
    seed: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    training_run_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    episode: Mapped[int | None] = mapped_column(Integer, nullable=True)
    dataset_fingerprint: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer, default=0)
    step: Mapped[int] = mapped_column(Integer, default=0)
    cash: Mapped[float] = mapped_column(Double)
    equity: Mapped[float] = mapped_column(Double)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    metrics: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    client_metrics: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    metrics_mismatch: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)


class BacktestAction(Base):
    """One row of a session's action log: a batch of steps, an order, or a cancellation.

    ``seq`` is the row's position in the log (0, 1, ...). A ``step`` row holds ``steps`` steps and
    ``targets``: little-endian float64 of shape ``(steps, N)`` or ``(1, N)`` (repeated for every
    step), NaN = hold; ``NULL`` = hold for every step. ``order`` / ``cancel`` rows carry ``payload``.
    """

    __tablename__ = "backtest_actions"
    __table_args__ = (PrimaryKeyConstraint("session_id", "seq", name="pk_backtest_actions"),)

    session_id: Mapped[str] = mapped_column(ForeignKey("backtest_sessions.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(8))
    steps: Mapped[int] = mapped_column(Integer, default=0)
    targets: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)


class BacktestResult(Base):
    """The authoritative outcome of a finished session (written once, with the final status).

    ``equity`` is little-endian float64 (one value per marked bar), ``times`` little-endian int64
    open times of those bars; ``fills`` and ``orders`` are lists of plain dicts.
    """

    __tablename__ = "backtest_results"

    session_id: Mapped[str] = mapped_column(ForeignKey("backtest_sessions.id", ondelete="CASCADE"), primary_key=True)
    times: Mapped[bytes] = mapped_column(LargeBinary)
    equity: Mapped[bytes] = mapped_column(LargeBinary)
    fills: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    orders: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    total_fees: Mapped[float] = mapped_column(Double)
    bankrupt: Mapped[bool] = mapped_column(Boolean)
    final_positions: Mapped[list[float]] = mapped_column(JSON)
