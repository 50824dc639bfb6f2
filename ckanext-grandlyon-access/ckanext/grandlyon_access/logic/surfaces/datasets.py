"""CKAN's datasets, resources, their lists and their organisations and
groups.

| CKAN action (chained) | what the user gets |
| --- | --- |
| `package_show`, `resource_show` | a dataset the user may not see (or its resource) answers the same 404 as one that does not exist |
| `package_list` | the names of the datasets the user may see |
| `resource_search` | resources of the datasets the user may see, URLs gated; a search on `url` finds only resources whose data the user may read; counts after filtering |
| `member_list` | members of a group or organisation without the datasets the user may not see |
| `organization_show`, `group_show` | CKAN's featured organisations and groups (shown with `ignore_auth`) list the visitor's datasets only |
| `package_relationships_list` | a dataset the user may not see is missing; relationships name only datasets the user may see |
| `organization_update`, `group_update` | without `users`, the members stay (CKAN's update replaced them with none; the portal's organisations and groups list no users, so the dict an admin reads and sends back has none) |
| `bulk_update_public`, `bulk_update_private`, `bulk_update_delete` | CKAN's, then the datasets read afresh: the activity recorded next carries their labels as they are now (a dataset made public is seen by the public) |
"""

from __future__ import annotations

from typing import Any

import ckan.authz as authz
import ckan.model as model
import ckan.plugins.toolkit as tk
from ckan.types import Context, DataDict
from ckanext.grandlyon_access import proxy
from flask import has_request_context

from .common import ActionFunc, Asker, as_missing, dataset, denied_as_missing, gate_resource

# The plugin this area needs loaded (chaining an action nobody defines stops
# CKAN at start-up), or None.
NEEDS_PLUGIN = None


@tk.chained_action
@tk.side_effect_free
def package_show(next_action: ActionFunc, context: Context, data_dict: DataDict) -> dict[str, Any]:
    """Denied looks like missing: a dataset the user may not see answers the
    same 404 as one that does not exist."""
    return denied_as_missing(next_action, context, data_dict)


@tk.chained_action
@tk.side_effect_free
def resource_show(next_action: ActionFunc, context: Context,
                  data_dict: DataDict) -> dict[str, Any]:
    """As package_show: a resource of a dataset the user may not see is missing."""
    return denied_as_missing(next_action, context, data_dict)



# --- lists of datasets ---------------------------------------------------------------


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


def _streamed_to(asker: Asker, package: model.Package, res: Any) -> bool:
    """Whether the data proxy streams this resource to a reader who does not
    manage its dataset (who then never sees its origin URL)."""
    decision = asker.decision(package)
    fields = res if isinstance(res, dict) else proxy.resource_fields(res)
    return decision.reason != "manager" and proxy.proxied(decision.level, fields)


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
        package = dataset(package_id)
        if not asker.sees(package):
            continue
        if not asker.reads(package) or _streamed_to(asker, package, res):
            if "url" in fields:
                continue
            if isinstance(res, dict):
                gate_resource(package, res)
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
        package = dataset(data_dict.get(key))
        if package is not None and not asker.sees(package):
            return as_missing(next_action, context, data_dict, key)
    relationships = next_action(context, data_dict)
    return [rel for rel in relationships
            if all(asker.sees(dataset(rel.get(end))) for end in ("subject", "object"))]


# --- organisations and groups updated whole -------------------------------------------


def _members_kept(next_action: ActionFunc, context: Context, data_dict: DataDict) -> Any:
    """User details are not public (`ckan.auth.public_user_details =
    false`), so `organization_show` and `group_show` list no users, and
    CKAN's update replaces the members with the `users` it is given: an
    admin sending back the dict they read removed every member, themselves
    included. Without `users` (and unless the caller asked for a partial
    update, as CKAN's edit form does), the active members are sent along;
    `users: []` still removes them. CKAN protects a group's datasets the
    same way (`packages`)."""
    if isinstance(data_dict, dict) and "users" not in data_dict \
            and not context.get("allow_partial_update"):
        group = model.Group.get(data_dict.get("id") or data_dict.get("name") or "")
        if group is not None:
            members = (model.Session.query(model.User.name, model.Member.capacity)
                       .join(model.Member, model.Member.table_id == model.User.id)
                       .filter(model.Member.group_id == group.id,
                               model.Member.table_name == "user",
                               model.Member.state == "active"))
            data_dict = {**data_dict, "users": [{"name": name, "capacity": capacity}
                                                for name, capacity in members]}
    return next_action(context, data_dict)


@tk.chained_action
def organization_update(next_action: ActionFunc, context: Context,
                        data_dict: DataDict) -> Any:
    """See _members_kept."""
    return _members_kept(next_action, context, data_dict)


@tk.chained_action
def group_update(next_action: ActionFunc, context: Context, data_dict: DataDict) -> Any:
    """See _members_kept."""
    return _members_kept(next_action, context, data_dict)


# --- an organisation's bulk actions ---------------------------------------------------


def _read_afresh_after(next_action: ActionFunc, context: Context, data_dict: DataDict) -> Any:
    """CKAN's bulk update writes the datasets in SQL without telling the
    session (`synchronize_session=False`), and CKAN's session keeps objects
    after a commit: a dataset read earlier in the request (or test) stayed
    as it was, and the activity subscriber that runs next recorded a dataset
    made public with its private labels (hidden from the public) and a
    deleted one as "changed". Those datasets are expired, so that what runs
    next reads them from the database."""
    result = next_action(context, data_dict)
    ids = set(data_dict.get("datasets") or []) if isinstance(data_dict, dict) else set()
    for held in list(model.Session.identity_map.values()):
        if isinstance(held, model.Package) and held.id in ids:
            model.Session.expire(held)
    return result


@tk.chained_action
def bulk_update_public(next_action: ActionFunc, context: Context, data_dict: DataDict) -> Any:
    """See _read_afresh_after."""
    return _read_afresh_after(next_action, context, data_dict)


@tk.chained_action
def bulk_update_private(next_action: ActionFunc, context: Context, data_dict: DataDict) -> Any:
    """See _read_afresh_after."""
    return _read_afresh_after(next_action, context, data_dict)


@tk.chained_action
def bulk_update_delete(next_action: ActionFunc, context: Context, data_dict: DataDict) -> Any:
    """See _read_afresh_after."""
    return _read_afresh_after(next_action, context, data_dict)


ACTIONS = {
    "package_show": package_show,
    "resource_show": resource_show,
    "package_list": package_list,
    "resource_search": resource_search,
    "member_list": member_list,
    "organization_show": organization_show,
    "group_show": group_show,
    "package_relationships_list": package_relationships_list,
    "organization_update": organization_update,
    "group_update": group_update,
    "bulk_update_public": bulk_update_public,
    "bulk_update_private": bulk_update_private,
    "bulk_update_delete": bulk_update_delete,
}
AUTH_FUNCTIONS: dict[str, Any] = {}
