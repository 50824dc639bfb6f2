"""Aggregates over hot rows computed by PostgreSQL (query.hot_partials_sql):
every function and aggregate over hot-only, archive-only and spanning
ranges, in UTC and Europe/Paris across both DST days of 2026, against the
plain reference of test_query (a bool field too; timestamps and accented
text equal across both engines); PostgreSQL answers one row per bucket,
not the rows; late rows of an archived month still count once; the raw
read of one feature has an index to use.

One database for the module: three histories of the same rows, one per
tier (hot, archive, spanning), built once."""

from __future__ import annotations

import datetime

import ckan.plugins.toolkit as tk
import pytest
from ckanext.history import archive, store
from ckanext.history.tests.history_support import CHANGES_FEATURES as FEATURES
from ckanext.history.tests.history_support import FIELDS, changes_rows, make_dataset
from ckanext.history.tests.test_query import approx_records, query_all, reference

PARIS = "Europe/Paris"
FUNCTIONS = ["avg", "min", "max", "sum", "count", "first", "last"]
# The spanning history: rows before noon UTC of the 25-hour day archived.
CUT = datetime.datetime(2026, 10, 25, 12)


ARCHIVE = "ckanext.history.archive.path"


@pytest.fixture(scope="module")
def module_archive(tmp_path_factory):
    return str(tmp_path_factory.mktemp("archive"))


@pytest.fixture(autouse=True)
def _archive_path(module_archive, ckan_config, monkeypatch):
    """The module's archive folder, for every test (the configuration is
    reset between tests)."""
    monkeypatch.setitem(ckan_config, ARCHIVE, module_archive)


@pytest.fixture(scope="module")
def histories(portal_for_module, module_archive):
    before = tk.config.get(ARCHIVE)
    tk.config[ARCHIVE] = module_archive
    rows = changes_rows()
    out = {}
    for tier in ("hot", "archive", "spanning"):
        rid = make_dataset("open")["resource_id"]
        store.ensure_schema(rid, FIELDS)
        store.write_rows(rid, rows)
        tier_rows = list(rows)
        if tier == "archive":
            archive.compact(rid, now=datetime.datetime(2026, 12, 1), retention=1)
            assert store.hot_stats(rid)["rows"] == 0
        elif tier == "spanning":
            archive.compact(rid, now=CUT + datetime.timedelta(days=25), retention=25)
            hot = store.hot_stats(rid)
            assert hot["first"] >= CUT and 0 < hot["rows"] < len(rows)
            # Late rows of archived months, in the hot tier: one new, one
            # already archived (counted once).
            late = {
                "feature": "A",
                "time": datetime.datetime(2026, 6, 11, 3, 2, 30),
                "values": {
                    "available_bikes": 28,
                    "available_bike_stands": 1,
                    "ratio": 0.9655,
                    "status": "OPEN",
                },
            }
            store.write_rows(rid, [late, dict(rows[0])])
            tier_rows.append(late)
        out[tier] = (rid, tier_rows)
    tk.config[ARCHIVE] = before
    return out


RANGES = [
    # The spring change, the autumn one, and the whole year's rows.
    ("2026-03-27T00:00:00", "2026-03-31T00:00:00", ("hour", "day")),
    ("2026-10-23T00:00:00", "2026-10-27T00:00:00", ("hour", "day")),
    ("2026-10-25T01:00:00Z", "2026-10-25T03:00:00Z", ("minute",)),
    ("2026-03-01T00:00:00", "2026-11-01T00:00:00", ("day", "week", "month")),
]


@pytest.mark.parametrize("tz", ["UTC", PARIS])
@pytest.mark.parametrize("tier", ["hot", "archive", "spanning"])
def test_every_aggregate_matches_the_reference(histories, tier, tz):
    rid, rows = histories[tier]
    fields = ["available_bikes", "ratio", "status"]
    numeric = ["available_bikes", "ratio"]
    for start, end, aggregates in RANGES:
        for aggregate in aggregates:
            for per_feature in (True, False):
                for functions, names in (
                    (FUNCTIONS, numeric),
                    (["min", "max", "count", "first", "last"], fields),
                ):
                    records, _p, _a = query_all(
                        resource_id=rid,
                        start=start,
                        end=end,
                        tz=tz,
                        aggregate=aggregate,
                        functions=functions,
                        fields=names,
                        per_feature=per_feature,
                        limit=5000,
                    )
                    expected = reference(
                        rows, aggregate, functions, names, per_feature, start=start, end=end, tz=tz
                    )
                    assert records and records == approx_records(expected), (
                        start,
                        aggregate,
                        per_feature,
                    )


@pytest.mark.parametrize("tier", ["hot", "spanning"])
def test_a_bool_field_in_both_engines(histories, tier):
    """min and max of a bool are bool_and and bool_or in PostgreSQL; avg
    and sum count its true values."""
    fields = [*FIELDS, {"name": "open", "type": "bool"}]
    rid = make_dataset("open")["resource_id"]
    store.ensure_schema(rid, fields)
    rows = [
        {**r, "values": {**r["values"], "open": None if i % 13 == 5 else (i * 7) % 5 != 0}}
        for i, r in enumerate(changes_rows())
    ]
    store.write_rows(rid, rows)
    if tier == "spanning":
        archive.compact(rid, now=CUT + datetime.timedelta(days=25), retention=25)
        assert 0 < store.hot_stats(rid)["rows"] < len(rows)
    start, end = "2026-10-23T00:00:00", "2026-10-27T00:00:00"
    for aggregate in ("hour", "day"):
        for per_feature in (True, False):
            records, _p, _a = query_all(
                resource_id=rid,
                start=start,
                end=end,
                tz=PARIS,
                aggregate=aggregate,
                functions=FUNCTIONS,
                fields=["open"],
                per_feature=per_feature,
                limit=5000,
            )
            expected = reference(
                rows, aggregate, FUNCTIONS, ["open"], per_feature, start=start, end=end, tz=PARIS
            )
            assert records and records == approx_records(expected), (aggregate, per_feature)


def test_timestamps_and_text_in_both_engines(histories):
    """A timestamp field and text in mixed case and accents: min, max,
    count, first and last over hot rows (PostgreSQL, text in code point
    order whatever the database's collation) are those over the same rows
    archived (DuckDB), and text those of the reference."""
    fields = [{"name": "status", "type": "text"}, {"name": "updated", "type": "timestamp"}]
    words = ["OPEN", "ouvert", "Écully", "zèbre", "Zoo", "éa", "eb"]
    rows = [
        {
            "feature": r["feature"],
            "time": r["time"],
            "values": {
                "status": None if i % 11 == 3 else words[(i * 5) % len(words)],
                "updated": (r["time"] - datetime.timedelta(seconds=(i * 37) % 300)).isoformat(),
            },
        }
        for i, r in enumerate(changes_rows())
    ]
    answers = {}
    for tier in ("hot", "archive"):
        rid = make_dataset("open")["resource_id"]
        store.ensure_schema(rid, fields)
        store.write_rows(rid, rows)
        if tier == "archive":
            archive.compact(rid, now=datetime.datetime(2026, 12, 1), retention=1)
        functions = ["min", "max", "count", "first", "last"]
        answers[tier] = [
            query_all(
                resource_id=rid,
                start="2026-10-24T00:00:00",
                end="2026-10-27T00:00:00",
                tz=PARIS,
                aggregate=aggregate,
                functions=functions,
                fields=["status", "updated"],
                per_feature=per_feature,
                limit=5000,
            )[0]
            for aggregate in ("hour", "day")
            for per_feature in (True, False)
        ]
        text = query_all(
            resource_id=rid,
            start="2026-10-24T00:00:00",
            end="2026-10-27T00:00:00",
            tz=PARIS,
            aggregate="day",
            functions=functions,
            fields=["status"],
            per_feature=False,
        )[0]
        assert text == reference(
            rows,
            "day",
            functions,
            ["status"],
            False,
            start="2026-10-24T00:00:00",
            end="2026-10-27T00:00:00",
            tz=PARIS,
        )
    assert answers["hot"] == answers["archive"] and all(answers["hot"])


def test_paging_through_hot_buckets(histories):
    rid, rows = histories["spanning"]
    params = dict(
        resource_id=rid,
        start="2026-10-23T00:00:00",
        end="2026-10-27T00:00:00",
        tz=PARIS,
        aggregate="hour",
        functions=["avg", "last"],
        fields=["available_bikes"],
    )
    records, pages, _a = query_all(**params, limit=17)
    assert pages > 10
    assert records == approx_records(
        reference(
            rows,
            "hour",
            ["avg", "last"],
            ["available_bikes"],
            True,
            start=params["start"],
            end=params["end"],
            tz=PARIS,
        )
    )


def test_postgresql_answers_buckets_not_rows(histories):
    """The old path fetched every hot row of the range into DuckDB; now
    PostgreSQL sends one row per bucket (and feature)."""
    rid, rows = histories["hot"]
    day = [
        r
        for r in rows
        if datetime.datetime(2026, 10, 24, 22) <= r["time"] < datetime.datetime(2026, 10, 25, 23)
    ]
    for per_feature, buckets in ((False, 25), (True, 25 * len(FEATURES))):
        fetched = store.FETCHED["rows"]
        answer = tk.get_action("history_query")(
            {"ignore_auth": True},
            {
                "resource_id": rid,
                "start": "2026-10-25",
                "end": "2026-10-26",
                "tz": PARIS,
                "aggregate": "hour",
                "functions": ["avg", "count"],
                "per_feature": per_feature,
                "limit": 5000,
            },
        )
        assert len(answer["records"]) == buckets
        assert store.FETCHED["rows"] - fetched == buckets < len(day)
        assert sum(r["available_bikes_count"] for r in answer["records"]) == len(
            [r for r in day if r["values"]["available_bikes"] is not None]
        )


def test_spanning_fetches_only_late_hot_rows(histories):
    """A range over both tiers: the archive read by DuckDB, the hot rows
    after the archive's last time aggregated by PostgreSQL, the late row of
    an archived month (and its already archived twin) fetched as rows."""
    rid, _rows = histories["spanning"]
    fetched = store.FETCHED["rows"]
    answer = tk.get_action("history_query")(
        {"ignore_auth": True},
        {
            "resource_id": rid,
            "start": "2026-03-01",
            "end": "2026-11-01",
            "tz": PARIS,
            "aggregate": "day",
            "functions": ["count"],
            "fields": ["available_bikes"],
            "per_feature": False,
        },
    )
    hot_days = {r["time"] for r in answer["records"] if r["time"] >= "2026-10-25"}
    assert hot_days == {
        "2026-10-25T00:00:00+02:00",
        "2026-10-26T00:00:00+01:00",
        "2026-10-27T00:00:00+01:00",
    }
    # The late rows (June, March) and one bucket per hot day.
    assert store.FETCHED["rows"] - fetched == 2 + len(hot_days)


def test_one_feature_over_a_week_reads_an_index(histories):
    """Raw reads of one feature (the chart of a station) go through the
    primary key (resource, feature, time) of each monthly partition."""
    rid, _rows = histories["hot"]
    sql = store.hot_select_sql(FIELDS, "one") + ' ORDER BY "time" LIMIT 1001'
    bound = {
        "rid": rid,
        "start": datetime.datetime(2026, 10, 20),
        "end": datetime.datetime(2026, 10, 27),
        "feature": "B",
        **{f"f{i}": f["name"] for i, f in enumerate(FIELDS)},
    }
    raw = store.engine().raw_connection()
    try:
        cur = raw.cursor()
        cur.execute("ANALYZE history_row")
        # A few hundred rows make a sequential scan as cheap as any: ask
        # which index serves the condition (at scale, the bench shows it).
        cur.execute("SET LOCAL enable_seqscan = off")
        cur.execute("EXPLAIN " + sql, bound)
        plan = "\n".join(r[0] for r in cur.fetchall())
    finally:
        raw.rollback()
        raw.close()
    # An index scan (plain or bitmap) of the partition's primary key with
    # the feature in its condition, not a filter over all stations' rows.
    scan = plan.split("Index Scan on " if "Bitmap" in plan else "Index Scan using ", 1)[1]
    assert scan.startswith("p202610_pkey"), plan
    assert "feature = 'B'::text" in scan.split("Index Cond", 1)[1], plan
