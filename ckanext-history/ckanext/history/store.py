"""The hot tier of histories: rows in PostgreSQL, in the CKAN database.

Layout: one table `history_row (resource_id, feature, time, values)`
partitioned by range of `time`, one partition per calendar month
(`history_part.pYYYYMM`, created on demand by `write_rows` in a schema of
their own so that tools reflecting `public` see one table). The primary key
(resource_id, feature, time) makes a row unique: writing it again is a no-op
(`ON CONFLICT DO NOTHING`), so a writer killed and restarted mid-way never
stores a row twice. `values` holds the feed's declared fields, each coerced to
its declared type when written (int, float, text, bool, timestamp as ISO
text); readers cast them back to typed columns in SQL (`hot_batches`). The
declared fields of each resource are kept in `history_schema`
(`ensure_schema`), so the store answers without the feed table.

Older rows move to the Parquet archive (archive.py, `ckan history compact`);
queries read both tiers (query.py).
"""

from __future__ import annotations

import datetime
import json
import logging
import math
import uuid
from collections.abc import Iterable, Iterator
from typing import Any

import ckan.model as model
import ckan.plugins.toolkit as tk
import pyarrow as pa
import sqlalchemy as sa
from ckanext.history import config
from ckanext.history.model import feature_table, row_table, schema_table

log = logging.getLogger(__name__)

FIELD_TYPES = ("int", "float", "text", "bool", "timestamp")
INT64_MIN, INT64_MAX = -(2 ** 63), 2 ** 63 - 1
RESERVED = ("time", "feature", "resource_id", "values")
# The times a history holds: monthly partitions and archive files are named
# by four-digit years, and nothing measured by a feed predates 1900.
EARLIEST_TIME = datetime.datetime(1900, 1, 1)
LATEST_TIME = datetime.datetime(9999, 12, 1)

ARROW_TYPES = {
    "int": pa.int64(),
    "float": pa.float64(),
    "text": pa.string(),
    "bool": pa.bool_(),
    "timestamp": pa.timestamp("us"),
}
PG_CASTS = {
    "int": "bigint",
    "float": "double precision",
    "text": "text",
    "bool": "boolean",
    "timestamp": "timestamp",
}


def engine() -> sa.engine.Engine:
    return model.meta.engine


def utcnow() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)


# --- schema -----------------------------------------------------------------

def validate_fields(fields: Any) -> list[dict[str, str]]:
    """The declared fields, checked: a list of {"name", "type"} with unique
    names that are not the reserved column names. Raises tk.ValidationError."""
    if not isinstance(fields, list):
        raise tk.ValidationError({"fields": [tk._("Must be a list of {name, type}")]})
    out, seen = [], set()
    for field in fields:
        if not isinstance(field, dict):
            raise tk.ValidationError({"fields": [tk._("Must be a list of {name, type}")]})
        name, type_ = str(field.get("name") or "").strip(), field.get("type")
        if not name or len(name) > 63 or name.lower() in RESERVED or name in seen:
            raise tk.ValidationError({"fields": [tk._("Invalid or repeated field name: %s") % name]})
        if type_ not in FIELD_TYPES:
            raise tk.ValidationError({"fields": [tk._("Unknown field type: %s") % type_]})
        seen.add(name)
        out.append({"name": name, "type": type_})
    return out


def ensure_schema(resource_id: str, fields: list[dict]) -> None:
    """Records the declared fields of a resource's history (called when a feed
    is created or updated). Rows keep every field ever declared: a field
    removed later stays readable in old rows but is no longer queried."""
    fields = validate_fields(fields)
    from sqlalchemy.dialects.postgresql import insert

    stmt = insert(schema_table).values(resource_id=resource_id, fields=fields, modified=utcnow())
    stmt = stmt.on_conflict_do_update(
        index_elements=[schema_table.c.resource_id],
        set_={"fields": stmt.excluded.fields, "modified": stmt.excluded.modified},
    )
    with engine().begin() as conn:
        conn.execute(stmt)


def get_schema(resource_id: str) -> list[dict[str, str]] | None:
    """The declared fields of a resource's history, or None if it has none."""
    with engine().connect() as conn:
        fields = conn.execute(
            sa.select(schema_table.c.fields).where(schema_table.c.resource_id == resource_id)
        ).scalar()
    return fields


def arrow_schema(fields: list[dict]) -> pa.Schema:
    return pa.schema(
        [pa.field("feature", pa.string()), pa.field("time", pa.timestamp("us"))]
        + [pa.field(f["name"], ARROW_TYPES[f["type"]]) for f in fields]
    )


# --- values -------------------------------------------------------------------

def parse_time(value: Any) -> datetime.datetime:
    """A naive UTC datetime from a datetime or an ISO 8601 string (an offset
    is converted to UTC). Raises ValueError."""
    if isinstance(value, datetime.datetime):
        dt = value
    elif isinstance(value, datetime.date):
        dt = datetime.datetime(value.year, value.month, value.day)
    elif isinstance(value, str):
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        dt = datetime.datetime.fromisoformat(text)
    else:
        raise ValueError(f"not a time: {value!r}")
    if dt.tzinfo is not None:
        dt = dt.astimezone(datetime.timezone.utc).replace(tzinfo=None)
    return dt


def coerce(value: Any, type_: str) -> Any:
    """`value` as the declared type, as JSON can hold it; None when it cannot
    be read as that type."""
    if value is None or value == "":
        return None
    try:
        if type_ == "int":
            if isinstance(value, bool):
                return int(value)
            if isinstance(value, int):
                number = value
            else:
                number = float(value)
                if not math.isfinite(number) or number != int(number):
                    return None
                number = int(number)
            # Readers cast to bigint: a larger number is not an int of a history.
            return number if INT64_MIN <= number <= INT64_MAX else None
        if type_ == "float":
            number = float(value)
            return number if math.isfinite(number) else None
        if type_ == "bool":
            if isinstance(value, bool):
                return value
            if isinstance(value, (int, float)):
                return bool(value)
            text = str(value).strip().lower()
            if text in ("true", "t", "1", "yes", "y", "on"):
                return True
            if text in ("false", "f", "0", "no", "n", "off"):
                return False
            return None
        if type_ == "timestamp":
            return parse_time(value).isoformat()
        return str(value)
    except (TypeError, ValueError, OverflowError):
        return None


def _typed_values(values: dict, fields: list[dict] | None) -> dict:
    if fields is None:
        return {k: v for k, v in (values or {}).items() if isinstance(k, str)}
    values = values or {}
    return {f["name"]: coerce(values.get(f["name"]), f["type"]) for f in fields}


# --- partitions ---------------------------------------------------------------

def month_start(dt: datetime.datetime) -> datetime.datetime:
    return datetime.datetime(dt.year, dt.month, 1)


def next_month(dt: datetime.datetime) -> datetime.datetime:
    return datetime.datetime(dt.year + dt.month // 12, dt.month % 12 + 1, 1)


PARTITION_SCHEMA = "history_part"


def partition_name(month: datetime.datetime) -> str:
    return f"p{month.year:04d}{month.month:02d}"


def ensure_partitions(months: Iterable[datetime.datetime]) -> None:
    """Creates the monthly partitions that do not exist yet. Names and bounds
    come from integers (never from user text); concurrent creators are
    tolerated."""
    months = sorted(set(months))
    if not months:
        return
    with engine().connect() as conn:
        existing = set(
            conn.execute(
                sa.text(
                    "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                    "WHERE i.inhparent = 'history_row'::regclass"
                )
            ).scalars()
        )
    for month in months:
        name = partition_name(month)
        if name in existing:
            continue
        end = next_month(month)
        ddl = (
            f'CREATE TABLE IF NOT EXISTS {PARTITION_SCHEMA}.{name} PARTITION OF history_row '
            f"FOR VALUES FROM ('{month.year:04d}-{month.month:02d}-01') "
            f"TO ('{end.year:04d}-{end.month:02d}-01')"
        )
        try:
            with engine().begin() as conn:
                conn.execute(sa.text(f"CREATE SCHEMA IF NOT EXISTS {PARTITION_SCHEMA}"))
                conn.execute(sa.text(ddl))
        except sa.exc.DBAPIError as error:  # created meanwhile by another writer
            with engine().connect() as conn:
                qualified = f"{PARTITION_SCHEMA}.{name}"
                if conn.execute(sa.text("SELECT to_regclass(:n)"), {"n": qualified}).scalar() is None:
                    raise
            log.debug("partition %s created concurrently: %s", name, error)


def partitions() -> list[tuple[datetime.datetime, str]]:
    """(month, partition name) of every existing partition, oldest first."""
    with engine().connect() as conn:
        names = conn.execute(
            sa.text(
                "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                "WHERE i.inhparent = 'history_row'::regclass"
            )
        ).scalars().all()
    out = []
    for name in names:
        digits = name[1:]
        if len(digits) == 6 and digits.isdigit():
            out.append((datetime.datetime(int(digits[:4]), int(digits[4:]), 1), name))
    return sorted(out)


# --- writing -----------------------------------------------------------------

INSERT_SQL = (
    'INSERT INTO history_row (resource_id, feature, "time", "values") VALUES %s '
    "ON CONFLICT DO NOTHING RETURNING 1"
)


FEATURE_SQL = "INSERT INTO history_feature (resource_id, feature) VALUES %s ON CONFLICT DO NOTHING"


def register_features(resource_id: str, features: Iterable[str]) -> None:
    """Records features whose rows were written straight into the archive."""
    from psycopg2.extras import execute_values

    raw = engine().raw_connection()
    try:
        execute_values(raw.cursor(), FEATURE_SQL, sorted({(resource_id, str(f)) for f in features}),
                       page_size=2000)
        raw.commit()
    finally:
        raw.close()


def known_features(resource_id: str, features: Iterable[str]) -> set[str]:
    """Those of `features` that the resource's history holds."""
    with engine().connect() as conn:
        return set(conn.execute(
            sa.select(feature_table.c.feature).where(
                feature_table.c.resource_id == resource_id,
                feature_table.c.feature.in_(list(features)),
            )
        ).scalars())


def feature_count(resource_id: str) -> int:
    with engine().connect() as conn:
        return conn.execute(
            sa.select(sa.func.count()).select_from(feature_table)
            .where(feature_table.c.resource_id == resource_id)
        ).scalar()


def write_rows(resource_id: str, rows: list[dict], fields: list[dict] | None = None) -> int:
    """Stores rows `{"feature": str, "time": datetime (naive UTC) or ISO text,
    "values": {field: value}}` of a resource's history in one transaction and
    commits. A (resource, feature, time) already stored is skipped; values are
    coerced to the declared types (`ensure_schema`). Returns the number of
    rows newly stored."""
    from psycopg2.extras import Json, execute_values

    if not rows:
        return 0
    if fields is None:
        fields = get_schema(resource_id)
    batch, seen = [], set()
    for row in rows:
        feature = row.get("feature")
        if feature is None or feature == "":
            raise ValueError("a row without a feature id")
        time = parse_time(row["time"])
        if not EARLIEST_TIME <= time < LATEST_TIME:
            raise ValueError(f"a row's time out of the range of histories: {time.isoformat()}")
        key = (str(feature), time)
        if key in seen:
            continue
        seen.add(key)
        batch.append((resource_id, key[0], time, Json(_typed_values(row.get("values"), fields))))
    ensure_partitions(month_start(b[2]) for b in batch)
    raw = engine().raw_connection()
    try:
        cursor = raw.cursor()
        inserted = execute_values(cursor, INSERT_SQL, batch, page_size=2000, fetch=True)
        execute_values(cursor, FEATURE_SQL, sorted({(resource_id, b[1]) for b in batch}), page_size=2000)
        raw.commit()
        return len(inserted)
    except BaseException:
        raw.rollback()
        raise
    finally:
        raw.close()


def latest_rows(resource_id: str) -> dict[str, tuple[datetime.datetime, dict]]:
    """feature -> (time, values) of its latest row in the hot tier."""
    sql = sa.text(
        'SELECT DISTINCT ON (feature) feature, "time", "values" FROM history_row '
        'WHERE resource_id = :rid ORDER BY feature, "time" DESC'
    )
    with engine().connect() as conn:
        return {feature: (time, values)
                for feature, time, values in conn.execute(sql, {"rid": resource_id})}


def rows_in_force(resource_id: str, keys: Iterable[tuple[str, datetime.datetime]]) -> dict[tuple, tuple]:
    """(feature, time) -> (time, values) of the hot row in force at each of
    `keys`: the feature's latest row at or before that time."""
    keys = sorted(set(keys))
    if not keys:
        return {}
    sql = sa.text(
        'SELECT k.feature, k.t, h."time", h."values" '
        "FROM unnest(CAST(:features AS text[]), CAST(:times AS timestamp[])) AS k(feature, t) "
        'CROSS JOIN LATERAL (SELECT "time", "values" FROM history_row '
        'WHERE resource_id = :rid AND feature = k.feature AND "time" <= k.t '
        'ORDER BY "time" DESC LIMIT 1) h'
    )
    with engine().connect() as conn:
        found = conn.execute(sql, {"rid": resource_id, "features": [k[0] for k in keys],
                                   "times": [k[1] for k in keys]})
        return {(feature, key_time): (time, values) for feature, key_time, time, values in found}


def latest_values(resource_id: str) -> dict[str, dict]:
    """feature -> values of its latest row in the hot tier."""
    return {feature: values for feature, (_time, values) in latest_rows(resource_id).items()}


def delete_resource(resource_id: str) -> None:
    """Deletes a resource's hot tier: rows, declared fields, features (the
    archive's files go with archive.delete_resource)."""
    with engine().begin() as conn:
        conn.execute(sa.delete(row_table).where(row_table.c.resource_id == resource_id))
        conn.execute(sa.delete(schema_table).where(schema_table.c.resource_id == resource_id))
        conn.execute(sa.delete(feature_table).where(feature_table.c.resource_id == resource_id))


# --- reading -----------------------------------------------------------------

def hot_select_sql(fields: list[dict], with_features: bool | str) -> str:
    """The SELECT of hot rows as typed columns; field names are bound
    parameters (JSON keys) and output columns are positional aliases.
    `with_features`: the rows of the features `%(features)s` only, or,
    "one", of the feature `%(feature)s`."""
    columns = ", ".join(
        f"(\"values\"->>%(f{i})s)::{PG_CASTS[f['type']]} AS c{i}" for i, f in enumerate(fields)
    )
    sql = 'SELECT feature, "time"' + (", " + columns if columns else "")
    sql += ' FROM history_row WHERE resource_id = %(rid)s'
    sql += ' AND "time" >= %(start)s AND "time" < %(end)s'
    if with_features == "one":
        # One feature (a station's chart): the primary key (resource,
        # feature, time) of each partition serves the range in time order.
        sql += " AND feature = %(feature)s"
    elif with_features:
        sql += " AND feature = ANY(%(features)s)"
    return sql


def hot_batches(
    resource_id: str,
    fields: list[dict],
    start: datetime.datetime,
    end: datetime.datetime,
    features: list[str] | None = None,
    batch_rows: int = 50_000,
    after: tuple[datetime.datetime, str] | None = None,
    order: str = "",
    limit: int | None = None,
) -> Iterator[pa.RecordBatch]:
    """Hot rows of [start, end) as Arrow record batches (schema
    `arrow_schema(fields)`), read through a server-side cursor so memory stays
    bounded. `after` keeps rows after (time, feature); `order` is "time"
    (time, feature) or "feature" (feature, time); every value is bound."""
    schema = arrow_schema(fields)
    one = features is not None and len(features) == 1
    sql = hot_select_sql(fields, "one" if one else bool(features))
    bound: dict[str, Any] = {"rid": resource_id, "start": start, "end": end,
                             "features": list(features or []),
                             "feature": features[0] if one else None}
    bound.update({f"f{i}": f["name"] for i, f in enumerate(fields)})
    if after is not None:
        sql += ' AND ("time", feature) > (%(after_time)s, %(after_feature)s)'
        bound.update(after_time=after[0], after_feature=after[1])
    if order == "time":
        sql += ' ORDER BY "time"' if one else ' ORDER BY "time", feature'
    elif order == "feature":
        sql += ' ORDER BY feature, "time"'
    if limit is not None:
        sql += " LIMIT %(limit)s"
        bound["limit"] = int(limit)
    return pg_batches(sql, bound, schema, batch_rows)


# Rows fetched from PostgreSQL into Python by the readers of this module
# since the process started (tests check that an aggregate over hot rows
# fetches its buckets, not its rows).
FETCHED = {"rows": 0}


def pg_batches(sql: str, bound: dict, schema: pa.Schema, batch_rows: int = 50_000,
               server_side: bool = True) -> Iterator[pa.RecordBatch]:
    """The rows of a SELECT on the CKAN database (every value bound) as
    Arrow record batches of `schema` (its columns in order), read through a
    server-side cursor so memory stays bounded; `server_side=False` for a
    small answer (an aggregate), which PostgreSQL may then compute with
    parallel workers (it never does for a cursor)."""
    raw = engine().raw_connection()
    try:
        if server_side:
            cursor = raw.cursor(name=f"history_hot_{uuid.uuid4().hex[:12]}")
            cursor.itersize = batch_rows
        else:
            cursor = raw.cursor()
            # Room to group the buckets in memory (hash) rather than sort
            # the rows on disk.
            cursor.execute("SELECT set_config('work_mem', %(mem)s, true)",
                           {"mem": config.hot_aggregate_work_mem()})
        cursor.execute(sql, bound)
        while True:
            chunk = cursor.fetchmany(batch_rows)
            if not chunk:
                break
            FETCHED["rows"] += len(chunk)
            columns = list(zip(*chunk))
            yield pa.RecordBatch.from_arrays(
                [pa.array(col, type=schema.field(i).type) for i, col in enumerate(columns)],
                schema=schema,
            )
        cursor.close()
        raw.rollback()
    finally:
        raw.close()


def hot_range(resource_id: str, start: datetime.datetime, end: datetime.datetime) -> tuple:
    """(first, last) time of the hot rows in [start, end), (None, None) if none."""
    sql = sa.text(
        'SELECT min("time"), max("time") FROM history_row '
        'WHERE resource_id = :rid AND "time" >= :start AND "time" < :end'
    )
    with engine().connect() as conn:
        return tuple(conn.execute(sql, {"rid": resource_id, "start": start, "end": end}).one())


def hot_stats(resource_id: str) -> dict:
    """Rows, first and last time and months of the hot tier of a resource."""
    sql = sa.text(
        "SELECT date_trunc('month', \"time\") AS m, count(*), min(\"time\"), max(\"time\") "
        "FROM history_row WHERE resource_id = :rid GROUP BY 1 ORDER BY 1"
    )
    with engine().connect() as conn:
        rows = conn.execute(sql, {"rid": resource_id}).all()
    return {
        "rows": sum(r[1] for r in rows),
        "first": rows[0][2] if rows else None,
        "last": rows[-1][3] if rows else None,
        "months": [r[0] for r in rows],
        "per_month": {r[0]: r[1] for r in rows},
    }


def dumps(values: dict) -> str:
    return json.dumps(values, separators=(",", ":"), default=str)
