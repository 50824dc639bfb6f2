"""The configuration of a chart, checked against the DataStore fields of its
resource.

A chart configuration comes from the view form (strings, lists of strings)
or from the API (JSON). The navl schema `ckanext.dataviz.logic.schema.chart_spec`
(checked by `schema.check_chart`) turns it into a `ChartSpec` or a dict of
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
import re
from typing import Any

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


def form_values(view: dict[str, Any]) -> dict[str, Any]:
    """The chart keys of a resource view dict (what the form shows back)."""
    return {key: view.get(key) for key in KEYS if view.get(key) not in (None, "")}
