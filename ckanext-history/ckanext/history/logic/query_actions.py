"""Reading histories: `history_query` (rows and aggregates over both tiers)
and `history_show` (feed, coverage, gaps).

Both need the right to read the dataset's data (`grandlyon_access_data_read`
on the resource, or package_show when the access plugin is not loaded). A
resource the user may not see answers the same 404 as one that does not
exist; a dataset whose metadata the user sees but not its data answers 403.
"""

from __future__ import annotations

from typing import Any

import ckan.model as model
import ckan.plugins.toolkit as tk
from ckan.types import Context, DataDict
from ckanext.grandlyon_access import shared as access
from ckanext.history import problems
from ckanext.history.logic import auth


def check_read(context: Context, resource_id: Any, action: str) -> tuple[model.Resource, model.Package]:
    """The resource, once the user may read its data: 404 when the user may
    not see its dataset (as for a missing resource), 403 when the user sees
    the dataset but not its data (the access distribution's one policy);
    then the action's own auth function, which other plugins may chain."""
    if not resource_id:
        raise tk.ValidationError({"resource_id": [tk._("Missing value")]})
    resource, package = auth.resource_and_package(resource_id)
    try:
        access.check_data_read(context, resource.id)
    except tk.ObjectNotFound:
        # The same answer as a resource that does not exist.
        raise auth.not_found() from None
    tk.check_access(action, context, {"resource_id": resource.id})
    return resource, package


def _schema_of(resource_id: str) -> list[dict]:
    from ckanext.history import store

    fields = store.get_schema(resource_id)
    if fields is None:
        raise tk.ObjectNotFound(tk._("This resource has no history"))
    return fields


@tk.side_effect_free
def history_query(context: Context, data_dict: DataDict) -> dict[str, Any]:
    """Rows or aggregates of a resource's history, from the archive and the
    hot rows together, in (time, feature) order, a page at a time.

    :param resource_id: the resource
    :param start: ISO 8601 (naive = UTC), included; default one day before end
    :param end: ISO 8601, excluded; default now
    :param features: list of feature ids (default all)
    :param fields: list of field names (default all value fields)
    :param aggregate: none, minute, hour, day, week or month (default none)
    :param functions: among avg, min, max, sum, count, first, last (default
        ["avg"]; with an aggregate only)
    :param per_feature: with an aggregate, one row per feature and bucket
        (default true) or per bucket across features
    :param limit: records per page (default 1000, at most the configured max)
    :param cursor: next_cursor of the previous page
    :returns: {"fields": [{"id", "type"}], "records": [...], "next_cursor"}
    """
    from ckanext.history import query

    resource, _package = check_read(context, data_dict.get("resource_id"), "history_query")
    q = query.parse({**data_dict, "resource_id": resource.id}, _schema_of(resource.id))
    answer = query.run(q)
    access.record_data_read(context, resource.id, "history")
    return answer


@tk.side_effect_free
def history_show(context: Context, data_dict: DataDict) -> dict[str, Any]:
    """A resource's history: its feed (the source URL for the dataset's
    editors only), what it covers and the gaps of its source.

    :param resource_id: the resource
    :returns: {"feed", "coverage": {"first", "last", "rows", "hot_rows",
        "archived_rows", "months"}, "gaps": [{"start", "end", "reason",
        "problem", "problem_explained"}]}: `rows` counts each (feature, time)
        once, `hot_rows` those not archived yet; a gap's `reason` is English
        (the worker's own words to the dataset's editors, which may name the
        source's addresses; to other readers, the problem's sentence or
        `PUBLIC_REASON`), `problem_explained` says what happened, what was
        kept and what to do in the request's language
    """
    from ckanext.history import query, store
    from ckanext.history.model import Feed, Gap

    resource, package = check_read(context, data_dict.get("resource_id"), "history_show")
    has_feed = model.Session.query(Feed.id).filter(Feed.resource_id == resource.id).first()
    if store.get_schema(resource.id) is None and has_feed is None:
        raise tk.ObjectNotFound(tk._("This resource has no history"))
    feed = None
    if has_feed is not None:
        try:
            feed = tk.get_action("history_feed_show")(
                {k: v for k, v in context.items() if k in ("user", "auth_user_obj", "ignore_auth")},
                {"resource_id": resource.id})
        except (KeyError, tk.ObjectNotFound, tk.NotAuthorized):
            feed = None
    gaps = (model.Session.query(Gap).filter(Gap.resource_id == resource.id)
            .order_by(Gap.start).all())
    editor = auth.may_edit(context, package.id)
    return {
        "feed": feed,
        "coverage": query.coverage(resource.id),
        "gaps": [{"start": g.start.isoformat(), "end": g.end.isoformat() if g.end else None,
                  "reason": g.reason if editor else (problems.english(g.problem) or PUBLIC_REASON),
                  "problem": g.problem,
                  "problem_explained": problems.explain(g.problem)} for g in gaps],
    }


# A gap's reason for readers who do not edit the dataset, when the gap holds
# no problem to explain (gaps recorded before problems were).
PUBLIC_REASON = "The source could not be read."


def get_actions() -> dict:
    return {"history_query": history_query, "history_show": history_show}
