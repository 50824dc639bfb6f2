"""The history plugin's one blueprint, `history`: download.py and feed.py add
its routes."""

from __future__ import annotations

from flask import Blueprint

history = Blueprint("history", __name__)
