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
import logging
import os
import posixpath
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from . import config

log = logging.getLogger(__name__)

FILE_NAME = "data.parquet"
ROW_GROUP_ROWS = 1_000_000


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
        out.append(MonthFile(year, month, info.path, info.size, rows))
    return sorted(out, key=lambda m: (m.year, m.month))


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
