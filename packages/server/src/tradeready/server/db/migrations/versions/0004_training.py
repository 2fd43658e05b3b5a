"""Training tables.

Revision ID: 0004_training
Revises: 0003_backtests
Create Date: 2026-11-26
"""

from __future__ import annotations

revision = "0004_training"
down_revision = "0003_backtests"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
