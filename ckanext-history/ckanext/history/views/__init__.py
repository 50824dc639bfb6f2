"""The history plugin's pages: download.py (query downloads and monthly
files) and feed.py (the resource page's history tab and feed form) add their
routes to the one blueprint of blueprint.py."""

from __future__ import annotations

from . import download, feed
from .blueprint import history

__all__ = ["download", "feed", "history"]
