"""The tables of the hot tier (store.py reads and writes them).

`history_row (resource_id, feature, time, values)` partitioned by range of
`time`, one partition per calendar month (`history_part.pYYYYMM`, created on
demand by `store.write_rows`); `history_schema`, the declared fields of each
resource; `history_feature`, the features a resource's history ever held;
`history_import`, where each file given to `ckan history import` stopped
(importer.py).
"""

from __future__ import annotations

import ckan.plugins.toolkit as tk
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

# Declared in CKAN's metadata so CKAN's test reset empties them; created by
# the plugin's migration (the partitioning clause is raw DDL there).
row_table = sa.Table(
    "history_row",
    tk.BaseModel.metadata,
    sa.Column("resource_id", sa.UnicodeText, primary_key=True),
    sa.Column("feature", sa.UnicodeText, primary_key=True),
    sa.Column("time", sa.DateTime, primary_key=True),
    sa.Column("values", JSONB, nullable=False),
    postgresql_partition_by='RANGE ("time")',
)

schema_table = sa.Table(
    "history_schema",
    tk.BaseModel.metadata,
    sa.Column("resource_id", sa.UnicodeText, primary_key=True),
    sa.Column("fields", JSONB, nullable=False),
    sa.Column("modified", sa.DateTime, nullable=False),
)

feature_table = sa.Table(
    "history_feature",
    tk.BaseModel.metadata,
    sa.Column("resource_id", sa.UnicodeText, primary_key=True),
    sa.Column("feature", sa.UnicodeText, primary_key=True),
)


import_table = sa.Table(
    "history_import",
    tk.BaseModel.metadata,
    sa.Column("key", sa.UnicodeText, primary_key=True),
    sa.Column("resource_id", sa.UnicodeText, nullable=False),
    sa.Column("path", sa.UnicodeText, nullable=False),
    sa.Column("offset", sa.BigInteger, nullable=False),
    sa.Column("rows", sa.BigInteger, nullable=False),
    sa.Column("finished", sa.Boolean, nullable=False),
    sa.Column("modified", sa.DateTime, nullable=False),
)
