"""Web pages of the licences: read and sign, one's signatures, sysadmins' table."""

from __future__ import annotations

import csv
import io
from typing import Any

import ckan.plugins.toolkit as tk
from flask import Blueprint, Response

from . import registry

grandlyon_licence = Blueprint("grandlyon_licence", __name__)

# Spreadsheets run cells starting with these as formulas: such values are
# prefixed with a quote in the CSV export (OWASP "CSV injection").
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
# Form fields of a new version's texts: text_fr, text_en...
TEXT_FIELD = "text_"
CSV_COLUMNS = (
    "id",
    "user_name",
    "user_id",
    "licence_id",
    "licence_version",
    "current",
    "signed_at",
    "revoked_at",
    "revoked_by_name",
    "revoke_reason",
)


def _context() -> dict[str, Any]:
    return {"user": tk.current_user.name, "auth_user_obj": tk.current_user}


def _login_url(came_from: str) -> str:
    return tk.h.url_for("user.login", came_from=came_from)


def index():
    licences = tk.get_action("grandlyon_licence_list")(_context(), {})
    return tk.render("grandlyon_licence/index.html", {"licences": licences})


def _error_summary(errors: dict[str, list[str]], licence: dict[str, Any]) -> dict[str, str]:
    labels = {d["name"]: d["label"] for d in licence["signer_details"]}
    labels.update(
        {"version": tk._("Version"), "licence_id": tk._("Licence"), "accept": tk._("Acceptance")}
    )
    return {labels.get(key, key): " ".join(messages) for key, messages in errors.items()}


def _back_to(came_from: str | None, default: str) -> str:
    """Where a signer goes once signed: the page of the portal they came
    from (a dataset), else the licence."""
    return came_from if _is_portal_path(came_from) else default


def _is_portal_path(target: str | None) -> bool:
    """A path of this portal. CKAN's `url_is_local` accepts `/\\evil.example`,
    which browsers follow to another site: no backslash, control character
    or space, and one leading slash only."""
    return bool(target) and target.startswith("/") and not target.startswith("//") \
        and target.isprintable() and "\\" not in target and " " not in target


def read(id: str):
    context = _context()
    version = (tk.request.args.get("version") or "").strip()
    try:
        licence = tk.get_action("grandlyon_licence_show")(context, {"id": id, "version": version})
    except tk.ObjectNotFound:
        return tk.abort(404, tk._("Licence not found"))
    if not licence["is_current"]:  # an earlier version: its text, nothing to sign
        return tk.render("grandlyon_licence/read.html", {"licence": licence})

    self_url = tk.h.url_for("grandlyon_licence.read", id=licence["id"])
    errors: dict[str, list[str]] = {}
    values: dict[str, str] = {}
    accepted = False
    if tk.request.method == "POST":
        if not tk.current_user.is_authenticated:
            return tk.redirect_to(_login_url(self_url))
        form = tk.request.form
        values = {d["name"]: form.get(d["name"], "") for d in licence["signer_details"]}
        accepted = bool(form.get("accept"))
        if not accepted:
            errors["accept"] = [tk._("Tick the box to accept the terms of the licence")]
        else:
            data_dict = {"licence_id": licence["id"], "version": form.get("version", ""), **values}
            try:
                signature = tk.get_action("grandlyon_licence_sign")(context, data_dict)
            except tk.ValidationError as e:
                errors = e.error_dict
            except tk.NotAuthorized:
                return tk.abort(403, tk._("You are not allowed to sign this licence"))
            else:
                tk.h.flash_success(
                    tk._("You signed version {version} of the licence.").format(
                        version=signature["licence_version"]
                    )
                )
                return tk.redirect_to(_back_to(form.get("came_from"), self_url))
        # Show the licence as it is now (a new version may have come).
        licence = tk.get_action("grandlyon_licence_show")(context, {"id": id})

    previous = None
    if tk.current_user.is_authenticated and licence["signature_required"]:
        if not licence["signed_current_version"]:
            # One's own signatures only (without `user`, a sysadmin gets everyone's).
            older = tk.get_action("grandlyon_licence_signature_list")(
                context, {"licence_id": licence["id"], "user": tk.current_user.id, "limit": 1}
            )
            previous = older[0] if older else None
    return tk.render(
        "grandlyon_licence/read.html",
        {
            "licence": licence,
            "errors": errors,
            "error_summary": _error_summary(errors, licence),
            "values": values,
            "accepted": accepted,
            "previous_signature": previous,
            "login_url": _login_url(self_url),
            "came_from": _back_to(tk.request.values.get("came_from"), ""),
        },
    )


def mine():
    if not tk.current_user.is_authenticated:
        return tk.redirect_to(_login_url(tk.h.url_for("grandlyon_licence.mine")))
    signatures = tk.get_action("grandlyon_licence_signature_list")(
        _context(), {"include_revoked": True}
    )
    return tk.render("grandlyon_licence/mine.html", {"signatures": signatures})


def _require_sysadmin(context: dict[str, Any]) -> None:
    try:
        tk.check_access("sysadmin", context)
    except tk.NotAuthorized:
        tk.abort(403, tk._("Only sysadmins may manage licence signatures"))


def _admin_filters(source: Any) -> dict[str, Any]:
    return {
        "licence_id": (source.get("licence_id") or "").strip(),
        "user": (source.get("user") or "").strip(),
        "current": source.get("current") == "1",
    }


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    text = str(value)
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def _signatures_csv(signatures: list[dict[str, Any]]) -> str:
    current = registry.current()
    detail_names: list[str] = []
    for licence in current.licences if current else ():
        detail_names += [d.name for d in licence.signer_details if d.name not in detail_names]
    for signature in signatures:
        detail_names += [n for n in signature["details"] if n not in detail_names]
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([*CSV_COLUMNS, *detail_names])
    for s in signatures:
        writer.writerow(
            [_csv_cell(s[c]) for c in CSV_COLUMNS]
            + [_csv_cell(s["details"].get(n)) for n in detail_names]
        )
    return out.getvalue()


def _licence_filtered(context: dict[str, Any], licence_id: str) -> dict[str, Any] | None:
    """The licence the signatures are filtered by, with its versions and texts."""
    if not licence_id or registry.get_licence(licence_id) is None:
        return None
    return tk.get_action("grandlyon_licence_show")(context, {"id": licence_id})


def admin_signatures():
    context = _context()
    _require_sysadmin(context)
    filters = _admin_filters(tk.request.args)
    data_dict: dict[str, Any] = {
        "current_only": filters["current"],
        "include_revoked": not filters["current"],
    }
    if filters["licence_id"]:
        data_dict["licence_id"] = filters["licence_id"]
    if filters["user"]:
        data_dict["user"] = filters["user"]
    errors: dict[str, list[str]] = {}
    try:
        signatures = tk.get_action("grandlyon_licence_signature_list")(context, data_dict)
    except tk.ValidationError as e:
        errors = e.error_dict
        signatures = []

    if tk.request.args.get("format") == "csv":
        if errors:
            return Response(
                " ".join(m for messages in errors.values() for m in messages) + "\n",
                status=400,
                mimetype="text/plain",
            )
        return Response(
            _signatures_csv(signatures),
            mimetype="text/csv",
            headers={"Content-Disposition": 'attachment; filename="licence-signatures.csv"'},
        )
    licences = tk.get_action("grandlyon_licence_list")(context, {})
    return tk.render(
        "grandlyon_licence/admin_signatures.html",
        {
            "signatures": signatures,
            "licences": licences,
            "licence": _licence_filtered(context, filters["licence_id"]),
            "text_field": TEXT_FIELD,
            "filters": filters,
            "errors": errors,
            "csv_url": tk.h.url_for(
                "grandlyon_licence.admin_signatures",
                format="csv",
                **{
                    k: v
                    for k, v in (("licence_id", filters["licence_id"]), ("user", filters["user"]))
                    if v
                },
                **({"current": "1"} if filters["current"] else {}),
            ),
        },
    )


def admin_revoke(id: str):
    context = _context()
    _require_sysadmin(context)
    form = tk.request.form
    try:
        tk.get_action("grandlyon_licence_signature_revoke")(
            context, {"id": id, "reason": form.get("reason", "")}
        )
    except tk.ObjectNotFound:
        return tk.abort(404, tk._("Signature not found"))
    except tk.ValidationError as e:
        _flash_errors(e, {"reason": tk._("Reason"), "id": tk._("Signature")})
    else:
        tk.h.flash_success(tk._("The signature was revoked."))
    filters = _admin_filters(form)
    params = {
        k: v for k, v in (("licence_id", filters["licence_id"]), ("user", filters["user"])) if v
    }
    if filters["current"]:
        params["current"] = "1"
    return tk.redirect_to(tk.h.url_for("grandlyon_licence.admin_signatures", **params))


def _flash_errors(error: tk.ValidationError, labels: dict[str, str]) -> None:
    """A form's errors as one flash message, each after its field's label."""
    tk.h.flash_error(" ".join(
        "{}: {}".format(labels.get(key, key), " ".join(messages))
        for key, messages in error.error_dict.items()))


def _texts_of(form: Any) -> dict[str, str]:
    """The texts of a new version by language, from the fields `text_<language>`."""
    return {key[len(TEXT_FIELD):]: value for key, value in form.items()
            if key.startswith(TEXT_FIELD) and value.strip()}


def admin_publish_version():
    """A sysadmin publishes a new version of a licence (form of the
    signatures page; with its texts when the page shows one licence)."""
    context = _context()
    _require_sysadmin(context)
    form = tk.request.form
    data_dict = {"licence_id": form.get("licence_id", ""), "version": form.get("version", "")}
    texts = _texts_of(form)
    if texts:
        data_dict["text"] = texts
    try:
        licence = tk.get_action("grandlyon_licence_version_publish")(context, data_dict)
    except tk.ValidationError as e:
        _flash_errors(e, {"licence_id": tk._("Licence"), "version": tk._("New version"),
                          "text": tk._("Text")})
    else:
        tk.h.flash_success(
            tk._(
                "Version {version} of {title} is published: its signatories are asked to sign "
                "it before reaching its data again."
            ).format(version=licence["version"], title=licence["title"])
        )
    if form.get("shown") == "licence" and registry.get_licence(data_dict["licence_id"]):
        return tk.redirect_to(tk.h.url_for(
            "grandlyon_licence.admin_signatures", licence_id=data_dict["licence_id"]))
    return tk.redirect_to(tk.h.url_for("grandlyon_licence.admin_signatures"))


grandlyon_licence.add_url_rule("/licence/", view_func=index, strict_slashes=False)
grandlyon_licence.add_url_rule("/licence/mine", view_func=mine)
grandlyon_licence.add_url_rule("/licence/<id>", view_func=read, methods=["GET", "POST"])
grandlyon_licence.add_url_rule("/ckan-admin/licence-signatures", view_func=admin_signatures)
grandlyon_licence.add_url_rule(
    "/ckan-admin/licence-signatures/<id>/revoke", view_func=admin_revoke, methods=["POST"]
)
grandlyon_licence.add_url_rule(
    "/ckan-admin/licences/version", view_func=admin_publish_version, methods=["POST"]
)

