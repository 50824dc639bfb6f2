"""Auth functions of the dataviz plugin, and who may do what with a saved
map or a layer's resource (used by the actions and the map pages too).

The data of a chart or a map layer is decided by the access policy
(`grandlyon_access_data_read`, through ckanext.grandlyon_access.shared;
`package_show` without the access plugin). Saved maps are owned by an
organisation (its editors and admins edit them) or a user; sysadmins edit
every map; a private map is seen by its owners only (and the members of its
organisation).
"""

from __future__ import annotations

from typing import Any

import ckan.authz as authz
import ckan.model as model
import ckan.plugins.toolkit as tk
from ckan.types import AuthResult, Context, DataDict
from ckanext.dataviz.model import DatavizMap
from ckanext.grandlyon_access import shared as access

__all__ = [
    "dataviz_chart_data",
    "dataviz_map_layer_data",
    "dataviz_map_create",
    "dataviz_map_update",
    "dataviz_map_delete",
    "dataviz_map_show",
    "dataviz_map_list",
]


# --- who -----------------------------------------------------------------------------

def user_of(context: Context) -> model.User | None:
    """The user acting, or None for a visitor."""
    user = context.get("auth_user_obj")
    if isinstance(user, model.User):
        return user
    name = context.get("user")
    return model.User.get(name) if name else None


def auth_context(context: Context) -> dict[str, Any]:
    """A context for asking CKAN's and the access plugin's auth functions."""
    user = user_of(context)
    return {"model": model, "user": user.name if user else "",
            "auth_user_obj": user if user else model.AnonymousUser()}


def is_org_editor(user: model.User | None, org_id: str | None) -> bool:
    return bool(user and org_id and authz.has_user_permission_for_group_or_org(
        org_id, user.name, "update_dataset"))


def may_edit(context: Context, saved: DatavizMap) -> bool:
    """Sysadmins; the editors and admins of the owning organisation; the
    owning user."""
    user = user_of(context)
    if user is None:
        return False
    if user.sysadmin:
        return True
    if saved.owner_org:
        return is_org_editor(user, saved.owner_org)
    return saved.owner_user_id == user.id


def may_read(context: Context, saved: DatavizMap) -> bool:
    if not saved.private or may_edit(context, saved):
        return True
    user = user_of(context)
    return bool(user and saved.owner_org and authz.has_user_permission_for_group_or_org(
        saved.owner_org, user.name, "read"))


# --- the policy for one resource -----------------------------------------------------

def resource_package(resource_id: str) -> model.Package | None:
    resource = model.Resource.get(resource_id) if resource_id else None
    if resource is None or resource.state != "active":
        return None
    package = model.Package.get(resource.package_id)
    return package if package is not None and package.state == "active" else None


def sees_dataset(context: Context, package: model.Package | None) -> bool:
    if package is None:
        return False
    return authz.is_authorized("package_show", auth_context(context),
                               {"id": package.id})["success"]


def layer_access(context: Context, resource_id: str) -> dict[str, Any]:
    """What the viewer may do with a layer's resource: ``seen`` (metadata),
    ``data``, and without data the ``next_step`` and ``licence_id``."""
    package = resource_package(resource_id)
    if not sees_dataset(context, package):
        return {"seen": False, "data": False}
    status = access.access_status(auth_context(context), package.id)
    return {"seen": True, "data": bool(status["data"]), "next_step": status.get("next_step"),
            "licence_id": status.get("licence_id"), "package": package}


def check_data_read(context: Context, resource_id: str) -> None:
    """The access policy for a resource's data (one check for charts and
    maps): NotFound when the dataset is missing or hidden from the user,
    NotAuthorized when its data is gated."""
    access.check_data_read(auth_context(context), resource_id)


# --- auth functions ------------------------------------------------------------------

def _deny(message: str) -> AuthResult:
    return {"success": False, "msg": message}


def _may_give_to(user: model.User, org: Any) -> bool:
    """Whether the user may give a map to the organisation `org` (id or name)."""
    if user.sysadmin:
        return True
    group = model.Group.get(org) if isinstance(org, str) else None
    return group is not None and is_org_editor(user, group.id)


@tk.auth_allow_anonymous_access
def dataviz_chart_data(context: Context, data_dict: DataDict) -> AuthResult:
    """Everyone may ask; the action itself applies the data policy
    (grandlyon_access_data_read) to the resource asked for."""
    return {"success": True}


@tk.auth_allow_anonymous_access
def dataviz_map_layer_data(context: Context, data_dict: DataDict) -> AuthResult:
    """The access policy decides in the action (check_data_read), before this."""
    try:
        check_data_read(context, data_dict.get("resource_id") or "")
    except tk.ObjectNotFound:
        return _deny(tk._("Resource not found"))
    except tk.NotAuthorized as error:
        return _deny(str(error))
    return {"success": True}


def dataviz_map_create(context: Context, data_dict: DataDict) -> AuthResult:
    """Logged-in users save their own maps; an organisation's map needs its
    editors or admins."""
    user = user_of(context)
    if user is None:
        return _deny(tk._("Log in to save a map"))
    org = data_dict.get("owner_org")
    if org and not _may_give_to(user, org):
        return _deny(tk._("Only the organisation's editors and admins save its maps"))
    return {"success": True}


def _editors(context: Context, data_dict: DataDict) -> AuthResult:
    saved = model.Session.get(DatavizMap, data_dict.get("id") or "")
    if saved is None:
        return _deny(tk._("Map not found"))
    if not may_edit(context, saved):
        return _deny(tk._("Only the map's owners change it"))
    new_org = data_dict.get("owner_org")
    if new_org and not _may_give_to(user_of(context), new_org):
        return _deny(tk._("Only the organisation's editors and admins save its maps"))
    return {"success": True}


def dataviz_map_update(context: Context, data_dict: DataDict) -> AuthResult:
    """The map's owners (see may_edit); giving it to an organisation needs
    that organisation's editors or admins."""
    return _editors(context, data_dict)


def dataviz_map_delete(context: Context, data_dict: DataDict) -> AuthResult:
    """The map's owners (see may_edit)."""
    return _editors(context, data_dict)


@tk.auth_allow_anonymous_access
def dataviz_map_show(context: Context, data_dict: DataDict) -> AuthResult:
    """Everyone for a public map; its owners and its organisation's members
    for a private one."""
    saved = model.Session.get(DatavizMap, data_dict.get("id") or "")
    if saved is None or not may_read(context, saved):
        return _deny(tk._("Map not found"))
    return {"success": True}


@tk.auth_allow_anonymous_access
def dataviz_map_list(context: Context, data_dict: DataDict) -> AuthResult:
    """Everyone; the action lists the maps the user may see."""
    return {"success": True}
