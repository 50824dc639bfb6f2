"""history_query and the downloads at the edges: ranges without rows,
dates at the limits of their types, NUL characters, forged cursors. Never
a 500: a 200 (an empty range is zero records and a valid empty file), or a
validation error naming the parameter (409 in the action API, 400 in the
downloads, 400 from the portal's NUL guard). Then the same, drawn by
hypothesis."""

from __future__ import annotations

import base64
import csv
import datetime
import hashlib
import io
import json
import string

import ckan.plugins.toolkit as tk
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from ckan.tests import helpers
from ckanext.grandlyon_access.testing.pytest_plugin import make_actor
from ckanext.history import query, store
from ckanext.history.tests import history_support
from ckanext.history.tests.history_support import FIELDS, long_rows, make_dataset
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

archive_dir = history_support.archive_dir
pytestmark = [
    pytest.mark.usefixtures("clean_db", "archive_dir"),
    pytest.mark.ckan_config("ckanext.grandlyon_access.outbound.allow", "127.0.0.1"),
    # The times of these tests are UTC (test_time_zones.py: other zones).
    pytest.mark.ckan_config("ckan.display_timezone", "UTC"),
]

PARAMETERS = (
    "resource_id",
    "start",
    "end",
    "features",
    "fields",
    "aggregate",
    "functions",
    "per_feature",
    "limit",
    "cursor",
    "format",
)


def cursor_of(*items) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(items)).encode()).decode().rstrip("=")


@pytest.fixture
def sysadmin():
    user = make_actor(sysadmin=True)
    return user.name, user.headers


@pytest.fixture
def new_feed(sysadmin):
    """A dataset whose resource has just been given a feed: no row yet."""
    name, _headers = sysadmin
    dataset = make_dataset("open", user=name)
    helpers.call_action(
        "history_feed_create",
        context={"user": name},
        resource_id=dataset["resource_id"],
        url="http://127.0.0.1:9/feed.geojson",
        format="geojson",
        feature_id_field="number",
        fields=FIELDS,
    )
    return dataset


@pytest.fixture
def filled(sysadmin):
    name, _headers = sysadmin
    dataset = make_dataset("open", user=name)
    store.ensure_schema(dataset["resource_id"], FIELDS)
    store.write_rows(dataset["resource_id"], long_rows(days=3))
    return dataset


def api(app, headers, **params):
    res = app.post("/api/3/action/history_query", json=params, headers=headers)
    return res.status_code, json.loads(res.get_data(as_text=True))


def download(app, headers, dataset, path="download", **params):
    url = f"/dataset/{dataset['name']}/resource/{dataset['resource_id']}/history/{path}"
    return app.get(url, query_string=params, headers=headers)


# --- defect 10: a range without rows ---------------------------------------------------------


def test_a_new_feed_answers_zero_records(app, sysadmin, new_feed):
    """Only resource_id: the default range (the last day) holds no row."""
    status, body = api(app, sysadmin[1], resource_id=new_feed["resource_id"])
    assert status == 200, body
    assert body["result"]["records"] == [] and body["result"]["next_cursor"] is None
    assert [f["id"] for f in body["result"]["fields"]] == ["time", "feature"] + [
        f["name"] for f in FIELDS
    ]
    for params in (
        {"aggregate": "hour", "functions": ["avg", "count"]},
        {"aggregate": "day", "per_feature": False},
        {"features": []},
    ):
        status, body = api(app, sysadmin[1], resource_id=new_feed["resource_id"], **params)
        assert status == 200 and body["result"]["records"] == [], (params, body)


def test_an_empty_range_of_a_filled_history_answers_zero_records(app, sysadmin, filled):
    status, body = api(
        app,
        sysadmin[1],
        resource_id=filled["resource_id"],
        start="2020-01-01",
        end="2020-01-02",
        features=["A"],
        cursor=query.encode_cursor(datetime.datetime(2020, 1, 1, 5), "A", filled["resource_id"]),
    )
    assert status == 200 and body["result"]["records"] == []


def test_a_cursor_reads_only_the_history_it_came_from(app, sysadmin, filled):
    """A cursor of another history, or one made by hand, is refused: it
    would page through a history from a position nobody gave."""
    rid = filled["resource_id"]
    status, body = api(app, sysadmin[1], resource_id=rid, start="2026-01-27", end="2026-01-28",
                       limit=5)
    assert status == 200 and body["result"]["next_cursor"]
    cursor = body["result"]["next_cursor"]
    status, body = api(app, sysadmin[1], resource_id=rid, start="2026-01-27", end="2026-01-28",
                       limit=5, cursor=cursor)
    assert status == 200 and len(body["result"]["records"]) == 5
    other = make_dataset("open", user=sysadmin[0])
    store.ensure_schema(other["resource_id"], FIELDS)
    store.write_rows(other["resource_id"], long_rows(days=3))
    for forged in (cursor, cursor_of("2026-01-27T01:00:00", "A")):
        status, body = api(app, sysadmin[1], resource_id=other["resource_id"], start="2026-01-27",
                           end="2026-01-28", cursor=forged)
        assert status == 409 and "cursor" in body["error"], body
    # Made by hand for this very history: with the tag anyone can compute
    # from the resource id (the first cursors' tag), or a real cursor whose
    # position was moved.
    time, feature, tag = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    for forged in (cursor_of(time, feature, hashlib.sha256(rid.encode()).hexdigest()[:8]),
                   cursor_of("2026-01-27T02:00:00", feature, tag),
                   cursor_of(time, feature)):
        status, body = api(app, sysadmin[1], resource_id=rid, start="2026-01-27",
                           end="2026-01-28", cursor=forged)
        assert status == 409 and "cursor" in body["error"], body


def test_history_show_refuses_an_unknown_parameter_by_name(app, sysadmin, filled):
    """As history_query does: a misspelt parameter is not ignored."""
    res = app.get("/api/3/action/history_show", headers=sysadmin[1],
                  query_string={"resource_id": filled["resource_id"], "resource": "x"})
    assert res.status_code == 409
    assert "resource_id" in res.json["error"]["resource"][0]
    res = app.get("/api/3/action/history_show", headers=sysadmin[1],
                  query_string={"resource_id": filled["resource_id"]})
    assert res.status_code == 200


def test_unknown_and_repeated_parameters_are_refused_by_name(app, sysadmin, filled):
    """A misspelt parameter (`function` for `functions`) is not ignored; a
    download takes each parameter once, and no page size."""
    rid = filled["resource_id"]
    status, body = api(app, sysadmin[1], resource_id=rid, aggregate="hour", function="max")
    assert status == 409 and "function" in body["error"], body
    for query_string, key in (("limit=-5", "limit"), ("limit=10", "limit"),
                              ("start=2026-01-27&start=2026-01-28", "start"),
                              ("format=csv&format=json", "format"), ("function=max", "function")):
        url = f"/dataset/{filled['name']}/resource/{rid}/history/download?{query_string}"
        res = app.get(url, headers=sysadmin[1])
        assert res.status_code == 400, (query_string, res.status_code)
        assert res.get_data(as_text=True).startswith(f"{key}: "), res.get_data(as_text=True)


@pytest.mark.parametrize("which", ["new", "filled"])
def test_downloads_of_an_empty_range_are_valid_empty_files(app, sysadmin, new_feed, filled, which):
    dataset = new_feed if which == "new" else filled
    headers = sysadmin[1]
    names = ["time", "feature"] + [f["name"] for f in FIELDS]
    empty = {"start": "2020-01-01", "end": "2020-01-02"}

    res = download(app, headers, dataset, format="json", **empty)
    assert res.status_code == 200 and json.loads(res.get_data(as_text=True)) == []
    res = download(app, headers, dataset, format="csv", **empty)
    assert res.status_code == 200
    assert list(csv.reader(io.StringIO(res.get_data(as_text=True)))) == [["time (UTC)"] + names[1:]]
    res = download(app, headers, dataset, format="jsonl", **empty)
    assert res.status_code == 200 and res.get_data() == b""
    res = download(app, headers, dataset, format="parquet", **empty)
    assert res.status_code == 200
    table = pq.read_table(io.BytesIO(res.get_data()))
    assert table.num_rows == 0 and table.column_names == names
    assert table.schema.field("time").type == pa.timestamp("us", tz="UTC")
    # The default range of a new feed, and a month long before any row.
    res = download(app, headers, dataset, format="json")
    assert res.status_code == 200 and json.loads(res.get_data(as_text=True)) == []
    res = download(app, headers, dataset, path="month/1900-01.parquet")
    assert res.status_code == 200
    table = pq.read_table(io.BytesIO(res.get_data()))
    assert table.num_rows == 0
    assert table.schema == store.arrow_schema(FIELDS)
    res = download(app, headers, dataset, path="month/1900-01.csv")
    assert res.status_code == 200
    assert res.get_data(as_text=True).splitlines() == [",".join(store.arrow_schema(FIELDS).names)]


# --- defect 11: dates out of range, NUL characters, forged cursors -----------------------------

OUT_OF_RANGE = [
    ("start", {"start": "0001-01-01T00:00:00+01:00"}),
    ("end", {"end": "9999-12-31T23:59:59-01:00"}),
    ("start", {"start": "0001-01-01T00:00:00+01:00", "end": "2026-01-01T00:00:00"}),
    (
        "cursor",
        {
            "start": "2026-01-27",
            "end": "2026-01-28",
            "cursor": cursor_of("0001-01-01T00:00:00", "A"),
        },
    ),
    (
        "cursor",
        {
            "start": "2026-01-27",
            "end": "2026-01-28",
            "aggregate": "hour",
            "cursor": cursor_of("0001-01-01T00:00:00", "A"),
        },
    ),
    (
        "cursor",
        {
            "start": "2026-01-27",
            "end": "2026-01-28",
            "cursor": cursor_of("0001-01-01T00:00:00+01:00", "A"),
        },
    ),
    (
        "cursor",
        {
            "start": "2026-01-27",
            "end": "2026-01-28",
            "cursor": cursor_of("2026-01-27T01:00:00", "A\x00"),
        },
    ),
    ("cursor", {"cursor": cursor_of("9999-12-31T23:59:59-01:00", "A")}),
    ("cursor", {"cursor": base64.urlsafe_b64encode(b"[" * 100000).decode()}),
    ("cursor", {"cursor": cursor_of("2026-01-27T01:00:00", "A", "B")}),
    ("cursor", {"cursor": cursor_of(["2026-01-27T01:00:00"], {"x": 1})}),
    ("features", {"features": "[" * 100000}),
    ("limit", {"limit": 1e400}),
]


@pytest.mark.parametrize(
    "key, params", OUT_OF_RANGE, ids=[f"{k}-{i}" for i, (k, _p) in enumerate(OUT_OF_RANGE)]
)
def test_out_of_range_input_is_a_validation_error_naming_the_parameter(
    app, sysadmin, filled, key, params
):
    status, body = api(app, sysadmin[1], resource_id=filled["resource_id"], **params)
    assert status == 409, body
    assert body["error"]["__type"] == "Validation Error" and key in body["error"], body
    if key in ("start", "end"):
        res = download(app, sysadmin[1], filled, format="csv", **params)
        assert res.status_code == 400 and res.get_data(as_text=True).startswith(f"{key}: ")
        assert res.content_type.startswith("text/plain")


def test_the_largest_times_of_their_type_answer(app, sysadmin, filled):
    for params in (
        {"start": "0001-01-01T00:00:00", "end": "0001-01-01T00:00:01"},
        {"start": "9999-12-31T00:00:00", "end": "9999-12-31T23:59:59.999999"},
        {"end": "0001-01-01T12:00:00"},
    ):
        status, body = api(app, sysadmin[1], resource_id=filled["resource_id"], **params)
        assert status == 200 and body["result"]["records"] == [], (params, body)
        res = download(app, sysadmin[1], filled, format="json", **params)
        assert res.status_code == 200 and json.loads(res.get_data(as_text=True)) == []
    status, body = api(
        app, sysadmin[1], resource_id=filled["resource_id"], end="0001-01-01T00:00:00"
    )
    assert status == 409 and "start" in body["error"]
    for month in ("0001-01", "9999-12"):
        res = download(app, sysadmin[1], filled, path=f"month/{month}.json")
        assert res.status_code == 200 and json.loads(res.get_data(as_text=True)) == []
    assert download(app, sysadmin[1], filled, path="month/0000-01.json").status_code == 404


def test_nul_characters_reaching_the_action_name_their_parameter(filled):
    """Without the portal's NUL guard (an internal call), the action itself
    refuses them before any SQL."""
    rid = filled["resource_id"]
    for key, params in (
        ("features", {"features": ["A\x00"]}),
        ("fields", {"fields": ["ratio\x00"]}),
        ("cursor", {"cursor": cursor_of("2026-01-27T01:00:00", "\x00")}),
    ):
        with pytest.raises(tk.ValidationError) as error:
            helpers.call_action(
                "history_query", resource_id=rid, start="2026-01-27", end="2026-01-28", **params
            )
        assert key in error.value.error_dict
    with pytest.raises(tk.ObjectNotFound):
        helpers.call_action("history_query", resource_id=rid + "\x00")
    with pytest.raises(tk.ObjectNotFound):
        helpers.call_action("history_show", resource_id="\x00")
    with pytest.raises(tk.ObjectNotFound):
        helpers.call_action("history_feed_show", resource_id="\x00")


# --- property-based: never a 500 --------------------------------------------------------------

OFFSETS = st.sampled_from(
    [
        None,
        datetime.timezone.utc,
        datetime.timezone(datetime.timedelta(hours=23, minutes=59)),
        datetime.timezone(-datetime.timedelta(hours=23, minutes=59)),
        datetime.timezone(datetime.timedelta(hours=1)),
    ]
)
TIMES = st.one_of(
    st.datetimes(
        min_value=datetime.datetime.min, max_value=datetime.datetime.max, timezones=OFFSETS
    ).map(lambda t: t.isoformat()),
    st.sampled_from(
        [
            "0001-01-01T00:00:00",
            "0001-01-01T00:00:00+01:00",
            "9999-12-31T23:59:59.999999",
            "9999-12-31T23:59:59-01:00",
            "2026-01-28",
            "2026-02-30",
            "",
            " ",
            "\x00",
            "2026-01-28T00:00:00\x00",
            "NaN",
            "-1",
            "99999-01-01",
        ]
    ),
    st.text(max_size=30),
    st.integers(),
    st.floats(allow_nan=True),
    st.booleans(),
    st.none(),
    st.lists(st.text(max_size=5), max_size=2),
)
TEXTS = st.one_of(
    st.sampled_from(
        [
            "",
            "\x00",
            "A",
            "A\x00",
            "available_bikes",
            "ratio",
            "[",
            "[[]]",
            '["A", "B"]',
            "avg,max",
            "hour",
            "none",
            "true",
            "false",
        ]
    ),
    st.text(max_size=20),
    st.lists(st.one_of(st.text(max_size=8), st.integers()), max_size=3),
    st.integers(),
    st.none(),
)
CURSOR_ITEMS = st.one_of(
    TIMES, st.text(max_size=10), st.integers(), st.none(), st.lists(st.text(max_size=3), max_size=2)
)
CURSORS = st.one_of(
    st.binary(max_size=60).map(lambda b: base64.urlsafe_b64encode(b).decode()),
    st.lists(CURSOR_ITEMS, max_size=3).map(lambda items: cursor_of(*items)),
    st.tuples(TIMES, st.text(max_size=10)).map(lambda pair: cursor_of(*pair)),
    st.text(alphabet=string.ascii_letters + string.digits + "-_=\x00", max_size=40),
)
QUERIES = st.fixed_dictionaries(
    {},
    optional={
        "start": TIMES,
        "end": TIMES,
        "features": TEXTS,
        "fields": TEXTS,
        "aggregate": st.one_of(
            st.sampled_from(["none", "minute", "hour", "day", "week", "month"]), TEXTS
        ),
        "functions": st.one_of(
            st.sampled_from([["avg"], ["min", "max", "first", "last"], "count"]), TEXTS
        ),
        "per_feature": st.one_of(st.booleans(), TEXTS),
        "limit": st.one_of(st.integers(), TEXTS),
        "cursor": st.one_of(CURSORS, TEXTS),
    },
)
PROPERTY_SETTINGS = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def names_a_parameter(error: dict) -> bool:
    return any(
        key in PARAMETERS or key.split(".")[0] in PARAMETERS for key in error if key != "__type"
    )


@PROPERTY_SETTINGS
@given(params=QUERIES)
def test_history_query_never_answers_500(app, sysadmin, filled, params):
    status, body = api(app, sysadmin[1], resource_id=filled["resource_id"], **params)
    assert status in (200, 400, 409), (status, body)
    if status != 200:
        assert names_a_parameter(body["error"]), body
    else:
        assert isinstance(body["result"]["records"], list)


def _as_query_string(params: dict) -> dict:
    out = {}
    for key, value in params.items():
        if key in ("cursor", "limit") or value is None:
            continue
        if isinstance(value, list):
            out[key] = [str(v) for v in value]
        else:
            out[key] = str(value).lower() if isinstance(value, bool) else str(value)
    return out


@PROPERTY_SETTINGS
@given(params=QUERIES, fmt=st.sampled_from(["csv", "json", "jsonl", "parquet", "", "xml", "\x00"]))
def test_downloads_never_answer_500(app, sysadmin, filled, params, fmt):
    res = download(app, sysadmin[1], filled, format=fmt, **_as_query_string(params))
    body = res.get_data()
    assert res.status_code in (200, 400), (res.status_code, body[:300])
    if res.status_code == 400:
        text = body.decode("utf-8", "replace")
        # "key: message" (the download's own checks) or the portal's NUL guard.
        assert any(f"{key}: " in text for key in PARAMETERS) or "NUL" in text, text[:500]
    elif (fmt or "csv") == "json":
        assert isinstance(json.loads(body), list)
    elif fmt == "parquet":
        pq.read_table(io.BytesIO(body))


@PROPERTY_SETTINGS
@given(
    month=st.one_of(
        st.from_regex(r"\A\d{4}-\d{2}\Z"),
        st.text(alphabet=string.ascii_letters + string.digits + "-_.~", max_size=10),
    ),
    fmt=st.sampled_from(["csv", "json", "jsonl", "parquet", "xml"]),
)
def test_monthly_files_never_answer_500(app, sysadmin, filled, month, fmt):
    res = download(app, sysadmin[1], filled, path=f"month/{month}.{fmt}")
    assert res.status_code in (200, 400, 404), (month, res.status_code)
