"""Loads of uploaded CSV files into the DataStore.

Revision ID: 3f1a6b2c8d40
Revises: 7c2d9e41a5b3
Create Date: 2026-11-28
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "3f1a6b2c8d40"
down_revision = "7c2d9e41a5b3"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "dataviz_datastore_load",
        sa.Column("resource_id", sa.UnicodeText, primary_key=True),
        sa.Column("status", sa.UnicodeText, nullable=False),
        sa.Column("rows", sa.Integer),
        sa.Column("encoding", sa.UnicodeText),
        sa.Column("delimiter", sa.UnicodeText),
        sa.Column("error", sa.UnicodeText),
        sa.Column("error_params", JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
        sa.Column("source_modified", sa.UnicodeText, nullable=False, server_default=""),
        sa.Column("updated", sa.DateTime, nullable=False),
    )


def downgrade():
    op.drop_table("dataviz_datastore_load")
