"""Drop the ROI index of training episodes: ingest is the hot path, an ROI-sorted page is not.

``ix_training_episodes_run_roi`` (0006) made one dashboard page of a run's episodes sorted by ROI an
index read, but every episode insert paid for a second B-tree: about 40% of a 1,000-episode batch's
insert on SQLite (``bench/tracking.py``). Without it, an ROI-sorted page is a top-N scan of the run's
episodes, as a page sorted by any other metric already was (tens of milliseconds at 100,000 episodes).

Revision ID: 0007_drop_roi_index
Revises: 0006_training_indexes
Create Date: 2026-11-26
"""

from __future__ import annotations

from alembic import op

revision = "0007_drop_roi_index"
down_revision = "0006_training_indexes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_training_episodes_run_roi", table_name="training_episodes")


def downgrade() -> None:
    op.create_index("ix_training_episodes_run_roi", "training_episodes", ["run_pk", "roi_pct"])
