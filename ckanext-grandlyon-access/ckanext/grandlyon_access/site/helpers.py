"""CKAN's template helpers made right for every language, on every page
(registered by the access plugin with its own helpers)."""

from __future__ import annotations

from typing import Any, Optional

import ckan.plugins.toolkit as tk
from ckan.lib.helpers import _datestamp_to_datetime
from flask_babel import format_date, format_datetime

__all__ = ["render_datetime"]


@tk.chained_helper
def render_datetime(next_helper: Any, datetime_: Any, date_format: Optional[str] = None,
                    with_hours: bool = False, with_seconds: bool = False) -> str:
    """CKAN's, but a date with its hour in the order of the page's language:
    CKAN writes it with an English pattern ("MMMM d, YYYY, HH:mm (z)") in
    every language ("décembre 6, 2026, 05:33")."""
    if not with_hours or with_seconds or date_format:
        return next_helper(datetime_, date_format, with_hours, with_seconds)
    value = _datestamp_to_datetime(datetime_)
    if not value:
        return ""
    return f"{format_date(value, 'long')}, {format_datetime(value, 'HH:mm (z)')}"
