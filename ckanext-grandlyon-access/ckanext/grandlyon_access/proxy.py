"""The data proxy: the download route of a linked file streams the origin's
bytes itself instead of redirecting to the origin, so the origin's address
and credentials never reach a user and every request asks the policy again.

Which files (`proxied`): the linked files (not uploads) of datasets whose
level is in `ckanext.grandlyon_access.proxy.levels` (licensed and
restricted by default), and of other datasets the resources whose field
`access_delivery` is `proxy`.

How (`respond`), once gate.check_download has granted access:

- the origin is the configured one whose `url_prefix` the resource's URL
  starts with (`ckanext.grandlyon_access.proxy.origin.<name>.*`): its
  credentials (a header, basic auth or a bearer token, from the
  configuration only) are sent, and its host may be private or loopback;
  any other URL goes through the outbound guard (outbound.check_url)
  without credentials;
- `Range`, `If-Range`, `If-None-Match` and `If-Modified-Since` are passed
  on, and `Content-Type`, `Content-Length`, `Content-Range`, `ETag`,
  `Last-Modified`, `Accept-Ranges` and `Content-Encoding` passed back (206,
  304 and 416 as the origin answers them); the body is streamed in chunks
  (constant memory), undecoded;
- redirects are followed only within the same origin (at most
  MAX_REDIRECTS), each hop checked by the outbound guard;
- a slow origin answers 504, an unreachable, refused, oversized or failing
  one (an error status, an HTML error page) 502: a page in the user's
  language that names neither the origin nor its address;
- a CR, LF or NUL in a passed-on header, or a malformed `Range`, answers
  400; so does a resource URL with dot segments (`..`) or control
  characters, which could leave the origin's prefix;
- a body longer than `ckanext.grandlyon_access.proxy.max_bytes`, or
  lasting longer than `.deadline`, is cut off (the connection is broken, so
  the client knows the file is incomplete).

Log lines name the resource and the origin's name, never its address or
credentials.
"""

from __future__ import annotations

import base64
import dataclasses
import logging
import re
import time
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit

import ckan.model as model
import ckan.plugins.toolkit as tk
import requests
import urllib3.exceptions
from ckanext.grandlyon_access import config
from ckanext.grandlyon_access.outbound import OutboundError, check_url
from flask import Response, request, stream_with_context

log = logging.getLogger(__name__)

PROXY = "proxy"
REDIRECT = "redirect"
DELIVERY_FIELD = "access_delivery"
"""Resource field: `proxy` or `redirect` (the default) for a dataset whose
level is not in `ckanext.grandlyon_access.proxy.levels`."""

MAX_REDIRECTS = 3
CHUNK_BYTES = 64 * 1024
_REDIRECTS = (301, 302, 303, 307, 308)
_FORWARDED = ("Range", "If-Range", "If-None-Match", "If-Modified-Since")
_PASSED_BACK = ("Content-Type", "Content-Range", "ETag", "Last-Modified", "Accept-Ranges",
                "Content-Encoding", "Content-Disposition")
_RANGE = re.compile(r"bytes=\s*(\d*-\d*)(\s*,\s*\d*-\d*)*\s*")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# Types a browser would run as a page of the portal's own site.
_ACTIVE = re.compile(r"html|xml|svg|javascript|ecmascript", re.IGNORECASE)


class ProxyError(Exception):
    """A proxied request refused or failed: `status` is what the user gets
    (400, 502, 504), `message` a translated sentence without any address,
    `kind` a word for the log."""

    def __init__(self, status: int, message: str, kind: str):
        super().__init__(message)
        self.status, self.message, self.kind = status, message, kind


class StreamCutOff(Exception):
    """Raised while streaming: the origin's body was cut off (too long, too
    slow, broken). The web server then breaks the connection, so the client
    does not take a partial file for the whole one."""


@dataclasses.dataclass(frozen=True)
class Origin:
    """A configured origin: its name, address prefix and credentials."""

    name: str
    url_prefix: str
    auth: str = "none"
    header: str = ""
    username: str = ""
    secret: str = dataclasses.field(default="", repr=False)

    def contains(self, url: str) -> bool:
        """Whether `url` is under this origin's prefix (same scheme, host
        and port; the path within the prefix's)."""
        try:
            mine, theirs = urlsplit(self.url_prefix), urlsplit(url)
            same_place = ((mine.scheme, mine.hostname, mine.port)
                          == (theirs.scheme.lower(), theirs.hostname, theirs.port))
        except ValueError:
            return False
        return same_place and (theirs.path or "/").startswith(mine.path or "/")

    def allow_entry(self) -> str:
        """The outbound guard's allow-list entry of this origin: its host on
        its port only."""
        parts = urlsplit(self.url_prefix)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        host = f"[{parts.hostname}]" if ":" in (parts.hostname or "") else parts.hostname
        return f"{host}:{port}"

    def credentials(self) -> dict[str, str]:
        """The request headers that authenticate the portal to the origin."""
        if self.auth == "bearer":
            return {"Authorization": f"Bearer {self.secret}"}
        if self.auth == "basic":
            pair = f"{self.username}:{self.secret}".encode()
            return {"Authorization": "Basic " + base64.b64encode(pair).decode("ascii")}
        if self.auth == "header":
            return {self.header or "X-Api-Key": self.secret}
        return {}


def _normal_prefix(url: str) -> str:
    parts = urlsplit(url)
    path = parts.path if parts.path.endswith("/") else parts.path + "/"
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}{path}"


def origins() -> list[Origin]:
    """The configured origins that have a usable http(s) prefix (without
    user info: credentials go in their own options)."""
    found = []
    for name in config.proxy_origin_names():
        settings = config.proxy_origin(name)
        prefix = settings["url_prefix"]
        try:
            parts = urlsplit(prefix)
            usable = parts.scheme in ("http", "https") and parts.hostname and not parts.username
        except ValueError:
            usable = False
        if not usable:
            log.warning("proxy origin %s has no usable url_prefix: ignored", name)
            continue
        found.append(Origin(name, _normal_prefix(prefix), settings["auth"].lower() or "none",
                            settings["header"], settings["username"], settings["secret"]))
    return found


def origin_of(url: str) -> Origin | None:
    """The configured origin `url` is under (the longest prefix), if any."""
    matching = [origin for origin in origins() if origin.contains(url)]
    return max(matching, key=lambda o: len(o.url_prefix)) if matching else None


def proxied(level: str, resource: Mapping[str, Any]) -> bool:
    """Whether the download route of `resource` (a resource dict, or
    `resource_fields` of a resource object) streams its origin's bytes: a
    linked file (no `url_type`: not an upload, not a DataStore table) of a
    dataset at a proxied level, or whose `access_delivery` asks for it."""
    if resource.get("url_type"):
        return False
    return level in config.proxy_levels() or resource.get(DELIVERY_FIELD) == PROXY


def resource_fields(resource: model.Resource) -> dict[str, Any]:
    """What `proxied` reads of a resource object."""
    return {"url_type": resource.url_type,
            DELIVERY_FIELD: (resource.extras or {}).get(DELIVERY_FIELD)}


# --- the request ----------------------------------------------------------------------

def check_request() -> None:
    """Refuses (ProxyError 400) a download request whose passed-on headers
    carry a control character (header injection) or a malformed Range."""
    for name in _FORWARDED:
        value = request.headers.get(name)
        if value is not None and _CONTROL.search(value):
            raise ProxyError(400, tk._("The request has a header with a forbidden character."),
                             "bad_header")
    ranges = request.headers.get("Range")
    if ranges is not None and not _RANGE.fullmatch(ranges):
        raise ProxyError(400, tk._("The Range header of the request is not valid."), "bad_range")


def _has_dot_segment(path: str) -> bool:
    decoded = unquote(unquote(path)).replace("\\", "/")
    return any(segment in (".", "..") for segment in decoded.split("/"))


def _bad_address() -> str:
    return tk._("The address of this file is not valid: tell the dataset's publisher.")


def _check_target(url: str) -> None:
    """Refuses a resource URL that could step out of its origin's prefix or
    smuggle a header (ProxyError 400)."""
    if _CONTROL.search(url) or _CONTROL.search(unquote(url)):
        raise ProxyError(400, _bad_address(), "bad_url")
    try:
        path = urlsplit(url).path
    except ValueError:
        raise ProxyError(400, _bad_address(), "bad_url") from None
    if _has_dot_segment(path):
        raise ProxyError(400, _bad_address(), "bad_url")


def _guard(url: str, origin: Origin | None) -> None:
    """The outbound guard, which lets the configured origin's host and port
    through even when private."""
    try:
        check_url(url, allow=[origin.allow_entry()] if origin else [])
    except OutboundError as error:
        if error.kind == "unreachable":  # a host name that does not resolve
            raise _unreachable() from None
        raise ProxyError(502, tk._("The portal may not fetch this file from its source."),
                         f"refused ({error.kind})") from None


def _unreachable() -> ProxyError:
    return ProxyError(502, tk._("The source of this file could not be reached. "
                                "Try again later."), "unreachable")


def _same_place(url: str, first: str, origin: Origin | None) -> bool:
    """A redirect is followed only within the configured origin, or for an
    unconfigured one within the first URL's scheme, host and port."""
    if origin is not None:
        return origin.contains(url)
    try:
        a, b = urlsplit(url), urlsplit(first)
        return (a.scheme, a.hostname, a.port) == (b.scheme, b.hostname, b.port)
    except ValueError:
        return False


def _outgoing_headers(origin: Origin | None) -> dict[str, str]:
    headers = {name: request.headers[name] for name in _FORWARDED if name in request.headers}
    headers["Accept-Encoding"] = "identity"
    if origin is not None:
        headers.update(origin.credentials())
    return headers


def open_origin(url: str, origin: Origin | None, method: str,
                headers: dict[str, str]) -> requests.Response:
    """The origin's answer to `method url` (its body not read yet),
    redirects followed within the origin. Raises ProxyError."""
    session = requests.Session()
    session.trust_env = False  # no proxy or .netrc credentials from the environment
    timeout = (config.proxy_connect_timeout(), config.proxy_read_timeout())
    current = url
    for _hop in range(MAX_REDIRECTS + 1):
        _check_target(current)
        _guard(current, origin)
        try:
            answer = session.request(method, current, headers=headers, timeout=timeout,
                                     stream=True, allow_redirects=False)
        except requests.Timeout:
            raise ProxyError(504, tk._("The source of this file did not answer in time. "
                                       "Try again later."), "timeout") from None
        except (requests.RequestException, ValueError):
            raise _unreachable() from None
        if answer.status_code not in _REDIRECTS or not answer.headers.get("Location"):
            return answer
        answer.close()
        target = urljoin(current, answer.headers["Location"])
        if not _same_place(target, url, origin):
            raise ProxyError(502, tk._("The source of this file sent the portal elsewhere, "
                                       "which it does not follow."), "redirect_outside")
        current = target
    raise ProxyError(502, tk._("The source of this file redirected too many times."),
                     "redirect_loop")


# --- the response ---------------------------------------------------------------------

def _passed_back(answer: requests.Response) -> dict[str, str]:
    headers = {name: answer.headers[name] for name in _PASSED_BACK if name in answer.headers}
    length = answer.headers.get("Content-Length", "")
    if length.isdigit():
        headers["Content-Length"] = length
    if _ACTIVE.search(headers.get("Content-Type", "")):
        # Never run as a page of the portal: the browser saves it.
        headers["Content-Disposition"] = "attachment"
    headers["Cache-Control"] = "private, no-cache"
    return headers


def _chunks(answer: requests.Response, resource_id: str, origin_name: str) -> Iterator[bytes]:
    """The origin's body, undecoded, chunk by chunk; cut off (StreamCutOff)
    past the size cap or the deadline, or when the origin breaks off."""
    limit = config.proxy_max_bytes()
    deadline_at = time.monotonic() + config.proxy_deadline()
    sent = 0
    try:
        for chunk in answer.raw.stream(CHUNK_BYTES, decode_content=False):
            sent += len(chunk)
            if sent > limit:
                raise StreamCutOff("too_large")
            if time.monotonic() > deadline_at:
                raise StreamCutOff("deadline")
            yield chunk
    except StreamCutOff as error:
        log.warning("proxy: resource %s from origin %s cut off after %d bytes: %s",
                    resource_id, origin_name, sent, error)
        raise
    except (urllib3.exceptions.HTTPError, requests.RequestException, OSError) as error:
        log.warning("proxy: resource %s from origin %s broke off after %d bytes: %s",
                    resource_id, origin_name, sent, type(error).__name__)
        raise StreamCutOff("broken") from None
    finally:
        answer.close()


def _failure(status: int) -> ProxyError:
    if status in (401, 403, 407):
        return ProxyError(502, tk._("The source of this file refused the portal's credentials. "
                                    "Tell the portal's administrators."),
                          f"origin_status_{status}")
    if status in (404, 410):
        return ProxyError(502, tk._("The source of this file no longer has it. "
                                    "Tell the dataset's publisher."), f"origin_status_{status}")
    return ProxyError(502, tk._("The source of this file answered with an error. "
                                "Try again later."), f"origin_status_{status}")


def stream(resource: model.Resource) -> Response:
    """The proxied answer for `resource` (access already granted). Raises
    ProxyError."""
    request.environ["__no_cache__"] = True  # CKAN then says private, never public
    url = (resource.url or "").strip()
    origin = origin_of(url)
    method = "HEAD" if request.method == "HEAD" else "GET"
    answer = open_origin(url, origin, method, _outgoing_headers(origin))
    status = answer.status_code
    if status not in (200, 206, 304, 416):
        answer.close()
        raise _failure(status)
    headers = _passed_back(answer)
    if status in (304, 416) or method == "HEAD":
        answer.close()
        return Response(status=status, headers=headers)
    declared = headers.get("Content-Length")
    if declared and int(declared) > config.proxy_max_bytes():
        answer.close()
        raise ProxyError(502, tk._("This file is larger than the portal passes on."), "too_large")
    body = _chunks(answer, resource.id, origin.name if origin else "-")
    return Response(stream_with_context(body), status=status, headers=headers,
                    direct_passthrough=True)


def respond(resource: model.Resource) -> Response:
    """`stream`, with a failure answered as a page in the user's language
    that names neither the origin nor its address."""
    try:
        return stream(resource)
    except ProxyError as error:
        origin = origin_of((resource.url or "").strip())
        log.warning("proxy: resource %s from origin %s refused: %s", resource.id,
                    origin.name if origin else "-", error.kind)
        return tk.abort(error.status, error.message)
