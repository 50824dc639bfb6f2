"""The history plugin's one blueprint; routes are added by the modules below
(download: query downloads and monthly files; feed: the resource page's history
tab and feed form)."""

from __future__ import annotations

from flask import Blueprint

history = Blueprint("history", __name__)

from . import download, feed  # noqa: E402,F401  (register their routes)
