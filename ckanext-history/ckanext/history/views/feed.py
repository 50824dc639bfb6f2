"""The history page of a resource (linked from the resource page) and the
feed form of its publishers.

- `/dataset/<id>/resource/<resource_id>/history`: what the history covers
  (first and last time, rows), the gaps of its source, downloads by period and
  by month, and a link to the history chart; for the dataset's editors, the
  form declaring or changing the resource's feed, with its polling state.
- POST `.../history/feed`: creates or updates the feed (form errors shown on
  the page, nothing stored); POST `.../history/feed/delete` deletes it.

A dataset the user may not see answers 404 (as a missing one); a reader
without access to the data gets 403; the feed's URL and errors are shown to
the dataset's editors only.
"""

from __future__ import annotations

import json
from typing import Any

import ckan.model as model
import ckan.plugins.toolkit as tk
from ckanext.history import config, query, store, zones
from ckanext.history.logic.auth import may_edit, may_read_data
from flask import request

from .blueprint import history

FORM_FIELDS = ("url", "format", "feature_id_field", "time_field", "fields", "interval_seconds",
               "hot_retention_days", "store_mode")


def _context() -> dict[str, Any]:
    return {"user": tk.current_user.name if tk.current_user.is_authenticated else "",
            "auth_user_obj": tk.current_user}


def _page_objects(id: str, resource_id: str) -> tuple[dict, dict, bool, bool]:
    """The dataset, the resource, whether the user may edit the dataset and
    whether they may read its data; aborts 404 when the user may not see it."""
    context = _context()
    try:
        package = tk.get_action("package_show")(dict(context), {"id": id})
        resource = tk.get_action("resource_show")(dict(context), {"id": resource_id})
    except (tk.ObjectNotFound, tk.NotAuthorized):
        return tk.abort(404, tk._("Resource not found"))
    if resource.get("package_id") != package["id"]:
        return tk.abort(404, tk._("Resource not found"))
    # A deleted dataset (which its sysadmins still see) has no history to
    # show or declare: the history actions answer 404 for it too.
    if package.get("state") == "deleted" or resource.get("state") == "deleted":
        return tk.abort(404, tk._("Resource not found"))
    editor = may_edit(context, package["id"])
    readable = may_read_data(dict(context, model=model), resource["id"])
    return package, resource, editor, readable


def _history(resource_id: str) -> dict | None:
    try:
        return tk.get_action("history_show")(_context(), {"resource_id": resource_id})
    except (tk.ObjectNotFound, KeyError):
        return None


def _local_day(time: str | None, zone_name: str) -> str:
    """The local date (YYYY-MM-DD) in the portal's zone of a naive UTC time
    of history_show, or an empty text."""
    if not time:
        return ""
    try:
        return query.local_iso(store.parse_time(time), zones.zone(zone_name))[:10]
    except (zones.UnknownZone, ValueError):
        return time[:10]


def _feed(resource_id: str) -> dict | None:
    try:
        return tk.get_action("history_feed_show")(_context(), {"resource_id": resource_id})
    except tk.ObjectNotFound:
        return None


def _chart_view(package: dict, resource: dict) -> dict | None:
    """The first history chart (view type dataviz_history) of the resource."""
    try:
        views = tk.get_action("resource_view_list")(_context(), {"id": resource["id"]})
    except (tk.ObjectNotFound, tk.NotAuthorized):
        return None
    return next((v for v in views if v.get("view_type") == "dataviz_history"), None)


def _render(id: str, resource_id: str, form: dict | None = None,
            errors: dict | None = None, status: int = 200):
    package, resource, editor, readable = _page_objects(id, resource_id)
    if not readable:
        return tk.abort(403, tk._("You do not have access to the data of this dataset"))
    feed = _feed(resource["id"])
    shown = _history(resource["id"])
    if form is None:
        form = dict(feed or {})
        fields = (feed or {}).get("fields", [])
        # Titles, units and `across` do not fit name:type: the form shows
        # JSON then, so that saving it keeps them.
        if any(set(f) - {"name", "type"} for f in fields):
            form["fields"] = json.dumps(fields, ensure_ascii=False, indent=1)
        else:
            form["fields"] = ", ".join(f"{f['name']}:{f['type']}" for f in fields)
        if feed is None:
            form.update(format="geojson", interval_seconds=60, store_mode="changes")
    extra = {
        "pkg_dict": package, "package": package, "resource": resource, "editor": editor,
        "feed": feed, "history": shown, "chart_view": _chart_view(package, resource),
        "form": form, "errors": errors or {},
        "formats": ("csv", "json", "parquet"),
        # The period download reads its dates in the portal's zone.
        "time_zone": config.time_zone(),
        "start_day": _local_day(((shown or {}).get("coverage") or {}).get("last"), config.time_zone()),
    }
    return tk.render("history/resource_history.html", extra_vars=extra), status


@history.route("/dataset/<id>/resource/<resource_id>/history")
def resource_history(id: str, resource_id: str):
    return _render(id, resource_id)


@history.route("/dataset/<id>/resource/<resource_id>/history/feed", methods=["POST"])
def feed_save(id: str, resource_id: str):
    package, resource, editor, _readable = _page_objects(id, resource_id)
    if not editor:
        return tk.abort(403, tk._("Only the dataset's publishers may declare its feed"))
    form = {key: request.form.get(key, "").strip() for key in FORM_FIELDS}
    data: dict[str, Any] = {key: value for key, value in form.items()
                            if value != "" or key in ("time_field", "hot_retention_days")}
    data["enabled"] = request.form.get("enabled") == "on"
    form["enabled"] = data["enabled"]
    data["resource_id"] = resource["id"]
    exists = _feed(resource["id"]) is not None
    action = "history_feed_update" if exists else "history_feed_create"
    if not exists and data.get("hot_retention_days") == "":
        data.pop("hot_retention_days")
    try:
        tk.get_action(action)(_context(), data)
    except tk.ValidationError as error:
        return _render(id, resource_id, form=form, errors=error.error_dict or {}, status=400)
    except (tk.ObjectNotFound, tk.NotAuthorized):
        return tk.abort(403, tk._("Only the dataset's publishers may declare its feed"))
    tk.h.flash_success(tk._("The feed is saved. The ingest worker polls it from now on.")
                       if data["enabled"] else tk._("The feed is saved (not polled: disabled)."))
    return tk.redirect_to("history.resource_history", id=package["name"],
                          resource_id=resource["id"])


@history.route("/dataset/<id>/resource/<resource_id>/history/feed/delete", methods=["POST"])
def feed_delete(id: str, resource_id: str):
    package, resource, editor, _readable = _page_objects(id, resource_id)
    if not editor:
        return tk.abort(403, tk._("Only the dataset's publishers may declare its feed"))
    try:
        tk.get_action("history_feed_delete")(_context(), {"resource_id": resource["id"]})
    except tk.ObjectNotFound:
        return tk.abort(404, tk._("This resource has no feed"))
    except tk.NotAuthorized:
        return tk.abort(403, tk._("Only the dataset's publishers may declare its feed"))
    tk.h.flash_success(tk._("The feed and its history were deleted."))
    return tk.redirect_to("history.resource_history", id=package["name"],
                          resource_id=resource["id"])
