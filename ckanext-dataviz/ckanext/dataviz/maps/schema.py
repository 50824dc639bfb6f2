"""Validation of map layers, their styles and saved maps.

Errors are collected per field and raised as one ValidationError whose keys
name the field at fault, e.g. ``layers.1.style.mode`` or ``bbox``.
"""

from __future__ import annotations

import json
import re
from typing import Any, Optional

import ckan.plugins.toolkit as tk

STYLE_MODES = ("simple", "categories", "graduated", "proportional")
CLASS_METHODS = ("quantile", "equal")
SOURCE_KINDS = ("", "geojson", "wfs", "ogc", "table")
_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")
_NAME = re.compile(r"^[a-z0-9_-]{2,100}$")
MAX_LAYERS = 20
MAX_POPUP_FIELDS = 20
FIELD_MAX = 100


def _bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes", "on")
    return bool(value)


def _text(value: Any, limit: int = FIELD_MAX) -> Optional[str]:
    if value is None:
        return ""
    if not isinstance(value, (str, int, float)) or isinstance(value, bool):
        return None
    value = str(value).strip()
    return value if len(value) <= limit else None


def _int(value: Any, low: int, high: int, default: int) -> Optional[int]:
    if value in (None, ""):
        return default
    try:
        number = int(str(value).strip())
    except ValueError:
        return None
    return number if low <= number <= high else None


def fields_list(value: Any) -> Optional[list[str]]:
    """A list of field names from a list or a comma-separated string."""
    if value in (None, ""):
        return []
    if isinstance(value, str):
        value = [v for v in (p.strip() for p in value.split(",")) if v]
    if not isinstance(value, list) or len(value) > MAX_POPUP_FIELDS:
        return None
    names = [_text(v) for v in value]
    if any(not n for n in names):
        return None
    return names


def clean_style(style: Any, prefix: str, errors: dict[str, list[str]]) -> dict[str, Any]:
    """A layer's style, with its defaults; errors under `<prefix>style.<key>`."""
    if style in (None, ""):
        style = {}
    if isinstance(style, str):
        try:
            style = json.loads(style)
        except ValueError:
            style = None
    if not isinstance(style, dict):
        errors[f"{prefix}style"] = [tk._("The style must be an object.")]
        return {}

    def error(key: str, message: str) -> None:
        errors[f"{prefix}style.{key}"] = [message]

    clean: dict[str, Any] = {}
    mode = style.get("mode") or "simple"
    if mode not in STYLE_MODES:
        error("mode", tk._("Unknown style {}: choose one of {}.").format(
            json.dumps(str(mode)[:40]), ", ".join(STYLE_MODES)))
    clean["mode"] = mode
    color = style.get("color") or "#2b6cb0"
    if not isinstance(color, str) or not _COLOR.match(color):
        error("color", tk._("A colour is written #rrggbb."))
    clean["color"] = color
    field = _text(style.get("field"))
    if field is None:
        error("field", tk._("The field name is too long or not text."))
    elif not field and mode in ("categories", "graduated", "proportional"):
        error("field", tk._("Choose the property that sets the style."))
    clean["field"] = field or ""
    classes = _int(style.get("classes"), 2, 9, 5)
    if classes is None:
        error("classes", tk._("The number of classes is a whole number from 2 to 9."))
    clean["classes"] = classes or 5
    method = style.get("method") or "quantile"
    if method not in CLASS_METHODS:
        error("method", tk._("Classes are made by quantile or equal intervals."))
    clean["method"] = method
    radius = _int(style.get("max_radius"), 2, 60, 20)
    if radius is None:
        error("max_radius", tk._("The largest radius is a whole number from 2 to 60."))
    clean["max_radius"] = radius or 20
    clean["cluster"] = _bool(style.get("cluster"))
    popup = fields_list(style.get("popup_fields"))
    if popup is None:
        error("popup_fields", tk._("Pop-ups show at most {} fields, named in a list.").format(
            MAX_POPUP_FIELDS))
    clean["popup_fields"] = popup or []
    return clean


def clean_source(source: Any, prefix: str, errors: dict[str, list[str]]) -> dict[str, str]:
    """Where a layer reads its features: kind, WFS/OGC layer name, lat/lon columns."""
    if source in (None, ""):
        source = {}
    if not isinstance(source, dict):
        errors[f"{prefix}source"] = [tk._("The source must be an object.")]
        return {}
    clean = {}
    for key in ("kind", "layer_name", "lat_field", "lon_field"):
        value = _text(source.get(key), 200)
        if value is None:
            errors[f"{prefix}source.{key}"] = [tk._("Too long or not text.")]
        clean[key] = value or ""
    if clean["kind"] not in SOURCE_KINDS:
        errors[f"{prefix}source.kind"] = [tk._("Unknown kind of source {}.").format(
            json.dumps(clean["kind"][:40]))]
    return clean


def clean_bbox(value: Any, errors: dict[str, list[str]]) -> Optional[list[float]]:
    """[west, south, east, north] in degrees, or None."""
    if value in (None, "", []):
        return None
    if isinstance(value, str):
        try:
            value = [float(v) for v in value.split(",")] if not value.strip().startswith("[") \
                else json.loads(value)
        except ValueError:
            value = None
    message = tk._("The extent is four numbers: west, south, east, north (degrees).")
    if (not isinstance(value, list) or len(value) != 4
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)):
        errors["bbox"] = [message]
        return None
    west, south, east, north = (float(v) for v in value)
    if not (-180 <= west < east <= 180 and -90 <= south < north <= 90):
        errors["bbox"] = [message]
        return None
    return [west, south, east, north]


def clean_layers(value: Any, errors: dict[str, list[str]]) -> list[dict[str, Any]]:
    """The layers of a saved map (their resources are checked by the action)."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            value = None
    if not isinstance(value, list) or not value:
        errors["layers"] = [tk._("A map needs at least one layer.")]
        return []
    if len(value) > MAX_LAYERS:
        errors["layers"] = [tk._("A map has at most {} layers.").format(MAX_LAYERS)]
        return []
    layers = []
    for index, layer in enumerate(value):
        prefix = f"layers.{index}."
        if not isinstance(layer, dict):
            errors[f"layers.{index}"] = [tk._("A layer must be an object.")]
            continue
        resource_id = _text(layer.get("resource_id"))
        if not resource_id:
            errors[f"{prefix}resource_id"] = [tk._("Missing value")]
        title = _text(layer.get("title"), 200)
        if title is None:
            errors[f"{prefix}title"] = [tk._("Too long or not text.")]
        layers.append({
            "resource_id": resource_id or "",
            "title": title or "",
            "source": clean_source(layer.get("source"), prefix, errors),
            "style": clean_style(layer.get("style"), prefix, errors),
        })
    return layers


def clean_map(data: dict[str, Any], partial: bool = False) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """The fields of a saved map and the errors found, by field."""
    errors: dict[str, list[str]] = {}
    clean: dict[str, Any] = {}
    if not partial or "title" in data:
        title = _text(data.get("title"), 200)
        if not title:
            errors["title"] = [tk._("Missing value") if title == "" else tk._("Too long or not text.")]
        clean["title"] = title or ""
    if "name" in data and data.get("name"):
        name = _text(data.get("name"))
        if not name or not _NAME.match(name):
            errors["name"] = [tk._(
                "Must be 2 to 100 characters: lowercase letters, digits, - and _.")]
        clean["name"] = name or ""
    if not partial or "description" in data:
        description = _text(data.get("description"), 5000)
        if description is None:
            errors["description"] = [tk._("Too long or not text.")]
        clean["description"] = description or ""
    if not partial or "layers" in data:
        clean["layers"] = clean_layers(data.get("layers"), errors)
    if not partial or "bbox" in data:
        clean["bbox"] = clean_bbox(data.get("bbox"), errors)
    for flag, default in (("private", False), ("legend", True)):
        if not partial or flag in data:
            clean[flag] = _bool(data[flag]) if flag in data else default
    if "owner_org" in data:
        owner = _text(data.get("owner_org"))
        if owner is None:
            errors["owner_org"] = [tk._("Too long or not text.")]
        clean["owner_org"] = owner or None
    return clean, errors


def view_layer(config: dict[str, Any]) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """The one layer of a resource view `dataviz_map`, from its flat
    configuration (the view form's fields)."""
    errors: dict[str, list[str]] = {}
    source = clean_source({k: config.get(k) for k in ("kind", "layer_name", "lat_field", "lon_field")},
                          "", errors)
    style = clean_style({k: config.get(k) for k in ("mode", "color", "field", "classes", "method",
                                                    "max_radius", "cluster", "popup_fields")},
                        "", errors)
    return {"source": source, "style": style}, errors
