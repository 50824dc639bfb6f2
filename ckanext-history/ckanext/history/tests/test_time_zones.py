"""Local time in history queries and downloads (`tz`): hourly and daily
buckets of Europe/Paris across both DST days of 2026 (a 23-hour day on
2026-03-29, a 25-hour one on 2026-10-25) in the hot tier, the archive and a
range spanning both, against the plain reference of test_query; times with
their offset in JSON and CSV; naive input times read in the zone, those the
clocks skip or pass twice and unknown zones refused by name; the portal's
zone by default."""

from __future__ import annotations

import csv
import datetime
import io
import json

import pyarrow.parquet as pq
import pytest
from ckanext.grandlyon_access.testing.pytest_plugin import make_actor
from ckanext.history import archive, store
from ckanext.history.tests import history_support
from ckanext.history.tests.history_support import FIELDS, make_dataset
from ckanext.history.tests.test_query import approx_records, query_all, reference

archive_dir = history_support.archive_dir
pytestmark = pytest.mark.usefixtures("clean_db", "archive_dir")

PARIS = "Europe/Paris"
# Both DST days of 2026 in Paris, with a day on each side (naive UTC).
DAYS = [
    (datetime.datetime(2026, 3, 27, 22), datetime.datetime(2026, 3, 30, 22)),
    (datetime.datetime(2026, 10, 23, 22), datetime.datetime(2026, 10, 26, 23)),
]
STEP = datetime.timedelta(minutes=10)
FEATURES = ("A", "B")


def dst_rows() -> list[dict]:
    """A reading every 10 minutes of two features (B a minute after A, so
    that `first` and `last` across features are defined) around both DST
    days."""
    rows = []
    for first, last in DAYS:
        t, n = first, 0
        while t < last:
            for i, feature in enumerate(FEATURES):
                bikes = (n * 7 + i * 5) % 29
                rows.append(
                    {
                        "feature": feature,
                        "time": t + datetime.timedelta(minutes=i),
                        "values": {
                            "available_bikes": bikes,
                            "available_bike_stands": 29 - bikes,
                            "ratio": round(bikes / 29, 4),
                            "status": "OPEN",
                        },
                    }
                )
            t, n = t + STEP, n + 1
    return rows


def _history(tier: str) -> tuple[dict, list[dict]]:
    user = make_actor(sysadmin=True)
    dataset = make_dataset("open", user=user.name)
    dataset["headers"] = user.headers
    rid = dataset["resource_id"]
    rows = dst_rows()
    store.ensure_schema(rid, FIELDS)
    store.write_rows(rid, rows)
    if tier == "archive":
        archive.compact(rid, now=datetime.datetime(2026, 12, 1), retention=1)
        assert store.hot_stats(rid)["rows"] == 0
    elif tier == "spanning":
        # Cut at noon UTC of the 25-hour day: its morning archived, its
        # afternoon hot.
        archive.compact(rid, now=datetime.datetime(2026, 11, 19, 12), retention=25)
        hot = store.hot_stats(rid)
        assert hot["first"] == datetime.datetime(2026, 10, 25, 12) and 0 < hot["rows"] < len(rows)
    return dataset, rows


@pytest.fixture
def history():
    return _history("hot")


def api(app, headers, **params):
    res = app.post("/api/3/action/history_query", json=params, headers=headers)
    return res.status_code, json.loads(res.get_data(as_text=True))


def download(app, dataset, **params):
    url = f"/dataset/{dataset['name']}/resource/{dataset['resource_id']}/history/download"
    return app.get(url, query_string=params, headers=dataset["headers"])


# --- buckets across DST changes ---------------------------------------------------------


@pytest.mark.parametrize("tier", ["hot", "archive", "spanning"])
def test_dst_days_have_23_and_25_hours_in_every_tier(tier):
    dataset, rows = _history(tier)
    rid = dataset["resource_id"]
    for start, end in (
        ("2026-03-28T00:00:00", "2026-03-31T00:00:00"),
        ("2026-10-24T00:00:00", "2026-10-27T00:00:00"),
    ):
        for aggregate, per_feature in (
            ("day", True),
            ("day", False),
            ("hour", True),
            ("hour", False),
        ):
            functions = ["avg", "min", "max", "sum", "count", "first", "last"]
            records, _p, _a = query_all(
                resource_id=rid,
                start=start,
                end=end,
                tz=PARIS,
                aggregate=aggregate,
                functions=functions,
                fields=["available_bikes", "ratio"],
                per_feature=per_feature,
                limit=5000,
            )
            assert records == approx_records(
                reference(
                    rows,
                    aggregate,
                    functions,
                    ["available_bikes", "ratio"],
                    per_feature,
                    start=start,
                    end=end,
                    tz=PARIS,
                )
            ), (start, aggregate, per_feature)
    days, _p, _a = query_all(
        resource_id=rid,
        start="2026-03-28",
        end="2026-10-27",
        tz=PARIS,
        aggregate="day",
        functions=["count"],
        fields=["available_bikes"],
        features=["A"],
    )
    counts = {r["time"]: r["available_bikes_count"] for r in days}
    # A reading every 10 minutes: 6 an hour, over 23 and 25 hours.
    assert counts["2026-03-28T00:00:00+01:00"] == 24 * 6
    assert counts["2026-03-29T00:00:00+01:00"] == 23 * 6
    assert counts["2026-03-30T00:00:00+02:00"] == 24 * 6
    assert counts["2026-10-24T00:00:00+02:00"] == 24 * 6
    assert counts["2026-10-25T00:00:00+02:00"] == 25 * 6
    assert counts["2026-10-26T00:00:00+01:00"] == 24 * 6


def test_hours_around_the_changes_are_distinct_and_labelled(history):
    dataset, _rows = history
    rid = dataset["resource_id"]
    spring, _p, _a = query_all(
        resource_id=rid,
        start="2026-03-29T00:00:00",
        end="2026-03-29T05:00:00",
        tz=PARIS,
        aggregate="hour",
        functions=["count"],
        fields=["available_bikes"],
        per_feature=False,
    )
    assert [(r["time"], r["available_bikes_count"]) for r in spring] == [
        ("2026-03-29T00:00:00+01:00", 12),
        ("2026-03-29T01:00:00+01:00", 12),
        ("2026-03-29T03:00:00+02:00", 12),
        ("2026-03-29T04:00:00+02:00", 12),
    ]
    autumn, _p, _a = query_all(
        resource_id=rid,
        start="2026-10-25T01:00:00",
        end="2026-10-25T04:00:00",
        tz=PARIS,
        aggregate="hour",
        functions=["count"],
        fields=["available_bikes"],
        per_feature=False,
    )
    assert [(r["time"], r["available_bikes_count"]) for r in autumn] == [
        ("2026-10-25T01:00:00+02:00", 12),
        ("2026-10-25T02:00:00+02:00", 12),
        ("2026-10-25T02:00:00+01:00", 12),
        ("2026-10-25T03:00:00+01:00", 12),
    ]
    raw, _p, _a = query_all(
        resource_id=rid,
        start="2026-10-25T00:50:00Z",
        end="2026-10-25T01:10:00Z",
        tz=PARIS,
        features=["A"],
        fields=["available_bikes"],
    )
    assert [r["time"] for r in raw] == ["2026-10-25T02:50:00+02:00", "2026-10-25T02:00:00+01:00"]


def test_pages_follow_local_buckets(history):
    """Keyset pages of local hours and days have no gap and no repeat
    across both changes."""
    dataset, rows = history
    rid = dataset["resource_id"]
    for aggregate, per_feature in (("hour", True), ("hour", False), ("day", True)):
        params = dict(
            resource_id=rid,
            start="2026-03-28",
            end="2026-10-27",
            tz=PARIS,
            aggregate=aggregate,
            functions=["count", "last"],
            fields=["available_bikes"],
            per_feature=per_feature,
        )
        paged, pages, _a = query_all(**params, limit=7)
        assert pages >= 2
        assert paged == reference(
            rows,
            aggregate,
            ["count", "last"],
            ["available_bikes"],
            per_feature,
            start="2026-03-28",
            end="2026-10-27",
            tz=PARIS,
        )


def test_weeks_and_months_start_at_local_midnight(history):
    dataset, rows = history
    rid = dataset["resource_id"]
    for aggregate in ("week", "month", "minute"):
        start, end = (
            ("2026-10-25T01:00:00Z", "2026-10-25T03:00:00Z")
            if aggregate == "minute"
            else ("2026-03-01T00:00:00", "2026-11-01T00:00:00")
        )
        records, _p, _a = query_all(
            resource_id=rid,
            start=start,
            end=end,
            tz=PARIS,
            aggregate=aggregate,
            functions=["count", "avg"],
            fields=["available_bikes"],
            limit=5000,
        )
        assert records == approx_records(
            reference(
                rows,
                aggregate,
                ["count", "avg"],
                ["available_bikes"],
                start=start,
                end=end,
                tz=PARIS,
            )
        ), aggregate
    months, _p, _a = query_all(
        resource_id=rid,
        start="2026-03-01",
        end="2026-11-01",
        tz=PARIS,
        aggregate="month",
        functions=["count"],
        per_feature=False,
    )
    assert [r["time"] for r in months] == ["2026-03-01T00:00:00+01:00", "2026-10-01T00:00:00+02:00"]


# --- input times ------------------------------------------------------------------------


def test_naive_times_are_local_and_offsets_exact(history):
    dataset, _rows = history
    rid = dataset["resource_id"]
    local, _p, _a = query_all(
        resource_id=rid,
        start="2026-03-29T00:00:00",
        end="2026-03-29T00:20:00",
        tz=PARIS,
        features=["A"],
        fields=["available_bikes"],
    )
    assert [r["time"] for r in local] == ["2026-03-29T00:00:00+01:00", "2026-03-29T00:10:00+01:00"]
    for start in ("2026-03-28T23:00:00Z", "2026-03-29T00:00:00+01:00", "2026-03-28T18:00:00-05:00"):
        exact, _p, _a = query_all(
            resource_id=rid,
            start=start,
            end="2026-03-28T23:20:00Z",
            tz=PARIS,
            features=["A"],
            fields=["available_bikes"],
        )
        assert exact == local, start
    in_utc, _p, _a = query_all(
        resource_id=rid,
        start="2026-03-29T00:00:00",
        end="2026-03-29T00:20:00",
        tz="UTC",
        features=["A"],
        fields=["available_bikes"],
    )
    assert [r["time"] for r in in_utc] == ["2026-03-29T00:00:00+00:00", "2026-03-29T00:10:00+00:00"]


@pytest.mark.parametrize("key", ["start", "end"])
def test_local_times_skipped_or_repeated_are_refused_naming_the_field(app, history, key):
    dataset, _rows = history
    other = "end" if key == "start" else "start"
    around = {"start": "2026-03-28T00:00:00", "end": "2026-10-27T00:00:00"}
    status, body = api(
        app,
        dataset["headers"],
        resource_id=dataset["resource_id"],
        tz=PARIS,
        **{other: around[other], key: "2026-03-29T02:30:00"},
    )
    assert status == 409 and set(body["error"]) == {"__type", key}, body
    # In the portal's language (French by default).
    assert "n'existe pas" in body["error"][key][0] and PARIS in body["error"][key][0]
    status, body = api(
        app,
        dataset["headers"],
        resource_id=dataset["resource_id"],
        tz=PARIS,
        **{other: around[other], key: "2026-10-25T02:30:00"},
    )
    assert status == 409 and "a lieu deux fois" in body["error"][key][0]
    assert "+02:00" in body["error"][key][0] and "+01:00" in body["error"][key][0]
    res = download(app, dataset, tz=PARIS, **{other: around[other], key: "2026-10-25T02:30:00"})
    assert res.status_code == 400 and res.get_data(as_text=True).startswith(f"{key}: ")
    # With its offset, the repeated time is either of the two instants.
    for offset in ("+02:00", "+01:00"):
        status, body = api(
            app,
            dataset["headers"],
            resource_id=dataset["resource_id"],
            tz=PARIS,
            **{other: around[other], key: f"2026-10-25T02:30:00{offset}"},
        )
        assert status == 200, body


@pytest.mark.parametrize(
    "tz",
    [
        "Mars/Olympus",
        "../etc/passwd",
        "+01:00",
        "",
        "x" * 500,
        "localtime",
        "/usr/share/zoneinfo/Europe/Paris",
        3600,
        ["Europe/Paris"],
    ],
)
def test_an_unknown_zone_is_refused_naming_tz(app, history, tz):
    dataset, _rows = history
    status, body = api(app, dataset["headers"], resource_id=dataset["resource_id"], tz=tz)
    assert status == 409, body
    assert list(body["error"]["tz"]) and "IANA" in body["error"]["tz"][0]
    if isinstance(tz, str):
        res = download(app, dataset, tz=tz)
        assert res.status_code == 400 and res.get_data(as_text=True).startswith("tz: "), tz


# --- answers: JSON, CSV, the default zone --------------------------------------------------


def test_downloads_carry_the_zone_and_offsets(app, history):
    dataset, _rows = history
    window = {
        "start": "2026-10-25T02:40:00+02:00",
        "end": "2026-10-25T02:20:00+01:00",
        "tz": PARIS,
        "features": "A",
        "fields": "available_bikes",
    }
    expected = [
        "2026-10-25T02:40:00+02:00",
        "2026-10-25T02:50:00+02:00",
        "2026-10-25T02:00:00+01:00",
        "2026-10-25T02:10:00+01:00",
    ]
    res = download(app, dataset, format="csv", **window)
    assert res.status_code == 200, res.get_data(as_text=True)
    table = list(csv.reader(io.StringIO(res.get_data(as_text=True))))
    assert table[0] == ["time (Europe/Paris)", "feature", "available_bikes"]
    assert [line[0] for line in table[1:]] == expected
    res = download(app, dataset, format="json", **window)
    assert [r["time"] for r in json.loads(res.get_data(as_text=True))] == expected
    res = download(app, dataset, format="jsonl", **window)
    assert [
        json.loads(line)["time"] for line in res.get_data(as_text=True).splitlines()
    ] == expected
    res = download(
        app,
        dataset,
        format="csv",
        aggregate="hour",
        functions="count",
        per_feature="false",
        **{k: v for k, v in window.items() if k != "features"},
    )
    table = list(csv.reader(io.StringIO(res.get_data(as_text=True))))
    assert table[0] == ["time (Europe/Paris)", "available_bikes_count"]
    assert table[1:] == [["2026-10-25T02:00:00+02:00", "4"], ["2026-10-25T02:00:00+01:00", "4"]]
    res = download(app, dataset, format="parquet", **window)
    table = pq.read_table(io.BytesIO(res.get_data()))
    assert table.schema.field("time").type.tz == PARIS
    assert [t.isoformat() for t in table.column("time").to_pylist()] == expected


@pytest.mark.ckan_config("ckan.display_timezone", "America/New_York")
def test_the_default_zone_is_the_portals(history):
    dataset, _rows = history
    records, _p, _a = query_all(
        resource_id=dataset["resource_id"],
        start="2026-03-28T00:00:00",
        end="2026-03-28T00:20:00",
        features=["A"],
        fields=["available_bikes"],
    )
    assert [r["time"] for r in records] == [
        "2026-03-28T00:00:00-04:00",
        "2026-03-28T00:10:00-04:00",
    ]


@pytest.mark.ckan_config("ckan.display_timezone", "server")
def test_a_server_zone_is_utc(history):
    dataset, _rows = history
    records, _p, _a = query_all(
        resource_id=dataset["resource_id"],
        start="2026-03-28T00:00:00",
        end="2026-03-28T00:20:00",
        features=["A"],
        fields=["available_bikes"],
    )
    assert [r["time"] for r in records] == [
        "2026-03-28T00:00:00+00:00",
        "2026-03-28T00:10:00+00:00",
    ]


def test_rows_spanning_centuries_are_refused_in_a_zone_naming_tz(app, history):
    """The offsets of a zone reach the query as its changes over the rows'
    span: over more than 400 years, a 409 (400 in downloads) naming tz,
    never a 500; in UTC the query answers."""
    dataset, _rows = history
    rid = dataset["resource_id"]
    store.write_rows(
        rid,
        [
            {
                "feature": "A",
                "time": datetime.datetime(year, 6, 1, 12),
                "values": {"available_bikes": 1},
            }
            for year in (1900, 2400)
        ],
    )
    params = {
        "start": "1900-01-01T00:00:00Z",
        "end": "2401-01-01T00:00:00Z",
        "aggregate": "month",
        "functions": "count",
        "per_feature": "false",
        "fields": "available_bikes",
    }
    status, body = api(app, dataset["headers"], resource_id=rid, tz=PARIS, **params)
    assert status == 409 and "tz" in body["error"], body
    res = download(app, dataset, tz=PARIS, **params)
    assert res.status_code == 400 and res.get_data(as_text=True).startswith("tz: ")
    status, body = api(app, dataset["headers"], resource_id=rid, tz="UTC", **params)
    assert status == 200 and body["result"]["records"][0] == {
        "time": "1900-06-01T00:00:00+00:00",
        "available_bikes_count": 1,
    }


@pytest.mark.parametrize("tier", ["hot", "spanning"])
def test_every_aggregate_in_a_zone_matches_the_reference(tier):
    """test_query's rows (ten days across a month and weeks) in every
    aggregate, local to Europe/Paris and to a zone behind UTC, naive bounds
    read in the zone."""
    dataset = make_dataset("open")
    rid = dataset["resource_id"]
    rows = history_support.long_rows()
    store.ensure_schema(rid, FIELDS)
    store.write_rows(rid, rows)
    if tier == "spanning":
        archive.compact(rid, now=datetime.datetime(2026, 2, 18), retention=15)
    functions = ["avg", "min", "max", "sum", "count", "first", "last"]
    fields = ["available_bikes", "ratio"]
    for tz in (PARIS, "America/Sao_Paulo"):
        for aggregate in ("minute", "hour", "day", "week", "month"):
            for per_feature in (True, False):
                records, _p, _a = query_all(
                    resource_id=rid,
                    start="2026-01-26T00:00:00",
                    end="2026-02-07T00:00:00",
                    tz=tz,
                    aggregate=aggregate,
                    functions=functions,
                    fields=fields,
                    per_feature=per_feature,
                    limit=10000,
                )
                assert records == approx_records(
                    reference(
                        rows,
                        aggregate,
                        functions,
                        fields,
                        per_feature,
                        start="2026-01-26T00:00:00",
                        end="2026-02-07T00:00:00",
                        tz=tz,
                    )
                ), (tz, aggregate, per_feature)
