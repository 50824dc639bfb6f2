"""Routes of saved maps, the map builder and their embeds (added to the
dataviz blueprint by views.py).
Redirects are relative: they stay on the host the user came through.

/dataviz/map/<id>          the map's page (id or name)
/dataviz/embed/map/<id>    the map alone, for an iframe in another site
/dataviz/map/new           the builder (logged-in users)
/dataviz/map/<id>/edit     the builder of a saved map (its owners)
/dataviz/map/<id>/delete   POST (its owners)
"""

from __future__ import annotations

import json
from typing import Any

import ckan.model as model
import ckan.plugins.toolkit as tk
from ckanext.dataviz.maps import helpers
from ckanext.dataviz.model import DatavizMap
from flask import make_response, redirect, request


def _show(id: str) -> dict[str, Any]:
    try:
        return tk.get_action("dataviz_map_show")(helpers.current_context(), {"id": id})
    except (tk.ObjectNotFound, tk.NotAuthorized):
        return tk.abort(404, tk._("Map not found"))


def map_read(id: str):
    saved = _show(id)
    config = helpers.saved_map_config(saved, came_from=request.path)
    return tk.render("dataviz/map/read.html", {
        "saved_map": saved, "map_config": config,
        "embed_url": tk.h.url_for("dataviz.map_embed", id=saved["id"], qualified=True)})


def map_embed(id: str):
    """Frameable by any site (as the view embeds of /dataviz/embed/view/)."""
    saved = _show(id)
    config = helpers.saved_map_config(saved, came_from=request.path)
    response = make_response(tk.render("dataviz/map/embed.html", {
        "saved_map": saved, "map_config": config, "dataviz_embed": True}))
    response.headers["Content-Security-Policy"] = "frame-ancestors *"
    response.headers.pop("X-Frame-Options", None)
    return response


def _organisations() -> list[dict[str, Any]]:
    try:
        return tk.get_action("organization_list_for_user")(
            helpers.current_context(), {"permission": "update_dataset"})
    except tk.NotAuthorized:
        return []


def _form_data() -> dict[str, Any]:
    form = tk.request.form.to_dict()
    data: dict[str, Any] = {k: form.get(k, "") for k in ("title", "name", "description", "bbox")}
    data["owner_org"] = form.get("owner_org") or None
    data["private"] = form.get("private") == "true"
    data["legend"] = form.get("legend") == "true"
    try:
        data["layers"] = json.loads(form.get("layers") or "[]")
    except ValueError:
        data["layers"] = form.get("layers")
    return data


def _builder(saved: dict[str, Any] | None):
    context = helpers.current_context()
    if not context["user"]:
        return redirect(tk.h.url_for("user.login", came_from=request.path))
    errors: dict[str, Any] = {}
    data: dict[str, Any] = dict(saved or {})
    if saved is not None:
        raw = model.Session.get(DatavizMap, saved["id"])
        visible = [layer for layer, shown in zip(raw.layers, saved["layers"]) if not shown["hidden"]]
        data["layers"] = visible
    if request.method == "POST":
        data = _form_data()
        try:
            if saved is None:
                result = tk.get_action("dataviz_map_create")(context, data)
            else:
                result = tk.get_action("dataviz_map_update")(context, dict(data, id=saved["id"]))
            return redirect(tk.h.url_for("dataviz.map_read", id=result["name"]))
        except tk.ValidationError as error:
            errors = error.error_dict
        except tk.NotAuthorized:
            return tk.abort(403, tk._("Only the map's owners change it"))
    layers = data.get("layers")
    return tk.render("dataviz/map/builder.html", {
        "saved_map": saved, "data": data, "errors": errors,
        "error_summary": {k: "; ".join(v) if isinstance(v, list) else str(v)
                          for k, v in errors.items()},
        "layers_json": layers if isinstance(layers, str) else json.dumps(layers or [], indent=2),
        "organisations": _organisations()})


def map_new():
    return _builder(None)


def map_edit(id: str):
    saved = _show(id)
    if not saved["can_edit"]:
        return tk.abort(403, tk._("Only the map's owners change it"))
    return _builder(saved)


def map_delete(id: str):
    saved = _show(id)
    try:
        tk.get_action("dataviz_map_delete")(helpers.current_context(), {"id": saved["id"]})
    except tk.NotAuthorized:
        return tk.abort(403, tk._("Only the map's owners change it"))
    tk.h.flash_success(tk._("The map was deleted."))
    return redirect(tk.h.url_for("dashboard.datasets"))

