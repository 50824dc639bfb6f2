"""A small world for the feed, ingest and web tests (imported by them; not a
test module): the shared plugin's five-level world (an organisation with its
admin, editor and member, an outsider and a sysadmin with API tokens, a
dataset at each access level) with one GeoJSON resource per dataset, and a
local HTTP server that plays a real-time feed, well or badly
(any status, body and headers, a delay, a slow drip, no Content-Length)."""

from __future__ import annotations

import dataclasses
import http.server
import json
import threading
import time
from collections.abc import Callable
from typing import Any

from ckan.tests import helpers
from ckanext.grandlyon_access.testing.pytest_plugin import LEVELS, PASSWORD
from ckanext.grandlyon_access.testing.pytest_plugin import World as SharedWorld

__all__ = ["ACCESS", "EDITORS", "FEED_URL", "FIELDS", "LEVELS", "PASSWORD", "World",
           "FeedServer", "Reply", "api", "feed_params", "geojson"]

ORIGIN = "https://origin.example.org/secret/{}.geojson"
FEED_URL = "http://127.0.0.1:9/secret-feed-{}.geojson"
# What each actor may do with each dataset: D data, M metadata only, - nothing.
ACCESS_TABLE = """
              open licensed restricted hidden private
  anonymous    D      M        M         -       -
  outsider     D      M        M         -       -
  member       D      M        M         M       D
  editor       D      D        D         D       D
  admin        D      D        D         D       D
  sysadmin     D      D        D         D       D
"""
ACCESS = {row.split()[0]: dict(zip(LEVELS, row.split()[1:], strict=True))
          for row in ACCESS_TABLE.strip().splitlines()[1:]}
EDITORS = ("editor", "admin", "sysadmin")

FIELDS = [{"name": "available_bikes", "type": "int"},
          {"name": "available_bike_stands", "type": "int"},
          {"name": "status", "type": "text"}]


class World(SharedWorld):
    """The shared five-level world (`USERS`, created by the editor, with
    e-mail addresses), no DataStore table: each dataset has one GeoJSON
    resource, `stations`, that a feed can be declared on."""

    def __init__(self) -> None:
        super().__init__(email="{name}@example.org", table=False)

    def resources(self, key: str) -> list[dict[str, Any]]:
        return [{"name": "stations", "url": ORIGIN.format(key), "format": "GeoJSON"}]

    def rid(self, level: str) -> str:
        """The id of the dataset's resource."""
        return self.datasets[level]["file_id"]

    def declare(self, level: str, **overrides) -> dict:
        """A feed on the dataset's resource, declared by the editor."""
        params = feed_params(self.rid(level), url=FEED_URL.format(level))
        params.update(overrides)
        return helpers.call_action("history_feed_create", context={"user": "org-editor"},
                                   **params)


def feed_params(resource_id: str, **overrides) -> dict:
    params = {"resource_id": resource_id, "url": "http://127.0.0.1:9/feed.geojson",
              "format": "geojson", "feature_id_field": "number", "time_field": "",
              "fields": FIELDS, "interval_seconds": 60, "store_mode": "changes"}
    params.update(overrides)
    return params


def api(app, world: World, who: str, action: str, **params):
    """An action over HTTP as `who`: (status, the JSON answer)."""
    res = app.post(f"/api/3/action/{action}", json=params, headers=world.actors[who].headers)
    return res.status_code, json.loads(res.get_data(as_text=True))


# --- a feed server ---------------------------------------------------------------------

def geojson(stations: dict[str, dict], last_update: str | None = None) -> bytes:
    """A Vélo'v-like FeatureCollection of `{number: {field: value}}`."""
    features = []
    for number, values in stations.items():
        props = {"number": number, "name": f"Station {number}"}
        props.update(values)
        if last_update is not None and "last_update" not in props:
            props["last_update"] = last_update
        features.append({"type": "Feature", "geometry": {"type": "Point",
                                                          "coordinates": [4.83, 45.76]},
                         "properties": props})
    return json.dumps({"type": "FeatureCollection", "features": features}).encode()


@dataclasses.dataclass
class Reply:
    """What the server answers next: a status, a body, headers, a delay."""
    body: bytes = b""
    status: int = 200
    content_type: str = "application/json"
    etag: str | None = None
    delay: float = 0.0
    length: int | None = None   # declared Content-Length (None: the body's; -1: none)
    headers: dict[str, str] = dataclasses.field(default_factory=dict)
    drip: float = 0.0           # seconds between two chunks of `chunk` bytes (a slow drip)
    chunk: int = 16


class FeedServer:
    """A local HTTP server whose next answer the test sets (`reply`); it
    answers 304 when the request's If-None-Match is the reply's ETag, and
    records the requests' headers."""

    def __init__(self) -> None:
        self.reply = Reply(body=geojson({}))
        self.closing = False
        self.requests: list[dict[str, str]] = []
        self.dynamic: Callable[[], Reply] | None = None
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                server.requests.append(dict(self.headers, _path=self.path))
                reply = server.dynamic() if server.dynamic else server.reply
                if reply.delay:
                    time.sleep(reply.delay)
                if reply.etag and self.headers.get("If-None-Match") == reply.etag:
                    self.send_response(304)
                    self.send_header("ETag", reply.etag)
                    self.end_headers()
                    return
                self.send_response(reply.status)
                self.send_header("Content-Type", reply.content_type)
                if reply.etag:
                    self.send_header("ETag", reply.etag)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                if reply.length != -1:
                    self.send_header("Content-Length", str(reply.length if reply.length is not None
                                                           else len(reply.body)))
                self.end_headers()
                try:
                    if not reply.drip:
                        self.wfile.write(reply.body)
                        return
                    for start in range(0, len(reply.body), reply.chunk):
                        if server.closing:
                            return
                        self.wfile.write(reply.body[start:start + reply.chunk])
                        self.wfile.flush()
                        time.sleep(reply.drip)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/velov.geojson"

    def close(self) -> None:
        self.closing = True
        self.httpd.shutdown()
        self.httpd.server_close()
