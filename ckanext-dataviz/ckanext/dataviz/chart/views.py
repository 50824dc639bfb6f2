"""The route of view embeds (added to the dataviz blueprint by views.py).

/dataviz/embed/view/<view_id> (embed_view): any resource view of a dataset alone in a bare
page (dataviz/embed/base.html) that other sites may frame. A viewer without
access to the data gets what they must do to reach it, and no data; a view of
a dataset they may not see is missing (404).
"""

from __future__ import annotations

from typing import Any

import ckan.lib.datapreview as datapreview
import ckan.plugins.toolkit as tk
from ckanext.dataviz.chart.plugin import _context, _embed_url
from ckanext.grandlyon_access import shared as access
from flask import make_response


def _frameable(html: str, status: int = 200):
    response = make_response(html, status)
    response.headers["Content-Security-Policy"] = "frame-ancestors *"
    response.headers.pop("X-Frame-Options", None)
    return response


def embed_view(view_id: str):
    context = _context()
    try:
        view = tk.get_action("resource_view_show")(dict(context), {"id": view_id})
        resource = tk.get_action("resource_show")(dict(context), {"id": view["resource_id"]})
        package = tk.get_action("package_show")(dict(context), {"id": resource["package_id"]})
    except (tk.ObjectNotFound, tk.NotAuthorized):
        return tk.abort(404, tk._("Resource view not found"))
    plugin = datapreview.get_view_plugin(view["view_type"])
    if plugin is None:
        return tk.abort(404, tk._("Resource view not found"))
    data: dict[str, Any] = {"resource_view": view, "resource": resource, "package": package}
    allowed = access.view_access(resource["id"], package["id"])
    if not allowed["dataviz_allowed"]:
        data.update(allowed, dataviz_embed=True)
        return _frameable(tk.render("dataviz/embed/denied.html", extra_vars=data))
    data.update(plugin.setup_template_variables(dict(context), data) or {})
    data.update(dataviz_embed=True, dataviz_embed_url=_embed_url(view["id"]))
    return _frameable(tk.render(plugin.view_template(dict(context), data), extra_vars=data))
