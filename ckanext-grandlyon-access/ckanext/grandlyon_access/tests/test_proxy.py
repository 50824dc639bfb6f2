"""The data proxy (proxy.py) against a real origin on loopback: gated linked
files are streamed with the origin's credentials, never redirected to; a
hostile origin gets a clear error without its address; access withdrawn is
refused at the very next request.

One origin server and one world for the module. The origin answers only
with the credentials configured for the portal (401 otherwise), supports
Range and ETag, and records what it was asked."""

from __future__ import annotations

import base64
import datetime
import http.server
import logging
import re
import threading
import time
import tracemalloc

import ckan.model as model
import ckan.plugins.toolkit as tk
import pytest
from ckan.tests import helpers
from ckanext.grandlyon_access import proxy
from ckanext.grandlyon_access.model import AccessLog, CircleMember, Grant
from ckanext.grandlyon_access.testing.pytest_plugin import World

BEARER = "bearer-s3cret-token"
PASSWORD = "basic-s3cret-password"
API_KEY = "header-s3cret-key"
SECRETS = (BEARER, PASSWORD, API_KEY, base64.b64encode(f"portal:{PASSWORD}".encode()).decode())
MAX_BYTES = 1_000_000
BIG_BYTES = 64 * 65536 * 8  # 32 MiB


def content(name: str) -> bytes:
    """The bytes the origin serves for a file (about 100 kB: several chunks)."""
    return b"".join(b"%06d;station-%s\n" % (i, name.encode()) for i in range(5000))


class Origin(http.server.BaseHTTPRequestHandler):
    """`/bearer/`, `/basic/` and `/header/` each want their own credential;
    `/elsewhere/` is outside every configured prefix. The file name says how
    to answer (see `do_GET`)."""

    seen: list = []  # (path, headers) of every request
    port = 0

    def _authorised(self) -> bool:
        wanted = {"bearer": ("Authorization", f"Bearer {BEARER}"),
                  "basic": ("Authorization", "Basic " + SECRETS[3]),
                  "header": ("X-Api-Key", API_KEY)}.get(self.path.split("/")[1])
        return wanted is None or self.headers.get(wanted[0]) == wanted[1]

    def _send(self, status: int, body: bytes = b"", **headers: str) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_HEAD(self):  # noqa: N802
        self.do_GET()

    def do_GET(self):  # noqa: N802
        Origin.seen.append((self.path, dict(self.headers)))
        if not self._authorised():
            return self._send(401, b"who are you?", Content_Type="text/plain")
        name = self.path.rsplit("/", 1)[1]
        here = f"http://127.0.0.1:{Origin.port}"
        if name == "slow.csv":
            time.sleep(2.5)
            return self._send(200, b"late", Content_Length="4")
        if name.startswith("redirect-"):
            target = {"redirect-private.csv": "http://10.0.0.1/secret.csv",
                      "redirect-outside.csv": f"{here}/elsewhere/file.csv",
                      "redirect-inside.csv": "data.csv",
                      "redirect-loop.csv": "redirect-loop.csv"}[name]
            return self._send(302, Location=target)
        if name == "error.csv":
            page = f"<html><body>Stack trace at {here}/internal</body></html>".encode()
            return self._send(500, page, Content_Type="text/html")
        if name == "huge.csv":
            return self._send(200, b"x" * 10, Content_Length=str(2 * MAX_BYTES))
        if name == "endless.csv":  # no length, more than the cap
            self.send_response(200)
            self.end_headers()
            try:
                for _ in range(40):
                    self.wfile.write(b"y" * 50_000)
            except (BrokenPipeError, ConnectionResetError):
                pass
            return None
        if name == "big.csv":  # BIG_BYTES, written as it goes
            self._send(200, Content_Length=str(BIG_BYTES), Content_Type="text/csv")
            block = b"z" * 65536
            try:
                for _ in range(BIG_BYTES // len(block)):
                    self.wfile.write(block)
            except (BrokenPipeError, ConnectionResetError):
                pass
            return None
        if name == "short.csv":  # announces more than it sends
            return self._send(200, b"only this", Content_Length="100000")
        if name == "page.csv":
            return self._send(200, b"<script>alert(1)</script>", Content_Type="text/html")
        return self._file(name)

    def _file(self, name: str) -> None:
        body = content(name)
        etag = f'"v1-{name}"'
        common = {"ETag": etag, "Last-Modified": "Tue, 01 Dec 2026 10:00:00 GMT",
                  "Accept-Ranges": "bytes", "Content-Type": "text/csv"}
        if self.headers.get("If-None-Match") == etag:
            return self._send(304, **common)
        wanted = re.fullmatch(r"bytes=(\d+)-(\d*)", self.headers.get("Range", ""))
        if wanted:
            start = int(wanted.group(1))
            end = min(int(wanted.group(2) or len(body) - 1), len(body) - 1)
            if start >= len(body):
                return self._send(416, Content_Range=f"bytes */{len(body)}")
            return self._send(206, body[start:end + 1], Content_Length=str(end + 1 - start),
                              Content_Range=f"bytes {start}-{end}/{len(body)}", **common)
        return self._send(200, body, Content_Length=str(len(body)), **common)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def origin():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Origin)
    Origin.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{Origin.port}"
    server.shutdown()


@pytest.fixture(autouse=True)
def _portal_plugins():
    """The module loads the configured plugins once, with its world."""


SETTINGS = {
    "ckanext.grandlyon_access.proxy.origins": ["lake", "files", "keyed"],
    "ckanext.grandlyon_access.proxy.origin.lake.url_prefix": "{origin}/bearer/",
    "ckanext.grandlyon_access.proxy.origin.lake.auth": "bearer",
    "ckanext.grandlyon_access.proxy.origin.lake.secret": BEARER,
    "ckanext.grandlyon_access.proxy.origin.files.url_prefix": "{origin}/basic",
    "ckanext.grandlyon_access.proxy.origin.files.auth": "basic",
    "ckanext.grandlyon_access.proxy.origin.files.username": "portal",
    "ckanext.grandlyon_access.proxy.origin.files.secret": PASSWORD,
    "ckanext.grandlyon_access.proxy.origin.keyed.url_prefix": "{origin}/header/",
    "ckanext.grandlyon_access.proxy.origin.keyed.auth": "header",
    "ckanext.grandlyon_access.proxy.origin.keyed.header": "X-Api-Key",
    "ckanext.grandlyon_access.proxy.origin.keyed.secret": API_KEY,
    "ckanext.grandlyon_access.proxy.connect_timeout": 1,
    "ckanext.grandlyon_access.proxy.read_timeout": 1,
    "ckanext.grandlyon_access.proxy.max_bytes": MAX_BYTES,
    "ckanext.grandlyon_access.outbound.allow": [],
}
"""Three origins on the loopback server, one per kind of credential; short
time limits and a small size cap. The outbound guard's own allow-list stays
empty: only the proxy's origins are let through."""


@pytest.fixture(autouse=True)
def settings(origin, monkeypatch):
    """SETTINGS, for each test (CKAN's pytest plugin restores the
    configuration before each test)."""
    for key, value in SETTINGS.items():
        if isinstance(value, str):
            value = value.replace("{origin}", origin)
        monkeypatch.setitem(tk.config, key, value)


HOSTILE = ("big", "slow", "redirect-private", "redirect-outside", "redirect-inside",
           "redirect-loop", "error", "huge", "endless", "short", "page")

USERS = {"outsider": "px-outsider", "editor": "px-editor", "admin": "px-admin",
         "sysadmin": "px-root", "grantee": "px-grantee", "circle": "px-circle",
         "signer": "px-signer", "expiring": "px-expiring", "leaving": "px-leaving",
         "resigner": "px-resigner", "turned": "px-turned"}


class ProxyWorld(World):
    """Datasets `open`, `licensed`, `restricted` and `turning` (licensed,
    made restricted by a test) with files on the origin; the restricted one
    also holds the hostile files (`res[name]`) and files under the basic
    and header origins; the open one a file that asks for the proxy."""

    def __init__(self, origin: str):
        self.origin = origin
        super().__init__(users=USERS, table=False, datasets={
            "open": "open", "licensed": "licensed", "restricted": "restricted",
            "turning": "licensed"})
        self.res = {f"{key}/{r['name']}": r["id"] for key, ds in self.datasets.items()
                    for r in ds["resources"]}
        for who in ("grantee", "expiring"):
            self.grant("restricted", who)
        circle = self.call("grandlyon_access_circle_create", name="px-circle",
                           title="Partenaires")
        for who in ("circle", "leaving"):
            self.call("grandlyon_access_circle_member_create", circle_id="px-circle",
                      user=self.actors[who].name)
        self.call("grandlyon_access_grant_create", "admin", package_id="ds-restricted",
                  circle_id=circle["id"])
        for who in ("signer", "resigner", "turned"):
            self.sign(who, organisation="Lab", intended_use="Tests")

    def resources(self, key: str):
        files = [{"name": "file", "url": f"{self.origin}/bearer/{key}.csv", "format": "CSV"}]
        if key == "restricted":
            files += [{"name": "basic", "url": f"{self.origin}/basic/data.csv"},
                      {"name": "header", "url": f"{self.origin}/header/data.csv"},
                      {"name": "unknown", "url": f"{self.origin}/elsewhere/data.csv"},
                      {"name": "nowhere", "url": "https://origin.invalid/data.csv"},
                      {"name": "dots", "url": f"{self.origin}/bearer/%2e%2e/elsewhere/x.csv"}]
            files += [{"name": name, "url": f"{self.origin}/bearer/{name}.csv"}
                      for name in HOSTILE]
        if key == "open":
            files += [{"name": "asks", "url": f"{self.origin}/bearer/asks.csv",
                       proxy.DELIVERY_FIELD: proxy.PROXY}]
        return files

    def url(self, key: str, name: str = "file") -> str:
        return f"/dataset/ds-{key}/resource/{self.res[f'{key}/{name}']}/download"


@pytest.fixture(scope="module")
def world(portal_for_module, origin):
    return ProxyWorld(origin)


@pytest.fixture(scope="module")
def web(world):
    return helpers._get_test_app()


@pytest.fixture
def seen():
    """What the origin is asked during the test."""
    Origin.seen.clear()
    return Origin.seen


def get(web, world, who: str, url: str, **headers):
    """The answer to `who`, its body read (a streamed body is read while
    its request is the current one)."""
    res = web.get(url, headers={**world.actors[who].headers, **headers},
                  follow_redirects=False)
    res.get_data()
    return res


def assert_hides_origin(res, world) -> None:
    text = res.get_data(as_text=True) + str(res.headers)
    assert world.origin not in text and f":{Origin.port}" not in text
    assert not any(secret in text for secret in SECRETS)


# --- streaming ------------------------------------------------------------------------

def test_a_grantee_gets_the_bytes_never_the_origin(web, world, seen):
    res = get(web, world, "grantee", world.url("restricted"))
    assert res.status_code == 200
    assert res.get_data() == content("restricted.csv")
    assert "Location" not in res.headers
    assert res.headers["Content-Type"] == "text/csv"
    assert res.headers["Content-Length"] == str(len(content("restricted.csv")))
    assert res.headers["ETag"] == '"v1-restricted.csv"'
    assert res.headers["Last-Modified"] == "Tue, 01 Dec 2026 10:00:00 GMT"
    cache = res.headers["Cache-Control"]
    assert "private" in cache and "public" not in cache
    assert_hides_origin(res, world)
    # The portal sent the origin's credential, and nothing of the user's.
    [(path, headers)] = seen
    assert path == "/bearer/restricted.csv" and headers["Authorization"] == f"Bearer {BEARER}"
    assert world.grantee.token not in str(headers)


@pytest.mark.parametrize("name", ["basic", "header"])
def test_each_kind_of_credential_reaches_its_origin(web, world, seen, name):
    res = get(web, world, "circle", world.url("restricted", name))
    assert res.status_code == 200 and res.get_data() == content("data.csv")


def test_a_licensed_file_is_streamed_to_a_signer(web, world):
    res = get(web, world, "signer", world.url("licensed"))
    assert res.status_code == 200 and res.get_data() == content("licensed.csv")


def test_a_large_file_streams_in_constant_memory(web, world, monkeypatch):
    """32 MiB pass through the portal while it holds at most a few chunks."""
    monkeypatch.setitem(tk.config, "ckanext.grandlyon_access.proxy.max_bytes", 2 * BIG_BYTES)
    received = 0
    tracemalloc.start()
    try:
        res = web.get(world.url("restricted", "big"), headers=world.grantee.headers)
        for chunk in res.response:
            received += len(chunk)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
        res.close()
    assert res.status_code == 200 and res.headers["Content-Length"] == str(BIG_BYTES)
    assert received == BIG_BYTES
    assert peak < BIG_BYTES // 4


def test_a_range_is_passed_through(web, world, seen):
    res = get(web, world, "grantee", world.url("restricted"), Range="bytes=100-199")
    assert res.status_code == 206
    assert res.get_data() == content("restricted.csv")[100:200]
    assert res.headers["Content-Range"] == f"bytes 100-199/{len(content('restricted.csv'))}"
    assert res.headers["Content-Length"] == "100"
    assert seen[-1][1]["Range"] == "bytes=100-199"
    beyond = get(web, world, "grantee", world.url("restricted"), Range="bytes=999999-")
    assert beyond.status_code == 416


def test_a_conditional_request_answers_304(web, world):
    res = get(web, world, "grantee", world.url("restricted"),
              **{"If-None-Match": '"v1-restricted.csv"'})
    assert res.status_code == 304 and res.get_data() == b""
    assert res.headers["ETag"] == '"v1-restricted.csv"'
    changed = get(web, world, "grantee", world.url("restricted"),
                  **{"If-None-Match": '"v0-restricted.csv"'})
    assert changed.status_code == 200


def test_head_answers_the_length_without_a_body(web, world):
    res = web.test_client().head(world.url("restricted"), headers=world.grantee.headers)
    res.close()
    assert res.status_code == 200 and res.get_data() == b""
    assert res.headers["Content-Length"] == str(len(content("restricted.csv")))


def test_every_proxied_download_is_in_the_access_log(web, world):
    before = model.Session.query(AccessLog).count()
    get(web, world, "grantee", world.url("restricted")).get_data()
    logged = model.Session.query(AccessLog).order_by(AccessLog.at.desc()).first()
    assert model.Session.query(AccessLog).count() == before + 1
    assert (logged.resource_id, logged.surface) == (world.res["restricted/file"], "download")


def test_refused_users_never_reach_the_origin(web, world, seen):
    for who in ("anonymous", "outsider"):
        res = get(web, world, who, world.url("restricted"))
        assert res.status_code == 403
        assert_hides_origin(res, world)
    assert seen == []


# --- what the API shows -----------------------------------------------------------------

def test_the_api_shows_readers_the_route_and_managers_the_origin(web, world):
    for who in ("grantee", "circle", "anonymous"):
        shown = web.get("/api/3/action/package_show?id=ds-restricted",
                        headers=world.actors[who].headers).get_json()["result"]
        assert world.origin not in str(shown), who
        assert shown["resources"][0]["url"].endswith(world.url("restricted"))
        one = web.get(f"/api/3/action/resource_show?id={world.res['restricted/file']}",
                      headers=world.actors[who].headers).get_json()["result"]
        assert one["url"].endswith(world.url("restricted")), who
    edited = web.get("/api/3/action/package_show?id=ds-restricted",
                     headers=world.editor.headers).get_json()["result"]
    assert edited["resources"][0]["url"] == f"{world.origin}/bearer/restricted.csv"


def test_activities_and_resource_search_show_readers_no_origin(web, world):
    headers = world.grantee.headers
    activities = web.get("/api/3/action/package_activity_list?id=ds-restricted",
                         headers=headers).get_json()["result"]
    assert activities
    assert world.origin not in str(activities)
    found = web.get("/api/3/action/resource_search?query=name:file",
                    headers=headers).get_json()["result"]
    urls = {r["id"]: r["url"] for r in found["results"]}
    assert urls[world.res["restricted/file"]].endswith(world.url("restricted"))
    assert urls[world.res["open/file"]] == f"{world.origin}/bearer/open.csv"
    probe = web.get(f"/api/3/action/resource_search?query=url:{Origin.port}",
                    headers=headers).get_json()["result"]
    assert world.res["restricted/file"] not in str(probe)
    assert world.res["open/file"] in str(probe)


def test_the_search_index_holds_no_streamed_origin(web, world):
    found = web.get("/api/3/action/package_search?q=*:*&fl=id,res_url,data_dict,"
                    "validated_data_dict&rows=10").get_json()["result"]
    text = str(found)
    assert f"{world.origin}/bearer/asks.csv" not in text
    assert f"{world.origin}/bearer/open.csv" in text  # redirected: public as before
    assert f"{world.origin}/bearer/restricted.csv" not in text


# --- open data: the publisher chooses ---------------------------------------------------

def test_an_open_resource_may_ask_for_the_proxy(web, world):
    res = get(web, world, "anonymous", world.url("open", "asks"))
    assert res.status_code == 200 and res.get_data() == content("asks.csv")
    shown = web.get("/api/3/action/package_show?id=ds-open").get_json()["result"]
    urls = {r["name"]: r["url"] for r in shown["resources"]}
    assert urls["asks"].endswith(world.url("open", "asks"))
    assert urls["file"] == f"{world.origin}/bearer/open.csv"


def test_other_open_resources_are_redirected_unless_configured(web, world, monkeypatch):
    res = get(web, world, "anonymous", world.url("open"))
    assert res.status_code == 302
    assert res.headers["Location"] == f"{world.origin}/bearer/open.csv"
    monkeypatch.setitem(tk.config, "ckanext.grandlyon_access.proxy.levels",
                        ["open", "licensed", "restricted"])
    res = get(web, world, "anonymous", world.url("open"))
    assert res.status_code == 200 and res.get_data() == content("open.csv")


# --- hostile origins --------------------------------------------------------------------

@pytest.mark.parametrize("name, status, words", [
    ("slow", 504, "did not answer in time"),
    ("redirect-private", 502, "sent the portal elsewhere"),
    ("redirect-outside", 502, "sent the portal elsewhere"),
    ("redirect-loop", 502, "redirected too many times"),
    ("error", 502, "answered with an error"),
    ("huge", 502, "larger than the portal passes on"),
    ("unknown", 502, "may not fetch this file"),
    ("nowhere", 502, "could not be reached"),
    ("dots", 400, "address of this file is not valid"),
])
def test_a_hostile_origin_gets_a_clear_error_without_its_address(
        web, world, seen, caplog, name, status, words):
    caplog.set_level(logging.INFO)
    res = get(web, world, "grantee", "/en" + world.url("restricted", name))
    assert res.status_code == status
    assert words in res.get_data(as_text=True)
    assert "Stack trace" not in res.get_data(as_text=True)
    assert_hides_origin(res, world)
    logged = caplog.text
    assert world.origin not in logged and not any(secret in logged for secret in SECRETS)
    assert not any(path.startswith("/elsewhere/") for path, _h in seen)


def test_a_redirect_within_the_origin_is_followed(web, world, seen):
    res = get(web, world, "grantee", world.url("restricted", "redirect-inside"))
    assert res.status_code == 200 and res.get_data() == content("data.csv")
    assert [path for path, _h in seen] == ["/bearer/redirect-inside.csv", "/bearer/data.csv"]
    assert seen[1][1]["Authorization"] == f"Bearer {BEARER}"


@pytest.mark.parametrize("name", ["endless", "short"])
def test_a_body_too_long_or_cut_short_breaks_the_download(web, world, name):
    """The client must not take a partial file for the whole one: the
    stream is broken (the web server then drops the connection)."""
    res = web.get(world.url("restricted", name), headers=world.grantee.headers)
    assert res.status_code == 200
    with pytest.raises(proxy.StreamCutOff):
        res.get_data()
    res.close()


def test_an_origin_html_page_is_saved_never_shown(web, world):
    res = get(web, world, "grantee", world.url("restricted", "page"))
    assert res.status_code == 200 and res.headers["Content-Disposition"] == "attachment"
    assert res.headers["Content-Type"] == "text/html"
    assert res.headers["X-Content-Type-Options"] == "nosniff"


def test_the_error_page_speaks_french(web, world):
    res = get(web, world, "grantee", world.url("restricted", "error"))
    assert res.status_code == 502
    assert "a répondu par une erreur" in res.get_data(as_text=True)


@pytest.mark.parametrize("header, value", [
    ("HTTP_RANGE", "bytes=0-1\r\nX-Injected: 1"),
    ("HTTP_RANGE", "lines=1-2"),
    ("HTTP_IF_NONE_MATCH", '"v1"\nX-Injected: 1'),
])
def test_header_injection_is_refused(web, world, seen, header, value):
    res = web.get(world.url("restricted"), headers=world.grantee.headers,
                  environ_overrides={header: value}, follow_redirects=False)
    res.close()
    assert res.status_code == 400
    assert seen == []


# --- revocation: the very next request is refused ---------------------------------------

def assert_next_is_refused(web, world, who: str, url: str, seen: list) -> None:
    seen.clear()
    res = get(web, world, who, url)
    assert res.status_code in (403, 404)
    assert_hides_origin(res, world)
    assert seen == []


def test_an_expired_grant_is_refused_at_the_next_request(web, world, seen):
    url = world.url("restricted")
    assert get(web, world, "expiring", url).status_code == 200
    grant = model.Session.query(Grant).filter_by(user_id=world.expiring.id).one()
    grant.expires = datetime.datetime.utcnow() - datetime.timedelta(seconds=1)
    model.Session.commit()
    assert_next_is_refused(web, world, "expiring", url, seen)


def test_an_ended_membership_is_refused_at_the_next_request(web, world, seen):
    url = world.url("restricted")
    assert get(web, world, "leaving", url).status_code == 200
    membership = model.Session.query(CircleMember).filter_by(user_id=world.leaving.id).one()
    membership.expires = datetime.datetime.utcnow() - datetime.timedelta(seconds=1)
    model.Session.commit()
    assert_next_is_refused(web, world, "leaving", url, seen)


def test_a_dataset_made_restricted_is_refused_at_the_next_request(web, world, seen):
    url = world.url("turning")
    assert get(web, world, "turned", url).status_code == 200
    world.call("package_patch", "editor", id="ds-turning", access_level="restricted")
    assert_next_is_refused(web, world, "turned", url, seen)


def test_a_new_licence_version_is_refused_until_signed_again(web, world, seen):
    url = world.url("licensed")
    assert get(web, world, "resigner", url).status_code == 200
    world.call("grandlyon_licence_version_publish", licence_id="mobilites", version="9.0")
    assert_next_is_refused(web, world, "resigner", url, seen)
    world.sign("resigner", organisation="Lab", intended_use="Tests")
    assert get(web, world, "resigner", url).status_code == 200


@pytest.mark.parametrize("key", ["open", "restricted"])
def test_a_datastore_only_resource_downloads_its_table(web, world, key):
    """CKAN's download view redirected to the placeholder address of a
    resource made by datastore_create (a 500 for readers): its rows are its
    data, from the DataStore's dump (which checks access itself)."""
    table = world.call("datastore_create", "admin", resource={
        "package_id": f"ds-{key}", "name": "table"}, fields=[{"id": "n", "type": "int"}],
        records=[{"n": 1}], force=True)
    url = f"/dataset/ds-{key}/resource/{table['resource_id']}/download"
    res = get(web, world, "grantee", url)
    assert res.status_code == 302, res.status_code
    assert res.headers["Location"].endswith(f"/datastore/dump/{table['resource_id']}")
    if key == "restricted":
        assert get(web, world, "anonymous", url).status_code == 403
