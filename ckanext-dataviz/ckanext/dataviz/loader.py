"""Loads a resource's uploaded CSV file into the DataStore, so that charts
and maps can read it.

When a resource is created with an uploaded CSV file, or its upload is
replaced (plugin.py's IResourceController hooks call `enqueue_if_needed`; a
`package_update` carrying uploads calls `enqueue_for_dataset`), a background
job (`ckan jobs worker`) runs `load_resource`:

1. reads the file from CKAN's local storage, finds its encoding (UTF-8, UTF-8
   with a byte order mark, else Windows-1252 / Latin-1) and its separator
   (comma, semicolon, tab or vertical bar);
2. reads it once whole: every line must have as many values as the header,
   and each column gets the narrowest type its values allow (integer,
   numeric, timestamp, else text);
3. replaces the resource's DataStore table: `datastore_delete`, then
   `datastore_create` with the fields, then the rows in batches
   (`datastore_upsert`); a re-upload replaces the table, never adds to it.

Nothing is written to the DataStore before the whole file has been read
without fault: a bad file (not CSV, empty, a line with too many or too few
values) removes the previous table and records why, never a half table. A
resource whose upload is replaced by a link loses the table made from the
file. The
outcome is kept in `dataviz_datastore_load` and shown to the dataset's
editors on the resource page (`status_message`), translated when shown.

The job runs as the site user: it writes only the resource's own DataStore
table, whose reading the access policy already governs, and records no value
of the file (only counts, line numbers and the encoding).
"""

from __future__ import annotations

import codecs
import csv
import datetime
import itertools
import logging
import os
import re
from collections.abc import Iterator
from typing import Any

import ckan.plugins.toolkit as tk
from ckan import model
from ckan.lib import uploader
from ckanext.dataviz import config
from ckanext.dataviz.model import DatavizDatastoreLoad, utcnow

log = logging.getLogger(__name__)

DELIMITERS = (",", ";", "\t", "|")
SNIFF_LINES = 50
FIELD_NAME_MAX = 63  # PostgreSQL's identifier length

INTEGER = re.compile(r"^[+-]?\d+$")
DECIMAL_POINT = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
DECIMAL_COMMA = re.compile(r"^[+-]?\d+,\d+$")
TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}"
                       r"([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}(:?\d{2})?)?)?$")
INT8_MAX = 2 ** 63 - 1

# The narrowest DataStore type of a column, widened as values come.
TYPE_ORDER = ("int8", "numeric", "timestamp", "text")


class LoadError(Exception):
    """A file that cannot be loaded: a reason code and its parameters
    (turned into a message in the reader's language by `failure_message`)."""

    def __init__(self, code: str, **params: Any) -> None:
        super().__init__(code, params)
        self.code = code
        self.params = params


# --- which resources -----------------------------------------------------------------

def is_uploaded_csv(resource: dict[str, Any]) -> bool:
    """An uploaded file (not a link) whose format is CSV or name ends in .csv."""
    if resource.get("url_type") != "upload":
        return False
    fmt = (resource.get("format") or "").strip().lower().lstrip(".")
    url = (resource.get("url") or "").split("?", 1)[0].lower()
    return fmt == "csv" or url.endswith(".csv")


def enqueue_if_needed(resource: dict[str, Any]) -> bool:
    """Queues the load of an uploaded CSV file unless this upload (its
    `last_modified`) was already queued; True when a job was queued. A
    resource that is no longer an uploaded CSV file (now a link, or another
    format) loses the table loaded from its former file."""
    if not config.loader_enabled():
        return False
    if not is_uploaded_csv(resource):
        unload_if_loaded(resource["id"])
        return False
    source = str(resource.get("last_modified") or resource.get("created") or "")
    record = model.Session.get(DatavizDatastoreLoad, resource["id"])
    if record is not None and record.source_modified == source:
        return False
    _record(resource["id"], "pending", source_modified=source)
    tk.enqueue_job(load_resource, [resource["id"]],
                   title=f"dataviz: load {resource['id']} into the DataStore",
                   rq_kwargs={"timeout": config.loader_timeout()})
    return True


def enqueue_for_dataset(package_id: str) -> None:
    """After a committing package_update (resource_update ends in one; API
    clients may send files in it): each resource as stored, so that a
    resource the update did not touch is not loaded again. One query for the
    load records; nothing more for a dataset with no uploaded CSV file and
    no loaded table."""
    package = model.Package.get(package_id)
    if not config.loader_enabled() or package is None or not package.resources:
        return
    resources = [{
        "id": resource.id, "url_type": resource.url_type, "format": resource.format,
        "url": resource.url,
        "last_modified": resource.last_modified.isoformat() if resource.last_modified else None,
        "created": resource.created.isoformat() if resource.created else None}
        for resource in package.resources]
    # Kept in the session's identity map for enqueue_if_needed's lookups.
    loaded = {record.resource_id: record for record in model.Session.query(DatavizDatastoreLoad)
              .filter(DatavizDatastoreLoad.resource_id.in_([r["id"] for r in resources]))}
    for resource in resources:
        if is_uploaded_csv(resource) or resource["id"] in loaded:
            enqueue_if_needed(resource)


def unload_if_loaded(resource_id: str) -> None:
    """Drops the table this loader made for the resource, if it made one
    (a table written through the DataStore API alone has no load record and
    is kept)."""
    if model.Session.get(DatavizDatastoreLoad, resource_id) is None:
        return
    _drop_table(_site_context(), resource_id)
    forget(resource_id)


def forget(resource_id: str, commit: bool = True) -> None:
    """Drops the load record of a deleted resource."""
    model.Session.query(DatavizDatastoreLoad).filter(
        DatavizDatastoreLoad.resource_id == resource_id).delete()
    if commit:
        model.Session.commit()


# --- the job -------------------------------------------------------------------------

def load_resource(resource_id: str) -> dict[str, Any]:
    """The background job: loads the resource's uploaded CSV file into its
    DataStore table and records the outcome. Returns the record as a dict."""
    context = _site_context()
    try:
        resource = tk.get_action("resource_show")(context, {"id": resource_id})
    except tk.ObjectNotFound:
        forget(resource_id)
        return {"resource_id": resource_id, "status": "gone"}
    _record(resource_id, "loading")
    try:
        path = _upload_path(resource)
        encoding = detect_encoding(path)
        delimiter = detect_delimiter(path, encoding)
        fields, rows = inspect_file(path, encoding, delimiter)
        _replace_table(context, resource_id, path, encoding, delimiter, fields)
    except LoadError as error:
        _drop_table(context, resource_id)
        return _record(resource_id, "failed", error=error.code, error_params=error.params)
    except Exception:
        log.exception("dataviz: loading %s into the DataStore failed", resource_id)
        _drop_table(context, resource_id)
        return _record(resource_id, "failed", error="datastore", error_params={})
    return _record(resource_id, "loaded", rows=rows, encoding=encoding,
                   delimiter=delimiter, error=None, error_params={})


def _site_context() -> dict[str, Any]:
    site_user = tk.get_action("get_site_user")({"ignore_auth": True}, {})
    return {"user": site_user["name"], "ignore_auth": True}


def _upload_path(resource: dict[str, Any]) -> str:
    path = uploader.get_resource_uploader(resource).get_path(resource["id"])
    if not path or not os.path.isfile(path):
        raise LoadError("missing_file")
    return path


# --- reading the file ----------------------------------------------------------------

def detect_encoding(path: str) -> str:
    """utf-8-sig (a byte order mark), utf-8, cp1252 or latin-1; a file with
    NUL bytes is binary, not CSV."""
    with open(path, "rb") as f:
        head = f.read(65536)
        if not head.strip():
            raise LoadError("empty")
        if b"\x00" in head:
            raise LoadError("not_text")
        if head.startswith(codecs.BOM_UTF8):
            return "utf-8-sig"
        f.seek(0)
        for encoding in ("utf-8", "cp1252"):
            decoder = codecs.getincrementaldecoder(encoding)()
            f.seek(0)
            try:
                while chunk := f.read(1 << 20):
                    decoder.decode(chunk)
                decoder.decode(b"", final=True)
                return encoding
            except UnicodeDecodeError:
                continue
    return "latin-1"


def _open(path: str, encoding: str):
    return open(path, newline="", encoding=encoding)


def detect_delimiter(path: str, encoding: str) -> str:
    """The separator that splits the first lines into the same number (more
    than one) of values; the most values wins; a comma when none does."""
    with _open(path, encoding) as f:
        lines = list(itertools.islice(f, SNIFF_LINES))
    best, best_columns = ",", 1
    for delimiter in DELIMITERS:
        try:
            counts = {len(row) for row in csv.reader(lines, delimiter=delimiter) if row}
        except csv.Error:
            continue
        if len(counts) == 1 and (columns := counts.pop()) > best_columns:
            best, best_columns = delimiter, columns
    return best


def _rows(path: str, encoding: str, delimiter: str) -> Iterator[tuple[int, list[str]]]:
    """(line number, values) of each non-blank line, the header included."""
    with _open(path, encoding) as f:
        reader = csv.reader(f, delimiter=delimiter)
        while True:
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error:
                raise LoadError("bad_line", line=reader.line_num) from None
            if not row or (len(row) == 1 and not row[0].strip()):
                continue
            yield reader.line_num, row


def field_names(header: list[str]) -> list[str]:
    """DataStore column names from a header: trimmed, no leading underscore
    or double quote, at most 63 characters, unique, never empty."""
    names: list[str] = []
    for index, raw in enumerate(header, start=1):
        name = raw.strip().replace('"', "'").lstrip("_").strip()[:FIELD_NAME_MAX].strip()
        name = name or f"column_{index}"
        base, suffix = name, 2
        while name in names:
            name = f"{base[:FIELD_NAME_MAX - 1 - len(str(suffix))]}_{suffix}"
            suffix += 1
        names.append(name)
    return names


def value_type(value: str, delimiter: str) -> str:
    """The narrowest type of one non-empty value; digits with a leading zero
    (postcodes, codes) stay text."""
    digits = value.lstrip("+-")
    if len(digits) > 1 and digits[0] == "0" and digits[1] not in ".,":
        return "text"
    if INTEGER.match(value) and abs(int(value)) <= INT8_MAX:
        return "int8"
    if DECIMAL_POINT.match(value) or (delimiter != "," and DECIMAL_COMMA.match(value)):
        return "numeric"
    if TIMESTAMP.match(value) and _is_timestamp(value):
        return "timestamp"
    return "text"


def _is_timestamp(value: str) -> bool:
    try:
        datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
        return True
    except ValueError:
        return False


def widen(current: str | None, new: str) -> str:
    """The type of a column holding values of both types."""
    if current is None or current == new:
        return new
    if {current, new} == {"int8", "numeric"}:
        return "numeric"
    return "text"


def inspect_file(path: str, encoding: str, delimiter: str) -> tuple[list[dict[str, str]], int]:
    """Reads the whole file: (DataStore fields, number of data rows). Every
    line must have as many values as the header."""
    rows = _rows(path, encoding, delimiter)
    try:
        _, header = next(rows)
    except StopIteration:
        raise LoadError("empty") from None
    names = field_names(header)
    types: list[str | None] = [None] * len(names)
    count = 0
    for line, row in rows:
        if len(row) != len(names):
            raise LoadError("ragged", line=line, found=len(row), expected=len(names))
        for index, value in enumerate(row):
            value = value.strip()
            if value and types[index] != "text":
                types[index] = widen(types[index], value_type(value, delimiter))
        count += 1
    if not count:
        raise LoadError("no_rows")
    fields = [{"id": name, "type": kind or "text"}
              for name, kind in zip(names, types, strict=True)]
    return fields, count


def _convert(value: str, kind: str) -> Any:
    value = value.strip()
    if kind == "text":
        return value
    if not value:
        return None
    if kind == "numeric":
        return value.replace(",", ".")
    if kind == "timestamp":
        return _utc(value)
    return value


def _utc(value: str) -> str:
    """A timestamp for the DataStore's `timestamp` (without time zone): one
    with an offset (`Z`, `+02:00`) is turned into UTC, which PostgreSQL would
    otherwise drop silently; one without is kept as written."""
    moment = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        return value
    return moment.astimezone(datetime.timezone.utc).replace(tzinfo=None).isoformat()


# --- writing the DataStore -----------------------------------------------------------

def _drop_table(context: dict[str, Any], resource_id: str) -> None:
    try:
        tk.get_action("datastore_delete")(dict(context), {"resource_id": resource_id,
                                                          "force": True})
    except tk.ObjectNotFound:
        pass


def _replace_table(context: dict[str, Any], resource_id: str, path: str, encoding: str,
                   delimiter: str, fields: list[dict[str, str]]) -> None:
    """The resource's table replaced by the file's rows, in batches."""
    _drop_table(context, resource_id)
    tk.get_action("datastore_create")(dict(context), {
        "resource_id": resource_id, "force": True, "fields": fields, "records": []})
    names = [f["id"] for f in fields]
    kinds = [f["type"] for f in fields]
    batch: list[dict[str, Any]] = []
    size = config.loader_batch_rows()
    rows = _rows(path, encoding, delimiter)
    next(rows)  # the header
    for _, row in rows:
        batch.append({name: _convert(value, kind)
                      for name, kind, value in zip(names, kinds, row, strict=True)})
        if len(batch) >= size:
            _insert(context, resource_id, batch)
            batch = []
    if batch:
        _insert(context, resource_id, batch)


def _insert(context: dict[str, Any], resource_id: str, records: list[dict[str, Any]]) -> None:
    tk.get_action("datastore_upsert")(dict(context), {
        "resource_id": resource_id, "force": True, "method": "insert", "records": records})


# --- the record and its message ------------------------------------------------------

def _record(resource_id: str, status: str, **values: Any) -> dict[str, Any]:
    record = model.Session.get(DatavizDatastoreLoad, resource_id)
    if record is None:
        record = DatavizDatastoreLoad(resource_id=resource_id, error_params={})
        model.Session.add(record)
    record.status = status
    if status in ("pending", "loading"):
        record.rows = None
        record.error = None
        record.error_params = {}
    for key, value in values.items():
        setattr(record, key, value)
    record.updated = utcnow()
    model.Session.commit()
    return as_dict(record)


def as_dict(record: DatavizDatastoreLoad) -> dict[str, Any]:
    return {"resource_id": record.resource_id, "status": record.status, "rows": record.rows,
            "encoding": record.encoding, "delimiter": record.delimiter, "error": record.error,
            "error_params": dict(record.error_params or {}),
            "updated": record.updated.isoformat() if record.updated else None}


def status(resource_id: str) -> dict[str, Any] | None:
    """The last load of the resource, or None when none was asked."""
    record = model.Session.get(DatavizDatastoreLoad, resource_id)
    return as_dict(record) if record is not None else None


def failure_message(code: str, params: dict[str, Any]) -> tuple[str, str]:
    """(what happened, what to do) of a failed load, in the reader's language."""
    _ = tk._
    reasons = {
        "missing_file": (_("the uploaded file could not be found"),
                         _("upload the file again.")),
        "empty": (_("the file is empty"),
                  _("upload a CSV file with a header line and at least one line of data.")),
        "no_rows": (_("the file has a header line but no data"),
                    _("upload a CSV file with a header line and at least one line of data.")),
        "not_text": (_("the file is not a CSV file (it holds binary data)"),
                     _("upload a text file with a header line and values separated by "
                       "commas or semicolons (in a spreadsheet: save as CSV).")),
        "bad_line": (_("line {line} could not be read as CSV").format(**params),
                     _("check the double quotes on that line, then upload the file again.")),
        "ragged": (_("line {line} has {found} values where the header has {expected}")
                   .format(**params),
                   _("put each value that contains the separator between double quotes, "
                     "then upload the file again.")),
    }
    return reasons.get(code, (_("the DataStore refused the data"),
                              _("upload the file again in a few minutes; if it fails again, "
                                "send the file to the portal's administrators.")))


def status_message(load: dict[str, Any]) -> str:
    """One line for the resource page: pending, loading, loaded: N rows, or
    failed: reason — what to do."""
    _ = tk._
    if load["status"] == "pending":
        return _("Loading into the DataStore: pending")
    if load["status"] == "loading":
        return _("Loading into the DataStore: in progress")
    if load["status"] == "loaded":
        return tk.ungettext("Loading into the DataStore: loaded: {rows} row",
                            "Loading into the DataStore: loaded: {rows} rows",
                            load["rows"] or 0).format(rows=load["rows"] or 0)
    reason, todo = failure_message(load["error"] or "", load["error_params"])
    return _("Loading into the DataStore: failed: {reason} — {todo}").format(
        reason=reason, todo=todo)
