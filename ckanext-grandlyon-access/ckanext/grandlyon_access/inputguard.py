"""Refuses input that no field of the portal accepts, before any action runs.

PostgreSQL cannot store a NUL character in text: CKAN passes such strings on
and the database answers with an error, which the API turns into a 500. Any
request carrying a NUL in its query string, form or JSON body is answered 400
here, naming the parameter, so nothing reaches the database.
"""

from __future__ import annotations

import json
from typing import Any, Iterator, Optional

import ckan.plugins.toolkit as tk
from flask import Response, request


def _strings(value: Any, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield path, str(key)
            yield from _strings(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item, path)


def _offending() -> Optional[str]:
    for key, value in request.args.items(multi=True):
        if "\x00" in key or "\x00" in value:
            return key
    if request.method in ("POST", "PUT", "PATCH"):
        if request.is_json:
            body = request.get_json(silent=True)
            for path, text in _strings(body, ""):
                if "\x00" in text:
                    return path or "body"
        else:
            for key, value in request.form.items(multi=True):
                if "\x00" in key or "\x00" in value:
                    return key
    return None


def refuse_nul() -> Optional[Response]:
    name = _offending()
    if name is None:
        return None
    message = tk._("The parameter {name} contains a NUL character, which is not allowed.").format(
        name=name.replace("\x00", "\\0"))
    if request.path.startswith("/api/"):
        body = {"success": False, "error": {"__type": "Validation Error", name: [message]}}
        return Response(json.dumps(body), status=400, content_type="application/json;charset=utf-8")
    return Response(message, status=400, content_type="text/plain; charset=utf-8")
