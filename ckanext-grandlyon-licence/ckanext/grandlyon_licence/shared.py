"""What other extensions may import from grandlyon_licence.

The access plugin asks, for a dataset under a licence that must be signed,
whether the user signed its current version::

    from ckanext.grandlyon_licence import shared

    if shared.licence_requires_signature(pkg_dict["license_id"]):
        allowed = bool(user_id) and shared.has_current_signature(user_id, pkg_dict["license_id"])

Both read the registry as the database holds it at this request (a version
published by another web process counts from its next request); neither
touches the tables directly.
"""

from __future__ import annotations

import ckan.plugins.toolkit as tk

from . import registry

__all__ = ["has_current_signature", "licence_requires_signature"]


def licence_requires_signature(licence_id: str | None) -> bool:
    """True when `licence_id` names a registry licence that must be signed
    online; False for other licences, unknown ids and no id."""
    licence = registry.get_licence(licence_id or "")
    return bool(licence and licence.signature_required)


def has_current_signature(user_id: str, licence_id: str) -> bool:
    """True when the user (id or name) holds a valid, not revoked signature of
    the current version of the licence; False otherwise, also for an unknown
    user or licence. Asks the action grandlyon_licence_signature_list."""
    if not user_id or not licence_id:
        return False
    try:
        signatures = tk.get_action("grandlyon_licence_signature_list")(
            {"ignore_auth": True},
            {"user": user_id, "licence_id": licence_id, "current_only": True, "limit": 1},
        )
    except tk.ValidationError:
        return False
    return bool(signatures)
