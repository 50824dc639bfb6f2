"""CKAN's resource views.

| CKAN action (chained) | what the user gets |
| --- | --- |
| `resource_view_show`, `resource_view_list` | a view (or the views) of a resource of a dataset the user may not see answer as missing |
"""

from __future__ import annotations

from typing import Any

import ckan.model as model
import ckan.plugins.toolkit as tk
from ckan.types import Context, DataDict

from .common import ActionFunc, Asker, as_missing, package_of_resource

# The plugin this area needs loaded (chaining an action nobody defines stops
# CKAN at start-up), or None.
NEEDS_PLUGIN = None


@tk.chained_action
@tk.side_effect_free
def resource_view_show(next_action: ActionFunc, context: Context,
                       data_dict: DataDict) -> dict[str, Any]:
    """A view of a resource of a dataset the user may not see is missing."""
    view = model.ResourceView.get(data_dict.get("id") or "")
    if view is not None and not Asker(context).sees(package_of_resource(view.resource_id)):
        return as_missing(next_action, context, data_dict)
    return next_action(context, data_dict)


@tk.chained_action
@tk.side_effect_free
def resource_view_list(next_action: ActionFunc, context: Context, data_dict: DataDict) -> list:
    """The views of a resource of a dataset the user may not see are missing."""
    package = package_of_resource(data_dict.get("id"))
    if package is not None and not Asker(context).sees(package):
        return as_missing(next_action, context, data_dict)
    return next_action(context, data_dict)


ACTIONS = {
    "resource_view_show": resource_view_show,
    "resource_view_list": resource_view_list,
}
AUTH_FUNCTIONS: dict[str, Any] = {}
