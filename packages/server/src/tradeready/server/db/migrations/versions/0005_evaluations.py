"""Evaluations (strategy tests) linked to training runs.

Revision ID: 0005_evaluations
Revises: 0004_training
Create Date: 2026-11-26
"""

from __future__ import annotations

revision = "0005_evaluations"
down_revision = "0004_training"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
