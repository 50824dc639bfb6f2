"""Rows of histories: one table partitioned by month of the row's time.

Revision ID: 9c3d5e7f2a10
Revises: 4b7e2a91c001
Create Date: 2026-11-28

Monthly partitions (history_part.pYYYYMM) are created on demand by
ckanext.history.store, in their own PostgreSQL schema: tools that reflect the
public schema (CKAN's test reset drops every reflected table) then see one
table, and dropping the parent drops its partitions.
"""
from alembic import op

revision = "9c3d5e7f2a10"
down_revision = "4b7e2a91c001"
branch_labels = None
depends_on = None


def upgrade():
    op.execute("CREATE SCHEMA IF NOT EXISTS history_part")
    # Raw DDL: alembic's create_table has no partitioning clause.
    op.execute(
        """
        CREATE TABLE history_row (
            resource_id text NOT NULL,
            feature text NOT NULL,
            "time" timestamp without time zone NOT NULL,
            "values" jsonb NOT NULL DEFAULT '{}'::jsonb,
            CONSTRAINT history_row_pkey PRIMARY KEY (resource_id, feature, "time")
        ) PARTITION BY RANGE ("time")
        """
    )
    op.execute('CREATE INDEX ix_history_row_resource_time ON history_row (resource_id, "time")')
    op.execute(
        """
        CREATE TABLE history_schema (
            resource_id text PRIMARY KEY,
            fields jsonb NOT NULL DEFAULT '[]'::jsonb,
            modified timestamp without time zone NOT NULL DEFAULT (now() at time zone 'utc')
        )
        """
    )
    # The features of each history, whichever tier holds their rows: lets a
    # query refuse an unknown feature without scanning rows.
    op.execute(
        """
        CREATE TABLE history_feature (
            resource_id text NOT NULL,
            feature text NOT NULL,
            CONSTRAINT history_feature_pkey PRIMARY KEY (resource_id, feature)
        )
        """
    )
    # How far each `ckan history import` of a file went (resuming).
    op.execute(
        """
        CREATE TABLE history_import (
            key text PRIMARY KEY,
            resource_id text NOT NULL,
            path text NOT NULL,
            "offset" bigint NOT NULL DEFAULT 0,
            rows bigint NOT NULL DEFAULT 0,
            finished boolean NOT NULL DEFAULT false,
            modified timestamp without time zone NOT NULL
        )
        """
    )


def downgrade():
    op.execute("DROP TABLE IF EXISTS history_import")
    op.execute("DROP TABLE IF EXISTS history_feature")
    op.execute("DROP TABLE IF EXISTS history_schema")
    op.execute("DROP TABLE IF EXISTS history_row CASCADE")
