"""Template helpers of the history plugin."""

from __future__ import annotations

import ckan.model as model
import ckan.plugins.toolkit as tk

from . import problems, store
from .model import Feed
from .logic.auth import may_read_data

__all__ = ["history_tab_visible", "history_problem"]


def history_problem(problem: dict | None) -> dict | None:
    """A recorded problem of a feed or a gap said in the reader's language:
    {"what", "details", "kept", "todo"}, or None (problems.explain)."""
    return problems.explain(problem)


def history_tab_visible(package_id: str, resource_id: str) -> bool:
    """Does the resource page link to the history page? For the dataset's
    editors always (they declare the feed there); for others when the
    resource has a feed or a history and they may read its data."""
    if tk.h.check_access("package_update", {"id": package_id}):
        return True
    has_history = model.Session.query(Feed.id).filter(Feed.resource_id == resource_id).first()
    if not has_history:
        has_history = store.get_schema(resource_id) is not None
    if not has_history:
        return False
    user = tk.current_user
    context = {"model": model, "user": user.name if user.is_authenticated else "",
               "auth_user_obj": user}
    return may_read_data(context, resource_id)
