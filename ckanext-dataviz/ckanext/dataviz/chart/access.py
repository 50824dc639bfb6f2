"""The one access policy, as the chart surfaces ask it.

Data: `grandlyon_access_data_read` (fallback without the access plugin:
`package_show`). A resource whose dataset the user may not see looks
missing: the same NotFound as a resource that does not exist.
"""

from __future__ import annotations

from typing import Any

import ckan.model as model
import ckan.plugins.toolkit as tk


def not_found() -> tk.ObjectNotFound:
    return tk.ObjectNotFound(tk._("Resource not found"))


def _visible(context: dict[str, Any], package_id: str) -> bool:
    try:
        tk.check_access("package_show", dict(context), {"id": package_id})
        return True
    except (tk.NotAuthorized, tk.ObjectNotFound):
        return False


def check_data_read(context: dict[str, Any], resource_id: str) -> model.Resource:
    """Raises NotFound (missing, or not visible) or NotAuthorized (visible
    but its data is gated); returns the resource otherwise."""
    resource = model.Resource.get(resource_id) if resource_id else None
    if resource is None or resource.state != "active":
        raise not_found()
    package = model.Package.get(resource.package_id)
    if package is None:
        raise not_found()
    try:
        try:
            tk.check_access("grandlyon_access_data_read", dict(context),
                            {"resource_id": resource.id})
        except ValueError:  # the access plugin is not loaded
            tk.check_access("package_show", dict(context), {"id": package.id})
    except (tk.NotAuthorized, tk.ObjectNotFound):
        if not _visible(context, package.id):
            raise not_found()
        raise tk.NotAuthorized(tk._("You do not have access to the data of this dataset"))
    return resource


def record_read(context: dict[str, Any], resource_id: str, surface: str) -> None:
    """Writes a read of gated data to the access log (grandlyon_access), when
    that plugin is installed."""
    try:
        from ckanext.grandlyon_access.shared import record_data_read
    except ImportError:
        return
    record_data_read(context, resource_id, surface)


def access_status(context: dict[str, Any], package_id: str) -> dict[str, Any]:
    """What a user without access must do: grandlyon_access_show's answer
    (next_step login | sign | request, licence_id), or a plain answer when
    the access plugin is not loaded."""
    try:
        return tk.get_action("grandlyon_access_show")(dict(context), {"id": package_id})
    except KeyError:
        user = context.get("user")
        return {"data": False, "next_step": None if user else "login", "licence_id": None,
                "request": None}
