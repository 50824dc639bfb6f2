"""The dataviz plugin's one blueprint: view embeds (chart/views.py), saved
maps, the map builder and their embeds (maps/views.py)."""

from __future__ import annotations

from ckanext.dataviz.chart import views as chart_views
from ckanext.dataviz.maps import views as map_views
from flask import Blueprint

dataviz = Blueprint("dataviz", __name__)

dataviz.add_url_rule("/dataviz/embed/view/<view_id>", view_func=chart_views.embed_view)
dataviz.add_url_rule("/dataviz/map/new", view_func=map_views.map_new, methods=["GET", "POST"])
dataviz.add_url_rule("/dataviz/map/<id>", view_func=map_views.map_read)
dataviz.add_url_rule("/dataviz/map/<id>/edit", view_func=map_views.map_edit,
                     methods=["GET", "POST"])
dataviz.add_url_rule("/dataviz/map/<id>/delete", view_func=map_views.map_delete,
                     methods=["POST"])
dataviz.add_url_rule("/dataviz/embed/map/<id>", view_func=map_views.map_embed)
