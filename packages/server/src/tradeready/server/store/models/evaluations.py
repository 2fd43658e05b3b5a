"""Evaluation (strategy test) tables: one row per evaluation, per agent (with its summary), per agent episode.

An agent's summary columns are written in the same transaction as its episode rows, so listing
evaluations never scans episodes. Deleting an account, a training run or an evaluation removes
what hangs off it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Double, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tradeready.server.store.models.base import Base, UTCDateTime

__all__ = ["Evaluation", "EvaluationAgent", "EvaluationEpisode"]


class Evaluation(Base):
    """One evaluation: the held-out windows, the environment and the verdict against buy-and-hold."""

    __tablename__ = "evaluations"
    __table_args__ = (
        Index("ix_evaluations_account_created", "account_id", "created_at"),
        Index("ix_evaluations_run_id", "run_id"),
    )

    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    evaluation_id: Mapped[str] = mapped_column(String(72), unique=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    run_id: Mapped[str | None] = mapped_column(ForeignKey("training_runs.run_id", ondelete="CASCADE"), nullable=True)
    name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    model: Mapped[str] = mapped_column(String(100))
    env_id: Mapped[str] = mapped_column(String(200))
    env_config: Mapped[dict[str, Any]] = mapped_column(JSON)
    seed: Mapped[int | None] = mapped_column(Integer, nullable=True)
    deterministic: Mapped[bool] = mapped_column(Boolean)
    n_episodes: Mapped[int] = mapped_column(Integer)
    windows: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    beats_buy_and_hold: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    episodes_won_vs_buy_and_hold: Mapped[int | None] = mapped_column(Integer, nullable=True)
    roi_gap_vs_buy_and_hold_pct: Mapped[float | None] = mapped_column(Double, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class EvaluationAgent(Base):
    """An agent of an evaluation (the model or a baseline) with the means over its episodes."""

    __tablename__ = "evaluation_agents"
    __table_args__ = (UniqueConstraint("evaluation_pk", "name", name="uq_evaluation_agents_evaluation_pk_name"),)

    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    evaluation_pk: Mapped[int] = mapped_column(ForeignKey("evaluations.pk", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(16))
    episodes: Mapped[int] = mapped_column(Integer)
    mean_roi_pct: Mapped[float] = mapped_column(Double)
    std_roi_pct: Mapped[float] = mapped_column(Double)
    mean_sharpe_ratio: Mapped[float] = mapped_column(Double)
    mean_max_drawdown_pct: Mapped[float] = mapped_column(Double)
    mean_total_trades: Mapped[float] = mapped_column(Double)
    mean_win_rate: Mapped[float | None] = mapped_column(Double, nullable=True)
    mean_total_fees: Mapped[float | None] = mapped_column(Double, nullable=True)


class EvaluationEpisode(Base):
    """One agent's metrics on one episode; ``(agent_pk, episode)`` is the primary key."""

    __tablename__ = "evaluation_episodes"
    __table_args__ = ({"sqlite_with_rowid": False},)

    agent_pk: Mapped[int] = mapped_column(ForeignKey("evaluation_agents.pk", ondelete="CASCADE"), primary_key=True)
    episode: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    roi_pct: Mapped[float] = mapped_column(Double)
    sharpe_ratio: Mapped[float] = mapped_column(Double)
    max_drawdown_pct: Mapped[float] = mapped_column(Double)
    total_trades: Mapped[int] = mapped_column(Integer)
    sortino_ratio: Mapped[float | None] = mapped_column(Double, nullable=True)
    win_rate: Mapped[float | None] = mapped_column(Double, nullable=True)
    exposure_pct: Mapped[float | None] = mapped_column(Double, nullable=True)
    final_equity: Mapped[float | None] = mapped_column(Double, nullable=True)
    total_fees: Mapped[float | None] = mapped_column(Double, nullable=True)
    reward_sum: Mapped[float | None] = mapped_column(Double, nullable=True)
    steps: Mapped[int | None] = mapped_column(Integer, nullable=True)
