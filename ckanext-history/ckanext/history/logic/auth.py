"""Auth functions of the history plugin, and the one question they ask of
the portal's access policy.

Reading a history (history_query, history_snapshot, history_show,
history_feed_show) is reading the resource's data: the access
distribution's shared `check_data_read` decides, with its single fallback
to `package_show` when the access plugin is off. Writing a feed is changing the dataset
(`package_update`): the dataset's editors and admins, sysadmins.
"""

from __future__ import annotations

from typing import Any

import ckan.authz as authz
import ckan.lib.navl.dictization_functions as df
import ckan.model as model
import ckan.plugins.toolkit as tk
from ckan.types import AuthResult, Context, DataDict
from ckanext.grandlyon_access import shared as access


def not_found() -> tk.ObjectNotFound:
    """The one answer for a resource that is missing or that the user may
    not see."""
    return tk.ObjectNotFound(tk._("Resource was not found."))


def resource_and_package(resource_id: Any) -> tuple[model.Resource, model.Package]:
    """The resource and its dataset, or a 404 when either is missing or
    deleted (an id holding a NUL character names no resource: PostgreSQL
    refuses such text)."""
    resource = (model.Resource.get(resource_id)
                if isinstance(resource_id, str) and resource_id and "\x00" not in resource_id
                else None)
    if resource is None or resource.state == "deleted":
        raise not_found()
    package = resource.package
    if package is None or package.state == "deleted":
        raise not_found()
    return resource, package


def visible_resource(context: Context, resource_id: Any) -> tuple[model.Resource, model.Package]:
    """As resource_and_package, and a dataset the user may not see is missing too."""
    if resource_id in (None, "") or resource_id is df.missing:
        raise tk.ValidationError({"resource_id": [tk._("Missing value")]})
    resource, package = resource_and_package(resource_id)
    try:
        tk.check_access("package_show", dict(context), {"id": package.id})
    except tk.NotAuthorized:
        raise not_found() from None
    return resource, package


def check_read(context: Context, resource_id: Any, action: str) -> tuple[model.Resource, model.Package]:
    """The resource, once the user may read its data: 404 when the user may
    not see its dataset (as for a missing resource), 403 when the user sees
    the dataset but not its data (the access distribution's one policy);
    then the action's own auth function, which other plugins may chain."""
    if not resource_id:
        raise tk.ValidationError({"resource_id": [tk._("Missing value")]})
    resource, package = resource_and_package(resource_id)
    try:
        access.check_data_read(context, resource.id)
    except tk.ObjectNotFound:
        # The same answer as a resource that does not exist.
        raise not_found() from None
    tk.check_access(action, context, {"resource_id": resource.id})
    return resource, package


def may_read_data(context: Context, resource_id: Any) -> bool:
    """May the user read the resource's data (the portal's policy)?"""
    try:
        access.check_data_read(context, resource_id)
    except (tk.ObjectNotFound, tk.NotAuthorized):
        return False
    return True


def may_edit(context: Context, package_id: str) -> bool:
    """May the user change the dataset (and so see and change its feeds)?"""
    ctx = {k: context[k] for k in ("user", "auth_user_obj", "ignore_auth") if k in context}
    try:
        tk.check_access("package_update", ctx, {"id": package_id})
    except tk.NotAuthorized:
        return False
    return True


def _reads_data(context: Context, data_dict: DataDict) -> AuthResult:
    if may_read_data(context, data_dict.get("resource_id")):
        return {"success": True}
    return {"success": False, "msg": tk._("You do not have access to the data of this dataset")}


def _manages_resource(context: Context, data_dict: DataDict) -> AuthResult:
    """The editors and admins of the resource's dataset, sysadmins."""
    try:
        _resource, package = resource_and_package(data_dict.get("resource_id"))
    except tk.ObjectNotFound:
        return {"success": False, "msg": tk._("Resource was not found.")}
    return authz.is_authorized("package_update", context, {"id": package.id})


@tk.auth_allow_anonymous_access
def history_query(context: Context, data_dict: DataDict) -> AuthResult:
    return _reads_data(context, data_dict)


@tk.auth_allow_anonymous_access
def history_snapshot(context: Context, data_dict: DataDict) -> AuthResult:
    return _reads_data(context, data_dict)


@tk.auth_allow_anonymous_access
def history_show(context: Context, data_dict: DataDict) -> AuthResult:
    return _reads_data(context, data_dict)


@tk.auth_allow_anonymous_access
def history_feed_show(context: Context, data_dict: DataDict) -> AuthResult:
    return _reads_data(context, data_dict)


@tk.auth_allow_anonymous_access
def history_feed_count(context: Context, data_dict: DataDict) -> AuthResult:
    """Anyone: the count is of the feeds of the datasets the caller sees."""
    return {"success": True}


def history_feed_create(context: Context, data_dict: DataDict) -> AuthResult:
    return _manages_resource(context, data_dict)


def history_feed_update(context: Context, data_dict: DataDict) -> AuthResult:
    return _manages_resource(context, data_dict)


def history_feed_delete(context: Context, data_dict: DataDict) -> AuthResult:
    return _manages_resource(context, data_dict)


def get_auth_functions() -> dict:
    return {name: function for name, function in globals().items()
            if name.startswith("history_") and callable(function)}
