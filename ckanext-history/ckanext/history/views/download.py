"""Download routes of the history plugin.

- `/dataset/<id>/resource/<resource_id>/history/download?format=...` takes
  the parameters of history_query (start, end, features, fields, aggregate,
  functions, per_feature) and streams every record of the range, in
  (time, feature) order: `csv`, `json` (one JSON array), `jsonl` (JSON lines,
  one object a line) or `parquet`. Rows are read as Arrow record batches
  (DuckDB over the archive and the hot rows, a month at a time) and written
  as they come, so memory does not grow with the range.
- `/dataset/<id>/resource/<resource_id>/history/month/<YYYY-MM>.<format>`:
  the ready-made file of a month in the archive's layout (columns feature,
  time, then the declared fields; rows sorted by (feature, time)): the
  archive's own Parquet file when the whole month is archived with the
  current fields, else built the same way (`archive.merged_month`), so the
  file is the same before and after compaction.

Bad parameters answer 400 naming the parameter (`start: ...`), with the same
checks and messages as history_query (whose API answers 409); a range without
rows answers 200 with an empty file: `[]` in JSON, the header line in CSV,
nothing in JSON lines, a Parquet file with its schema and no row.

Every route asks the access policy first (history_query's auth: the
portal's `grandlyon_access_data_read`); a dataset the user may not see
answers the same 404 as a missing resource, one whose data the user may not
read answers 403.
"""

from __future__ import annotations

import datetime
import io
import json
import re

import ckan.plugins.toolkit as tk
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from ckanext.grandlyon_access import shared as access
from ckanext.grandlyon_access.shared import FORMULA_PREFIXES, spreadsheet_safe
from ckanext.history import archive, query, store
from ckanext.history.logic.auth import check_read
from flask import Response, request, stream_with_context

from .blueprint import history

FORMATS = {
    "csv": "text/csv; charset=utf-8",
    "json": "application/json",
    "jsonl": "application/x-ndjson",
    "parquet": "application/vnd.apache.parquet",
}
MONTH = re.compile(r"^(\d{4})-(\d{2})$")


def _context() -> dict:
    return {"user": tk.current_user.name if tk.current_user.is_authenticated else "",
            "auth_user_obj": tk.current_user}


def _resource(id: str, resource_id: str):
    """The resource once the user may read its data; aborts 404 (not
    visible, missing, or not a resource of that dataset) or 403."""
    try:
        resource, package = check_read(_context(), resource_id, "history_query")
    except (tk.ObjectNotFound, tk.ValidationError):
        return tk.abort(404, tk._("Resource not found"))
    except tk.NotAuthorized:
        return tk.abort(403, tk._("You do not have access to the data of this dataset"))
    if id not in (package.id, package.name):
        return tk.abort(404, tk._("Resource not found"))
    schema = store.get_schema(resource.id)
    if schema is None:
        return tk.abort(404, tk._("This resource has no history"))
    access.record_data_read(_context(), resource.id, "history download")
    return resource, schema


LIST_PARAMETERS = ("features", "fields", "functions")


def _params() -> dict:
    """The query string as history_query's parameters: a list parameter may
    come once with commas or several times, any other once only (raises
    tk.ValidationError naming it); empty ones are left out. Unknown names
    stay, for query.parse to refuse by name."""
    out: dict = {}
    for key in request.args:
        values = request.args.getlist(key)
        if key in LIST_PARAMETERS:
            out[key] = values[0] if len(values) == 1 else values
        elif len(values) > 1:
            raise tk.ValidationError({key[:100]: [tk._("Given more than once")]})
        elif values[0] not in (None, "") or key == "tz":  # an empty zone is no zone
            out[key] = values[0]
    return out


def _bad_request(error: tk.ValidationError) -> Response:
    """400 with `parameter: reason` as plain text (what a script reads)."""
    key, messages = next(iter(error.error_dict.items()))
    message = messages[0] if isinstance(messages, list) and messages else str(messages)
    return Response(f"{key}: {message}\n", status=400, content_type="text/plain; charset=utf-8")


# --- writers: Arrow batches -> bytes ---------------------------------------------

def _for_csv(batch: pa.RecordBatch) -> pa.RecordBatch:
    """Timestamps as ISO 8601 text (those of a zone in local time with their
    offset, 2026-10-25T02:30:00+01:00), and text a spreadsheet would run as
    a formula started with an apostrophe (shared.FORMULA_PREFIXES)."""
    columns = []
    for field, column in zip(batch.schema, batch.columns):
        if pa.types.is_timestamp(field.type) and field.type.tz:
            column = pc.replace_substring_regex(
                pc.strftime(column, format="%Y-%m-%dT%H:%M:%S%Ez"),
                pattern=r"\.0+([+-]\d\d:\d\d)$", replacement=r"\1")
        elif pa.types.is_timestamp(field.type):
            column = pc.replace_substring_regex(
                pc.strftime(column, format="%Y-%m-%dT%H:%M:%S"), pattern=r"\.0+$", replacement="")
        elif pa.types.is_string(field.type) or pa.types.is_large_string(field.type):
            risky = pc.fill_null(pc.match_substring_regex(column, FORMULA_PATTERN), False)
            column = pc.if_else(risky, pc.binary_join_element_wise("'", column, ""), column)
        columns.append(column)
    return pa.RecordBatch.from_arrays(columns, names=batch.schema.names)


FORMULA_PATTERN = "^[" + "".join("\\" + c if c in "-\\]^" else c for c in FORMULA_PREFIXES) + "]"


def csv_chunks(batches, names: list[str]):
    yield (",".join(_csv_cell(spreadsheet_safe(n)) for n in names) + "\r\n").encode()
    options = pacsv.WriteOptions(include_header=False, quoting_style="needed")
    for batch in batches:
        sink = io.BytesIO()
        pacsv.write_csv(_for_csv(batch), sink, write_options=options)
        yield sink.getvalue()


def _csv_cell(text: str) -> str:
    return '"' + text.replace('"', '""') + '"' if any(c in text for c in ',"\r\n') else text


def _json_default(value):
    if isinstance(value, (datetime.datetime, datetime.date)):
        return value.isoformat()
    return str(value)


def _dump(record: dict) -> str:
    for key, value in record.items():
        if isinstance(value, float) and value != value:  # NaN
            record[key] = None
    return json.dumps(record, default=_json_default, ensure_ascii=False, separators=(",", ":"))


def jsonl_chunks(batches):
    for batch in batches:
        yield ("".join(_dump(r) + "\n" for r in batch.to_pylist())).encode()


def json_chunks(batches):
    """One JSON array, written a batch at a time."""
    yield b"["
    first = True
    for batch in batches:
        parts = []
        for record in batch.to_pylist():
            parts.append(("\n" if first else ",\n") + _dump(record))
            first = False
        yield "".join(parts).encode()
    yield b"\n]\n"


class _Drain(io.RawIOBase):
    """A write-only file whose written bytes are taken out as they come."""

    def __init__(self):
        self.parts: list[bytes] = []
        self.position = 0

    def writable(self):
        return True

    def write(self, data):
        data = bytes(data)
        self.parts.append(data)
        self.position += len(data)
        return len(data)

    def tell(self):
        return self.position

    def take(self) -> bytes:
        out, self.parts = b"".join(self.parts), []
        return out


def parquet_chunks(batches, schema: pa.Schema):
    """A Parquet file streamed: each batch becomes a row group, whose bytes
    leave as soon as it is written."""
    drain = _Drain()
    writer = pq.ParquetWriter(drain, schema, **archive.write_options(schema))
    for batch in batches:
        writer.write_batch(batch.cast(schema) if batch.schema != schema else batch)
        chunk = drain.take()
        if chunk:
            yield chunk
    writer.close()
    yield drain.take()


def _primed(batches):
    """`batches` with its first batch read now, in the view: a failure of
    the query answers an error status instead of a 200 with a cut body."""
    iterator = iter(batches)
    first = next(iterator, None)

    def chained():
        if first is not None:
            yield first
        yield from iterator

    return chained()


def _response(fmt: str, batches, names: list[str], schema: pa.Schema, filename: str) -> Response:
    batches = _primed(batches)
    if fmt == "csv":
        body = csv_chunks(batches, names)
    elif fmt == "json":
        body = json_chunks(batches)
    elif fmt == "jsonl":
        body = jsonl_chunks(batches)
    else:
        body = parquet_chunks(batches, schema)
    response = Response(stream_with_context(body), mimetype=FORMATS[fmt].split(";")[0],
                        content_type=FORMATS[fmt])
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _batches(q):
    schema = query.arrow_output_schema(q)
    for batch in query.stream(q):
        # Column order and types of the announced schema.
        yield pa.RecordBatch.from_arrays(
            [batch.column(name).cast(field.type) for name, field in zip(schema.names, schema)],
            schema=schema)


@history.route("/dataset/<id>/resource/<resource_id>/history/download")
def download(id: str, resource_id: str):
    resource, schema = _resource(id, resource_id)
    try:
        params = _params()
        fmt = str(params.pop("format", None) or "csv").lower()
        if fmt not in FORMATS:
            raise tk.ValidationError({"format": [tk._("Choose one of %s") % ", ".join(FORMATS)]})
        q = query.parse({**params, "resource_id": resource.id}, schema, for_download=True)
    except tk.ValidationError as error:
        return _bad_request(error)
    names = [f["id"] for f in q.output_fields()]
    # The CSV says the zone of its times in the time column's name, which
    # spreadsheets show; every time carries its offset.
    header = [f"time ({q.tz.key})" if n == "time" else n for n in names] if fmt == "csv" else names
    filename = f"history-{resource.id}-{q.start:%Y%m%dT%H%M}-{q.end:%Y%m%dT%H%M}.{fmt}"
    try:
        # The first batch is read here: a query refused while it runs (a
        # zone over too long a span of rows) is a 400 as well.
        return _response(fmt, _batches(q), header, query.arrow_output_schema(q), filename)
    except tk.ValidationError as error:
        return _bad_request(error)


@history.route("/dataset/<id>/resource/<resource_id>/history/month/<month>.<fmt>")
def month_file(id: str, resource_id: str, month: str, fmt: str):
    resource, schema = _resource(id, resource_id)
    match = MONTH.match(month)
    if fmt not in FORMATS or not match or not 1 <= int(match.group(1)) \
            or not 1 <= int(match.group(2)) <= 12:
        return tk.abort(404, tk._("Resource not found"))
    year, number = int(match.group(1)), int(match.group(2))
    start = datetime.datetime(year, number, 1)
    end = query.month_after(start)
    filename = f"history-{resource.id}-{month}.{fmt}"
    layout = store.arrow_schema(schema)
    files = [f for f in archive.month_files(resource.id) if (f.year, f.month) == (year, number)]
    if fmt == "parquet" and files and store.hot_range(resource.id, start, end)[0] is None \
            and archive.file_schema(files[0].path) == layout:
        return _archived_file(files[0].path, filename)
    batches = archive.month_batches(resource.id, start, end, schema)
    return _response(fmt, batches, layout.names, layout, filename)


def _archived_file(path: str, filename: str) -> Response:
    fs, _base = archive.filesystem()
    size = fs.get_file_info(path).size

    def chunks():
        with fs.open_input_stream(path) as handle:
            while True:
                data = handle.read(1 << 20)
                if not data:
                    break
                yield data

    response = Response(chunks(), content_type=FORMATS["parquet"])
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Content-Length"] = str(size)
    return response
