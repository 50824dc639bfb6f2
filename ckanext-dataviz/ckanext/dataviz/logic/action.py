"""Actions of the dataviz plugin.

- `dataviz_chart_data`: the points of a chart over a DataStore resource,
  aggregated by the database, after the access policy
  (`grandlyon_access_data_read`; `package_show` without the access plugin).
"""

from __future__ import annotations

from typing import Any

import ckan.model as model
import ckan.plugins.toolkit as tk
from ckan.logic import validate
from ckan.types import Context, DataDict
from ckanext.dataviz.chart import query
from ckanext.dataviz.logic import schema
from ckanext.grandlyon_access import shared as access

__all__ = [
    "dataviz_chart_data",
]


# --- charts ----------------------------------------------------------------------------

def _chart_source(data_dict: DataDict) -> tuple[str, dict[str, Any]]:
    """(resource_id, chart configuration) of a view_id, or as validated."""
    view_id = data_dict.get("view_id")
    if view_id:
        view = model.ResourceView.get(str(view_id))
        if view is None:
            raise tk.ObjectNotFound(tk._("Resource not found"))
        return view.resource_id, dict(view.config or {})
    return str(data_dict["resource_id"]), data_dict["config"]


@tk.side_effect_free
@validate(schema.chart_data)
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
    resource_id, chart = _chart_source(data_dict)
    tk.check_access("dataviz_chart_data", context, {"resource_id": resource_id})
    access.check_data_read(context, resource_id)
    fields = query.datastore_fields(resource_id)
    if fields is None:
        raise tk.ValidationError({"resource_id": [
            tk._("This resource has no DataStore table to chart.")]})
    spec, errors = schema.check_chart(chart, fields)
    if errors:
        raise tk.ValidationError(errors)
    answer = query.run(resource_id, spec, fields)
    access.record_data_read(context, resource_id, "chart")
    return answer
