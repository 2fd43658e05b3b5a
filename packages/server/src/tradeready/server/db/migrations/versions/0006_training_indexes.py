"""Index for the dashboard's episode table sorted by ROI.

``ix_training_episodes_run_roi`` on ``(run_pk, roi_pct)`` lets one page of a run's episodes sorted
by ROI (either direction) be read in index order instead of sorting every episode of the run; only
episodes of equal ROI are sorted among themselves (by episode number).

Revision ID: 0006_training_indexes
Revises: 0005_evaluations
Create Date: 2026-11-26
"""

from __future__ import annotations

from alembic import op

revision = "0006_training_indexes"
down_revision = "0005_evaluations"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_training_episodes_run_roi", "training_episodes", ["run_pk", "roi_pct"])


def downgrade() -> None:
    op.drop_index("ix_training_episodes_run_roi", table_name="training_episodes")
