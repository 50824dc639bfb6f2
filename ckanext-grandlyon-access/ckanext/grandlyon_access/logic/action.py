"""Actions of the access plugin: what a user may do with a dataset, circles,
grants, access requests and the audit log of data reads."""

from __future__ import annotations

import logging
from typing import Any, Optional

import ckan.lib.mailer as mailer
import ckan.model as model
import ckan.plugins.toolkit as tk
from ckan.logic import validate
from ckan.types import Context, DataDict
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from ckanext.grandlyon_access import policy
from ckanext.grandlyon_access.logic import schema
from ckanext.grandlyon_access.site import throttle, twofactor
from ckanext.grandlyon_access.model import (
    AccessLog,
    AccessRequest,
    Circle,
    CircleMember,
    Grant,
    utcnow,
)

log = logging.getLogger(__name__)


def _iso(value) -> Optional[str]:
    return value.isoformat() if value else None


def _package_or_404(ref: str) -> model.Package:
    package = model.Package.get(ref)
    if package is None or package.state == "deleted":
        raise tk.ObjectNotFound(tk._("Dataset not found"))
    return package


def _visible_package(context: Context, ref: str) -> model.Package:
    """The dataset if the user may see it; otherwise the same 404 as a
    dataset that does not exist."""
    package = _package_or_404(ref)
    try:
        tk.check_access("package_show", dict(context), {"id": package.id})
    except tk.NotAuthorized:
        raise tk.ObjectNotFound(tk._("Dataset not found"))
    return package


def _user_or_error(ref: str, field: str = "user") -> model.User:
    user = model.User.get(ref)
    if user is None or user.state == "deleted":
        raise tk.ValidationError({field: [tk._("User not found")]})
    return user


def _circle_or_404(ref: str) -> Circle:
    circle = model.Session.get(Circle, ref) or model.Session.query(Circle).filter(
        Circle.name == ref).first()
    if circle is None:
        raise tk.ObjectNotFound(tk._("Circle not found"))
    return circle


def _commit() -> None:
    try:
        model.Session.commit()
    except IntegrityError:
        model.Session.rollback()
        raise


# --- the policy --------------------------------------------------------------------

@tk.side_effect_free
@validate(schema.show)
def grandlyon_access_show(context: Context, data_dict: DataDict) -> dict[str, Any]:
    """What the current user may do with a dataset.

    :param id: the dataset's id or name
    :returns: ``level``, ``hidden``, ``data`` (may read the data), ``reason``
        and, without access, ``next_step`` (``login``, ``sign`` or
        ``request``) with the ``licence_id`` to sign or the user's pending
        ``request``.
    """
    package = _visible_package(context, data_dict["id"])
    tk.check_access("grandlyon_access_show", context, {"id": package.id})
    decision = policy.decide(context, package)
    result = {
        "package_id": package.id,
        "level": decision.level,
        "hidden": policy.is_hidden(package),
        "metadata": decision.metadata,
        "data": decision.data,
        "reason": decision.reason,
        "next_step": decision.next_step,
        "licence_id": decision.licence_id,
        "request": None,
    }
    user = policy.user_of(context) if decision.next_step == policy.REQUEST else None
    if user is not None:
        latest = (model.Session.query(AccessRequest)
                  .filter_by(package_id=package.id, user_id=user.id)
                  .order_by(AccessRequest.created.desc()).first())
        result["request"] = _request_dict(latest) if latest else None
    return result


# --- circles -----------------------------------------------------------------------

def _circle_dict(circle: Circle, with_members: bool = False) -> dict[str, Any]:
    out = {
        "id": circle.id, "name": circle.name, "title": circle.title,
        "description": circle.description, "created": _iso(circle.created),
    }
    members = model.Session.query(CircleMember).filter_by(circle_id=circle.id)
    out["member_count"] = members.count()
    if with_members:
        out["members"] = [
            {"user_id": m.user_id, "user": getattr(model.User.get(m.user_id), "name", None),
             "expires": _iso(m.expires), "active": m.expires is None or m.expires > utcnow()}
            for m in members.order_by(CircleMember.created)
        ]
    return out


@validate(schema.circle_create)
def grandlyon_access_circle_create(context: Context, data_dict: DataDict) -> dict[str, Any]:
    """Creates a circle of users. Sysadmins only.

    :param name: unique name (lowercase letters, digits, - and _)
    :param title: the name people read
    :param description: optional
    """
    tk.check_access("grandlyon_access_circle_create", context, data_dict)
    circle = Circle(name=data_dict["name"], title=data_dict["title"],
                    description=data_dict.get("description", ""))
    model.Session.add(circle)
    _commit()
    return _circle_dict(circle)


@validate(schema.circle_update)
def grandlyon_access_circle_update(context: Context, data_dict: DataDict) -> dict[str, Any]:
    """Changes a circle's title or description. Sysadmins only."""
    tk.check_access("grandlyon_access_circle_update", context, data_dict)
    circle = _circle_or_404(data_dict["id"])
    for field in ("title", "description"):
        if field in data_dict:
            setattr(circle, field, data_dict[field])
    _commit()
    return _circle_dict(circle)


@validate(schema.show)
def grandlyon_access_circle_delete(context: Context, data_dict: DataDict) -> None:
    """Deletes a circle, its memberships and its grants. Sysadmins only."""
    tk.check_access("grandlyon_access_circle_delete", context, data_dict)
    circle = _circle_or_404(data_dict["id"])
    model.Session.query(CircleMember).filter_by(circle_id=circle.id).delete()
    model.Session.query(Grant).filter_by(circle_id=circle.id).delete()
    model.Session.delete(circle)
    _commit()


@tk.side_effect_free
def grandlyon_access_circle_list(context: Context, data_dict: DataDict) -> list[dict[str, Any]]:
    """All circles with their member counts. Sysadmins only."""
    tk.check_access("grandlyon_access_circle_list", context, data_dict)
    return [_circle_dict(c) for c in model.Session.query(Circle).order_by(Circle.name)]


@tk.side_effect_free
@validate(schema.show)
def grandlyon_access_circle_show(context: Context, data_dict: DataDict) -> dict[str, Any]:
    """A circle with its members. Sysadmins only."""
    tk.check_access("grandlyon_access_circle_show", context, data_dict)
    return _circle_dict(_circle_or_404(data_dict["id"]), with_members=True)


@validate(schema.circle_member)
def grandlyon_access_circle_member_create(context: Context, data_dict: DataDict) -> dict[str, Any]:
    """Adds a user to a circle, or changes the end of their membership.

    :param circle_id: the circle's id or name
    :param user: the user's id or name
    :param expires: optional ISO date: the membership ends then
    """
    tk.check_access("grandlyon_access_circle_member_create", context, data_dict)
    circle = _circle_or_404(data_dict["circle_id"])
    user = _user_or_error(data_dict["user"])
    member = model.Session.query(CircleMember).filter_by(
        circle_id=circle.id, user_id=user.id).first()
    if member is None:
        member = CircleMember(circle_id=circle.id, user_id=user.id)
        model.Session.add(member)
    member.expires = data_dict.get("expires")
    _commit()
    return {"circle_id": circle.id, "user_id": user.id, "user": user.name,
            "expires": _iso(member.expires)}


@validate(schema.circle_member)
def grandlyon_access_circle_member_delete(context: Context, data_dict: DataDict) -> None:
    """Removes a user from a circle."""
    tk.check_access("grandlyon_access_circle_member_delete", context, data_dict)
    circle = _circle_or_404(data_dict["circle_id"])
    user = _user_or_error(data_dict["user"])
    deleted = model.Session.query(CircleMember).filter_by(
        circle_id=circle.id, user_id=user.id).delete()
    if not deleted:
        raise tk.ObjectNotFound(tk._("This user is not a member of the circle"))
    _commit()


# --- grants ----------------------------------------------------------------------------

def _grant_dict(grant: Grant) -> dict[str, Any]:
    circle = model.Session.get(Circle, grant.circle_id) if grant.circle_id else None
    user = model.User.get(grant.user_id) if grant.user_id else None
    return {
        "id": grant.id, "package_id": grant.package_id,
        "circle_id": grant.circle_id, "circle": circle.name if circle else None,
        "user_id": grant.user_id, "user": user.name if user else None,
        "expires": _iso(grant.expires), "created": _iso(grant.created),
        "active": grant.expires is None or grant.expires > utcnow(),
    }


def _grant(package: model.Package, circle: Optional[Circle], user: Optional[model.User],
           expires, created_by: Optional[str]) -> Grant:
    query = model.Session.query(Grant).filter_by(package_id=package.id)
    query = query.filter_by(circle_id=circle.id) if circle else query.filter_by(user_id=user.id)
    grant = query.first()
    if grant is None:
        grant = Grant(package_id=package.id, circle_id=circle.id if circle else None,
                      user_id=user.id if user else None, created_by=created_by)
        model.Session.add(grant)
    grant.expires = expires
    return grant


@validate(schema.grant_create)
def grandlyon_access_grant_create(context: Context, data_dict: DataDict) -> dict[str, Any]:
    """Grants a dataset's data to a circle or to one user (or changes the end
    of an existing grant). The dataset's editors and admins, sysadmins.

    :param package_id: the dataset's id or name
    :param circle_id: a circle's id or name, or
    :param user: a user's id or name
    :param expires: optional ISO date: the grant ends then
    """
    package = _package_or_404(data_dict["package_id"])
    tk.check_access("grandlyon_access_grant_create", context, {"package_id": package.id})
    if bool(data_dict.get("circle_id")) == bool(data_dict.get("user")):
        raise tk.ValidationError({"circle_id": [tk._("Give either a circle or a user")]})
    circle = None
    if data_dict.get("circle_id"):
        try:
            circle = _circle_or_404(data_dict["circle_id"])
        except tk.ObjectNotFound:
            raise tk.ValidationError({"circle_id": [tk._("Circle not found")]})
    user = _user_or_error(data_dict["user"]) if data_dict.get("user") else None
    grant = _grant(package, circle, user, data_dict.get("expires"), context.get("user"))
    _commit()
    return _grant_dict(grant)


@validate(schema.show)
def grandlyon_access_grant_delete(context: Context, data_dict: DataDict) -> None:
    """Withdraws a grant."""
    grant = model.Session.get(Grant, data_dict["id"])
    if grant is None:
        raise tk.ObjectNotFound(tk._("Grant not found"))
    context["grandlyon_access_package_id"] = grant.package_id
    tk.check_access("grandlyon_access_grant_delete", context, data_dict)
    model.Session.delete(grant)
    _commit()


@tk.side_effect_free
@validate(schema.package_only)
def grandlyon_access_grant_list(context: Context, data_dict: DataDict) -> list[dict[str, Any]]:
    """The grants of a dataset. The dataset's editors and admins, sysadmins."""
    package = _package_or_404(data_dict["package_id"])
    tk.check_access("grandlyon_access_grant_list", context, {"package_id": package.id})
    grants = model.Session.query(Grant).filter_by(package_id=package.id).order_by(Grant.created)
    return [_grant_dict(g) for g in grants]


# --- access requests ----------------------------------------------------------------------

def _request_dict(req: AccessRequest) -> dict[str, Any]:
    user = model.User.get(req.user_id)
    return {
        "id": req.id, "package_id": req.package_id, "user_id": req.user_id,
        "user": user.name if user else None, "message": req.message, "status": req.status,
        "created": _iso(req.created), "decided_at": _iso(req.decided_at),
        "reason": req.reason, "expires": _iso(req.expires), "grant_id": req.grant_id,
    }


def _notify_admins(package: model.Package, req: AccessRequest, requester: model.User) -> None:
    """E-mails the admins of the dataset's organisation; a failing mail server
    is logged, the request stays recorded."""
    members = tk.get_action("member_list")(
        {"ignore_auth": True}, {"id": package.owner_org, "object_type": "user", "capacity": "admin"})
    url = tk.url_for("dataset.read", id=package.name, _external=True)
    subject = tk._("Access request for {dataset}").format(dataset=package.title or package.name)
    body = tk._(
        "{user} asks for access to the data of \"{dataset}\".\n\nTheir message:\n{message}\n\n"
        "Approve or reject the request on the dataset's page: {url}"
    ).format(user=requester.display_name, dataset=package.title or package.name,
             message=req.message, url=url)
    for user_id, _type, _capacity in members:
        admin = model.User.get(user_id)
        if admin is None or not admin.email:
            continue
        try:
            mailer.mail_user(admin, subject, body)
        except Exception:  # a mail set-up problem must not lose the request
            log.exception("could not e-mail access request %s to %s", req.id, admin.name)


@validate(schema.request_create)
def grandlyon_access_request_create(context: Context, data_dict: DataDict) -> dict[str, Any]:
    """Asks for access to a restricted dataset; its organisation's admins are
    told by e-mail. One pending request per user and dataset.

    :param package_id: the dataset's id or name
    :param message: why the user needs the data
    """
    package = _visible_package(context, data_dict["package_id"])
    tk.check_access("grandlyon_access_request_create", context, {"package_id": package.id})
    user = model.User.get(context["user"])
    decision = policy.decide(context, package)
    if decision.level != "restricted":
        raise tk.ValidationError({"package_id": [tk._("This dataset is not restricted: no request is needed")]})
    if decision.data:
        raise tk.ValidationError({"package_id": [tk._("You already have access to this dataset")]})
    pending = model.Session.query(AccessRequest).filter_by(
        package_id=package.id, user_id=user.id, status="pending").first()
    if pending is not None:
        raise tk.ValidationError({"package_id": [tk._("You already have a pending request for this dataset")]})
    req = AccessRequest(package_id=package.id, user_id=user.id, message=data_dict["message"])
    model.Session.add(req)
    _commit()
    if package.owner_org:
        _notify_admins(package, req, user)
    return _request_dict(req)


@tk.side_effect_free
@validate(schema.request_list)
def grandlyon_access_request_list(context: Context, data_dict: DataDict) -> list[dict[str, Any]]:
    """Access requests: the user's own, or those of a dataset (`package_id`)
    for its organisation's admins; optionally of one `status`."""
    if data_dict.get("package_id"):
        data_dict["package_id"] = _package_or_404(data_dict["package_id"]).id
    tk.check_access("grandlyon_access_request_list", context, data_dict)
    query = model.Session.query(AccessRequest)
    if data_dict.get("package_id"):
        query = query.filter_by(package_id=data_dict["package_id"])
    else:
        query = query.filter_by(user_id=model.User.get(context["user"]).id)
    if data_dict.get("status"):
        query = query.filter_by(status=data_dict["status"])
    return [_request_dict(r) for r in query.order_by(AccessRequest.created.desc())]


@validate(schema.request_decide)
def grandlyon_access_request_decide(context: Context, data_dict: DataDict) -> dict[str, Any]:
    """Approves (with an optional `expires`) or rejects (with a `reason`) a
    pending request. The dataset organisation's admins, sysadmins."""
    req = model.Session.get(AccessRequest, data_dict["id"])
    if req is None:
        raise tk.ObjectNotFound(tk._("Access request not found"))
    context["grandlyon_access_package_id"] = req.package_id
    tk.check_access("grandlyon_access_request_decide", context, data_dict)
    if req.status != "pending":
        raise tk.ValidationError({"id": [tk._("This request was already decided")]})
    if data_dict["decision"] == "reject" and not data_dict.get("reason"):
        raise tk.ValidationError({"reason": [tk._("Give the reason of the rejection")]})
    req.decided_at = utcnow()
    req.decided_by = context.get("user")
    req.reason = data_dict.get("reason")
    if data_dict["decision"] == "approve":
        package = _package_or_404(req.package_id)
        grant = _grant(package, None, model.User.get(req.user_id), data_dict.get("expires"),
                       context.get("user"))
        model.Session.flush()
        req.status, req.expires, req.grant_id = "approved", grant.expires, grant.id
    else:
        req.status = "rejected"
    _commit()
    return _request_dict(req)


# --- audit log -----------------------------------------------------------------------------

@tk.side_effect_free
@validate(schema.log_list)
def grandlyon_access_log_list(context: Context, data_dict: DataDict) -> dict[str, Any]:
    """Reads of gated data, newest first. Sysadmins only.

    :param package_id: optional filter
    :param user: optional filter (id or name)
    :param licence_id: optional: reads of datasets under this licence (the
        usage of a licence's signatories)
    :param since, until: optional ISO dates
    :param limit: default 100; offset: default 0
    """
    tk.check_access("grandlyon_access_log_list", context, data_dict)
    query = model.Session.query(AccessLog)
    if data_dict.get("package_id"):
        query = query.filter(AccessLog.package_id == _package_or_404(data_dict["package_id"]).id)
    if data_dict.get("user"):
        query = query.filter(AccessLog.user_id == _user_or_error(data_dict["user"]).id)
    if data_dict.get("licence_id"):
        under_licence = sa.select(model.Package.id).where(
            model.Package.license_id == data_dict["licence_id"])
        query = query.filter(AccessLog.package_id.in_(under_licence))
    if data_dict.get("since"):
        query = query.filter(AccessLog.at >= data_dict["since"])
    if data_dict.get("until"):
        query = query.filter(AccessLog.at < data_dict["until"])
    total = query.count()
    rows = (query.order_by(AccessLog.at.desc(), AccessLog.id.desc())
            .limit(_validated_int(data_dict, "limit", 100)).offset(_validated_int(data_dict, "offset", 0)))
    users = {}
    out = []
    for row in rows:
        if row.user_id and row.user_id not in users:
            users[row.user_id] = getattr(model.User.get(row.user_id), "name", None)
        out.append({"at": _iso(row.at), "user_id": row.user_id, "user": users.get(row.user_id),
                    "package_id": row.package_id, "resource_id": row.resource_id,
                    "surface": row.surface})
    return {"count": total, "results": out}


def _validated_int(data_dict: DataDict, key: str, default: int) -> int:
    """A validated integer parameter. CKAN's validation hands an empty list
    back untouched (it means "none" for list fields), so check the type."""
    value = data_dict.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else default


# --- throttling (site/throttle.py) ------------------------------------------------------

@validate(schema.throttle_unlock)
def grandlyon_access_throttle_unlock(context: Context, data_dict: DataDict) -> dict[str, Any]:
    """Clears the throttling counters of an account and/or a client
    address, so they may try again at once. Sysadmins only.

    :param account: a user name or e-mail address (or any login text)
    :param address: a client IP address
    :param kinds: the doors to clear (login, reset, register, request);
        default all
    :returns: {"cleared": ["<door> <account|address> <value>", ...]}, the
        counters that held something
    """
    tk.check_access("grandlyon_access_throttle_unlock", context, data_dict)
    account, address = data_dict.get("account"), data_dict.get("address")
    if not account and not address:
        raise tk.ValidationError({"account": [tk._("Give an account, an address or both")]})
    kinds = tuple(data_dict.get("kinds") or throttle.KINDS)
    return {"cleared": throttle.unlock(account, address, kinds)}


@validate(schema.two_factor_reset)
def grandlyon_access_two_factor_reset(context: Context, data_dict: DataDict) -> dict[str, Any]:
    """Removes a user's second factor and recovery codes (a lost phone),
    writes it to the account log and tells the user by e-mail. Sysadmins
    only (site/twofactor.py).

    :param id: the user's id or name
    :returns: {"reset": whether the user had a second factor}
    """
    tk.check_access("grandlyon_access_two_factor_reset", context, data_dict)
    user = model.User.get(data_dict["id"])
    if user is None:
        raise tk.ObjectNotFound(tk._("User not found"))
    actor = policy.user_of(context)
    return {"reset": twofactor.reset(user, actor.id if actor else None)}
