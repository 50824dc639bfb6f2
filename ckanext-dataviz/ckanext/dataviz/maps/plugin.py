"""The resource view `dataviz_map`: a map of a GeoJSON, WFS, OGC API
Features or table (latitude/longitude) resource, styled by a property."""

from __future__ import annotations

from typing import Any

import ckan.plugins as p
import ckan.plugins.toolkit as tk
from ckan.types import Context, DataDict
from ckanext.dataviz.logic import schema
from ckanext.dataviz.maps import helpers

GEO_FORMATS = ("geojson", "json", "wfs", "ogc api features", "oapif", "csv")

class DatavizMapPlugin(p.SingletonPlugin):
    """Map view of a resource (`dataviz_map`)."""

    p.implements(p.IResourceView, inherit=True)
    p.implements(p.ITemplateHelpers)

    def get_helpers(self) -> dict[str, Any]:
        return helpers.get_helpers()

    def info(self) -> dict[str, Any]:
        return {
            "name": "dataviz_map",
            "title": tk._("Map"),
            "default_title": tk._("Map"),
            "icon": "map",
            "iframed": True,
            "always_available": False,
            "preview_enabled": False,
            "full_page_edit": False,
            "schema": schema.map_view(),
        }

    def can_view(self, data_dict: DataDict) -> bool:
        resource = data_dict.get("resource") or {}
        fmt = (resource.get("format") or "").strip().lower()
        return fmt in GEO_FORMATS or bool(resource.get("datastore_active"))

    def setup_template_variables(self, context: Context, data_dict: DataDict) -> dict[str, Any]:
        view = data_dict.get("resource_view") or {}
        resource = data_dict.get("resource") or {}
        out: dict[str, Any] = {"map_config": helpers.view_map_config(view, resource)}
        if view.get("id"):
            out["dataviz_embed_url"] = tk.url_for("dataviz.embed_view", view_id=view["id"],
                                                  _external=True)
        return out

    def view_template(self, context: Context, data_dict: DataDict) -> str:
        return "dataviz/map/view.html"

    def form_template(self, context: Context, data_dict: DataDict) -> str:
        return "dataviz/map/view_form.html"
