"""Training tables: one row per run (with running aggregates) and one typed row per episode.

A run's summary columns (``total_episodes``, the sums behind every average, best/worst/last ROI)
are updated by :class:`tradeready.server.store.training.TrainingStore` in the same transaction as
the episode rows they summarise, so listing runs never scans episodes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Double, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from tradeready.server.store.models.base import Base, UTCDateTime

__all__ = ["TrainingEpisode", "TrainingRun"]


class TrainingRun(Base):
    """A training run: registration, status, live progress and running aggregates."""

    __tablename__ = "training_runs"
    __table_args__ = (
        Index("ix_training_runs_account_started", "account_id", "started_at"),
        Index("ix_training_runs_account_status", "account_id", "status"),
    )

    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(String(72), unique=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    strategy_label: Mapped[str] = mapped_column(String(200))
    env_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    config: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    final_stats: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True), nullable=True)
    last_activity_at: Mapped[datetime] = mapped_column(UTCDateTime())

    # live progress (heartbeat)
    last_heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    current_step: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    current_episode: Mapped[int | None] = mapped_column(Integer, nullable=True)
    episode_steps: Mapped[int | None] = mapped_column(Integer, nullable=True)
    episode_length: Mapped[int | None] = mapped_column(Integer, nullable=True)
    steps_per_second: Mapped[float | None] = mapped_column(Double, nullable=True)
    total_timesteps: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    timesteps_done: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    train_metrics: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True), nullable=True)

    # running aggregates (updated with every episode insert)
    total_episodes: Mapped[int] = mapped_column(Integer, default=0)
    last_episode: Mapped[int | None] = mapped_column(Integer, nullable=True)
    sum_roi_pct: Mapped[float] = mapped_column(Double, default=0.0)
    best_roi_pct: Mapped[float | None] = mapped_column(Double, nullable=True)
    worst_roi_pct: Mapped[float | None] = mapped_column(Double, nullable=True)
    last_roi_pct: Mapped[float | None] = mapped_column(Double, nullable=True)
    n_sharpe: Mapped[int] = mapped_column(Integer, default=0)
    sum_sharpe: Mapped[float] = mapped_column(Double, default=0.0)
    sum_max_drawdown_pct: Mapped[float] = mapped_column(Double, default=0.0)
    sum_trades: Mapped[int] = mapped_column(BigInteger, default=0)
    sum_reward: Mapped[float] = mapped_column(Double, default=0.0)
    sum_steps: Mapped[int] = mapped_column(BigInteger, default=0)


class TrainingEpisode(Base):
    """One episode of a run; ``(run_pk, episode)`` is the primary key, so resends cannot duplicate."""

    __tablename__ = "training_episodes"
    # SQLite: cluster rows by (run_pk, episode) so a run's curve is one sequential range scan.
    # (no index on ROI: migration 0007 dropped it, inserts are the hot path)
    __table_args__ = ({"sqlite_with_rowid": False},)

    run_pk: Mapped[int] = mapped_column(ForeignKey("training_runs.pk", ondelete="CASCADE"), primary_key=True)
    episode: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    roi_pct: Mapped[float] = mapped_column(Double)
    sharpe_ratio: Mapped[float | None] = mapped_column(Double, nullable=True)
    max_drawdown_pct: Mapped[float] = mapped_column(Double)
    total_trades: Mapped[int] = mapped_column(Integer)
    reward_sum: Mapped[float] = mapped_column(Double)
    steps: Mapped[int | None] = mapped_column(Integer, nullable=True)
    session_id: Mapped[str | None] = mapped_column(String(72), nullable=True)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    sortino_ratio: Mapped[float | None] = mapped_column(Double, nullable=True)
    win_rate: Mapped[float | None] = mapped_column(Double, nullable=True)
    final_equity: Mapped[float | None] = mapped_column(Double, nullable=True)
    terminated: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    truncated: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    metrics: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True), nullable=True)
