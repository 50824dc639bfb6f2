"""What every commune harvester shares: reading a remote catalogue through the
portal's outbound guard, incremental gathering, the mapping of a remote
dataset onto the portal's schema (licence, access level, tags, groups, dates,
spatial coverage), provenance, and the withdrawal of datasets removed at the
source.

A harvester subclasses `CommunesHarvester` and implements:

- `remote_records(source_url, config)`: the remote catalogue, page by page,
  as `(remote_id, record)` pairs (`record` is the remote JSON of one dataset);
  it raises `RemoteError` when the remote answers badly;
- `describe(record, source_url, config)`: a `Remote` (neutral description)
  of one record.

Source configuration (JSON): the keys of COMMON_KEYS and of the
harvester's `config_checks`, nothing else (ckanext-harvest copies each key
over the source's field of the same name when it shows the source, so no key
is named after one); every key is listed with its type and default in
ckanext-communes/README.md. For example:

    {"withdraw": "delete" | "keep",        # datasets gone at the source
     "default_access_level": "open",       # when the remote says nothing
     "access_levels": {"<remote>": "open" | "licensed" | "restricted"},
     "licences": {"<remote licence id, title or URL>": "<portal licence id>"
                  | {"licence": "<id>", "access_level": "<level>"}},
     "default_licence": "<portal licence id>" | {"licence": ..., "access_level": ...},
     "themes": "tags" | "groups",          # remote themes become ...
     "page_size": 100}

Gather stage: the whole remote catalogue is listed first; only when every
page was read are harvest objects created (new, changed, unchanged or
withdrawn). A failed listing records a gather error and creates nothing, so
the datasets already harvested stay as they are.
"""

from __future__ import annotations

import dataclasses
import datetime
import email.utils
import hashlib
import html
import json
import logging
import math
import re
import time
import unicodedata
import uuid
from collections.abc import Callable, Iterator
from typing import Any, Optional
from urllib.parse import urlsplit

import ckan.model as model
import geojson
import sqlalchemy as sa
import ckan.plugins.toolkit as tk
from ckan.lib.dictization import table_dictize
from ckan.lib.munge import munge_title_to_name
from ckan.plugins import IActions, implements
from ckanext.harvest.harvesters.base import HarvesterBase
from ckanext.harvest.model import HarvestObject, HarvestObjectExtra, HarvestSource

from ckanext.communes import config as communes_config
from ckanext.communes.dcat_mapping import current as dcat_mappings
from ckanext.communes.logic.validators import temporal_moment
from ckanext.grandlyon_access.shared import OutboundError, check_url, fetch, storable_text

try:  # optional: the licence extension's registry (licensed access needs a licence to sign)
    from ckanext.grandlyon_licence import shared as licence_shared
except ImportError:
    licence_shared = None

log = logging.getLogger(__name__)

ACCESS_LEVELS = ("open", "licensed", "restricted")
WITHDRAW = ("delete", "keep")
THEMES = ("tags", "groups")
FREQUENCIES = ("continuous", "daily", "weekly", "monthly", "quarterly", "semiannual", "annual",
               "irregular")
# Remote update frequencies (udata codes, EU frequency vocabulary names or
# URIs, DCAT labels in French or English; normalised: lower case, letters
# only) -> the portal's; each onto the nearest frequency that is not more
# frequent than the remote one.
FREQUENCY_ALIASES = {
    "continuous": "continuous", "cont": "continuous", "updatecont": "continuous",
    "encontinu": "continuous", "tempsreel": "continuous", "realtime": "continuous",
    "hourly": "continuous", "bihourly": "continuous", "trihourly": "continuous",
    "fourtimesaday": "daily", "threetimesaday": "daily", "semidaily": "daily",
    "twiceaday": "daily", "daily": "daily", "quotidienne": "daily", "quotidien": "daily",
    "fourtimesaweek": "weekly", "threetimesaweek": "weekly", "semiweekly": "weekly",
    "weekly": "weekly", "hebdomadaire": "weekly",
    "biweekly": "monthly", "threetimesamonth": "monthly", "semimonthly": "monthly",
    "monthly": "monthly", "mensuelle": "monthly", "mensuel": "monthly",
    "bimonthly": "quarterly", "quarterly": "quarterly", "trimestrielle": "quarterly",
    "trimestriel": "quarterly", "threetimesayear": "quarterly",
    "semiannual": "semiannual", "annual2": "semiannual", "semestrielle": "semiannual",
    "semestriel": "semiannual", "biannual": "semiannual",
    "annual": "annual", "annuelle": "annual", "annuel": "annual", "yearly": "annual",
    "biennial": "irregular", "triennial": "irregular", "quinquennial": "irregular",
    "punctual": "irregular", "irregular": "irregular", "irreg": "irregular",
    "irreguliere": "irregular", "ponctuelle": "irregular",
}
GEOMETRY_TYPES = ("Point", "MultiPoint", "LineString", "MultiLineString", "Polygon",
                  "MultiPolygon", "GeometryCollection")

# Common spellings of well-known licences, matched (normalised) when the
# portal's registry holds the licence id named on the right.
LICENCE_ALIASES = {
    "lov2": "lo-2.0", "lo2": "lo-2.0", "lo20": "lo-2.0", "etalab2": "lo-2.0",
    "etalab20": "lo-2.0", "licenceouvertev20": "lo-2.0", "licenceouvertev2": "lo-2.0",
    "licenceouvertev20etalab": "lo-2.0", "licenceouverteopenlicence20": "lo-2.0",
    "licenceouverteopenlicencev20": "lo-2.0", "licenceouverteopenlicenceversion20": "lo-2.0",
    "odcodbl": "odbl-1.0", "odbl": "odbl-1.0", "odbl10": "odbl-1.0",
    "opendatabaselicenseodbl": "odbl-1.0", "opendatabaselicense": "odbl-1.0",
    "opendatabaselicenseodbl10": "odbl-1.0",
    "ccby": "cc-by", "ccby40": "cc-by", "creativecommonsattribution": "cc-by",
    "ccbysa": "cc-by-sa", "ccbysa40": "cc-by-sa", "cczero": "cc-zero", "cc0": "cc-zero",
}


class RemoteError(Exception):
    """The remote portal answered badly; the message says how, for the
    harvest source's report, and `advice` what the sysadmin can do."""

    def __init__(self, message: str, advice: str = "") -> None:
        super().__init__(message)
        self.advice = advice


class IncompleteListing(RemoteError):
    """The remote catalogue was read but cannot be verified complete (pages
    repeated, overlapping or changing while read)."""


@dataclasses.dataclass
class Remote:
    """One remote dataset, described in the portal's terms but not yet mapped
    onto its registries."""

    remote_id: str
    title: str
    notes: str = ""
    name_hint: str = ""
    keywords: list[str] = dataclasses.field(default_factory=list)
    themes: list[str] = dataclasses.field(default_factory=list)
    licence: str = ""
    licence_url: str = ""
    licence_title: str = ""  # as the remote portal names it (shown on the page)
    access: str = ""
    hidden: bool = False  # listed only to those who may read it (this suite's portals)
    modified: str = ""
    issued: str = ""
    frequency: str = ""
    temporal_start: str = ""
    temporal_end: str = ""
    spatial: Optional[dict] = None
    spatial_text: str = ""
    zones: list[str] = dataclasses.field(default_factory=list)  # ids or names
    publisher: str = ""
    remote_url: str = ""
    resources: list[dict] = dataclasses.field(default_factory=list)


# --- configuration ---------------------------------------------------------------

# A check of one config key: (value, key) -> None, or ValueError with a
# sentence naming the key.
Check = Callable[[Any, str], None]

# Keys once used and renamed (ckanext-harvest copies each config key over the
# field of the source with the same name: `organization` replaced the
# source's owner organisation and broke its pages).
RENAMED_KEYS = {"organization": "remote_organization"}


def parse_config(config_str: Optional[str]) -> dict:
    """The source configuration as a dict ({} when empty or not an object);
    a renamed key of a source saved before the renaming is read under its
    new name."""
    if not config_str:
        return {}
    try:
        value = json.loads(config_str)
    except (ValueError, TypeError, RecursionError):
        return {}
    if not isinstance(value, dict):
        return {}
    for old, new in RENAMED_KEYS.items():
        if old in value and new not in value:
            value[new] = value.pop(old)
    return value


def _one_of(choices: tuple[str, ...]) -> Check:
    def check(value: Any, key: str) -> None:
        if value not in choices:
            raise ValueError(tk._('"{key}" must be one of: {choices}').format(
                key=key, choices=", ".join(choices)))
    return check


def check_text(value: Any, key: str) -> None:
    if not isinstance(value, str):
        raise ValueError(tk._('"{key}" must be a string').format(key=key))


def check_required_text(value: Any, key: str) -> None:
    if not isinstance(value, str) or not value.strip() or "\x00" in value:
        raise ValueError(tk._('"{key}" must be a non-empty string').format(key=key))


def _check_access_levels(value: Any, key: str) -> None:
    if not isinstance(value, dict) or not all(
            isinstance(k, str) and v in ACCESS_LEVELS for k, v in value.items()):
        raise ValueError(tk._('"{key}" must map remote values onto: {levels}').format(
            key=key, levels=", ".join(ACCESS_LEVELS)))


def _check_page_size(value: Any, key: str) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 1000:
        raise ValueError(tk._('"{key}" must be a whole number from 1 to 1000').format(key=key))


def check_text_map(value: Any, key: str) -> None:
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise ValueError(tk._('"{key}" must map strings onto strings').format(key=key))


def _check_licence_id(value: Any, key: str) -> None:
    if not isinstance(value, str) or value not in portal_licences():
        raise ValueError(tk._('"{key}": {value} is not a licence of the portal').format(
            key=key, value=json.dumps(value, ensure_ascii=False)[:100]))


def _check_licence_entry(entry: Any, key: str) -> None:
    """A licence id of the portal, or {"licence": <id>, "access_level": <level>}."""
    if isinstance(entry, str):
        _check_licence_id(entry, key)
    elif isinstance(entry, dict) and "licence" in entry and set(entry) <= {
            "licence", "access_level"}:
        _check_licence_id(entry["licence"], key)
        if "access_level" in entry:
            _one_of(ACCESS_LEVELS)(entry["access_level"], key + ".access_level")
    else:
        raise ValueError(tk._('"{key}" must be a licence id or {{"licence": ..., '
                              '"access_level": ...}}').format(key=key))


def _check_licences(value: Any, key: str) -> None:
    """{"<remote licence>": <licence entry>}."""
    if not isinstance(value, dict):
        raise ValueError(tk._('"{key}" must map remote licences onto licences of the '
                              'portal').format(key=key))
    for remote, entry in value.items():
        _check_licence_entry(entry, f"{key}.{remote}")


# The keys every commune harvester understands -> their check. A new common
# key goes here (with its check and a line in the README's table); a key of
# one harvester goes in that harvester's `config_checks`.
COMMON_KEYS: dict[str, Check] = {
    "withdraw": _one_of(WITHDRAW),
    "default_access_level": _one_of(ACCESS_LEVELS),
    "access_levels": _check_access_levels,
    "licences": _check_licences,
    "default_licence": _check_licence_entry,
    "themes": _one_of(THEMES),
    "page_size": _check_page_size,
}


# Limits of a source configuration: its JSON text (it is indexed with the
# source; Solr refuses a term over 32 KB), each string (key or value) in it,
# and its depth.
MAX_CONFIG_TEXT = 8192
MAX_CONFIG_STRING = 2048
MAX_CONFIG_DEPTH = 5


def TOO_LARGE() -> str:  # noqa: N802 - a message, translated when used
    return tk._("The configuration is too large ({size} characters; at most {limit})")


def _check_config_values(value: Any, key: str, depth: int = 0) -> None:
    """Every key and string of a configuration no longer than
    MAX_CONFIG_STRING and without NUL characters, no deeper than
    MAX_CONFIG_DEPTH, numbers of a sane size; ValueError naming the key."""
    name = key[:100] or tk._("the configuration")
    if depth > MAX_CONFIG_DEPTH:
        raise ValueError(tk._('"{key}" is nested too deeply').format(key=name))
    if isinstance(value, str):
        if len(value) > MAX_CONFIG_STRING:
            raise ValueError(tk._('"{key}" is too long ({size} characters; at most {limit})')
                             .format(key=name, size=len(value), limit=MAX_CONFIG_STRING))
        if "\x00" in value:
            raise ValueError(tk._('"{key}" must not contain NUL characters').format(key=name))
    elif isinstance(value, int) and not isinstance(value, bool) and abs(value) > 10 ** 15:
        raise ValueError(tk._('"{key}" is too large a number').format(key=name))
    elif isinstance(value, float) and not math.isfinite(value):
        raise ValueError(tk._('"{key}" is not a finite number').format(key=name))
    elif isinstance(value, dict):
        for child, item in value.items():
            path = f"{key}.{child}" if key else child
            _check_config_values(child, path, depth + 1)
            _check_config_values(item, path, depth + 1)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_config_values(item, f"{key}[{index}]", depth + 1)


def validate_common_config(config_str: Optional[str], extra: Optional[dict] = None) -> dict:
    """Checks a source configuration: a JSON object of known keys only (the
    common ones and `extra`, key -> check), each of the right type; raises
    ValueError with a sentence naming the key."""
    if not config_str:
        return {}
    if not isinstance(config_str, str):
        raise ValueError(tk._("The configuration must be JSON text (a JSON object written as a "
                              "string)"))
    if len(config_str) > MAX_CONFIG_TEXT * 8:
        raise ValueError(TOO_LARGE().format(size=len(config_str), limit=MAX_CONFIG_TEXT))
    try:
        conf = json.loads(config_str)
    except RecursionError:
        raise ValueError(tk._("The configuration is not valid JSON: it is nested too "
                              "deeply")) from None
    except json.JSONDecodeError as error:
        raise ValueError(tk._("The configuration is not valid JSON: {error}").format(error=error))
    except ValueError:  # a number of thousands of digits
        raise ValueError(tk._("The configuration is not valid JSON: a number is too "
                              "long")) from None
    if not isinstance(conf, dict):
        raise ValueError(tk._("The configuration must be a JSON object"))
    _check_config_values(conf, "")
    if len(config_str) > MAX_CONFIG_TEXT:
        raise ValueError(TOO_LARGE().format(size=len(config_str), limit=MAX_CONFIG_TEXT))
    checks = dict(COMMON_KEYS, **(extra or {}))
    for key, value in conf.items():
        if key in RENAMED_KEYS:
            raise ValueError(tk._('"{old}" is now called "{new}": rename it in the '
                                  'configuration').format(old=key, new=RENAMED_KEYS[key]))
        if key not in checks:
            raise ValueError(tk._('"{key}" is not a setting of this harvester (its settings: '
                                  '{keys})').format(key=key[:100], keys=", ".join(sorted(checks))))
        checks[key](value, key)
    return conf


def source_as_shown(pkg: dict) -> dict:
    """A harvest source dict with its owner organisation back in place when
    ckanext-harvest put there the `organization` config key of a source
    saved before that key was renamed (its pages failed on it)."""
    if pkg.get("type") != "harvest" or isinstance(pkg.get("organization"), dict) \
            or "organization" not in pkg:
        return pkg
    group = model.Group.get(pkg.get("owner_org")) if pkg.get("owner_org") else None
    pkg["organization"] = table_dictize(group, {"model": model}) if group else None
    return pkg


# --- remote requests ------------------------------------------------------------------

# Statuses after which a request is tried again, after the wait the remote
# portal asks for (or a short backoff).
RETRY_STATUSES = (429, 503)


def failure_advice(kind: str, **values: str) -> str:
    """What the sysadmin can do after a failure of this kind."""
    advice = {
        "timeout": tk._("The remote portal is slow or overloaded: run the job again later. If "
                        "it is always slow, a sysadmin can raise "
                        "ckanext.communes.harvest.timeout or ckanext.communes.harvest.deadline, "
                        "or lower \"page_size\" in the source configuration."),
        "unreachable": tk._("Check the source URL and that the remote portal is up, then run "
                            "the job again."),
        "too_large": tk._("Lower \"page_size\" in the source configuration, or a sysadmin can "
                          "raise ckanext.communes.harvest.max_bytes."),
        "refused": tk._("Correct the source URL; a sysadmin can allow a trusted private "
                        "address in ckanext.grandlyon_access.outbound.allow."),
        "redirect": tk._("The remote portal sent the harvester to {address}, which the portal "
                         "does not fetch from. If the portal moved there, correct the source "
                         "URL; a sysadmin can allow a trusted address in "
                         "ckanext.grandlyon_access.outbound.allow."),
        "rate_limited": tk._("The remote portal limits the number of requests: run the job "
                             "later or less often, or raise \"page_size\" so that fewer "
                             "requests are needed; a sysadmin can raise "
                             "ckanext.communes.harvest.max_wait or "
                             "ckanext.communes.harvest.retries."),
        "server_error": tk._("The remote portal has an internal error: run the job again "
                             "later; if it persists, tell the remote portal's administrator."),
        "client_error": tk._("The remote portal refuses or does not know this address: check "
                             "the source URL and its configuration (organisation, filter)."),
        "html": tk._("The address answers web pages, not the portal's API: check that the "
                     "source URL is the portal's home address, or the remote portal may be "
                     "under maintenance: run the job again later."),
        "broken": tk._("The remote portal sent a broken answer: run the job again later; if "
                       "it persists, tell the remote portal's administrator."),
        "shape": tk._("Check that the source type (OpenDataSoft, udata or CKAN) and URL match "
                      "the remote portal."),
        "listing": tk._("The remote portal does not page its catalogue reliably, or the "
                        "catalogue changed while it was read: run the job again later; if it "
                        "keeps failing, tell the remote portal's administrator. Nothing is "
                        "withdrawn until a complete listing is read."),
    }[kind]
    return advice.format(**values) if values else advice


def outbound_failure(url: str, error: Any) -> RemoteError:
    """The RemoteError of a request the outbound guard refused or that failed;
    a refused redirect names where the redirect led."""
    address = getattr(error, "address", None)
    if address:
        return RemoteError(tk._("{url}: {reason}").format(url=url, reason=error.reason),
                           failure_advice("redirect", address=address))
    kind = error.kind if error.kind in ("timeout", "unreachable", "too_large") else "refused"
    return RemoteError(tk._("{url}: {reason}").format(url=url, reason=error.reason),
                       failure_advice(kind))


def retry_delay(headers: Any, now: Optional[float] = None) -> Optional[float]:
    """Seconds the remote portal asks to wait before the next request:
    `Retry-After` (seconds or an HTTP date), else `X-RateLimit-Reset` or
    `RateLimit-Reset` (seconds, or a Unix time as OpenDataSoft and others
    send); None when it says nothing usable."""
    now = time.time() if now is None else now
    value = (headers.get("Retry-After") or "").strip()
    if value:
        if value.isdigit():
            return float(value)
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            when = None
        if when is not None and when.tzinfo is not None:
            return max(0.0, when.timestamp() - now)
    for name in ("X-RateLimit-Reset", "RateLimit-Reset", "X-Ratelimit-Reset"):
        try:
            reset = float((headers.get(name) or "").strip())
        except ValueError:
            continue
        if not math.isfinite(reset) or reset < 0:
            continue
        return max(0.0, reset - now) if reset > 1e9 else reset
    return None


def _fetch_json_answer(url: str) -> Any:
    """The outbound guard's answer for `url`, tried again (at most
    ckanext.communes.harvest.retries times) after a 429 or 503, waiting what
    the remote portal asks for, up to ckanext.communes.harvest.max_wait."""

    retries, max_wait = communes_config.harvest_retries(), communes_config.harvest_max_wait()
    for attempt in range(retries + 1):
        try:
            answer = fetch(url, timeout=communes_config.harvest_timeout(),
                           headers={"Accept": "application/json"},
                           max_bytes=communes_config.harvest_max_bytes(),
                           deadline=communes_config.harvest_deadline())
        except OutboundError as error:
            raise outbound_failure(url, error) from error
        if answer.status not in RETRY_STATUSES:
            return answer
        wait = retry_delay(answer.headers)
        if wait is not None and wait > max_wait:
            raise RemoteError(tk._("{url}: the remote portal answered HTTP {status} and asks "
                                   "to wait {wait} seconds, more than the {max_wait} seconds "
                                   "the harvester waits").format(
                url=url, status=answer.status, wait=int(math.ceil(wait)), max_wait=max_wait),
                failure_advice("rate_limited"))
        if attempt < retries:
            time.sleep(min(max_wait, 2 ** attempt) if wait is None else wait)
    raise RemoteError(tk._("{url}: the remote portal still answered HTTP {status} after "
                           "{retries} retries").format(url=url, status=answer.status,
                                                       retries=retries),
                      failure_advice("rate_limited" if answer.status == 429 else "server_error"))


def get_json(url: str) -> Any:
    """GETs `url` through the outbound guard and decodes its JSON; RemoteError
    (with the reason and advice) for a refused address or redirect, a
    timeout, a rate limit still in force after the retries, an HTTP error,
    an answer too large, HTML, bytes that are not UTF-8 or malformed JSON."""
    answer = _fetch_json_answer(url)
    if answer.status != 200:
        raise RemoteError(tk._("{url}: the remote portal answered HTTP {status}").format(
            url=url, status=answer.status),
            failure_advice("server_error" if answer.status >= 500 else "client_error"))
    text = answer.content.lstrip()[:200].lower()
    kind = (answer.headers.get("Content-Type") or "").lower()
    if "html" in kind or text.startswith(b"<!doctype") or text.startswith(b"<html"):
        raise RemoteError(tk._("{url}: the remote portal answered an HTML page instead of "
                               "JSON").format(url=url), failure_advice("html"))
    try:
        content = answer.content.decode("utf-8")
    except UnicodeDecodeError as error:
        raise RemoteError(tk._("{url}: the answer is not valid UTF-8 (byte {position})").format(
            url=url, position=error.start), failure_advice("broken")) from error
    try:
        return json.loads(content)
    except ValueError as error:
        raise RemoteError(tk._("{url}: the answer is not valid JSON ({error})").format(
            url=url, error=error), failure_advice("broken")) from error


def http_url(value: Any) -> str:
    """`value` when it is an absolute http(s) URL with a host, else "": only
    such an address may become a link of the portal (a `javascript:` or
    `data:` URL would run in the portal's origin when clicked)."""
    if not isinstance(value, str) or any(c in value for c in "\x00\r\n\t "):
        return ""
    try:
        parts = urlsplit(value.strip())
    except ValueError:
        return ""
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return ""
    return value.strip()


def ftp_url(value: str) -> str:
    """`value` when it is an ftp URL with a host (the dataset schema takes
    them as resource addresses), else ""."""
    if any(c in value for c in "\x00\r\n\t "):
        return ""
    try:
        parts = urlsplit(value)
    except ValueError:
        return ""
    return value if parts.scheme.lower() == "ftp" and parts.hostname else ""


def same_site(url: str, base: str) -> bool:
    a, b = urlsplit(url), urlsplit(base)
    return (a.scheme, a.netloc) == (b.scheme, b.netloc)


# --- verified listings and withdrawals ------------------------------------------------------

class Listing:
    """The ids a harvester's `remote_records` listed, checked page by page:
    each page must add ids not seen before (a portal that ignores the offset
    repeats its first page), the total the portal announces must stay the
    same while paging, and at the end the unique ids must be as many as that
    total. A harvester calls `page()` for every page, before filtering
    anything out, and the gather calls `complete()`."""

    def __init__(self) -> None:
        self.ids: set[str] = set()
        self.total: Optional[int] = None
        # Entries listed without a usable id (counted, never imported).
        self.unidentified = 0

    def entries(self, url: str, entries: list, id_key: str, total: Optional[int]) -> list[dict]:
        """The entries of a page that carry an id (`id_key`), after checking
        the page; an entry without one is counted, not imported (the gather
        then withdraws nothing)."""
        identified = [e for e in entries if isinstance(e, dict)
                      and isinstance(e.get(id_key), str) and e[id_key]]
        self.page(url, [e[id_key] for e in identified], total,
                  unidentified=len(entries) - len(identified))
        return identified

    def page(self, url: str, ids: list[str], total: Optional[int],
             unidentified: int = 0) -> None:
        if total is not None:
            if self.total is None:
                self.total = total
            elif total != self.total:
                raise IncompleteListing(tk._(
                    "{url}: the remote catalogue counted {before} datasets, then {after} while "
                    "it was read page by page").format(url=url, before=self.total, after=total),
                    failure_advice("listing"))
        if ids and not set(ids) - self.ids:
            raise IncompleteListing(tk._(
                "{url}: this page lists only datasets already listed by the previous pages "
                "(the remote portal seems to ignore the page asked)").format(url=url),
                failure_advice("listing"))
        self.ids.update(ids)
        self.unidentified += unidentified

    def beyond(self, url: str, entries: Any, id_key: str) -> None:
        """The entries of the page after the announced total (anything the
        portal answered there), asked when the last page was full: a portal
        whose total is too low (consistently, on every page) lists more
        there, and the listing cannot be trusted to withdraw."""
        ids = [e.get(id_key) for e in entries if isinstance(e, dict)] \
            if isinstance(entries, list) else []
        more = {i for i in ids if isinstance(i, str) and i} - self.ids
        if more:
            raise IncompleteListing(tk._(
                "{url}: the remote catalogue counts {total} datasets but lists more after "
                "them").format(url=url, total=self.total), failure_advice("listing"))

    def complete(self, url: str) -> None:
        if self.total is not None and len(self.ids) + self.unidentified != self.total:
            raise IncompleteListing(tk._(
                "{url}: the remote catalogue counts {total} datasets but its pages listed "
                "{count} different ones (pages repeated, reordered or changed while they "
                "were read)").format(url=url, total=self.total, count=len(self.ids)),
                failure_advice("listing"))


def dig(answer: Any, *keys: str) -> Any:
    """`answer[k1][k2]...` when each level is an object, else None (a page
    whose shape is not the one expected)."""
    for key in keys:
        if not isinstance(answer, dict):
            return None
        answer = answer.get(key)
    return answer


def endless_paging(source_url: str) -> RemoteError:
    """The error of a catalogue that pages past the configured maximum."""
    return RemoteError(tk._("{url}: more than {pages} pages; the catalogue seems to page "
                            "without end").format(url=source_url,
                                                  pages=communes_config.harvest_max_pages()),
                       failure_advice("listing"))


def check_max_withdraw(value: Any, key: str) -> None:
    """`max_withdraw`: a number of datasets (0 or more) or a percentage of the
    source's datasets ("20%")."""
    if _max_withdraw(value) is None:
        raise ValueError(tk._('"{key}" must be a number of datasets (such as 3) or a '
                              'percentage of the source\'s datasets (such as "20%")').format(
            key=key))


# A common key of the source configuration (see COMMON_KEYS).
COMMON_KEYS["max_withdraw"] = check_max_withdraw


def _max_withdraw(value: Any) -> Optional[tuple[str, float]]:
    """("count", n) or ("percent", p) from a max_withdraw value; None when invalid."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return "count", float(value)
    if isinstance(value, str) and re.fullmatch(r"\s*\d{1,3}(\.\d+)?\s*%\s*", value):
        percent = float(value.strip().rstrip("%"))
        if percent <= 100:
            return "percent", percent
    return None


def withdrawal_limit(conf: dict, harvested: int) -> tuple[int, str]:
    """How many of the `harvested` datasets of a source one job may withdraw,
    and the setting that says so (the source's "max_withdraw", else
    ckanext.communes.harvest.max_withdraw); a percentage is rounded down
    (20% of 6 datasets withdraws 1 at most, never 2: 33%), and a percentage
    above 0 allows one dataset at least (a source of 3 may lose one)."""
    setting = conf.get("max_withdraw", communes_config.harvest_max_withdraw())
    parsed = _max_withdraw(setting) or ("percent", 20.0)
    if parsed[0] == "count":
        return int(parsed[1]), str(setting)
    limit = int(math.floor(harvested * parsed[1] / 100 + 1e-9))
    return (max(limit, 1) if parsed[1] > 0 else 0), str(setting)


def withdrawal_refusal(conf: dict, harvested: int, listed: int, gone: int) -> Optional[str]:
    """Why the `gone` datasets must not be withdrawn (lines for the job
    report: what happened, what was kept, what to do), or None. An empty
    listing withdraws only when the source's "max_withdraw" explicitly
    allows withdrawing every dataset."""
    if not gone:
        return None
    limit, setting = withdrawal_limit(conf, harvested)
    if listed == 0 and not ("max_withdraw" in conf and limit >= harvested):
        return "\n".join((
            tk._("The remote catalogue lists no dataset, while {harvested} were harvested from "
                 "this source.").format(harvested=harvested),
            tk._("Nothing was withdrawn: the datasets already harvested are kept as they are."),
            tk._("If the remote portal really emptied its catalogue, set \"max_withdraw\": "
                 "\"100%\" in the source configuration and run the job again.")))
    if gone > limit:
        return "\n".join((
            tk._("The remote catalogue no longer lists {gone} of the {harvested} datasets "
                 "harvested from this source, more than one job may withdraw "
                 "(\"max_withdraw\": {setting}).").format(
                gone=gone, harvested=harvested, setting=json.dumps(setting)),
            tk._("Nothing was withdrawn; the {listed} datasets listed were imported or "
                 "updated.").format(listed=listed),
            tk._("If the remote portal really removed them, raise \"max_withdraw\" in the "
                 "source configuration (a number of datasets, or a percentage such as "
                 "\"100%\") and run the job again.")))
    return None


def unverified_message(error: RemoteError, harvested: int) -> str:
    """The job report's lines for a gather that read no verified listing:
    what happened, what was kept, what to do."""
    if not harvested:
        kept = tk._("Nothing was imported.")
    elif harvested == 1:
        kept = tk._("Nothing was imported or withdrawn: the dataset already harvested from "
                    "this source is kept as it is.")
    else:
        kept = tk._("Nothing was imported or withdrawn: the {count} datasets already harvested "
                    "from this source are kept as they are.").format(count=harvested)
    return "\n".join(part for part in (str(error), kept, error.advice) if part)


# The messages the gather records (in English: the workers have no
# language), with their placeholders, most specific first: the job report
# shows each line in the reader's language (`message_in_language`).
GATHER_MESSAGES = (
    "{url}: the remote catalogue counted {before} datasets, then {after} while it was read "
    "page by page",
    "{url}: this page lists only datasets already listed by the previous pages (the remote "
    "portal seems to ignore the page asked)",
    "{url}: the remote catalogue counts {total} datasets but its pages listed {count} "
    "different ones (pages repeated, reordered or changed while they were read)",
    "{url}: the remote catalogue counts {total} datasets but lists more after them",
    "The remote catalogue lists no dataset, while {harvested} were harvested from this source.",
    "The remote catalogue no longer lists {gone} of the {harvested} datasets harvested from "
    "this source, more than one job may withdraw (\"max_withdraw\": {setting}).",
    "Nothing was withdrawn; the {listed} datasets listed were imported or updated.",
    "Nothing was imported or withdrawn: the {count} datasets already harvested from this "
    "source are kept as they are.",
    "{url}: the remote portal answered HTTP {status} and asks to wait {wait} seconds, more "
    "than the {max_wait} seconds the harvester waits",
    "{url}: the remote portal still answered HTTP {status} after {retries} retries",
    "{url}: the answer is not valid UTF-8 (byte {position})",
    "{url}: not a udata page of datasets (no data and total)",
    "The remote portal sent the harvester to {address}, which the portal does not fetch from. "
    "If the portal moved there, correct the source URL; a sysadmin can allow a trusted "
    "address in ckanext.grandlyon_access.outbound.allow.",
    "The remote server redirected to {address}: {reason}",
    "{url}: {count} entries of the remote catalogue have no id; they were not imported.",
    "Nothing was withdrawn (an entry without its id may be a dataset already harvested); the "
    "{listed} datasets listed were imported or updated.",
    # SHAPE_ERROR
    "the remote record's \"{field}\" must be {expected}; the published version is kept "
    "unchanged",
)


def _pattern(msgid: str) -> re.Pattern[str]:
    parts = re.split(r"\{(\w+)\}", msgid)
    return re.compile("^" + "".join(f"(?P<{part}>.+?)" if i % 2 else re.escape(part)
                                     for i, part in enumerate(parts)) + "$", re.DOTALL)


def _said(value: Any) -> str:
    """A validation error's messages as one line (CKAN's English messages,
    each translated again when shown: `_field_messages`)."""
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return " ".join(value)
    return str(value)


def _field_messages(line: str) -> Optional[str]:
    """`field: message; field: message` (a validation error recorded by an
    import) with each message in the current language, or None when no
    message has a translation."""
    parts, changed = [], False
    for part in line.split("; "):
        key, sep, message = part.partition(": ")
        if sep and message and tk._(message) != message:
            parts.append(f"{key}: {tk._(message)}")
            changed = True
        else:
            parts.append(part)
    return "; ".join(parts) if changed else None


def message_in_language(text: str, more: tuple[str, ...] = ()) -> str:
    """A message recorded by a harvester (in English), line by line in the
    current language: a line matching a message with placeholders (ours,
    then `more`) is translated with its values translated too."""
    def line_in_language(line: str, depth: int = 0) -> str:
        if line and tk._(line) != line:  # a message of its own, not a pattern's match
            return tk._(line)
        for msgid in GATHER_MESSAGES + tuple(more):
            match = _pattern(msgid).match(line) if "{" in msgid else None
            if match:
                values = {key: line_in_language(value, depth + 1) if depth < 2 else value
                          for key, value in match.groupdict().items()}
                return tk._(msgid).format(**values)
        return _field_messages(line) or (tk._(line) if line else line)
    return "\n".join(line_in_language(line) for line in str(text or "").split("\n"))


# --- mapping helpers ----------------------------------------------------------------------

def html_to_text(value: str) -> str:
    """The text of a remote HTML description (markdown line breaks kept)."""
    if not value or "<" not in value:
        return html.unescape(value or "").strip()
    text = re.sub(r"(?i)<br\s*/?>", "\n", value)
    text = re.sub(r"(?i)</(p|div|h[1-6])>", "\n\n", text)
    text = re.sub(r"(?i)<li[^>]*>", "\n- ", text)
    text = re.sub(r"<[^>]+>", "", text)
    text = html.unescape(text)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def _normalise(value: str) -> str:
    value = re.sub(r"^https?://(www\.)?", "", (value or "").strip().lower()).rstrip("/")
    return re.sub(r"[^a-z0-9]", "", value)


def licence_registry() -> dict[str, str]:
    """Normalised id, title and URL of each licence of the portal -> its id."""
    licences = tk.get_action("license_list")({"ignore_auth": True}, {})
    index: dict[str, str] = {}
    for licence in licences:
        for key in ("id", "title", "url"):
            if licence.get(key):
                index.setdefault(_normalise(str(licence[key])), licence["id"])
    for alias, licence_id in LICENCE_ALIASES.items():
        if any(lic["id"] == licence_id for lic in licences):
            index.setdefault(alias, licence_id)
    return index


def portal_licences() -> set[str]:
    """The ids of the licences of the portal's registry."""
    return {lic["id"] for lic in tk.get_action("license_list")({"ignore_auth": True}, {})}


# The notes the mapping writes on a dataset (`provenance_notes`, one a line)
# and in the job report: stored in English (the workers have no language)
# and shown in the reader's language (helpers.communes_harvest_message).
NOTE_UNKNOWN_LICENCE = "Remote licence not in the portal's registry: {licence}"
NOTE_UNKNOWN_LICENCE_RESTRICTED = (
    "Remote licence not in the portal's registry: {licence}; the data is restricted until "
    "the licence is mapped (\"licences\" in the source configuration)")
NOTE_NO_LICENCE = "The remote portal names no licence"
NOTE_WITHDRAWN = "Withdrawn from the remote portal on {date}"
NOTE_NOT_TO_SIGN = ("The remote portal asks for an account; the licence {licence} is not one "
                    "to sign, so the data is restricted")
JOB_UNKNOWN_LICENCE = ("Remote licence unknown to the portal: {licence}. The dataset was "
                       "imported with the licence \"{licence_id}\" and the access level "
                       "\"{level}\"; map this licence in \"licences\" in the source "
                       "configuration.")
# The harvest object extra holding a note of the mapping for the job report.
NOTE_EXTRA = "mapping_note"
JOB_UNKNOWN_LICENCE_NONE = ("Remote licence unknown to the portal: {licence}. The dataset was "
                            "imported without a licence and with the access level \"{level}\"; "
                            "map this licence in \"licences\" in the source configuration.")
NOTE_RESOURCE_NOT_HTTP = ("The remote resource \"{name}\" was left out: its address is not an "
                          "http(s) URL")
NOTE_UNKNOWN_ACCESS = ("The remote access level \"{access}\" is unknown to the harvester; the "
                       "source's default access level \"{level}\" applies (\"access_levels\" "
                       "in the source configuration maps it)")
NOTE_DELETED_HERE = ("Deleted on this portal: the harvester does not publish it again. To "
                     "publish it again, restore the dataset; to harvest it anew, purge it.")
NOTE_TEMPORAL_NOT_DATE = ("The remote temporal coverage's bound \"{value}\" is not an ISO 8601 "
                          "date: it was left out")
NOTE_TEMPORAL_END_BEFORE_START = ("The remote temporal coverage ends ({end}) before it starts "
                                  "({start}): its end was left out")
NOTE_UNKNOWN_FREQUENCY = ("The remote update frequency \"{value}\" is not one the portal "
                          "knows: it was left out")
NOTE_RESOURCE_SIZE = ("The remote size of the resource \"{name}\" is not a whole number of "
                      "bytes: it was left out")
NOTE_UNKNOWN_THEME = ("The remote theme \"{value}\" is not one of the EU data themes: it was "
                      "left out")
NOTE_SPATIAL_INVALID = ("The remote spatial coverage is not a valid GeoJSON geometry: it was "
                        "left out")
NOTE_MODIFIED_NOT_DATE = ("The remote modification date \"{value}\" is not an ISO 8601 date: "
                          "it was left out")
MAPPING_NOTES = (NOTE_UNKNOWN_THEME, NOTE_SPATIAL_INVALID, NOTE_MODIFIED_NOT_DATE,
                 NOTE_UNKNOWN_ACCESS, JOB_UNKNOWN_LICENCE, JOB_UNKNOWN_LICENCE_NONE,
                 NOTE_UNKNOWN_LICENCE_RESTRICTED, NOTE_UNKNOWN_LICENCE, NOTE_NO_LICENCE,
                 NOTE_NOT_TO_SIGN, NOTE_RESOURCE_NOT_HTTP, NOTE_TEMPORAL_NOT_DATE,
                 NOTE_TEMPORAL_END_BEFORE_START, NOTE_UNKNOWN_FREQUENCY, NOTE_RESOURCE_SIZE)


@dataclasses.dataclass
class LicenceChoice:
    """What the mapping chose for a remote licence."""

    licence_id: str               # "" for no licence of the portal
    access_level: Optional[str]   # the least open level it allows, None: no opinion
    known: bool                   # False: the remote licence matched nothing


def licence_entry(entry: Any) -> tuple[str, Optional[str]]:
    """(licence id, access level or None) of a "licences" table entry or of
    "default_licence": a licence id or {"licence": ..., "access_level": ...}."""
    if isinstance(entry, dict):
        return str(entry.get("licence") or ""), entry.get("access_level")
    return str(entry or ""), None


def map_licence(remote: Remote, conf: dict, notes: list[str]) -> LicenceChoice:
    """The remote licence through the source's table ("licences", matched as
    written or normalised), then the portal's registry (ids, titles, URLs,
    common spellings); else the source's "default_licence", else the
    portal's default when it is a licence of the registry, else none. An
    unknown licence restricts the data unless the default entry gives an
    access level."""
    candidates = [c for c in (remote.licence, remote.licence_title, remote.licence_url) if c]
    table = conf.get("licences") or {}
    normalised_table = {_normalise(key): entry for key, entry in table.items()}
    for candidate in candidates:
        entry = table.get(candidate, normalised_table.get(_normalise(candidate)))
        if entry is not None:
            licence_id, level = licence_entry(entry)
            return LicenceChoice(licence_id, level, True)
    index = licence_registry()
    for candidate in candidates:
        if _normalise(candidate) in index:
            return LicenceChoice(index[_normalise(candidate)], None, True)
    if "default_licence" in conf:
        licence_id, level = licence_entry(conf["default_licence"])
    else:
        licence_id, level = communes_config.harvest_default_licence(), None
        if licence_id not in portal_licences():
            licence_id = ""
    if not candidates:
        notes.append(NOTE_NO_LICENCE)
        return LicenceChoice(licence_id, level, True)
    named = remote.licence_title or remote.licence or remote.licence_url
    if level is None:
        level = "restricted"
        notes.append(NOTE_UNKNOWN_LICENCE_RESTRICTED.format(licence=named))
    else:
        notes.append(NOTE_UNKNOWN_LICENCE.format(licence=named))
    return LicenceChoice(licence_id, level, False)


def job_notes(job_id: str) -> list[tuple[str, str]]:
    """(remote id, note) of the mapping notes of a job's datasets."""
    rows = (model.Session.query(HarvestObject.guid, HarvestObjectExtra.value)
            .join(HarvestObjectExtra, HarvestObjectExtra.harvest_object_id == HarvestObject.id)
            .filter(HarvestObject.harvest_job_id == job_id,
                    HarvestObjectExtra.key == NOTE_EXTRA)
            .order_by(HarvestObject.guid))
    return [(guid, value) for guid, value in rows]


def licence_needs_signature(licence_id: str) -> bool:
    """Does the portal's licence registry ask a signature for this licence?
    (No, when the licence extension is not installed.)"""
    if licence_shared is None:
        return False
    return bool(licence_id) and licence_shared.licence_requires_signature(licence_id)


def map_access(remote: Remote, conf: dict, builtin: dict[str, Optional[str]],
               licence: LicenceChoice, notes: list[str]) -> str:
    """The remote access (through `builtin` and the source's "access_levels")
    or the source's default, made no more open than the licence mapping
    allows; `licensed` needs a licence to sign, else it is `restricted`."""
    default = conf.get("default_access_level") or "open"
    mapping = dict(builtin, **(conf.get("access_levels") or {}))
    level = mapping.get(remote.access) if remote.access else None
    if remote.access and remote.access not in mapping:
        # Never open silently what the remote portal names unknown.
        named = " ".join(str(remote.access).split())[:100]
        notes.append(NOTE_UNKNOWN_ACCESS.format(access=named, level=default))
    level = level or default
    if licence.access_level in ACCESS_LEVELS and \
            ACCESS_LEVELS.index(licence.access_level) > ACCESS_LEVELS.index(level):
        level = licence.access_level
    if level == "licensed" and not licence_needs_signature(licence.licence_id):
        notes.append(NOTE_NOT_TO_SIGN.format(licence=licence.licence_id))
        level = "restricted"
    return level


# A tag as CKAN 2.11 accepts it: letters (any script), digits, spaces, - _ .
_TAG_FORBIDDEN = re.compile(r"[^\w \-.]+", re.UNICODE)


def clean_tags(values: list[str]) -> list[str]:
    """The remote keywords as written (case and accents kept), characters a
    tag may not hold replaced by spaces; the first of two that differ only
    in case is kept."""
    tags: list[str] = []
    seen: set[str] = set()
    for value in values:
        tag = re.sub(r"\s+", " ", _TAG_FORBIDDEN.sub(" ", str(value or ""))).strip(" -_.")[:100]
        if len(tag) >= 2 and tag.casefold() not in seen:
            seen.add(tag.casefold())
            tags.append(tag)
    return tags


DATA_THEME = "http://publications.europa.eu/resource/authority/data-theme/"
# The EU data themes (the dataset schema's `theme` choices).
EU_DATA_THEMES = tuple(DATA_THEME + code for code in (
    "AGRI", "ECON", "EDUC", "ENER", "ENVI", "GOVE", "HEAL", "INTR", "JUST", "REGI", "SOCI",
    "TECH", "TRAN"))


def eu_data_themes(themes: list[str]) -> list[str]:
    """The EU data themes of remote themes: those that are EU data theme IRIs
    already (a DCAT-AP or this suite's portal), and those the DCAT-AP mapping
    file names (its `themes`: "Mobilité" -> TRAN), without repeats."""
    found = [t for t in themes if t.startswith(DATA_THEME)]
    found += dcat_mappings().themes_of([t for t in themes if not t.startswith(DATA_THEME)])
    return [t for i, t in enumerate(found) if t in EU_DATA_THEMES and t not in found[:i]]


def unknown_eu_themes(themes: list[str]) -> list[str]:
    """The remote themes that look like EU data theme IRIs and are none of
    the vocabulary's (the dataset schema offers only those)."""
    return [t for t in themes if t.startswith(DATA_THEME) and t not in EU_DATA_THEMES]


def map_frequency(value: str) -> str:
    """A remote update frequency -> one of FREQUENCIES ("" when unknown)."""
    text = str(value or "").strip()
    if text in FREQUENCIES:
        return text
    tail = text.rstrip("/").rsplit("/", 1)[-1]
    key = re.sub(r"[^a-z0-9]", "", unicodedata.normalize("NFKD", tail.lower())
                 .encode("ascii", "ignore").decode())
    return FREQUENCY_ALIASES.get(key, "")


def zone_names(zones: list[str], conf: dict) -> list[str]:
    """Readable names of udata spatial zones (`fr:commune:69123`): the
    source's "zone_names" table, else the portal's commune with that INSEE
    code, else the zone's level and code ("commune 69123"); a name stays."""
    table = conf.get("zone_names") or {}
    names: list[str] = []
    for zone in zones:
        zone = str(zone or "").strip()
        if not zone:
            continue
        name = table.get(zone)
        parts = zone.split(":")
        if name is None and len(parts) >= 3 and parts[-2] == "commune":
            name = commune_title(parts[-1])
        if name is None and len(parts) >= 2 and all(parts):
            name = f"{parts[-2].replace('-', ' ')} {parts[-1]}"
        name = name or zone
        if name not in names:
            names.append(name)
    return names


def commune_title(insee_code: str) -> Optional[str]:
    """The title of the portal's organisation with this INSEE code."""
    row = (model.Session.query(model.Group.title)
           .join(model.GroupExtra, model.GroupExtra.group_id == model.Group.id)
           .filter(model.GroupExtra.key == "insee_code", model.GroupExtra.value == insee_code,
                   model.GroupExtra.state == "active", model.Group.state == "active",
                   model.Group.is_organization == True)  # noqa: E712
           .first())
    return row[0] if row else None


def local_groups() -> dict[str, str]:
    """Normalised name and title of every group -> its name."""
    groups = tk.get_action("group_list")({"ignore_auth": True}, {"all_fields": True})
    index: dict[str, str] = {}
    for group in groups:
        index[_normalise(group["name"])] = group["name"]
        index.setdefault(_normalise(group.get("title") or ""), group["name"])
    return index


def _bbox_polygon(value: Any) -> Optional[dict]:
    if isinstance(value, list) and len(value) == 4 and all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
        minx, miny, maxx, maxy = value
        return {"type": "Polygon", "coordinates": [[[minx, miny], [maxx, miny], [maxx, maxy],
                                                    [minx, maxy], [minx, miny]]]}
    return None


def geometry(value: Any, depth: int = 0) -> Optional[dict]:
    """A GeoJSON geometry from a geometry, a Feature, a FeatureCollection
    (its first geometry), an object with only a `bbox`, a bbox list, or any
    of them as JSON text."""
    if depth > 3:
        return None
    if isinstance(value, str) and value.strip().startswith(("{", "[")):
        try:
            value = json.loads(value)
        except ValueError:
            return None
    polygon = _bbox_polygon(value)
    if polygon or not isinstance(value, dict):
        return polygon
    kind = value.get("type")
    if kind == "Feature":
        return geometry(value.get("geometry"), depth + 1) or _bbox_polygon(value.get("bbox"))
    if kind == "FeatureCollection":
        for feature in value.get("features") or []:
            found = geometry(feature, depth + 1)
            if found:
                return found
        return _bbox_polygon(value.get("bbox"))
    if kind in GEOMETRY_TYPES and (value.get("coordinates") or value.get("geometries")):
        return value
    if "geometry" in value:
        return geometry(value["geometry"], depth + 1)
    return _bbox_polygon(value.get("bbox"))


def iso_date(value: str) -> str:
    """An ISO 8601 date-time from the remote (kept as given when valid)."""
    if not value or not isinstance(value, str):
        return ""
    try:
        datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return ""
    return value


def latest_date(*values: str) -> str:
    """The latest of several ISO dates (as given), "" when none is valid."""
    dated = []
    for value in values:
        if iso_date(value):
            moment = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=datetime.timezone.utc)
            dated.append((moment, value))
    return max(dated)[1] if dated else ""


def match_resources(resources: list[dict], previous: list[dict]) -> None:
    """Gives each resource of a re-harvested dataset the id of the resource
    it was: the one with the same remote id (`remote_id`, udata's stable
    resource id), else the same URL; each previous resource once."""
    by_remote = {r["remote_id"]: r for r in previous if r.get("remote_id")}
    by_url: dict[str, dict] = {}
    for resource in previous:
        by_url.setdefault(resource.get("url") or "", resource)
    used: set[str] = set()
    for resource in resources:
        remote_id = resource.get("remote_id")
        match = by_remote.get(remote_id) if remote_id else None
        if match is None:
            match = by_url.get(resource.get("url") or "")
            if match is not None and remote_id and match.get("remote_id") not in (None, "",
                                                                                  remote_id):
                match = None
        if match is not None and match["id"] not in used:
            resource["id"] = match["id"]
            used.add(match["id"])


def storable(remote: Remote) -> Remote:
    """A remote description whose text the portal can store."""
    return dataclasses.replace(remote, **{
        f.name: storable_text(getattr(remote, f.name)) for f in dataclasses.fields(remote)})


def http_resources(resources: list[dict]) -> tuple[list[dict], list[str]]:
    """The remote resources whose address (spaces around it trimmed) is an
    http(s) URL (`http_url`) or an ftp one, and a note for each one left
    out (a `javascript:` URL, say); a resource without an address is
    skipped silently."""
    kept: list[dict] = []
    notes: list[str] = []
    for resource in resources:
        if not resource.get("url"):
            continue
        text = str(resource["url"]).strip()
        url = http_url(text) or ftp_url(text)
        if url:
            kept.append(dict(resource, url=url))
        else:
            name = " ".join(str(resource.get("name") or resource.get("remote_id") or text).split())
            notes.append(NOTE_RESOURCE_NOT_HTTP.format(name=name[:100]))
    return kept, notes


def _said_value(value: Any) -> str:
    return " ".join(str(value).split())[:100]


YEAR_OR_MONTH = re.compile(r"^(\d{4})(?:-(\d{2}))?$")


def temporal_bound(value: Any, end: bool) -> str:
    """A remote temporal bound as the dataset schema stores it: an ISO 8601
    date or date and time as given; a year (2024) or a month (2024-03), which
    ISO 8601 allows, as its first day (a start) or its last (an end); other
    text as given (`repaired_temporal` leaves it out with a note)."""
    text = str(value or "").strip()
    match = YEAR_OR_MONTH.match(text)
    if not match:
        return text
    year, month = int(match.group(1)), int(match.group(2) or (12 if end else 1))
    if not 1 <= month <= 12:
        return text
    if not end:
        return f"{year:04d}-{month:02d}-01"
    following = datetime.date(year + month // 12, month % 12 + 1, 1)
    return (following - datetime.timedelta(days=1)).isoformat()


def valid_geometry(value: dict) -> bool:
    """A geometry ckanext-spatial will index (its own check: geojson's)."""
    try:
        return bool(getattr(geojson.loads(json.dumps(value)), "is_valid", False))
    except (TypeError, ValueError):
        return False


def repaired_temporal(start: str, end: str, notes: list[str]) -> tuple[str, str]:
    """The bounds of a remote temporal coverage the dataset schema accepts:
    a bound that is not an ISO 8601 date is left out, and so is an end
    before the start; a note says each (the rest of the dataset is kept)."""
    bounds = []
    for value in (start, end):
        if value and temporal_moment(value) is None:
            notes.append(NOTE_TEMPORAL_NOT_DATE.format(value=_said_value(value)))
            value = ""
        bounds.append(value or "")
    start, end = bounds
    first, last = temporal_moment(start), temporal_moment(end)
    as_date = lambda m: m.date() if isinstance(m, datetime.datetime) else m  # noqa: E731
    if first is not None and last is not None and as_date(last) < as_date(first):
        notes.append(NOTE_TEMPORAL_END_BEFORE_START.format(end=end, start=start))
        end = ""
    return start, end


def repaired_remote_dataset(pkg: dict, notes: list[str]) -> dict:
    """A dataset parsed from a remote catalogue (ckanext-dcat's RDF parser)
    made storable field by field, instead of refused whole for one field the
    dataset schema would refuse: resources whose address is not an http(s)
    URL and sizes that are not a number of bytes, a frequency the portal
    does not know, a licence not in the registry, temporal bounds that are
    not dates or in the wrong order are left out, each with a note."""
    pkg = dict(pkg)
    start, end = repaired_temporal(str(pkg.get("temporal_start") or ""),
                                   str(pkg.get("temporal_end") or ""), notes)
    for key, value in (("temporal_start", start), ("temporal_end", end)):
        if key in pkg:
            pkg[key] = value
    frequency = str(pkg.get("frequency") or "").strip()
    if frequency and not map_frequency(frequency):
        notes.append(NOTE_UNKNOWN_FREQUENCY.format(value=_said_value(frequency)))
    if "frequency" in pkg:
        pkg["frequency"] = map_frequency(frequency)
    licence_id = str(pkg.get("license_id") or "")
    if licence_id and licence_id not in model.Package.get_license_register():
        notes.append(NOTE_UNKNOWN_LICENCE.format(licence=_said_value(licence_id)))
        pkg["license_id"] = ""
    resources, left_out = http_resources(pkg.get("resources") or [])
    notes += left_out
    for resource in resources:
        size = resource.get("size")
        if size not in (None, "") and not str(size).strip().isdigit():
            notes.append(NOTE_RESOURCE_SIZE.format(name=_said_value(resource.get("name") or "")))
            resource["size"] = None
    if "resources" in pkg:
        pkg["resources"] = resources
    return pkg


# --- the shape of a remote record ---------------------------------------------------------

# A shape a field of a remote record must have: (test, what it must be, in
# English: the job report shows it in the reader's language).
Shape = tuple[Callable[[Any], bool], str]

TEXT: Shape = (lambda v: isinstance(v, str) and bool(v.strip()), "a non-empty string")
OPTIONAL_TEXT: Shape = (lambda v: v is None or isinstance(v, str), "a string")
OBJECT: Shape = (lambda v: isinstance(v, dict), "an object")
OPTIONAL_OBJECT: Shape = (lambda v: v is None or isinstance(v, dict), "an object")
TEXT_LIST: Shape = (lambda v: v is None or isinstance(v, list) and all(
    isinstance(i, str) for i in v), "a list of strings")
TEXT_OR_TEXT_LIST: Shape = (lambda v: v is None or isinstance(v, str) or isinstance(v, list)
                            and all(isinstance(i, str) for i in v),
                            "a string or a list of strings")
OBJECT_LIST: Shape = (lambda v: v is None or isinstance(v, list) and all(
    isinstance(i, dict) for i in v), "a list of objects")
TEXT_OR_OBJECT: Shape = (lambda v: v is None or isinstance(v, (str, dict)),
                         "a string or an object")

# The message of a record refused for its shape (inside "Dataset {remote_id}
# not imported: {fields}").
SHAPE_ERROR = ("the remote record's \"{field}\" must be {expected}; the published version is "
               "kept unchanged")

_MISSING = object()


def _field(record: Any, path: str) -> Any:
    """The value at a dotted `path` of `record`; None when a step is missing
    (`_MISSING` when a step is not an object)."""
    value = record
    for step in path.split("."):
        if value is None:
            return None
        if not isinstance(value, dict):
            return _MISSING
        value = value.get(step)
    return value


assert SHAPE_ERROR in GATHER_MESSAGES


def shape_problem(record: Any, shape: dict[str, Shape]) -> Optional[str]:
    """SHAPE_ERROR for the first field of `record` (dotted path -> Shape)
    that does not have its shape, else None."""
    if not isinstance(record, dict):
        return SHAPE_ERROR.format(field="", expected="an object")
    for path, (test, expected) in shape.items():
        value = _field(record, path)
        if value is _MISSING or not test(value):
            return SHAPE_ERROR.format(field=path, expected=expected)
    return None


# --- the harvester ---------------------------------------------------------------------

def _extra(obj: HarvestObject, key: str) -> Optional[str]:
    for extra in obj.extras:
        if extra.key == key:
            return extra.value
    return None


def _checked_source(harvester: "CommunesHarvester", data_dict: dict) -> None:
    """Refuses (ValidationError on `url`) a harvest source of this harvester's
    type whose address the outbound guard refuses, when it is saved."""

    if data_dict.get("type") != "harvest" \
            or data_dict.get("source_type") != harvester.info()["name"]:
        return
    url = (data_dict.get("url") or "").strip()
    if not url:
        return
    try:
        check_url(url)
    except OutboundError as error:
        # Only a refused address stops the save; a host that does not resolve
        # today is reported by the gather.
        if error.kind == "refused":
            raise tk.ValidationError({"url": [error.reason]})
    same = _source_on_the_same_portal(url, data_dict.get("id") or data_dict.get("name"))
    if same is not None:
        raise tk.ValidationError({"url": [tk._(
            "Another harvest source already harvests this portal: \"{title}\" ({url}). Two "
            "sources on one portal would import its datasets twice; change that source's "
            "configuration instead.").format(title=same.title or same.id, url=same.url)]})


def normalised_source_url(url: str) -> str:
    """scheme://host[:port]/path of a source URL, lower-case scheme and host,
    no default port, no trailing slash, no query: two sources with the same
    one harvest the same portal."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return url.strip().lower()
    scheme = parts.scheme.lower()
    netloc = (parts.hostname or "").lower()
    if port and (scheme, port) not in (("http", 80), ("https", 443)):
        netloc += f":{port}"
    return f"{scheme}://{netloc}{parts.path.rstrip('/')}"


def _source_on_the_same_portal(url: str, own_id: Optional[str]) -> Optional[HarvestSource]:
    """Another active source of a commune harvester with the same normalised
    URL as `url` (the source being saved, `own_id`, left out)."""
    from ckan.plugins import PluginImplementations
    from ckanext.harvest.interfaces import IHarvester

    types = [h.info()["name"] for h in PluginImplementations(IHarvester)
             if isinstance(h, CommunesHarvester)]
    own = model.Package.get(own_id) if own_id else None
    wanted = normalised_source_url(url)
    query = (model.Session.query(HarvestSource)
             .join(model.Package, model.Package.id == HarvestSource.id)
             .filter(HarvestSource.active == True,  # noqa: E712
                     HarvestSource.type.in_(types), model.Package.state == "active"))
    if own is not None:
        query = query.filter(HarvestSource.id != own.id)
    for source in query:
        if normalised_source_url(source.url or "") == wanted:
            return source
    return None


class CommunesHarvester(HarvesterBase):
    """Base of the commune harvesters (not a plugin itself). Each harvester
    also checks its sources' URL when they are saved (chained package_create
    and package_update, which harvest_source_create/update and the harvest
    source form call)."""

    implements(IActions)

    def get_actions(self) -> dict:
        harvester = self

        @tk.chained_action
        def package_create(up_func, context, data_dict):
            _checked_source(harvester, data_dict)
            return up_func(context, data_dict)

        @tk.chained_action
        def package_update(up_func, context, data_dict):
            _checked_source(harvester, data_dict)
            return up_func(context, data_dict)

        return {"package_create": package_create, "package_update": package_update}

    # Remote access token -> access level (None: the source's default).
    access_builtin: dict[str, Optional[str]] = {}

    def info(self) -> dict:  # pragma: no cover - subclasses
        raise NotImplementedError

    def remote_records(self, source_url: str, conf: dict,
                       listing: Listing) -> Iterator[tuple[str, dict]]:
        """The remote catalogue as (remote id, record) pairs, page by page;
        each page's ids (all of them, before any is filtered out) and the
        total the portal announces go to `listing.page`."""
        raise NotImplementedError

    def describe(self, record: dict, source_url: str, conf: dict) -> Remote:
        raise NotImplementedError

    # The shape of a remote record the mapping relies on: dotted path ->
    # Shape. A record of another shape is not imported (an object error
    # naming the field) and its published version stays as it is.
    record_shape: dict[str, Shape] = {}

    # Keys of this harvester's source configuration besides the common ones
    # -> their check; `required_keys` must be present.
    config_checks: dict[str, Check] = {}
    required_keys: tuple[str, ...] = ()

    def config_keys(self) -> list[str]:
        return sorted(dict(COMMON_KEYS, **self.config_checks))

    def validate_config(self, config_str):
        conf = validate_common_config(config_str, self.config_checks)
        for key in self.required_keys:
            if key not in conf:
                raise ValueError(tk._('The configuration must give "{key}"').format(key=key))
        return config_str

    # gather ---------------------------------------------------------------------------
    def gather_stage(self, harvest_job):
        """Lists the whole remote catalogue, verified complete (`Listing`),
        then creates the harvest objects: new, changed or unchanged datasets,
        and withdrawals. An unverified listing creates nothing; a verified
        listing that would withdraw more than "max_withdraw" allows updates
        what it lists and withdraws nothing. Both are gather errors (the job
        fails) saying what happened, what was kept and what to do."""
        source = harvest_job.source
        conf = parse_config(source.config)
        source_url = source.url.strip().rstrip("/")
        current = {obj.guid: obj for obj in model.Session.query(HarvestObject)
                   .filter(HarvestObject.harvest_source_id == source.id)
                   .filter(HarvestObject.current == True)  # noqa: E712
                   .filter(HarvestObject.package_id != None)}  # noqa: E711
        listing = Listing()
        try:
            records = self._verified_listing(source_url, conf, listing)
        except RemoteError as error:
            self._save_gather_error(unverified_message(error, len(current)), harvest_job)
            return None
        except Exception as error:  # a remote answer of an unexpected shape
            log.exception("gather of %s failed", source_url)
            self._save_gather_error(unverified_message(RemoteError(
                tk._("{url}: unexpected answer ({error})").format(url=source_url, error=error),
                failure_advice("shape")), len(current)), harvest_job)
            return None

        known = self._known_packages(source.id)
        # The source's owner counts in the digest: a source given to another
        # organisation moves its datasets there at the next job.
        owner = self._source_owner(source.id)
        ids = []
        for remote_id, record in records.items():
            content = json.dumps(record, sort_keys=True, ensure_ascii=False)
            digest = self._digest(record, source_url, conf, (source.config or "") + owner)
            previous = current.get(remote_id)
            package_id = previous.package_id if previous else known.get(remote_id)
            package = model.Package.get(package_id) if package_id else None
            if previous is not None and package is not None and package.state == "deleted":
                # Deleted on this portal by someone (a withdrawal leaves no
                # current object): not published again behind their back.
                ids.append(self._object(harvest_job, remote_id, content, package_id,
                                        status="unchanged", hash=_extra(previous, "hash") or "",
                                        **{NOTE_EXTRA: NOTE_DELETED_HERE}))
                continue
            if package is None:
                status, package_id = "new", None
            elif (previous is not None and _extra(previous, "hash") == digest
                  and package.state == "active"
                  and not getattr(harvest_job, "force_import", False)):
                status = "unchanged"
            else:
                status = "change"
            ids.append(self._object(harvest_job, remote_id, content, package_id,
                                    status=status, hash=digest))
        gone = [remote_id for remote_id in current if remote_id not in records]
        refusal = withdrawal_refusal(conf, len(current), len(records), len(gone))
        if listing.unidentified:
            # An entry without its id may be a dataset already harvested:
            # what was listed is imported, nothing is withdrawn.
            refusal = "\n".join((
                tk._("{url}: {count} entries of the remote catalogue have no id; they were not "
                     "imported.").format(url=source_url, count=listing.unidentified),
                tk._("Nothing was withdrawn (an entry without its id may be a dataset already "
                     "harvested); the {listed} datasets listed were imported or updated.").format(
                    listed=len(records)),
                tk._("Tell the remote portal's administrator; the next complete listing "
                     "withdraws what is gone.")))
        if refusal:
            self._save_gather_error(refusal, harvest_job)
            gone = []
        for remote_id in gone:
            ids.append(self._object(harvest_job, remote_id, None, current[remote_id].package_id,
                                    status="delete"))
        return ids

    def _digest(self, record: dict, source_url: str, conf: dict, config_str: str) -> str:
        """The "unchanged" check's hash: what the mapping uses of a record (its
        description, `describe`) and the source's configuration. Counters and
        processing dates a portal changes at every request (udata's metrics,
        ODS's records count) are not described, so they rewrite nothing."""
        try:
            described: Any = dataclasses.asdict(self.describe(record, source_url, conf))
        except Exception:  # noqa: BLE001 - the import of this record reports it
            described = record
        content = json.dumps(described, sort_keys=True, ensure_ascii=False, default=str)
        return hashlib.sha256((content + config_str).encode()).hexdigest()

    def _verified_listing(self, source_url: str, conf: dict,
                          listing: Optional["Listing"] = None) -> dict[str, dict]:
        """Remote id -> record of the whole remote catalogue; RemoteError
        (IncompleteListing) when it cannot be read or verified complete."""
        try:
            check_url(source_url)
        except OutboundError as error:
            raise outbound_failure(source_url, error) from error
        listing = listing if listing is not None else Listing()
        records: dict[str, dict] = {}
        for remote_id, record in self.remote_records(source_url, conf, listing):
            # Text PostgreSQL cannot store (NUL, lone surrogates) goes at once:
            # the record is hashed, stored as the object's content and mapped.
            records.setdefault(storable_text(str(remote_id)), storable_text(record))
        listing.complete(source_url)
        return records

    @staticmethod
    def _source_owner(source_id: str) -> str:
        package = model.Package.get(source_id)
        return (package.owner_org or "") if package is not None else ""

    def _object(self, job, guid: str, content: Optional[str], package_id: Optional[str],
                **extras: str) -> str:
        obj = HarvestObject(guid=guid, job=job, content=content, package_id=package_id,
                            extras=[HarvestObjectExtra(key=k, value=v) for k, v in extras.items()])
        obj.save()
        return obj.id

    @staticmethod
    def _known_packages(source_id: str) -> dict[str, str]:
        """Remote id -> the package once harvested for it (withdrawn ones too)."""
        rows = (model.Session.query(HarvestObject.guid, HarvestObject.package_id)
                .filter(HarvestObject.harvest_source_id == source_id)
                .filter(HarvestObject.package_id != None)  # noqa: E711
                .order_by(HarvestObject.gathered))
        return {guid: package_id for guid, package_id in rows}

    def get_original_url(self, harvest_object_id):
        """The dataset's page on the remote portal (linked from the job report)."""
        obj = model.Session.get(HarvestObject, harvest_object_id)
        if obj is None or not obj.content:
            return None
        try:
            remote = self.describe(json.loads(obj.content), obj.source.url.strip().rstrip("/"),
                                   parse_config(obj.source.config))
        except (ValueError, KeyError, TypeError):
            return None
        return http_url(remote.remote_url) or None

    # fetch ------------------------------------------------------------------------------
    def fetch_stage(self, harvest_object):
        if _extra(harvest_object, "status") == "unchanged":
            return "unchanged"
        return True

    # import -----------------------------------------------------------------------------
    def _context(self) -> dict:
        return {"model": model, "session": model.Session, "user": self._get_user_name(),
                "ignore_auth": True}

    def import_stage(self, harvest_object):
        status = _extra(harvest_object, "status")
        conf = parse_config(harvest_object.source.config)
        try:
            if status == "delete":
                return self._withdraw(harvest_object, conf)
            problem = shape_problem(json.loads(harvest_object.content), self.record_shape)
            if problem:
                self._save_object_error(tk._("Dataset {remote_id} not imported: {fields}").format(
                    remote_id=harvest_object.guid, fields=problem), harvest_object, "Import")
                return False
            return self._import(harvest_object, conf, status)
        except tk.ValidationError as error:
            model.Session.rollback()
            fields = "; ".join(f"{key}: {_said(value)}" for key, value in error.error_dict.items())
            self._save_object_error(tk._("Dataset {remote_id} not imported: {fields}").format(
                remote_id=harvest_object.guid, fields=fields), harvest_object, "Import")
        except Exception as error:
            # Nothing of a failed import stays (a dataset created but not
            # indexed, for one).
            model.Session.rollback()
            log.exception("import of %s failed", harvest_object.guid)
            self._save_object_error(tk._("Dataset {remote_id} not imported: {error}").format(
                remote_id=harvest_object.guid, error=error), harvest_object, "Import")
        return False

    def _withdraw(self, harvest_object, conf: dict) -> bool:
        package = model.Package.get(harvest_object.package_id)
        if package is not None and package.state == "active":
            if conf.get("withdraw", "delete") == "delete":
                tk.get_action("package_delete")(self._context(), {"id": package.id})
            else:
                # Stored in English, shown in the reader's language.
                note = NOTE_WITHDRAWN.format(date=datetime.date.today().isoformat())
                tk.get_action("package_patch")(self._context(), {
                    "id": package.id, "provenance_withdrawn": note})
        self._set_current(harvest_object, None)
        return True

    def _set_current(self, harvest_object, package_id: Optional[str]) -> None:
        model.Session.query(HarvestObject).filter(
            HarvestObject.harvest_source_id == harvest_object.source.id,
            HarvestObject.guid == harvest_object.guid,
            HarvestObject.id != harvest_object.id).update({"current": False})
        harvest_object.current = package_id is not None
        if package_id:
            harvest_object.package_id = package_id
        harvest_object.save()

    def package_dict(self, harvest_object, conf: dict) -> dict:
        """The package dict for the portal: the remote dataset mapped."""
        source = harvest_object.source
        source_url = source.url.strip().rstrip("/")
        record = json.loads(harvest_object.content)
        remote = storable(self.describe(record, source_url, conf))
        remote_url = http_url(remote.remote_url)
        notes: list[str] = []
        licence = map_licence(remote, conf, notes)
        level = map_access(remote, conf, self.access_builtin, licence, notes)
        tags = list(remote.keywords)
        groups = []
        eu_themes = eu_data_themes(remote.themes)
        themes = [t for t in remote.themes if not t.startswith(DATA_THEME)]
        if conf.get("themes") == "groups" and themes:
            index = local_groups()
            for theme in themes:
                name = index.get(_normalise(theme))
                if name:
                    groups.append({"name": name})
                else:
                    tags.append(theme)
        else:
            tags += themes
        resources, left_out = http_resources(remote.resources)
        temporal = repaired_temporal(temporal_bound(remote.temporal_start, end=False),
                                     temporal_bound(remote.temporal_end, end=True), left_out)
        left_out += [NOTE_UNKNOWN_THEME.format(value=_said_value(theme))
                     for theme in unknown_eu_themes(remote.themes)]
        if str(remote.frequency or "").strip() and not map_frequency(remote.frequency):
            left_out.append(NOTE_UNKNOWN_FREQUENCY.format(value=_said_value(remote.frequency)))
        if str(remote.modified or "").strip() and not iso_date(remote.modified):
            left_out.append(NOTE_MODIFIED_NOT_DATE.format(value=_said_value(remote.modified)))
        spatial = geometry(remote.spatial)
        if spatial and not valid_geometry(spatial):
            left_out.append(NOTE_SPATIAL_INVALID)
            spatial = None
        resources = repaired_remote_dataset({"resources": resources}, left_out)["resources"]
        notes += left_out
        source_dataset = tk.get_action("package_show")(self._context(), {"id": source.id})
        territory = ", ".join(part for part in [remote.spatial_text] + zone_names(
            remote.zones, conf) if part)
        pkg: dict[str, Any] = {
            "title": remote.title or remote.remote_id,
            "notes": remote.notes,
            "owner_org": source_dataset.get("owner_org"),
            "license_id": licence.licence_id,
            "access_level": level,
            # A dataset the remote portal hides stays hidden here (it was
            # listed to the harvester's account, not to the public).
            "access_hidden": "true" if remote.hidden and level != "open" else "false",
            "tags": [{"name": t} for t in clean_tags(tags)],
            "groups": groups,
            "url": remote_url,
            "author": remote.publisher,
            "frequency": map_frequency(remote.frequency),
            "theme": eu_themes,
            "temporal_start": temporal[0],
            "temporal_end": temporal[1],
            "spatial_text": territory,
            "provenance_source": source.title or source_url,
            "provenance_source_url": source_url,
            "provenance_remote_id": remote.remote_id,
            "provenance_remote_url": remote_url,
            "provenance_remote_modified": iso_date(remote.modified),
            "provenance_remote_licence": remote.licence_title or remote.licence
            or remote.licence_url,
            "provenance_harvested": datetime.datetime.utcnow().replace(microsecond=0).isoformat(),
            "provenance_notes": "\n".join(notes),
            "provenance_withdrawn": "",
            "resources": resources,
            "_name_hint": remote.name_hint,
            "_job_notes": ([] if licence.known else [
                (JOB_UNKNOWN_LICENCE if licence.licence_id else JOB_UNKNOWN_LICENCE_NONE).format(
                    licence=remote.licence_title or remote.licence or remote.licence_url,
                    licence_id=licence.licence_id, level=level)]) + left_out,
        }
        if spatial:
            pkg["spatial"] = json.dumps(spatial)
        return pkg

    def _import(self, harvest_object, conf: dict, status: Optional[str]) -> bool:
        pkg = self.package_dict(harvest_object, conf)
        remote_name = pkg.pop("_name_hint", None)
        job_notes = pkg.pop("_job_notes", [])
        existing = (model.Package.get(harvest_object.package_id)
                    if harvest_object.package_id else None)
        context = self._context()
        if existing is not None:
            pkg.update(id=existing.id, name=existing.name, state="active")
            shown = tk.get_action("package_show")(self._context(), {"id": existing.id})
            match_resources(pkg["resources"], shown.get("resources", []))
            self._link_before_indexing(harvest_object, existing.id)
            result = tk.get_action("package_update")(context, pkg)
        else:
            pkg["id"] = str(uuid.uuid4())
            pkg["name"] = self._gen_new_name(remote_name or pkg["title"])
            model.Session.execute(
                sa.text("SET CONSTRAINTS harvest_object_package_id_fkey DEFERRED"))
            self._link_before_indexing(harvest_object, pkg["id"])
            result = tk.get_action("package_create")(context, pkg)
        for note in job_notes:
            # Shown by the job report as a note (an object error would count
            # the imported dataset as errored).
            harvest_object.extras.append(HarvestObjectExtra(key=NOTE_EXTRA, value=note))
        self._set_current(harvest_object, result["id"])
        return True

    @staticmethod
    def _link_before_indexing(harvest_object, package_id: str) -> None:
        """Makes `harvest_object` the dataset's current object before the
        dataset is written: ckanext-harvest's index hook gives the indexed
        dataset the source of its *current* object, and a dataset restored
        after a withdrawal had none (it was indexed without its source).
        Flushed, not committed: a failed import rolls it back."""
        model.Session.query(HarvestObject).filter(
            HarvestObject.harvest_source_id == harvest_object.source.id,
            HarvestObject.guid == harvest_object.guid,
            HarvestObject.id != harvest_object.id).update({"current": False},
                                                          synchronize_session=False)
        harvest_object.package_id = package_id
        harvest_object.current = True
        harvest_object.add()
        model.Session.flush()

    @classmethod
    def _gen_new_name(cls, title, existing_name=None, append_type=None):
        name = munge_title_to_name(title or "")[:90] or "dataset"
        return super()._gen_new_name(name, existing_name, append_type)
