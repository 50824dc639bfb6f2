#!/usr/bin/env python3
"""The demo commune portal: recorded OpenDataSoft Explore API v2.1 answers
(routes.json -> files in this folder) served on 127.0.0.1 for the demo's
harvest source (source.json). Standard library only.

    python demo/commune-portal/serve.py --port 5092
"""

from __future__ import annotations

import argparse
import json
import pathlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlencode, urlsplit

HERE = pathlib.Path(__file__).resolve().parent


def route_key(target: str) -> str:
    parts = urlsplit(target)
    query = urlencode(sorted(parse_qsl(parts.query, keep_blank_values=True)))
    return parts.path + ("?" + query if query else "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=5092)
    args = parser.parse_args()
    base = f"http://127.0.0.1:{args.port}"
    routes = {}
    for target, spec in json.loads((HERE / "routes.json").read_text("utf-8")).items():
        spec = {"file": spec} if isinstance(spec, str) else spec
        routes[route_key(target)] = (
            (HERE / spec["file"]).read_bytes().replace(b"{{BASE}}", base.encode()),
            spec.get("content_type", "application/json; charset=utf-8"))

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            body, kind = routes.get(route_key(self.path), (b'{"error": "not found"}',
                                                           "application/json"))
            self.send_response(200 if route_key(self.path) in routes else 404)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    print(f"demo commune portal (OpenDataSoft v2.1 recordings) on {base}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
