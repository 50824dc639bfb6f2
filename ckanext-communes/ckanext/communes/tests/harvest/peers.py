"""Hostile peers: a commune portal's catalogue served the way OpenDataSoft
(Explore API v2.1), udata (API v1) and CKAN (action API v3) serve it, and
misbehaving the way real ones do on a bad day.

    peer = Peer(server, "opendatasoft", count=10)   # server: a ReplayServer
    peer.mode = "ignore_offset"

Paging follows each API: ODS `limit`/`offset` with `total_count` (sorted on
`order_by` when asked), udata `page`/`page_size` with `total` and
`next_page`, CKAN `rows`/`start` with `count`. Modes (`MODES`):

- ignore_offset: every page is the first page again;
- reorder: every other request lists the catalogue shifted by one, so
  that pages overlap and miss a dataset (no stable order);
- insert_while_paged / remove_while_paged: a dataset is added (removed) once
  the first page was read;
- duplicates: the second page repeats the last dataset of the first and
  never lists one dataset (the total stays right);
- repeat_page: the second page answers the first page's datasets;
- shrunk: the catalogue lists only its first 2 datasets, consistently;
- empty: the catalogue is empty, consistently;
- low_total: every page announces 2 datasets fewer than the catalogue lists
  (a total that lies consistently; udata's next_page follows the total);
- list_beyond: a page asked past the end answers a JSON array, not a page;
- rate_limited: the next `limited` catalogue requests answer 429 with
  Retry-After (`retry_after`) and X-RateLimit-Reset headers;
- redirect_private: the second page redirects to `redirect_to` (a private
  address);
- slow_drip: the second page drips its body, a byte every 0.2 s;
- huge / gzip_bomb: the second page is larger than any cap (gzip: small on
  the wire, huge once decompressed);
- invalid_utf8: the second page holds bytes that are not UTF-8;
- html_200: the second page is an HTML error page with status 200.

`volatile` changes, at each request, what real portals change without the
dataset changing: udata's metrics, ODS's records count and processing date.
"""

from __future__ import annotations

import functools
import gzip
import json
from typing import Any, Optional
from urllib.parse import parse_qs, urlencode, urlsplit

from .replay import Answer, ReplayServer

MODES = ("ignore_offset", "reorder", "insert_while_paged", "remove_while_paged",
         "duplicates", "repeat_page", "shrunk", "empty", "rate_limited", "redirect_private",
         "slow_drip", "huge", "gzip_bomb", "invalid_utf8", "html_200", "low_total",
         "list_beyond")

ORGANIZATION = "ville-d-exemple"
CONFIGS = {
    "opendatasoft": {"page_size": 4},
    "udata": {"remote_organization": ORGANIZATION, "page_size": 4},
    "communes_ckan": {"remote_organization": ORGANIZATION, "page_size": 4},
}
HTML = b"<!DOCTYPE html><html><head><title>Erreur</title></head><body>Service indisponible" \
       b"</body></html>"


def ods_record(key: str, number: int, views: int) -> dict:
    return {
        "dataset_id": key, "dataset_uid": f"da_{number:04d}", "visibility": "domain",
        "has_records": True, "features": ["analyze"], "attachments": [], "fields": [],
        "metas": {"default": {
            "title": f"Jeu de données {number}", "description": f"<p>Jeu {number}</p>",
            "keyword": ["exemple"], "license": "Licence Ouverte v2.0 (Etalab)",
            "modified": "2025-01-02T10:00:00+00:00", "publisher": "Ville d'Exemple",
            "records_count": 100 + views,
            "metadata_processed": f"2025-06-01T10:{views % 60:02d}:00+00:00",
            "data_processed": "2025-01-02T10:00:00+00:00"}},
    }


def udata_record(key: str, number: int, views: int) -> dict:
    return {
        "id": key, "slug": f"jeu-de-donnees-{number}", "title": f"Jeu de données {number}",
        "description": f"Jeu **{number}**", "license": "lov2", "access_type": "open",
        "tags": ["exemple"], "private": False, "deleted": None, "archived": None,
        "created_at": "2024-01-01T00:00:00+00:00", "last_modified": "2025-01-02T10:00:00+00:00",
        "last_update": "2025-01-02T10:00:00+00:00", "frequency": "monthly",
        "page": f"https://www.data.gouv.fr/fr/datasets/jeu-de-donnees-{number}/",
        "organization": {"name": "Ville d'Exemple", "slug": ORGANIZATION},
        "resources": [{"id": f"0000{number:04d}-0000-4000-8000-000000000000",
                       "title": f"Fichier {number}", "format": "csv",
                       "url": f"https://static.data.gouv.fr/resources/{number}.csv",
                       "metrics": {"views": views}, "last_modified": "2025-01-02T10:00:00+00:00"}],
        "metrics": {"discussions": 0, "followers": views % 7, "reuses": 0, "views": views,
                    "resources_downloads": views * 3},
    }


def ckan_record(key: str, number: int, views: int) -> dict:
    return {
        "id": key, "name": f"jeu-de-donnees-{number}", "title": f"Jeu de données {number}",
        "type": "dataset", "private": False, "notes": f"Jeu {number}", "license_id": "lo-2.0",
        "metadata_modified": "2025-01-02T10:00:00", "tags": [{"name": "exemple"}],
        "organization": {"name": ORGANIZATION, "title": "Ville d'Exemple"},
        "resources": [{"name": f"Fichier {number}", "format": "CSV",
                       "url": f"https://data.example.org/{number}.csv"}],
    }


@functools.lru_cache(maxsize=1)
def gzip_bomb() -> bytes:
    """About 60 kB on the wire, 64 MB of JSON once decompressed."""
    return gzip.compress(b'{"total_count": 1, "padding": "' + b" " * 64_000_000 + b'"}', 9)


class Peer:
    """A catalogue of `count` datasets served by `server` as `kind` serves it."""

    def __init__(self, server: ReplayServer, kind: str, count: int = 10) -> None:
        self.server, self.kind = server, kind
        prefix = {"opendatasoft": "jeu-", "udata": "66000000000000000000", "communes_ckan":
                  "7c1e0a52-1b2c-4d3e-8f90-0000000000"}[kind]
        self.keys = [f"{prefix}{n:02d}" for n in range(count)]
        self.mode: Optional[str] = None
        self.volatile = False
        self.limited = 1
        self.retry_after = "1"
        self.redirect_to = "http://169.254.169.254/latest/meta-data/"
        self.catalogue_requests = 0
        self.views = 0
        server.dynamic = self.answer

    # the catalogue ---------------------------------------------------------------------
    def record(self, key: str) -> dict:
        number = self.keys.index(key) if key in self.keys else 99
        views = self.views if self.volatile else 0
        make = {"opendatasoft": ods_record, "udata": udata_record,
                "communes_ckan": ckan_record}[self.kind]
        return make(key, number, views)

    def listed(self, first_page_read: bool) -> list[str]:
        keys = list(self.keys)
        if self.mode == "shrunk":
            keys = keys[:2]
        elif self.mode == "empty":
            keys = []
        elif self.mode == "reorder" and self.catalogue_requests % 2 == 0:
            keys = keys[1:] + keys[:1]
        elif self.mode == "insert_while_paged" and first_page_read:
            keys.insert(0, self.keys[0][:-2] + "99")
        elif self.mode == "remove_while_paged" and first_page_read:
            keys.pop(0)
        return keys

    # paging --------------------------------------------------------------------------------
    def window(self, query: dict) -> tuple[int, int]:
        """(start, size) of the page asked."""
        def number(name: str, default: int) -> int:
            return int(query.get(name, [default])[0])
        if self.kind == "opendatasoft":
            return number("offset", 0), number("limit", 10)
        if self.kind == "udata":
            size = number("page_size", 20)
            return (number("page", 1) - 1) * size, size
        return number("start", 0), number("rows", 10)

    def page_body(self, path: str, query: dict, start: int, size: int) -> Any:
        keys = self.listed(first_page_read=start > 0)
        if self.mode == "list_beyond" and start >= len(keys):
            return [{"error": "offset out of range"}]
        if self.mode == "ignore_offset" or (self.mode == "repeat_page" and start > 0):
            start = 0
        chosen = keys[start:start + size]
        if self.mode == "duplicates" and start > 0:
            chosen = [keys[start - 1]] + chosen[:-1] if start + size >= len(keys) \
                else [keys[start - 1]] + chosen[1:]
        records = [self.record(key) for key in chosen]
        total = len(keys) - (2 if self.mode == "low_total" else 0)
        if self.kind == "opendatasoft":
            return {"total_count": total, "results": records}
        if self.kind == "udata":
            page = start // size + 1
            following = None
            if start + size < total:
                following = f"{self.server.url}{path}?" + urlencode(
                    {"page": page + 1, "page_size": size})
            return {"data": records, "page": page, "page_size": size, "total": total,
                    "next_page": following, "previous_page": None}
        return {"help": "package_search", "success": True,
                "result": {"count": total, "results": records, "sort": "id asc"}}

    def is_catalogue(self, path: str) -> bool:
        return {"opendatasoft": path.endswith("/catalog/datasets"),
                "udata": path.startswith("/api/1/organizations/"),
                "communes_ckan": path.endswith("/package_search")}[self.kind]

    # answers ---------------------------------------------------------------------------------
    def answer(self, target: str) -> Optional[Answer]:
        parts = urlsplit(target)
        if not self.is_catalogue(parts.path):
            return None
        self.catalogue_requests += 1
        self.views += 1
        query = parse_qs(parts.query)
        start, size = self.window(query)
        if self.mode == "rate_limited" and self.limited > 0:
            self.limited -= 1
            return Answer(b'{"error_code": "TooManyRequests", "message": "Too many requests"}',
                          429, headers={"Retry-After": self.retry_after,
                                        "X-RateLimit-Limit": "10", "X-RateLimit-Remaining": "0",
                                        "X-RateLimit-Reset": self.retry_after})
        body = json.dumps(self.page_body(parts.path, query, start, size),
                          ensure_ascii=False).encode()
        if start == 0:
            return Answer(body)
        return self.second_page(body)

    def second_page(self, body: bytes) -> Answer:
        """The answer of a page after the first, in the modes that break it."""
        if self.mode == "redirect_private":
            return Answer(b"", 302, headers={"Location": self.redirect_to})
        if self.mode == "slow_drip":
            return Answer(body, drip=0.2)
        if self.mode == "huge":
            return Answer(body[:-1] + b', "padding": "' + b"x" * 3_000_000 + b'"}')
        if self.mode == "gzip_bomb":
            return Answer(gzip_bomb(), headers={"Content-Encoding": "gzip"})
        if self.mode == "invalid_utf8":
            return Answer(body.replace(b"Jeu de donn\xc3\xa9es", b"Jeu de donn\xe9es", 1))
        if self.mode == "html_200":
            return Answer(HTML, 200, "text/html; charset=utf-8")
        return Answer(body)
