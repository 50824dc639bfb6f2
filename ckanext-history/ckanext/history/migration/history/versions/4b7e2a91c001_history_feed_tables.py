"""Feeds and their gaps.

Revision ID: 4b7e2a91c001
Revises:
Create Date: 2026-11-28
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "4b7e2a91c001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "history_feed",
        sa.Column("id", sa.UnicodeText, primary_key=True),
        sa.Column("resource_id", sa.UnicodeText, nullable=False, unique=True),
        sa.Column("package_id", sa.UnicodeText, nullable=False),
        sa.Column("url", sa.UnicodeText, nullable=False),
        sa.Column("format", sa.UnicodeText, nullable=False),
        sa.Column("feature_id_field", sa.UnicodeText, nullable=False),
        sa.Column("time_field", sa.UnicodeText),
        sa.Column("fields", JSONB, nullable=False, server_default="[]"),
        sa.Column("interval_seconds", sa.Integer, nullable=False, server_default="60"),
        sa.Column("hot_retention_days", sa.Integer),
        sa.Column("store_mode", sa.UnicodeText, nullable=False, server_default="changes"),
        sa.Column("enabled", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("etag", sa.UnicodeText),
        sa.Column("last_modified", sa.UnicodeText),
        sa.Column("next_poll_at", sa.DateTime),
        sa.Column("last_fetch_at", sa.DateTime),
        sa.Column("last_success_at", sa.DateTime),
        sa.Column("consecutive_failures", sa.Integer, nullable=False, server_default="0"),
        sa.Column("last_error", sa.UnicodeText),
        sa.Column("created", sa.DateTime, nullable=False),
        sa.Column("modified", sa.DateTime, nullable=False),
        sa.Column("creator_user_id", sa.UnicodeText),
        sa.CheckConstraint("format IN ('geojson', 'json', 'csv')", name="history_feed_format"),
        sa.CheckConstraint("store_mode IN ('changes', 'every')", name="history_feed_store_mode"),
        sa.CheckConstraint("interval_seconds > 0", name="history_feed_interval"),
    )
    op.create_index("ix_history_feed_package_id", "history_feed", ["package_id"])
    op.create_index("ix_history_feed_next_poll_at", "history_feed", ["next_poll_at"])
    op.create_table(
        "history_gap",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=True),
        sa.Column("resource_id", sa.UnicodeText, nullable=False),
        sa.Column("start", sa.DateTime, nullable=False),
        sa.Column("end", sa.DateTime),
        sa.Column("reason", sa.UnicodeText, nullable=False, server_default=""),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="1"),
    )
    op.create_index("ix_history_gap_resource_id", "history_gap", ["resource_id", "start"])
    # At most one open gap per feed.
    op.create_index("history_gap_open_uq", "history_gap", ["resource_id"], unique=True,
                    postgresql_where=sa.text('"end" IS NULL'))


def downgrade():
    op.drop_table("history_gap")
    op.drop_table("history_feed")
