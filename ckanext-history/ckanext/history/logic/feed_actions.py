"""Feeds: a resource declared the real-time source of a history.

Actions `history_feed_create`, `history_feed_update`, `history_feed_show`,
`history_feed_delete` and their auth functions. The dataset's publishers
(package_update) declare, change and delete feeds; reading a feed needs the
right to read the dataset's data (`grandlyon_access_data_read`), and its
source URL and fetch errors are shown to the publishers only. A resource the
user may not see answers the same 404 as one that does not exist.
"""

from __future__ import annotations

import datetime
import json
from typing import Any

import ckan.lib.navl.dictization_functions as df
import ckan.model as model
import ckan.plugins.toolkit as tk
from ckan.types import Context, DataDict
from ckanext.history import problems
from ckanext.history.logic import auth, schema
from ckanext.history.model import Feed, Gap, utcnow
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

# What a feed declares (the rest is kept by the ingest worker).
DECLARED = ("url", "format", "feature_id_field", "time_field", "fields", "interval_seconds",
            "hot_retention_days", "store_mode", "enabled")


def _iso(value: datetime.datetime | None) -> str | None:
    return value.isoformat() if value else None



def _visible_resource(context: Context, resource_id: Any) -> tuple[model.Resource, model.Package]:
    """As auth.resource_and_package, and a dataset the user may not see is missing too."""
    if resource_id in (None, "") or resource_id is df.missing:
        raise tk.ValidationError({"resource_id": [tk._("Missing value")]})
    resource, package = auth.resource_and_package(resource_id)
    try:
        tk.check_access("package_show", dict(context), {"id": package.id})
    except tk.NotAuthorized:
        raise auth.not_found() from None
    return resource, package




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


def _validate(data_dict: DataDict, feed_schema: dict, context: Context) -> dict[str, Any]:
    # CKAN's validation hands a top-level empty list back without running the
    # field's validators, and some of its validators fail on a list or an
    # object: every field but `fields` takes a single value.
    data = {key: value for key, value in data_dict.items() if value != [] or key == "fields"}
    nested = {key: [tk._("Must be a single value")] for key, value in data.items()
              if key in feed_schema and key != "fields" and isinstance(value, (dict, list))}
    if nested:
        raise tk.ValidationError(nested)
    # The validators read text: numbers are given as text.
    data = {key: str(value) if isinstance(value, (int, float)) and not isinstance(value, bool)
            else value for key, value in data.items()}
    # navl flattens lists of dicts; the fields validator reads them as JSON.
    if isinstance(data.get("fields"), (list, dict)):
        data["fields"] = json.dumps(data["fields"])
    data, errors = df.validate(data, feed_schema, dict(context))
    if errors:
        raise tk.ValidationError(errors)
    return data


def _store():
    from ckanext.history import store

    return store


def _ensure_schema(resource_id: str, fields: list[dict]) -> None:
    try:
        _store().ensure_schema(resource_id, fields)
    except tk.ValidationError as error:
        raise tk.ValidationError({"fields": (error.error_dict or {}).get("fields")
                                  or [str(error)]}) from None


def _has_history(resource_id: str) -> bool:
    from ckanext.history import archive

    return bool(_store().hot_stats(resource_id)["rows"] or archive.month_files(resource_id))


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
    except IntegrityError:
        model.Session.rollback()
        raise tk.ValidationError(
            {"resource_id": [tk._("This resource already has a feed")]}) from None


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
    _resource, package = _visible_resource(context, data_dict.get("resource_id"))
    tk.check_access("history_feed_create", context, {"resource_id": _resource.id})
    data = _validate(data_dict, schema.feed_create(), context)
    if _feed_of(_resource.id) is not None:
        raise tk.ValidationError({"resource_id": [tk._("This resource already has a feed")]})
    user = model.User.get(context.get("user") or "")
    feed = Feed(resource_id=_resource.id, package_id=package.id,
                creator_user_id=user.id if user else None, next_poll_at=utcnow(),
                **{key: data.get(key) for key in DECLARED if key in data})
    feed.time_field = data.get("time_field") or None
    _ensure_schema(_resource.id, feed.fields)
    model.Session.add(feed)
    _commit()
    return feed_dict(feed, with_source=True)


def history_feed_update(context: Context, data_dict: DataDict) -> dict[str, Any]:
    """Changes a feed's declaration: the keys given are changed, the others
    kept (parameters as history_feed_create). A new URL forgets the validators
    of conditional requests; a change of schedule or enabling polls at once."""
    resource, _package = _visible_resource(context, data_dict.get("resource_id"))
    tk.check_access("history_feed_update", context, {"resource_id": resource.id})
    feed = _feed_of(resource.id)
    if feed is None:
        raise tk.ObjectNotFound(tk._("This resource has no feed"))
    data = _validate(data_dict, schema.feed_update(), context)
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
def history_feed_show(context: Context, data_dict: DataDict) -> dict[str, Any]:
    """A resource's feed: its declaration and the state of its polling.
    Needs the right to read the dataset's data; the source URL and the last
    error are shown to the dataset's editors only.

    :param resource_id: the resource
    """
    data = _validate(data_dict, schema.feed_ref(), context)
    resource, package = _visible_resource(context, data["resource_id"])
    tk.check_access("history_feed_show", context, {"resource_id": resource.id})
    feed = _feed_of(resource.id)
    if feed is None:
        raise tk.ObjectNotFound(tk._("This resource has no feed"))
    return feed_dict(feed, with_source=auth.may_edit(context, package.id))


def history_feed_delete(context: Context, data_dict: DataDict) -> None:
    """Deletes a resource's feed and its whole history (hot rows, archive
    files, gaps). The dataset's editors and admins.

    :param resource_id: the resource
    """
    data = _validate(data_dict, schema.feed_ref(), context)
    resource, _package = _visible_resource(context, data["resource_id"])
    tk.check_access("history_feed_delete", context, {"resource_id": resource.id})
    if _feed_of(resource.id) is None:
        raise tk.ObjectNotFound(tk._("This resource has no feed"))
    delete_history(resource.id)


def delete_history(resource_id: str) -> None:
    """Deletes a resource's feed, gaps, hot rows and archive files (the
    history of a deleted resource goes with it)."""
    _store().delete_resource(resource_id)
    model.Session.query(Gap).filter(Gap.resource_id == resource_id).delete()
    model.Session.query(Feed).filter(Feed.resource_id == resource_id).delete()
    model.Session.commit()


def prune(purged_only: bool = False) -> list[str]:
    """Deletes the histories of resources that were deleted or purged (a
    resource dropped by package_update, a purged dataset: nothing told the
    history plugin), or with `purged_only` of those no longer in the
    database. Returns their ids."""
    from ckanext.history import store

    with store.engine().connect() as conn:
        ids = set(conn.execute(sa.select(store.schema_table.c.resource_id)).scalars())
    ids |= {rid for (rid,) in model.Session.query(Feed.resource_id)}
    ids |= {rid for (rid,) in model.Session.query(Gap.resource_id).distinct()}
    alive = model.Session.query(model.Resource.id).filter(model.Resource.id.in_(ids))
    if not purged_only:
        alive = alive.filter(model.Resource.state != "deleted")
    gone = sorted(ids - {rid for (rid,) in alive}) if ids else []
    for resource_id in gone:
        delete_history(resource_id)
    return gone


def get_actions() -> dict:
    return {
        "history_feed_create": history_feed_create,
        "history_feed_update": history_feed_update,
        "history_feed_show": history_feed_show,
        "history_feed_delete": history_feed_delete,
    }


