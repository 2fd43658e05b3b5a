"""Backtests tables.

Revision ID: 0003_backtests
Revises: 0002_market
Create Date: 2026-11-26
"""

from __future__ import annotations

revision = "0003_backtests"
down_revision = "0002_market"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
