"""The map through time: `history_snapshot` (each feature at one step of
time) against the plain reference of test_query over a history spanning
the archive and the hot rows, in UTC and Europe/Paris across the 25-hour
day; the policy's answer per actor and access level over HTTP (gated
histories stay gated); bad input answered 409 naming the parameter; the
view `history_map` in French and English, with its table for screen
readers, and its embed; feeds declaring coordinates, filled from GeoJSON
Points.

One database for the module: the five-level world of feed_world, each
dataset's resource with a positioned feed and a row, and one history of
the changes-only rows of history_support, built once."""

from __future__ import annotations

import datetime
import json
import re
import zoneinfo

import ckan.plugins.toolkit as tk
import pytest
from ckan.plugins import IResourceView, PluginImplementations
from ckan.tests import helpers
from ckanext.history import archive, ingest, map_view, store
from ckanext.history.model import Feed
from ckanext.history.tests.feed_world import ACCESS, LEVELS, World
from ckanext.history.tests.history_support import (
    POSITIONED_FIELDS,
    changes_rows,
    declare_positioned,
    with_positions,
)
from ckanext.history.tests.test_query import approx_records, bucket, reference

PARIS = "Europe/Paris"
ARCHIVE = "ckanext.history.archive.path"
OUTBOUND = "ckanext.grandlyon_access.outbound.allow"
# The spanning history: rows before noon UTC of the 25-hour day archived.
CUT = datetime.datetime(2026, 10, 25, 12)
SECRET = "secret-station-{}"


@pytest.fixture
def _portal_plugins():
    """The module's plugins are loaded once, by `portal_for_module`."""
    yield


@pytest.fixture(scope="module")
def module_archive(tmp_path_factory):
    return str(tmp_path_factory.mktemp("archive"))


@pytest.fixture(autouse=True)
def _archive_path(module_archive, ckan_config, monkeypatch):
    """The module's archive folder, for every test (the configuration is
    reset between tests)."""
    monkeypatch.setitem(ckan_config, ARCHIVE, module_archive)


@pytest.fixture(scope="module")
def world(portal_for_module, module_archive):
    """The five-level world; each level's resource has a positioned feed
    and one row of a secret station. `world.spanning`: (resource id, rows)
    of a history on the open dataset's second resource, archived before
    CUT, hot after."""
    saved = {key: tk.config.get(key) for key in (ARCHIVE, OUTBOUND)}
    tk.config[ARCHIVE], tk.config[OUTBOUND] = module_archive, ["127.0.0.1"]
    try:
        made = World()
        for level in LEVELS:
            rid = made.rid(level)
            declare_positioned(rid, "org-editor")
            store.write_rows(rid, with_positions([{
                "feature": SECRET.format(level), "time": datetime.datetime(2026, 6, 10, 8, 5),
                "values": {"available_bikes": 7, "available_bike_stands": 3, "ratio": 0.7,
                           "status": "OPEN"}}]))
        resource = helpers.call_action(
            "resource_create", context={"user": "org-editor"},
            package_id=made.datasets["open"]["id"], name="spanning",
            url="https://origin.example.org/spanning.geojson", format="GeoJSON")
        declare_positioned(resource["id"], "org-editor")
        rows = with_positions(changes_rows())
        store.write_rows(resource["id"], rows)
        archive.compact(resource["id"], now=CUT + datetime.timedelta(days=25), retention=25)
        hot = store.hot_stats(resource["id"])
        assert hot["first"] >= CUT and 0 < hot["rows"] < len(rows)
        made.spanning = (resource["id"], rows)
        yield made
    finally:
        for key, value in saved.items():
            tk.config[key] = value


@pytest.fixture(scope="module")
def web(world):
    """CKAN's test app, built once for the module's world."""
    return helpers._get_test_app()


def api(app, world, who, **params):
    res = app.get("/api/3/action/history_snapshot", query_string=params,
                  headers=world.actors[who].headers)
    return res.status_code, json.loads(res.get_data(as_text=True))


# --- the values of a step ---------------------------------------------------------------

STEPS = [
    # (moment asked, step, zone): the hour that comes twice in Paris (its
    # first and second passage), the 25-hour day across the archive's cut,
    # a minute, a week and a month, a summer hour in UTC.
    ("2026-10-25T02:30:00+02:00", "hour", PARIS),
    ("2026-10-25T02:30:00+01:00", "hour", PARIS),
    ("2026-10-25T18:00:00", "day", PARIS),
    ("2026-10-25T13:16:40Z", "minute", PARIS),
    ("2026-03-29T12:00:00", "week", PARIS),
    ("2026-06-11T23:59:59", "day", "UTC"),
    ("2026-06-10T08:15:00Z", "hour", "UTC"),
    ("2026-10-01T00:00:00", "month", PARIS),
]


@pytest.mark.parametrize("function", ["avg", "last"])
def test_a_snapshot_is_the_references_bucket_of_its_step(world, function):
    rid, rows = world.spanning
    for moment, step, tz in STEPS:
        answer = helpers.call_action("history_snapshot", resource_id=rid, time=moment, step=step,
                                     field="available_bikes", function=function, tz=tz)
        given = datetime.datetime.fromisoformat(moment.replace("Z", "+00:00"))
        instant = store.parse_time((given if given.tzinfo else given.replace(
            tzinfo=zoneinfo.ZoneInfo(tz))).isoformat())
        assert answer["time"] == bucket(instant, step, tz).isoformat(), moment
        end = store.parse_time(answer["end"])
        assert bucket(end, step, tz).isoformat() == answer["end"], moment
        just_before = end - datetime.timedelta(microseconds=1)
        assert bucket(just_before, step, tz).isoformat() == answer["time"]
        expected = reference(rows, step, [function], ["available_bikes"], True,
                             start=answer["time"], end=answer["end"], tz=tz)
        positions = reference(rows, step, ["last"], ["lat", "lon", "name"], True,
                              start=answer["time"], end=answer["end"], tz=tz)
        assert {r["time"] for r in expected} <= {answer["time"]}, moment
        assert expected, f"no reading in the step of {moment}: choose another"
        got = [{"time": answer["time"], "feature": f["id"],
                f"available_bikes_{function}": f["value"]} for f in answer["features"]]
        assert got == approx_records(expected), moment
        assert [(f["lat"], f["lon"], f["name"]) for f in answer["features"]] == [
            (p["lat_last"], p["lon_last"], p["name_last"]) for p in positions]
        values = [f["value"] for f in answer["features"] if f["value"] is not None]
        assert (answer["min"], answer["max"]) == (min(values), max(values))
        assert answer["positioned"] is True and answer["tz"] == tz and answer["step"] == step


def test_defaults_are_an_hour_of_the_first_number_field_in_the_portals_zone(world):
    rid, rows = world.spanning
    answer = helpers.call_action("history_snapshot", resource_id=rid, time="2026-06-10T08:15:00")
    chosen = (answer["step"], answer["field"], answer["function"])
    assert chosen == ("hour", "available_bikes", "avg")
    assert answer["tz"] == PARIS and answer["time"] == "2026-06-10T08:00:00+02:00"
    assert len(answer["features"]) == 3


# --- access -----------------------------------------------------------------------------

def test_each_actor_gets_what_the_policy_gives(web, world):
    wrong = []
    for who, levels in ACCESS.items():
        for level in LEVELS:
            status, body = api(web, world, who, resource_id=world.rid(level),
                               time="2026-06-10T08:30:00Z", step="hour")
            text = json.dumps(body)
            if levels[level] == "D":
                ok = status == 200 and body["result"]["features"][0]["id"] == SECRET.format(level)
            else:
                ok = status == (403 if levels[level] == "M" else 404) \
                    and SECRET.format(level) not in text and "Station" not in text
            if not ok:
                wrong.append((who, level, status))
    assert wrong == []


def test_a_hidden_history_answers_as_a_missing_resource(web, world):
    hidden = api(web, world, "anonymous", resource_id=world.rid("hidden"), step="hour")
    missing = api(web, world, "anonymous", resource_id="no-such-resource", step="hour")
    assert hidden[0] == missing[0] == 404
    assert hidden[1]["error"] == missing[1]["error"]


# --- bad input --------------------------------------------------------------------------

@pytest.mark.parametrize("key,params", [
    ("step", {"step": "fortnight"}),
    ("time", {"time": "yesterday"}),
    ("time", {"time": "2026-03-29T02:30:00", "tz": PARIS}),
    ("time", {"time": "2026-10-25T02:30:00", "tz": PARIS}),
    ("time", {"time": "9999-12-31T23:59:59Z", "step": "day"}),
    ("time", {"time": "0001-01-01T00:00:00Z", "tz": PARIS}),
    ("tz", {"tz": "Mars/Olympus_Mons"}),
    ("tz", {"tz": "+01:00"}),
    ("field", {"field": "status"}),
    ("field", {"field": "no_such_field"}),
    ("function", {"function": "median"}),
    ("colour", {"colour": "red"}),
])
def test_bad_input_answers_409_naming_the_parameter(web, world, key, params):
    rid, _rows = world.spanning
    status, body = api(web, world, "sysadmin", resource_id=rid, **params)
    assert status == 409, body
    assert key in body["error"], body


# --- the view ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def views(world):
    """A history_map view on the spanning history and on the restricted one."""
    def make(resource_id):
        return helpers.call_action("resource_view_create", context={"user": "org-editor"},
                                   resource_id=resource_id, view_type="history_map",
                                   title="Carte des vélos", field="available_bike_stands",
                                   step="hour", function="last")
    return {"open": make(world.spanning[0]), "restricted": make(world.rid("restricted"))}


def _view_url(world, view, lang=""):
    package = world.datasets["open"]["name"] if view["resource_id"] == world.spanning[0] \
        else world.datasets["restricted"]["name"]
    return f"{lang}/dataset/{package}/resource/{view['resource_id']}/view/{view['id']}"


def test_the_view_is_offered_for_a_positioned_feed_only(world):
    placed = helpers.call_action("resource_show", id=world.spanning[0])
    assert map_view.can_view({"resource": placed})
    assert not map_view.can_view({"resource": {"id": "no-such-resource"}})
    names = [plugin.info()["name"] for plugin in PluginImplementations(IResourceView)]
    assert "history_map" in names


@pytest.mark.parametrize("lang,words", [
    ("", ("Carte à travers le temps", "Lecture", "Valeurs par élément", "Bornes libres")),
    ("/en", ("Map through time", "Play", "Values per feature", "Free stands")),
])
def test_the_view_page_renders_with_its_table_in_both_languages(web, world, views, lang, words):
    res = web.get(_view_url(world, views["open"], lang), headers=world.actors["anonymous"].headers)
    assert res.status_code == 200
    body = res.get_data(as_text=True)
    for word in words:
        assert word in body, word
    assert "<caption" in body and 'scope="col"' in body and "aria-label=" in body
    assert "data-history-map-config" in body and "history_snapshot" in body
    config = json.loads(body.split('data-history-map-config>')[1].split("</script>")[0])
    assert config["field"] == "available_bike_stands" and config["function"] == "last"
    assert config["day"] == "2026-10-27" and config["tz"] == PARIS
    # dataviz's basemap: none configured, no tiles (offline).
    assert config["basemap"] == {"url": "", "attribution": ""}
    # Scripts and styles come from the portal itself (no CDN).
    assert not re.search(r'<(script|link)[^>]+(src|href)="(https?:)?//', body)
    # No reading is in the page itself: the browser asks each step.
    assert "Station A" not in body


def test_the_view_of_a_gated_history_shows_the_next_step_and_no_data(web, world, views):
    res = web.get(_view_url(world, views["restricted"]), headers=world.actors["anonymous"].headers)
    body = res.get_data(as_text=True)
    assert res.status_code == 200 and "data-dataviz-access" in body
    assert "data-history-map-config" not in body and SECRET.format("restricted") not in body


def test_the_view_embeds_at_the_suites_embed_route(web, world, views):
    res = web.get(f"/dataviz/embed/view/{views['open']['id']}",
                  headers=world.actors["anonymous"].headers)
    body = res.get_data(as_text=True)
    assert res.status_code == 200 and "data-history-map-config" in body
    assert res.headers["Content-Security-Policy"].endswith("frame-ancestors *")
    gated = web.get(f"/dataviz/embed/view/{views['restricted']['id']}",
                    headers=world.actors["anonymous"].headers)
    assert "data-history-map-config" not in gated.get_data(as_text=True)


# --- feeds declaring coordinates --------------------------------------------------------

def test_a_geojson_point_fills_the_coordinate_fields():
    feed = Feed(resource_id="r", format="geojson", feature_id_field="number", time_field=None,
                fields=POSITIONED_FIELDS)
    body = json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [4.83, 45.76]},
         "properties": {"number": "1", "name": "Gare", "available_bikes": 3,
                        "available_bike_stands": 2, "ratio": 0.5, "status": "OPEN"}},
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [4.9, 45.7]},
         "properties": {"number": "2", "name": "Parc", "available_bikes": 1, "lat": 45.0,
                        "available_bike_stands": 2, "ratio": 0.5, "status": "OPEN"}},
    ]}).encode()
    parsed = ingest.parse(feed, body, datetime.datetime(2026, 6, 1))
    values = {r["feature"]: r["values"] for r in parsed.rows}
    assert (values["1"]["lat"], values["1"]["lon"]) == (45.76, 4.83)
    # A property of the field's name wins over the geometry.
    assert (values["2"]["lat"], values["2"]["lon"]) == (45.0, 4.9)


@pytest.mark.parametrize("fields", [
    [{"name": "lat", "type": "text", "coordinate": "lat"}],
    [{"name": "lat", "type": "float", "coordinate": "altitude"}],
    [{"name": "a", "type": "float", "coordinate": "lat"},
     {"name": "b", "type": "float", "coordinate": "lat"}],
])
def test_a_coordinate_is_lat_or_lon_of_a_number_field_once(web, world, fields):
    status, body = api_post(web, world, "sysadmin", "history_feed_update",
                            resource_id=world.spanning[0], fields=fields)
    assert status == 409 and "fields" in body["error"], body


def api_post(app, world, who, action, **params):
    res = app.post(f"/api/3/action/{action}", json=params, headers=world.actors[who].headers)
    return res.status_code, json.loads(res.get_data(as_text=True))


def test_the_views_settings_form_renders_for_its_editors(web, world, views):
    view = views["open"]
    url = (f"/dataset/{world.datasets['open']['name']}/resource/{view['resource_id']}"
           f"/edit_view/{view['id']}")
    res = web.get(url, headers=world.actors["editor"].headers)
    body = res.get_data(as_text=True)
    assert res.status_code == 200
    for label in ("Valeur d'un pas de temps", "Pas de temps", 'value="available_bike_stands"'):
        assert label in body, label
    refused = api_post(web, world, "editor", "resource_view_update", id=view["id"],
                       resource_id=view["resource_id"], title="Carte", view_type="history_map",
                       step="fortnight")
    assert refused[0] == 409 and "step" in refused[1]["error"]
