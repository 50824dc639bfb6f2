"""Create the table of licence signatures

Revision ID: 5c2e9a41d7b3
Revises:
Create Date: 2026-11-28 16:00:00
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "5c2e9a41d7b3"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "grandlyon_licence_signature",
        sa.Column("id", sa.UnicodeText, primary_key=True),
        sa.Column("user_id", sa.UnicodeText, nullable=False),
        sa.Column("licence_id", sa.UnicodeText, nullable=False),
        sa.Column("licence_version", sa.UnicodeText, nullable=False),
        sa.Column("signed_at", sa.DateTime, nullable=False),
        sa.Column("details", JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
        sa.Column("revoked_at", sa.DateTime, nullable=True),
        sa.Column("revoked_by", sa.UnicodeText, nullable=True),
        sa.Column("revoke_reason", sa.UnicodeText, nullable=True),
    )
    op.create_index(
        "grandlyon_licence_signature_user_licence_idx",
        "grandlyon_licence_signature",
        ["user_id", "licence_id"],
    )
    op.create_index(
        "grandlyon_licence_signature_one_valid_idx",
        "grandlyon_licence_signature",
        ["user_id", "licence_id", "licence_version"],
        unique=True,
        postgresql_where=sa.text("revoked_at IS NULL"),
    )


def downgrade():
    op.drop_index("grandlyon_licence_signature_one_valid_idx", "grandlyon_licence_signature")
    op.drop_index("grandlyon_licence_signature_user_licence_idx", "grandlyon_licence_signature")
    op.drop_table("grandlyon_licence_signature")
