"""The licence registry: kept in the database, seeded from a YAML file.

The file named by `ckanext.grandlyon_licence.registry` is validated when
CKAN starts (a mistake stops it with a message naming the file and the
licence). The first use of the registry on an empty database seeds the
database from it (`ckan grandlyon-licence seed` does it again on demand);
from then on the database holds the licences, every version of each with
its text, and who published it when (store.py). New versions are published
in the database (`publish_version`), never in the file.

Each request reads the registry's revision stamp once and uses the licences
loaded at that stamp (loaded again when another process changed them), so a
new version is served by every web process from its next request.

The registry is installed as CKAN's licence register (`model.Package`'s), so
that `license_list`, datasets' `license_title` and the dataset form offer its
licences, titled in the language of the request.

File format (see config/licences.yaml)::

    licences:
      - id: mobilites
        version: "1.0"
        title: {fr: Licence Mobilités, en: Licence Mobilités}
        url: https://example.org/licence
        text: {fr: "markdown…", en: "markdown…"}
        signature_required: true
        signer_details:
          - {name: organisation, label: {fr: Organisation, en: Organisation}, required: true}
        od_conformance: not reviewed      # and CKAN's other licence fields
"""

from __future__ import annotations

import dataclasses
import logging
import os
import re
import threading
from typing import Any

import ckan.plugins.toolkit as tk
import yaml
from ckan.model.license import License, LicenseRegister
from flask import has_request_context, request
from sqlalchemy import exc as sa_exc

from . import config, store

log = logging.getLogger(__name__)

REQUIRED_KEYS = ("id", "version", "title", "text", "signature_required")
OWN_KEYS = (*REQUIRED_KEYS, "url", "signer_details")
# CKAN's own licence fields (ckan/model/license.py), passed to CKAN unchanged.
CKAN_KEYS = (
    "od_conformance",
    "osd_conformance",
    "status",
    "domain_content",
    "domain_data",
    "domain_software",
    "maintainer",
    "family",
    "is_generic",
)
CONFORMANCE_VALUES = ("approved", "not reviewed", "rejected")
STATUS_VALUES = ("active", "deleted")
DETAIL_KEYS = ("name", "label", "required")
ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_.\-]{0,99}$")
DETAIL_NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,49}$")
# Words taken by the web routes (/licence/mine) and the sign action's parameters.
RESERVED_IDS = ("mine",)
RESERVED_DETAIL_NAMES = ("licence_id", "version", "id", "user", "accept")


class RegistryError(ValueError):
    """The registry file cannot be read or is not valid."""


@dataclasses.dataclass(frozen=True)
class SignerDetail:
    """A detail that a signer gives when signing (e.g. their organisation)."""

    name: str
    label: dict[str, str]
    required: bool


@dataclasses.dataclass(frozen=True)
class Licence:
    """One licence of the registry."""

    id: str
    version: str
    title: dict[str, str]
    text: dict[str, str]
    url: str
    signature_required: bool
    signer_details: tuple[SignerDetail, ...]
    ckan_fields: dict[str, Any]

    def detail(self, name: str) -> SignerDetail | None:
        return next((d for d in self.signer_details if d.name == name), None)


class Registry:
    """The licences of one registry file, in the file's order."""

    def __init__(self, path: str, licences: list[Licence]):
        self.path = path
        self.licences = tuple(licences)
        self._by_id = {licence.id: licence for licence in licences}
        self.ckan_licences = [RegistryLicense(licence) for licence in licences]

    def get(self, licence_id: str) -> Licence | None:
        return self._by_id.get(licence_id)

    def current_versions(self) -> dict[str, str]:
        return {licence.id: licence.version for licence in self.licences}


# --- languages ------------------------------------------------------------------------


def current_language() -> str:
    """The language of the current request, or the site's default language."""
    default = tk.config.get("ckan.locale_default") or "en"
    try:
        if has_request_context():
            from ckan.lib.i18n import get_lang

            return get_lang() or default
    except RuntimeError:
        pass
    return default


def localize(value: dict[str, str] | None, language: str | None = None) -> str:
    """The text of `value` in `language` (default: the request's), falling back
    to the site's default language, then English, then any language."""
    if not value:
        return ""
    language = language or current_language()
    for candidate in (language, language.split("_")[0], tk.config.get("ckan.locale_default"), "en"):
        if candidate and value.get(candidate):
            return value[candidate]
    return next(iter(value.values()))


# --- loading and validation ----------------------------------------------------------


def _check_translated(value: Any, where: str, key: str, problems: list[str]) -> dict[str, str]:
    if (
        isinstance(value, dict)
        and value
        and all(isinstance(k, str) and isinstance(v, str) and v.strip() for k, v in value.items())
    ):
        return dict(value)
    problems.append(
        f"{where}: '{key}' must be a mapping of language codes to non-empty texts, "
        f"e.g. {{fr: ..., en: ...}}"
    )
    return {}


def _check_licence(entry: Any, index: int, problems: list[str]) -> Licence | None:
    if not isinstance(entry, dict):
        problems.append(f"licence #{index}: must be a mapping of keys to values")
        return None
    licence_id = entry.get("id")
    where = f"licence '{licence_id}'" if isinstance(licence_id, str) else f"licence #{index}"
    start = len(problems)

    unknown = sorted(str(k) for k in entry if k not in OWN_KEYS and k not in CKAN_KEYS)
    for key in unknown:
        problems.append(
            f"{where}: unknown key '{key}'; known keys: {', '.join(OWN_KEYS + CKAN_KEYS)}"
        )
    for key in REQUIRED_KEYS:
        if key not in entry:
            problems.append(f"{where}: missing key '{key}'")

    if "id" in entry:
        if not isinstance(licence_id, str) or not ID_PATTERN.match(licence_id):
            problems.append(
                f"{where}: 'id' must be lower-case letters, digits, '-', '_' or '.' "
                f"(at most 100), got {licence_id!r}"
            )
        elif licence_id in RESERVED_IDS:
            problems.append(f"{where}: 'id' may not be '{licence_id}' (a reserved word)")
    version = entry.get("version")
    if "version" in entry and (not isinstance(version, str) or not version.strip()):
        problems.append(
            f"{where}: 'version' must be a non-empty text; write it in quotes, e.g. "
            f'version: "1.0" (got {version!r})'
        )
    title = (
        _check_translated(entry.get("title"), where, "title", problems) if "title" in entry else {}
    )
    text = _check_translated(entry.get("text"), where, "text", problems) if "text" in entry else {}
    url = entry.get("url", "")
    if url is None:
        url = ""
    if not isinstance(url, str) or (url and not url.startswith(("https://", "http://"))):
        problems.append(f"{where}: 'url' must be an http(s) address or empty, got {url!r}")
    signature_required = entry.get("signature_required")
    if "signature_required" in entry and not isinstance(signature_required, bool):
        problems.append(
            f"{where}: 'signature_required' must be true or false, got {signature_required!r}"
        )

    details: list[SignerDetail] = []
    raw_details = entry.get("signer_details") or []
    if not isinstance(raw_details, list):
        problems.append(f"{where}: 'signer_details' must be a list")
        raw_details = []
    seen: set[str] = set()
    for n, raw in enumerate(raw_details, start=1):
        detail_where = f"{where}, signer detail #{n}"
        if not isinstance(raw, dict):
            problems.append(f"{detail_where}: must be a mapping with keys {', '.join(DETAIL_KEYS)}")
            continue
        for key in sorted(str(k) for k in raw if k not in DETAIL_KEYS):
            problems.append(
                f"{detail_where}: unknown key '{key}'; known keys: {', '.join(DETAIL_KEYS)}"
            )
        for key in DETAIL_KEYS:
            if key not in raw:
                problems.append(f"{detail_where}: missing key '{key}'")
        name = raw.get("name")
        if "name" in raw:
            if not isinstance(name, str) or not DETAIL_NAME_PATTERN.match(name):
                problems.append(
                    f"{detail_where}: 'name' must be lower-case letters, digits and '_', "
                    f"starting with a letter, got {name!r}"
                )
            elif name in RESERVED_DETAIL_NAMES:
                problems.append(f"{detail_where}: 'name' may not be '{name}' (a reserved word)")
            elif name in seen:
                problems.append(f"{detail_where}: duplicate name '{name}'")
            seen.add(str(name))
        label = (
            _check_translated(raw.get("label"), detail_where, "label", problems)
            if "label" in raw
            else {}
        )
        required = raw.get("required")
        if "required" in raw and not isinstance(required, bool):
            problems.append(f"{detail_where}: 'required' must be true or false, got {required!r}")
        details.append(SignerDetail(name=str(name), label=label, required=bool(required)))

    ckan_fields = {k: entry[k] for k in CKAN_KEYS if k in entry}
    for key in ("od_conformance", "osd_conformance"):
        if key in ckan_fields and ckan_fields[key] not in CONFORMANCE_VALUES:
            problems.append(
                f"{where}: '{key}' must be one of {', '.join(CONFORMANCE_VALUES)}, "
                f"got {ckan_fields[key]!r}"
            )
    if "status" in ckan_fields and ckan_fields["status"] not in STATUS_VALUES:
        problems.append(
            f"{where}: 'status' must be one of {', '.join(STATUS_VALUES)}, "
            f"got {ckan_fields['status']!r}"
        )
    for key in ("domain_content", "domain_data", "domain_software", "is_generic"):
        if key in ckan_fields and not isinstance(ckan_fields[key], bool):
            problems.append(f"{where}: '{key}' must be true or false, got {ckan_fields[key]!r}")

    if len(problems) > start:
        return None
    return Licence(
        id=licence_id,
        version=version.strip(),
        title=title,
        text=text,
        url=url,
        signature_required=signature_required,
        signer_details=tuple(details),
        ckan_fields=ckan_fields,
    )


def parse(path: str) -> Registry:
    """Reads and validates the registry file at `path`.

    Raises RegistryError listing every problem, each naming the licence.
    """
    try:
        with open(path, encoding="utf-8") as f:
            document = yaml.safe_load(f)
    except OSError as e:
        raise RegistryError(f"licence registry {path}: cannot be read: {e.strerror or e}") from e
    except yaml.YAMLError as e:
        raise RegistryError(f"licence registry {path}: not valid YAML: {e}") from e

    if not isinstance(document, dict) or not isinstance(document.get("licences"), list):
        raise RegistryError(
            f"licence registry {path}: must be a mapping with a 'licences' list "
            f"(see config/licences.yaml)"
        )
    problems = [
        f"unknown top-level key '{k}'; known keys: licences" for k in document if k != "licences"
    ]
    licences: list[Licence] = []
    seen: dict[str, int] = {}
    for index, entry in enumerate(document["licences"], start=1):
        licence = _check_licence(entry, index, problems)
        licence_id = entry.get("id") if isinstance(entry, dict) else None
        if isinstance(licence_id, str):
            if licence_id in seen:
                problems.append(
                    f"licence '{licence_id}': duplicate id "
                    f"(licences #{seen[licence_id]} and #{index})"
                )
            else:
                seen[licence_id] = index
        if licence:
            licences.append(licence)
    if problems:
        raise RegistryError(
            f"licence registry {path} is not valid:\n" + "\n".join(f"  - {p}" for p in problems)
        )
    return Registry(path, licences)


def load(path: str) -> Registry:
    """The registry file at `path`, read and validated (see parse)."""
    return parse(os.path.abspath(path))


# --- the registry in the database ---------------------------------------------------------

_lock = threading.Lock()
# The registry last loaded by this process, with the revision stamp it was
# loaded at: served again only while the database holds that same stamp.
_loaded: dict[str, Any] = {"stamp": None, "registry": None}
REQUEST_KEY = "ckanext.grandlyon_licence.registry"


def _entry_of(licence: Licence, position: int) -> dict[str, Any]:
    """A licence of the file as store.py stores it."""
    return {
        "id": licence.id,
        "position": position,
        "title": dict(licence.title),
        "url": licence.url,
        "signature_required": licence.signature_required,
        "signer_details": [dataclasses.asdict(d) for d in licence.signer_details],
        "ckan_fields": dict(licence.ckan_fields),
        "version": licence.version,
        "text": dict(licence.text),
    }


def _licence_of(row: dict[str, Any]) -> Licence:
    """A licence as store.py reads it."""
    return Licence(
        id=row["id"],
        version=row["version"],
        title=dict(row["title"]),
        text=dict(row["text"]),
        url=row["url"] or "",
        signature_required=bool(row["signature_required"]),
        signer_details=tuple(SignerDetail(**d) for d in row["signer_details"] or ()),
        ckan_fields=dict(row["ckan_fields"] or {}),
    )


def seed(path: str, only_if_unseeded: bool = False) -> dict[str, list]:
    """Seeds the database's registry from the registry file at `path` (see
    store.seed for what changes and what it returns). RegistryError when the
    file is not valid."""
    source = load(path)
    entries = [_entry_of(licence, n) for n, licence in enumerate(source.licences)]
    return store.seed(entries, f"registry file {source.path}", only_if_unseeded)


# Kept in the request's WSGI environment, which lives exactly as long as the
# request (flask.g is the application context's, which a test client may
# share between requests).
def _kept_for_request() -> Registry | None:
    return request.environ.get(REQUEST_KEY) if has_request_context() else None


def _keep_for_request(loaded: Registry) -> None:
    if has_request_context():
        request.environ[REQUEST_KEY] = loaded


def _load_at(stamp: str, path: str) -> Registry:
    with _lock:
        if _loaded["stamp"] != stamp:
            loaded = Registry(path, [_licence_of(row) for row in store.read_licences()])
            _loaded.update(stamp=stamp, registry=loaded)
        return _loaded["registry"]


def refresh() -> Registry | None:
    """The registry as the database holds it now (seeded from the file on
    first use), also for the rest of the request."""
    path = config.registry_path()
    if not path:
        return None
    try:
        stamp = store.read_stamp()
        if stamp is None:
            seed(path, only_if_unseeded=True)
            stamp = store.read_stamp()
    except sa_exc.ProgrammingError:
        # The plugin's tables are not there yet (`ckan db upgrade` not run).
        log.warning(
            "licence registry: its tables are missing (run `ckan db upgrade -p "
            "grandlyon_licence`); serving the file %s, read-only", path
        )
        return load(path)
    loaded = _load_at(stamp, path)
    _keep_for_request(loaded)
    return loaded


def current() -> Registry | None:
    """The configured registry, or None when the option is empty.

    Kept for the request: the first call of a request reads the revision
    stamp (one small query) and loads the licences only when another
    process (or this one) changed them since."""
    if not config.registry_path():
        return None
    return _kept_for_request() or refresh()


def get_licence(licence_id: str) -> Licence | None:
    registry = current()
    return registry.get(licence_id) if registry and licence_id else None


# --- CKAN's licence register -----------------------------------------------------------


class RegistryLicense(License):
    """A registry licence as CKAN's License: title in the request's language."""

    def __init__(self, licence: Licence):
        self.licence = licence
        super().__init__(
            {
                "id": licence.id,
                "title": localize(licence.title, tk.config.get("ckan.locale_default") or "en"),
                "url": licence.url,
                **licence.ckan_fields,
                "version": licence.version,
                "signature_required": licence.signature_required,
            }
        )

    @property
    def title(self) -> str:  # type: ignore[override]
        return localize(self.licence.title)

    def license_dictize(self) -> dict[str, Any]:
        data = super().license_dictize()
        data["title"] = self.title
        data["title_translated"] = dict(self.licence.title)
        return data


_stock: dict[str, LicenseRegister] = {}


class PortalLicenseRegister(LicenseRegister):
    """CKAN's licence register, backed by the configured registry file.

    With the option empty it is CKAN's own register (`licenses_group_url` or
    CKAN's default list).
    """

    def __init__(self) -> None:  # CKAN's loads at construction: read at call time instead
        pass

    @property
    def licenses(self) -> list[License]:  # type: ignore[override]
        registry = current()
        if registry is not None:
            return list(registry.ckan_licences)
        group_url = tk.config.get("licenses_group_url") or ""
        if group_url not in _stock:
            _stock[group_url] = LicenseRegister()
        return _stock[group_url].licenses


def install() -> None:
    """Validates the configured registry file and makes the registry CKAN's
    licence register (the database is seeded on first use, not here: the
    plugin's tables may not exist yet, e.g. for `ckan db upgrade`)."""
    import ckan.model as model

    path = config.registry_path()
    if path:
        load(path)
    model.Package._license_register = PortalLicenseRegister()


def localize_license_titles(pkg_dicts: list[dict[str, Any]]) -> None:
    """Sets each dataset's `license_title` to its licence's title in the
    request's language (package_show may serve a copy indexed in another
    language); the registry and the language are looked up once for all."""
    registry = current()
    if registry is None or not pkg_dicts:
        return
    language = current_language()
    for pkg_dict in pkg_dicts:
        licence = registry.get(pkg_dict.get("license_id") or "")
        if licence is not None:
            pkg_dict["license_title"] = localize(licence.title, language)


# --- versions ----------------------------------------------------------------------------

VERSION_PATTERN = re.compile(r"^[0-9A-Za-z][0-9A-Za-z._\- ]{0,49}$")


@dataclasses.dataclass(frozen=True)
class LicenceVersion:
    """One published version of a licence: its text, when, by whom (a
    user's id; None when it came from the registry file) and a note."""

    version: str
    text: dict[str, str]
    published_at: Any
    published_by: str | None
    note: str


def _version_of(row: dict[str, Any]) -> LicenceVersion:
    return LicenceVersion(
        version=row["version"],
        text=dict(row["text"]),
        published_at=row["published_at"],
        published_by=row["published_by"],
        note=row["note"] or "",
    )


def history(licence_id: str) -> list[LicenceVersion]:
    """Every version of a licence, the newest first."""
    return [_version_of(row) for row in store.read_versions(licence_id)]


def version_of(licence_id: str, version: str) -> LicenceVersion | None:
    """One version of a licence (an old one's text stays readable), or None."""
    row = store.read_version(licence_id, version)
    return _version_of(row) if row else None


def publish_version(
    licence_id: str,
    version: str,
    text: dict[str, str] | None = None,
    user_id: str | None = None,
) -> Licence:
    """Makes `version` the current version of a licence, in the database:
    with `text` ({language: markdown}; the languages not given keep the
    current version's text), published by `user_id`. Every web process
    serves it from its next request. Raises store.UnknownLicence or
    store.VersionExists."""
    current()  # seeds the registry on first use
    store.publish(licence_id, version, text, user_id)
    published = refresh()
    licence = published.get(licence_id) if published else None
    assert licence is not None
    return licence
