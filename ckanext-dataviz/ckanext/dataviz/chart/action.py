"""Chart data: the points of a chart, aggregated in the DataStore (see
get_actions)."""

from __future__ import annotations

import json
from typing import Any

import ckan.model as model
import ckan.plugins.toolkit as tk
from ckan.types import Context, DataDict

from ckanext.dataviz.chart import query, spec
from ckanext.grandlyon_access import shared as access


def _config_of(data_dict: DataDict) -> tuple[str, dict[str, Any]]:
    """(resource_id, chart configuration) from a view_id or from resource_id
    plus `config` (an object or its JSON text) or the chart keys themselves."""
    view_id = data_dict.get("view_id")
    if view_id:
        view = model.ResourceView.get(str(view_id))
        if view is None:
            raise tk.ObjectNotFound(tk._("Resource not found"))
        return view.resource_id, dict(view.config or {})
    resource_id = data_dict.get("resource_id")
    if not resource_id:
        raise tk.ValidationError({"resource_id": [tk._("Missing value")]})
    config = data_dict.get("config")
    if config is None:
        config = {key: data_dict[key] for key in spec.KEYS if key in data_dict}
    if isinstance(config, str):
        try:
            config = json.loads(config)
        except ValueError:
            raise tk.ValidationError({"config": [tk._("The chart configuration is not JSON.")]})
    if not isinstance(config, dict):
        raise tk.ValidationError({"config": [tk._("The chart configuration must be an object.")]})
    return str(resource_id), config


@tk.side_effect_free
def dataviz_chart_data(context: Context, data_dict: DataDict) -> dict[str, Any]:
    """The points of a chart over a DataStore resource, aggregated by the
    database; only what is drawn is returned.

    :param view_id: a `dataviz_chart` view (its saved configuration), or
    :param resource_id: a DataStore resource, with
    :param config: the chart configuration (object or JSON text; see
        ckanext.dataviz.chart.spec), or its keys given directly
    :returns: ``{"fields": [{"id", "type", "axis"}], "series": [{"name",
        "points": [[x, y], ...]}], "truncated": bool, "chart": the checked
        configuration}``
    """
    resource_id, config = _config_of(data_dict)
    access.check_data_read(context, resource_id)
    fields = query.datastore_fields(resource_id)
    if fields is None:
        raise tk.ValidationError({"resource_id": [
            tk._("This resource has no DataStore table to chart.")]})
    chart, errors = spec.parse(config, fields)
    if errors:
        raise tk.ValidationError(errors)
    answer = query.run(resource_id, chart, fields)
    access.record_data_read(context, resource_id, "chart")
    return answer


@tk.auth_allow_anonymous_access
def dataviz_chart_data_auth(context: Context, data_dict: DataDict) -> dict[str, Any]:
    """Everyone may ask; the action itself applies the data policy
    (grandlyon_access_data_read) to the resource asked for."""
    return {"success": True}


def get_actions() -> dict:
    return {"dataviz_chart_data": dataviz_chart_data}


def get_auth_functions() -> dict:
    return {"dataviz_chart_data": dataviz_chart_data_auth}
