"""The catalogue as CSV: every dataset the current user may see, one line
each, at `/catalogue.csv` (and `/<lang>/catalogue.csv`).

What it holds (`COLUMNS`): name, title, the dataset's page on the portal,
access level, CKAN's private flag, licence id and title, organisation,
themes (groups), tags, when its metadata was created and last modified,
its resources' formats and links. A column with several values joins them
with `SEPARATOR`. Column names are fixed and in English whatever the page's
language, so that a script reading the file works in every language.

Access: the lines come from `package_search` run as the user (their
permission labels, private datasets they may see included), so a dataset
hidden from them is absent, as everywhere else. The resource links are the
ones `package_search` gives that user: for gated data the portal's download
route (the index never holds a gated origin URL, see gate.py), never an
origin URL.

The current search: the query string of the dataset search page (`q`,
facet filters, `sort`) narrows the export the way CKAN's search view does,
so the search page links to `/catalogue.csv?<its query string>`.

Memory: results are read `page_size()` datasets at a time (CKAN's
`ckan.search.rows_max`, at most `PAGE_SIZE_MAX`) and each page is written to
the response as soon as it is read: a response streamed in pages, whatever
the size of the catalogue. A tie-breaking sort on the dataset id keeps the
pages from overlapping.

Encoding: UTF-8 with a byte order mark (BOM). Spreadsheet programs, Excel
first, read a CSV file without one in the system's legacy code page, which
garbles every accented letter of French titles; with it they read UTF-8.
Python (`encoding="utf-8-sig"`), pandas, R and LibreOffice skip it. The
delimiter is the comma (RFC 4180).

Formula injection: every cell goes through the suite's `spreadsheet_safe`
(shared.py): text starting like a formula gets a leading quote.
"""

from __future__ import annotations

import csv
import io
import itertools
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlencode

import ckan.plugins.toolkit as tk
from ckan.lib.search import SearchError
from ckanext.grandlyon_access.shared import spreadsheet_safe
from flask import Blueprint, Response, current_app, request, stream_with_context
from werkzeug.datastructures import MultiDict

__all__ = ["COLUMNS", "SEPARATOR", "add_routes", "search_params", "rows", "csv_lines",
           "page_size", "grandlyon_access_catalogue_exports", "template_helpers"]

BOM = "\ufeff"
SEPARATOR = " | "
PAGE_SIZE_MAX = 1000
# Parameters of the search page that are not filters (CKAN's search view).
NOT_FILTERS = ("q", "page", "sort")
# Sorts the search page offers are on these fields; anything else is dropped.
SORT_FIELDS = ("score", "metadata_modified", "metadata_created", "title_string", "name",
               "views_recent")


def _site_url() -> str:
    return tk.config["ckan.site_url"].rstrip("/")


def _joined(values: Any) -> str:
    return SEPARATOR.join(str(v) for v in values if v not in (None, ""))


def _formats(pkg: dict[str, Any]) -> str:
    formats: list[str] = []
    for res in pkg.get("resources") or []:
        fmt = (res.get("format") or "").strip()
        if fmt and fmt not in formats:
            formats.append(fmt)
    return _joined(formats)


COLUMNS: list[tuple[str, Callable[[dict[str, Any]], Any]]] = [
    ("name", lambda p: p.get("name")),
    ("title", lambda p: p.get("title")),
    ("url", lambda p: f"{_site_url()}/{p.get('type') or 'dataset'}/{p.get('name')}"),
    ("access_level", lambda p: p.get("access_level") or ""),
    ("private", lambda p: "true" if p.get("private") else "false"),
    ("license_id", lambda p: p.get("license_id") or ""),
    ("license_title", lambda p: p.get("license_title") or ""),
    ("organization", lambda p: (p.get("organization") or {}).get("title")
     or (p.get("organization") or {}).get("name") or ""),
    ("groups", lambda p: _joined(g.get("title") or g.get("name") for g in p.get("groups") or [])),
    ("tags", lambda p: _joined(t.get("name") for t in p.get("tags") or [])),
    ("metadata_created", lambda p: p.get("metadata_created") or ""),
    ("metadata_modified", lambda p: p.get("metadata_modified") or ""),
    ("resource_formats", _formats),
    ("resource_urls", lambda p: _joined(r.get("url") for r in p.get("resources") or [])),
]
"""The file's columns: (header, value of a dataset dict as package_search
gives it)."""


def page_size() -> int:
    """Datasets read per search: CKAN's largest page, at most PAGE_SIZE_MAX."""
    return max(1, min(int(tk.config["ckan.search.rows_max"]), PAGE_SIZE_MAX))


def _quoted(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _sort(value: str) -> str:
    """The search page's sort, kept only when it is one of the sorts on
    SORT_FIELDS, then the dataset id to keep pages from overlapping."""
    kept = []
    for part in (value or "").split(","):
        words = part.split()
        if len(words) == 2 and words[0] in SORT_FIELDS and words[1] in ("asc", "desc"):
            kept.append(" ".join(words))
    return ", ".join((kept or ["score desc", "metadata_modified desc"]) + ["id asc"])


def search_params(args: MultiDict) -> dict[str, Any]:
    """`package_search` parameters for the search page's query string
    `args`: its query, its filters (a facet filter is `field=value`,
    `ext_*` parameters go to the search extras) and its sort, datasets only,
    private ones the user may see included."""
    filters, extras = [], {}
    for key, value in args.items(multi=True):
        if key in NOT_FILTERS or key.startswith("_") or not value:
            continue
        if key.startswith("ext_"):
            extras[key] = value
        elif key.replace("_", "").isalnum():
            filters.append(f"{key}:{_quoted(value)}")
    filters.append("+dataset_type:dataset")
    return {"q": args.get("q", ""), "fq": " ".join(filters), "sort": _sort(args.get("sort", "")),
            "extras": extras, "include_private": True}


def rows(context: dict[str, Any], params: dict[str, Any]) -> Iterator[list[Any]]:
    """The CSV rows (header first) of the datasets `package_search` finds
    with `params` for the user of `context`, read page by page."""
    yield [name for name, _value in COLUMNS]
    size, start = page_size(), 0
    while True:
        found = tk.get_action("package_search")(
            dict(context), {**params, "rows": size, "start": start})
        for pkg in found["results"]:
            yield [spreadsheet_safe(value(pkg)) for _name, value in COLUMNS]
        start += size
        if len(found["results"]) < size or start >= found["count"]:
            return


def csv_lines(table: Iterator[list[Any]], batch: int = 100) -> Iterator[str]:
    """The rows as CSV text (BOM first), in chunks of `batch` rows."""
    out = io.StringIO()
    writer = csv.writer(out)
    out.write(BOM)
    for count, row in enumerate(table, 1):
        writer.writerow(row)
        if count % batch == 0:
            yield out.getvalue()
            out.seek(0)
            out.truncate()
    yield out.getvalue()


def _context() -> dict[str, Any]:
    user = tk.current_user
    authenticated = bool(getattr(user, "is_authenticated", False))
    return {"user": user.name if authenticated else "",
            "auth_user_obj": user if authenticated else None}


def catalogue_csv() -> Response:
    """The catalogue (or the current search) as CSV, streamed. The first
    search runs before the response starts: an invalid query answers 400."""
    table = rows(_context(), search_params(request.args))
    try:
        head = [row for row in (next(table), next(table, None)) if row is not None]
    except (tk.ValidationError, SearchError) as error:
        summary = getattr(error, "error_summary", None) or str(error)
        return tk.abort(400, tk._("The search is not valid: %(error)s") % {"error": summary})
    return Response(stream_with_context(csv_lines(itertools.chain(head, table))),
                    mimetype="text/csv", headers={
                        "Content-Disposition": "attachment; filename=catalogue.csv",
                        "Cache-Control": "private, no-store"})


def grandlyon_access_catalogue_exports() -> dict[str, str]:
    """Links to the exports of the current search (the search page's query
    string): `csv` (this module's route) and, when the DCAT plugin serves
    its catalogue, `ttl`, `rdf` and `jsonld` (with the same query and
    filters as `q` and `fq`, which it passes to package_search)."""
    kept = [(k, v) for k, v in request.args.items(multi=True) if k != "page"]
    links = {"csv": tk.url_for("grandlyon_access.catalogue_csv")
             + ("?" + urlencode(kept) if kept else "")}
    if "dcat.read_catalog" in current_app.view_functions:
        params = search_params(request.args)
        query = {k: v for k, v in (("q", params["q"]), ("fq", params["fq"] if kept else "")) if v}
        for fmt in ("ttl", "rdf", "jsonld"):
            links[fmt] = tk.url_for("dcat.read_catalog", _format=fmt, **query)
    return links


def template_helpers() -> dict[str, Callable[..., Any]]:
    """This module's template helpers."""
    return {"grandlyon_access_catalogue_exports": grandlyon_access_catalogue_exports}


def add_routes(blueprint: Blueprint) -> None:
    """The export's route, on the access plugin's blueprint."""
    blueprint.add_url_rule("/catalogue.csv", "catalogue_csv", catalogue_csv)
