"""Auth functions of the editorial actions: sysadmins write; everyone reads
what is published; a draft is missing to anyone but sysadmins (CKAN lets
sysadmins through before these functions run)."""

from __future__ import annotations

import ckan.plugins.toolkit as tk
from ckan.types import AuthResult, Context, DataDict

__all__ = [
    "grandlyon_access_editorial_create", "grandlyon_access_editorial_update",
    "grandlyon_access_editorial_delete", "grandlyon_access_editorial_show",
    "grandlyon_access_editorial_list",
]

# The key under which the show action puts the record it found.
ITEM = "grandlyon_access_editorial"


def _sysadmins_only(context: Context, data_dict: DataDict) -> AuthResult:
    return {"success": False, "msg": tk._("Only sysadmins write pages and news")}


grandlyon_access_editorial_create = _sysadmins_only
grandlyon_access_editorial_update = _sysadmins_only
grandlyon_access_editorial_delete = _sysadmins_only


@tk.auth_allow_anonymous_access
def grandlyon_access_editorial_show(context: Context, data_dict: DataDict) -> AuthResult:
    """A published page or article, to anyone; a draft (or nothing) is
    missing."""
    item = context.get(ITEM)  # type: ignore[call-overload]
    if item is None or item.state != "published":
        raise tk.ObjectNotFound(tk._("Page not found"))
    return {"success": True}


@tk.auth_allow_anonymous_access
def grandlyon_access_editorial_list(context: Context, data_dict: DataDict) -> AuthResult:
    """The published pages and articles, to anyone (drafts only to the
    writers: see the action)."""
    return {"success": True}
