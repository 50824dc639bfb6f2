"""Reading import files a batch at a time, and remembering how far an
import went (`ckan history import`, see cli.py).

CSV (with a header) and JSON lines are read line by line from a binary file,
so the byte offset after each batch is known and a rerun seeks straight to
it; Parquet is read by record batches and resumed by row count. Whatever the
remembered position, rows stored twice are impossible: the store keeps one
row per (resource, feature, time).

Every row is checked before anything of its batch is stored (`check_rows`):
a row without a feature, with a time that is not one (or before 1900, or
more than a day ahead), or with a value its declared type cannot hold is
refused and counted by reason, never stored with NULL in place of the value.
A file lacking a declared column is refused whole. A row whose (feature,
time) the archive holds already is skipped like one the hot tier holds.
"""

from __future__ import annotations

import codecs
import csv
import datetime
import hashlib
import json
import os
from collections.abc import Iterator

import click
import pyarrow.parquet as pq
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert


from ckanext.grandlyon_access.shared import is_storable_text

from . import archive, ingest, store
from .model import import_table

# Times an import accepts: none before EARLIEST, none more than FUTURE_TOLERANCE
# after the import runs (a clock or a format gone wrong, not a measurement).
EARLIEST = store.EARLIEST_TIME
FUTURE_TOLERANCE = ingest.FUTURE_TOLERANCE

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


def columns(path: str, fmt: str) -> list[str] | None:
    """The columns a file declares (CSV header, Parquet schema); None for
    JSON lines, whose rows each say their own."""
    if fmt == "csv":
        with open(path, "rb") as handle:
            line = codecs.decode(handle.readline(), "utf-8-sig", errors="replace")
        return next(csv.reader([line]), [])
    if fmt == "parquet":
        return list(pq.ParquetFile(path).schema_arrow.names)
    return None


class Refusals:
    """Rows refused, by reason: how many, and the first one's row number and
    what was wrong with it."""

    MESSAGES = {
        "no_feature": "no feature id in {field}",
        "bad_time": "{field} is not a time ({value})",
        "early_time": "{field} is before 1900 ({value})",
        "future_time": "{field} is more than a day ahead ({value})",
        "missing_field": "no {field} in the row",
        "bad_value": "{field} is not of type {type} ({value})",
        "duplicate": "sent more than once for the same feature and time with other values",
    }

    def __init__(self) -> None:
        self.counts: dict[tuple, int] = {}
        self.first: dict[tuple, tuple[int, dict]] = {}

    def add(self, reason: str, number: int, **detail) -> None:
        key = (reason, detail.get("field"))
        self.counts[key] = self.counts.get(key, 0) + 1
        self.first.setdefault(key, (number, detail))

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def lines(self) -> list[str]:
        out = []
        order = sorted(self.counts.items(), key=lambda item: (-item[1], self.first[item[0]][0]))
        for key, count in order:
            number, detail = self.first[key]
            what = self.MESSAGES[key[0]].format(**detail)
            out.append(f"{count} rows refused: {what}, first at row {number}")
        return out


def _time(value) -> datetime.datetime:
    if isinstance(value, (datetime.datetime, datetime.date)):
        return store.parse_time(value)
    return ingest.parse_time(value)


def check_rows(rows: list[dict], first_number: int, fields: list[dict], feature_field: str,
               time_field: str, now: datetime.datetime, refusals: Refusals) -> list[dict]:
    """The rows of a batch that can be stored, as write_rows takes them; the
    others are counted in `refusals` (`first_number` is the number of the
    batch's first row in its file, from 1)."""
    latest = now + FUTURE_TOLERANCE
    out = []
    for number, row in enumerate(rows, first_number):
        raw_feature = row.get(feature_field)
        feature = "" if raw_feature is None or isinstance(raw_feature, (dict, list)) \
            else str(raw_feature).strip()
        if not feature or len(feature) > ingest.MAX_ID_LENGTH or not is_storable_text(feature):
            refusals.add("no_feature", number, field=feature_field)
            continue
        raw_time = row.get(time_field)
        try:
            when = _time(raw_time)
        except (TypeError, ValueError, OverflowError, OSError):
            refusals.add("bad_time", number, field=time_field, value=_shown(raw_time))
            continue
        if when < EARLIEST:
            refusals.add("early_time", number, field=time_field, value=_shown(raw_time))
            continue
        if when > latest:
            refusals.add("future_time", number, field=time_field, value=_shown(raw_time))
            continue
        values, refused = {}, False
        for f in fields:
            name = f["name"]
            if name not in row:
                refusals.add("missing_field", number, field=name)
                refused = True
                break
            raw = row[name]
            if ingest.is_blank(raw):
                values[name] = None
                continue
            readable, value = ingest.value_of(raw, f["type"])
            if not readable:
                refusals.add("bad_value", number, field=name, type=f["type"], value=_shown(raw))
                refused = True
                break
            values[name] = value
        if not refused:
            out.append({"feature": feature, "time": when, "values": values, "number": number})
    return _without_conflicts(out, refusals)


def _without_conflicts(rows: list[dict], refusals: Refusals) -> list[dict]:
    """The rows, once each (feature, time); a (feature, time) given again
    with other values is refused for every row that gives it (which one is
    right cannot be told), as the ingest worker does."""
    by_key: dict[tuple, list[dict]] = {}
    for row in rows:
        by_key.setdefault((row["feature"], row["time"]), []).append(row)
    out = []
    for versions in by_key.values():
        if any(v["values"] != versions[0]["values"] for v in versions[1:]):
            for version in versions:
                refusals.add("duplicate", version["number"])
            continue
        out.append(versions[0])
    for row in out:
        row.pop("number", None)
    return out


def _shown(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def not_archived(resource_id: str, rows: list[dict]) -> list[dict]:
    """The rows whose (feature, time) no archived month holds."""
    by_month: dict[tuple[int, int], list[dict]] = {}
    for row in rows:
        by_month.setdefault((row["time"].year, row["time"].month), []).append(row)
    archived = {(m.year, m.month): m for m in archive.month_files(resource_id)}
    if not archived or not set(by_month) & set(archived):
        return rows
    fs, _base = archive.filesystem()
    out = []
    for key, month_rows in by_month.items():
        if key not in archived:
            out.extend(month_rows)
            continue
        times = [r["time"] for r in month_rows]
        filters = [("time", ">=", min(times)), ("time", "<=", max(times)),
                   ("feature", "in", sorted({r["feature"] for r in month_rows}))]
        with fs.open_input_file(archived[key].path) as handle:
            table = pq.read_table(handle, columns=["feature", "time"], filters=filters)
        held = set(zip(table.column("feature").to_pylist(), table.column("time").to_pylist()))
        out.extend(r for r in month_rows if (r["feature"], r["time"]) not in held)
    return out
