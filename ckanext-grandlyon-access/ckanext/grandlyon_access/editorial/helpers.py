"""Template helpers of editorial content (registered by the access plugin)."""

from __future__ import annotations

from typing import Any

import ckan.plugins.toolkit as tk
from ckanext.grandlyon_access.editorial import render

__all__ = ["grandlyon_access_editorial_latest"]


def grandlyon_access_editorial_latest(kind: str = "news", limit: int = 3) -> list[dict[str, Any]]:
    """The latest published articles (or pages) in the page's language, for
    a block of the home page: each with `title`, `summary`, `url`,
    `image_url`, `published` (ISO) and `html`. Drafts never appear."""
    result = tk.get_action("grandlyon_access_editorial_list")(
        {"user": "", "auth_user_obj": None}, {"kind": kind, "limit": limit})
    return [render.localised(item, tk.h.lang()) for item in result["results"]]
