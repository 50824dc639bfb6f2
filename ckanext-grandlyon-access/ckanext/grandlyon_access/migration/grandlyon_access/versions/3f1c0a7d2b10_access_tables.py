"""Circles, circle members, grants, access requests and the access log.

Revision ID: 3f1c0a7d2b10
Revises:
Create Date: 2026-11-28
"""
import sqlalchemy as sa
from alembic import op

revision = "3f1c0a7d2b10"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "grandlyon_access_circle",
        sa.Column("id", sa.UnicodeText, primary_key=True),
        sa.Column("name", sa.UnicodeText, nullable=False, unique=True),
        sa.Column("title", sa.UnicodeText, nullable=False),
        sa.Column("description", sa.UnicodeText, nullable=False, server_default=""),
        sa.Column("created", sa.DateTime, nullable=False),
    )
    op.create_table(
        "grandlyon_access_circle_member",
        sa.Column("id", sa.UnicodeText, primary_key=True),
        sa.Column("circle_id", sa.UnicodeText,
                  sa.ForeignKey("grandlyon_access_circle.id", ondelete="CASCADE"), nullable=False),
        sa.Column("user_id", sa.UnicodeText, nullable=False),
        sa.Column("expires", sa.DateTime),
        sa.Column("created", sa.DateTime, nullable=False),
        sa.UniqueConstraint("circle_id", "user_id"),
    )
    op.create_index("ix_grandlyon_access_circle_member_user_id",
                    "grandlyon_access_circle_member", ["user_id"])
    op.create_table(
        "grandlyon_access_grant",
        sa.Column("id", sa.UnicodeText, primary_key=True),
        sa.Column("package_id", sa.UnicodeText, nullable=False),
        sa.Column("circle_id", sa.UnicodeText,
                  sa.ForeignKey("grandlyon_access_circle.id", ondelete="CASCADE")),
        sa.Column("user_id", sa.UnicodeText),
        sa.Column("expires", sa.DateTime),
        sa.Column("created", sa.DateTime, nullable=False),
        sa.Column("created_by", sa.UnicodeText),
        sa.CheckConstraint("(circle_id IS NULL) <> (user_id IS NULL)",
                           name="grandlyon_access_grant_one_grantee"),
    )
    op.create_index("ix_grandlyon_access_grant_package_id", "grandlyon_access_grant", ["package_id"])
    op.create_index("ix_grandlyon_access_grant_circle_id", "grandlyon_access_grant", ["circle_id"])
    op.create_index("ix_grandlyon_access_grant_user_id", "grandlyon_access_grant", ["user_id"])
    op.create_index("grandlyon_access_grant_circle_uq", "grandlyon_access_grant",
                    ["package_id", "circle_id"], unique=True,
                    postgresql_where=sa.text("circle_id IS NOT NULL"))
    op.create_index("grandlyon_access_grant_user_uq", "grandlyon_access_grant",
                    ["package_id", "user_id"], unique=True,
                    postgresql_where=sa.text("user_id IS NOT NULL"))
    op.create_table(
        "grandlyon_access_request",
        sa.Column("id", sa.UnicodeText, primary_key=True),
        sa.Column("package_id", sa.UnicodeText, nullable=False),
        sa.Column("user_id", sa.UnicodeText, nullable=False),
        sa.Column("message", sa.UnicodeText, nullable=False, server_default=""),
        sa.Column("status", sa.UnicodeText, nullable=False, server_default="pending"),
        sa.Column("created", sa.DateTime, nullable=False),
        sa.Column("decided_at", sa.DateTime),
        sa.Column("decided_by", sa.UnicodeText),
        sa.Column("reason", sa.UnicodeText),
        sa.Column("expires", sa.DateTime),
        sa.Column("grant_id", sa.UnicodeText),
    )
    op.create_index("ix_grandlyon_access_request_package_id", "grandlyon_access_request", ["package_id"])
    op.create_index("ix_grandlyon_access_request_user_id", "grandlyon_access_request", ["user_id"])
    op.create_index("grandlyon_access_request_pending_uq", "grandlyon_access_request",
                    ["package_id", "user_id"], unique=True,
                    postgresql_where=sa.text("status = 'pending'"))
    op.create_table(
        "grandlyon_access_log",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime, nullable=False),
        sa.Column("user_id", sa.UnicodeText),
        sa.Column("package_id", sa.UnicodeText, nullable=False),
        sa.Column("resource_id", sa.UnicodeText),
        sa.Column("surface", sa.UnicodeText, nullable=False),
    )
    op.create_index("grandlyon_access_log_package_at", "grandlyon_access_log", ["package_id", "at"])
    op.create_index("grandlyon_access_log_user_at", "grandlyon_access_log", ["user_id", "at"])


def downgrade():
    op.drop_table("grandlyon_access_log")
    op.drop_table("grandlyon_access_request")
    op.drop_table("grandlyon_access_grant")
    op.drop_table("grandlyon_access_circle_member")
    op.drop_table("grandlyon_access_circle")
