"""Evaluations (strategy tests) linked to training runs.

Revision ID: 0005_evaluations
Revises: 0004_training
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from tradeready.server.store.models.base import UTCDateTime

revision = "0005_evaluations"
down_revision = "0004_training"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "evaluations",
        sa.Column("pk", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("evaluation_id", sa.String(72), nullable=False),
        sa.Column("account_id", sa.String(40), nullable=False),
        sa.Column("run_id", sa.String(72), nullable=True),
        sa.Column("name", sa.String(200), nullable=True),
        sa.Column("model", sa.String(100), nullable=False),
        sa.Column("env_id", sa.String(200), nullable=False),
        sa.Column("env_config", sa.JSON(), nullable=False),
        sa.Column("seed", sa.Integer(), nullable=True),
        sa.Column("deterministic", sa.Boolean(), nullable=False),
        sa.Column("n_episodes", sa.Integer(), nullable=False),
        sa.Column("windows", sa.JSON(), nullable=False),
        sa.Column("beats_buy_and_hold", sa.Boolean(), nullable=True),
        sa.Column("episodes_won_vs_buy_and_hold", sa.Integer(), nullable=True),
        sa.Column("roi_gap_vs_buy_and_hold_pct", sa.Double(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("pk", name="pk_evaluations"),
        sa.UniqueConstraint("evaluation_id", name="uq_evaluations_evaluation_id"),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name="fk_evaluations_account_id_accounts", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["run_id"], ["training_runs.run_id"], name="fk_evaluations_run_id_training_runs", ondelete="CASCADE"
        ),
    )
    op.create_index("ix_evaluations_account_created", "evaluations", ["account_id", "created_at"])
    op.create_index("ix_evaluations_run_id", "evaluations", ["run_id"])
    op.create_table(
        "evaluation_agents",
        sa.Column("pk", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("evaluation_pk", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("episodes", sa.Integer(), nullable=False),
        sa.Column("mean_roi_pct", sa.Double(), nullable=False),
        sa.Column("std_roi_pct", sa.Double(), nullable=False),
        sa.Column("mean_sharpe_ratio", sa.Double(), nullable=False),
        sa.Column("mean_max_drawdown_pct", sa.Double(), nullable=False),
        sa.Column("mean_total_trades", sa.Double(), nullable=False),
        sa.Column("mean_win_rate", sa.Double(), nullable=True),
        sa.Column("mean_total_fees", sa.Double(), nullable=True),
        sa.PrimaryKeyConstraint("pk", name="pk_evaluation_agents"),
        sa.UniqueConstraint("evaluation_pk", "name", name="uq_evaluation_agents_evaluation_pk_name"),
        sa.ForeignKeyConstraint(
            ["evaluation_pk"],
            ["evaluations.pk"],
            name="fk_evaluation_agents_evaluation_pk_evaluations",
            ondelete="CASCADE",
        ),
    )
    op.create_table(
        "evaluation_episodes",
        sa.Column("agent_pk", sa.Integer(), nullable=False),
        sa.Column("episode", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("roi_pct", sa.Double(), nullable=False),
        sa.Column("sharpe_ratio", sa.Double(), nullable=False),
        sa.Column("max_drawdown_pct", sa.Double(), nullable=False),
        sa.Column("total_trades", sa.Integer(), nullable=False),
        sa.Column("sortino_ratio", sa.Double(), nullable=True),
        sa.Column("win_rate", sa.Double(), nullable=True),
        sa.Column("exposure_pct", sa.Double(), nullable=True),
        sa.Column("final_equity", sa.Double(), nullable=True),
        sa.Column("total_fees", sa.Double(), nullable=True),
        sa.Column("reward_sum", sa.Double(), nullable=True),
        sa.Column("steps", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("agent_pk", "episode", name="pk_evaluation_episodes"),
        sa.ForeignKeyConstraint(
            ["agent_pk"],
            ["evaluation_agents.pk"],
            name="fk_evaluation_episodes_agent_pk_evaluation_agents",
            ondelete="CASCADE",
        ),
        sqlite_with_rowid=False,
    )


def downgrade() -> None:
    op.drop_table("evaluation_episodes")
    op.drop_table("evaluation_agents")
    op.drop_index("ix_evaluations_run_id", table_name="evaluations")
    op.drop_index("ix_evaluations_account_created", table_name="evaluations")
    op.drop_table("evaluations")
