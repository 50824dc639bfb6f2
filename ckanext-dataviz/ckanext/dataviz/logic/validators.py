"""Validators of the dataviz schemas (schema.py): the fields of a chart
configuration, the request of dataviz_chart_data, and the nested objects of
a saved map.

Every error says which value is wrong and what is expected, in the user's
language. A chart's field validators read the resource's DataStore columns
from the navl context (``dataviz_field_types``, see schema.check_chart).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import ckan.lib.navl.dictization_functions as df
import ckan.plugins.toolkit as tk
from ckan.types import Context, FlattenDataDict, FlattenErrorDict, FlattenKey
from ckanext.dataviz import config
from ckanext.dataviz.chart import query
from ckanext.dataviz.chart.spec import (
    AGGREGATES,
    BUCKETS,
    CHART_TYPES,
    KEYS,
    OPERATORS,
    SORTS,
    TEXT_MAX,
    Filter,
    convert_value,
    kind,
)

_COLOUR = re.compile(r"^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")
_FILTER_LINE = re.compile(r"^\s*(.+?)\s*(!=|<=|>=|=|<|>)\s*(.*?)\s*$")


# --- reading raw values -----------------------------------------------------------------

def _given(value: Any) -> Any:
    """None for navl's `missing`, the value otherwise."""
    return None if value is df.missing else value


def text_value(value: Any) -> str:
    """A single text from a form or API value (the first of a list), stripped."""
    value = _given(value)
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        value = value[0] if value else ""
    return str(value).strip()


def list_value(value: Any) -> list[str]:
    """Names from a list, a JSON list or a comma-separated string."""
    value = _given(value)
    if value is None or value == "":
        return []
    if isinstance(value, str):
        if value.startswith("["):
            try:
                value = json.loads(value)
            except ValueError:
                return [value]
        else:
            return [part.strip() for part in value.split(",") if part.strip()]
    if isinstance(value, (list, tuple)):
        out = []
        for item in value:
            out.extend(list_value(item) if isinstance(item, str) and "," in item else
                       ([str(item).strip()] if str(item).strip() else []))
        return out
    return [str(value)]


def filter_triples(raw: Any) -> list[tuple[str, str, Any]]:
    """(field, op, value) triples from a list of dicts or from text lines;
    ValueError naming the line that cannot be read."""
    raw = _given(raw)
    if isinstance(raw, tuple):  # a list of objects kept whole (schema.check_chart)
        raw = list(raw)
    if raw is None or raw == "" or raw == []:
        return []
    if isinstance(raw, str) and raw.strip().startswith("["):
        try:
            raw = json.loads(raw)
        except ValueError:
            raise ValueError(raw.strip()[:80]) from None
    out = []
    if isinstance(raw, str):
        for line in raw.splitlines():
            if not line.strip():
                continue
            match = _FILTER_LINE.match(line)
            if not match:
                raise ValueError(line.strip()[:80])
            out.append((match.group(1), match.group(2), match.group(3)))
        return out
    if isinstance(raw, dict):
        raw = [raw]
    if not isinstance(raw, list):
        raise ValueError(str(raw)[:80])
    for item in raw:
        if not isinstance(item, dict) or "field" not in item:
            raise ValueError(json.dumps(item)[:80])
        out.append((str(item["field"]), str(item.get("op", "=")), item.get("value")))
    return out


# --- a chart configuration: one validator per field -------------------------------------

def _types(context: Context) -> dict[str, str]:
    return context.get("dataviz_field_types") or {}  # type: ignore[return-value]


def _unknown(name: str) -> str:
    return tk._('The field "%(field)s" is not a column of this resource.') % {"field": name}


def dataviz_chart_type(value: Any) -> str:
    """line (default), bar, area, pie or scatter."""
    chart_type = text_value(value) or "line"
    if chart_type not in CHART_TYPES:
        raise tk.Invalid(tk._("Choose a chart type among: %(choices)s.")
                         % {"choices": ", ".join(CHART_TYPES)})
    return chart_type


def dataviz_chart_aggregate(key: FlattenKey, data: FlattenDataDict,
                            errors: FlattenErrorDict, context: Context) -> None:
    """none (default), sum, avg, min, max or count; an unknown one is an
    error and counts as none for the other fields' checks."""
    aggregate = text_value(data.get(key)) or "none"
    if aggregate not in AGGREGATES:
        errors[key].append(tk._("Choose an aggregation among: %(choices)s.")
                           % {"choices": ", ".join(AGGREGATES)})
        aggregate = "none"
    data[key] = aggregate


def dataviz_chart_x(value: Any, context: Context) -> str:
    """The field of the horizontal axis: required, a column of the resource."""
    x = text_value(value)
    if not x:
        raise tk.Invalid(tk._("Choose the field of the horizontal axis."))
    if x not in _types(context):
        raise tk.Invalid(_unknown(x))
    return x


def dataviz_chart_bucket(value: Any) -> str:
    """"" (none), day, week, month or year."""
    bucket = text_value(value)
    if bucket not in BUCKETS:
        raise tk.Invalid(tk._("Choose a time bucket among: day, week, month, year."))
    return bucket


def dataviz_chart_y(key: FlattenKey, data: FlattenDataDict,
                    errors: FlattenErrorDict, context: Context) -> None:
    """One or more number fields (any field for a count); runs after the
    aggregate (navl validates fields in the order of their names)."""
    types = _types(context)
    aggregate = data.get(("aggregate",))
    y = list_value(data.get(key))
    if not y and aggregate != "count":
        errors[key].append(tk._("Choose at least one field for the vertical axis."))
    for name in y:
        if name not in types:
            errors[key].append(_unknown(name))
        elif aggregate != "count" and kind(types[name]) != "number":
            if aggregate == "none":
                errors[key].append(tk._('The field "%(field)s" is not a number and cannot be '
                                        'drawn on the vertical axis.') % {"field": name})
            else:
                errors[key].append(tk._('The aggregation "%(aggregate)s" needs a number field; '
                                        '"%(field)s" is %(type)s.')
                                   % {"aggregate": aggregate, "field": name,
                                      "type": types[name]})
    data[key] = y


def dataviz_chart_series(value: Any, context: Context) -> str:
    """A column whose values split the points into series, or ""."""
    series = text_value(value)
    if series and series not in _types(context):
        raise tk.Invalid(_unknown(series))
    return series


def dataviz_chart_filters(key: FlattenKey, data: FlattenDataDict,
                          errors: FlattenErrorDict, context: Context) -> None:
    """Filters as a list of {"field", "op", "value"} or as text lines
    "field op value"; each value converted to its column's type."""
    types = _types(context)
    filters: list[Filter] = []
    try:
        triples = filter_triples(data.get(key))
    except ValueError as line:
        errors[key].append(tk._('This filter cannot be read: "%(line)s". Write one filter a '
                                'line, as: field = value (or !=, <, <=, >, >=).')
                           % {"line": str(line)})
        triples = []
    for name, op, raw in triples:
        if op not in OPERATORS:
            errors[key].append(tk._('Unknown operator "%(op)s" in a filter.') % {"op": op[:10]})
            continue
        if name not in types:
            errors[key].append(_unknown(name))
            continue
        try:
            filters.append(Filter(name, op, convert_value(raw, types[name])))
        except (ValueError, TypeError):
            errors[key].append(tk._('The value "%(value)s" does not fit the field "%(field)s" '
                                    '(%(type)s).')
                               % {"value": str(raw)[:80], "field": name, "type": types[name]})
    data[key] = filters


def dataviz_chart_sort(value: Any) -> str:
    """x (default), -x, y or -y."""
    sort = text_value(value) or "x"
    if sort not in SORTS:
        raise tk.Invalid(tk._("Sort by x, -x, y or -y."))
    return sort


def dataviz_chart_limit(value: Any) -> int:
    """The number of points, from 1 to ckanext.dataviz.chart.max_points
    (the default)."""
    cap = config.chart_max_points()
    raw = text_value(value)
    if not raw:
        return cap
    try:
        limit = int(raw)
    except ValueError:
        limit = 0
    if limit < 1 or limit > cap:
        raise tk.Invalid(tk._("The number of points must be a whole number between 1 and "
                              "%(max)s.") % {"max": cap})
    return limit


def dataviz_chart_text(value: Any) -> str:
    """A title or an axis label, at most TEXT_MAX characters."""
    text = text_value(value)
    if len(text) > TEXT_MAX:
        raise tk.Invalid(tk._("At most %(max)s characters.") % {"max": TEXT_MAX})
    return text


def dataviz_chart_colours(key: FlattenKey, data: FlattenDataDict,
                          errors: FlattenErrorDict, context: Context) -> None:
    """Colours #rgb or #rrggbb, separated by commas or spaces."""
    raw = _given(data.get(key))
    colours = list_value(raw.replace(" ", ",") if isinstance(raw, str) else raw)
    for colour in colours:
        if not _COLOUR.match(colour):
            errors[key].append(tk._('"%(colour)s" is not a colour: write colours as #rrggbb, '
                                    'separated by commas.') % {"colour": colour[:20]})
    data[key] = colours


def dataviz_chart_rules(key: FlattenKey, data: FlattenDataDict,
                        errors: FlattenErrorDict, context: Context) -> None:
    """What ties the fields together (after them): time buckets need a time
    field on x and an aggregation; a pie has no series and one field."""
    types = _types(context)
    x = text_value(data.get(("x",)))
    bucket = text_value(data.get(("bucket",)))
    if bucket and bucket in BUCKETS:
        if x in types and kind(types[x]) != "time":
            errors[("bucket",)].append(tk._('Time buckets need a date or timestamp field on '
                                            'the horizontal axis; "%(field)s" is not one.')
                                       % {"field": x})
        if data.get(("aggregate",)) == "none":
            errors[("aggregate",)].append(tk._("Time buckets need an aggregation (sum, avg, "
                                               "min, max or count)."))
    if text_value(data.get(("chart_type",))) == "pie":
        if text_value(data.get(("series",))):
            errors[("series",)].append(tk._("A pie chart cannot be split into series."))
        if len(list_value(data.get(("y",)))) > 1:
            errors[("y",)].append(tk._("A pie chart shows one field."))


def dataviz_chart_view_form(check: Callable[..., tuple[Any, dict[str, list[str]]]]):
    """The __after validator of a `dataviz_chart` view's form: the whole
    configuration checked by `check` (schema.check_chart) against the
    resource's DataStore fields; errors go to the form field they concern;
    `y` is kept as the list of its fields."""

    def validator(key: FlattenKey, data: FlattenDataDict,
                  errors: FlattenErrorDict, context: Context) -> None:
        resource_id = data.get(("resource_id",))
        if not resource_id or resource_id is df.missing or errors.get(("resource_id",)):
            return
        fields = query.datastore_fields(resource_id)
        if fields is None:
            errors.setdefault(("x",), []).append(
                tk._("This resource has no DataStore table to chart."))
            return
        chart = {}
        for name in KEYS:
            if name == "title":  # the chart's title is the view's own title
                continue
            value = data.get((name,))
            if value is not df.missing and value is not None:
                chart[name] = value
        spec, problems = check(chart, fields)
        for name, messages in problems.items():
            errors.setdefault((name,), []).extend(messages)
        if spec is not None:
            data[("y",)] = spec.y

    return validator


# --- the request of dataviz_chart_data ----------------------------------------------------

def _junk_keys(data: FlattenDataDict, names: tuple[str, ...]) -> dict[str, Any]:
    """Keys given as lists of objects (navl set them aside as junk), whole."""
    junk = data.get(("__junk",))
    if not isinstance(junk, dict):
        return {}
    kept = {k: v for k, v in junk.items() if isinstance(k, tuple) and k[0] in names}
    return df.unflatten(kept) if kept else {}


def dataviz_chart_request(key: FlattenKey, data: FlattenDataDict,
                          errors: FlattenErrorDict, context: Context) -> None:
    """A view_id (its saved configuration is used), or a resource_id with
    ``config`` (an object or its JSON text) or the chart keys themselves,
    gathered into ``config``."""
    if _given(data.get(("view_id",))):
        return
    if not _given(data.get(("resource_id",))):
        errors[("resource_id",)] = [tk._("Missing value")]
        return
    junk = _junk_keys(data, KEYS + ("config",))
    chart = _given(data.get(("config",)))
    if chart is None:
        chart = junk.pop("config", None)
    if chart is None:
        chart = {name: data[(name,)] for name in KEYS
                 if _given(data.get((name,))) is not None}
        chart.update(junk)
    if isinstance(chart, str):
        try:
            chart = json.loads(chart)
        except ValueError:
            errors[("config",)] = [tk._("The chart configuration is not JSON.")]
            return
    if not isinstance(chart, dict):
        errors[("config",)] = [tk._("The chart configuration must be an object.")]
        return
    data[("config",)] = chart


# --- navl's flattening -------------------------------------------------------------------

def whole_lists(data: dict[str, Any]) -> dict[str, Any]:
    """The data with its lists of objects (a map's layers, a chart's
    filters) as tuples, which navl keeps whole for the validator of their key
    instead of taking them apart."""
    return {key: tuple(value) if isinstance(value, list) and value
            and isinstance(value[0], dict) else value for key, value in data.items()}


def whole_values(data_dict: dict[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    """The values of `names` in a data dict validated by @validate, those
    given as lists of objects (that navl set aside as junk) put back whole."""
    values = {name: data_dict.get(name) for name in names}
    junk = data_dict.get("__junk")
    if isinstance(junk, dict):
        kept = {k: v for k, v in junk.items() if isinstance(k, tuple) and k[0] in names}
        values.update(df.unflatten(kept) if kept else {})
    return values


def dataviz_first_error_only(order: tuple[str, ...]):
    """An __after validator that keeps the error of the first wrong field in
    `order` and drops the others' (an action that reports one wrong parameter
    at a time)."""

    def validator(key: FlattenKey, data: FlattenDataDict,
                  errors: FlattenErrorDict, context: Context) -> None:
        wrong = [name for name in order if errors.get((name,))]
        for name in wrong[1:]:
            errors[(name,)] = []

    return validator


# --- maps: nested objects, one validator each ---------------------------------------------

STYLE_MODES = ("simple", "categories", "graduated", "proportional")
CLASS_METHODS = ("quantile", "equal")
SOURCE_KINDS = ("", "geojson", "wfs", "ogc", "table")
SOURCE_KEYS = ("kind", "layer_name", "lat_field", "lon_field")
STYLE_KEYS = ("mode", "color", "field", "classes", "method", "max_radius", "cluster",
              "popup_fields")
_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")
_NAME = re.compile(r"^[a-z0-9_-]{2,100}$")
MAX_LAYERS = 20
MAX_POPUP_FIELDS = 20
FIELD_MAX = 100


def flag(value: Any) -> bool:
    """true/1/yes/on (any case) or a true value."""
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes", "on")
    return bool(value)


def map_text(value: Any, limit: int = FIELD_MAX) -> str | None:
    """A text of at most `limit` characters, stripped ("" for None); None
    when the value is not text or is too long."""
    value = _given(value)
    if value is None:
        return ""
    if not isinstance(value, (str, int, float)) or isinstance(value, bool):
        return None
    value = str(value).strip()
    return value if len(value) <= limit else None


def _int(value: Any, low: int, high: int, default: int) -> int | None:
    if value in (None, ""):
        return default
    try:
        number = int(str(value).strip())
    except ValueError:
        return None
    return number if low <= number <= high else None


def fields_list(value: Any) -> list[str] | None:
    """A list of field names from a list or a comma-separated string."""
    if value in (None, ""):
        return []
    if isinstance(value, str):
        value = [v for v in (p.strip() for p in value.split(",")) if v]
    if not isinstance(value, list) or len(value) > MAX_POPUP_FIELDS:
        return None
    names = [map_text(v) for v in value]
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
    field = map_text(style.get("field"))
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
    clean["cluster"] = flag(style.get("cluster"))
    popup = fields_list(style.get("popup_fields"))
    if popup is None:
        error("popup_fields", tk._("Pop-ups show at most {} fields, named in a list.").format(
            MAX_POPUP_FIELDS))
    clean["popup_fields"] = popup or []
    return clean


def clean_source(source: Any, prefix: str, errors: dict[str, list[str]]) -> dict[str, str]:
    """Where a layer reads its features: kind, WFS/OGC layer name, lat/lon
    columns; errors under `<prefix><key>` (`layers.0.source.kind` in a saved
    map, `kind` for a layer's data and a view's form)."""
    if source in (None, ""):
        source = {}
    if not isinstance(source, dict):
        errors[prefix.rstrip(".") or "source"] = [tk._("The source must be an object.")]
        return {}
    clean = {}
    for key in SOURCE_KEYS:
        value = map_text(source.get(key), 200)
        if value is None:
            errors[f"{prefix}{key}"] = [tk._("Too long or not text.")]
        clean[key] = value or ""
    if clean["kind"] not in SOURCE_KINDS:
        errors[f"{prefix}kind"] = [tk._("Unknown kind of source {}.").format(
            json.dumps(clean["kind"][:40]))]
    return clean


def clean_layers(value: Any, errors: dict[str, list[str]]) -> list[dict[str, Any]]:
    """The layers of a saved map (their resources are checked by the action);
    errors under `layers.<index>.<key>`."""
    if isinstance(value, tuple):  # a list of objects kept whole (whole_lists)
        value = list(value)
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
        resource_id = map_text(layer.get("resource_id"))
        if not resource_id:
            errors[f"{prefix}resource_id"] = [tk._("Missing value")]
        title = map_text(layer.get("title"), 200)
        if title is None:
            errors[f"{prefix}title"] = [tk._("Too long or not text.")]
        layers.append({
            "resource_id": resource_id or "",
            "title": title or "",
            "source": clean_source(layer.get("source"), f"{prefix}source.", errors),
            "style": clean_style(layer.get("style"), prefix, errors),
        })
    return layers


def view_layer(config: dict[str, Any]) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """The one layer of a resource view `dataviz_map`, from its flat
    configuration (the view form's fields)."""
    errors: dict[str, list[str]] = {}
    source = clean_source({k: config.get(k) for k in SOURCE_KEYS}, "", errors)
    style = clean_style({k: config.get(k) for k in STYLE_KEYS}, "", errors)
    return {"source": source, "style": style}, errors


def dataviz_map_view_field(name: str):
    """One field of a `dataviz_map` view's form, checked as the layer's
    source or style would check it (the error names the field)."""

    def validator(key: FlattenKey, data: FlattenDataDict,
                  errors: FlattenErrorDict, context: Context) -> None:
        flat = {k[0]: ("" if v is df.missing else v) for k, v in data.items()
                if isinstance(k, tuple) and len(k) == 1}
        _, layer_errors = view_layer(flat)
        for error_key, messages in layer_errors.items():
            if error_key.split(".")[-1] == name:
                errors[key].extend(messages)

    return validator


def _record(errors: FlattenErrorDict, found: dict[str, list[str]]) -> None:
    """Errors keyed by a dotted path (``layers.1.style.mode``), kept as such."""
    for path, messages in found.items():
        errors.setdefault((path,), []).extend(messages)


# --- maps: the fields of a saved map, of a layer's data, of the list ---------------------

def dataviz_if_given(key: FlattenKey, data: FlattenDataDict,
                     errors: FlattenErrorDict, context: Context) -> None:
    """Stops at a key absent from the data (a partial update leaves it);
    unlike ignore_missing, a given None is checked."""
    if data.get(key) is df.missing:
        data.pop(key, None)
        raise df.StopOnError


def dataviz_id_text(value: Any) -> str:
    """An id or a name: a text that is not empty."""
    value = _given(value)
    if not value or not isinstance(value, str):
        raise tk.Invalid(tk._("Missing value"))
    return value


def dataviz_map_title(key: FlattenKey, data: FlattenDataDict,
                      errors: FlattenErrorDict, context: Context) -> None:
    """Required, at most 200 characters."""
    title = map_text(data.get(key), 200)
    if not title:
        errors[key].append(tk._("Missing value") if title == ""
                           else tk._("Too long or not text."))
    data[key] = title or ""


def dataviz_map_name(key: FlattenKey, data: FlattenDataDict,
                     errors: FlattenErrorDict, context: Context) -> None:
    """The map's URL name when one is given: 2 to 100 lowercase letters,
    digits, - and _ (made from the title otherwise)."""
    value = _given(data.get(key))
    if not value:
        data.pop(key, None)
        raise df.StopOnError
    name = map_text(value)
    if not name or not _NAME.match(name):
        errors[key].append(tk._(
            "Must be 2 to 100 characters: lowercase letters, digits, - and _."))
    data[key] = name or ""


def dataviz_map_description(key: FlattenKey, data: FlattenDataDict,
                            errors: FlattenErrorDict, context: Context) -> None:
    """Markdown, at most 5000 characters."""
    description = map_text(data.get(key), 5000)
    if description is None:
        errors[key].append(tk._("Too long or not text."))
    data[key] = description or ""


def dataviz_map_layers(key: FlattenKey, data: FlattenDataDict,
                       errors: FlattenErrorDict, context: Context) -> None:
    """1 to MAX_LAYERS layers ({"resource_id", "title", "source", "style"},
    or their JSON text); errors keyed by path (``layers.0.style.mode``)."""
    found: dict[str, list[str]] = {}
    data[key] = clean_layers(_given(data.get(key)), found)
    _record(errors, found)


def dataviz_map_bbox(key: FlattenKey, data: FlattenDataDict,
                     errors: FlattenErrorDict, context: Context) -> None:
    """[west, south, east, north] in degrees (a list or "w,s,e,n"), or None."""
    value = _given(data.get(key))
    data[key] = None
    if value in (None, "", []):
        return
    if isinstance(value, str):
        try:
            value = [float(v) for v in value.split(",")] if not value.strip().startswith("[") \
                else json.loads(value)
        except ValueError:
            value = None
    if (not isinstance(value, list) or len(value) != 4
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)):
        errors[key].append(tk._("The extent is four numbers: west, south, east, north (degrees)."))
        return
    west, south, east, north = (float(v) for v in value)
    if not (-180 <= west < east <= 180 and -90 <= south < north <= 90):
        errors[key].append(tk._("The extent is four numbers: west, south, east, north (degrees)."))
        return
    data[key] = [west, south, east, north]


def dataviz_map_flag(default: bool):
    """A yes/no field: `default` when absent; true/false, yes/no, on/off,
    1/0 (any case) or a boolean otherwise (a given None or "" is false);
    anything else is refused, not taken as false."""

    def validator(value: Any) -> bool:
        if value is df.missing:
            return default
        if value is None or value == "":
            return False
        if isinstance(value, bool):
            return value
        if isinstance(value, (str, int)) and str(value).strip().lower() in _FLAG_WORDS:
            return _FLAG_WORDS[str(value).strip().lower()]
        raise tk.Invalid(tk._("Must be true or false"))

    return validator


_FLAG_WORDS = {"true": True, "yes": True, "on": True, "1": True,
               "false": False, "no": False, "off": False, "0": False}


def dataviz_map_owner_org(key: FlattenKey, data: FlattenDataDict,
                          errors: FlattenErrorDict, context: Context) -> None:
    """The owning organisation's id or name, or None (the map is the
    user's); whether it exists is checked by the action."""
    owner = map_text(data.get(key))
    if owner is None:
        errors[key].append(tk._("Too long or not text."))
    data[key] = owner or None


def dataviz_name_or_id(value: Any) -> Any:
    """A name or an id when given (None passes)."""
    if _given(value) is not None and not isinstance(value, str):
        raise tk.Invalid(tk._("Must be a name or an id"))
    return _given(value)


def dataviz_true_false(value: Any) -> bool:
    """A boolean from true/false, yes/no, on/off, 1/0 (false when absent)."""
    value = _given(value)
    try:
        return bool(value) and tk.asbool(value)
    except ValueError:
        raise tk.Invalid(tk._("Must be true or false")) from None


def dataviz_list_limit(default: int, maximum: int):
    """A whole number from 1, at most `maximum` (a larger one is taken as
    `maximum`); `default` when absent."""

    def validator(value: Any) -> int:
        try:
            number = int(default if value is df.missing else value)
        except (TypeError, ValueError):
            raise tk.Invalid(tk._("Must be a whole number")) from None
        if number < 1 or isinstance(value, bool):
            raise tk.Invalid(tk._("Must be a whole number from 1"))
        return min(number, maximum)

    return validator


def dataviz_list_offset(value: Any) -> int:
    """A whole number, 0 or more (0 when absent)."""
    try:
        number = int(0 if value is df.missing else value)
    except (TypeError, ValueError):
        raise tk.Invalid(tk._("Must be a whole number")) from None
    if number < 0 or isinstance(value, bool):
        raise tk.Invalid(tk._("Must be a whole number, 0 or more"))
    return number
