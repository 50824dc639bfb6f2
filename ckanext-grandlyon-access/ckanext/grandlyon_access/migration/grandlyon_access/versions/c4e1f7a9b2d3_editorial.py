"""Editorial content: static pages and news articles (editorial/model.py).

Revision ID: c4e1f7a9b2d3
Revises: 8b2e4d6a9c31
Create Date: 2026-12-06
"""
import sqlalchemy as sa
from alembic import op

revision = "c4e1f7a9b2d3"
down_revision = "8b2e4d6a9c31"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "grandlyon_access_editorial",
        sa.Column("id", sa.UnicodeText, primary_key=True),
        sa.Column("kind", sa.UnicodeText, nullable=False),
        sa.Column("name", sa.UnicodeText, nullable=False),
        sa.Column("state", sa.UnicodeText, nullable=False, server_default="draft"),
        sa.Column("title_fr", sa.UnicodeText, nullable=False, server_default=""),
        sa.Column("title_en", sa.UnicodeText, nullable=False, server_default=""),
        sa.Column("body_fr", sa.UnicodeText, nullable=False, server_default=""),
        sa.Column("body_en", sa.UnicodeText, nullable=False, server_default=""),
        sa.Column("image", sa.UnicodeText, nullable=False, server_default=""),
        sa.Column("author_id", sa.UnicodeText),
        sa.Column("created", sa.DateTime, nullable=False),
        sa.Column("modified", sa.DateTime, nullable=False),
        sa.Column("published", sa.DateTime),
        sa.UniqueConstraint("kind", "name"),
        sa.CheckConstraint("kind IN ('page', 'news')", name="grandlyon_access_editorial_kind"),
        sa.CheckConstraint("state IN ('draft', 'published')",
                           name="grandlyon_access_editorial_state"),
    )
    op.create_index("ix_grandlyon_access_editorial_listing", "grandlyon_access_editorial",
                    ["kind", "state", "published"])


def downgrade():
    op.drop_table("grandlyon_access_editorial")
