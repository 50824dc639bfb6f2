"""Reading import files a batch at a time, and remembering how far an
import went (`ckan history import`, see cli.py).

CSV (with a header) and JSON lines are read line by line from a binary file,
so the byte offset after each batch is known and a rerun seeks straight to
it; Parquet is read by record batches and resumed by row count. Whatever the
remembered position, rows stored twice are impossible: the store keeps one
row per (resource, feature, time).
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import json
import os
from collections.abc import Iterator

import click
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert

import ckan.plugins.toolkit as tk

from . import store

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


def guess_format(path: str) -> str:
    name = path.lower()
    for suffix in (".gz", ".zst"):
        if name.endswith(suffix):
            raise click.ClickException(f"{path}: decompress the file first")
    if name.endswith((".csv", ".txt")):
        return "csv"
    if name.endswith((".jsonl", ".ndjson", ".json")):
        return "jsonl"
    if name.endswith((".parquet", ".pq")):
        return "parquet"
    raise click.ClickException(f"{path}: unknown format, give --format csv, jsonl or parquet")


def file_key(resource_id: str, path: str) -> str:
    stat = os.stat(path)
    raw = f"{resource_id}\0{os.path.abspath(path)}\0{stat.st_size}\0{stat.st_mtime_ns}"
    return hashlib.sha256(raw.encode()).hexdigest()


def progress(key: str) -> dict | None:
    with store.engine().connect() as conn:
        row = conn.execute(sa.select(import_table).where(import_table.c.key == key)).mappings().first()
    return dict(row) if row else None


def save_progress(key: str, resource_id: str, path: str, offset: int, rows: int, finished: bool) -> None:
    values = {"key": key, "resource_id": resource_id, "path": os.path.abspath(path), "offset": offset,
              "rows": rows, "finished": finished, "modified": store.utcnow()}
    stmt = insert(import_table).values(**values)
    stmt = stmt.on_conflict_do_update(index_elements=[import_table.c.key],
                                      set_={k: stmt.excluded[k] for k in values if k != "key"})
    with store.engine().begin() as conn:
        conn.execute(stmt)


def parquet_rows(path: str) -> int:
    import pyarrow.parquet as pq

    return pq.ParquetFile(path).metadata.num_rows


def read_batches(path: str, fmt: str, batch_rows: int, offset: int = 0,
                 rows_done: int = 0) -> Iterator[tuple[list[dict], int]]:
    """(rows, position after them) a batch at a time, from `offset` (bytes;
    rows for Parquet)."""
    if fmt == "parquet":
        yield from _parquet(path, batch_rows, rows_done)
    elif fmt == "csv":
        yield from _csv(path, batch_rows, offset)
    elif fmt == "jsonl":
        yield from _jsonl(path, batch_rows, offset)
    else:
        raise click.ClickException(f"unknown format {fmt}")


def _parquet(path: str, batch_rows: int, rows_done: int):
    import pyarrow.parquet as pq

    seen = 0
    for batch in pq.ParquetFile(path).iter_batches(batch_size=batch_rows):
        if seen + batch.num_rows <= rows_done:
            seen += batch.num_rows
            continue
        if seen < rows_done:
            batch = batch.slice(rows_done - seen)
            seen = rows_done
        seen += batch.num_rows
        yield batch.to_pylist(), seen


def _lines(handle, decoder) -> Iterator[str]:
    for raw in handle:
        yield decoder.decode(raw)


def _csv(path: str, batch_rows: int, offset: int):
    with open(path, "rb") as handle:
        header_line = handle.readline()
        header = next(csv.reader([codecs.decode(header_line, "utf-8-sig")]))
        if offset > handle.tell():
            handle.seek(offset)
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        reader = csv.reader(_lines(handle, decoder))
        batch: list[dict] = []
        for record in reader:
            if not record:
                continue
            batch.append(dict(zip(header, record)))
            if len(batch) >= batch_rows:
                yield batch, handle.tell()
                batch = []
        if batch:
            yield batch, handle.tell()


def _jsonl(path: str, batch_rows: int, offset: int):
    with open(path, "rb") as handle:
        handle.seek(offset)
        batch: list[dict] = []
        for number, raw in enumerate(handle):
            text = raw.decode("utf-8", errors="replace").strip()
            if not text or text in ("[", "]"):
                continue
            try:
                record = json.loads(text.rstrip(","))
            except ValueError:
                raise click.ClickException(f"{path}: line {number + 1} (after byte {offset}) is not JSON") from None
            if isinstance(record, dict):
                batch.append(record)
            if len(batch) >= batch_rows:
                yield batch, handle.tell()
                batch = []
        if batch:
            yield batch, handle.tell()
