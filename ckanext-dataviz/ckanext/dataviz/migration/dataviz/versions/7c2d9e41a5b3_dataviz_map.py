"""Saved maps.

Revision ID: 7c2d9e41a5b3
Revises:
Create Date: 2026-11-28
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "7c2d9e41a5b3"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "dataviz_map",
        sa.Column("id", sa.UnicodeText, primary_key=True),
        sa.Column("name", sa.UnicodeText, nullable=False, unique=True),
        sa.Column("title", sa.UnicodeText, nullable=False),
        sa.Column("description", sa.UnicodeText, nullable=False, server_default=""),
        sa.Column("owner_org", sa.UnicodeText),
        sa.Column("owner_user_id", sa.UnicodeText),
        sa.Column("creator_user_id", sa.UnicodeText, nullable=False),
        sa.Column("private", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("legend", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("layers", JSONB, nullable=False, server_default=sa.text("'[]'::jsonb")),
        sa.Column("bbox", JSONB),
        sa.Column("created", sa.DateTime, nullable=False),
        sa.Column("modified", sa.DateTime, nullable=False),
        sa.CheckConstraint("(owner_org IS NULL) <> (owner_user_id IS NULL)",
                           name="dataviz_map_one_owner"),
    )
    op.create_index("ix_dataviz_map_owner_org", "dataviz_map", ["owner_org"])
    op.create_index("ix_dataviz_map_owner_user_id", "dataviz_map", ["owner_user_id"])
    op.create_index("dataviz_map_layers_gin", "dataviz_map", ["layers"], postgresql_using="gin")


def downgrade():
    op.drop_table("dataviz_map")
