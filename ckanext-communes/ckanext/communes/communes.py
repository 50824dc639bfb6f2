"""Communes: organisations marked `is_commune`, found by name or host name,
and their identity as the white-label view and the widgets show it."""

from __future__ import annotations

import json
import re
from typing import Any, Optional

import ckan.model as model
import ckan.plugins.toolkit as tk

from ckanext.communes.logic.validators import COLOUR, parse_host_names

SAFE_FACET_VALUE = re.compile(r"^[^\x00-\x1f]{1,200}$")


def is_commune(org: dict[str, Any]) -> bool:
    return tk.asbool(org.get("is_commune"))


def context(user: Optional[str] = None) -> dict[str, Any]:
    """An action context for the current user (or anonymous with user="")."""
    if user is None:
        current = tk.current_user
        authenticated = bool(getattr(current, "is_authenticated", False))
        return {"model": model, "user": current.name if authenticated else "",
                "auth_user_obj": current if authenticated else None}
    return {"model": model, "user": user, "auth_user_obj": None}


def organization(ref: str, ctx: Optional[dict[str, Any]] = None,
                 **options: Any) -> Optional[dict[str, Any]]:
    """An organisation as its pages show it (organization_show without its
    datasets, members, groups, tags and followers; `options` add to that),
    or None when the user may not see it or there is none."""
    try:
        return tk.get_action("organization_show")(ctx or context(), {
            "id": ref, "include_datasets": False, "include_users": False,
            "include_groups": False, "include_tags": False, "include_followers": False,
            **options})
    except (tk.ObjectNotFound, tk.NotAuthorized, tk.ValidationError):
        return None


def show(name: str, ctx: Optional[dict[str, Any]] = None) -> Optional[dict[str, Any]]:
    """The commune named `name`, or None when there is no such commune."""
    org = organization(name, ctx)
    if org is None or org.get("type") != "organization" or not is_commune(org):
        return None
    return org


def name_for_host(host: str) -> Optional[str]:
    """The name of the commune that claims the host name `host` (port ignored)."""
    host = (host or "").split(":")[0].strip().lower().rstrip(".")
    if not host:
        return None
    rows = (
        model.Session.query(model.Group.name, model.GroupExtra.value)
        .join(model.GroupExtra, model.GroupExtra.group_id == model.Group.id)
        .filter(model.GroupExtra.key == "host_names")
        .filter(model.GroupExtra.state == "active")
        .filter(model.Group.state == "active")
        .filter(model.Group.is_organization.is_(True))
        .filter(model.GroupExtra.value.contains(host))
    )
    for name, value in rows:
        if host in parse_host_names(value):
            return name
    return None


def colour(value: Any, default: str) -> str:
    """A validated colour (#rgb or #rrggbb), else the default."""
    return value if isinstance(value, str) and COLOUR.match(value) else default


def image_src(value: Any) -> str:
    """The address of a logo or banner: an https URL as is, an uploaded file
    under the portal's uploads."""
    if not value or not isinstance(value, str):
        return ""
    if value.startswith("https://"):
        return value
    if "/" in value or ":" in value:
        return ""
    return tk.h.url_for_static(f"/uploads/group/{value}", qualified=True)


def boundary(org: dict[str, Any]) -> Optional[dict[str, Any]]:
    try:
        geometry = json.loads(org.get("boundary") or "null")
    except ValueError:
        return None
    return geometry if isinstance(geometry, dict) else None


def solr_quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
