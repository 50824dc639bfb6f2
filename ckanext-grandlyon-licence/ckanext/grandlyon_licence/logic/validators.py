"""Validators of the plugin's schemas (schema.py)."""

from __future__ import annotations

import re
from typing import Any

import ckan.lib.navl.dictization_functions as df
import ckan.plugins.toolkit as tk
from ckan.types import Context, FlattenDataDict, FlattenErrorDict, FlattenKey

from .. import registry


def _text(data: FlattenDataDict, key: FlattenKey) -> str:
    """The value as trimmed text ("" when absent or empty), written back."""
    value = data.get(key)
    text = "" if value is df.missing or value is None else str(value).strip()
    data[key] = text
    return text


def licence_of_registry(key: FlattenKey, data: FlattenDataDict, errors: FlattenErrorDict,
                        context: Context) -> None:
    """A licence id of the registry."""
    text = _text(data, key)
    if not text or registry.get_licence(text) is None:
        errors[key].append(tk._("Choose a licence of the registry"))


def licence_version_text(key: FlattenKey, data: FlattenDataDict, errors: FlattenErrorDict,
                         context: Context) -> None:
    """A version as the registry writes them (registry.VERSION_PATTERN)."""
    if not registry.VERSION_PATTERN.match(_text(data, key)):
        errors[key].append(tk._('Write the new version with letters, digits, ".", "-" or '
                                '"_" (at most 50), e.g. 2.0'))


LANGUAGE_PATTERN = re.compile(r"^[a-z]{2,3}(_[A-Z]{2})?$")
TEXT_MAX_LENGTH = 200_000


def version_taken_message(version: str, published_at: Any) -> str:
    """A licence's version number published before cannot be published again
    (its signatures would count again)."""
    return tk._(
        "Version {version} of this licence was already published on {date}: give the new "
        "version another number").format(
            version=version, date=published_at.strftime("%Y-%m-%d %H:%M UTC"))


def licence_version_is_new(key: FlattenKey, data: FlattenDataDict, errors: FlattenErrorDict,
                           context: Context) -> Any:
    """After the fields: the version is not the licence's current one, nor
    one of its earlier ones."""
    if errors.get(("licence_id",)) or errors.get(("version",)):
        return
    licence = registry.get_licence(data[("licence_id",)])
    version = data[("version",)]
    if licence is None:
        return
    if version == licence.version:
        errors[("version",)].append(tk._(
            "{version} is already the current version: give the new version another "
            "number").format(version=version))
        return
    earlier = registry.version_of(licence.id, version)
    if earlier is not None:
        errors[("version",)].append(version_taken_message(version, earlier.published_at))


def licence_text_by_language(key: FlattenKey, data: FlattenDataDict, errors: FlattenErrorDict,
                             context: Context) -> Any:
    """Optional: markdown per language code, e.g. {"fr": "...", "en": "..."};
    trimmed, empty languages left out (they keep the current text)."""
    value = data.get(key)
    if value is df.missing or value is None or value == "" or value == {}:
        data.pop(key, None)
        raise df.StopOnError
    if not isinstance(value, dict) or not all(
            isinstance(k, str) and LANGUAGE_PATTERN.match(k) and isinstance(v, str)
            for k, v in value.items()):
        errors[key].append(tk._(
            'Give the text as markdown per language code, e.g. {"fr": "...", "en": "..."}'))
        return
    if any(len(v) > TEXT_MAX_LENGTH for v in value.values()):
        errors[key].append(
            tk._("Too long: at most {max} characters").format(max=TEXT_MAX_LENGTH))
        return
    data[key] = {k: v.strip() for k, v in value.items() if v.strip()}
