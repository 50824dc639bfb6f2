"""Actions of the licence registry and of online signatures."""

from __future__ import annotations

import logging
from typing import Any

import ckan.plugins.toolkit as tk
import sqlalchemy as sa
from ckan import authz, model
from ckan.logic import validate
from ckan.types import Context, DataDict
from sqlalchemy.exc import IntegrityError

from .. import registry, store
from ..model import GrandlyonLicenceSignature as Signature
from ..model import utcnow
from . import schema, validators

log = logging.getLogger(__name__)

__all__ = [
    "grandlyon_licence_list",
    "grandlyon_licence_show",
    "grandlyon_licence_sign",
    "grandlyon_licence_signature_list",
    "grandlyon_licence_signature_revoke",
    "grandlyon_licence_version_publish",
]

DETAIL_MAX_LENGTH = 1000


# --- dictization -----------------------------------------------------------------------


def _licence_dict(licence: registry.Licence, full: bool = False) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": licence.id,
        "version": licence.version,
        "title": registry.localize(licence.title),
        "title_translated": dict(licence.title),
        "url": licence.url,
        "signature_required": licence.signature_required,
        **licence.ckan_fields,
    }
    if full:
        data["text"] = registry.localize(licence.text)
        data["text_translated"] = dict(licence.text)
        data["signer_details"] = [
            {
                "name": d.name,
                "label": registry.localize(d.label),
                "label_translated": dict(d.label),
                "required": d.required,
            }
            for d in licence.signer_details
        ]
    return data


def _iso(value: Any) -> str | None:
    return value.isoformat() if value else None


def _signature_dicts(signatures: list[Signature]) -> list[dict[str, Any]]:
    current = registry.current()
    versions = current.current_versions() if current else {}
    user_ids = {s.user_id for s in signatures} | {s.revoked_by for s in signatures if s.revoked_by}
    names = dict(
        model.Session.query(model.User.id, model.User.name).filter(model.User.id.in_(user_ids))
        if user_ids
        else []
    )
    result = []
    for s in signatures:
        licence = current.get(s.licence_id) if current else None
        result.append(
            {
                "id": s.id,
                "user_id": s.user_id,
                "user_name": names.get(s.user_id),
                "licence_id": s.licence_id,
                "licence_title": registry.localize(licence.title) if licence else s.licence_id,
                "licence_version": s.licence_version,
                "current_version": versions.get(s.licence_id),
                "current": s.revoked_at is None and versions.get(s.licence_id) == s.licence_version,
                "signed_at": _iso(s.signed_at),
                "details": dict(s.details or {}),
                "revoked": s.revoked_at is not None,
                "revoked_at": _iso(s.revoked_at),
                "revoked_by": s.revoked_by,
                "revoked_by_name": names.get(s.revoked_by) if s.revoked_by else None,
                "revoke_reason": s.revoke_reason,
            }
        )
    return result


def _acting_user(context: Context) -> model.User | None:
    user = context.get("auth_user_obj")
    if isinstance(user, model.User):
        return user
    name = context.get("user")
    return model.User.get(name) if name else None


def _valid_signature(user_id: str, licence_id: str, version: str) -> Signature | None:
    return (
        model.Session.query(Signature)
        .filter(
            Signature.user_id == user_id,
            Signature.licence_id == licence_id,
            Signature.licence_version == version,
            Signature.revoked_at.is_(None),
        )
        .one_or_none()
    )


# --- actions ---------------------------------------------------------------------------


@tk.side_effect_free
@validate(schema.licence_list)
def grandlyon_licence_list(context: Context, data_dict: DataDict) -> list[dict[str, Any]]:
    """The licences of the registry, in its order, titled in the request's language.

    :returns: each licence's id, version, title, title_translated ({fr, en}),
        url, signature_required and CKAN's licence fields
    :rtype: list of dictionaries
    """
    tk.check_access("grandlyon_licence_list", context, data_dict)
    current = registry.current()
    return [_licence_dict(licence) for licence in current.licences] if current else []


def _version_dicts(
    licence: registry.Licence, versions: list[registry.LicenceVersion], context: Context
) -> list[dict[str, Any]]:
    """The history of a licence; who published each version: sysadmins only."""
    sysadmin = bool(context.get("ignore_auth")) or authz.is_sysadmin(context.get("user"))
    publishers = {v.published_by for v in versions if v.published_by} if sysadmin else set()
    names = dict(
        model.Session.query(model.User.id, model.User.name).filter(model.User.id.in_(publishers))
        if publishers
        else []
    )
    result = []
    for v in versions:
        data = {
            "version": v.version,
            "published_at": _iso(v.published_at),
            "current": v.version == licence.version,
        }
        if sysadmin:
            data.update(
                published_by=v.published_by,
                published_by_name=names.get(v.published_by) if v.published_by else None,
                note=v.note,
            )
        result.append(data)
    return result


@tk.side_effect_free
@validate(schema.licence_show)
def grandlyon_licence_show(context: Context, data_dict: DataDict) -> dict[str, Any]:
    """One licence with its text, its versions and what a signer must tell.

    :param id: the licence's id
    :type id: string
    :param version: a version of the licence, current or older (optional;
        default: the current one): its text is given
    :type version: string
    :returns: the licence (see grandlyon_licence_list) with text (markdown),
        text_translated, signer_details ([{name, label, label_translated,
        required}]); `version` is the version asked for, `current_version`
        the current one and `is_current` whether they are the same;
        `published_at` when that version was published; `versions`, every
        version, newest first ([{version, published_at, current}], with
        published_by, published_by_name and note for sysadmins); for a
        logged-in user, `signed_current_version` (bool) and `signature`
        (their signature of the current version, or None). Both are None for
        anonymous users.
    :rtype: dictionary
    """
    tk.check_access("grandlyon_licence_show", context, data_dict)
    licence = registry.get_licence(data_dict["id"])
    if licence is None:
        raise tk.ObjectNotFound(tk._("Licence not found: {id}").format(id=data_dict["id"]))
    result = _licence_dict(licence, full=True)
    versions = registry.history(licence.id)
    wanted = data_dict.get("version") or licence.version
    shown = next((v for v in versions if v.version == wanted), None)
    if shown is None and wanted != licence.version:
        raise tk.ObjectNotFound(
            tk._("Licence {id} has no version {version}").format(id=licence.id, version=wanted)
        )
    if shown is not None:
        result["text"] = registry.localize(shown.text)
        result["text_translated"] = dict(shown.text)
    result.update(
        version=wanted,
        current_version=licence.version,
        is_current=wanted == licence.version,
        published_at=_iso(shown.published_at) if shown else None,
        versions=_version_dicts(licence, versions, context),
    )
    result["signed_current_version"] = None
    result["signature"] = None
    user = _acting_user(context)
    if user:
        signature = _valid_signature(user.id, licence.id, licence.version)
        result["signed_current_version"] = signature is not None
        result["signature"] = _signature_dicts([signature])[0] if signature else None
    return result


@validate(schema.licence_sign)
def grandlyon_licence_sign(context: Context, data_dict: DataDict) -> dict[str, Any]:
    """Signs the current version of a licence for the logged-in user.

    Signing a version already signed returns the existing signature.

    :param licence_id: the licence's id
    :type licence_id: string
    :param version: the version being signed (optional); it must be the
        current one
    :type version: string
    :param <detail>: each detail the licence asks for (see
        grandlyon_licence_show's signer_details), e.g. ``organisation``
    :type <detail>: string
    :returns: the signature (see grandlyon_licence_signature_list)
    :rtype: dictionary
    """
    tk.check_access("grandlyon_licence_sign", context, data_dict)
    user = _acting_user(context)
    if user is None:
        raise tk.NotAuthorized(tk._("Log in to sign a licence"))

    extras = data_dict.get("__extras") or {}
    licence = registry.get_licence(data_dict["licence_id"])
    if licence is None:
        raise tk.ValidationError(
            {
                "licence_id": [
                    tk._("No licence with this id: {id}").format(id=data_dict["licence_id"])
                ]
            }
        )
    if not licence.signature_required:
        raise tk.ValidationError(
            {
                "licence_id": [
                    tk._("This licence does not need to be signed: its data is open to all")
                ]
            }
        )

    errors: dict[str, list[str]] = {}
    version = data_dict.get("version")
    if version and version != licence.version:
        errors["version"] = [
            tk._(
                "Version {version} is not the current version of this licence: "
                "read version {current} and sign it"
            ).format(version=version, current=licence.version)
        ]
    details: dict[str, str] = {}
    for detail in licence.signer_details:
        value = extras.pop(detail.name, None)
        if value is not None and not isinstance(value, str):
            errors[detail.name] = [tk._("Must be a text")]
            continue
        value = (value or "").strip()
        if not value:
            if detail.required:
                errors[detail.name] = [tk._("Missing value: this licence asks for it")]
            continue
        if len(value) > DETAIL_MAX_LENGTH:
            errors[detail.name] = [
                tk._("Too long: at most {max} characters").format(max=DETAIL_MAX_LENGTH)
            ]
            continue
        details[detail.name] = value
    for key in sorted(extras):
        errors[key] = [tk._("Unknown field: this licence does not ask for it")]
    if errors:
        raise tk.ValidationError(errors)

    existing = _valid_signature(user.id, licence.id, licence.version)
    if existing is None:
        signature = Signature(
            user_id=user.id,
            licence_id=licence.id,
            licence_version=licence.version,
            signed_at=utcnow(),
            details=details,
        )
        model.Session.add(signature)
        try:
            model.Session.commit()
        except IntegrityError:  # signed at the same time by another request
            model.Session.rollback()
            existing = _valid_signature(user.id, licence.id, licence.version)
            if existing is None:
                raise
        else:
            log.info("user %s signed licence %s version %s", user.name, licence.id, licence.version)
            return _signature_dicts([signature])[0]
    return _signature_dicts([existing])[0]


@tk.side_effect_free
@validate(schema.signature_list)
def grandlyon_licence_signature_list(context: Context, data_dict: DataDict) -> list[dict[str, Any]]:
    """Signatures, newest first: one's own, or anyone's for sysadmins.

    :param licence_id: only signatures of this licence (optional)
    :type licence_id: string
    :param user: only signatures of this user, name or id (optional; other
        users than oneself: sysadmins only). Without it, sysadmins get
        everyone's signatures and other users their own.
    :type user: string
    :param current_only: only valid signatures of the current version of
        their licence (default false)
    :type current_only: bool
    :param include_revoked: include revoked signatures (default false)
    :type include_revoked: bool
    :param limit: at most this many (optional)
    :type limit: int
    :param offset: skip this many (optional)
    :type offset: int
    :returns: signatures with id, user_id, user_name, licence_id,
        licence_title, licence_version, current_version, current (bool),
        signed_at, details, revoked, revoked_at, revoked_by,
        revoked_by_name, revoke_reason
    :rtype: list of dictionaries
    """
    tk.check_access("grandlyon_licence_signature_list", context, data_dict)
    query = model.Session.query(Signature)

    if data_dict.get("user"):
        user = model.User.get(data_dict["user"])
        if user is None:
            raise tk.ValidationError({"user": [tk._("No user with this name or id")]})
        query = query.filter(Signature.user_id == user.id)
    elif not (context.get("ignore_auth") or authz.is_sysadmin(context.get("user"))):
        me = _acting_user(context)
        query = query.filter(Signature.user_id == (me.id if me else None))

    if data_dict.get("licence_id"):
        query = query.filter(Signature.licence_id == data_dict["licence_id"])
    if data_dict["current_only"]:
        current = registry.current()
        versions = current.current_versions() if current else {}
        query = query.filter(
            Signature.revoked_at.is_(None),
            sa.or_(
                sa.false(),
                *(
                    sa.and_(Signature.licence_id == lid, Signature.licence_version == version)
                    for lid, version in versions.items()
                ),
            ),
        )
    elif not data_dict["include_revoked"]:
        query = query.filter(Signature.revoked_at.is_(None))

    query = query.order_by(Signature.signed_at.desc(), Signature.id)
    # CKAN's validation hands an empty list back untouched: check the type.
    offset, limit = data_dict.get("offset"), data_dict.get("limit")
    if isinstance(offset, int) and offset:
        query = query.offset(offset)
    if isinstance(limit, int):
        query = query.limit(limit)
    return _signature_dicts(query.all())


@validate(schema.signature_revoke)
def grandlyon_licence_signature_revoke(context: Context, data_dict: DataDict) -> dict[str, Any]:
    """Revokes a signature (sysadmins): it no longer counts; the user may sign again.

    :param id: the signature's id
    :type id: string
    :param reason: why it is revoked (kept with the signature)
    :type reason: string
    :returns: the revoked signature
    :rtype: dictionary
    """
    tk.check_access("grandlyon_licence_signature_revoke", context, data_dict)
    signature = model.Session.get(Signature, data_dict["id"])
    if signature is None:
        raise tk.ObjectNotFound(tk._("Signature not found: {id}").format(id=data_dict["id"]))
    if signature.revoked_at is not None:
        raise tk.ValidationError(
            {
                "id": [
                    tk._("This signature was already revoked on {date}").format(
                        date=signature.revoked_at.strftime("%Y-%m-%d %H:%M UTC")
                    )
                ]
            }
        )
    actor = _acting_user(context)
    signature.revoked_at = utcnow()
    signature.revoked_by = actor.id if actor else None
    signature.revoke_reason = data_dict["reason"]
    model.Session.commit()
    log.info("signature %s revoked by %s", signature.id, actor.name if actor else "(system)")
    return _signature_dicts([signature])[0]


def grandlyon_licence_version_publish(context: Context, data_dict: DataDict) -> dict[str, Any]:
    """Publishes a new version of a licence (sysadmins): it becomes the
    current version in the database, seen by every web process from its next
    request, and every signature of an older version stops counting, so its
    signatories are asked to sign again. The older versions and their texts
    are kept (what was signed stays readable).

    :param licence_id: the licence
    :type licence_id: string
    :param version: the new version, e.g. "2.0" (letters, digits, ".", "-",
        "_" or spaces, at most 50), never published before for this licence
    :type version: string
    :param text: the text of the new version, markdown per language, e.g.
        {"fr": "...", "en": "..."} (optional; the languages not given keep
        the current version's text)
    :type text: dictionary
    :returns: the licence, as grandlyon_licence_show
    :rtype: dictionary
    """
    tk.check_access("grandlyon_licence_version_publish", context, data_dict)
    data, errors = tk.navl_validate(data_dict, schema.version_publish(), context)
    if errors:
        raise tk.ValidationError(errors)
    licence_id, version = data["licence_id"], data["version"]
    actor = _acting_user(context)
    try:
        registry.publish_version(licence_id, version, data.get("text"), actor.id if actor else None)
    except store.VersionExists as e:  # published by someone else meanwhile
        raise tk.ValidationError({"version": [validators.version_taken_message(
            version, e.published_at)]}) from e
    except store.UnknownLicence as e:
        raise tk.ValidationError({"licence_id": [tk._("Choose a licence of the registry")]}) from e
    log.info("licence %s: version %s published by %s", licence_id, version, context.get("user"))
    return tk.get_action("grandlyon_licence_show")(context, {"id": licence_id})
