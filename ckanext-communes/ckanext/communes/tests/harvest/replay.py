"""A local HTTP server that replays recorded answers of a remote portal.

A recording is a folder holding `routes.json` ({"<path>?<query>": file or
{"file", "status", "content_type"}}) and the answer files. Queries are
matched with their parameters sorted; `{{BASE}}` in a file becomes the
server's own address (next-page links, attachment URLs). `override` makes a
route answer differently (an error, a slow answer) for failure tests;
`dynamic` (a function of the request target answering an `Answer` or None)
answers before the routes, for peers that change as they are read
(peers.py).

    with ReplayServer() as server:
        server.load(FIXTURES / "opendatasoft" / "v1")
        server.url  # http://127.0.0.1:<port>

Also used by the demo commune portal (demo/commune-portal/serve.py).
"""

from __future__ import annotations

import dataclasses
import json
import pathlib
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable, Optional
from urllib.parse import parse_qsl, urlencode, urlsplit


@dataclasses.dataclass
class Answer:
    body: bytes
    status: int = 200
    content_type: str = "application/json; charset=utf-8"
    delay: float = 0.0
    headers: dict = dataclasses.field(default_factory=dict)
    # Seconds between two bytes of the body (a slowly dripping answer).
    drip: float = 0.0


def route_key(target: str) -> str:
    """`/path?b=2&a=1` -> `/path?a=1&b=2` (how routes are matched)."""
    parts = urlsplit(target)
    query = urlencode(sorted(parse_qsl(parts.query, keep_blank_values=True)))
    return parts.path + ("?" + query if query else "")


class ReplayServer:
    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.routes: dict[str, Answer] = {}
        self.override: dict[str, Answer] = {}
        self.requests: list[str] = []
        self.dynamic: Optional[Callable[[str], Optional[Answer]]] = None
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                key = route_key(self.path)
                server.requests.append(key)
                answer = server.override.get(key) or server.override.get("*") \
                    or (server.dynamic and server.dynamic(self.path)) or server.routes.get(key)
                if answer is None:
                    answer = Answer(json.dumps({"error": "not found", "path": key}).encode(), 404)
                if answer.delay:
                    time.sleep(answer.delay)
                body = answer.body.replace(b"{{BASE}}", server.url.encode())
                try:
                    self.send_response(answer.status)
                    self.send_header("Content-Type", answer.content_type)
                    self.send_header("Content-Length", str(len(body)))
                    for name, value in answer.headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    if not answer.drip:
                        self.wfile.write(body)
                    for index in range(len(body) if answer.drip else 0):
                        self.wfile.write(body[index:index + 1])
                        self.wfile.flush()
                        time.sleep(answer.drip)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer((host, port), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://{host}:{self.httpd.server_address[1]}"
        self.thread: Optional[threading.Thread] = None

    def load(self, folder: pathlib.Path) -> "ReplayServer":
        """Replaces the routes with the recording in `folder`."""
        folder = pathlib.Path(folder)
        routes = json.loads((folder / "routes.json").read_text(encoding="utf-8"))
        self.routes = {}
        for target, spec in routes.items():
            if isinstance(spec, str):
                spec = {"file": spec}
            self.routes[route_key(target)] = Answer(
                (folder / spec["file"]).read_bytes(), spec.get("status", 200),
                spec.get("content_type", "application/json; charset=utf-8"))
        return self

    def start(self) -> "ReplayServer":
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> "ReplayServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
