"""What the map pages and the map view hand to the browser (map.js): the
layers the viewer may see, with their style, or why they are unavailable and
what to do; translated messages; the basemap from the configuration."""

from __future__ import annotations

import html
from typing import Any

import ckan.model as model
import ckan.plugins as p
import ckan.plugins.toolkit as tk
from ckanext.dataviz import config
from ckanext.dataviz.logic import auth, validators


def current_context() -> dict[str, Any]:
    user = tk.current_user
    authenticated = bool(getattr(user, "is_authenticated", False))
    return {"model": model, "user": user.name if authenticated else "",
            "auth_user_obj": user if authenticated else None}


def next_step(layer: dict[str, Any], came_from: str = "") -> dict[str, str] | None:
    """The link that leads a viewer without access to the data."""
    step = layer.get("next_step")
    if step == "login":
        return {"label": tk._("Log in to see this layer"),
                "url": tk.h.url_for("user.login", came_from=came_from or None)}
    if step == "sign" and layer.get("licence_id") and p.plugin_loaded("grandlyon_licence"):
        return {"label": tk._("Sign the licence to see this layer"),
                "url": tk.h.url_for("grandlyon_licence.read", id=layer["licence_id"])}
    if step == "request" and layer.get("package_name"):
        return {"label": tk._("Ask for access to see this layer"),
                "url": tk.h.url_for("dataset.read", id=layer["package_name"])}
    return None


def messages() -> dict[str, str]:
    return {
        "loading": tk._("Loading the map's data…"),
        "features": tk._("{n} features"),
        "truncated": tk._("only the first {n} features are shown"),
        "error": tk._("This layer could not be shown: {reason}"),
        "unavailable": tk._("Layer not available to you"),
        "hidden": tk._("This layer is not available."),
        "no_data": tk._("no data"),
        "other": tk._("Other values"),
        "table": tk._("Data of the layer {title}"),
        "table_more": tk._("The table shows the first {n} features."),
        "summary": tk._("Map {title} with {count} layers:"),
        "layer_line": tk._("{title}: {n} features"),
        "property": tk._("Property"),
        "value": tk._("Value"),
        "legend": tk._("Legend"),
        "feature": tk._("Feature"),
        "map_label": tk._("Map {title}. Use the arrow keys to pan, + and - to zoom."),
        "network": tk._("the portal did not answer"),
    }


def _base(title: str, layers: list[dict[str, Any]], came_from: str = "") -> dict[str, Any]:
    for layer in layers:
        if not layer.get("available"):
            layer["next"] = next_step(layer, came_from)
    return {
        "title": title,
        "layers": layers,
        "bbox": None,
        "legend": True,
        "basemap": {"url": config.basemap_tile_url(), "attribution": config.basemap_attribution()},
        "api": tk.h.url_for("api.action", ver=3, logic_function="dataviz_map_layer_data"),
        "max_features": config.map_max_features(),
        "messages": messages(),
    }


def view_map_config(view: dict[str, Any], resource: dict[str, Any]) -> dict[str, Any]:
    """The map of a resource view: one layer, the resource."""
    layer, _errors = validators.view_layer(view)
    context = current_context()
    access = auth.layer_access(context, resource.get("id") or "")
    package = access.get("package")
    entry = {
        "resource_id": resource.get("id"), "title": view.get("title") or resource.get("name") or "",
        "source": layer["source"] if access.get("data") else {}, "style": layer["style"],
        "available": bool(access.get("data")), "hidden": not access.get("seen"),
        "next_step": access.get("next_step"), "licence_id": access.get("licence_id"),
        "package_name": package.name if package is not None else None,
    }
    came_from = ""
    if package is not None:
        came_from = tk.h.url_for("dataset.read", id=package.name)
    return _base(view.get("title") or resource.get("name") or "", [entry], came_from)


def saved_map_config(saved: dict[str, Any], came_from: str = "") -> dict[str, Any]:
    """The map of a saved map (dataviz_map_show's answer)."""
    out = _base(saved["title"], [dict(layer) for layer in saved.get("layers") or []], came_from)
    out["bbox"] = saved.get("bbox")
    out["legend"] = saved.get("legend", True)
    return out


def dataviz_maps_of_dataset(package_id: str) -> list[dict[str, Any]]:
    """Saved maps with a layer of this dataset that the current user may see."""
    try:
        return tk.get_action("dataviz_map_list")(current_context(), {"package_id": package_id})
    except (tk.ObjectNotFound, tk.NotAuthorized):
        return []


def dataviz_map_embed_code(url: str, title: str) -> str:
    """The <iframe> code of an embed, its attributes escaped (the template
    escapes the whole again for the <textarea> it is shown in)."""
    return (f'<iframe src="{html.escape(url, quote=True)}" title="{html.escape(title or "", quote=True)}" '
            f'width="100%" height="500" style="border:0" loading="lazy"></iframe>')


def get_helpers() -> dict[str, Any]:
    return {"dataviz_maps_of_dataset": dataviz_maps_of_dataset,
            "dataviz_map_embed_code": dataviz_map_embed_code}
