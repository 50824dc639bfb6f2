"""Downloads of a history over HTTP: each format with its content checked
against history_query, aggregated downloads, monthly files (the archive's own
file or one built), streaming in chunks."""

from __future__ import annotations

import csv
import datetime
import io
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from ckan.tests import helpers
from ckanext.grandlyon_access.testing.pytest_plugin import make_actor

from ckanext.history import archive, store
from ckanext.history.tests import history_support
from ckanext.history.tests.history_support import FIELDS, long_rows, make_dataset

archive_dir = history_support.archive_dir
# The times of these tests are UTC (test_time_zones.py: other zones).
pytestmark = [pytest.mark.usefixtures("clean_db", "archive_dir"),
              pytest.mark.ckan_config("ckan.display_timezone", "UTC")]

START = "2026-01-30T00:00:00"
END = "2026-02-02T00:00:00"


@pytest.fixture
def history():
    user = make_actor(sysadmin=True)
    dataset = make_dataset("open", user=user.name)
    rid = dataset["resource_id"]
    store.ensure_schema(rid, FIELDS)
    store.write_rows(rid, long_rows())
    # Part of the range archived, part hot.
    archive.compact(rid, now=datetime.datetime(2026, 2, 15), retention=14)
    return dataset, rid, user.headers


def _expected(rid, **params):
    records, cursor = [], None
    while True:
        answer = helpers.call_action("history_query", resource_id=rid, limit=10000, start=START, end=END,
                                     **params, **({"cursor": cursor} if cursor else {}))
        records.extend(answer["records"])
        cursor = answer["next_cursor"]
        if not cursor:
            return records, answer["fields"]


def _url(dataset, **params):
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return f"/dataset/{dataset['name']}/resource/{dataset['resource_id']}/history/download?{query}"


def _typed(value, type_):
    if value == "":
        return None
    return {"int": int, "float": float, "text": str, "timestamp": str}[type_](value)


def test_csv(app, history):
    dataset, rid, headers = history
    res = app.get(_url(dataset, format="csv", start=START, end=END), headers=headers)
    assert res.status_code == 200 and res.content_type.startswith("text/csv")
    assert "attachment" in res.headers["Content-Disposition"]
    expected, fields = _expected(rid)
    rows = list(csv.reader(io.StringIO(res.get_data(as_text=True))))
    # The time column names the zone; each time carries its offset.
    assert rows[0] == ["time (UTC)"] + [f["id"] for f in fields[1:]]
    got = [{f["id"]: _typed(v, f["type"]) for f, v in zip(fields, row)} for row in rows[1:]]
    assert got == [{k: pytest.approx(v) if isinstance(v, float) else v for k, v in r.items()}
                   for r in expected]
    assert len(got) > 100


@pytest.mark.parametrize("fmt", ["json", "jsonl"])
def test_json_array_and_json_lines(app, history, fmt):
    dataset, rid, headers = history
    res = app.get(_url(dataset, format=fmt, start=START, end=END, features="B", fields="available_bikes,status"),
                  headers=headers)
    assert res.status_code == 200
    text = res.get_data(as_text=True)
    got = json.loads(text) if fmt == "json" else [json.loads(line) for line in text.splitlines()]
    expected, _f = _expected(rid, features=["B"], fields=["available_bikes", "status"])
    assert got == expected and got


def test_parquet(app, history):
    dataset, rid, headers = history
    res = app.get(_url(dataset, format="parquet", start=START, end=END), headers=headers)
    assert res.status_code == 200
    table = pq.read_table(io.BytesIO(res.get_data()))
    expected, fields = _expected(rid)
    assert table.column_names == [f["id"] for f in fields]
    assert table.schema.field("time").type == pa.timestamp("us", tz="UTC")
    got = table.to_pylist()
    for record in got:
        record["time"] = record["time"].isoformat()
    assert got == expected


def test_aggregated_download(app, history):
    dataset, rid, headers = history
    res = app.get(_url(dataset, format="jsonl", start=START, end=END, aggregate="hour",
                       functions="avg,max,last", per_feature="false"), headers=headers)
    assert res.status_code == 200
    got = [json.loads(line) for line in res.get_data(as_text=True).splitlines()]
    expected, _f = _expected(rid, aggregate="hour", functions=["avg", "max", "last"], per_feature=False)
    assert got == [{k: pytest.approx(v) if isinstance(v, float) else v for k, v in r.items()}
                   for r in expected]


def test_monthly_files(app, history):
    dataset, rid, headers = history
    base = f"/dataset/{dataset['name']}/resource/{rid}/history/month"
    # January is entirely archived: its Parquet file is served as it is.
    res = app.get(f"{base}/2026-01.parquet", headers=headers)
    assert res.status_code == 200
    with open(archive.month_files(rid)[0].path, "rb") as handle:
        assert res.get_data() == handle.read()
    # February is partly hot: the file is built from both tiers.
    res = app.get(f"{base}/2026-02.parquet", headers=headers)
    table = pq.read_table(io.BytesIO(res.get_data()))
    february = [r for r in long_rows() if r["time"] >= datetime.datetime(2026, 2, 1)]
    assert table.num_rows == len(february)
    res = app.get(f"{base}/2026-01.csv", headers=headers)
    lines = res.get_data(as_text=True).splitlines()
    assert len(lines) - 1 == len([r for r in long_rows() if r["time"] < datetime.datetime(2026, 2, 1)])
    assert app.get(f"{base}/2026-13.csv", headers=headers).status_code == 404


def test_bad_parameters_answer_400_naming_them(app, history):
    dataset, _rid, headers = history
    for params, key in ((dict(format="xml"), "format"), (dict(start="2026-02-01", end="2026-01-01"), "start"),
                        (dict(fields="nope"), "fields"), (dict(aggregate="century"), "aggregate")):
        res = app.get(_url(dataset, **params), headers=headers)
        assert res.status_code == 400 and key in res.get_data(as_text=True)


def test_a_resource_of_another_dataset_is_missing(app, history):
    _dataset, rid, headers = history
    other = make_dataset("open")
    res = app.get(f"/dataset/{other['name']}/resource/{rid}/history/download", headers=headers)
    assert res.status_code == 404


def test_parquet_and_csv_are_streamed_batch_by_batch():
    from ckanext.history.views import download

    schema = pa.schema([("time", pa.timestamp("us")), ("feature", pa.string()), ("v", pa.int64())])
    batches = [pa.RecordBatch.from_pydict({"time": [datetime.datetime(2026, 1, 1, 0, i)], "feature": ["A"],
                                           "v": [i]}, schema=schema) for i in range(5)]
    chunks = list(download.parquet_chunks(iter(batches), schema))
    assert len(chunks) >= 5
    assert pq.read_table(io.BytesIO(b"".join(chunks))).column("v").to_pylist() == [0, 1, 2, 3, 4]
    csv_chunks = list(download.csv_chunks(iter(batches), schema.names))
    assert len(csv_chunks) == 6
    rows = list(csv.reader(io.StringIO(b"".join(csv_chunks).decode())))
    assert rows[:2] == [["time", "feature", "v"], ["2026-01-01T00:00:00", "A", "0"]]


def test_a_month_file_is_the_same_before_and_after_compaction(app):
    """Defect 14: a month's file built from the hot tier had the columns and
    the order of history_query (time, feature), the archived one those of the
    archive (feature, time). Every monthly file is now the archive's layout,
    whichever tier holds the month, and however it was compacted."""
    user = make_actor(sysadmin=True)
    headers = user.headers
    datasets = [make_dataset("open", user=user.name) for _ in range(2)]
    for dataset in datasets:
        store.ensure_schema(dataset["resource_id"], FIELDS)
        store.write_rows(dataset["resource_id"], long_rows())
    first, second = datasets

    def month(dataset, fmt: str) -> bytes:
        res = app.get(f"/dataset/{dataset['name']}/resource/{dataset['resource_id']}/history/month/"
                      f"2026-01.{fmt}", headers=headers)
        assert res.status_code == 200
        return res.get_data()

    hot = {fmt: month(first, fmt) for fmt in ("parquet", "csv", "json", "jsonl")}
    table = pq.read_table(io.BytesIO(hot["parquet"]))
    assert table.schema == store.arrow_schema(FIELDS)
    keys = list(zip(table.column("feature").to_pylist(), table.column("time").to_pylist(),
                    strict=True))
    assert keys == sorted(keys) and len(keys) == len([r for r in long_rows()
                                                     if r["time"] < datetime.datetime(2026, 2, 1)])
    # Compacted in one go (first), or in two steps with a late row (second).
    archive.compact(first["resource_id"], now=datetime.datetime(2026, 4, 1), retention=1)
    archive.compact(second["resource_id"], now=datetime.datetime(2026, 2, 15), retention=16)
    store.write_rows(second["resource_id"], [r for r in long_rows()
                                             if r["time"] < datetime.datetime(2026, 1, 29)][:5])
    archive.compact(second["resource_id"], now=datetime.datetime(2026, 4, 1), retention=1)
    for dataset in datasets:
        archived = archive.month_files(dataset["resource_id"])[0].path
        assert month(dataset, "parquet") == open(archived, "rb").read()   # served as it is
        assert pq.read_table(archived).equals(table)
        for fmt in ("csv", "json", "jsonl"):
            assert month(dataset, fmt) == hot[fmt], fmt

    # A field declared since: the month is built again with the current columns.
    fields = FIELDS + [{"name": "extra", "type": "int"}]
    store.ensure_schema(first["resource_id"], fields)
    rebuilt = pq.read_table(io.BytesIO(month(first, "parquet")))
    assert rebuilt.schema == store.arrow_schema(fields)
    assert rebuilt.drop_columns(["extra"]).equals(table)


def test_csv_cells_a_spreadsheet_would_run_start_with_an_apostrophe(app):
    """Feature ids and text values sent by a feed (and field names) are
    someone else's text: in CSV, one starting with = + - @ or a tab is not
    left for a spreadsheet to run. Parquet and JSON keep the exact value."""
    user = make_actor(sysadmin=True)
    headers = user.headers
    dataset = make_dataset("open", user=user.name)
    rid = dataset["resource_id"]
    store.ensure_schema(rid, FIELDS)
    evil = ['=HYPERLINK("http://evil.example","x")', "+1", "-2+3", "@SUM(A1)", "\tcmd"]
    store.write_rows(rid, [
        {"feature": name, "time": datetime.datetime(2026, 1, 5, 10), "values": {
            "available_bikes": -3, "status": name}} for name in evil])
    base = f"/dataset/{dataset['name']}/resource/{rid}/history"
    for url in (f"{base}/download?format=csv&start=2026-01-05&end=2026-01-06", f"{base}/month/2026-01.csv"):
        rows = list(csv.DictReader(io.StringIO(app.get(url, headers=headers).get_data(as_text=True))))
        assert sorted(r["feature"] for r in rows) == sorted("'" + name for name in evil), url
        assert all(r["status"] == r["feature"] for r in rows)
        assert {r["available_bikes"] for r in rows} == {"-3"}      # numbers stay numbers
    res = app.get(f"{base}/download?format=json&start=2026-01-05&end=2026-01-06", headers=headers)
    assert sorted(r["feature"] for r in json.loads(res.get_data(as_text=True))) == sorted(evil)
