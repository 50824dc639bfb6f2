"""Chained actions that close CKAN's own doors to gated data: each one asks
the policy (policy.py) for the datasets it would reveal. One function per
CKAN action, named after it; registered with the plugin's other actions.

What they enforce (tests/test_access_matrix.py holds one row per surface):

- a dataset whose metadata the user may not see is missing: lists leave it
  out, and an action naming it (or its resource, view, activity, harvest
  object, DataStore table) answers exactly as for an id that does not exist;
- a dataset whose data the user may not read shows no origin URL: resource
  URLs become the portal's download route (gate.py), also in the snapshots
  that activities keep, whatever the level was when they were taken.

Datasets can only be hidden from a user by CKAN's `private` flag or by the
policy's `access_hidden`: lists ask the policy about those datasets only.

The DataStore's actions and auth functions are wrapped in
logic/datastore.py, each with its auth function beside it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from typing import Any

import ckan.authz as authz
import ckan.model as model
import ckan.plugins.toolkit as tk
import sqlalchemy as sa
from ckan.types import Context, DataDict
from ckanext.grandlyon_access import gate, policy
from flask import has_request_context

__all__ = [
    "package_show", "resource_show", "package_list", "resource_search", "member_list", "organization_show", "group_show",
    "package_relationships_list", "tag_show", "tag_list", "tag_search",
    "tag_autocomplete", "resource_view_show", "resource_view_list",
    "follow_dataset", "unfollow_dataset", "am_following_dataset", "dataset_follower_count",
    "dataset_follower_list", "dataset_followee_list", "followee_list",
    "package_activity_list", "organization_activity_list", "group_activity_list",
    "user_activity_list", "recently_changed_packages_activity_list", "dashboard_activity_list",
    "activity_show", "activity_data_show", "activity_diff",
    "harvest_object_show", "harvest_object_list",
]

ActionFunc = Callable[[Context, DataDict], Any]


# --- asking the policy -----------------------------------------------------------

def _viewer(context: Context) -> dict[str, Any]:
    """A fresh context of the user of `context`, for the policy: without
    `ignore_auth` (CKAN sets it on contexts it passes on, e.g. followee_list)
    and with the user object, which permission labels need (callers often
    give only the name; views give "" for anonymous)."""
    name = context.get("user") or ""
    user = context.get("auth_user_obj")
    if not isinstance(user, model.User):
        user = model.User.get(name) if name else None
    return {"model": model, "user": name, "auth_user_obj": user}


class Asker:
    """The policy's decisions for one user, asked once per dataset."""

    def __init__(self, context: Context) -> None:
        self.context = _viewer(context)
        self._decisions: dict[str, policy.Decision] = {}

    def decision(self, package: model.Package) -> policy.Decision:
        if package.id not in self._decisions:
            self._decisions[package.id] = policy.decide(dict(self.context), package)
        return self._decisions[package.id]

    def sees(self, package: model.Package | None) -> bool:
        return package is not None and self.decision(package).metadata

    def reads(self, package: model.Package | None) -> bool:
        return package is not None and self.decision(package).data

    def unseen_ids(self) -> set[str]:
        """Ids of the datasets (any state) whose metadata the user may not
        see, among those the policy can hide: private or hidden ones."""
        hidden = sa.select(model.PackageExtra.package_id).where(
            model.PackageExtra.key == "access_hidden")
        candidates = model.Session.query(model.Package).filter(sa.or_(
            model.Package.private.is_(True), model.Package.id.in_(hidden)))
        return {package.id for package in candidates if not self.sees(package)}


def _package(ref: str | None) -> model.Package | None:
    return policy.package_by_ref(ref)


def package_of_resource(resource_id: str | None) -> model.Package | None:
    return policy.package_of({"resource_id": resource_id}) if resource_id else None


def _missing_id() -> str:
    return str(uuid.uuid4())


def _as_missing(next_action: ActionFunc, context: Context, data_dict: DataDict,
                key: str = "id") -> Any:
    """Answers exactly as the action answers for an object that does not
    exist: by asking it about an id that does not exist."""
    return next_action(context, dict(data_dict, **{key: _missing_id()}))


def _gate_urls(pkg_dict: dict[str, Any]) -> dict[str, Any]:
    """The dataset dict with its resources' URLs turned into the portal's
    download route (gate.py), whatever level the dict itself says."""
    return gate._rewrite(pkg_dict)


def _gate_resource(package: model.Package, res_dict: dict[str, Any]) -> dict[str, Any]:
    if res_dict.get("id") and res_dict.get("url_type") != "upload":
        res_dict["url"] = gate.gated_url(package.name, res_dict, package.type or "dataset")
    return res_dict


# --- one dataset, one resource ----------------------------------------------------------

@tk.chained_action
@tk.side_effect_free
def package_show(next_action: ActionFunc, context: Context, data_dict: DataDict) -> dict[str, Any]:
    """Denied looks like missing: a dataset the user may not see answers the
    same 404 as one that does not exist."""
    return _denied_as_missing(next_action, context, data_dict)


@tk.chained_action
@tk.side_effect_free
def resource_show(next_action: ActionFunc, context: Context,
                  data_dict: DataDict) -> dict[str, Any]:
    """As package_show: a resource of a dataset the user may not see is missing."""
    return _denied_as_missing(next_action, context, data_dict)


def _denied_as_missing(next_action: ActionFunc, context: Context, data_dict: DataDict) -> Any:
    try:
        return next_action(context, data_dict)
    except tk.NotAuthorized:
        raise tk.ObjectNotFound() from None


# --- lists of datasets -------------------------------------------------------------

@tk.chained_action
@tk.side_effect_free
def package_list(next_action: ActionFunc, context: Context, data_dict: DataDict) -> list[str]:
    """Names (or ids, API v2) of the datasets the user may see."""
    names = next_action(context, data_dict)
    unseen = Asker(context).unseen_ids()
    if not unseen:
        return names
    hidden_refs = {ref for package in model.Session.query(model.Package)
                   .filter(model.Package.id.in_(unseen))
                   for ref in (package.id, package.name)}
    return [name for name in names if name not in hidden_refs]


@tk.chained_action
@tk.side_effect_free
def resource_search(next_action: ActionFunc, context: Context,
                    data_dict: DataDict) -> dict[str, Any]:
    """Resources of the datasets the user may see, their URLs gated; a search
    on `url` finds only resources whose data the user may read (the origin
    URL is data). Paging is done after filtering, so counts hold."""
    offset, limit = data_dict.get("offset"), data_dict.get("limit")
    result = next_action(context, dict(data_dict, offset=None, limit=None))
    queries = data_dict.get("query") or []
    fields = {pair.split(":", 1)[0] for pair in
              ([queries] if isinstance(queries, str) else queries) if ":" in pair}
    asker = Asker(context)
    kept = []
    for res in result["results"]:
        package_id = res["package_id"] if isinstance(res, dict) else res.package_id
        package = _package(package_id)
        if not asker.sees(package):
            continue
        if not asker.reads(package):
            if "url" in fields:
                continue
            if isinstance(res, dict):
                _gate_resource(package, res)
        kept.append(res)
    start = int(offset or 0)
    end = start + int(limit) if limit not in (None, "") else None
    return {"count": len(kept), "results": kept[start:end]}


@tk.chained_action
@tk.side_effect_free
def member_list(next_action: ActionFunc, context: Context, data_dict: DataDict) -> list:
    """Members of a group or organisation, without the datasets the user may
    not see."""
    members = next_action(context, data_dict)
    if data_dict.get("object_type") not in (None, "", "package"):
        return members
    unseen = Asker(context).unseen_ids()
    return [m for m in members if not (m[1] == "package" and m[0] in unseen)]


def _datasets_for_the_visitor(next_action: ActionFunc, context: Context,
                              data_dict: DataDict) -> dict[str, Any]:
    """CKAN's featured organisations and groups (home page) are shown with
    `ignore_auth`, which also lists the datasets nobody may see: within a web
    request the datasets (and their count) are those of the visitor."""
    if (context.get("ignore_auth") and has_request_context()
            and tk.asbool(data_dict.get("include_datasets"))
            and not authz.is_sysadmin(context.get("user"))):
        context = {key: value for key, value in context.items() if key != "ignore_auth"}
    return next_action(context, data_dict)


@tk.chained_action
@tk.side_effect_free
def organization_show(next_action: ActionFunc, context: Context,
                      data_dict: DataDict) -> dict[str, Any]:
    """See _datasets_for_the_visitor."""
    return _datasets_for_the_visitor(next_action, context, data_dict)


@tk.chained_action
@tk.side_effect_free
def group_show(next_action: ActionFunc, context: Context, data_dict: DataDict) -> dict[str, Any]:
    """See _datasets_for_the_visitor."""
    return _datasets_for_the_visitor(next_action, context, data_dict)


@tk.chained_action
@tk.side_effect_free
def package_relationships_list(next_action: ActionFunc, context: Context,
                               data_dict: DataDict) -> list:
    """A dataset the user may not see (`id` or `id2`) is missing; the
    relationships name only datasets the user may see."""
    asker = Asker(context)
    for key in ("id", "id2"):
        package = _package(data_dict.get(key))
        if package is not None and not asker.sees(package):
            return _as_missing(next_action, context, data_dict, key)
    relationships = next_action(context, data_dict)
    return [rel for rel in relationships
            if all(asker.sees(_package(rel.get(end))) for end in ("subject", "object"))]


# --- tags ---------------------------------------------------------------------------

def _tags_of_unseen_only(context: Context) -> set[str]:
    """Names of the tags carried only by datasets the user may not see."""
    unseen = Asker(context).unseen_ids()
    if not unseen:
        return set()
    candidates = sa.select(model.PackageTag.tag_id).where(
        model.PackageTag.package_id.in_(unseen))
    rows = (model.Session.query(model.Tag.name, model.PackageTag.package_id)
            .join(model.PackageTag, model.PackageTag.tag_id == model.Tag.id)
            .join(model.Package, model.Package.id == model.PackageTag.package_id)
            .filter(model.PackageTag.state == "active")
            .filter(model.Tag.id.in_(candidates)))
    carriers: dict[str, set[str]] = {}
    for name, package_id in rows:
        carriers.setdefault(name, set()).add(package_id)
    return {name for name, ids in carriers.items() if ids <= unseen}


def _tag_name(tag: Any) -> str:
    return tag["name"] if isinstance(tag, dict) else tag


@tk.chained_action
@tk.side_effect_free
def tag_show(next_action: ActionFunc, context: Context, data_dict: DataDict) -> dict[str, Any]:
    """A tag carried only by datasets the user may not see is missing; the
    datasets of a tag are those the user may see."""
    tag = model.Tag.get(data_dict.get("id") or "",
                        vocab_id_or_name=data_dict.get("vocabulary_id"))
    if tag is not None and tag.name in _tags_of_unseen_only(context):
        return _as_missing(next_action, context, data_dict)
    result = next_action(context, data_dict)
    if result.get("packages"):
        unseen = Asker(context).unseen_ids()
        result["packages"] = [p for p in result["packages"] if p.get("id") not in unseen]
    return result


@tk.chained_action
@tk.side_effect_free
def tag_list(next_action: ActionFunc, context: Context, data_dict: DataDict) -> list:
    """Tags, without those carried only by datasets the user may not see."""
    tags = next_action(context, data_dict)
    unseen = _tags_of_unseen_only(context)
    return [tag for tag in tags if _tag_name(tag) not in unseen]


@tk.chained_action
@tk.side_effect_free
def tag_search(next_action: ActionFunc, context: Context, data_dict: DataDict) -> dict[str, Any]:
    """As tag_list."""
    result = next_action(context, data_dict)
    unseen = _tags_of_unseen_only(context)
    kept = [tag for tag in result["results"] if tag["name"] not in unseen]
    return {"count": result["count"] - (len(result["results"]) - len(kept)), "results": kept}


@tk.chained_action
@tk.side_effect_free
def tag_autocomplete(next_action: ActionFunc, context: Context, data_dict: DataDict) -> list:
    """As tag_list."""
    names = next_action(context, data_dict)
    unseen = _tags_of_unseen_only(context)
    return [name for name in names if name not in unseen]


# --- resource views -------------------------------------------------------------------

@tk.chained_action
@tk.side_effect_free
def resource_view_show(next_action: ActionFunc, context: Context,
                       data_dict: DataDict) -> dict[str, Any]:
    """A view of a resource of a dataset the user may not see is missing."""
    view = model.ResourceView.get(data_dict.get("id") or "")
    if view is not None and not Asker(context).sees(package_of_resource(view.resource_id)):
        return _as_missing(next_action, context, data_dict)
    return next_action(context, data_dict)


@tk.chained_action
@tk.side_effect_free
def resource_view_list(next_action: ActionFunc, context: Context, data_dict: DataDict) -> list:
    """The views of a resource of a dataset the user may not see are missing."""
    package = package_of_resource(data_dict.get("id"))
    if package is not None and not Asker(context).sees(package):
        return _as_missing(next_action, context, data_dict)
    return next_action(context, data_dict)


# --- following ---------------------------------------------------------------------

def _dataset_missing_for(context: Context, data_dict: DataDict) -> bool:
    package = _package(data_dict.get("id"))
    return package is not None and not Asker(context).sees(package)


def _followed_dataset(next_action: ActionFunc, context: Context, data_dict: DataDict) -> Any:
    if _dataset_missing_for(context, data_dict):
        return _as_missing(next_action, context, data_dict)
    package = _package(data_dict.get("id"))
    if package is None:
        return next_action(context, data_dict)
    # By id, CKAN finds the dataset already loaded instead of asking again by name.
    return next_action(context, {**data_dict, "id": package.id})


@tk.chained_action
def follow_dataset(next_action: ActionFunc, context: Context, data_dict: DataDict) -> Any:
    """Following a dataset the user may not see fails as for a missing one."""
    return _followed_dataset(next_action, context, data_dict)


@tk.chained_action
def unfollow_dataset(next_action: ActionFunc, context: Context, data_dict: DataDict) -> Any:
    """As follow_dataset."""
    return _followed_dataset(next_action, context, data_dict)


@tk.chained_action
@tk.side_effect_free
def am_following_dataset(next_action: ActionFunc, context: Context, data_dict: DataDict) -> Any:
    """As follow_dataset."""
    return _followed_dataset(next_action, context, data_dict)


@tk.chained_action
@tk.side_effect_free
def dataset_follower_count(next_action: ActionFunc, context: Context,
                           data_dict: DataDict) -> Any:
    """As follow_dataset."""
    return _followed_dataset(next_action, context, data_dict)


@tk.chained_action
@tk.side_effect_free
def dataset_follower_list(next_action: ActionFunc, context: Context,
                          data_dict: DataDict) -> Any:
    """As follow_dataset."""
    return _followed_dataset(next_action, context, data_dict)


def _gate_dataset_dict(asker: Asker, pkg_dict: dict[str, Any]) -> None:
    """A dataset dict that did not go through package_show (followed
    datasets, activity snapshots): relationships only to datasets the user
    may see, and no origin URL without data access."""
    gate.hide_unseen_relationships(dict(asker.context), pkg_dict)
    package = _package(pkg_dict.get("id"))
    if package is not None and not asker.reads(package):
        _gate_urls(pkg_dict)


def _gate_followed(context: Context, pkg_dicts: Iterable[dict[str, Any]]) -> None:
    """CKAN dictizes followed datasets from the database, with origin URLs."""
    asker = Asker(context)
    for pkg_dict in pkg_dicts:
        _gate_dataset_dict(asker, pkg_dict)


@tk.chained_action
@tk.side_effect_free
def dataset_followee_list(next_action: ActionFunc, context: Context, data_dict: DataDict) -> list:
    """The followed datasets (CKAN keeps those the user may see), URLs gated."""
    viewer = _viewer(context)
    datasets = next_action(context, data_dict)
    _gate_followed(viewer, datasets)
    return datasets


@tk.chained_action
@tk.side_effect_free
def followee_list(next_action: ActionFunc, context: Context, data_dict: DataDict) -> list:
    """As dataset_followee_list, for the datasets among everything followed."""
    viewer = _viewer(context)  # before CKAN sets ignore_auth on the context
    followees = next_action(context, data_dict)
    _gate_followed(viewer, [f["dict"] for f in followees if f.get("type") == "dataset"])
    return followees


# --- activities ------------------------------------------------------------------------

def _activity_package(activity: dict[str, Any]) -> model.Package | None:
    """The dataset an activity is about, if any."""
    package = _package(activity.get("object_id"))
    if package is None:
        snapshot = (activity.get("data") or {}).get("package")
        if isinstance(snapshot, dict):
            package = _package(snapshot.get("id"))
    return package


def _screen_activity(asker: Asker, activity: dict[str, Any]) -> dict[str, Any] | None:
    """None for an activity of a dataset the user may not see (now: the
    activity's own labels date from when it was recorded); the snapshot of
    a dataset whose data the user may not read, without origin URLs."""
    package = _activity_package(activity)
    if package is None:
        return activity
    if not asker.sees(package):
        return None
    snapshot = (activity.get("data") or {}).get("package")
    if isinstance(snapshot, dict):
        gate.hide_unseen_relationships(dict(asker.context), snapshot)
        if not asker.reads(package):
            _gate_urls(snapshot)
    return activity


def _screen_activities(context: Context, activities: list[dict[str, Any]]) -> list:
    asker = Asker(context)
    screened = (_screen_activity(asker, activity) for activity in activities)
    return [activity for activity in screened if activity is not None]


def _activity_list(next_action: ActionFunc, context: Context, data_dict: DataDict) -> list:
    viewer = _viewer(context)
    return _screen_activities(viewer, next_action(context, data_dict))


@tk.chained_action
@tk.side_effect_free
def package_activity_list(next_action: ActionFunc, context: Context, data_dict: DataDict) -> list:
    """A dataset the user may not see is missing; snapshots are screened."""
    if _dataset_missing_for(context, data_dict):
        return _as_missing(next_action, context, data_dict)
    return _activity_list(next_action, context, data_dict)


@tk.chained_action
@tk.side_effect_free
def organization_activity_list(next_action: ActionFunc, context: Context,
                               data_dict: DataDict) -> list:
    """Without the activities of datasets the user may not see; snapshots screened."""
    return _activity_list(next_action, context, data_dict)


@tk.chained_action
@tk.side_effect_free
def group_activity_list(next_action: ActionFunc, context: Context, data_dict: DataDict) -> list:
    """As organization_activity_list."""
    return _activity_list(next_action, context, data_dict)


@tk.chained_action
@tk.side_effect_free
def user_activity_list(next_action: ActionFunc, context: Context, data_dict: DataDict) -> list:
    """As organization_activity_list."""
    return _activity_list(next_action, context, data_dict)


@tk.chained_action
@tk.side_effect_free
def recently_changed_packages_activity_list(next_action: ActionFunc, context: Context,
                                            data_dict: DataDict) -> list:
    """As organization_activity_list."""
    return _activity_list(next_action, context, data_dict)


@tk.chained_action
@tk.side_effect_free
def dashboard_activity_list(next_action: ActionFunc, context: Context,
                            data_dict: DataDict) -> list:
    """As organization_activity_list (also counts dashboard_new_activities_count)."""
    return _activity_list(next_action, context, data_dict)


def _activity_of_unseen(context: Context, data_dict: DataDict) -> tuple[bool, model.Package | None]:
    from ckanext.activity.model import Activity

    activity = Activity.get(data_dict.get("id") or "")
    if activity is None:
        return False, None
    package = _activity_package({"object_id": activity.object_id, "data": activity.data})
    return package is not None and not Asker(context).sees(package), package


@tk.chained_action
@tk.side_effect_free
def activity_show(next_action: ActionFunc, context: Context, data_dict: DataDict) -> dict:
    """An activity of a dataset the user may not see is missing; its
    snapshot is screened."""
    unseen, _package_ = _activity_of_unseen(context, data_dict)
    if unseen:
        return _as_missing(next_action, context, data_dict)
    viewer = _viewer(context)
    activity = next_action(context, data_dict)
    return _screen_activity(Asker(viewer), activity) or activity


@tk.chained_action
@tk.side_effect_free
def activity_data_show(next_action: ActionFunc, context: Context, data_dict: DataDict) -> Any:
    """As activity_show."""
    unseen, package = _activity_of_unseen(context, data_dict)
    if unseen:
        return _as_missing(next_action, context, data_dict)
    viewer = _viewer(context)
    data = next_action(context, data_dict)
    if package is not None and isinstance(data, dict):
        snapshot = data.get("package") if "package" in data else data
        if isinstance(snapshot, dict) and "resources" in snapshot:
            asker = Asker(viewer)
            gate.hide_unseen_relationships(dict(asker.context), snapshot)
            if not asker.reads(package):
                _gate_urls(snapshot)
    return data


@tk.chained_action
@tk.side_effect_free
def activity_diff(next_action: ActionFunc, context: Context, data_dict: DataDict) -> Any:
    """An activity of a dataset the user may not see is missing; the diff of
    a dataset whose data the user may not read (it shows origin URLs) is
    refused."""
    unseen, package = _activity_of_unseen(context, data_dict)
    if unseen:
        return _as_missing(next_action, context, data_dict)
    if package is not None and not Asker(context).reads(package):
        raise tk.NotAuthorized(tk._("You do not have access to the data of this dataset"))
    return next_action(context, data_dict)


# --- harvest objects -------------------------------------------------------------------------

@tk.chained_action
@tk.side_effect_free
def harvest_object_show(next_action: ActionFunc, context: Context, data_dict: DataDict) -> Any:
    """The harvested document of a dataset (it holds the origin URLs): missing
    for users who may not see the dataset, refused to those who may not read
    its data."""
    from ckanext.harvest.model import HarvestObject

    if data_dict.get("id"):
        obj = HarvestObject.get(data_dict["id"])
        package, key = (_package(obj.package_id) if obj else None), "id"
    else:
        package, key = _package(data_dict.get("dataset_id")), "dataset_id"
    if package is not None:
        asker = Asker(context)
        if not asker.sees(package):
            return _as_missing(next_action, context, data_dict, key)
        if not asker.reads(package):
            raise tk.NotAuthorized(tk._("You do not have access to the data of this dataset"))
    return next_action(context, data_dict)


@tk.chained_action
@tk.side_effect_free
def harvest_object_list(next_action: ActionFunc, context: Context, data_dict: DataDict) -> list:
    """Without the harvest objects of datasets the user may not see."""
    from ckanext.harvest.model import HarvestObject

    ids = next_action(context, data_dict)
    unseen = Asker(context).unseen_ids()
    if not unseen or not ids:
        return ids
    hidden = {obj_id for obj_id, in model.Session.query(HarvestObject.id)
              .filter(HarvestObject.package_id.in_(unseen))}
    return [obj_id for obj_id in ids if obj_id not in hidden]
