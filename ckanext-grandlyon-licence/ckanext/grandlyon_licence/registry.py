"""The licence registry: a YAML file named by `ckanext.grandlyon_licence.registry`.

It is loaded and validated when CKAN starts (a mistake stops it with a
message naming the file and the licence), read again when the file changes,
and installed as CKAN's licence register (`model.Package`'s), so that
`license_list`, datasets' `license_title` and the dataset form offer its
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
import json
import logging
import os
import re
import shutil
import tempfile
import threading
from typing import Any

import ckan.plugins.toolkit as tk
import yaml
from ckan.model.license import License, LicenseRegister

from . import config

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
        from flask import has_request_context

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


_lock = threading.Lock()
_cache: dict[str, tuple[tuple[int, int], Registry]] = {}


def load(path: str) -> Registry:
    """The registry at `path`, parsed again only when the file changes.

    A file that turns invalid while CKAN runs is reported in the log and the
    last valid version keeps being served; at start-up (nothing cached) the
    error is raised.
    """
    path = os.path.abspath(path)
    try:
        stat = os.stat(path)
        stamp = (stat.st_mtime_ns, stat.st_size)
    except OSError as e:
        cached = _cache.get(path)
        if cached:
            log.error("licence registry %s cannot be read (%s); keeping the last version", path, e)
            return cached[1]
        raise RegistryError(f"licence registry {path}: cannot be read: {e.strerror or e}") from e
    with _lock:
        cached = _cache.get(path)
        if cached and cached[0] == stamp:
            return cached[1]
        try:
            registry = parse(path)
        except RegistryError:
            if cached:
                log.exception(
                    "licence registry %s changed and is not valid; keeping the last version", path
                )
                return cached[1]
            raise
        _cache[path] = (stamp, registry)
        return registry


def current() -> Registry | None:
    """The configured registry, or None when the option is empty."""
    path = config.registry_path()
    return load(path) if path else None


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
    """Validates the configured registry and makes it CKAN's licence register."""
    import ckan.model as model

    current()
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


# --- publishing a new version ------------------------------------------------------------

VERSION_PATTERN = re.compile(r"^[0-9A-Za-z][0-9A-Za-z._\- ]{0,49}$")


def publish_version(licence_id: str, version: str) -> Licence:
    """Makes `version` the current version of a licence, in the registry file
    itself: only the text of that licence's `version` changes (comments and
    everything else stay as written). The file so changed is checked as at
    start-up before it replaces the old one. RegistryError with the reason
    when the licence is unknown or the file cannot be changed."""
    path = os.path.abspath(config.registry_path())
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        raise RegistryError(f"licence registry {path}: cannot be read: {e.strerror or e}") from e
    root = yaml.compose(text)
    entries = next((value for key, value in root.value if key.value == "licences"), None)
    node = None
    for entry in entries.value if entries is not None else ():
        fields = {key.value: value for key, value in entry.value}
        if getattr(fields.get("id"), "value", None) == licence_id and "version" in fields:
            node = fields["version"]
    if node is None:
        raise RegistryError(f"licence registry {path}: no licence '{licence_id}'")
    changed = (text[: node.start_mark.index] + json.dumps(version, ensure_ascii=False)
               + text[node.end_mark.index:])
    folder = os.path.dirname(path)
    try:
        fd, draft = tempfile.mkstemp(prefix=".licences-", suffix=".yaml", dir=folder)
    except OSError as e:
        raise RegistryError(
            f"licence registry {path}: its folder cannot be written: {e.strerror or e}") from e
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(changed)
        parse(draft)
        shutil.copymode(path, draft)
        os.replace(draft, path)
    except OSError as e:
        raise RegistryError(f"licence registry {path}: cannot be written: {e.strerror or e}") from e
    finally:
        if os.path.exists(draft):
            os.unlink(draft)
    published = load(path).get(licence_id)
    assert published is not None
    return published
