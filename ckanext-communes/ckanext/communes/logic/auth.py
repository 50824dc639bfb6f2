"""Auth functions of the communes plugin: the read actions are public; what
they return goes through package_search and the access policy."""

from __future__ import annotations

import ckan.plugins.toolkit as tk
from ckan.types import AuthResult, Context, DataDict


@tk.auth_allow_anonymous_access
def communes_widget_search(context: Context, data_dict: DataDict) -> AuthResult:
    """Anyone: the search runs as an anonymous visitor."""
    return {"success": True}


@tk.auth_allow_anonymous_access
def communes_list(context: Context, data_dict: DataDict) -> AuthResult:
    """Anyone: the communes' public identity."""
    return {"success": True}
