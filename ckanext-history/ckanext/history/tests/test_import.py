"""`ckan history import` and `ckan history compact` through CKAN's CLI:
each format, idempotency, resuming an interrupted import."""

from __future__ import annotations

import csv
import datetime
import json
import os
import subprocess

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from ckan.cli.cli import ckan
from ckanext.grandlyon_access.testing.pytest_plugin import ckan_bin

from ckanext.history import archive, cli as history_cli, store
from ckanext.history.tests import history_support
from ckanext.history.tests.history_support import FIELDS, long_rows

archive_dir = history_support.archive_dir
pytestmark = pytest.mark.usefixtures("clean_db", "archive_dir")

RID = "import-resource"


def _flat(rows):
    return [{"station": r["feature"], "date": r["time"].isoformat(), **r["values"]} for r in rows]


def _write(tmp_path, fmt, rows):
    path = tmp_path / f"rows.{fmt}"
    flat = _flat(rows)
    if fmt == "csv":
        with open(path, "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(flat[0]))
            writer.writeheader()
            for row in flat:
                writer.writerow({k: "" if v is None else v for k, v in row.items()})
    elif fmt == "jsonl":
        with open(path, "w") as handle:
            for row in flat:
                handle.write(json.dumps(row) + "\n")
    else:
        pq.write_table(pa.Table.from_pylist(flat), path)
    return str(path)


def _stored():
    batches = store.hot_batches(RID, FIELDS, datetime.datetime(2000, 1, 1), datetime.datetime(2100, 1, 1),
                                order="feature")
    out = []
    for batch in batches:
        out.extend(batch.to_pylist())
    return out


def _expected(rows):
    out = [{"feature": r["feature"], "time": r["time"], **{f["name"]: r["values"].get(f["name"]) for f in FIELDS}}
           for r in rows]
    return sorted(out, key=lambda r: (r["feature"], r["time"]))


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_import_each_format_twice(cli, tmp_path, fmt):
    rows = long_rows(days=3)
    store.ensure_schema(RID, FIELDS)
    path = _write(tmp_path, fmt, rows)
    args = ["history", "import", RID, path, "--feature-field", "station", "--time-field", "date",
            "--batch-size", "100"]
    result = cli.invoke(ckan, args)
    assert result.exit_code == 0, result.output
    assert f"{len(rows)} rows read, {len(rows)} new" in result.output
    assert _stored() == _expected(rows)
    # Again: the finished file is skipped.
    result = cli.invoke(ckan, args)
    assert result.exit_code == 0 and "already imported" in result.output
    # A changed file (here only touched) is read again, and stores nothing twice.
    stat = os.stat(path)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    result = cli.invoke(ckan, args)
    assert f"{len(rows)} rows read, 0 new" in result.output
    assert _stored() == _expected(rows)


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_an_interrupted_import_resumes_where_it_stopped(tmp_path, fmt):
    rows = long_rows(days=3)
    store.ensure_schema(RID, FIELDS)
    path = _write(tmp_path, fmt, rows)
    first = history_cli.import_file(RID, path, fmt, "station", "date", batch_rows=50, stop_after_batches=3)
    assert first["stopped"] and first["stored"] == 150
    second = history_cli.import_file(RID, path, fmt, "station", "date", batch_rows=50)
    assert second["read"] == len(rows) - 150
    assert second["stored"] == len(rows) - 150
    assert _stored() == _expected(rows)


def test_import_refuses_a_resource_without_history(cli, tmp_path):
    path = _write(tmp_path, "csv", long_rows(days=1))
    result = cli.invoke(ckan, ["history", "import", "no-such-history", path])
    assert result.exit_code != 0 and "no history" in result.output


def test_compact_command(cli):
    rows = long_rows(days=3)
    store.ensure_schema(RID, FIELDS)
    store.write_rows(RID, rows)
    result = cli.invoke(ckan, ["history", "compact", "--resource", RID])
    assert result.exit_code == 0, result.output
    assert f"{RID}: {len(rows)} rows archived (2026-01)" in result.output
    assert store.hot_stats(RID)["rows"] == 0
    assert sum(f.rows for f in archive.month_files(RID, with_rows=True)) == len(rows)


def _csv(tmp_path, text: str) -> str:
    path = tmp_path / "rows.csv"
    path.write_text(text)
    return str(path)


HEADER = "station,date,available_bikes,available_bike_stands,ratio,status\n"


def _import_lines(cli, tmp_path, lines: list[str]):
    """`ckan history import` of a CSV file of HEADER and these lines."""
    store.ensure_schema(RID, FIELDS)
    path = _csv(tmp_path, HEADER + "\n".join(lines) + "\n")
    return cli.invoke(ckan, ["history", "import", RID, path, "--feature-field", "station",
                             "--time-field", "date"])


def test_import_refuses_rows_it_cannot_store_and_keeps_the_others(cli, tmp_path):
    """A time that is not one, out of the histories' range or ahead, a value
    its type cannot hold: each row is refused by reason, none is stored with
    NULL, the import does not stop halfway, and the command fails at the end
    saying which rows to correct."""
    result = _import_lines(cli, tmp_path, [
        "A,2026-01-27T00:00:00,1,2,0.5,OPEN",
        "A,yesterday,1,2,0.5,OPEN",
        "A,9999-12-31T23:59:59.999999,1,2,0.5,OPEN",
        "A,0001-01-01T00:00:00,1,2,0.5,OPEN",
        "B,2026-01-27T00:00:00,many,2,0.5,OPEN",
        ",2026-01-27T00:00:00,1,2,0.5,OPEN",
        "B,2026-01-27T00:01:00,3,4,,",
        "C,2026-01-27T00:02:00,2.5,4,0.1,OPEN",
    ])
    assert result.exit_code == 1, result.output
    assert "8 rows read, 2 new, 0 already stored, 6 refused" in result.output
    assert "date is not a time ('yesterday'), first at row 2" in result.output
    assert "date is more than a day ahead ('9999-12-31T23:59:59.999999'), first at row 3" in result.output
    assert "date is before 1900 ('0001-01-01T00:00:00'), first at row 4" in result.output
    assert "2 rows refused: available_bikes is not of type int ('many'), first at row 5" in result.output
    assert "no feature id in station, first at row 6" in result.output
    assert "6 rows refused (see above)" in result.output
    stored = _stored()
    assert [(r["feature"], r["time"].isoformat()) for r in stored] == [
        ("A", "2026-01-27T00:00:00"), ("B", "2026-01-27T00:01:00")]
    # A blank cell is a value the row did not have: stored as such.
    assert stored[1]["available_bikes"] == 3 and stored[1]["ratio"] is None


def test_a_row_given_twice_with_other_values_is_refused_both_times(cli, tmp_path):
    """Which of two values is right cannot be told: neither is stored, and
    each reason names its own field (found by an outside probe: two
    different rows were dropped without a word, other fields' faults were
    counted under the first one's)."""
    result = _import_lines(cli, tmp_path, [
        "A,2026-01-27T00:00:00,1,2,0.5,OPEN",
        "A,2026-01-27T00:00:00,2,2,0.5,OPEN",
        "B,2026-01-27T00:00:00,1,2,0.5,OPEN",
        "B,2026-01-27T00:00:00,1,2,0.5,OPEN",
        "C,2026-01-27T00:00:00,1,x,0.5,OPEN",
        "D,2026-01-27T00:00:00,1,2,inf,OPEN",
    ])
    assert result.exit_code == 1
    assert "6 rows read, 1 new, 1 already stored, 4 refused" in result.output, result.output
    assert "2 rows refused: sent more than once for the same feature and time with other " \
           "values, first at row 1" in result.output
    assert "1 rows refused: available_bike_stands is not of type int ('x'), first at row 5" \
        in result.output
    assert "1 rows refused: ratio is not of type float ('inf'), first at row 6" in result.output
    assert [r["feature"] for r in _stored()] == ["B"]


def test_import_refuses_a_file_without_a_declared_column(cli, tmp_path):
    store.ensure_schema(RID, FIELDS)
    path = _csv(tmp_path, "station,date,available_bikes,ratio,status\nA,2026-01-27T00:00:00,1,0.5,OPEN\n")
    result = cli.invoke(ckan, ["history", "import", RID, path, "--feature-field", "station",
                               "--time-field", "date"])
    assert result.exit_code == 1
    assert "no column available_bike_stands" in result.output and "nothing imported" in result.output
    assert _stored() == []


def test_import_jsonl_refuses_a_row_without_a_declared_field(cli, tmp_path):
    store.ensure_schema(RID, FIELDS)
    path = tmp_path / "rows.jsonl"
    path.write_text(json.dumps({"station": "A", "date": "2026-01-27T00:00:00", "available_bikes": 1,
                                "available_bike_stands": 2, "ratio": 0.5, "status": "OPEN"}) + "\n"
                    + json.dumps({"station": "B", "date": "2026-01-27T00:00:00", "bikes": 1,
                                  "available_bike_stands": 2, "ratio": 0.5, "status": "OPEN"}) + "\n")
    result = cli.invoke(ckan, ["history", "import", RID, str(path), "--feature-field", "station",
                               "--time-field", "date"])
    assert result.exit_code == 1
    assert "1 rows refused: no available_bikes in the row, first at row 2" in result.output
    assert [r["feature"] for r in _stored()] == ["A"]


def test_rows_the_archive_holds_are_not_stored_again(cli, tmp_path):
    """Importing rows of an archived month again stores none of them in the
    hot tier and counts none as new."""
    rows = long_rows(days=2)
    store.ensure_schema(RID, FIELDS)
    path = _write(tmp_path, "csv", rows)
    args = ["history", "import", RID, path, "--feature-field", "station", "--time-field", "date"]
    assert cli.invoke(ckan, args).exit_code == 0
    assert cli.invoke(ckan, ["history", "compact", "--resource", RID]).exit_code == 0
    assert store.hot_stats(RID)["rows"] == 0
    stat = os.stat(path)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    result = cli.invoke(ckan, args)
    assert result.exit_code == 0, result.output
    assert f"{len(rows)} rows read, 0 new" in result.output
    assert store.hot_stats(RID)["rows"] == 0


def test_write_rows_refuses_times_outside_the_histories_range():
    store.ensure_schema(RID, FIELDS)
    for when in (datetime.datetime(1, 1, 1), datetime.datetime(9999, 12, 31, 23, 59)):
        with pytest.raises(ValueError, match="out of the range"):
            store.write_rows(RID, [{"feature": "A", "time": when, "values": {}}])
    assert _stored() == []


def _big_parquet(path, rows: int) -> str:
    """`rows` rows of 430 stations, one a minute each, written in chunks."""
    schema = pa.schema([("station", pa.string()), ("date", pa.timestamp("us")),
                        ("available_bikes", pa.int64()), ("available_bike_stands", pa.int64()),
                        ("ratio", pa.float64()), ("status", pa.string())])
    start = datetime.datetime(2025, 1, 1)
    with pq.ParquetWriter(path, schema) as writer:
        for first in range(0, rows, 50_000):
            ids = range(first, min(first + 50_000, rows))
            writer.write_table(pa.Table.from_pydict({
                "station": [f"S{i % 430}" for i in ids],
                "date": [start + datetime.timedelta(minutes=i // 430) for i in ids],
                "available_bikes": [i % 23 for i in ids],
                "available_bike_stands": [20 - i % 20 for i in ids],
                "ratio": [(i % 23) / 23 for i in ids],
                "status": ["OPEN" if i % 7 else "CLOSED" for i in ids],
            }, schema=schema))
    return str(path)


def _peak_rss_of_import(ini: str, resource_id: str, path: str) -> tuple[int, str]:
    """Runs `ckan history import` as its own process: (its peak resident
    memory in MB, its output)."""
    process = subprocess.Popen([ckan_bin(), "-c", ini, "history", "import", resource_id, path,
                                "--feature-field", "station", "--time-field", "date"],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    output = process.stdout.read().decode()
    _pid, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    assert process.returncode == 0, output
    return usage.ru_maxrss // 1024, output


def test_import_memory_does_not_grow_with_the_file(ckan_ini, tmp_path, ckan_config):
    """20 times more rows, the same memory: the importer streams its file
    in batches (a year of a feed is 226 M rows; its import stays far below
    the 2 GB budget)."""
    small, large = 20_000, 400_000
    for rid in ("import-small", "import-large"):
        store.ensure_schema(rid, FIELDS)
    small_rss, small_out = _peak_rss_of_import(ckan_ini, "import-small",
                                               _big_parquet(tmp_path / "small.parquet", small))
    large_rss, large_out = _peak_rss_of_import(ckan_ini, "import-large",
                                               _big_parquet(tmp_path / "large.parquet", large))
    assert f"{small} rows read, {small} new" in small_out, small_out
    assert f"{large} rows read, {large} new" in large_out, large_out
    # Holding the large file's rows as Python objects would take hundreds of MB more.
    assert large_rss - small_rss < 60, (small_rss, large_rss)
    assert large_rss < 2048
