"""dataviz_chart_data: validation of a chart against the DataStore fields,
aggregation checked against a reference computed in plain Python over the
same rows, and the access policy over HTTP for every level."""

from __future__ import annotations

import datetime
import random
from collections import defaultdict

import ckan.lib.search as search
import ckan.plugins.toolkit as tk
import pytest
from ckan.tests import factories, helpers

from ckanext.grandlyon_access.testing.pytest_plugin import World, make_actor

START = datetime.datetime(2023, 1, 1)
COMMUNES = ["Lyon", "Villeurbanne", "Bron", "Écully"]


def make_rows(n: int = 600, seed: int = 7) -> list[dict]:
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        rows.append({
            "t": (START + datetime.timedelta(hours=rng.randrange(0, 24 * 700))),
            "commune": rng.choice(COMMUNES),
            "kind": rng.choice(["a", "b"]),
            "bikes": rng.randrange(0, 40),
            "temp": round(rng.uniform(-5, 35), 2),
        })
    return rows


@pytest.fixture(scope="module")
def env(portal_for_module):
    """One database for the module (resetting it per test costs seconds):
    a table of generated rows, and the shared five-level world, created by
    its sysadmin."""
    out = {"table": _make_table(),
           "world": World(datasets=("open", "restricted", "hidden", "licensed", "private"),
                          creator="sysadmin")}
    search.rebuild()
    return out


@pytest.fixture
def table(env):
    return env["table"]


@pytest.fixture
def world(env):
    return env["world"]


def _make_table():
    sysadmin = make_actor(sysadmin=True)
    org = factories.Organization(users=[{"name": sysadmin.name, "capacity": "admin"}])
    dataset = helpers.call_action("package_create", context={"user": sysadmin.name},
                                  name="chart-data", owner_org=org["id"], access_level="open",
                                  license_id="lo-2.0")
    rows = make_rows()
    result = helpers.call_action(
        "datastore_create", context={"user": sysadmin.name},
        resource={"package_id": dataset["id"], "name": "counts"},
        fields=[{"id": "t", "type": "timestamp"}, {"id": "commune", "type": "text"},
                {"id": "kind", "type": "text"}, {"id": "bikes", "type": "int"},
                {"id": "temp", "type": "float"}],
        records=[dict(r, t=r["t"].isoformat()) for r in rows], force=True)
    return {"resource_id": result["resource_id"], "rows": rows, "user": sysadmin.name,
            "headers": sysadmin.headers, "org": org["id"]}


def chart(table, **config):
    return helpers.call_action("dataviz_chart_data", context={"user": table["user"]},
                               resource_id=table["resource_id"], config=config)


# --- reference in plain Python -----------------------------------------------------

AGG = {
    "sum": sum,
    "avg": lambda v: sum(v) / len(v),
    "min": min,
    "max": max,
    "count": len,
}


def bucket(t: datetime.datetime, unit: str) -> str:
    if unit == "day":
        d = t.replace(hour=0, minute=0, second=0)
    elif unit == "week":
        d = (t - datetime.timedelta(days=t.weekday())).replace(hour=0, minute=0, second=0)
    elif unit == "month":
        d = t.replace(day=1, hour=0, minute=0, second=0)
    else:
        d = t.replace(month=1, day=1, hour=0, minute=0, second=0)
    return d.isoformat()


def reference(rows, x, y, aggregate, series=None, unit=None, keep=lambda r: True):
    groups = defaultdict(lambda: defaultdict(list))
    for r in rows:
        if not keep(r):
            continue
        key = bucket(r[x], unit) if unit else r[x]
        groups[r[series] if series else y][key].append(r[y])
    return {name: {k: AGG[aggregate](v) for k, v in points.items()}
            for name, points in groups.items()}


def as_dict(answer):
    return {s["name"]: {x: y for x, y in s["points"]} for s in answer["series"]}


def assert_same(answer, expected):
    got = as_dict(answer)
    assert set(got) == set(expected)
    for name in expected:
        assert set(got[name]) == set(expected[name]), name
        for key, value in expected[name].items():
            assert got[name][key] == pytest.approx(value, rel=1e-9, abs=1e-9), (name, key)


# --- aggregation ---------------------------------------------------------------------

@pytest.mark.parametrize("aggregate", ["sum", "avg", "min", "max", "count"])
def test_aggregate_by_category(table, aggregate):
    answer = chart(table, chart_type="bar", x="commune", y=["bikes"], aggregate=aggregate)
    assert_same(answer, reference(table["rows"], "commune", "bikes", aggregate))
    assert answer["truncated"] is False
    assert [f["axis"] for f in answer["fields"]] == ["x", "y"]


@pytest.mark.parametrize("unit", ["day", "week", "month", "year"])
def test_time_buckets(table, unit):
    answer = chart(table, chart_type="line", x="t", y="temp", aggregate="avg", bucket=unit)
    expected = reference(table["rows"], "t", "temp", "avg", unit=unit)
    assert_same(answer, expected)
    xs = [p[0] for p in answer["series"][0]["points"]]
    assert xs == sorted(xs)


def test_series_group_by(table):
    answer = chart(table, chart_type="line", x="t", y=["bikes"], series="commune",
                   aggregate="sum", bucket="month")
    assert_same(answer, reference(table["rows"], "t", "bikes", "sum", series="commune",
                                  unit="month"))
    assert sorted(s["name"] for s in answer["series"]) == sorted(COMMUNES)


def test_several_y_and_count_of_rows(table):
    answer = chart(table, chart_type="bar", x="kind", y=["bikes", "temp"], aggregate="max")
    assert_same(answer, {**reference(table["rows"], "kind", "bikes", "max"),
                         **reference(table["rows"], "kind", "temp", "max")})
    counted = chart(table, chart_type="pie", x="commune", aggregate="count")
    expected = defaultdict(int)
    for r in table["rows"]:
        expected[r["commune"]] += 1
    assert as_dict(counted) == {"count": dict(expected)}


def test_filters_equal_and_range(table):
    answer = chart(table, chart_type="bar", x="commune", y="bikes", aggregate="sum",
                   filters="kind = a\nt >= 2023-06-01\nt < 2024-01-01\nbikes != 3")
    keep = (lambda r: r["kind"] == "a" and datetime.datetime(2023, 6, 1) <= r["t"]
            < datetime.datetime(2024, 1, 1) and r["bikes"] != 3)
    assert_same(answer, reference(table["rows"], "commune", "bikes", "sum", keep=keep))
    as_list = chart(table, chart_type="bar", x="commune", y="bikes", aggregate="sum",
                    filters=[{"field": "kind", "op": "=", "value": "a"},
                             {"field": "t", "op": ">=", "value": "2023-06-01"},
                             {"field": "t", "op": "<", "value": "2024-01-01"},
                             {"field": "bikes", "op": "!=", "value": 3}])
    assert as_list["series"] == answer["series"]


def test_chart_keys_given_directly_with_a_list_of_filters(table):
    """Without `config` the chart keys are the request's own, a list of
    filter objects included (navl would set such a list aside)."""
    filters = [{"field": "kind", "op": "=", "value": "a"},
               {"field": "bikes", "op": "!=", "value": 3}]
    direct = helpers.call_action("dataviz_chart_data", context={"user": table["user"]},
                                 resource_id=table["resource_id"], chart_type="bar",
                                 x="commune", y="bikes", aggregate="sum", filters=filters)
    in_config = chart(table, chart_type="bar", x="commune", y="bikes", aggregate="sum",
                      filters=filters)
    unfiltered = chart(table, chart_type="bar", x="commune", y="bikes", aggregate="sum")
    assert direct["series"] == in_config["series"] != unfiltered["series"]
    assert direct["chart"]["filters"] == filters


def test_raw_rows_sort_limit_and_truncation(table):
    answer = chart(table, chart_type="scatter", x="temp", y="bikes", sort="-y", limit=10)
    points = answer["series"][0]["points"]
    assert len(points) == 10 and answer["truncated"] is True
    ys = [p[1] for p in points]
    assert ys == sorted(ys, reverse=True)
    assert ys[0] == max(r["bikes"] for r in table["rows"])


@pytest.mark.ckan_config("ckanext.dataviz.chart.max_points", "5")
def test_max_points_caps_every_answer(table):
    answer = chart(table, chart_type="line", x="t", y="bikes", aggregate="sum", bucket="day")
    assert sum(len(s["points"]) for s in answer["series"]) == 5
    assert answer["truncated"] is True


def test_view_id_uses_the_saved_configuration(table):
    view = helpers.call_action("resource_view_create", context={"user": table["user"]},
                               resource_id=table["resource_id"], view_type="dataviz_chart",
                               title="Bikes per commune", chart_type="bar", x="commune",
                               y="bikes", aggregate="sum")
    assert view["y"] == ["bikes"]
    answer = helpers.call_action("dataviz_chart_data", context={"user": table["user"]},
                                 view_id=view["id"])
    assert_same(answer, reference(table["rows"], "commune", "bikes", "sum"))


# --- validation: each error names its field ------------------------------------------

@pytest.mark.parametrize("config,field,words", [
    ({"chart_type": "bar", "x": "nowhere", "y": "bikes"}, "x", "nowhere"),
    ({"chart_type": "bar", "x": "commune", "y": ["bikes", "ghost"]}, "y", "ghost"),
    ({"chart_type": "bar", "x": "commune", "y": "kind", "aggregate": "avg"}, "y", "kind"),
    ({"chart_type": "line", "x": "commune", "y": "kind"}, "y", "kind"),
    ({"chart_type": "bar", "x": "commune"}, "y", ""),
    ({"chart_type": "donut", "x": "commune", "y": "bikes"}, "chart_type", "line"),
    ({"chart_type": "bar", "x": "commune", "y": "bikes", "aggregate": "median"}, "aggregate", ""),
    ({"chart_type": "bar", "x": "commune", "y": "bikes", "aggregate": "sum", "bucket": "month"},
     "bucket", "commune"),
    ({"chart_type": "line", "x": "t", "y": "bikes", "bucket": "month"}, "aggregate", ""),
    ({"chart_type": "line", "x": "t", "y": "bikes", "aggregate": "sum", "bucket": "hour"},
     "bucket", ""),
    ({"chart_type": "bar", "x": "commune", "y": "bikes", "colours": "#12345, red"}, "colours",
     "#12345"),
    ({"chart_type": "bar", "x": "commune", "y": "bikes", "filters": "bikes ~ 3"}, "filters",
     "bikes ~ 3"),
    ({"chart_type": "bar", "x": "commune", "y": "bikes", "filters": "bikes >= many"}, "filters",
     "many"),
    ({"chart_type": "bar", "x": "commune", "y": "bikes", "filters": "ghost = 1"}, "filters",
     "ghost"),
    ({"chart_type": "bar", "x": "commune", "y": "bikes", "limit": "0"}, "limit", "5000"),
    ({"chart_type": "bar", "x": "commune", "y": "bikes", "sort": "z"}, "sort", ""),
    ({"chart_type": "pie", "x": "commune", "y": "bikes", "series": "kind"}, "series", ""),
    ({"chart_type": "bar", "x": "commune", "y": "bikes", "x_label": "x" * 201}, "x_label", "200"),
])
def test_each_error_names_its_field(app, table, config, field, words):
    res = app.post("/api/3/action/dataviz_chart_data", headers=table["headers"],
                   json={"resource_id": table["resource_id"], "config": config})
    assert res.status_code == 409, res.body[:300]
    error = res.json["error"]
    assert error["__type"] == "Validation Error"
    assert field in error, error
    assert words in " ".join(error[field])


def test_bad_config_json_and_resource_without_table(app, table):
    res = app.post("/api/3/action/dataviz_chart_data", headers=table["headers"],
                   json={"resource_id": table["resource_id"], "config": "{not json"})
    assert res.status_code == 409 and "config" in res.json["error"]
    plain = factories.Resource(url="https://example.org/x.csv",
                               package_id=factories.Dataset(owner_org=table["org"])["id"])
    res = app.post("/api/3/action/dataviz_chart_data", headers=table["headers"],
                   json={"resource_id": plain["id"], "config": {"x": "a", "y": "b"}})
    assert res.status_code == 409 and "resource_id" in res.json["error"]


def test_view_form_errors_are_not_stored(table):
    with pytest.raises(Exception) as raised:
        helpers.call_action("resource_view_create", context={"user": table["user"]},
                            resource_id=table["resource_id"], view_type="dataviz_chart",
                            title="Bad", chart_type="bar", x="commune", y="kind",
                            aggregate="avg", colours="blue")
    assert set(raised.value.error_dict) == {"y", "colours"}
    views = helpers.call_action("resource_view_list", id=table["resource_id"])
    assert "Bad" not in [v["title"] for v in views]


def test_identifiers_with_quotes_are_quoted_not_injected(table):
    sysadmin = {"name": table["user"]}
    dataset = factories.Dataset(access_level="open", owner_org=table["org"])
    weird = "commune d'été; -- (x)"
    result = helpers.call_action(
        "datastore_create", context={"user": sysadmin["name"]},
        resource={"package_id": dataset["id"]},
        fields=[{"id": weird, "type": "text"}, {"id": "n", "type": "int"}],
        records=[{weird: "p", "n": 1}, {weird: "p", "n": 2}, {weird: "q", "n": 5}], force=True)
    answer = helpers.call_action("dataviz_chart_data", context={"user": sysadmin["name"]},
                                 resource_id=result["resource_id"],
                                 config={"chart_type": "bar", "x": weird, "y": "n",
                                         "aggregate": "sum", "filters": f"{weird} != '"})
    assert as_dict(answer) == {"n": {"p": 3, "q": 5}}
    with pytest.raises(tk.ValidationError) as raised:
        helpers.call_action("dataviz_chart_data", context={"user": sysadmin["name"]},
                            resource_id=result["resource_id"],
                            config={"chart_type": "bar", "x": 'n" FROM pg_user; --', "y": "n"})
    assert "x" in raised.value.error_dict


# --- access: every level, over HTTP ----------------------------------------------------

# 200: data; 403: metadata only; 404: looks missing.
EXPECTED = {
    "anonymous": {"open": 200, "licensed": 403, "restricted": 403, "hidden": 404, "private": 404},
    "outsider": {"open": 200, "licensed": 403, "restricted": 403, "hidden": 404, "private": 404},
    "admin": {"open": 200, "licensed": 200, "restricted": 200, "hidden": 200, "private": 200},
}


def _ask(app, headers, **params):
    return app.post("/api/3/action/dataviz_chart_data", headers=headers, json=params)


@pytest.mark.parametrize("who", list(EXPECTED))
def test_chart_data_follows_the_access_policy(app, world, who):
    headers = {} if who == "anonymous" else getattr(world, who).headers
    config = {"chart_type": "bar", "x": "station", "y": "bikes", "aggregate": "sum"}
    missing = _ask(app, headers, resource_id="00000000-0000-4000-8000-000000000000",
                   config=config)
    assert missing.status_code == 404
    for level, status in EXPECTED[who].items():
        ds = world.datasets[level]
        res = _ask(app, headers, resource_id=ds["table_id"], config=config)
        assert res.status_code == status, (level, res.body[:300])
        if status == 200:
            assert res.json["result"]["series"][0]["points"] == [[f"secret-{level}", 7]]
            continue
        assert f"secret-{level}" not in res.body
        if status == 404:
            assert res.json["error"] == missing.json["error"]
            assert ds["id"] not in res.body and ds["name"] not in res.body
