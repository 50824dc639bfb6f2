"""Auth functions of the access plugin.

`grandlyon_access_data_read` is the one policy decision (see policy.py).
The DataStore's read auth functions are chained to it in logic/surfaces/datastore.py,
beside the DataStore actions they guard.
"""

from __future__ import annotations

import ckan.authz as authz
import ckan.plugins.toolkit as tk
from ckan.types import AuthResult, Context, DataDict

from ckanext.grandlyon_access import policy

__all__ = [
    "grandlyon_access_data_read",
    "grandlyon_access_show",
    "grandlyon_access_circle_create", "grandlyon_access_circle_update",
    "grandlyon_access_circle_delete", "grandlyon_access_circle_list",
    "grandlyon_access_circle_show", "grandlyon_access_circle_member_create",
    "grandlyon_access_circle_member_delete",
    "grandlyon_access_grant_create", "grandlyon_access_grant_delete", "grandlyon_access_grant_list",
    "grandlyon_access_request_create", "grandlyon_access_request_list",
    "grandlyon_access_request_decide", "grandlyon_access_log_list",
    "grandlyon_access_throttle_unlock", "grandlyon_access_two_factor_reset",
]


def _deny(msg: str) -> AuthResult:
    return {"success": False, "msg": msg}


@tk.auth_allow_anonymous_access
def grandlyon_access_data_read(context: Context, data_dict: DataDict) -> AuthResult:
    """May the user read the data of a dataset (`id`) or of a resource
    (`resource_id`)?"""
    package = policy.package_of(data_dict)
    if package is None:
        raise tk.ObjectNotFound(tk._("Dataset not found"))
    decision = policy.decide(context, package)
    if decision.data:
        return {"success": True}
    return _deny(tk._("You do not have access to the data of this dataset"))


@tk.auth_allow_anonymous_access
def grandlyon_access_show(context: Context, data_dict: DataDict) -> AuthResult:
    return authz.is_authorized("package_show", context, data_dict)


def _sysadmin_only(context: Context, data_dict: DataDict) -> AuthResult:
    return _deny(tk._("Only sysadmins manage circles"))


grandlyon_access_circle_create = _sysadmin_only
grandlyon_access_circle_update = _sysadmin_only
grandlyon_access_circle_delete = _sysadmin_only
grandlyon_access_circle_list = _sysadmin_only
grandlyon_access_circle_show = _sysadmin_only
grandlyon_access_circle_member_create = _sysadmin_only
grandlyon_access_circle_member_delete = _sysadmin_only


def _manages_dataset(context: Context, package_id: str) -> AuthResult:
    """Editors and admins of the dataset's organisation (and sysadmins)."""
    if not package_id:
        return _deny(tk._("Missing value: dataset"))
    return authz.is_authorized("package_update", context, {"id": package_id})


def grandlyon_access_grant_create(context: Context, data_dict: DataDict) -> AuthResult:
    return _manages_dataset(context, data_dict.get("package_id"))


def grandlyon_access_grant_delete(context: Context, data_dict: DataDict) -> AuthResult:
    return _manages_dataset(context, context.get("grandlyon_access_package_id") or "")


def grandlyon_access_grant_list(context: Context, data_dict: DataDict) -> AuthResult:
    return _manages_dataset(context, data_dict.get("package_id"))


def grandlyon_access_request_create(context: Context, data_dict: DataDict) -> AuthResult:
    if not context.get("user"):
        return _deny(tk._("Log in to ask for access"))
    return authz.is_authorized("package_show", context, {"id": data_dict.get("package_id")})


def grandlyon_access_request_list(context: Context, data_dict: DataDict) -> AuthResult:
    """Logged-in users list their own requests; the dataset's admins theirs."""
    if not context.get("user"):
        return _deny(tk._("Log in to see access requests"))
    if data_dict.get("package_id"):
        return _admins_of_dataset(context, data_dict["package_id"])
    return {"success": True}


def _admins_of_dataset(context: Context, package_id: str) -> AuthResult:
    package = policy.package_of({"id": package_id})
    if package is None or not package.owner_org:
        return _deny(tk._("Not authorized"))
    if authz.has_user_permission_for_group_or_org(package.owner_org, context.get("user"), "admin"):
        return {"success": True}
    return _deny(tk._("Only the organisation's admins decide on access requests"))


def grandlyon_access_request_decide(context: Context, data_dict: DataDict) -> AuthResult:
    return _admins_of_dataset(context, context.get("grandlyon_access_package_id") or "")


def grandlyon_access_log_list(context: Context, data_dict: DataDict) -> AuthResult:
    return _deny(tk._("Only sysadmins read the access log"))


def grandlyon_access_throttle_unlock(context: Context, data_dict: DataDict) -> AuthResult:
    return _deny(tk._("Only sysadmins unlock accounts and addresses"))


def grandlyon_access_two_factor_reset(context: Context, data_dict: DataDict) -> AuthResult:
    return _deny(tk._("Only sysadmins reset a user's two-factor sign-in"))
