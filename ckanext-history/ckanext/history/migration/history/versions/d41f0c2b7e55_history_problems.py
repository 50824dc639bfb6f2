"""What went wrong with a feed's poll, kept to be said in the reader's
language (ckanext.history.problems): the feed's last problem, and the
problem that opened each gap.

Revision ID: d41f0c2b7e55
Revises: 9c3d5e7f2a10
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "d41f0c2b7e55"
down_revision = "9c3d5e7f2a10"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("history_feed", sa.Column("problem", JSONB))
    op.add_column("history_gap", sa.Column("problem", JSONB))


def downgrade():
    op.drop_column("history_gap", "problem")
    op.drop_column("history_feed", "problem")
