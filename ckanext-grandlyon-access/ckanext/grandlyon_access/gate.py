"""Where the policy meets CKAN's surfaces: dataset dicts, the search index
and the resource download routes.

A user without data access never sees a resource's origin URL: the URL they
see is the portal's download route, which asks the policy and answers with
the file (or a redirect to the origin) only to users with access. A linked
file the data proxy delivers (proxy.py: gated levels by default) is streamed
by that route, and its origin URL is shown to the dataset's managers only
(who edit it), never to the users it is streamed to.
"""

from __future__ import annotations

import json
from typing import Any, Optional, Union

import ckan.model as model
import ckan.plugins.toolkit as tk
import ckan.views.resource as resource_views
from flask import current_app, g, has_request_context, request

from ckanext.grandlyon_access import audit, policy, proxy


def gated_url(package_ref: str, resource: dict[str, Any], package_type: str = "dataset") -> str:
    """The portal's download route of a resource (built from the site URL:
    indexing also runs outside any web request)."""
    site = tk.config["ckan.site_url"].rstrip("/")
    return f"{site}/{package_type}/{package_ref}/resource/{resource['id']}/download"


def _level(pkg_dict: dict[str, Any]) -> str:
    level = pkg_dict.get("access_level") or pkg_dict.get("extras_access_level")
    if not level:
        for extra in pkg_dict.get("extras") or []:
            if extra.get("key") == "access_level":
                level = extra.get("value")
    return level if level in policy.LEVELS else policy.config.default_level()


def _rewrite(pkg_dict: dict[str, Any], only: Optional[set[str]] = None) -> dict[str, Any]:
    """Every resource's URL (but uploads'), or only those of the resources
    `only`, becomes the portal's download route."""
    for res in pkg_dict.get("resources") or []:
        if only is not None and res.get("id") not in only:
            continue
        if res.get("id") and res.get("url_type") != "upload":
            res["url"] = gated_url(pkg_dict.get("name") or pkg_dict["id"], res,
                                   pkg_dict.get("type") or "dataset")
    return pkg_dict


def _restore(pkg_dict: dict[str, Any], package: Optional[model.Package]) -> dict[str, Any]:
    """Puts back the origin URLs that the search index does not hold
    (package_show may answer from the index's copy of the dataset)."""
    if package is None:
        return pkg_dict
    origin = {resource.id: resource.url for resource in package.resources_all}
    for res in pkg_dict.get("resources") or []:
        if res.get("id") in origin and res.get("url_type") != "upload":
            res["url"] = origin[res["id"]]
    return pkg_dict


RELATIONSHIP_FIELDS = ("relationships_as_subject", "relationships_as_object")


def _related_refs(relationship: dict[str, Any]) -> list[str]:
    extras = relationship.get("__extras") or {}
    keys = ("subject_package_id", "object_package_id", "subject", "object")
    return [ref for ref in (relationship.get(k) or extras.get(k) for k in keys) if ref]


def hide_unseen_relationships(context: dict[str, Any], pkg_dict: dict[str, Any]) -> dict[str, Any]:
    """A dataset's relationships name the datasets at their other end: only
    those the user may see (all of them for `ignore_auth` calls)."""
    if context.get("ignore_auth"):
        return pkg_dict
    for field in RELATIONSHIP_FIELDS:
        if pkg_dict.get(field):
            pkg_dict[field] = [
                rel for rel in pkg_dict[field]
                if all(policy.decide(context, package).metadata
                       for package in map(model.Package.get, _related_refs(rel)) if package)]
    return pkg_dict


def hide_origin_urls(context: dict[str, Any], pkg_dict: dict[str, Any]) -> dict[str, Any]:
    """package_show (and everything built on it, such as resource_show and
    the dataset pages): origin URLs only for users with data access, and for
    trusted internal calls (`ignore_auth`). Relationships only to datasets
    the user may see."""
    hide_unseen_relationships(context, pkg_dict)
    level = _level(pkg_dict)
    streamed = _proxied_ids(level, pkg_dict)
    if level == "open" and not streamed:
        return pkg_dict
    package = policy.package_by_ref(pkg_dict.get("id"))
    if context.get("ignore_auth"):
        return _restore(pkg_dict, package)
    decision = _decision(context, package) if package is not None else None
    if decision is not None and decision.data:
        _restore(pkg_dict, package)
        return pkg_dict if decision.reason == "manager" else hide_streamed(pkg_dict, level)
    return _rewrite(pkg_dict) if level != "open" else _rewrite(pkg_dict, streamed)


def hide_streamed(pkg_dict: dict[str, Any], level: str) -> dict[str, Any]:
    """The resources of a dataset dict that the data proxy streams get the
    download route as URL (for a reader who does not manage the dataset)."""
    return _rewrite(pkg_dict, _proxied_ids(level, pkg_dict))


def _proxied_ids(level: str, pkg_dict: dict[str, Any]) -> set[str]:
    """Ids of the resources of a dataset dict the data proxy delivers."""
    return {res["id"] for res in pkg_dict.get("resources") or []
            if res.get("id") and proxy.proxied(level, res)}


_DECIDED = "grandlyon_access_download_decision"


def _decision(context: dict[str, Any], package: model.Package) -> policy.Decision:
    """The policy's decision; on a download request, the one the gate took
    for this request's user and dataset (CKAN's download view asks
    package_show again right after the gate)."""
    if has_request_context():
        decided = g.get(_DECIDED)
        if decided and decided[0] == (_user_name(context), package.id):
            return decided[1]
    return policy.decide(context, package)


def _user_name(context: dict[str, Any]) -> str:
    user = context.get("auth_user_obj")
    name = getattr(user, "name", None) if isinstance(user, model.User) else None
    return name or context.get("user") or ""


def index_without_origin_urls(index_dict: dict[str, Any]) -> dict[str, Any]:
    """The Solr document of a gated dataset holds the download routes, never
    the origin URLs, in every stored field a search can return. No Solr
    document holds relationships: they name other datasets, maybe hidden
    ones, and every user reads the same document (package_show and
    package_relationships_list give them per user)."""
    level = _level(index_dict)
    gated = level != "open"
    for rel_type in model.PackageRelationship.get_all_types():
        index_dict.pop(rel_type, None)
    # validated_data_dict first: data_dict embeds a copy of it.
    for field in ("validated_data_dict", "data_dict"):
        if index_dict.get(field):
            stored = json.loads(index_dict[field])
            for rel_field in RELATIONSHIP_FIELDS:
                stored.pop(rel_field, None)
            if gated:
                _rewrite(stored)
            else:
                _rewrite(stored, _proxied_ids(level, stored))
            if isinstance(stored.get("validated_data_dict"), str):
                stored["validated_data_dict"] = index_dict["validated_data_dict"]
            index_dict[field] = json.dumps(stored)
    stored = json.loads(index_dict.get("validated_data_dict")
                        or index_dict.get("data_dict") or "{}")
    if gated or _proxied_ids(level, stored):
        index_dict["res_url"] = [r.get("url") for r in stored.get("resources") or []]
    return index_dict


def _context() -> dict[str, Any]:
    user = tk.current_user
    authenticated = bool(getattr(user, "is_authenticated", False))
    return {"model": model, "user": user.name if authenticated else "",
            "auth_user_obj": user if authenticated else None}


def denied_page(decision: policy.Decision, package: model.Package) -> tuple[str, int]:
    """The 403 page: what the data is and how to get access."""
    return tk.render("grandlyon_access/denied.html", {
        "decision": decision, "pkg": package,
        "came_from": request.full_path if request else "",
    }), 403


def _is_download_view(view: Any) -> bool:
    """CKAN's resource download view, under any dataset type's blueprint."""
    download = resource_views.download
    return view is not None and (view is download or (
        getattr(view, "__module__", None) == download.__module__
        and getattr(view, "__name__", None) == download.__name__))


def _is_resource_history_view(view: Any) -> bool:
    """The activity plugin's page of a resource as an activity recorded it."""
    return (getattr(view, "__module__", None) == "ckanext.activity.views"
            and getattr(view, "__name__", None) == "resource_history")


def check_resource_history() -> Optional[Union[tuple[str, int], Any]]:
    """The page of a resource as it was shows the origin URL the activity's
    snapshot holds, with no check of its own: only for users with data access."""
    package = model.Package.get((request.view_args or {}).get("id", ""))
    if package is None:
        return None  # CKAN answers 404
    decision = policy.decide(_context(), package)
    if not decision.metadata:
        return tk.abort(404, tk._("Dataset not found"))
    if not decision.data:
        return denied_page(decision, package)
    return None


# The address `datastore_create` gives a resource it creates with its table
# and no file (ckanext/datastore/logic/action.py).
DATASTORE_ONLY_URL = "_datastore_only_resource"


def check_download() -> Optional[Union[tuple[str, int], Any]]:
    """Runs before every request: gates CKAN's resource download view (and
    the history page of a resource)."""
    view = current_app.view_functions.get(request.endpoint or "")
    if _is_resource_history_view(view):
        return check_resource_history()
    if not _is_download_view(view):
        return None
    resource = model.Resource.get((request.view_args or {}).get("resource_id", ""))
    if resource is None or resource.state == "deleted":
        return None  # CKAN answers 404
    package = model.Package.get(resource.package_id)
    context = _context()
    decision = policy.decide(context, package)
    setattr(g, _DECIDED, ((_user_name(context), package.id), decision))
    if not decision.metadata:
        return tk.abort(404, tk._("Resource not found"))
    if not decision.data:
        return denied_page(decision, package)
    streamed = proxy.proxied(decision.level, proxy.resource_fields(resource))
    if streamed:
        try:
            proxy.check_request()
        except proxy.ProxyError as error:
            return tk.abort(error.status, error.message)
    if decision.level in policy.GATED_LEVELS:
        audit.record(context, package.id, resource.id, "download")
    if streamed:
        return proxy.respond(resource)
    if resource.url == DATASTORE_ONLY_URL:
        # CKAN's view would redirect to this placeholder as to a route name
        # (a 500): the table's rows are the resource's data.
        return tk.redirect_to(tk.url_for("datastore.dump", resource_id=resource.id))
    return None
