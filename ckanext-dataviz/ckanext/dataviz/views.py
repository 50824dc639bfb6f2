"""The dataviz plugin's one blueprint; routes are added by chart/views.py
(chart data, view embeds) and maps/views.py (saved maps, builder, embeds)."""

from __future__ import annotations

from flask import Blueprint

dataviz = Blueprint("dataviz", __name__)

from .chart import views as _chart_views  # noqa: E402,F401  (register their routes)
from .maps import views as _map_views  # noqa: E402,F401
