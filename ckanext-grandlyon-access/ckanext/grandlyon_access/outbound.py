"""Requests the portal makes to remote hosts (harvest sources, history feeds,
map layers): one guard against server-side request forgery.

    from ckanext.grandlyon_access.outbound import OutboundError, check_url, fetch

    check_url(url)                  # raises OutboundError when refused
    answer = fetch(url, timeout=10) # OutboundResponse, body capped

Only http and https are fetched. A host that resolves to a private, loopback,
link-local, reserved or multicast address is refused unless it (or its
network) is in `ckanext.grandlyon_access.outbound.allow`, on any port or,
for an entry `host:port`, on that port only. Redirects are
followed by hand, each hop checked again; a refused hop names where the
redirect led (`OutboundError.address`). The body is read up to
`ckanext.grandlyon_access.outbound.max_bytes` (or `max_bytes`), counted once
decompressed; `timeout` bounds each wait for data and `deadline` the whole
request, however slowly the answer drips in.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import socket
import time
from collections.abc import Sequence
from typing import Any, Optional
from urllib.parse import urljoin, urlsplit

import ckan.plugins.toolkit as tk
import requests
import urllib3.exceptions

from . import config

_REDIRECTS = (301, 302, 303, 307, 308)
MAX_REDIRECTS = 5


class OutboundError(Exception):
    """A remote fetch refused or failed; `reason` is a short translated
    sentence for the user, `kind` one of refused, timeout, unreachable,
    too_large, http; `address` the address a refused redirect led to."""

    def __init__(self, reason: str, kind: str = "refused", status: Optional[int] = None,
                 address: Optional[str] = None):
        super().__init__(reason)
        self.reason = reason
        self.kind = kind
        self.status = status
        self.address = address


@dataclasses.dataclass
class OutboundResponse:
    url: str
    status: int
    headers: Any
    content: bytes

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")

    def json(self) -> Any:
        import json

        return json.loads(self.content)


def _allow_entry(entry: str) -> tuple[str, Optional[int]]:
    """(host, IP or network; port or None) of an allow-list entry: `host`,
    `host:port`, `[v6]:port`, an address or a network (CIDR)."""
    if entry.startswith("[") and "]" in entry:
        host, _bracket, rest = entry[1:].partition("]")
        return host, int(rest[1:]) if rest.startswith(":") and rest[1:].isdigit() else None
    if entry.count(":") == 1:
        host, _colon, port = entry.partition(":")
        if port.isdigit():
            return host, int(port)
    return entry, None


def _allowed(host: str, port: int, addresses: list, also: Sequence[str] = ()) -> bool:
    """Is the host (or every address it resolves to) listed, on any port or
    on this one (in the configuration or in `also`)?"""
    listed = [*config.outbound_allow(), *also]
    entries = [_allow_entry(a.strip().lower()) for a in listed if a.strip()]
    entries = [name for name, only in entries if only is None or only == port]
    if host.lower() in entries:
        return True
    networks = []
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            continue
    return bool(addresses) and all(any(a in n for n in networks) for a in addresses)


def _is_public(address) -> bool:
    if address.version == 6 and address.ipv4_mapped:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


def check_url(url: str, allow: Sequence[str] = ()) -> None:
    """Refuses (OutboundError) a URL the portal must not fetch. `allow`
    adds entries to `ckanext.grandlyon_access.outbound.allow` for this call
    (the data proxy's configured origins, proxy.py)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        raise OutboundError(tk._("The address is not a valid URL."))
    if parts.scheme not in ("http", "https"):
        raise OutboundError(tk._("Only http and https addresses can be fetched."))
    host = parts.hostname
    if not host:
        raise OutboundError(tk._("The address has no host name."))
    try:
        port = parts.port
    except ValueError:
        raise OutboundError(tk._("The address has an invalid port."))
    try:
        infos = socket.getaddrinfo(host, port or 80, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError):
        raise OutboundError(tk._("The host name does not resolve."), kind="unreachable")
    addresses = [ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos]
    if _allowed(host, port or (443 if parts.scheme == "https" else 80), addresses, allow):
        return
    if not addresses or not all(_is_public(a) for a in addresses):
        raise OutboundError(
            tk._("This address is on a private or local network, which the portal does not fetch from.")
        )


def _check_hop(url: str, hop: int) -> None:
    """check_url; a refused redirect says where it led."""
    try:
        check_url(url)
    except OutboundError as error:
        if hop == 0:
            raise
        address = url[:300]
        raise OutboundError(tk._("The remote server redirected to {address}: {reason}").format(
            address=address, reason=error.reason), kind=error.kind, address=address)


def _read_body(answer: requests.Response, limit: int, deadline_at: float) -> bytes:
    """The (decompressed) body, refused over `limit` bytes or past `deadline_at`."""
    body = bytearray()
    try:
        while True:
            if time.monotonic() > deadline_at:
                raise OutboundError(tk._("The remote server sent its answer too slowly."),
                                    kind="timeout")
            chunk = answer.raw.read1(65536, decode_content=True)
            if not chunk:
                return bytes(body)
            body += chunk
            if len(body) > limit:
                raise OutboundError(tk._("The remote answer is too large."), kind="too_large")
    except urllib3.exceptions.DecodeError:
        raise OutboundError(tk._("The remote answer could not be decompressed."), kind="http")
    except (urllib3.exceptions.HTTPError, requests.RequestException, OSError):
        raise OutboundError(tk._("The remote server stopped answering."), kind="timeout")


def fetch(
    url: str,
    *,
    timeout: float = 20.0,
    headers: Optional[dict] = None,
    max_bytes: Optional[int] = None,
    method: str = "GET",
    deadline: Optional[float] = None,
) -> OutboundResponse:
    """Fetches `url` after `check_url` (and again at each redirect); the body is
    read up to `max_bytes`, for at most `deadline` seconds in all (default
    ckanext.grandlyon_access.outbound.deadline). HTTP error statuses are
    returned, not raised."""
    limit = max_bytes or config.outbound_max_bytes()
    deadline_at = time.monotonic() + (deadline or config.outbound_deadline())
    session = requests.Session()
    for hop in range(MAX_REDIRECTS + 1):
        _check_hop(url, hop)
        remaining = deadline_at - time.monotonic()
        if remaining <= 0:
            raise OutboundError(tk._("The remote server did not answer in time."), kind="timeout")
        try:
            answer = session.request(method, url, headers=headers or {},
                                     timeout=min(timeout, remaining),
                                     stream=True, allow_redirects=False)
        except requests.Timeout:
            raise OutboundError(tk._("The remote server did not answer in time."), kind="timeout")
        except requests.RequestException:
            raise OutboundError(tk._("The remote server could not be reached."), kind="unreachable")
        with answer:
            if answer.status_code in _REDIRECTS and answer.headers.get("Location"):
                url = urljoin(url, answer.headers["Location"])
                continue
            declared = answer.headers.get("Content-Length")
            if declared and declared.isdigit() and int(declared) > limit:
                raise OutboundError(tk._("The remote answer is too large."), kind="too_large")
            body = _read_body(answer, limit, deadline_at)
            return OutboundResponse(url=answer.url, status=answer.status_code,
                                    headers=answer.headers, content=body)
    raise OutboundError(tk._("The remote server redirected too many times."), kind="http")
