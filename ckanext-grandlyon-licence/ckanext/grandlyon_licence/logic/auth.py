"""Authorisation of the plugin's actions. Sysadmins pass every check (CKAN)."""

from __future__ import annotations

import ckan.plugins.toolkit as tk
from ckan import model
from ckan.types import AuthResult, Context, DataDict

__all__ = [
    "grandlyon_licence_list",
    "grandlyon_licence_show",
    "grandlyon_licence_sign",
    "grandlyon_licence_signature_list",
    "grandlyon_licence_signature_revoke",
    "grandlyon_licence_version_publish",
]


@tk.auth_allow_anonymous_access
def grandlyon_licence_list(context: Context, data_dict: DataDict) -> AuthResult:
    """Everyone may read the licences."""
    return {"success": True}


@tk.auth_allow_anonymous_access
def grandlyon_licence_show(context: Context, data_dict: DataDict) -> AuthResult:
    """Everyone may read a licence."""
    return {"success": True}


def _logged_in_user(context: Context) -> model.User | None:
    # Web and API requests pass an anonymous user object in `auth_user_obj`,
    # so CKAN's own check for anonymous users does not apply: look the user up.
    name = context.get("user")
    return model.User.get(name) if name else None


def grandlyon_licence_sign(context: Context, data_dict: DataDict) -> AuthResult:
    """Logged-in users sign for themselves."""
    if _logged_in_user(context) is None:
        return {"success": False, "msg": tk._("Log in to sign a licence")}
    return {"success": True}


def grandlyon_licence_signature_list(context: Context, data_dict: DataDict) -> AuthResult:
    """Logged-in users list their own signatures; only sysadmins list others'."""
    me = _logged_in_user(context)
    if me is None:
        return {"success": False, "msg": tk._("Log in to see your signatures")}
    wanted = (data_dict or {}).get("user")
    if not wanted:
        return {"success": True}
    other = model.User.get(wanted)
    if other and me.id == other.id:
        return {"success": True}
    return {"success": False, "msg": tk._("Only sysadmins may list the signatures of other users")}


def grandlyon_licence_signature_revoke(context: Context, data_dict: DataDict) -> AuthResult:
    """Only sysadmins revoke signatures."""
    return {"success": False, "msg": tk._("Only sysadmins may revoke signatures")}


def grandlyon_licence_version_publish(context: Context, data_dict: DataDict) -> AuthResult:
    """Only sysadmins publish a new version of a licence."""
    return {"success": False,
            "msg": tk._("Only sysadmins may publish a new version of a licence")}
