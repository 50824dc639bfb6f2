"""Template helpers of the access plugin."""

from __future__ import annotations

from typing import Any, Optional

import ckan.plugins.toolkit as tk

from ckanext.grandlyon_access import config, policy, tokens
from ckanext.grandlyon_access.site import headers
from ckanext.grandlyon_access.site.helpers import render_datetime

# The template helpers of the access plugin, and CKAN's made right for every
# language (site/helpers.py).
__all__ = [
    "grandlyon_access_status",
    "grandlyon_access_levels",
    "grandlyon_access_level_label",
    "grandlyon_access_pending_requests",
    "grandlyon_access_gated_levels",
    "grandlyon_access_grants",
    "grandlyon_access_csp_nonce",
    "grandlyon_access_csp_markup",
    "grandlyon_access_api_token_lifetime",
    "grandlyon_access_api_token_expiry",
    "render_datetime",
]


def _context() -> dict[str, Any]:
    user = tk.current_user
    authenticated = bool(getattr(user, "is_authenticated", False))
    return {"user": user.name if authenticated else "",
            "auth_user_obj": user if authenticated else None}


def grandlyon_access_status(package_id: str) -> Optional[dict[str, Any]]:
    """What the current user may do with a dataset (grandlyon_access_show),
    or None when they may not see it."""
    try:
        return tk.get_action("grandlyon_access_show")(_context(), {"id": package_id})
    except (tk.ObjectNotFound, tk.NotAuthorized):
        return None


def grandlyon_access_levels(field: Any = None) -> list[dict[str, str]]:
    """The levels with their names and explanations, in the user's language
    (also the choices of the scheming field `access_level`)."""
    return [
        {"value": "open", "label": tk._("Open"),
         "help": tk._("Everyone may download and reuse the data.")},
        {"value": "licensed", "label": tk._("Licensed"),
         "help": tk._("Logged-in users reach the data after signing the dataset's licence online.")},
        {"value": "restricted", "label": tk._("Restricted"),
         "help": tk._("Only members of the circles granted the dataset, and users granted it "
                      "personally, reach the data. Others may ask for access.")},
    ]


def grandlyon_access_level_label(level: str) -> str:
    for item in grandlyon_access_levels():
        if item["value"] == level:
            return item["label"]
    return level


def grandlyon_access_pending_requests(package_id: str) -> list[dict[str, Any]]:
    """The pending requests of a dataset, for its organisation's admins
    (empty for anyone else)."""
    try:
        return tk.get_action("grandlyon_access_request_list")(
            _context(), {"package_id": package_id, "status": "pending"})
    except (tk.ObjectNotFound, tk.NotAuthorized):
        return []


def grandlyon_access_gated_levels() -> tuple[str, ...]:
    return policy.GATED_LEVELS


def grandlyon_access_grants(package_id: str) -> Optional[list[dict[str, Any]]]:
    """The grants of a dataset for its editors and admins; None for anyone
    else (who may not manage them)."""
    try:
        return tk.get_action("grandlyon_access_grant_list")(_context(), {"package_id": package_id})
    except (tk.ObjectNotFound, tk.NotAuthorized):
        return None


def grandlyon_access_csp_nonce() -> str:
    """The nonce that lets an inline script of a template run
    (`<script nonce="{{ h.grandlyon_access_csp_nonce() }}">`)."""
    return headers.csp_nonce()


def grandlyon_access_csp_markup(html: Any, drop_handlers: Any = ()) -> Any:
    """A CKAN template block's output (`super()`) with the nonce on its
    inline scripts and without the inline handlers named (site/headers.py)."""
    return headers.nonce_inline_scripts(html, tuple(drop_handlers))


def grandlyon_access_api_token_lifetime() -> Optional[dict[str, int]]:
    """What the API token form offers: the default lifetime (`expires_in`
    times `unit` seconds) and the maximum in days; None when tokens do not
    expire (tokens.py)."""
    if not tokens.enabled():
        return None
    return {**tokens.default_lifetime_field(), "max_days": config.api_token_max_lifetime_days()}


def grandlyon_access_api_token_expiry(token: dict[str, Any]) -> Optional[dict[str, Any]]:
    """When a token of `api_token_list` (with its plugin_extras) expires,
    as `at` (UTC) and whether it has `expired`; None if it never does."""
    at = tokens.expiry_from_extras(token.get("plugin_extras"))
    if at is None:
        return None
    return {"at": at, "expired": at <= tokens.utcnow()}
