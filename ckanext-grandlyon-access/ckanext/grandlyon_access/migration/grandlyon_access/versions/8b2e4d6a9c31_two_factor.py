"""Second factors (TOTP), their recovery codes and the account log.

Revision ID: 8b2e4d6a9c31
Revises: 3f1c0a7d2b10
Create Date: 2026-12-06
"""
import sqlalchemy as sa
from alembic import op

revision = "8b2e4d6a9c31"
down_revision = "3f1c0a7d2b10"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "grandlyon_access_two_factor",
        sa.Column("user_id", sa.UnicodeText, primary_key=True),
        sa.Column("secret", sa.UnicodeText, nullable=False),
        sa.Column("enabled", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("last_step", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("created", sa.DateTime, nullable=False),
        sa.Column("enabled_at", sa.DateTime),
    )
    op.create_table(
        "grandlyon_access_two_factor_recovery",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=True),
        sa.Column("user_id", sa.UnicodeText, nullable=False),
        sa.Column("code_hash", sa.UnicodeText, nullable=False),
        sa.Column("used_at", sa.DateTime),
    )
    op.create_index("ix_grandlyon_access_two_factor_recovery_user_id",
                    "grandlyon_access_two_factor_recovery", ["user_id"])
    op.create_table(
        "grandlyon_access_account_log",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime, nullable=False),
        sa.Column("actor_id", sa.UnicodeText),
        sa.Column("user_id", sa.UnicodeText, nullable=False),
        sa.Column("event", sa.UnicodeText, nullable=False),
    )
    op.create_index("ix_grandlyon_access_account_log_user_id",
                    "grandlyon_access_account_log", ["user_id"])


def downgrade():
    op.drop_table("grandlyon_access_account_log")
    op.drop_table("grandlyon_access_two_factor_recovery")
    op.drop_table("grandlyon_access_two_factor")
