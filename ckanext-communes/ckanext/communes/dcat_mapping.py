"""The DCAT-AP mappings: CKAN values -> the IRIs of the EU vocabularies.

They are configuration, not code: the defaults shipped beside this module
(`dcat_ap_defaults.yaml`) with the portal's file (option
`ckanext.communes.dcat.mappings`) merged over them, section by section. The
file is read again when it changes (its modification time), so an edit needs
no restart.

A value that is already an IRI (a publisher chose it from the form, or a
harvester mapped it) is kept as it is.
"""

from __future__ import annotations

import dataclasses
import os
import re
from typing import Any

import yaml
from ckanext.communes import config

DEFAULTS = os.path.join(os.path.dirname(__file__), "dcat_ap_defaults.yaml")
SECTIONS = ("formats", "frequencies", "licences", "licence_types", "themes", "places",
            "labels")
IANA = "https://www.iana.org/assignments/media-types/"


class MappingError(ValueError):
    """The mapping file is unreadable or malformed."""


def key_of(value: str) -> str:
    """The form a mapping key and a looked-up value are compared in: lower
    case, without accents' usual spellings, spaces, dots, dashes, underscores."""
    value = value.strip().lower()
    for accented, plain in (("é", "e"), ("è", "e"), ("ê", "e"), ("à", "a"), ("ô", "o")):
        value = value.replace(accented, plain)
    return re.sub(r"[\s._\-]+", "", value)


def is_iri(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(("http://", "https://"))


@dataclasses.dataclass
class Mappings:
    """The merged mappings, their keys normalised with `key_of`."""

    formats: dict[str, dict[str, str]]
    frequencies: dict[str, str]
    licences: dict[str, str]
    licence_types: dict[str, str]
    themes: dict[str, list[str]]
    place_template: str
    place_codes: dict[str, str]
    labels: dict[str, str] = dataclasses.field(default_factory=dict)
    format_names: dict[str, str] = dataclasses.field(default_factory=dict)
    licence_ids: dict[str, str] = dataclasses.field(default_factory=dict)

    def format_name(self, file_type: str) -> str | None:
        """The CKAN format of an EU file type IRI (harvesting in): "CSV"."""
        return self.format_names.get(file_type)

    def licence_id(self, iri: str) -> str | None:
        """The registry's licence id of an EU licence IRI (harvesting in)."""
        return self.licence_ids.get(iri)

    def file_type(self, fmt: str) -> str | None:
        """The EU file type of a CKAN format (an IRI stays itself)."""
        if is_iri(fmt):
            return fmt if "/authority/file-type/" in fmt else None
        return self.formats.get(key_of(fmt), {}).get("file_type")

    def media_type(self, fmt: str, mimetype: str | None = None) -> str | None:
        """The IANA media type IRI of a format, else of the resource's
        mimetype (`text/csv` -> the IANA IRI of text/csv)."""
        if is_iri(fmt) and IANA.split("//")[1] in fmt:
            return fmt
        mapped = self.formats.get(key_of(fmt), {}).get("media_type") if fmt else None
        if mapped:
            return mapped
        if mimetype and re.fullmatch(r"[\w.+-]+/[\w.+-]+", mimetype.strip()):
            return IANA + mimetype.strip().lower()
        return None

    def frequency(self, value: str) -> str | None:
        if is_iri(value):
            return value
        return self.frequencies.get(key_of(value))

    def licence(self, licence_id: str) -> str | None:
        return self.licences.get(key_of(licence_id)) if licence_id else None

    def licence_type(self, licence_id: str) -> str | None:
        """The ADMS licence type of a licence of the registry."""
        return self.licence_types.get(key_of(licence_id)) if licence_id else None

    def themes_of(self, group_names: list[str]) -> list[str]:
        themes: list[str] = []
        for name in group_names:
            for iri in self.themes.get(key_of(name), []):
                if iri not in themes:
                    themes.append(iri)
        return themes

    def place(self, insee_code: str) -> str | None:
        """The place IRI of a commune's INSEE code."""
        code = (insee_code or "").strip()
        if not code:
            return None
        return self.place_codes.get(code) or (
            self.place_template.format(insee_code=code) if self.place_template else None)


def _read(path: str) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as f:
            document = yaml.safe_load(f) or {}
    except (OSError, yaml.YAMLError) as error:
        raise MappingError(f"{path}: {error}") from error
    if not isinstance(document, dict):
        raise MappingError(f"{path}: expected a mapping of sections")
    unknown = sorted(set(document) - set(SECTIONS))
    if unknown:
        raise MappingError(f"{path}: unknown sections {unknown}; known: {list(SECTIONS)}")
    for section, value in document.items():
        if value is not None and not isinstance(value, dict):
            raise MappingError(f"{path}: section '{section}' must be a mapping")
    return document


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    merged = {section: dict(base.get(section) or {}) for section in SECTIONS}
    for section in SECTIONS:
        for key, value in (extra.get(section) or {}).items():
            if section == "places" and isinstance(value, dict):
                merged[section][key] = {**(merged[section].get(key) or {}), **value}
            elif value is None:
                merged[section].pop(key, None)
            else:
                merged[section][key] = value
    return merged


def build(document: dict[str, Any]) -> Mappings:
    formats = {key_of(str(k)): dict(v) for k, v in document["formats"].items()
               if isinstance(v, dict)}
    themes = {key_of(str(k)): [v] if isinstance(v, str) else list(v)
              for k, v in document["themes"].items()}
    places = document["places"]
    return Mappings(
        formats=formats,
        frequencies={key_of(str(k)): str(v) for k, v in document["frequencies"].items()},
        licences={key_of(str(k)): str(v) for k, v in document["licences"].items()},
        licence_types={key_of(str(k)): str(v) for k, v in document["licence_types"].items()},
        themes=themes,
        place_template=str(places.get("template") or ""),
        place_codes={str(k): str(v) for k, v in (places.get("codes") or {}).items()},
        labels={str(k): str(v) for k, v in document["labels"].items()},
        format_names=_first_keys({str(k): v.get("file_type") for k, v in
                                  document["formats"].items() if isinstance(v, dict)}),
        licence_ids=_first_keys({str(k): v for k, v in document["licences"].items()}),
    )


def _first_keys(mapping: dict[str, Any]) -> dict[str, str]:
    """value -> the first key that maps to it (the reverse of a mapping)."""
    reverse: dict[str, str] = {}
    for key, value in mapping.items():
        if value and str(value) not in reverse:
            reverse[str(value)] = key
    return reverse


_cache: dict[tuple, Mappings] = {}


def current() -> Mappings:
    """The mappings in force: the defaults with the configured file merged
    over them (re-read when that file changes)."""
    path = config.dcat_mappings_path()
    stamp = (path, os.path.getmtime(path) if path and os.path.exists(path) else None)
    if stamp not in _cache:
        document = _read(DEFAULTS)
        if path:
            document = _merge(document, _read(path))
        else:
            document = _merge(document, {})
        _cache.clear()
        _cache[stamp] = build(document)
    return _cache[stamp]
