"""Refuses input that no field of the portal accepts, before any action runs.

PostgreSQL cannot store a NUL character in text: CKAN passes such strings on
and the database answers with an error, which the API turns into a 500. Any
request carrying a NUL in its query string, form or JSON body is answered 400
here, naming the parameter, so nothing reaches the database; one in the
path of the address (`/user/%00`) is answered 400 the same way.

Where to go next (`came_from`, `next`): CKAN's `url_is_local` lets through
`/\\evil.example`, which browsers follow to another site (they read `\\` as
`/`, and drop tabs and line breaks). Such a value is removed from the query
string and the form before any view reads it, so the login, logout and the
licence pages go to their default page instead (`drop_foreign_targets`).

CKAN's activity pages answer 500 for ids that do not belong together (an
activity of another dataset, of a group, or none at all), for the changes
of a dataset the user may not see, and for `before`/`after` times beyond
what a date holds: `refuse_mismatched_activity` answers them 404 (400 for
the times) first.

ckanext-harvest changes data on plain GET links (clear a source's
datasets, delete a source, run or stop a job): a link on another site
would carry the session cookie (SameSite=Lax). On GET those routes show a
confirmation page; only its form (POST, with the CSRF token that CKAN
checks on every form) acts (`confirm_state_changes`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import ckan.model as model
import ckan.plugins.toolkit as tk
from flask import Response, request
from werkzeug.datastructures import ImmutableMultiDict


def _(message: str) -> str:
    """Marks a message for translation; translated when shown."""
    return message

# Parameters naming a page of the portal to go to next.
REDIRECT_PARAMETERS = ("came_from", "next")

# Routes of other plugins that change data on GET, and what they change.
STATE_CHANGING_ROUTES = {
    "harvester.clear": _("every dataset and job of a harvest source"),
    "harvester.delete": _("a harvest source"),
    "harvester.refresh": _("a new harvest job"),
    "harvester.job_abort": _("a running harvest job"),
}


def _strings(value: Any, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield path, str(key)
            yield from _strings(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item, path)


def _not_text(text: str) -> str | None:
    """What makes `text` unfit for the portal's database: a NUL character,
    or a lone UTF-16 surrogate (JSON's "\\ud800" decodes to one, which
    UTF-8 cannot hold); None when it is fine."""
    if "\x00" in text:
        return "nul"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "surrogate"
    return None


def _offending() -> tuple[str | None, str] | None:
    """(the parameter, what is wrong with it) of the first parameter that
    is not storable text; the parameter is None for the path itself."""
    if (problem := _not_text(request.path)) is not None:
        return None, problem
    pairs: Iterator[tuple[str, str]] = iter(())
    for key, value in request.args.items(multi=True):
        for text in (key, value):
            if (problem := _not_text(text)) is not None:
                return key, problem
    if request.method in ("POST", "PUT", "PATCH"):
        if request.is_json:
            pairs = _strings(request.get_json(silent=True), "")
        else:
            pairs = ((key, text) for key, value in request.form.items(multi=True)
                     for text in (key, value))
    for path, text in pairs:
        if (problem := _not_text(text)) is not None:
            return path or "body", problem
    return None


def refuse_nul() -> Response | None:
    """A parameter holding a NUL character or a lone surrogate is refused
    with a 400 naming it (PostgreSQL cannot store such text: it failed
    deep inside an action with a 500)."""
    found = _offending()
    if found is None:
        return None
    name, problem = found
    shown = (name or "path").replace("\x00", "\\0").encode(
        "utf-8", "backslashreplace").decode("utf-8")
    if name is None:
        message = tk._("The address contains a character that is not allowed (a NUL "
                       "character or invalid text).")
    elif problem == "nul":
        message = tk._("The parameter {name} contains a NUL character, which is not "
                       "allowed.").format(name=shown)
    else:
        message = tk._("The parameter {name} contains a character that is not valid text "
                       "(a lone UTF-16 surrogate), which is not allowed.").format(name=shown)
    if request.path.startswith("/api/"):
        body = {"success": False, "error": {"__type": "Validation Error", shown: [message]}}
        return Response(json.dumps(body), status=400, content_type="application/json;charset=utf-8")
    return Response(message, status=400, content_type="text/plain; charset=utf-8")


# --- where to go next ------------------------------------------------------------

def is_same_site(target: str) -> bool:
    """True for a path of this portal (`/dataset/x?y=1`) or an absolute URL
    on the portal's own scheme and host; False for anything a browser could
    take to another site: `//host`, `/\\host`, a backslash anywhere, control
    characters or spaces (browsers drop tabs and line breaks), other schemes."""
    if not target or not target.isprintable() or "\\" in target or " " in target:
        return False
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        site = urlsplit(tk.config.get("ckan.site_url") or "")
        return (parts.scheme, parts.netloc) == (site.scheme, site.netloc) \
            and parts.path.startswith("/") and not parts.path.startswith("//")
    return target.startswith("/") and not target.startswith("//")


def drop_foreign_targets() -> None:
    """Removes `came_from` and `next` values that lead off the portal from
    the request's query string and form, so no view redirects there."""
    query = parse_qsl(request.query_string.decode("utf-8", "replace"), keep_blank_values=True)
    if any(k in REDIRECT_PARAMETERS and not is_same_site(v) for k, v in query):
        kept = [(k, v) for k, v in query if k not in REDIRECT_PARAMETERS or is_same_site(v)]
        request.environ["QUERY_STRING"] = urlencode(kept)
        request.query_string = request.environ["QUERY_STRING"].encode("latin-1")
        for cached in ("args", "values", "full_path", "url"):
            request.__dict__.pop(cached, None)
    if request.method == "POST" and not request.is_json and any(
            k in REDIRECT_PARAMETERS and not is_same_site(v)
            for k, v in request.form.items(multi=True)):
        request.__dict__["form"] = ImmutableMultiDict(
            [(k, v) for k, v in request.form.items(multi=True)
             if k not in REDIRECT_PARAMETERS or is_same_site(v)])
        request.__dict__.pop("values", None)


# --- activity pages whose ids do not belong together --------------------------------

def _activity(activity_id: str | None) -> Any | None:
    if not _usable_id(activity_id):
        return None
    try:
        from ckanext.activity.model import Activity
    except ImportError:  # the activity plugin is not installed
        return None
    activity = model.Session.get(Activity, activity_id)
    data = getattr(activity, "data", None)
    if activity is None or not isinstance(data, dict) or not isinstance(data.get("package"), dict):
        return None
    return activity


def _usable_id(value: Any) -> bool:
    return isinstance(value, str) and 0 < len(value) <= 100 and "\x00" not in value


def _package_id(id_or_name: str) -> str | None:
    package = model.Package.get(id_or_name) if _usable_id(id_or_name) else None
    return package.id if package is not None else None


def _activity_of_group(activity_id: Any) -> Any | None:
    if not _usable_id(activity_id):
        return None
    from ckanext.activity.model import Activity  # the activity plugin's own model

    activity = model.Session.get(Activity, activity_id)
    return activity if activity is not None and model.Group.get(activity.object_id) else None


def _viewer_sees(package_id: str) -> bool:
    user = tk.current_user
    name = user.name if getattr(user, "is_authenticated", False) else ""
    try:
        tk.check_access("package_show", {"user": name}, {"id": package_id})
    except (tk.NotAuthorized, tk.ObjectNotFound):
        return False
    return True


# Dates a timestamp may name (datetime.fromtimestamp: years 1 to 9999).
LATEST_TIMESTAMP = 253402300799


def _refuse_bad_times() -> None:
    for name in ("before", "after"):
        value = request.args.get(name)
        if value is None:
            continue
        try:
            number = float(value)
        except ValueError:
            number = float("nan")
        if not 0 <= number <= LATEST_TIMESTAMP:  # also NaN
            tk.abort(400, tk._("The parameter {name} must be a time (seconds since "
                               "1970).").format(name=name))


def refuse_mismatched_activity() -> None:
    """404 for an activity page whose dataset, resource and activity ids do
    not belong together, or whose dataset the user may not see; 400 for
    `before`/`after` times no date holds (CKAN answers 500 for all of them)."""
    endpoint = request.endpoint or ""
    if not endpoint.startswith("activity."):
        return
    _refuse_bad_times()
    if endpoint == "activity.resource_history":
        args = request.view_args or {}
        activity = _activity(args.get("activity_id"))
        if activity is None or activity.object_id != _package_id(args.get("id") or ""):
            tk.abort(404, tk._("Activity not found"))
    elif endpoint == "activity.package_changes_multiple":
        new, old = (_activity(request.args.get(k)) for k in ("new_id", "old_id"))
        if new is None or old is None or new.object_id != old.object_id \
                or not _viewer_sees(new.object_id):
            tk.abort(404, tk._("Activity not found"))
        if new.timestamp <= old.timestamp:
            # CKAN then shows the change that led to `current_new_id`.
            current = _activity(request.args.get("current_new_id"))
            if current is None or current.object_id != new.object_id:
                tk.abort(404, tk._("Activity not found"))
    elif endpoint in ("activity.group_changes_multiple", "activity.organization_changes_multiple"):
        new, old = (_activity_of_group(request.args.get(k)) for k in ("new_id", "old_id"))
        if new is None or old is None or new.object_id != old.object_id:
            tk.abort(404, tk._("Activity not found"))
        if new.timestamp < old.timestamp:
            current = _activity_of_group(request.args.get("current_new_id"))
            if current is None or current.object_id != new.object_id:
                tk.abort(404, tk._("Activity not found"))


# --- links that change data --------------------------------------------------------------

def accept_confirmations(app: Any) -> None:
    """Lets the state-changing routes take the confirmation form's POST."""
    for rule in app.url_map.iter_rules():
        if rule.endpoint in STATE_CHANGING_ROUTES and rule.methods is not None:
            rule.methods = set(rule.methods) | {"POST"}


def confirm_state_changes() -> Response | str | None:
    """A GET of a route that changes data shows what it would do and a form
    that does it; nothing changes."""
    what = STATE_CHANGING_ROUTES.get(request.endpoint or "")
    if what is None or request.method not in ("GET", "HEAD"):
        return None
    return tk.render("grandlyon_access/confirm.html", {
        "action_url": request.full_path.rstrip("?"), "what": tk._(what)})
