"""Keep the licence registry in the database: licences, their versions, a revision

Revision ID: 8d41f0b2c6e7
Revises: 5c2e9a41d7b3
Create Date: 2026-12-06 17:00:00
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "8d41f0b2c6e7"
down_revision = "5c2e9a41d7b3"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "grandlyon_licence_licence",
        sa.Column("id", sa.UnicodeText, primary_key=True),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("title", JSONB, nullable=False),
        sa.Column("url", sa.UnicodeText, nullable=False, server_default=""),
        sa.Column("signature_required", sa.Boolean, nullable=False),
        sa.Column("signer_details", JSONB, nullable=False, server_default=sa.text("'[]'::jsonb")),
        sa.Column("ckan_fields", JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
        sa.Column("current_version", sa.UnicodeText, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "grandlyon_licence_version",
        sa.Column(
            "licence_id",
            sa.UnicodeText,
            sa.ForeignKey("grandlyon_licence_licence.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("version", sa.UnicodeText, primary_key=True),
        sa.Column("text", JSONB, nullable=False),
        sa.Column("published_at", sa.DateTime, nullable=False),
        sa.Column("published_by", sa.UnicodeText, nullable=True),
        sa.Column("note", sa.UnicodeText, nullable=False, server_default=""),
    )
    op.create_table(
        "grandlyon_licence_revision",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.Column("stamp", sa.UnicodeText, nullable=False),
        sa.Column("changed_at", sa.DateTime, nullable=False),
        sa.CheckConstraint("id = 1", name="grandlyon_licence_revision_one_row"),
    )


def downgrade():
    op.drop_table("grandlyon_licence_revision")
    op.drop_table("grandlyon_licence_version")
    op.drop_table("grandlyon_licence_licence")
