"""Validation schemas of the feed actions (`@validate` in action.py)."""

from __future__ import annotations

import json
from typing import Any

import ckan.lib.navl.dictization_functions as df
import ckan.plugins.toolkit as tk
from ckanext.history.logic import validators as v


def _lower(value: Any) -> Any:
    return value.strip().lower() if isinstance(value, str) else value


def _empty_is_missing(key, data, errors, context) -> None:
    """An empty optional value means "not given"."""
    if data.get(key) in ("", None):
        data.pop(key, None)
        raise df.StopOnError


def feed_create() -> dict[str, Any]:
    not_empty = tk.get_validator("not_empty")
    ignore_missing = tk.get_validator("ignore_missing")
    unicode_safe = tk.get_validator("unicode_safe")
    default = tk.get_validator("default")
    return {
        "resource_id": [not_empty, unicode_safe],
        "url": [not_empty, unicode_safe, v.history_feed_url],
        "format": [not_empty, _lower, v.history_choice(v.FORMATS)],
        "feature_id_field": [not_empty, v.history_identifier],
        "time_field": [v.history_optional_identifier],
        "fields": [not_empty, v.history_feed_fields],
        "interval_seconds": [default(60), v.history_feed_interval],
        "hot_retention_days": [ignore_missing, _empty_is_missing, v.history_retention_days],
        "store_mode": [default("changes"), _lower, v.history_choice(v.STORE_MODES)],
        "enabled": [default(True), v.history_boolean],
    }


def feed_update() -> dict[str, Any]:
    """As create; every field but resource_id is optional (kept when absent)."""
    ignore_missing = tk.get_validator("ignore_missing")
    unicode_safe = tk.get_validator("unicode_safe")
    not_empty = tk.get_validator("not_empty")
    return {
        "resource_id": [not_empty, unicode_safe],
        "url": [ignore_missing, not_empty, unicode_safe, v.history_feed_url],
        "format": [ignore_missing, not_empty, _lower, v.history_choice(v.FORMATS)],
        "feature_id_field": [ignore_missing, not_empty, v.history_identifier],
        "time_field": [ignore_missing, v.history_optional_identifier],
        "fields": [ignore_missing, not_empty, v.history_feed_fields],
        "interval_seconds": [ignore_missing, v.history_feed_interval],
        # Empty clears the feed's own retention (the configured one applies).
        "hot_retention_days": [ignore_missing, v.history_retention_days],
        "store_mode": [ignore_missing, not_empty, _lower, v.history_choice(v.STORE_MODES)],
        "enabled": [ignore_missing, v.history_boolean],
    }


def feed_ref() -> dict[str, Any]:
    return {"resource_id": [tk.get_validator("not_empty"), tk.get_validator("unicode_safe")]}


def single_values(data_dict: dict[str, Any], feed_schema: dict[str, Any]) -> dict[str, Any]:
    """The input as CKAN's navl validation reads it, before `@validate`.

    navl hands a top-level empty list back without running the field's
    validators, and some of CKAN's validators fail on a list or an object:
    every field but `fields` takes a single value (else "Must be a single
    value"). The validators read text: numbers are given as text. navl
    flattens lists of dicts: `fields` is read as JSON text by its validator.
    """
    data = {key: value for key, value in data_dict.items() if value != [] or key == "fields"}
    nested = {key: [tk._("Must be a single value")] for key, value in data.items()
              if key in feed_schema and key != "fields" and isinstance(value, (dict, list))}
    if nested:
        raise tk.ValidationError(nested)
    data = {key: str(value) if isinstance(value, (int, float)) and not isinstance(value, bool)
            else value for key, value in data.items()}
    if isinstance(data.get("fields"), (list, dict)):
        data["fields"] = json.dumps(data["fields"])
    return data
