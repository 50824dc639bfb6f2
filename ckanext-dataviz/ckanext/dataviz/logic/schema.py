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
    data = v.whole_lists(chart)  # a list of filter objects stays whole
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
    own title), checked as a whole with check_chart."""
    schema: Schema = {name: [ignore_missing] for name in KEYS if name != "title"}
    schema["__after"] = [v.dataviz_chart_view_form(check_chart)]
    return schema


@validator_args
def history_view(ignore_missing: Validator, unicode_safe: Validator) -> Schema:
    """The form of a `dataviz_history` view."""
    return {"fields": [ignore_missing, unicode_safe],
            "features": [ignore_missing, unicode_safe]}


# --- maps --------------------------------------------------------------------------------

LIST_LIMIT = 50
LIST_MAX = 500


@validator_args
def map_view(default: Any) -> Schema:
    """The form of a `dataviz_map` view: its layer's source and style, each
    field checked as validators.view_layer checks it."""
    return {name: [default(""), v.dataviz_map_view_field(name)]
            for name in v.SOURCE_KEYS + v.STYLE_KEYS}


@validator_args
def map_ref(ignore: Validator) -> Schema:
    """dataviz_map_show and dataviz_map_delete: the map's id or name."""
    return {"id": [v.dataviz_id_text], "__extras": [ignore]}


@validator_args
def map_layer_data(ignore_missing: Validator, ignore: Validator) -> Schema:
    """dataviz_map_layer_data: the resource; its source (kind, layer_name,
    lat_field, lon_field) is checked once the access policy let the user
    through (validators.clean_source)."""
    schema: Schema = {"resource_id": [v.dataviz_id_text]}
    schema.update({name: [ignore_missing] for name in v.SOURCE_KEYS})
    schema["__extras"] = [ignore]
    return schema


def _map_fields(if_given: list[Validator]) -> Schema:
    return {
        "title": if_given + [v.dataviz_map_title],
        "name": [v.dataviz_map_name],
        "description": if_given + [v.dataviz_map_description],
        "layers": if_given + [v.dataviz_map_layers],
        "bbox": if_given + [v.dataviz_map_bbox],
        "private": if_given + [v.dataviz_map_flag(False)],
        "legend": if_given + [v.dataviz_map_flag(True)],
        "owner_org": [v.dataviz_if_given, v.dataviz_map_owner_org],
        "__extras": [tk.get_validator("ignore")],
    }


def map_create() -> Schema:
    """A saved map (see dataviz_map_create); the organisation's existence,
    the layers' resources and the name's uniqueness are checked by the
    action, which knows the user."""
    return _map_fields([])


def map_update() -> Schema:
    """The fields given of a saved map (see dataviz_map_update)."""
    return _map_fields([v.dataviz_if_given])


@validator_args
def map_list(ignore: Validator) -> Schema:
    """dataviz_map_list; the first wrong parameter is reported. limit and
    offset are checked by map_page once the dataset asked for is found."""
    return {
        "package_id": [v.dataviz_name_or_id],
        "owner_org": [v.dataviz_name_or_id],
        "mine": [v.dataviz_true_false],
        "limit": [v.dataviz_if_given],
        "offset": [v.dataviz_if_given],
        "__extras": [ignore],
        "__after": [v.dataviz_first_error_only(("package_id", "owner_org", "mine"))],
    }


def map_page() -> Schema:
    """limit and offset of dataviz_map_list, each reported under its name."""
    return {
        "limit": [v.dataviz_list_limit(LIST_LIMIT, LIST_MAX)],
        "offset": [v.dataviz_list_offset],
    }


def check_map(data: dict[str, Any], schema: Schema) -> tuple[dict[str, Any], dict[str, Any]]:
    """A saved map's fields checked with map_create or map_update:
    (clean fields, errors keyed by field or path, e.g. ``layers.1.style.mode``)."""
    clean, errors = tk.navl_validate(v.whole_lists(data), schema, {})
    # navl puts back the keys given as [] that a validator dropped (an empty
    # name, unknown keys): only the map's fields, as the validators left them.
    kept = {key: value for key, value in clean.items()
            if key in schema and not key.startswith("__") and (key != "name" or value)}
    return kept, errors
