"""Backtest sessions, their action logs and the results of finished sessions.

Revision ID: 0003_backtests
Revises: 0002_market
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from tradeready.server.store.models.base import UTCDateTime

revision = "0003_backtests"
down_revision = "0002_market"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "backtest_sessions",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("account_id", sa.String(40), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("symbols", sa.JSON(), nullable=False),
        sa.Column("timeframe", sa.String(8), nullable=False),
        sa.Column("start_ms", sa.BigInteger(), nullable=False),
        sa.Column("end_ms", sa.BigInteger(), nullable=False),
        sa.Column("first_bar_ms", sa.BigInteger(), nullable=False),
        sa.Column("last_bar_ms", sa.BigInteger(), nullable=False),
        sa.Column("total_steps", sa.Integer(), nullable=False),
        sa.Column("engine_config", sa.JSON(), nullable=False),
        sa.Column("starting_balance", sa.Double(), nullable=False),
        sa.Column("fee_rate", sa.Double(), nullable=False),
        sa.Column("slippage_bps", sa.Double(), nullable=False),
        sa.Column("allow_short", sa.Boolean(), nullable=False),
        sa.Column("strategy_label", sa.String(100), nullable=False),
        sa.Column("episode_length", sa.Integer(), nullable=True),
        sa.Column("seed", sa.BigInteger(), nullable=True),
        sa.Column("training_run_id", sa.String(64), nullable=True),
        sa.Column("episode", sa.Integer(), nullable=True),
        sa.Column("dataset_fingerprint", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("cash", sa.Double(), nullable=False),
        sa.Column("equity", sa.Double(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("completed_at", UTCDateTime(), nullable=True),
        sa.Column("metrics", sa.JSON(), nullable=True),
        sa.Column("client_metrics", sa.JSON(), nullable=True),
        sa.Column("metrics_mismatch", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_backtest_sessions"),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name="fk_backtest_sessions_account_id_accounts", ondelete="CASCADE"
        ),
        sa.UniqueConstraint("account_id", "training_run_id", "episode", name="uq_backtest_sessions_run_episode"),
    )
    op.create_index("ix_backtest_sessions_account_created", "backtest_sessions", ["account_id", "created_at"])
    op.create_index("ix_backtest_sessions_status_updated", "backtest_sessions", ["status", "updated_at"])
    op.create_index("ix_backtest_sessions_strategy_label", "backtest_sessions", ["strategy_label"])
    op.create_index("ix_backtest_sessions_training_run_id", "backtest_sessions", ["training_run_id"])
    op.create_table(
        "backtest_actions",
        sa.Column("session_id", sa.String(40), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("steps", sa.Integer(), nullable=False),
        sa.Column("targets", sa.LargeBinary(), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("session_id", "seq", name="pk_backtest_actions"),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["backtest_sessions.id"],
            name="fk_backtest_actions_session_id_backtest_sessions",
            ondelete="CASCADE",
        ),
    )
    op.create_table(
        "backtest_results",
        sa.Column("session_id", sa.String(40), nullable=False),
        sa.Column("times", sa.LargeBinary(), nullable=False),
        sa.Column("equity", sa.LargeBinary(), nullable=False),
        sa.Column("fills", sa.JSON(), nullable=False),
        sa.Column("orders", sa.JSON(), nullable=False),
        sa.Column("total_fees", sa.Double(), nullable=False),
        sa.Column("bankrupt", sa.Boolean(), nullable=False),
        sa.Column("final_positions", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("session_id", name="pk_backtest_results"),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["backtest_sessions.id"],
            name="fk_backtest_results_session_id_backtest_sessions",
            ondelete="CASCADE",
        ),
    )


def downgrade() -> None:
    op.drop_table("backtest_results")
    op.drop_table("backtest_actions")
    op.drop_index("ix_backtest_sessions_training_run_id", table_name="backtest_sessions")
    op.drop_index("ix_backtest_sessions_strategy_label", table_name="backtest_sessions")
    op.drop_index("ix_backtest_sessions_status_updated", table_name="backtest_sessions")
    op.drop_index("ix_backtest_sessions_account_created", table_name="backtest_sessions")
    op.drop_table("backtest_sessions")
