"""What other extensions may use of the access distribution: the one
contract between the suite's extensions, imported at module top.

Every extension that serves data (history, dataviz, communes) asks the same
question through `check_data_read`, writes gated reads with
`record_data_read`, fetches what the world gives through `fetch`, and knows
the levels from `ACCESS_LEVELS`. The access *plugin* may be off (the
distribution is installed, the plugin not named in `ckan.plugins`): then
`check_data_read` falls back, once and here only, to `package_show`.

    from ckanext.grandlyon_access import shared as access

    resource = access.check_data_read(context, resource_id)   # 404 / 403 else
    ...serve the data...
    access.record_data_read(context, resource.id, "history")  # gated datasets only

    answer = access.fetch(url, timeout=10, max_bytes=10_000_000)  # outbound guard
"""

from __future__ import annotations

from typing import Any

import ckan.model as model
import ckan.plugins as p
import ckan.plugins.toolkit as tk
from ckan.types import Context
from ckanext.grandlyon_access import audit
from ckanext.grandlyon_access.editorial.images import image_kind
from ckanext.grandlyon_access.outbound import OutboundError, OutboundResponse, check_url, fetch
from ckanext.grandlyon_access.policy import GATED_LEVELS, LEVELS

__all__ = [
    "ACCESS_LEVELS",
    "GATED_LEVELS",
    "OutboundError",
    "OutboundResponse",
    "access_plugin_loaded",
    "access_status",
    "view_access",
    "auth_context",
    "check_data_read",
    "check_url",
    "fetch",
    "image_kind",
    "is_storable_text",
    "may_read_dataset_data",
    "record_data_read",
    "storable_text",
    "spreadsheet_safe",
    "FORMULA_PREFIXES",
]

ACCESS_LEVELS = LEVELS

# Spreadsheets run a cell starting with one of these as a formula (OWASP "CSV
# injection"): the suite's CSV files start such text cells with a quote.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: Any) -> Any:
    """A CSV cell that no spreadsheet runs as a formula: text starting with
    one of FORMULA_PREFIXES gets a leading apostrophe; other values as given."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def is_storable_text(text: str) -> bool:
    """Text PostgreSQL can store: no NUL character, no lone surrogate (JSON's
    "\\ud800" decodes to one, which UTF-8 cannot hold)."""
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def storable_text(value: Any) -> Any:
    """`value` without what PostgreSQL cannot store in text (NUL characters,
    lone surrogates), through lists and dicts; other values as they are."""
    if isinstance(value, str):
        return value.replace("\x00", "").encode("utf-8", "ignore").decode("utf-8")
    if isinstance(value, list):
        return [storable_text(v) for v in value]
    if isinstance(value, dict):
        return {storable_text(k): storable_text(v) for k, v in value.items()}
    return value


PLUGIN = "grandlyon_access"


def access_plugin_loaded() -> bool:
    """True when the access plugin is named in `ckan.plugins` (the one way
    the suite asks)."""
    return p.plugin_loaded(PLUGIN)


def auth_context(context: Context) -> Context:
    """A context for an auth check: the same user, nothing else that an
    action left in it (CKAN caches objects such as `package` in contexts)."""
    fresh: Context = {"model": model, "user": context.get("user") or ""}
    if context.get("auth_user_obj") is not None:
        fresh["auth_user_obj"] = context["auth_user_obj"]
    if context.get("ignore_auth"):
        fresh["ignore_auth"] = True
    return fresh


def _active_resource(resource_id: str | None) -> model.Resource | None:
    resource = model.Resource.get(resource_id) if isinstance(resource_id, str) \
        and resource_id and "\x00" not in resource_id else None
    if resource is None or resource.state != "active":
        return None
    package = model.Package.get(resource.package_id)
    return resource if package is not None and package.state == "active" else None


def _allowed(auth: str, context: Context, data_dict: dict[str, Any]) -> bool:
    try:
        tk.check_access(auth, auth_context(context), data_dict)
    except (tk.NotAuthorized, tk.ObjectNotFound):
        return False
    return True


def check_data_read(context: Context, resource_id: str | None) -> model.Resource:
    """The one access policy on a resource's data. Returns the resource;
    raises ObjectNotFound when it is missing or its dataset is hidden from
    the user (denied looks like missing), NotAuthorized when the dataset is
    visible but its data is gated (the user can log in, sign or ask)."""
    resource = _active_resource(resource_id)
    if resource is None:
        raise tk.ObjectNotFound(tk._("Resource not found"))
    if access_plugin_loaded():
        if _allowed("grandlyon_access_data_read", context, {"resource_id": resource.id}):
            return resource
        if _allowed("package_show", context, {"id": resource.package_id}):
            raise tk.NotAuthorized(tk._("You do not have access to the data of this dataset"))
    elif _allowed("package_show", context, {"id": resource.package_id}):
        return resource
    raise tk.ObjectNotFound(tk._("Resource not found"))


def may_read_dataset_data(context: Context, package_id: str) -> bool:
    """The same policy as check_data_read, for the data of a whole dataset
    (its resources' URLs, say): True or False, never an exception."""
    if access_plugin_loaded():
        return _allowed("grandlyon_access_data_read", context, {"id": package_id})
    return _allowed("package_show", context, {"id": package_id})


def record_data_read(context: Context, resource_id: str | None, surface: str) -> None:
    """Writes a read of a resource's data to the access log when its dataset
    is not open (the log of who read licensed and restricted data). `surface`
    names where the data left (e.g. "history", "chart", "map"). Nothing is
    written while the access plugin is off."""
    if access_plugin_loaded():
        audit.record_if_gated(context, resource_id, surface)


def access_status(context: Context, package_id: str) -> dict[str, Any]:
    """What the user may do with a dataset's data, and the next step without
    it: `grandlyon_access_show`'s answer (`data`, `next_step` login | sign |
    request, `licence_id`, `request`), or a plain answer while the access
    plugin is off (data for whoever sees the dataset)."""
    if access_plugin_loaded():
        return tk.get_action("grandlyon_access_show")(auth_context(context), {"id": package_id})
    return {"data": True, "next_step": None, "licence_id": None, "request": None}


def view_access(resource_id: str, package_id: str) -> dict[str, Any]:
    """What a resource view shows the current user (a chart, a map through
    time): `dataviz_allowed` when they may read the resource's data, else
    `dataviz_status`, what the dataset's access box tells them to do (None
    for a resource they may not even see)."""
    user = tk.current_user
    authenticated = bool(getattr(user, "is_authenticated", False))
    context: Context = {"user": user.name if authenticated else "",
                        "auth_user_obj": user if authenticated else None}
    try:
        check_data_read(context, resource_id)
        return {"dataviz_allowed": True, "dataviz_status": None}
    except tk.NotAuthorized:
        return {"dataviz_allowed": False, "dataviz_status": access_status(context, package_id)}
    except tk.ObjectNotFound:
        return {"dataviz_allowed": False, "dataviz_status": None}
