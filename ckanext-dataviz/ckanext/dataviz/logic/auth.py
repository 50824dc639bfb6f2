"""Auth functions of the dataviz plugin.

The data of a chart or a map layer is decided by the access policy
(`grandlyon_access_data_read`, through ckanext.grandlyon_access.shared)."""

from __future__ import annotations

import ckan.plugins.toolkit as tk
from ckan.types import AuthResult, Context, DataDict

__all__ = [
    "dataviz_chart_data",
]


@tk.auth_allow_anonymous_access
def dataviz_chart_data(context: Context, data_dict: DataDict) -> AuthResult:
    """Everyone may ask; the action itself applies the data policy
    (grandlyon_access_data_read) to the resource asked for."""
    return {"success": True}
