"""Market tables.

Revision ID: 0002_market
Revises: 0001_accounts
Create Date: 2026-11-26
"""

from __future__ import annotations

revision = "0002_market"
down_revision = "0001_accounts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
