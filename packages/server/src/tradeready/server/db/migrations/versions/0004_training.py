"""Training tables: runs (with running aggregates and live progress) and episodes.

Revision ID: 0004_training
Revises: 0003_backtests
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from tradeready.server.store.models.base import UTCDateTime

revision = "0004_training"
down_revision = "0003_backtests"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "training_runs",
        sa.Column("pk", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("run_id", sa.String(72), nullable=False),
        sa.Column("account_id", sa.String(40), nullable=False),
        sa.Column("strategy_label", sa.String(200), nullable=False),
        sa.Column("env_id", sa.String(200), nullable=True),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("completed_at", UTCDateTime(), nullable=True),
        sa.Column("final_stats", sa.JSON(), nullable=True),
        sa.Column("last_activity_at", UTCDateTime(), nullable=False),
        sa.Column("last_heartbeat_at", UTCDateTime(), nullable=True),
        sa.Column("current_step", sa.BigInteger(), nullable=True),
        sa.Column("current_episode", sa.Integer(), nullable=True),
        sa.Column("episode_steps", sa.Integer(), nullable=True),
        sa.Column("episode_length", sa.Integer(), nullable=True),
        sa.Column("steps_per_second", sa.Double(), nullable=True),
        sa.Column("total_timesteps", sa.BigInteger(), nullable=True),
        sa.Column("timesteps_done", sa.BigInteger(), nullable=True),
        sa.Column("train_metrics", sa.JSON(), nullable=True),
        sa.Column("total_episodes", sa.Integer(), nullable=False),
        sa.Column("last_episode", sa.Integer(), nullable=True),
        sa.Column("sum_roi_pct", sa.Double(), nullable=False),
        sa.Column("best_roi_pct", sa.Double(), nullable=True),
        sa.Column("worst_roi_pct", sa.Double(), nullable=True),
        sa.Column("last_roi_pct", sa.Double(), nullable=True),
        sa.Column("n_sharpe", sa.Integer(), nullable=False),
        sa.Column("sum_sharpe", sa.Double(), nullable=False),
        sa.Column("sum_max_drawdown_pct", sa.Double(), nullable=False),
        sa.Column("sum_trades", sa.BigInteger(), nullable=False),
        sa.Column("sum_reward", sa.Double(), nullable=False),
        sa.Column("sum_steps", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("pk", name="pk_training_runs"),
        sa.UniqueConstraint("run_id", name="uq_training_runs_run_id"),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name="fk_training_runs_account_id_accounts", ondelete="CASCADE"
        ),
    )
    op.create_index("ix_training_runs_account_started", "training_runs", ["account_id", "started_at"])
    op.create_index("ix_training_runs_account_status", "training_runs", ["account_id", "status"])
    op.create_table(
        "training_episodes",
        sa.Column("run_pk", sa.Integer(), nullable=False),
        sa.Column("episode", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("roi_pct", sa.Double(), nullable=False),
        sa.Column("sharpe_ratio", sa.Double(), nullable=True),
        sa.Column("max_drawdown_pct", sa.Double(), nullable=False),
        sa.Column("total_trades", sa.Integer(), nullable=False),
        sa.Column("reward_sum", sa.Double(), nullable=False),
        sa.Column("steps", sa.Integer(), nullable=True),
        sa.Column("session_id", sa.String(72), nullable=True),
        sa.Column("started_at", UTCDateTime(), nullable=True),
        sa.Column("ended_at", UTCDateTime(), nullable=True),
        sa.Column("sortino_ratio", sa.Double(), nullable=True),
        sa.Column("win_rate", sa.Double(), nullable=True),
        sa.Column("final_equity", sa.Double(), nullable=True),
        sa.Column("terminated", sa.Boolean(), nullable=True),
        sa.Column("truncated", sa.Boolean(), nullable=True),
        sa.Column("metrics", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("run_pk", "episode", name="pk_training_episodes"),
        sa.ForeignKeyConstraint(
            ["run_pk"], ["training_runs.pk"], name="fk_training_episodes_run_pk_training_runs", ondelete="CASCADE"
        ),
        sqlite_with_rowid=False,
    )


def downgrade() -> None:
    op.drop_table("training_episodes")
    op.drop_index("ix_training_runs_account_status", table_name="training_runs")
    op.drop_index("ix_training_runs_account_started", table_name="training_runs")
    op.drop_table("training_runs")
