"""The one access policy: may this user read the data of this dataset?

Every surface that serves data asks `decide()` through the auth function
`grandlyon_access_data_read`; nothing else in the suite reimplements it.

Levels (dataset field `access_level`):
- open: everyone reads the data;
- licensed: logged-in users who signed the current version of the dataset's
  licence (asked to the licence plugin through its shared facade);
- restricted: members of a circle granted the dataset, or users with a
  personal grant, until the grant or the membership expires. A restricted
  dataset may also hide its metadata (`access_hidden`): then only grantees
  see it, through permission labels.

Sysadmins and the editors and admins of the owning organisation always have
access. CKAN's `private` flag keeps its meaning and wins over the level.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Optional

import ckan.authz as authz
import ckan.model as model
import ckan.plugins.toolkit as tk
from ckan.lib.plugins import get_permission_labels
import sqlalchemy as sa
from flask import g, has_request_context, request

from ckanext.grandlyon_access import config
from ckanext.grandlyon_access.model import CircleMember, Grant, utcnow
from ckanext.grandlyon_licence import shared as licences

LEVELS = ("open", "licensed", "restricted")
GATED_LEVELS = ("licensed", "restricted")
GRANTEE_LABEL = "grandlyon-access-grantee-{}"

# What a user without access must do (Decision.next_step).
LOGIN = "login"
SIGN = "sign"
REQUEST = "request"


@dataclasses.dataclass(frozen=True)
class Decision:
    """The answer of the policy for one user and one dataset."""

    level: str
    metadata: bool
    data: bool
    reason: str
    next_step: Optional[str] = None
    licence_id: Optional[str] = None


_CACHE = "grandlyon_access_cache"


def start_request_cache() -> None:
    """Before each web request (plugin.make_middleware): a reading request
    (GET, HEAD) gets a cache for `cached_per_request`. Nothing else has one:
    not a request that may write, and not the command-line jobs that run
    inside a request context of their own (ckanext-harvest's `run-test`)."""
    if request.method in ("GET", "HEAD"):
        g.setdefault(_CACHE, {})


def request_cache_active() -> bool:
    return has_request_context() and g.get(_CACHE) is not None


def cached_per_request(key: tuple, compute: Callable[[], Any]) -> Any:
    """`compute()`, kept for the rest of a reading web request: one page or
    download asks package_show's authorization several times, each asking
    the user's labels (their organisations and grants). A request that may
    write (POST) always computes afresh, so a grant it creates is seen at
    once; outside a web request nothing is kept."""
    cache = g.get(_CACHE) if has_request_context() else None
    if cache is None:
        return compute()
    if key not in cache:
        cache[key] = compute()
    value = cache[key]
    return list(value) if isinstance(value, list) else set(value) if isinstance(value, set) else value


def level_of(package: model.Package) -> str:
    """The access level of a dataset object (the configured default if unset)."""
    level = package.extras.get("access_level") or config.default_level()
    return level if level in LEVELS else "restricted"


def is_hidden(package: model.Package) -> bool:
    """Whether a restricted dataset hides its metadata from non-grantees."""
    return level_of(package) == "restricted" and tk.asbool(package.extras.get("access_hidden"))


def active_grants(user_id: str):
    """A query of the grants that give `user_id` access now, personal or
    through a circle membership; both the grant and the membership must be
    unexpired."""
    now = utcnow()
    unexpired = sa.or_(Grant.expires.is_(None), Grant.expires > now)
    member_of = (
        sa.select(CircleMember.circle_id)
        .where(CircleMember.user_id == user_id)
        .where(sa.or_(CircleMember.expires.is_(None), CircleMember.expires > now))
    )
    return (
        model.Session.query(Grant)
        .filter(unexpired)
        .filter(sa.or_(Grant.user_id == user_id, Grant.circle_id.in_(member_of)))
    )


def granted_package_ids(user_id: str) -> set[str]:
    """Ids of the datasets `user_id` holds an active grant on (kept for the
    rest of a reading request)."""
    return cached_per_request(("granted", user_id), lambda: {
        row.package_id for row in active_grants(user_id).with_entities(Grant.package_id)})


def has_active_grant(user_id: str, package_id: str) -> bool:
    return package_id in granted_package_ids(user_id)


def user_of(context: dict[str, Any]) -> Optional[model.User]:
    """The logged-in user of a context, from its user object or, failing
    that (CKAN passes "" or None in places), from its user name."""
    user = context.get("auth_user_obj")
    if isinstance(user, model.User) and not getattr(user, "is_anonymous", False):
        return user
    name = context.get("user")
    return model.User.get(name) if name else None


def _manages(user: model.User, package: model.Package) -> bool:
    """Sysadmins, and editors or admins of the owning organisation."""
    if user.sysadmin:
        return True
    if package.owner_org:
        # On a reading request the user's labels are kept, and they name
        # every organisation the user has a role in, inherited ones included:
        # without that label the user manages nothing there, and CKAN's check
        # (three queries) is spared. Elsewhere the labels would cost more.
        if (request_cache_active() and f"member-{package.owner_org}"
                not in get_permission_labels().get_user_dataset_labels(user)):
            return False
        return cached_per_request(
            ("manages", user.id, package.owner_org),
            lambda: authz.has_user_permission_for_group_or_org(
                package.owner_org, user.name, "update_dataset"))
    return package.creator_user_id == user.id


def _may_see(context: dict[str, Any], package: model.Package) -> bool:
    user = user_of(context)
    ctx = {"model": model, "user": user.name if user else "",
           "auth_user_obj": user if user else model.AnonymousUser()}
    return authz.is_authorized("package_show", ctx, {"id": package.id})["success"]


def _signed(user: model.User, licence_id: Optional[str]) -> bool:
    return bool(licence_id) and licences.has_current_signature(user.id, licence_id)


def decide(context: dict[str, Any], package: model.Package) -> Decision:
    """The policy itself, for the user of `context` and a dataset object."""
    level = level_of(package)
    if not _may_see(context, package):
        return Decision(level, metadata=False, data=False, reason="hidden")
    user = user_of(context)
    if user is not None and _manages(user, package):
        return Decision(level, True, True, "manager")
    if level == "open":
        return Decision(level, True, True, "open")
    licence_id = package.license_id if level == "licensed" else None
    if user is None:
        return Decision(level, True, False, "anonymous", LOGIN, licence_id)
    if level == "licensed":
        if _signed(user, licence_id):
            return Decision(level, True, True, "signed", licence_id=licence_id)
        return Decision(level, True, False, "unsigned", SIGN, licence_id)
    if has_active_grant(user.id, package.id):
        return Decision(level, True, True, "granted")
    return Decision(level, True, False, "not_granted", REQUEST)


def package_by_ref(ref: Optional[str]) -> Optional[model.Package]:
    """The dataset of id or name `ref`, looked up once per reading request: a
    dataset page asks for it in several wrapped actions, and by name each
    lookup is two queries. Only text names a dataset (an id given as a
    number, a list or with a NUL character names none: CKAN's own
    validation then answers)."""
    if not isinstance(ref, str) or not ref or "\x00" in ref:
        return None
    return cached_per_request(("package", ref), lambda: model.Package.get(ref))


def package_of(data_dict: dict[str, Any]) -> Optional[model.Package]:
    """The dataset named by `id` (dataset id or name) or `resource_id`."""
    resource_id = data_dict.get("resource_id")
    if resource_id and (not isinstance(resource_id, str) or "\x00" in resource_id):
        return None
    if resource_id:
        # Kept for the request: CKAN's own lookup of it that follows is then
        # answered by the session's identity map, without a query.
        resource = cached_per_request(("resource", resource_id),
                                      lambda: model.Resource.get(resource_id))
        return package_by_ref(resource.package_id) if resource else None
    return package_by_ref(data_dict.get("id") or data_dict.get("package_id"))
