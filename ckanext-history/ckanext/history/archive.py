"""The cold tier of histories: Parquet files, one per resource and month.

Layout under `ckanext.history.archive.path`:
`<archive>/resource=<id>/year=YYYY/month=MM/data.parquet`, rows sorted by
(feature, time), zstd, the timestamp column DELTA_BINARY_PACKED without
dictionary (sorted minute data then takes about half a byte a row).

The archive path is a local folder or an `s3://bucket/prefix` URL, opened with
pyarrow's filesystems (S3FileSystem reads credentials from the usual AWS
environment): the scale-out path, since every worker and any engine that reads
Parquet (DuckDB, Trino, Spark, ClickHouse) reads the same layout. A month's
file is replaced atomically: written to a temporary name in the same folder,
then renamed over the old one (on S3 an object PUT is atomic already).

Compaction (`compact`) moves rows older than the hot retention from
PostgreSQL into these files. It merges the month's archived rows with the new
ones (deduplicated by (feature, time), the archived row winning), replaces
the file, and only then deletes the hot rows it read, in the same REPEATABLE
READ transaction that read them (rows written meanwhile are not deleted). A
crash between the rename and the delete leaves the rows in both tiers:
queries ignore a hot row already archived, and the next compaction deletes it.
"""

from __future__ import annotations

import datetime
import functools
import logging
import os
import posixpath
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import ckan.model as model
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import sqlalchemy as sa

from . import config, duck, store
from .model import Feed

log = logging.getLogger(__name__)

FILE_NAME = "data.parquet"
# Rows per row group: with rows sorted by (feature, time), a group holds a
# few features' month, so a one-feature query reads little more than its rows
# (DuckDB skips groups by their feature statistics).
ROW_GROUP_ROWS = 131_072


def filesystem() -> tuple[pafs.FileSystem, str]:
    """(pyarrow filesystem, base path inside it) of the archive."""
    path = config.archive_path()
    if not path:
        raise RuntimeError("ckanext.history.archive.path (or ckan.storage_path) must be set")
    if "://" in path:
        fs, base = pafs.FileSystem.from_uri(path)
        return fs, base.rstrip("/")
    return pafs.LocalFileSystem(), os.path.abspath(path)


def is_local() -> bool:
    return isinstance(filesystem()[0], pafs.LocalFileSystem)


def resource_dir(resource_id: str) -> str:
    _fs, base = filesystem()
    return posixpath.join(base, f"resource={_safe(resource_id)}")


def month_path(resource_id: str, year: int, month: int) -> str:
    return posixpath.join(resource_dir(resource_id), f"year={year:04d}", f"month={month:02d}", FILE_NAME)


def _safe(resource_id: str) -> str:
    if not resource_id or "/" in resource_id or "\\" in resource_id or resource_id in (".", ".."):
        raise ValueError("invalid resource id")
    return resource_id


@dataclass(frozen=True)
class MonthFile:
    year: int
    month: int
    path: str
    size: int
    rows: int | None = None
    mtime: datetime.datetime | None = None

    @property
    def start(self) -> datetime.datetime:
        return datetime.datetime(self.year, self.month, 1)

    @property
    def label(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"


def month_files(resource_id: str, with_rows: bool = False) -> list[MonthFile]:
    """The archived months of a resource, oldest first."""
    fs, _base = filesystem()
    root = resource_dir(resource_id)
    try:
        infos = fs.get_file_info(pafs.FileSelector(root, recursive=True, allow_not_found=True))
    except (FileNotFoundError, OSError):
        return []
    out = []
    for info in infos:
        if info.type != pafs.FileType.File or posixpath.basename(info.path) != FILE_NAME:
            continue
        parts = info.path[len(root):].strip("/").split("/")
        try:
            year = int(parts[0].split("=", 1)[1])
            month = int(parts[1].split("=", 1)[1])
        except (IndexError, ValueError):
            continue
        rows = None
        if with_rows:
            with fs.open_input_file(info.path) as handle:
                rows = pq.ParquetFile(handle).metadata.num_rows
        out.append(MonthFile(year, month, info.path, info.size, rows, info.mtime))
    return sorted(out, key=lambda m: (m.year, m.month))


def time_bounds(path: str) -> tuple:
    """(first, last) time of a month file, from its row-group statistics."""
    fs, _base = filesystem()
    with fs.open_input_file(path) as handle:
        meta = pq.ParquetFile(handle).metadata
    index = meta.schema.to_arrow_schema().get_field_index("time")
    lows, highs = [], []
    for i in range(meta.num_row_groups):
        stats = meta.row_group(i).column(index).statistics
        if stats is not None and stats.has_min_max:
            lows.append(stats.min)
            highs.append(stats.max)
    return (min(lows), max(highs)) if lows else (None, None)


def files_between(resource_id: str, start: datetime.datetime, end: datetime.datetime) -> list[MonthFile]:
    """Archived months overlapping [start, end)."""
    first = datetime.datetime(start.year, start.month, 1)
    return [m for m in month_files(resource_id) if first <= m.start < end]


def read_month(resource_id: str, year: int, month: int) -> pa.Table | None:
    fs, _base = filesystem()
    path = month_path(resource_id, year, month)
    if fs.get_file_info(path).type != pafs.FileType.File:
        return None
    with fs.open_input_file(path) as handle:
        return pq.read_table(handle)


def write_options(schema: pa.Schema) -> dict:
    """ParquetWriter options of the archive: zstd, dictionary for every
    column but the time, whose sorted values are DELTA_BINARY_PACKED."""
    return {
        "compression": "zstd",
        "compression_level": 9,
        "use_dictionary": [n for n in schema.names if n != "time"],
        "column_encoding": {"time": "DELTA_BINARY_PACKED"},
        "write_statistics": True,
    }


def sort_dedupe(table: pa.Table) -> pa.Table:
    """Rows sorted by (feature, time), keeping the first of each (feature,
    time) in the table's order (callers put archived rows first)."""
    if table.num_rows == 0:
        return table
    table = table.append_column("__order", pa.array(range(table.num_rows), type=pa.int64()))
    table = table.sort_by([("feature", "ascending"), ("time", "ascending"), ("__order", "ascending")])
    feature, time = table.column("feature"), table.column("time")
    if table.num_rows > 1:
        same = pc.and_(
            pc.equal(feature.slice(1), feature.slice(0, table.num_rows - 1)),
            pc.equal(time.slice(1), time.slice(0, table.num_rows - 1)),
        )
        keep = pa.concat_arrays([pa.array([True]), pc.invert(same.combine_chunks())])
        table = table.filter(keep)
    return table.drop_columns(["__order"])


def conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """`table` with exactly the columns of `schema` (missing ones null),
    cast to its types."""
    columns = []
    for field in schema:
        if field.name in table.column_names:
            columns.append(table.column(field.name).cast(field.type))
        else:
            columns.append(pa.nulls(table.num_rows, type=field.type))
    return pa.Table.from_arrays(columns, schema=schema)


def write_month(resource_id: str, year: int, month: int, table: pa.Table) -> str:
    """Replaces the month's file with `table` (already sorted), atomically."""
    fs, _base = filesystem()
    path = month_path(resource_id, year, month)
    folder = posixpath.dirname(path)
    fs.create_dir(folder, recursive=True)
    local = isinstance(fs, pafs.LocalFileSystem)
    target = posixpath.join(folder, f".tmp-{uuid.uuid4().hex}.parquet") if local else path
    try:
        with fs.open_output_stream(target) as sink:
            with pq.ParquetWriter(sink, table.schema, **write_options(table.schema)) as writer:
                writer.write_table(table, row_group_size=ROW_GROUP_ROWS)
        if local:
            os.replace(target, path)
    except BaseException:
        if local and os.path.exists(target):
            os.unlink(target)
        raise
    return path


def delete_resource(resource_id: str) -> None:
    try:
        fs, _base = filesystem()
        fs.delete_dir(resource_dir(resource_id))
    except (FileNotFoundError, RuntimeError):
        pass
    except OSError as error:
        if "not found" not in str(error).lower() and "does not exist" not in str(error).lower():
            raise


def iter_month_batches(resource_id: str, year: int, month: int, batch_rows: int = 65_536) -> Iterator[pa.RecordBatch]:
    fs, _base = filesystem()
    with fs.open_input_file(month_path(resource_id, year, month)) as handle:
        yield from pq.ParquetFile(handle).iter_batches(batch_size=batch_rows)


# --- reading months into DuckDB ---------------------------------------------------

def archive_select(con, files: list[MonthFile], schema: pa.Schema, params: dict, name: str = "files") -> str:
    """A DuckDB relation (SQL) of the rows of `files` with exactly the
    columns of `schema` (a column missing from every file is NULL). Local
    files are read by DuckDB's read_parquet (their paths bound as `$<name>`);
    other filesystems through a pyarrow dataset registered in `con`."""
    fs, _base = filesystem()
    if not isinstance(fs, pafs.LocalFileSystem):
        dataset = pads_dataset([f.path for f in files], fs, schema)
        con.register(f"{name}_dataset", dataset)
        return f"{name}_dataset"
    present: set[str] = set()
    for f in files:
        present.update(_column_names(f.path, f.size, f.mtime))
    params[name] = [f.path for f in files]
    columns = []
    for field in schema:
        quoted = '"' + field.name.replace('"', '""') + '"'
        duck = duck_type(field.type)
        columns.append(f"CAST({quoted} AS {duck}) AS {quoted}" if field.name in present
                       else f"CAST(NULL AS {duck}) AS {quoted}")
    return f"(SELECT {', '.join(columns)} FROM read_parquet(${name}, union_by_name = true))"


@functools.lru_cache(maxsize=4096)
def _column_names(path: str, size: int, mtime) -> tuple[str, ...]:
    """Column names of a month file (cached while the file is unchanged)."""
    return tuple(pq.read_schema(path).names)


def pads_dataset(paths: list[str], fs, schema: pa.Schema):
    import pyarrow.dataset as pads

    return pads.dataset(paths, filesystem=fs, format="parquet", schema=schema)


def duck_type(arrow_type: pa.DataType) -> str:
    """The DuckDB type of an Arrow column."""
    if pa.types.is_int64(arrow_type):
        return "BIGINT"
    if pa.types.is_float64(arrow_type):
        return "DOUBLE"
    if pa.types.is_boolean(arrow_type):
        return "BOOLEAN"
    if pa.types.is_timestamp(arrow_type):
        return "TIMESTAMP"
    return "VARCHAR"


# --- writing months from a sorted stream ---------------------------------------------

def write_month_stream(resource_id: str, year: int, month: int, schema: pa.Schema,
                       batches) -> tuple[str, int]:
    """Replaces the month's file with the (sorted) record batches, streamed
    into a ParquetWriter: memory holds one batch. Atomic: temporary name,
    then rename (local); one PUT (object stores). Returns (path, rows)."""
    fs, _base = filesystem()
    path = month_path(resource_id, year, month)
    folder = posixpath.dirname(path)
    fs.create_dir(folder, recursive=True)
    local = isinstance(fs, pafs.LocalFileSystem)
    target = posixpath.join(folder, f".tmp-{uuid.uuid4().hex}.parquet") if local else path
    rows = 0
    try:
        with fs.open_output_stream(target) as sink:
            with pq.ParquetWriter(sink, schema, **write_options(schema)) as writer:
                for batch in batches:
                    if batch.num_rows:
                        writer.write_batch(batch.cast(schema) if batch.schema != schema else batch)
                        rows += batch.num_rows
        if local:
            os.replace(target, path)
    except BaseException:
        if local and os.path.exists(target):
            os.unlink(target)
        raise
    return path, rows


# --- a month in the archive's layout --------------------------------------------------

def merged_month(con, resource_id: str, month: datetime.datetime, schema: pa.Schema,
                 hot_reader: pa.RecordBatchReader) -> pa.RecordBatchReader:
    """The rows of a month as its archive file holds them: the archived rows
    and `hot_reader`'s (deduplicated by (feature, time), the archived row
    winning), with exactly the columns of `schema` in its order, sorted by
    (feature, time). What compaction writes, and what a monthly download
    serves before the month is archived: the same file either way."""
    params: dict = {}
    existing = [m for m in month_files(resource_id)
                if (m.year, m.month) == (month.year, month.month)]
    con.register("hot_rows", hot_reader)
    cols = ", ".join('"' + n.replace('"', '""') + '"' for n in schema.names)
    parts = [f"SELECT {cols}, 1 AS tier FROM hot_rows"]
    if existing:
        archived = archive_select(con, existing, schema, params)
        parts.insert(0, f"SELECT {cols}, 0 AS tier FROM {archived}")
    sql = (f"SELECT DISTINCT ON (feature, time) {cols} FROM ({' UNION ALL '.join(parts)}) "
           "ORDER BY feature, time, tier")
    return con.execute(sql, params).fetch_record_batch(ROW_GROUP_ROWS)


def month_batches(resource_id: str, month: datetime.datetime, end: datetime.datetime,
                  fields: list[dict]) -> Iterator[pa.RecordBatch]:
    """The record batches of a month (both tiers) in the archive's layout
    (`merged_month`); `end` is the month's end."""
    schema = store.arrow_schema(fields)
    hot = pa.RecordBatchReader.from_batches(
        schema, store.hot_batches(resource_id, fields, month, end))
    con = duck.connect()
    try:
        for batch in merged_month(con, resource_id, month, schema, hot):
            if batch.num_rows:
                yield batch
    finally:
        con.close()


def file_schema(path: str) -> pa.Schema:
    """The Arrow schema of an archive file."""
    fs, _base = filesystem()
    with fs.open_input_file(path) as handle:
        return pq.read_schema(handle)


# --- compaction ------------------------------------------------------------------

def retention_days(resource_id: str) -> int:
    """The feed's hot retention, else ckanext.history.hot_retention_days."""
    days = (model.Session.query(Feed.hot_retention_days)
            .filter(Feed.resource_id == resource_id).scalar())
    model.Session.remove()
    return int(days) if days else config.hot_retention_days()


def _remove_stale_temporaries(resource_id: str, month: datetime.datetime) -> None:
    """Temporary files of a compaction killed before its cleanup (SIGKILL,
    power loss). Called under the resource's compaction lock, so no other
    compaction is writing them; queries never read them."""
    fs, _base = filesystem()
    if not isinstance(fs, pafs.LocalFileSystem):
        return  # object stores have no temporary names (one PUT per file)
    folder = posixpath.dirname(month_path(resource_id, month.year, month.month))
    if os.path.isdir(folder):
        for name in os.listdir(folder):
            if name.startswith(".tmp-"):
                os.unlink(os.path.join(folder, name))


def compact(resource_id: str, now: datetime.datetime | None = None,
            retention: int | None = None, crash_after_write: bool = False) -> dict:
    """Moves the resource's hot rows older than its retention into the
    archive, month by month; returns {"months": [...], "rows": n}.

    Each month runs in one REPEATABLE READ transaction holding an advisory
    lock on the resource: read the hot rows (older than the cutoff), merge
    them with the archived month in DuckDB (dedupe by (feature, time), the
    archived row first; sorted by (feature, time); spilling to disk past the
    memory limit), stream the result into a new file that replaces the old
    one, and only then delete the hot rows that were read. `crash_after_write`
    (tests) stops after the file is in place, as a crash would."""
    fields = store.get_schema(resource_id)
    if fields is None:
        return {"months": [], "rows": 0}
    now = now or store.utcnow()
    days = retention if retention is not None else retention_days(resource_id)
    cutoff = now - datetime.timedelta(days=days)
    schema = store.arrow_schema(fields)
    months_sql = (
        "SELECT DISTINCT date_trunc('month', \"time\") FROM history_row "
        "WHERE resource_id = %(rid)s AND \"time\" < %(cutoff)s ORDER BY 1"
    )
    raw = store.engine().raw_connection()
    done, moved = [], 0
    try:
        cur = raw.cursor()
        cur.execute(months_sql, {"rid": resource_id, "cutoff": cutoff})
        months = [m for (m,) in cur.fetchall()]
        raw.rollback()
        for month in months:
            upper = min(store.next_month(month), cutoff)
            raw.set_session(isolation_level="REPEATABLE READ")
            cur = raw.cursor()
            cur.execute("SELECT pg_advisory_xact_lock(hashtext(%(key)s))",
                        {"key": f"history_compact:{resource_id}"})
            _remove_stale_temporaries(resource_id, month)
            hot_sql = store.hot_select_sql(fields, False)
            bound = {"rid": resource_id, "start": month, "end": upper}
            bound.update({f"f{i}": f["name"] for i, f in enumerate(fields)})
            reader = pa.RecordBatchReader.from_batches(schema, _cursor_batches(raw, hot_sql, bound, schema))
            con = duck.connect()
            try:
                out = merged_month(con, resource_id, month, schema, reader)
                _path, rows = write_month_stream(resource_id, month.year, month.month, schema, out)
            finally:
                con.close()
            if crash_after_write:
                raw.rollback()
                return {"months": done + [f"{month:%Y-%m}"], "rows": moved, "crashed": True}
            cur = raw.cursor()
            cur.execute('DELETE FROM history_row WHERE resource_id = %(rid)s AND "time" >= %(start)s '
                        'AND "time" < %(end)s', {"rid": resource_id, "start": month, "end": upper})
            moved += cur.rowcount
            raw.commit()
            done.append(f"{month:%Y-%m}")
            log.info("history %s: %s archived (%d rows in the file, %d hot rows moved)",
                     resource_id, f"{month:%Y-%m}", rows, cur.rowcount)
    finally:
        raw.rollback()
        raw.close()
    drop_empty_partitions(cutoff)
    return {"months": done, "rows": moved}


def _cursor_batches(raw, sql: str, bound: dict, schema: pa.Schema, batch_rows: int = 100_000):
    cursor = raw.cursor(name=f"history_compact_{uuid.uuid4().hex[:12]}")
    cursor.itersize = batch_rows
    cursor.execute(sql, bound)
    while True:
        chunk = cursor.fetchmany(batch_rows)
        if not chunk:
            break
        columns = list(zip(*chunk))
        yield pa.RecordBatch.from_arrays(
            [pa.array(col, type=schema.field(i).type) for i, col in enumerate(columns)], schema=schema)
    cursor.close()


def drop_empty_partitions(cutoff: datetime.datetime) -> list[str]:
    """Drops the monthly partitions that ended before `cutoff` and hold no
    row any more (of any resource); a busy table is left for next time."""
    dropped = []
    for month, name in store.partitions():
        if store.next_month(month) > cutoff:
            continue
        qualified = f"{store.PARTITION_SCHEMA}.{name}"
        try:
            with store.engine().begin() as conn:
                conn.execute(sa.text("SET LOCAL lock_timeout = '2s'"))
                if conn.execute(sa.text(f"SELECT EXISTS (SELECT 1 FROM {qualified})")).scalar():
                    continue
                conn.execute(sa.text(f"DROP TABLE {qualified}"))
                dropped.append(name)
        except sa.exc.DBAPIError as error:
            log.info("partition %s not dropped: %s", qualified, error)
    return dropped


def compact_all(resource_id: str | None = None, now: datetime.datetime | None = None) -> dict:
    """Compacts one resource or every resource with a history."""
    if resource_id:
        ids = [resource_id]
    else:
        with store.engine().connect() as conn:
            ids = list(conn.execute(sa.select(store.schema_table.c.resource_id)).scalars())
    return {rid: compact(rid, now=now) for rid in ids}
