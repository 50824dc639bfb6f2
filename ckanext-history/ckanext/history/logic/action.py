"""The history plugin's actions.

Feeds (a resource declared the real-time source of a history):
`history_feed_create`, `history_feed_update`, `history_feed_show`,
`history_feed_delete`. The dataset's publishers (package_update) declare,
change and delete feeds; reading a feed needs the right to read the
dataset's data, and its source URL and fetch errors are shown to the
publishers only.

Histories: `history_query` (rows and aggregates over both tiers),
`history_feed_count` (the feeds of the datasets the caller sees),
`history_snapshot` (every feature at one step of time, for maps through
time) and `history_show` (feed, coverage, gaps), for whoever may read the
dataset's data.

Who may do what is in `auth.py`; what a feed declaration may hold in
`schema.py` and `validators.py`. A resource the user may not see answers the
same 404 as one that does not exist; a dataset whose metadata the user sees
but not its data answers 403.
"""

from __future__ import annotations

import datetime
import functools
from collections.abc import Callable
from typing import Any

import ckan.model as model
import ckan.plugins.toolkit as tk
from ckan.logic import validate
from ckan.types import Context, DataDict
from ckanext.grandlyon_access import shared as access
from ckanext.history import archive, problems, query, snapshot, store
from ckanext.history.logic import auth, schema
from ckanext.history.model import Feed, Gap, schema_table, utcnow
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

# What a feed declares (the rest is kept by the ingest worker).
DECLARED = ("url", "format", "feature_id_field", "time_field", "fields", "interval_seconds",
            "hot_retention_days", "store_mode", "enabled")


def _iso(value: datetime.datetime | None) -> str | None:
    return value.isoformat() if value else None


def _feed_of(resource_id: str) -> Feed | None:
    return model.Session.query(Feed).filter(Feed.resource_id == resource_id).one_or_none()


def _open_gap(resource_id: str) -> Gap | None:
    return (model.Session.query(Gap)
            .filter(Gap.resource_id == resource_id, Gap.end.is_(None)).one_or_none())


def feed_dict(feed: Feed, with_source: bool) -> dict[str, Any]:
    """A feed as the API shows it; `with_source` adds the URL, the validators
    of conditional requests and the last error (publishers only)."""
    gap = _open_gap(feed.resource_id)
    out: dict[str, Any] = {
        "id": feed.id,
        "resource_id": feed.resource_id,
        "package_id": feed.package_id,
        "format": feed.format,
        "feature_id_field": feed.feature_id_field,
        "time_field": feed.time_field or "",
        "fields": list(feed.fields or []),
        "interval_seconds": feed.interval_seconds,
        "hot_retention_days": feed.hot_retention_days,
        "store_mode": feed.store_mode,
        "enabled": feed.enabled,
        "created": _iso(feed.created),
        "modified": _iso(feed.modified),
        "last_fetch_at": _iso(feed.last_fetch_at),
        "last_success_at": _iso(feed.last_success_at),
        "next_poll_at": _iso(feed.next_poll_at),
        "consecutive_failures": feed.consecutive_failures,
        "failing_since": _iso(gap.start) if gap else None,
        # What went wrong at the last poll (None when all went well), and
        # said in the reader's language.
        "problem": feed.problem,
        "problem_explained": problems.explain(feed.problem),
    }
    if with_source:
        out.update({"url": feed.url, "etag": feed.etag, "last_modified": feed.last_modified,
                    "last_error": feed.last_error})
    return out


def _authorised(action_name: str) -> Callable:
    """The resource must be one the user sees (else the 404 of a missing
    resource) and the action allowed on it (403), before its input is read."""
    def decorator(action: Callable) -> Callable:
        @functools.wraps(action)
        def wrapper(context: Context, data_dict: DataDict) -> Any:
            resource, _package = auth.visible_resource(context, data_dict.get("resource_id"))
            tk.check_access(action_name, context, {"resource_id": resource.id})
            return action(context, data_dict)
        return wrapper
    return decorator


def _as_submitted(schema_func: Callable[[], dict]) -> Callable:
    """The input made what CKAN's navl validation reads, before `@validate`
    (schema.single_values)."""
    def decorator(action: Callable) -> Callable:
        @functools.wraps(action)
        def wrapper(context: Context, data_dict: DataDict) -> Any:
            return action(context, schema.single_values(data_dict, schema_func()))
        return wrapper
    return decorator


def _ensure_schema(resource_id: str, fields: list[dict]) -> None:
    try:
        store.ensure_schema(resource_id, fields)
    except tk.ValidationError as error:
        raise tk.ValidationError({"fields": (error.error_dict or {}).get("fields")
                                  or [str(error)]}) from None


def _has_history(resource_id: str) -> bool:
    return bool(store.hot_stats(resource_id)["rows"] or archive.month_files(resource_id))


def _refuse_retyped_fields(resource_id: str, before: list[dict], after: list[dict]) -> None:
    """A field keeps its type once its history holds values: the stored
    values of the former type would no longer read (every query and
    download of the resource would fail). A field may be added, or removed
    (old rows keep its values)."""
    former = {f.get("name"): f.get("type") for f in before}
    retyped = [f["name"] for f in after if f.get("name") in former
               and former[f["name"]] != f.get("type")]
    if retyped and _has_history(resource_id):
        raise tk.ValidationError({"fields": [tk._(
            "The type of {fields} cannot change: the history already holds values of the "
            "former type, which would no longer read. Declare a field with a new name "
            "instead, or delete the feed and its history to start again.").format(
                fields=", ".join(retyped))]})


def _commit() -> None:
    try:
        model.Session.commit()
    except IntegrityError as error:
        model.Session.rollback()
        if getattr(error.orig, "pgcode", None) != UNIQUE_VIOLATION:
            raise
        raise tk.ValidationError(
            {"resource_id": [tk._("This resource already has a feed")]}) from None


# PostgreSQL's error code of a unique constraint violated (a second feed).
UNIQUE_VIOLATION = "23505"


@_authorised("history_feed_create")
@_as_submitted(schema.feed_create)
@validate(schema.feed_create)
def history_feed_create(context: Context, data_dict: DataDict) -> dict[str, Any]:
    """Declares a resource the real-time source of a history. The dataset's
    editors and admins (package_update).

    :param resource_id: the resource whose history this feed fills
    :param url: the source, fetched by the ingest worker (http or https, not a
        private address unless the configuration allows it)
    :param format: ``geojson`` (a FeatureCollection), ``json`` (an array of
        objects) or ``csv`` (a header line)
    :param feature_id_field: the property that identifies a feature (a station)
    :param time_field: the property holding each feature's time (ISO 8601 or
        epoch seconds); empty: the time of the fetch
    :param fields: value fields, ``[{"name": "available_bikes", "type": "int"}]``;
        types: int, float, text, bool, timestamp
    :param interval_seconds: polling interval (default 60, bounds configured)
    :param hot_retention_days: days kept in the hot tier once archived (optional)
    :param store_mode: ``changes`` (a feature's values only when they changed,
        the default) or ``every`` (every poll)
    :param enabled: poll it (default true)
    """
    resource, package = auth.resource_and_package(data_dict["resource_id"])
    if _feed_of(resource.id) is not None:
        raise tk.ValidationError({"resource_id": [tk._("This resource already has a feed")]})
    user = model.User.get(context.get("user") or "")
    feed = Feed(resource_id=resource.id, package_id=package.id,
                creator_user_id=user.id if user else None, next_poll_at=utcnow(),
                **{key: data_dict[key] for key in DECLARED if key in data_dict})
    feed.time_field = data_dict.get("time_field") or None
    _ensure_schema(resource.id, feed.fields)
    model.Session.add(feed)
    _commit()
    return feed_dict(feed, with_source=True)


@_authorised("history_feed_update")
@_as_submitted(schema.feed_update)
@validate(schema.feed_update)
def history_feed_update(context: Context, data_dict: DataDict) -> dict[str, Any]:
    """Changes a feed's declaration: the keys given are changed, the others
    kept (parameters as history_feed_create). A new URL forgets the validators
    of conditional requests; a change of schedule or enabling polls at once."""
    resource, _package = auth.resource_and_package(data_dict["resource_id"])
    feed = _feed_of(resource.id)
    if feed is None:
        raise tk.ObjectNotFound(tk._("This resource has no feed"))
    data = dict(data_dict)
    changed = {key for key in DECLARED if key in data and data[key] != getattr(feed, key)}
    if "fields" in changed:
        _refuse_retyped_fields(resource.id, feed.fields or [], data["fields"])
    if "time_field" in changed and not data["time_field"]:
        data["time_field"] = None
    for key in changed:
        setattr(feed, key, data[key])
    if "url" in changed or "format" in changed:
        feed.etag = feed.last_modified = None
    if "url" in changed:
        feed.consecutive_failures = 0
    if changed & {"url", "format", "interval_seconds", "enabled"} and feed.enabled:
        feed.next_poll_at = utcnow()
    if "fields" in changed:
        _ensure_schema(resource.id, feed.fields)
    _commit()
    return feed_dict(feed, with_source=True)


@tk.side_effect_free
@validate(schema.feed_ref)
def history_feed_show(context: Context, data_dict: DataDict) -> dict[str, Any]:
    """A resource's feed: its declaration and the state of its polling.
    Needs the right to read the dataset's data; the source URL and the last
    error are shown to the dataset's editors only.

    :param resource_id: the resource
    """
    resource, package = auth.visible_resource(context, data_dict["resource_id"])
    tk.check_access("history_feed_show", context, {"resource_id": resource.id})
    feed = _feed_of(resource.id)
    if feed is None:
        raise tk.ObjectNotFound(tk._("This resource has no feed"))
    return feed_dict(feed, with_source=auth.may_edit(context, package.id))


@validate(schema.feed_ref)
def history_feed_delete(context: Context, data_dict: DataDict) -> None:
    """Deletes a resource's feed and its whole history (hot rows, archive
    files, gaps). The dataset's editors and admins.

    :param resource_id: the resource
    """
    resource, _package = auth.visible_resource(context, data_dict["resource_id"])
    tk.check_access("history_feed_delete", context, {"resource_id": resource.id})
    if _feed_of(resource.id) is None:
        raise tk.ObjectNotFound(tk._("This resource has no feed"))
    delete_history(resource.id)


def delete_history(resource_id: str) -> None:
    """Deletes a resource's feed, gaps, hot rows and archive files (the
    history of a deleted resource goes with it)."""
    store.delete_resource(resource_id)
    archive.delete_resource(resource_id)
    model.Session.query(Gap).filter(Gap.resource_id == resource_id).delete()
    model.Session.query(Feed).filter(Feed.resource_id == resource_id).delete()
    model.Session.commit()


def prune(purged_only: bool = False) -> list[str]:
    """Deletes the histories of resources that were deleted or purged (a
    resource dropped by package_update, a purged dataset: nothing told the
    history plugin), or with `purged_only` of those no longer in the
    database. Returns their ids."""
    with store.engine().connect() as conn:
        ids = set(conn.execute(sa.select(schema_table.c.resource_id)).scalars())
    ids |= {rid for (rid,) in model.Session.query(Feed.resource_id)}
    ids |= {rid for (rid,) in model.Session.query(Gap.resource_id).distinct()}
    alive = model.Session.query(model.Resource.id).filter(model.Resource.id.in_(ids))
    if not purged_only:
        alive = alive.filter(model.Resource.state != "deleted")
    gone = sorted(ids - {rid for (rid,) in alive}) if ids else []
    for resource_id in gone:
        delete_history(resource_id)
    return gone


# --- histories ----------------------------------------------------------------------

def _schema_of(resource_id: str) -> list[dict]:
    fields = store.get_schema(resource_id)
    if fields is None:
        raise tk.ObjectNotFound(tk._("This resource has no history"))
    return fields


@tk.side_effect_free
def history_query(context: Context, data_dict: DataDict) -> dict[str, Any]:
    """Rows or aggregates of a resource's history, from the archive and the
    hot rows together, in (time, feature) order, a page at a time.

    :param resource_id: the resource
    :param start: ISO 8601 (with an offset or Z: exact; naive: a local time of
        `tz`), included; default one day before end
    :param end: ISO 8601, excluded; default now
    :param tz: IANA time zone of naive times, buckets and answered times
        (default the portal's, `ckan.display_timezone`)
    :param features: list of feature ids (default all)
    :param fields: list of field names (default all value fields)
    :param aggregate: none, minute, hour, day, week or month (default none)
    :param functions: among avg, min, max, sum, count, first, last (default
        ["avg"]; with an aggregate only)
    :param per_feature: with an aggregate, one row per feature and bucket
        (default true) or per bucket across features
    :param limit: records per page (default 1000, at most the configured max)
    :param cursor: next_cursor of the previous page
    :returns: {"fields": [{"id", "type"}], "records": [...], "next_cursor"};
        times in ISO 8601 with their offset in `tz`
    """
    resource, _package = auth.check_read(context, data_dict.get("resource_id"), "history_query")
    q = query.parse({**data_dict, "resource_id": resource.id}, _schema_of(resource.id))
    answer = query.run(q)
    access.record_data_read(context, resource.id, "history")
    return answer


@tk.side_effect_free
def history_snapshot(context: Context, data_dict: DataDict) -> dict[str, Any]:
    """Each feature of a resource's history at one step of time, for a map
    through time: one numeric field aggregated over the step (one bucket
    of history_query, per feature), with the feature's last position and
    name within the step. Who may read history_query may read this.

    :param resource_id: the resource
    :param time: ISO 8601 (naive: a local time of `tz`), a moment of the
        step; default now
    :param step: minute, hour, day, week or month of `tz` (default hour)
    :param field: a numeric field (default the first that is no coordinate)
    :param function: avg, min, max, sum, count, first or last (default avg)
    :param tz: IANA time zone (default the portal's)
    :returns: {"time", "end" (the step, ISO 8601 with offsets), "step",
        "tz", "field", "function", "positioned" (the feed declares
        coordinates), "min", "max", "features": [{"id", "name", "value",
        "lat", "lon"}]}: features with a reading in the step, by id
    """
    resource, _package = auth.check_read(context, data_dict.get("resource_id"),
                                         "history_snapshot")
    feed = _feed_of(resource.id)
    answer = snapshot.take({**data_dict, "resource_id": resource.id}, _schema_of(resource.id),
                           list(feed.fields or []) if feed is not None else [])
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
    unknown = [key for key in data_dict if key != "resource_id"]
    if unknown:
        raise tk.ValidationError({str(unknown[0])[:100]: [
            tk._("Unknown parameter: choose among %s") % "resource_id"]})
    resource, package = auth.check_read(context, data_dict.get("resource_id"), "history_show")
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


# Datasets asked of the search at a time (their ids in one Solr filter).
COUNT_BATCH = 200


@tk.side_effect_free
def history_feed_count(context: Context, data_dict: DataDict) -> int:
    """The number of real-time feeds (with their history) of the active
    datasets the caller may see, as the search shows them to the caller:
    a hidden or private dataset's feed is not counted for those who may
    not see it (the home page's key figure).

    :returns: an integer
    """
    tk.check_access("history_feed_count", context, data_dict)
    feeds = (model.Session.query(Feed.package_id)
             .join(model.Resource, model.Resource.id == Feed.resource_id)
             .join(model.Package, model.Package.id == Feed.package_id)
             .filter(model.Resource.state == "active", model.Package.state == "active")
             .all())
    packages = sorted({package_id for (package_id,) in feeds})
    visible: set[str] = set()
    search = tk.get_action("package_search")
    for start in range(0, len(packages), COUNT_BATCH):
        batch = packages[start:start + COUNT_BATCH]
        found = search({"user": context.get("user"), "auth_user_obj": context.get(
            "auth_user_obj")}, {"fq": "id:(" + " OR ".join(f'"{i}"' for i in batch) + ")",
                                "fl": "id", "rows": len(batch), "include_private": True})
        visible |= {dataset["id"] for dataset in found["results"]}
    return sum(1 for (package_id,) in feeds if package_id in visible)


def get_actions() -> dict:
    return {
        "history_feed_count": history_feed_count,
        "history_feed_create": history_feed_create,
        "history_feed_update": history_feed_update,
        "history_feed_show": history_feed_show,
        "history_feed_delete": history_feed_delete,
        "history_query": history_query,
        "history_snapshot": history_snapshot,
        "history_show": history_show,
    }
