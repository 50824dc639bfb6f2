"""Validators of the plugin's schemas (schema.py)."""

from __future__ import annotations

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


def licence_version_is_new(key: FlattenKey, data: FlattenDataDict, errors: FlattenErrorDict,
                           context: Context) -> Any:
    """After the fields: the version is not the licence's current one."""
    if errors.get(("licence_id",)) or errors.get(("version",)):
        return
    licence = registry.get_licence(data[("licence_id",)])
    version = data[("version",)]
    if licence is not None and version == licence.version:
        errors[("version",)].append(tk._(
            "{version} is already the current version: give the new version another "
            "number").format(version=version))
