"""The outbound guard against a real local HTTP server."""

from __future__ import annotations

import gzip
import http.server
import threading
import time

import pytest
from ckanext.grandlyon_access.outbound import OutboundError, check_url, fetch

BOMB = gzip.compress(b" " * 50_000_000, 9)  # 50 kB on the wire, 50 MB decompressed


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802
        if self.path == "/drip":
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            try:
                for _ in range(100):  # one byte every 0.2 s: 20 s in all
                    self.wfile.write(b" ")
                    self.wfile.flush()
                    time.sleep(0.2)
            except (BrokenPipeError, ConnectionResetError):
                pass
            return
        if self.path == "/bomb":
            self.send_response(200)
            self.send_header("Content-Encoding", "gzip")
            self.send_header("Content-Length", str(len(BOMB)))
            self.end_headers()
            self.wfile.write(BOMB)
            return
        if self.path == "/big":
            body = b"x" * 5000
        elif self.path.startswith("/redirect"):
            self.send_response(302)
            self.send_header("Location", self.path.split("to=", 1)[1])
            self.end_headers()
            return
        else:
            body = b'{"ok": true}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()  # no Content-Length: the cap must hold while streaming
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


@pytest.mark.parametrize("url", [
    "http://127.0.0.1/", "http://localhost:8080/x", "http://10.1.2.3/", "http://192.168.0.1/",
    "http://169.254.169.254/latest/meta-data/", "http://[::1]/", "http://0.0.0.0/",
    "file:///etc/passwd", "ftp://example.org/", "gopher://x/", "http:///nohost",
])
def test_refused_by_default(url):
    with pytest.raises(OutboundError):
        check_url(url)


@pytest.mark.ckan_config("ckanext.grandlyon_access.outbound.allow", "127.0.0.0/8")
def test_allowed_network_is_fetched(server):
    answer = fetch(server + "/ok")
    assert answer.status == 200 and answer.json() == {"ok": True}


def test_loopback_fetch_refused_by_default(server):
    with pytest.raises(OutboundError) as error:
        fetch(server + "/ok")
    assert error.value.kind == "refused"


@pytest.mark.ckan_config("ckanext.grandlyon_access.outbound.allow", "127.0.0.1")
def test_redirect_to_a_private_address_is_refused(server):
    with pytest.raises(OutboundError) as error:
        fetch(server + "/redirect?to=http://169.254.169.254/latest/")
    assert error.value.kind == "refused"


@pytest.mark.ckan_config("ckanext.grandlyon_access.outbound.allow", "127.0.0.1")
def test_body_over_the_cap_is_refused_while_streaming(server):
    assert len(fetch(server + "/big", max_bytes=6000).content) == 5000
    with pytest.raises(OutboundError) as error:
        fetch(server + "/big", max_bytes=4000)
    assert error.value.kind == "too_large"


@pytest.mark.ckan_config("ckanext.grandlyon_access.outbound.allow", "127.0.0.1")
def test_a_refused_redirect_names_where_it_led(server):
    with pytest.raises(OutboundError) as error:
        fetch(server + "/redirect?to=http://10.0.0.1/admin")
    assert error.value.address == "http://10.0.0.1/admin"
    assert "http://10.0.0.1/admin" in error.value.reason
    assert server not in error.value.reason


@pytest.mark.ckan_config("ckanext.grandlyon_access.outbound.allow", "127.0.0.1")
def test_a_dripping_answer_stops_at_the_deadline(server):
    """Each byte comes in well within the timeout; the deadline bounds the whole."""
    started = time.monotonic()
    with pytest.raises(OutboundError) as error:
        fetch(server + "/drip", timeout=5, deadline=1)
    assert error.value.kind == "timeout"
    assert time.monotonic() - started < 2


@pytest.mark.ckan_config("ckanext.grandlyon_access.outbound.allow", "127.0.0.1")
@pytest.mark.ckan_config("ckanext.grandlyon_access.outbound.deadline", "1")
def test_the_deadline_comes_from_the_configuration(server):
    with pytest.raises(OutboundError) as error:
        fetch(server + "/drip", timeout=5)
    assert error.value.kind == "timeout"


@pytest.mark.ckan_config("ckanext.grandlyon_access.outbound.allow", "127.0.0.1")
def test_a_compressed_answer_is_capped_once_decompressed(server):
    with pytest.raises(OutboundError) as error:
        fetch(server + "/bomb", max_bytes=1_000_000)
    assert error.value.kind == "too_large"


def test_an_allowed_host_and_port_allows_that_port_only(server, ckan_config, monkeypatch):
    """`host:port` lets the portal fetch one service of a private host (the
    commune's portal), not every port of it (its database, its admin)."""
    port = int(server.rsplit(":", 1)[1])
    for entry in (f"127.0.0.1:{port}", f"localhost:{port}"):
        monkeypatch.setitem(ckan_config, "ckanext.grandlyon_access.outbound.allow", [entry])
        host = entry.split(":")[0]
        assert fetch(f"http://{host}:{port}/ok").json() == {"ok": True}
        for url in (f"http://{host}:{port + 1}/ok", f"http://{host}/ok", "http://10.1.2.3/"):
            with pytest.raises(OutboundError):
                check_url(url)
    # An IPv6 network is not read as a port, a bracketed address with one is.
    monkeypatch.setitem(ckan_config, "ckanext.grandlyon_access.outbound.allow",
                        ["fd00::/8", "[::1]:8080"])
    check_url("http://[fd00::1]:9/")
    check_url("http://[::1]:8080/")
    with pytest.raises(OutboundError):
        check_url("http://[::1]:8081/")
