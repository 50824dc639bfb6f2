"""history_query and history_show on the real stack: every aggregate against
a reference computed in plain Python, keyset paging, the same answers before
and after compaction, bad input answered 409 naming the parameter."""

from __future__ import annotations

import datetime
import json
import zoneinfo

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

START = "2026-01-26T00:00:00"
END = "2026-02-07T00:00:00"


# --- the reference: plain Python ---------------------------------------------------

UTC = datetime.timezone.utc


def local(t: datetime.datetime, tz: str) -> datetime.datetime:
    """A naive UTC time as the local time of zone `tz` (with its offset)."""
    return t.replace(tzinfo=UTC).astimezone(zoneinfo.ZoneInfo(tz))


def bucket(t: datetime.datetime, aggregate: str, tz: str = "UTC") -> datetime.datetime:
    """The start of `t`'s bucket, in local time of `tz`: a minute or hour of
    the local clock (with its offset: the hour that comes twice is two),
    a day, week or month from its local midnight."""
    t = local(t, tz)
    if aggregate == "none":
        return t
    if aggregate == "minute":
        return t.replace(second=0, microsecond=0)
    if aggregate == "hour":
        return t.replace(minute=0, second=0, microsecond=0)
    day = t.replace(hour=0, minute=0, second=0, microsecond=0, fold=0)
    if aggregate == "day":
        return day
    if aggregate == "week":
        return day - datetime.timedelta(days=day.weekday())
    return day.replace(day=1)


def reference(rows, aggregate, functions, fields, per_feature=True, start=START, end=END, features=None,
              tz="UTC"):
    """The answer computed in plain Python: rows in [start, end) (naive
    times are local times of `tz`), bucketed in `tz`, times with offsets."""
    zone = zoneinfo.ZoneInfo(tz)
    start, end = (store.parse_time(t if not isinstance(t, str) or t[-1:] == "Z" or "+" in t[10:]
                                   else datetime.datetime.fromisoformat(t).replace(tzinfo=zone))
                  for t in (start, end))
    rows = [r for r in rows if start <= r["time"] < end and (not features or r["feature"] in features)]
    if aggregate == "none":
        out = [{"time": local(r["time"], tz).isoformat(), "feature": r["feature"],
                **{f: r["values"].get(f) for f in fields}} for r in rows]
        return sorted(out, key=lambda r: (store.parse_time(r["time"]), r["feature"]))
    groups: dict = {}
    for r in rows:
        b = bucket(r["time"], aggregate, tz)
        # Grouped by the UTC instant of the bucket's start: two local
        # times differing by their offset only are two buckets.
        key = (b.astimezone(UTC), r["feature"] if per_feature else None)
        groups.setdefault(key, (b, []))[1].append(r)
    out = []
    for (_instant, feature), (b, members) in sorted(groups.items(), key=lambda kv: (kv[0][0], kv[0][1] or "")):
        record = {"time": b.isoformat()}
        if per_feature:
            record["feature"] = feature
        for f in fields:
            pairs = sorted(((r["time"], r["feature"], r["values"].get(f)) for r in members),
                           key=lambda p: (p[0], p[1]))
            values = [v for _t, _f, v in pairs if v is not None]
            for fn in functions:
                if fn == "avg":
                    result = sum(values) / len(values) if values else None
                elif fn == "sum":
                    result = sum(values) if values else None
                elif fn == "min":
                    result = min(values) if values else None
                elif fn == "max":
                    result = max(values) if values else None
                elif fn == "count":
                    result = len(values)
                elif fn == "first":
                    result = values[0] if values else None
                else:
                    result = values[-1] if values else None
                record[f"{f}_{fn}"] = result
        out.append(record)
    return out


def approx_records(records):
    return [{k: pytest.approx(v) if isinstance(v, float) else v for k, v in r.items()} for r in records]


def query_all(**params):
    """Every record of a query, following next_cursor."""
    records, cursor, pages = [], None, 0
    while True:
        answer = helpers.call_action("history_query", **params, **({"cursor": cursor} if cursor else {}))
        records.extend(answer["records"])
        pages += 1
        cursor = answer["next_cursor"]
        if cursor is None:
            return records, pages, answer


@pytest.fixture
def history():
    dataset = make_dataset("open")
    rid = dataset["resource_id"]
    rows = long_rows()
    store.ensure_schema(rid, FIELDS)
    store.write_rows(rid, rows)
    return rid, rows


# --- answers ------------------------------------------------------------------------

def test_raw_rows_with_fields_and_types(history):
    rid, rows = history
    answer = helpers.call_action("history_query", resource_id=rid, start=START, end=END, limit=10000)
    assert answer["fields"] == [{"id": "time", "type": "timestamp"}, {"id": "feature", "type": "text"},
                                {"id": "available_bikes", "type": "int"},
                                {"id": "available_bike_stands", "type": "int"},
                                {"id": "ratio", "type": "float"}, {"id": "status", "type": "text"}]
    assert answer["records"] == approx_records(reference(rows, "none", [], [f["name"] for f in FIELDS]))
    assert answer["next_cursor"] is None


@pytest.mark.parametrize("aggregate", ["minute", "hour", "day", "week", "month"])
@pytest.mark.parametrize("per_feature", [True, False])
def test_every_aggregate_matches_the_reference(history, aggregate, per_feature):
    rid, rows = history
    functions = ["avg", "min", "max", "sum", "count", "first", "last"]
    fields = ["available_bikes", "ratio"]
    records, _pages, answer = query_all(resource_id=rid, start=START, end=END, aggregate=aggregate,
                                        functions=functions, fields=fields, per_feature=per_feature,
                                        limit=5000)
    expected = reference(rows, aggregate, functions, fields, per_feature)
    assert records == approx_records(expected)
    ids = [f["id"] for f in answer["fields"]]
    assert ("feature" in ids) is per_feature
    assert "available_bikes_avg" in ids and "ratio_last" in ids


def test_text_fields_take_min_max_count_first_last(history):
    rid, rows = history
    functions = ["min", "max", "count", "first", "last"]
    records, _p, _a = query_all(resource_id=rid, start=START, end=END, aggregate="day",
                                functions=functions, fields=["status"], features=["B"])
    assert records == reference(rows, "day", functions, ["status"], features=["B"])


def test_features_and_range_filter(history):
    rid, rows = history
    records, _p, _a = query_all(resource_id=rid, start="2026-01-31T12:00:00", end="2026-02-01T06:00:00+00:00",
                                features="A,C", fields=["available_bikes"])
    assert records == reference(rows, "none", [], ["available_bikes"], start="2026-01-31T12:00:00",
                                end="2026-02-01T06:00:00", features=["A", "C"])
    assert {r["feature"] for r in records} == {"A", "C"}


def test_paging_has_no_gap_and_no_repeat(history):
    rid, rows = history
    whole = reference(rows, "none", [], ["available_bikes"])
    records, pages, _a = query_all(resource_id=rid, start=START, end=END, fields=["available_bikes"], limit=37)
    assert records == whole
    assert pages == len(whole) // 37 + 1
    agg, pages, _a = query_all(resource_id=rid, start=START, end=END, aggregate="hour",
                               functions=["count"], limit=10)
    assert agg == reference(rows, "hour", ["count"], [f["name"] for f in FIELDS])
    assert pages > 10


def _answers(rid):
    return {
        "raw": query_all(resource_id=rid, start=START, end=END, limit=500)[0],
        "hour": query_all(resource_id=rid, start=START, end=END, aggregate="hour",
                          functions=["avg", "count", "first", "last"], limit=5000)[0],
        "day-across": query_all(resource_id=rid, start=START, end=END, aggregate="day",
                                functions=["sum", "max"], per_feature=False)[0],
    }


def assert_same(after, before):
    assert after.keys() == before.keys()
    for key in before:
        assert after[key] == approx_records(before[key]), key


def test_compaction_keeps_the_answers_and_empties_the_hot_tier(history):
    rid, rows = history
    before = _answers(rid)
    result = archive.compact(rid, now=datetime.datetime(2026, 2, 18), retention=15)
    assert result["months"] == ["2026-01", "2026-02"]
    files = archive.month_files(rid, with_rows=True)
    assert [f.label for f in files] == ["2026-01", "2026-02"]
    cutoff = datetime.datetime(2026, 2, 3)
    assert sum(f.rows for f in files) == len([r for r in rows if r["time"] < cutoff])
    hot = store.hot_stats(rid)
    assert hot["rows"] == len([r for r in rows if r["time"] >= cutoff])
    assert_same(_answers(rid), before)
    # Everything archived.
    archive.compact(rid, now=datetime.datetime(2026, 4, 1), retention=1)
    assert store.hot_stats(rid)["rows"] == 0
    assert_same(_answers(rid), before)


def test_late_rows_are_merged_into_the_archived_month(history):
    rid, rows = history
    archive.compact(rid, now=datetime.datetime(2026, 4, 1), retention=1)
    late = [{"feature": "Z", "time": datetime.datetime(2026, 1, 28, 9, 30), "values": {"available_bikes": 4}},
            # Already archived: stored again in the hot tier, answered once.
            dict(rows[0])]
    store.register_features(rid, ["Z"])
    assert store.write_rows(rid, late) == 2
    records = query_all(resource_id=rid, start=START, end=END, limit=5000)[0]
    assert len(records) == len(rows) + 1
    archive.compact(rid, now=datetime.datetime(2026, 4, 1), retention=1)
    assert store.hot_stats(rid)["rows"] == 0
    assert sum(f.rows for f in archive.month_files(rid, with_rows=True)) == len(rows) + 1
    assert query_all(resource_id=rid, start=START, end=END, limit=5000)[0] == records


def test_a_crash_between_the_file_and_the_delete_leaves_the_answers_unchanged(history):
    rid, rows = history
    before = _answers(rid)
    result = archive.compact(rid, now=datetime.datetime(2026, 2, 18), retention=15, crash_after_write=True)
    assert result["crashed"]
    # January is in the file and still in the hot tier.
    assert archive.month_files(rid)[0].label == "2026-01"
    assert store.hot_stats(rid)["rows"] == len(rows)
    assert_same(_answers(rid), before)
    # The next compaction resolves the duplicates.
    archive.compact(rid, now=datetime.datetime(2026, 2, 18), retention=15)
    files = archive.month_files(rid, with_rows=True)
    assert sum(f.rows for f in files) == len([r for r in rows if r["time"] < datetime.datetime(2026, 2, 3)])
    assert_same(_answers(rid), before)


def test_archive_files_are_sorted_and_encoded(history):
    import pyarrow.parquet as pq

    rid, _rows = history
    archive.compact(rid, now=datetime.datetime(2026, 4, 1), retention=1)
    path = archive.month_files(rid)[0].path
    assert path.endswith("/year=2026/month=01/data.parquet") and f"/resource={rid}/" in path
    table = pq.read_table(path)
    keys = list(zip(table.column("feature").to_pylist(), table.column("time").to_pylist()))
    assert keys == sorted(keys) and len(set(keys)) == len(keys)
    column = pq.ParquetFile(path).metadata.row_group(0).column(1)
    assert column.path_in_schema == "time"
    assert "DELTA_BINARY_PACKED" in column.encodings
    assert column.compression == "ZSTD"


def test_history_show_reports_coverage(history):
    rid, rows = history
    archive.compact(rid, now=datetime.datetime(2026, 2, 18), retention=15)
    shown = helpers.call_action("history_show", resource_id=rid)
    coverage = shown["coverage"]
    assert coverage["rows"] == len(rows)
    assert coverage["hot_rows"] + coverage["archived_rows"] == len(rows)
    assert coverage["archived_rows"] > 0 and coverage["hot_rows"] > 0
    assert coverage["first"] == min(r["time"] for r in rows).isoformat()
    assert coverage["last"] == max(r["time"] for r in rows).isoformat()
    assert coverage["months"] == ["2026-01", "2026-02"]
    assert shown["gaps"] == [] and shown["feed"] is None


def test_history_show_counts_a_row_in_both_tiers_once(history):
    """Defect 13: rows sent again after their month was archived (a feed
    resending its past, an import run twice) land in the hot tier; until the
    next compaction, history_show counted them twice."""
    rid, rows = history
    archive.compact(rid, now=datetime.datetime(2026, 4, 1), retention=1)
    january = [dict(r) for r in rows if r["time"] < datetime.datetime(2026, 2, 1)]
    late = {"feature": "Z", "time": datetime.datetime(2026, 1, 28, 9, 30),
            "values": {"available_bikes": 4}}
    store.register_features(rid, ["Z"])
    assert store.write_rows(rid, january[:44] + [late]) == 45
    coverage = helpers.call_action("history_show", resource_id=rid)["coverage"]
    assert (coverage["rows"], coverage["archived_rows"], coverage["hot_rows"]) == (
        len(rows) + 1, len(rows), 1)
    records = query_all(resource_id=rid, start=START, end=END, limit=5000)[0]
    assert len(records) == coverage["rows"]
    archive.compact(rid, now=datetime.datetime(2026, 4, 1), retention=1)
    assert helpers.call_action("history_show", resource_id=rid)["coverage"] == coverage | {
        "hot_rows": 0, "archived_rows": len(rows) + 1}


# --- bad input: 409 naming the parameter ---------------------------------------------

BAD = [
    ("start", {"start": "2026-02-01", "end": "2026-01-01"}),
    ("start", {"start": "yesterday"}),
    ("end", {"end": "2026-13-45"}),
    ("features", {"features": ["A", "nope"]}),
    ("fields", {"fields": ["available_bikes", "x\"; DROP TABLE history_row; --"]}),
    ("fields", {"fields": "time"}),
    ("aggregate", {"aggregate": "decade"}),
    ("functions", {"aggregate": "hour", "functions": ["median"]}),
    ("functions", {"aggregate": "hour", "functions": "avg); DROP TABLE x; --"}),
    ("end", {"start": "2020-01-01", "end": "2026-01-01"}),
    ("end", {"aggregate": "minute", "start": "2020-01-01", "end": "2026-01-01"}),
    ("limit", {"limit": 0}),
    ("limit", {"limit": "ten"}),
    ("limit", {"limit": 10**9}),
    ("cursor", {"cursor": "not-a-cursor"}),
    ("per_feature", {"aggregate": "hour", "per_feature": "maybe"}),
    ("fields", {"aggregate": "hour", "functions": ["avg"], "fields": ["status"]}),
]


@pytest.mark.parametrize("key, params", BAD, ids=[f"{k}-{i}" for i, (k, _p) in enumerate(BAD)])
def test_bad_input_answers_409_naming_the_parameter(app, history, key, params):
    rid, _rows = history
    body = {"resource_id": rid, "start": START, "end": END, **params}
    res = app.post("/api/3/action/history_query", json=body, headers={"Authorization": _token()})
    assert res.status_code == 409, res.get_data(as_text=True)[:300]
    error = json.loads(res.get_data(as_text=True))["error"]
    assert error["__type"] == "Validation Error" and key in error
    assert store.hot_stats(rid)["rows"] > 0  # nothing was dropped


def test_a_resource_without_history_is_missing(app):
    dataset = make_dataset("open")
    res = app.post("/api/3/action/history_query", json={"resource_id": dataset["resource_id"]},
                   headers={"Authorization": _token()})
    assert res.status_code == 404


@pytest.mark.ckan_config("ckanext.history.query.max_points", "100")
def test_the_maximum_of_buckets_comes_from_the_config(history):
    rid, _rows = history
    with pytest.raises(Exception) as error:
        helpers.call_action("history_query", resource_id=rid, start=START, end=END, aggregate="hour")
    assert "end" in error.value.error_dict
    helpers.call_action("history_query", resource_id=rid, start=START, end=END, aggregate="day")


def _token() -> str:
    return make_actor(sysadmin=True).token
