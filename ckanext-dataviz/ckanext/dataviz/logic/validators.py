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
from typing import Any

import ckan.lib.navl.dictization_functions as df
import ckan.plugins.toolkit as tk
from ckan.types import Context, FlattenDataDict, FlattenErrorDict, FlattenKey
from ckanext.dataviz import config
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
