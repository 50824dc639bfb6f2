"""Template helpers of the history plugin."""

from __future__ import annotations

import ckan.model as model
import ckan.plugins.toolkit as tk

__all__ = ["history_tab_visible"]


def history_tab_visible(package_id: str, resource_id: str) -> bool:
    """Does the resource page link to the history page? When the resource
    has a feed or a history, or the user may declare one."""
    from ckanext.history.model import Feed

    if model.Session.query(Feed.id).filter(Feed.resource_id == resource_id).first():
        return True
    try:
        from ckanext.history import store

        if store.get_schema(resource_id) is not None:
            return True
    except ImportError:
        pass
    return tk.h.check_access("package_update", {"id": package_id})
