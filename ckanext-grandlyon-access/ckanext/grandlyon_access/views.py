"""Web routes of the access plugin: asking for access to a restricted
dataset, and deciding on requests (the organisation's admins)."""

from __future__ import annotations

from typing import Any

import ckan.plugins.toolkit as tk
from ckanext.grandlyon_access.editorial import views as editorial_views
from ckanext.grandlyon_access.shared import spreadsheet_safe
from ckanext.grandlyon_access.site import catalogue_export, twofactor_views
from flask import Blueprint, request

grandlyon_access = Blueprint("grandlyon_access", __name__)
twofactor_views.add_routes(grandlyon_access)
editorial_views.add_routes(grandlyon_access)
catalogue_export.add_routes(grandlyon_access)


def _context() -> dict[str, Any]:
    return {"user": tk.current_user.name, "auth_user_obj": tk.current_user}


def _flash_errors(error: tk.ValidationError) -> None:
    for messages in (error.error_dict or {}).values():
        for message in messages if isinstance(messages, list) else [messages]:
            tk.h.flash_error(message)


def _form_data(*fields: str) -> dict[str, str]:
    return {f: request.form[f].strip() for f in fields if request.form.get(f, "").strip()}


def _dataset_form_action(id: str, action: str, data: dict[str, Any], done, not_found: str,
                         forbidden: str):
    """Runs an action posted from a dataset page, flashes the outcome in the
    user's language and goes back to the dataset page. `done(result)` gives
    the success message; validation errors are flashed, nothing is stored."""
    try:
        result = tk.get_action(action)(_context(), data)
        tk.h.flash_success(done(result))
    except tk.ObjectNotFound:
        return tk.abort(404, not_found)
    except tk.NotAuthorized:
        return tk.abort(403, forbidden)
    except tk.ValidationError as error:
        _flash_errors(error)
    return tk.redirect_to("dataset.read", id=id)


@grandlyon_access.route("/dataset/<id>/access/request", methods=["POST"])
def request_access(id: str):
    if not tk.current_user.is_authenticated:
        return tk.redirect_to("user.login", came_from=tk.url_for("dataset.read", id=id))
    return _dataset_form_action(
        id, "grandlyon_access_request_create",
        {"package_id": id, "message": request.form.get("message", "")},
        lambda _r: tk._("Your request was sent to the publisher. You will be told "
                        "of the decision by e-mail and on this page."),
        tk._("Dataset not found"), tk._("You may not ask for access to this dataset"))


@grandlyon_access.route("/dataset/<id>/access/request/<request_id>/decide", methods=["POST"])
def decide(id: str, request_id: str):
    data = {"id": request_id, "decision": request.form.get("decision", ""),
            **_form_data("reason", "expires")}
    return _dataset_form_action(
        id, "grandlyon_access_request_decide", data,
        lambda r: tk._("The request was approved.") if r["status"] == "approved"
        else tk._("The request was rejected."),
        tk._("Access request not found"),
        tk._("Only the organisation's admins decide on access requests"))


# --- grants, on the dataset page (the dataset's editors and admins) -------------

@grandlyon_access.route("/dataset/<id>/access/grants", methods=["POST"])
def grant_create(id: str):
    return _dataset_form_action(
        id, "grandlyon_access_grant_create",
        {"package_id": id, **_form_data("circle_id", "user", "expires")},
        lambda _r: tk._("Access granted."), tk._("Dataset not found"),
        tk._("Only the dataset's editors and admins grant access"))


@grandlyon_access.route("/dataset/<id>/access/grants/<grant_id>/delete", methods=["POST"])
def grant_delete(id: str, grant_id: str):
    return _dataset_form_action(
        id, "grandlyon_access_grant_delete", {"id": grant_id},
        lambda _r: tk._("Access withdrawn."), tk._("Grant not found"),
        tk._("Only the dataset's editors and admins grant access"))


# --- circles and the access log (sysadmins) ---------------------------------------

def _sysadmin_action(name: str, data: dict[str, Any]) -> Any:
    try:
        return tk.get_action(name)(_context(), data)
    except tk.NotAuthorized:
        return tk.abort(403, tk._("Only sysadmins manage circles and read the access log"))


@grandlyon_access.route("/ckan-admin/access/circles", methods=["GET", "POST"])
def circles():
    errors: dict[str, Any] = {}
    data: dict[str, str] = {}
    if request.method == "POST":
        data = _form_data("name", "title", "description")
        try:
            tk.get_action("grandlyon_access_circle_create")(_context(), data)
            tk.h.flash_success(tk._("Circle created."))
            return tk.redirect_to("grandlyon_access.circle", id=data["name"])
        except tk.NotAuthorized:
            return tk.abort(403, tk._("Only sysadmins manage circles and read the access log"))
        except tk.ValidationError as error:
            errors = error.error_dict
    return tk.render("grandlyon_access/circles.html", {
        "circles": _sysadmin_action("grandlyon_access_circle_list", {}),
        "data": data, "errors": errors,
    })


@grandlyon_access.route("/ckan-admin/access/circles/<id>", methods=["GET", "POST"])
def circle(id: str):
    if request.method == "POST":
        action = request.form.get("action")
        data = {"circle_id": id, **_form_data("user", "expires")}
        try:
            if action == "add":
                tk.get_action("grandlyon_access_circle_member_create")(_context(), data)
                tk.h.flash_success(tk._("Member added."))
            elif action == "remove":
                tk.get_action("grandlyon_access_circle_member_delete")(_context(), data)
                tk.h.flash_success(tk._("Member removed."))
            elif action == "delete":
                tk.get_action("grandlyon_access_circle_delete")(_context(), {"id": id})
                tk.h.flash_success(tk._("Circle deleted."))
                return tk.redirect_to("grandlyon_access.circles")
        except tk.NotAuthorized:
            return tk.abort(403, tk._("Only sysadmins manage circles and read the access log"))
        except tk.ObjectNotFound as error:
            tk.h.flash_error(str(error.message or tk._("Not found")))
        except tk.ValidationError as error:
            _flash_errors(error)
        return tk.redirect_to("grandlyon_access.circle", id=id)
    try:
        shown = _sysadmin_action("grandlyon_access_circle_show", {"id": id})
    except tk.ObjectNotFound:
        return tk.abort(404, tk._("Circle not found"))
    return tk.render("grandlyon_access/circle.html", {"circle": shown})


@grandlyon_access.route("/ckan-admin/access/log")
def access_log():
    filters = {k: request.args[k] for k in ("package_id", "user", "licence_id", "since", "until")
               if request.args.get(k)}
    as_csv = request.args.get("format") == "csv"
    page = max(1, tk.h.get_page_number(request.args))
    data = {**filters, "limit": 10000 if as_csv else 50, "offset": 0 if as_csv else (page - 1) * 50}
    try:
        result = _sysadmin_action("grandlyon_access_log_list", data)
    except (tk.ValidationError, tk.ObjectNotFound) as error:
        tk.h.flash_error(str(getattr(error, "error_summary", None) or error))
        result = {"count": 0, "results": []}
    if as_csv:
        return _csv_response(result["results"])
    return tk.render("grandlyon_access/log.html", {"result": result, "filters": filters, "page": page})


def _csv_response(rows: list[dict[str, Any]]):
    import csv
    import io

    from flask import Response

    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=["at", "user", "user_id", "package_id", "resource_id", "surface"],
                            extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: spreadsheet_safe(v) for k, v in row.items()})
    return Response(out.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": "attachment; filename=access-log.csv"})
