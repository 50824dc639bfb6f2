"""The configuration of a chart, checked against the DataStore fields of its
resource.

A chart configuration comes from the view form (strings, lists of strings)
or from the API (JSON). `parse()` turns it into a `ChartSpec` or a dict of
errors keyed by the form field they concern, in the user's language.

Keys (all but chart_type and x optional):
    chart_type  line | bar | area | pie | scatter
    x           the field on the horizontal axis (the slice labels of a pie)
    y           one or more number fields (a list, or a comma-separated string)
    series      a field whose values split the points into one series each
    aggregate   none | sum | avg | min | max | count
    bucket      "" | day | week | month | year: groups a timestamp or date x
    filters     list of {"field", "op", "value"}, or text with one
                "field op value" a line; op among = != < <= > >=
    sort        x | -x | y | -y (by x or by the first y; "-" descending)
    limit       the number of points (at most ckanext.dataviz.chart.max_points)
    title, x_label, y_label   texts
    colours     "#rrggbb" colours, comma or space separated
"""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import json
import re
from typing import Any, Optional

import ckan.plugins.toolkit as tk

from ckanext.dataviz import config

CHART_TYPES = ("line", "bar", "area", "pie", "scatter")
AGGREGATES = ("none", "sum", "avg", "min", "max", "count")
BUCKETS = ("", "day", "week", "month", "year")
SORTS = ("x", "-x", "y", "-y")
OPERATORS = ("=", "!=", "<", "<=", ">", ">=")
TEXT_MAX = 200

NUMBER_TYPES = {"int", "int2", "int4", "int8", "integer", "smallint", "bigint", "float",
                "float4", "float8", "real", "double precision", "numeric", "money"}
TIME_TYPES = {"timestamp", "timestamptz", "date"}
BOOL_TYPES = {"bool", "boolean"}

_COLOUR = re.compile(r"^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")
_FILTER_LINE = re.compile(r"^\s*(.+?)\s*(!=|<=|>=|=|<|>)\s*(.*?)\s*$")

# The keys of a chart configuration (the view form's fields).
KEYS = ("chart_type", "x", "y", "series", "aggregate", "bucket", "filters", "sort", "limit",
        "title", "x_label", "y_label", "colours")


@dataclasses.dataclass
class Filter:
    field: str
    op: str
    value: Any


@dataclasses.dataclass
class ChartSpec:
    chart_type: str
    x: str
    y: list[str]
    series: str = ""
    aggregate: str = "none"
    bucket: str = ""
    filters: list[Filter] = dataclasses.field(default_factory=list)
    sort: str = "x"
    limit: int = 0
    title: str = ""
    x_label: str = ""
    y_label: str = ""
    colours: list[str] = dataclasses.field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["filters"] = [{"field": f.field, "op": f.op, "value": _jsonable(f.value)}
                          for f in self.filters]
        return out


def kind(field_type: str) -> str:
    """number, time, bool or text: what a DataStore column type allows."""
    field_type = (field_type or "").lower()
    if field_type in NUMBER_TYPES:
        return "number"
    if field_type in TIME_TYPES:
        return "time"
    if field_type in BOOL_TYPES:
        return "bool"
    return "text"


def _jsonable(value: Any) -> Any:
    if isinstance(value, (datetime.datetime, datetime.date)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return float(value)
    return value


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        value = value[0] if value else ""
    return str(value).strip()


def _list(value: Any) -> list[str]:
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
            out.extend(_list(item) if isinstance(item, str) and "," in item else
                       ([str(item).strip()] if str(item).strip() else []))
        return out
    return [str(value)]


def convert_value(raw: Any, field_type: str) -> Any:
    """A filter value converted to the column's kind; ValueError when it
    cannot be."""
    what = kind(field_type)
    if what == "number":
        if isinstance(raw, bool):
            raise ValueError(raw)
        if isinstance(raw, (int, float)):
            return raw
        text = str(raw).strip()
        return int(text) if re.fullmatch(r"[+-]?\d+", text) else float(text)
    if what == "time":
        text = str(raw).strip()
        if field_type == "date":
            return datetime.date.fromisoformat(text[:10])
        return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if what == "bool":
        text = str(raw).strip().lower()
        if text in ("true", "1", "yes", "t"):
            return True
        if text in ("false", "0", "no", "f"):
            return False
        raise ValueError(raw)
    return str(raw)


def _filters(raw: Any) -> list[tuple[str, str, Any]]:
    """(field, op, value) triples from a list of dicts or from text lines;
    ValueError naming the line that cannot be read."""
    if raw is None or raw == "" or raw == []:
        return []
    if isinstance(raw, str) and raw.strip().startswith("["):
        try:
            raw = json.loads(raw)
        except ValueError:
            raise ValueError(raw.strip()[:80])
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


def parse(data: dict[str, Any], fields: list[dict[str, Any]]
          ) -> tuple[Optional[ChartSpec], dict[str, list[str]]]:
    """Check a chart configuration against the resource's DataStore fields
    ([{"id", "type"}]); returns (spec, {}) or (None, errors)."""
    _ = tk._
    types = {f["id"]: f.get("type", "text") for f in fields}
    errors: dict[str, list[str]] = {}

    def error(key: str, message: str) -> None:
        errors.setdefault(key, []).append(message)

    def known(key: str, name: str) -> bool:
        if name not in types:
            error(key, _('The field "%(field)s" is not a column of this resource.')
                  % {"field": name})
            return False
        return True

    chart_type = _text(data.get("chart_type")) or "line"
    if chart_type not in CHART_TYPES:
        error("chart_type", _("Choose a chart type among: %(choices)s.")
              % {"choices": ", ".join(CHART_TYPES)})

    aggregate = _text(data.get("aggregate")) or "none"
    if aggregate not in AGGREGATES:
        error("aggregate", _("Choose an aggregation among: %(choices)s.")
              % {"choices": ", ".join(AGGREGATES)})
        aggregate = "none"

    x = _text(data.get("x"))
    if not x:
        error("x", _("Choose the field of the horizontal axis."))
    else:
        known("x", x)

    bucket = _text(data.get("bucket"))
    if bucket not in BUCKETS:
        error("bucket", _("Choose a time bucket among: day, week, month, year."))
    elif bucket:
        if x in types and kind(types[x]) != "time":
            error("bucket", _('Time buckets need a date or timestamp field on the horizontal '
                              'axis; "%(field)s" is not one.') % {"field": x})
        if aggregate == "none":
            error("aggregate", _("Time buckets need an aggregation (sum, avg, min, max or "
                                 "count)."))

    y = _list(data.get("y"))
    if not y and aggregate != "count":
        error("y", _("Choose at least one field for the vertical axis."))
    for name in y:
        if not known("y", name):
            continue
        if aggregate != "count" and kind(types[name]) != "number":
            if aggregate == "none":
                error("y", _('The field "%(field)s" is not a number and cannot be drawn on the '
                             'vertical axis.') % {"field": name})
            else:
                error("y", _('The aggregation "%(aggregate)s" needs a number field; '
                             '"%(field)s" is %(type)s.')
                      % {"aggregate": aggregate, "field": name, "type": types[name]})

    series = _text(data.get("series"))
    if series:
        known("series", series)
    if chart_type == "pie":
        if series:
            error("series", _("A pie chart cannot be split into series."))
        if len(y) > 1:
            error("y", _("A pie chart shows one field."))

    filters: list[Filter] = []
    try:
        triples = _filters(data.get("filters"))
    except ValueError as line:
        error("filters", _('This filter cannot be read: "%(line)s". Write one filter a line, '
                           'as: field = value (or !=, <, <=, >, >=).') % {"line": str(line)})
        triples = []
    for name, op, raw in triples:
        if op not in OPERATORS:
            error("filters", _('Unknown operator "%(op)s" in a filter.') % {"op": op[:10]})
            continue
        if not known("filters", name):
            continue
        try:
            filters.append(Filter(name, op, convert_value(raw, types[name])))
        except (ValueError, TypeError):
            error("filters", _('The value "%(value)s" does not fit the field "%(field)s" '
                               '(%(type)s).')
                  % {"value": str(raw)[:80], "field": name, "type": types[name]})

    sort = _text(data.get("sort")) or "x"
    if sort not in SORTS:
        error("sort", _("Sort by x, -x, y or -y."))

    cap = config.chart_max_points()
    limit_raw = _text(data.get("limit"))
    limit = cap
    if limit_raw:
        try:
            limit = int(limit_raw)
            if limit < 1 or limit > cap:
                raise ValueError(limit)
        except ValueError:
            error("limit", _("The number of points must be a whole number between 1 and "
                             "%(max)s.") % {"max": cap})

    texts = {}
    for key in ("title", "x_label", "y_label"):
        texts[key] = _text(data.get(key))
        if len(texts[key]) > TEXT_MAX:
            error(key, _("At most %(max)s characters.") % {"max": TEXT_MAX})

    colours = _list(data.get("colours").replace(" ", ",")
                    if isinstance(data.get("colours"), str) else data.get("colours"))
    for colour in colours:
        if not _COLOUR.match(colour):
            error("colours", _('"%(colour)s" is not a colour: write colours as #rrggbb, '
                               'separated by commas.') % {"colour": colour[:20]})

    if errors:
        return None, errors
    return ChartSpec(chart_type, x, y, series, aggregate, bucket, filters, sort, limit,
                     texts["title"], texts["x_label"], texts["y_label"], colours), {}


def form_values(view: dict[str, Any]) -> dict[str, Any]:
    """The chart keys of a resource view dict (what the form shows back)."""
    return {key: view.get(key) for key in KEYS if view.get(key) not in (None, "")}
