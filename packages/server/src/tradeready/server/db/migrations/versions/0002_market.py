"""Market tables (candles and dataset summaries) and the shared rate-limit counters.

Revision ID: 0002_market
Revises: 0001_accounts
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from tradeready.server.store.models.base import UTCDateTime

revision = "0002_market"
down_revision = "0001_accounts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "market_candles",
        sa.Column("symbol", sa.String(40), nullable=False),
        sa.Column("timeframe", sa.String(8), nullable=False),
        sa.Column("open_time", sa.BigInteger(), nullable=False),
        sa.Column("open", sa.Double(), nullable=False),
        sa.Column("high", sa.Double(), nullable=False),
        sa.Column("low", sa.Double(), nullable=False),
        sa.Column("close", sa.Double(), nullable=False),
        sa.Column("volume", sa.Double(), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.PrimaryKeyConstraint("symbol", "timeframe", "open_time", name="pk_market_candles"),
    )
    op.create_table(
        "market_datasets",
        sa.Column("symbol", sa.String(40), nullable=False),
        sa.Column("timeframe", sa.String(8), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("first_open_time", sa.BigInteger(), nullable=False),
        sa.Column("last_open_time", sa.BigInteger(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("gaps", sa.Integer(), nullable=False),
        sa.Column("missing_bars", sa.Integer(), nullable=False),
        sa.Column("version", sa.String(40), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("symbol", "timeframe", name="pk_market_datasets"),
    )
    op.create_table(
        "rate_limit_windows",
        sa.Column("key_id", sa.String(40), nullable=False),
        sa.Column("window_start", sa.BigInteger(), nullable=False),
        sa.Column("used", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("key_id", "window_start", name="pk_rate_limit_windows"),
    )


def downgrade() -> None:
    op.drop_table("rate_limit_windows")
    op.drop_table("market_datasets")
    op.drop_table("market_candles")
