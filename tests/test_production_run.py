"""The production configuration, run on this machine (`./portal prod`).

Starts what the image runs -- docker/ckan/entrypoint.sh on a copy of
docker/ckan/production.ini, the base image's start-up steps, uWSGI with
docker/ckan/uwsgi.ini, nginx with docker/nginx/portal.conf -- once for the
module, under a name of its own (its databases, Solr core and site id derive
from the test configuration's site id, so parallel test environments and the
developer's own `./portal prod` are never touched), on free ports, and checks
what a visitor meets through nginx. Stops only its own uWSGI and nginx.

The fault tests of tests/test_faults.py stop and restart the stack's real
services, which other test environments share. Here the production run
reaches PostgreSQL and Solr through forwarders of this module (`Forwarder`):
cutting one resets every open connection and refuses new ones, which is what
CKAN meets when the service stops; the shared services never stop.
"""

from __future__ import annotations

import contextlib
import os
import pathlib
import re
import signal
import socket
import subprocess
import threading
import time
from urllib.parse import urlparse

import pytest
import requests
from ckan.plugins import toolkit as tk

ROOT = pathlib.Path(__file__).resolve().parent.parent
STACK = ROOT / "scripts" / "stack.sh"
STATE = pathlib.Path(os.environ.get("PORTAL_STATE_DIR", ROOT / ".stack"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Forwarder:
    """A TCP forwarder on 127.0.0.1 to a service of the stack, that a test can
    cut (open connections reset, new ones refused) and restore on the same
    port, as if the service had stopped and started again."""

    def __init__(self, target_port: int) -> None:
        self.target = ("127.0.0.1", target_port)
        self.port = free_port()
        self.lock = threading.Lock()
        self.sockets: set[socket.socket] = set()
        self.listener: socket.socket | None = None
        self.restore()

    def restore(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(256)
        self.listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def cut(self) -> None:
        listener, self.listener = self.listener, None
        with contextlib.suppress(OSError):
            listener.shutdown(socket.SHUT_RDWR)  # wakes the thread in accept()
        listener.close()
        with self.lock:
            for sock in list(self.sockets):
                with contextlib.suppress(OSError):
                    # An abortive close (RST), as from a server that died.
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\0\0\0\0\0\0\0")
                    sock.close()
            self.sockets.clear()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=10)
                upstream.settimeout(None)
            except OSError:
                client.close()
                continue
            with self.lock:
                self.sockets.update((client, upstream))
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            with self.lock:
                self.sockets.discard(source)
                self.sockets.discard(sink)


class ProdRun:
    def __init__(self) -> None:
        site_id = re.sub(r"[^a-z0-9_]", "_", tk.config["ckan.site_id"].lower())
        self.name = f"{site_id}_prod"
        self.port = free_port()
        self.uwsgi_port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        redis_db = urlparse(tk.config["ckan.redis.url"]).path.strip("/") or "0"
        self.postgres = Forwarder(urlparse(tk.config["sqlalchemy.url"]).port)
        self.solr = Forwarder(urlparse(tk.config["solr_url"]).port)
        self.env = dict(
            os.environ,
            PORTAL_PROD_PG_ADDRESS=f"127.0.0.1:{self.postgres.port}",
            PORTAL_PROD_SOLR_ADDRESS=f"127.0.0.1:{self.solr.port}",
            PORTAL_PROD_NAME=self.name,
            PORTAL_PROD_PORT=str(self.port),
            PORTAL_PROD_UWSGI_PORT=str(self.uwsgi_port),
            PORTAL_PROD_REDIS_DB=redis_db,
        )

    def stack(self, *args: str, timeout: int = 300) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(STACK), "prod", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=ROOT,
        )

    def pid(self, process: str) -> int:
        return int((STATE / "run" / f"{self.name}-{process}.pid").read_text())

    def log(self, name: str) -> str:
        path = STATE / "log" / f"{self.name}-{name}.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""


def children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = pathlib.Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry))
    return found


@pytest.fixture(scope="module")
def prod():
    run = ProdRun()
    started = run.stack("start")
    try:
        assert started.returncode == 0, (started.stderr[-3000:], run.log("uwsgi"))
        yield run
    finally:
        stopped = run.stack("stop", timeout=60)
        assert stopped.returncode == 0, stopped.stderr


@pytest.fixture(scope="module")
def sysadmin_token(prod):
    # A lifetime, for when tokens expire (CKAN's expire_api_token).
    made = prod.stack(
        "ckan",
        "user",
        "token",
        "add",
        "admin",
        "test-production-run",
        "expires_in=1",
        "unit=86400",
        "-q",
    )
    if made.returncode != 0:
        made = prod.stack("ckan", "user", "token", "add", "admin", "test-production-run", "-q")
    assert made.returncode == 0, made.stderr[-2000:]
    return made.stdout.strip().splitlines()[-1]


def test_nginx_serves_the_portal_through_uwsgi(prod):
    home = requests.get(prod.url + "/", timeout=30)
    assert home.status_code == 200
    assert home.headers["Server"] == "nginx"
    assert 'name="q"' in home.text  # CKAN's page, not an nginx one
    status = requests.get(prod.url + "/api/action/status_show", timeout=30)
    assert status.status_code == 200
    assert status.json()["result"]["site_url"] == prod.url
    assert requests.get(prod.url + "/nginx-health", timeout=10).text == "ok\n"


def test_several_uwsgi_workers_behind_one_master(prod):
    master = prod.pid("uwsgi")
    workers = children(master)
    assert len(workers) >= 2, workers
    for pid in [master, *workers]:
        cmdline = pathlib.Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        assert str(ROOT / "docker/ckan/uwsgi.ini").encode() in cmdline


def test_config_is_read_only(prod):
    ini = STATE / prod.name / "ckan.ini"
    assert ini.stat().st_mode & 0o777 == 0o444
    assert "ckan.plugins = " in ini.read_text()  # written by docker/ckan/entrypoint.sh
    # Nothing writes under the code: not even Python's bytecode cache.
    master = prod.pid("uwsgi")
    environ = pathlib.Path(f"/proc/{master}/environ").read_bytes().split(b"\0")
    assert b"PYTHONDONTWRITEBYTECODE=1" in environ
    assert f"CKAN_INI={ini}".encode() in environ


def test_security_headers_arrive_through_nginx(prod):
    for path in ("/", "/dataset/", "/user/login", "/no-such-page"):
        response = requests.get(prod.url + path, timeout=30)
        headers = response.headers
        assert headers.get("X-Content-Type-Options") == "nosniff", path
        csp = headers.get("Content-Security-Policy", "")
        assert "frame-ancestors" in csp or headers.get("X-Frame-Options") in (
            "DENY",
            "SAMEORIGIN",
        ), path
        assert "default-src" in csp, path
        # One of each: nginx adds its own only to its own answers.
        assert "," not in headers.get("X-Content-Type-Options"), path


def test_static_assets_are_served(prod):
    home = requests.get(prod.url + "/", timeout=30).text
    bundles = re.findall(r'(?:href|src)="(/webassets/[^"]+\.(?:css|js))"', home)
    assert bundles
    asset = requests.get(prod.url + bundles[0], timeout=30)
    assert asset.status_code == 200 and len(asset.content) > 100
    image = requests.get(prod.url + "/base/images/ckan-logo.png", timeout=30)
    assert image.status_code == 200 and image.headers["Content-Type"] == "image/png"


def test_gated_downloads_answer_anonymous_as_the_portal_does(prod, sysadmin_token):
    """Restricted data: a 403 that says how to get access, or, when the
    publisher hides the dataset, the same 404 as a download that does not
    exist; the origin URL never shows, nothing is cached."""
    api = prod.url + "/api/3/action/"
    headers = {"Authorization": sysadmin_token}
    suffix = str(int(time.time() * 1000))
    org = requests.post(
        api + "organization_create",
        headers=headers,
        timeout=60,
        json={"name": f"prod-org-{suffix}"},
    )
    assert org.status_code == 200, org.text[:500]

    def download_of(name: str, **fields: str) -> str:
        made = requests.post(
            api + "package_create",
            headers=headers,
            timeout=60,
            json={
                "name": f"{name}-{suffix}",
                "owner_org": org.json()["result"]["id"],
                "access_level": "restricted",
                **fields,
                "resources": [{"name": "rows", "url": "http://example.org/secret-rows.csv"}],
            },
        )
        assert made.status_code == 200, made.text[:500]
        result = made.json()["result"]
        return f"/dataset/{result['id']}/resource/{result['resources'][0]['id']}/download"

    visible = download_of("prod-restricted")
    hidden = download_of("prod-hidden", access_hidden="true")
    missing = f"/dataset/prod-restricted-{suffix}/resource/{'0' * 8}/download"

    def anonymous(path: str) -> requests.Response:
        answer = requests.get(prod.url + path, timeout=30, allow_redirects=False)
        assert "example.org" not in answer.text + answer.headers.get("Location", "")
        assert answer.headers.get("X-Cache-Status", "") in ("", "BYPASS")  # never cached
        return answer

    assert anonymous(visible).status_code == 403
    assert anonymous(hidden).status_code == anonymous(missing).status_code == 404
    # The publisher passes the gate (through nginx, with the API token): the
    # data proxy streams from the origin, which does not answer here (502, 504),
    # and names it neither in a Location nor in its page.
    publisher = requests.get(prod.url + visible, headers=headers, timeout=60, allow_redirects=False)
    assert publisher.status_code in (200, 502, 504), publisher.status_code
    assert "Location" not in publisher.headers
    assert "secret-rows.csv" not in publisher.text


def login_post(session: requests.Session, url: str, password: str) -> requests.Response:
    form = session.get(url + "/user/login", timeout=30).text
    token = re.search(r'name="_csrf_token" value="([^"]+)"', form).group(1)
    return session.post(
        url + "/user/login",
        timeout=30,
        allow_redirects=False,
        data={"login": "admin", "password": password, "_csrf_token": token},
    )


def test_wrong_password_gets_the_portals_answer(prod):
    answer = login_post(requests.Session(), prod.url, "not-the-password")
    assert answer.status_code == 200
    assert "ne correspondent à aucun compte" in answer.text
    assert "Content-Security-Policy" in answer.headers


def test_nginx_limits_login_posts(prod):
    """Past nginx's burst, POSTs to the login form from one address answer 429
    from nginx itself, before any uWSGI worker is busy."""
    session = requests.Session()
    form = session.get(prod.url + "/user/login", timeout=30).text
    token = re.search(r'name="_csrf_token" value="([^"]+)"', form).group(1)
    statuses = []
    nginx_refusal = None
    for _ in range(25):
        answer = session.post(
            prod.url + "/user/login",
            timeout=30,
            allow_redirects=False,
            data={"login": "nobody-here", "password": "x", "_csrf_token": token},
        )
        statuses.append(answer.status_code)
        if answer.status_code == 429 and "<center>nginx</center>" in answer.text:
            nginx_refusal = answer
            break
    assert nginx_refusal is not None, statuses
    # nginx's own answer carries the headers nginx adds to what it makes.
    assert nginx_refusal.headers.get("X-Content-Type-Options") == "nosniff"
    assert "frame-ancestors 'none'" in nginx_refusal.headers.get("Content-Security-Policy", "")
    # GETs of the form are not limited.
    assert session.get(prod.url + "/user/login", timeout=30).status_code == 200


def test_a_killed_worker_is_replaced_and_nobody_notices(prod):
    """A fault in production mode: a worker dies (OOM killer, segfault); the
    uWSGI master replaces it and nginx keeps answering."""
    master = prod.pid("uwsgi")
    before = children(master)
    os.kill(before[0], signal.SIGKILL)
    for _ in range(20):
        assert requests.get(prod.url + "/api/action/status_show", timeout=30).status_code == 200
    deadline = time.time() + 60
    while time.time() < deadline:
        now = children(master)
        if len(now) == len(before) and before[0] not in now:
            break
        time.sleep(0.5)
    else:
        pytest.fail(f"workers before {before}, now {children(master)}")


@contextlib.contextmanager
def outage(forwarder: Forwarder):
    forwarder.cut()
    try:
        yield
    finally:
        forwarder.restore()


def test_solr_stopped_answers_503_through_nginx_and_loses_nothing(prod, sysadmin_token):
    """tests/test_faults.py's Solr outage, met through nginx and uWSGI."""
    api = prod.url + "/api/3/action/"
    headers = {"Authorization": sysadmin_token}
    suffix = str(int(time.time() * 1000))
    org = requests.post(
        api + "organization_create",
        headers=headers,
        timeout=60,
        json={"name": f"prod-outage-{suffix}"},
    ).json()["result"]
    kept = requests.post(
        api + "package_create",
        headers=headers,
        timeout=60,
        json={"name": f"kept-{suffix}", "owner_org": org["id"], "access_level": "open"},
    )
    assert kept.status_code == 200, kept.text[:300]

    with outage(prod.solr):
        search = requests.get(api + "package_search", params={"q": "kept"}, timeout=60)
        assert search.status_code == 503
        assert search.headers["Retry-After"]
        assert (
            "service de recherche est momentanément indisponible"
            in search.json()["error"]["message"]
        )
        page = requests.get(prod.url + "/dataset/", timeout=60)
        assert page.status_code == 503
        assert "Service temporairement indisponible" in page.text
        assert page.headers.get("X-Cache-Status") != "HIT"
        create = requests.post(
            api + "package_create",
            headers=headers,
            timeout=60,
            json={"name": f"during-{suffix}", "owner_org": org["id"], "access_level": "open"},
        )
        assert create.status_code == 503
        assert str(prod.solr.target[1]) not in create.text  # no internal address
        shown = requests.get(api + "package_show", params={"id": f"kept-{suffix}"}, timeout=60)
        assert shown.status_code == 200

    # Refused, not half-saved; search answers again once Solr is back.
    missing = requests.get(
        api + "package_show", params={"id": f"during-{suffix}"}, headers=headers, timeout=60
    )
    assert missing.status_code == 404
    found = requests.get(api + "package_search", params={"q": f"name:kept-{suffix}"}, timeout=60)
    assert found.status_code == 200 and found.json()["result"]["count"] == 1


def test_postgres_restart_every_worker_reconnects(prod):
    """tests/test_faults.py's PostgreSQL restart: the pooled connections of
    every uWSGI process die at once; the next requests, whichever worker
    takes them, reconnect."""
    for _ in range(8):  # connections in several workers' pools
        assert requests.get(prod.url + "/api/action/status_show", timeout=30).status_code == 200
        assert requests.get(prod.url + "/dataset/", timeout=30).status_code == 200
    with outage(prod.postgres):
        time.sleep(1)
    answers = [requests.get(prod.url + "/user/login", timeout=30).status_code for _ in range(4)]
    answers += [
        requests.get(prod.url + "/api/3/action/organization_list", timeout=30).status_code
        for _ in range(16)
    ]
    assert answers == [200] * 20
