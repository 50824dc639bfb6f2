"""A world for the map tests (imported by test_map_*.py and
test_browser_map.py), on the shared plugin's five-level World: an
organisation with its admin, editor and member,
outsiders, a grantee and a signer, and one dataset per access level, each
with an uploaded GeoJSON file of points and a DataStore table with latitude
and longitude columns. Also a small HTTP server replaying recorded answers
of remote WFS and OGC API Features services."""

from __future__ import annotations

import http.server
import io
import json
import threading
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from ckan.tests import factories, helpers
from ckan.tests.pytest_ckan.fixtures import FakeFileStorage
from ckanext.grandlyon_access.testing.pytest_plugin import LEVELS, World

# D = data, M = metadata only, - = nothing (looks missing); as the access matrix.
ACCESS_TABLE = """
              open licensed restricted hidden private
  anonymous    D      M        M         -       -
  outsider     D      M        M         -       -
  member       D      M        M         M       D
  editor       D      D        D         D       D
  sysadmin     D      D        D         D       D
  grantee      D      M        D         D       -
  signer       D      D        M         -       -
"""
ACCESS = {row.split()[0]: dict(zip(LEVELS, row.split()[1:], strict=True))
          for row in ACCESS_TABLE.strip().splitlines()[1:]}

POINTS = [(4.8357, 45.7640, "a", 12), (4.8320, 45.7578, "b", 3), (4.8500, 45.7500, "a", 30),
          (4.8800, 45.7700, "c", 7)]


def geojson(key: str) -> dict[str, Any]:
    return {"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [x, y]},
         "properties": {"name": f"secret-{key}-{i}", "kind": kind, "value": value}}
        for i, (x, y, kind, value) in enumerate(POINTS)]}


def upload(user: str, package_id: str, name: str, content: bytes, filename: str,
           fmt: str) -> dict[str, Any]:
    return helpers.call_action(
        "resource_create", context={"user": user}, package_id=package_id, name=name,
        url=filename, format=fmt, upload=FakeFileStorage(io.BytesIO(content), filename))


USERS = {key: f"map-{key}"
         for key in ("outsider", "member", "editor", "sysadmin", "grantee", "signer", "admin")}


class MapWorld(World):
    """The shared five-level world with the map tests' own names, a second
    organisation (`other_org`, where the outsider is an editor), a grantee
    of the restricted and hidden datasets and a signer of the licence. Each
    dataset holds an uploaded GeoJSON file of points (`geo_id`), then a
    DataStore table with latitude and longitude columns (`table_id`)."""

    def __init__(self) -> None:
        super().__init__(users=USERS, org={"name": "map-publisher", "title": "Map publisher"},
                         name="map-ds-{key}", title="Map dataset {key}", table=False,
                         email="{name}@example.org")
        for key in ("restricted", "hidden"):
            helpers.call_action("grandlyon_access_grant_create", context={"user": "map-admin"},
                                package_id=f"map-ds-{key}", user="map-grantee")
        helpers.call_action("grandlyon_licence_sign", context={"user": "map-signer"},
                            licence_id="mobilites", organisation="Lab", intended_use="Maps")

    def prepare(self) -> None:
        self.other_org = factories.Organization(name="other-publisher", users=[
            {"name": "map-outsider", "capacity": "editor"}])

    def resources(self, key: str) -> list[dict[str, Any]]:
        return []

    def make_dataset(self, key: str, **fields: Any) -> dict[str, Any]:
        dataset = super().make_dataset(key, **fields)
        geo = upload("map-editor", dataset["id"], "points", json.dumps(geojson(key)).encode(),
                     "points.geojson", "GeoJSON")
        table = helpers.call_action(
            "datastore_create", context={"user": "map-editor"},
            resource={"package_id": dataset["id"], "name": "stations", "format": "CSV"},
            fields=[{"id": "station", "type": "text"}, {"id": "latitude", "type": "float"},
                    {"id": "longitude", "type": "float"}, {"id": "bikes", "type": "int"}],
            records=[{"station": f"secret-{key}-{i}", "latitude": y, "longitude": x, "bikes": v}
                     for i, (x, y, _k, v) in enumerate(POINTS)] +
                    [{"station": "nowhere", "latitude": None, "longitude": None, "bikes": 0}],
            force=True)
        return {"key": key, "id": dataset["id"], "name": dataset["name"],
                "title": dataset["title"], "geo_id": geo["id"], "table_id": table["resource_id"]}

    def call(self, action: str, who: str = "sysadmin", **params: Any) -> Any:
        """An action as `who` would call it, authorisation checked (the
        shared World's `call` skips it; its datasets, created by the
        editor, pass the check)."""
        return self.actors[who].call(action, **params)


@pytest.fixture(scope="module")
def map_world(portal_for_module):
    """Built once per test module (indexing a world per test would take
    minutes); tests add what they need and do not change what is there."""
    return MapWorld()


def api(app, world: MapWorld, who: str, action: str, method: str = "post", **params):
    """An action over HTTP; returns (status, json)."""
    headers = world.actors[who].headers
    if method == "get":
        res = app.get(f"/api/3/action/{action}", query_string=params, headers=headers)
    else:
        res = app.post(f"/api/3/action/{action}", json=params, headers=headers)
    return res.status_code, res.get_json(), res.get_data(as_text=True)


# --- a remote service replaying recorded answers -----------------------------------

WFS_ANSWER = {
    "type": "FeatureCollection", "totalFeatures": 3, "numberMatched": 3, "numberReturned": 3,
    "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::4326"}},
    "features": [
        {"type": "Feature", "id": f"velov.{i}", "geometry_name": "the_geom",
         "geometry": {"type": "Point", "coordinates": [x, y]},
         "properties": {"nom": f"Station {i}", "commune": commune, "places": n}}
        for i, (x, y, commune, n) in enumerate([(4.83, 45.76, "Lyon", 20), (4.88, 45.77, "Villeurbanne", 15),
                                                 (4.85, 45.75, "Lyon", 31)])]}


def ogc_page(base: str, page: int) -> dict[str, Any]:
    start = page * 2
    coords = [(4.80, 45.70), (4.81, 45.71), (4.82, 45.72), (4.83, 45.73), (4.84, 45.74)]
    features = [{"type": "Feature", "id": str(i), "geometry": {"type": "Point", "coordinates": list(c)},
                 "properties": {"numero": i}} for i, c in enumerate(coords)][start:start + 2]
    links = [{"rel": "self", "type": "application/geo+json", "href": f"{base}?f=json&page={page}"}]
    if start + 2 < len(coords):
        links.append({"rel": "next", "type": "application/geo+json",
                      "href": f"{base}?f=json&page={page + 1}"})
    return {"type": "FeatureCollection", "numberMatched": 5, "numberReturned": len(features),
            "features": features, "links": links}


class RemoteServer:
    """Replays a WFS GetFeature answer (/wfs, 2 features per request), three pages of an OGC API
    Features collection (/ogc/collections/arrets/items), a malformed
    GeoJSON (/bad.geojson) and a 500 (/broken); records the requests."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        remote = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                remote.requests.append(self.path)
                parts = urlsplit(self.path)
                query = {k.lower(): v[0] for k, v in parse_qs(parts.query).items()}
                status, body = 404, {"error": "not found"}
                if parts.path == "/wfs" and query.get("request", "").lower() == "getfeature":
                    if query.get("typenames") == "velov:stations" and \
                            query.get("outputformat") == "application/json":
                        # The server's own cap: 2 features per request.
                        start = int(query.get("startindex", "0"))
                        count = min(int(query.get("count", "1000")), 2)
                        page = WFS_ANSWER["features"][start:start + count]
                        status, body = 200, dict(WFS_ANSWER, features=page,
                                                 numberReturned=len(page))
                    else:
                        status, body = 400, {"error": "unknown layer"}
                elif parts.path == "/ogc/collections/arrets/items":
                    base = f"http://127.0.0.1:{remote.port}/ogc/collections/arrets/items"
                    status, body = 200, ogc_page(base, int(query.get("page", "0")))
                elif parts.path == "/bad.geojson":
                    status, body = 200, {"type": "FeatureCollection", "features": [
                        {"type": "Feature", "geometry": {"type": "Point", "coordinates": ["x", 45]},
                         "properties": {}}]}
                elif parts.path == "/broken":
                    status, body = 500, {"error": "boom"}
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def remote():
    server = RemoteServer()
    yield server
    server.close()
