"""Web routes of the access plugin: asking for access to a restricted
dataset, and deciding on requests (the organisation's admins)."""

from __future__ import annotations

from typing import Any

import ckan.plugins.toolkit as tk
from flask import Blueprint, request

grandlyon_access = Blueprint("grandlyon_access", __name__)


def _context() -> dict[str, Any]:
    return {"user": tk.current_user.name, "auth_user_obj": tk.current_user}


def _flash_errors(error: tk.ValidationError) -> None:
    for messages in (error.error_dict or {}).values():
        for message in messages if isinstance(messages, list) else [messages]:
            tk.h.flash_error(message)


@grandlyon_access.route("/dataset/<id>/access/request", methods=["POST"])
def request_access(id: str):
    if not tk.current_user.is_authenticated:
        return tk.redirect_to("user.login", came_from=tk.url_for("dataset.read", id=id))
    try:
        tk.get_action("grandlyon_access_request_create")(
            _context(), {"package_id": id, "message": request.form.get("message", "")})
        tk.h.flash_success(tk._("Your request was sent to the publisher. You will be told "
                                "of the decision by e-mail and on this page."))
    except tk.ObjectNotFound:
        return tk.abort(404, tk._("Dataset not found"))
    except tk.NotAuthorized:
        return tk.abort(403, tk._("You may not ask for access to this dataset"))
    except tk.ValidationError as error:
        _flash_errors(error)
    return tk.redirect_to("dataset.read", id=id)


@grandlyon_access.route("/dataset/<id>/access/request/<request_id>/decide", methods=["POST"])
def decide(id: str, request_id: str):
    data = {"id": request_id, "decision": request.form.get("decision", "")}
    for field in ("reason", "expires"):
        if request.form.get(field):
            data[field] = request.form[field]
    try:
        result = tk.get_action("grandlyon_access_request_decide")(_context(), data)
        if result["status"] == "approved":
            tk.h.flash_success(tk._("The request was approved."))
        else:
            tk.h.flash_success(tk._("The request was rejected."))
    except tk.ObjectNotFound:
        return tk.abort(404, tk._("Access request not found"))
    except tk.NotAuthorized:
        return tk.abort(403, tk._("Only the organisation's admins decide on access requests"))
    except tk.ValidationError as error:
        _flash_errors(error)
    return tk.redirect_to("dataset.read", id=id)
