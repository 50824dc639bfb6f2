"""navl schemas of the dataviz actions and resource views.

A chart's configuration is checked against its resource's DataStore columns
once the access policy has let the user through (check_chart): a user
without access learns nothing of the columns.
"""

from __future__ import annotations

from typing import Any

import ckan.plugins.toolkit as tk
from ckan.logic.schema import validator_args
from ckan.types import Schema, Validator
from ckanext.dataviz.chart.spec import KEYS, ChartSpec
from ckanext.dataviz.logic import validators as v

# --- charts ------------------------------------------------------------------------------

@validator_args
def chart_data(ignore_missing: Validator, ignore: Validator) -> Schema:
    """dataviz_chart_data: view_id, or resource_id with config (or the chart
    keys themselves); the configuration itself is checked by check_chart."""
    schema: Schema = {name: [ignore_missing] for name in ("view_id", "resource_id", "config")}
    schema.update({name: [ignore_missing] for name in KEYS})
    schema["__extras"] = [ignore]
    schema["__after"] = [v.dataviz_chart_request]
    return schema


def chart_spec() -> Schema:
    """The keys of a chart configuration (see ckanext.dataviz.chart.spec)."""
    return {
        "chart_type": [v.dataviz_chart_type],
        "x": [v.dataviz_chart_x],
        "y": [v.dataviz_chart_y],
        "series": [v.dataviz_chart_series],
        "aggregate": [v.dataviz_chart_aggregate],
        "bucket": [v.dataviz_chart_bucket],
        "filters": [v.dataviz_chart_filters],
        "sort": [v.dataviz_chart_sort],
        "limit": [v.dataviz_chart_limit],
        "title": [v.dataviz_chart_text],
        "x_label": [v.dataviz_chart_text],
        "y_label": [v.dataviz_chart_text],
        "colours": [v.dataviz_chart_colours],
        "__extras": [tk.get_validator("ignore")],
        "__after": [v.dataviz_chart_rules],
    }


def check_chart(chart: dict[str, Any], fields: list[dict[str, Any]]
                ) -> tuple[ChartSpec | None, dict[str, list[str]]]:
    """A chart configuration checked with chart_spec against the resource's
    DataStore fields ([{"id", "type"}]): (spec, {}) or (None, errors keyed
    by the field they concern)."""
    # navl would take a list of objects (filters) apart: it is kept whole.
    data = {key: tuple(value) if isinstance(value, list) and value
            and isinstance(value[0], dict) else value for key, value in chart.items()}
    types = {f["id"]: f.get("type", "text") for f in fields}
    clean, errors = tk.navl_validate(data, chart_spec(), {"dataviz_field_types": types})
    if errors:
        return None, errors
    return ChartSpec(
        clean["chart_type"], clean["x"], clean["y"], clean["series"], clean["aggregate"],
        clean["bucket"], clean["filters"], clean["sort"], clean["limit"], clean["title"],
        clean["x_label"], clean["y_label"], clean["colours"]), {}


@validator_args
def chart_view(ignore_missing: Validator) -> Schema:
    """The form of a `dataviz_chart` view (the chart's title is the view's
    own title); the whole is checked by the view plugin's __after."""
    return {name: [ignore_missing] for name in KEYS if name != "title"}
