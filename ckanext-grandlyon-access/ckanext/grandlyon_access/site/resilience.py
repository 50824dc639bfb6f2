"""Answers when a service the portal depends on is down.

CKAN answers a stopped Solr with HTTP 500: an API body naming the search
server (and, on writes, its internal URL) and the generic error page. The
portal answers 503 with `Retry-After` instead, and says what happened and what
to do, in the user's language: a search cannot run; a write was not saved (the
write is rolled back with the failed indexing, so nothing half-saved stays in
the database). Once Solr is back, `ckan search-index rebuild` (README,
"Operations") reindexes anything changed outside the API.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import ckan.plugins.toolkit as tk
from ckan.lib.search.common import SearchIndexError, SolrConnectionError
from flask import Response, request
from werkzeug.exceptions import InternalServerError

log = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = "60"
_API_TYPES = {"Search Connection Error": "search", "Search Index Error": "index"}


def _message(kind: str) -> str:
    if kind == "index":
        return tk._("The search service is unavailable, so nothing was saved. "
                    "Try again in a few minutes.")
    return tk._("The search service is temporarily unavailable. Try again in a few minutes.")


def api_after_request(response: Response) -> Response:
    """Turns CKAN's 500 for a search outage on the action API into a 503."""
    if response.status_code != 500 or not request.path.startswith("/api/"):
        return response
    try:
        body = json.loads(response.get_data(as_text=True))
        kind = _API_TYPES.get(body["error"]["__type"])
    except (ValueError, KeyError, TypeError):
        return response
    if kind is None:
        return response
    body["error"] = {"__type": "Service Unavailable", "message": _message(kind)}
    response.set_data(json.dumps(body))
    response.status_code = 503
    response.headers["Retry-After"] = RETRY_AFTER_SECONDS
    return response


def page_unavailable(error: Exception) -> Any:
    """The page shown instead of CKAN's 500 when Solr cannot be reached."""
    log.error("search service unavailable: %s", error)
    kind = "index" if isinstance(error, SearchIndexError) else "search"
    body = tk.render("grandlyon_access/unavailable.html", {"message": _message(kind)})
    return Response(body, status=503, headers={"Retry-After": RETRY_AFTER_SECONDS},
                    content_type="text/html; charset=utf-8")


# CKAN 2.11's search pages abort(500) with this description when Solr is down.
_CKAN_SOLR_ABORT = "Solr returned an error"


def install(app: Any) -> None:
    app.after_request(api_after_request)
    for error in (SolrConnectionError, SearchIndexError):
        app.register_error_handler(error, page_unavailable)
    ckan_handler = app.error_handler_spec.get(None, {}).get(500, {}).get(InternalServerError)

    def internal_error(error: InternalServerError) -> Any:
        if _CKAN_SOLR_ABORT in str(getattr(error, "description", "")):
            return page_unavailable(error)
        if ckan_handler is None:
            return error
        return ckan_handler(error)

    app.register_error_handler(InternalServerError, internal_error)
