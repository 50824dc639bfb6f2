"""Two-factor sign-in: a TOTP code (RFC 6238, pyotp) after the password.

- Any user may switch it on from their account (`/user/<name>/two-factor`):
  a QR code (SVG drawn on the server by segno) and the secret for manual
  entry; it is on once a first valid code is given, and ten single-use
  recovery codes are then shown once.
- Users of the roles named by `ckanext.grandlyon_access.two_factor_required_for`
  (`sysadmin`, `org_admin`, `restricted`: holders of a grant on restricted
  data, through a circle or personally) must use it: after a right password
  they enrol before they are logged in.
- The secret is stored encrypted (Fernet, key derived from `SECRET_KEY`);
  recovery codes as keyed hashes (HMAC-SHA256). A time step is accepted
  once (a replayed code is refused) and one step of clock drift either way.
- After a right password the user is not logged in: a pending state bound
  to the user, with an expiry (`two_factor.pending_seconds`), waits in the
  session for the code (sign-in) or the enrolment (required users).
- API tokens are not affected.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import hmac
import logging
import secrets
import time
from typing import Any

import ckan.lib.mailer as mailer
import ckan.model as model
import ckan.plugins.toolkit as tk
import pyotp
import segno
import sqlalchemy as sa
from ckanext.grandlyon_access import config
from ckanext.grandlyon_access.model import (
    AccountLog,
    CircleMember,
    Grant,
    TwoFactor,
    TwoFactorRecoveryCode,
    utcnow,
)
from ckanext.grandlyon_access.site import sessions
from cryptography.fernet import Fernet, InvalidToken

log = logging.getLogger(__name__)

ROLES = ("sysadmin", "org_admin", "restricted")
RECOVERY_CODES = 10
PENDING = "grandlyon_access_two_factor_pending"
STEP = 30


# --- keys -----------------------------------------------------------------------------

def _derived_key(purpose: bytes) -> bytes:
    secret = tk.config.get("SECRET_KEY") or tk.config.get("beaker.session.secret") or ""
    if not secret:
        raise RuntimeError("SECRET_KEY is not set: second factors cannot be stored")
    return hmac.new(secret.encode(), b"grandlyon_access.two_factor." + purpose,
                    hashlib.sha256).digest()


def _fernet() -> Fernet:
    return Fernet(base64.urlsafe_b64encode(_derived_key(b"secret")))


def encrypt(secret: str) -> str:
    return _fernet().encrypt(secret.encode()).decode()


def decrypt(token: str) -> str | None:
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken:  # SECRET_KEY changed: the factor must be reset
        return None


def hash_recovery_code(code: str) -> str:
    normal = "".join(code.split()).replace("-", "").lower()
    return hmac.new(_derived_key(b"recovery"), normal.encode(), hashlib.sha256).hexdigest()


# --- the factor -----------------------------------------------------------------------

def factor_of(user_id: str) -> TwoFactor | None:
    return model.Session.get(TwoFactor, user_id)


def is_enabled(user_id: str) -> bool:
    factor = factor_of(user_id)
    return bool(factor and factor.enabled)


def start_enrolment(user_id: str) -> str | None:
    """The secret being enrolled for `user_id` (a new one unless an
    unconfirmed one waits); None when the user's factor is on already (its
    secret is never shown again)."""
    factor = factor_of(user_id)
    if factor is not None and factor.enabled:
        return None
    secret = decrypt(factor.secret) if factor is not None else None
    if secret:
        return secret
    secret = pyotp.random_base32()
    if factor is None:
        factor = TwoFactor(user_id=user_id)
        model.Session.add(factor)
    factor.secret, factor.enabled, factor.last_step = encrypt(secret), False, 0
    model.Session.commit()
    return secret


def provisioning_uri(user: model.User, secret: str) -> str:
    issuer = tk.config.get("ckan.site_title") or "CKAN"
    return pyotp.TOTP(secret).provisioning_uri(name=user.name, issuer_name=issuer)


def qr_svg(uri: str) -> str:
    """The QR code of `uri` as an inline SVG element (no script, no style
    attribute: the page's Content-Security-Policy holds)."""
    return segno.make(uri, error="m").svg_inline(scale=5, border=2, dark="#000", light="#fff",
                                                 svgclass="grandlyon-two-factor-qr-svg")


def _matched_step(secret: str, code: str, now: float) -> int | None:
    code = "".join((code or "").split())
    if not (code.isdigit() and len(code) == 6):
        return None
    totp = pyotp.TOTP(secret)
    current = totp.timecode(datetime.datetime.fromtimestamp(now, datetime.timezone.utc))
    for step in (current - 1, current, current + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


_RECOVERY_ALPHABET = frozenset("abcdefghijklmnopqrstuvwxyz234567")


def well_formed(code: str | None) -> bool:
    """Whether `code` looks like a code at all: six digits, or a recovery
    code (eight letters and digits 2-7, a dash and spaces ignored). Anything
    else is a slip of the user, not a guess."""
    normal = "".join((code or "").split())
    if normal.isdigit() and len(normal) == 6:
        return True
    recovery = normal.replace("-", "").lower()
    return len(recovery) == 8 and set(recovery) <= _RECOVERY_ALPHABET


def was_used(user_id: str, code: str) -> bool:
    """Whether `code` is a code of the user's factor for a time step already
    used (a replay: right, but once only)."""
    factor = factor_of(user_id)
    secret = decrypt(factor.secret) if factor is not None else None
    step = _matched_step(secret, code, time.time()) if secret else None
    if step is None:
        return False
    last = model.Session.execute(sa.select(TwoFactor.last_step)
                                 .where(TwoFactor.user_id == user_id)).scalar()
    return step <= (last or 0)


def check_code(user_id: str, code: str, *, enabling: bool = False) -> bool:
    """Whether `code` is a valid TOTP code of the user's factor (enabled,
    or being enrolled when `enabling`), for a time step not used before;
    the step is then used up (atomically: two requests with the same code
    cannot both pass)."""
    factor = factor_of(user_id)
    if factor is None or factor.enabled == enabling:
        return False
    secret = decrypt(factor.secret)
    step = _matched_step(secret, code, time.time()) if secret else None
    if step is None:
        return False
    table = TwoFactor.__table__
    claimed = model.Session.execute(
        table.update()
        .where(table.c.user_id == user_id, table.c.last_step < step)
        .values(last_step=step)).rowcount
    model.Session.commit()
    return claimed == 1


def use_recovery_code(user_id: str, code: str) -> bool:
    """Whether `code` is an unused recovery code of the user; it is then used up."""
    if not is_enabled(user_id) or not (code or "").strip():
        return False
    table = TwoFactorRecoveryCode.__table__
    used = model.Session.execute(
        table.update()
        .where(table.c.user_id == user_id, table.c.code_hash == hash_recovery_code(code),
               table.c.used_at.is_(None))
        .values(used_at=utcnow())).rowcount
    model.Session.commit()
    return used == 1


def check_code_or_recovery(user_id: str, code: str) -> bool:
    return check_code(user_id, code) or use_recovery_code(user_id, code)


def new_recovery_codes(user_id: str) -> list[str]:
    """Ten new recovery codes for the user (the old ones no longer work),
    in clear for showing once; only their hashes are stored."""
    codes = []
    for _ in range(RECOVERY_CODES):
        raw = base64.b32encode(secrets.token_bytes(5)).decode().lower()
        codes.append(f"{raw[:4]}-{raw[4:]}")
    table = TwoFactorRecoveryCode.__table__
    model.Session.execute(table.delete().where(table.c.user_id == user_id))
    model.Session.execute(table.insert(), [
        {"user_id": user_id, "code_hash": hash_recovery_code(code)} for code in codes])
    model.Session.commit()
    return codes


def enable(user_id: str) -> list[str]:
    """Switches the enrolled factor on; its recovery codes, in clear, once."""
    factor = factor_of(user_id)
    factor.enabled, factor.enabled_at = True, utcnow()
    model.Session.commit()
    return new_recovery_codes(user_id)


def remove(user_id: str) -> bool:
    """Removes the user's factor and recovery codes; whether there was one."""
    tables = (TwoFactorRecoveryCode.__table__, TwoFactor.__table__)
    removed = 0
    for table in tables:
        removed += model.Session.execute(table.delete().where(table.c.user_id == user_id)).rowcount
    model.Session.commit()
    return removed > 0


def record_reset(actor_id: str | None, user_id: str) -> None:
    """The account log's record of a reset, on a connection of its own."""
    with model.meta.engine.begin() as connection:
        connection.execute(AccountLog.__table__.insert().values(
            at=utcnow(), actor_id=actor_id, user_id=user_id, event="two_factor_reset"))


def reset(user: model.User, actor_id: str | None) -> bool:
    """A sysadmin's reset: removes the user's factor, records it in the
    account log and tells the user by e-mail (when there was a factor; a
    mail that fails is logged, the reset stands); whether there was a factor."""
    removed = remove(user.id)
    sessions.bump(user.id)  # the user's sessions end: they log in again
    record_reset(actor_id, user.id)
    if removed and user.email:
        subject = tk._("Your two-factor sign-in was reset")
        body = tk._(
            "Hello {name},\n\nAn administrator of {site} has reset the two-factor sign-in of "
            "your account. You can now log in with your password alone; set up two-factor "
            "sign-in again from your account page: {url}\n\nIf you did not ask for this, "
            "tell the portal's administrators at once.").format(
                name=user.display_name, site=tk.config.get("ckan.site_title"),
                url=tk.h.url_for("grandlyon_access.two_factor", id=user.name, _external=True))
        try:
            mailer.mail_user(user, subject, body)
        except Exception:  # MailerException, and what CKAN's mailer lets through
            # (OSError, an AttributeError without smtp.mail_from): the reset is done
            log.exception("two-factor reset of %s: e-mail not sent", user.name)
    return removed


# --- who must use it ------------------------------------------------------------------

def _is_org_admin(user_id: str) -> bool:
    return model.Session.query(model.Member).join(
        model.Group, model.Group.id == model.Member.group_id
    ).filter(
        model.Member.table_name == "user", model.Member.table_id == user_id,
        model.Member.capacity == "admin", model.Member.state == "active",
        model.Group.is_organization.is_(True), model.Group.state == "active",
    ).first() is not None


def _holds_restricted_data(user_id: str) -> bool:
    """Whether the user holds an active grant (through a circle or
    personally) on a dataset whose level is `restricted`."""
    now = utcnow()
    member_of = (sa.select(CircleMember.circle_id)
                 .where(CircleMember.user_id == user_id)
                 .where(sa.or_(CircleMember.expires.is_(None), CircleMember.expires > now)))
    extra = model.PackageExtra
    return model.Session.query(Grant.id).join(
        extra, sa.and_(extra.package_id == Grant.package_id, extra.key == "access_level",
                       extra.value == "restricted", extra.state == "active")
    ).filter(
        sa.or_(Grant.expires.is_(None), Grant.expires > now),
        sa.or_(Grant.user_id == user_id, Grant.circle_id.in_(member_of)),
    ).first() is not None


def is_required(user: model.User) -> bool:
    """Whether the configuration requires a second factor of `user`."""
    roles = set(config.two_factor_required_for())
    if not roles:
        return False
    return bool(("sysadmin" in roles and user.sysadmin)
                or ("org_admin" in roles and _is_org_admin(user.id))
                or ("restricted" in roles and _holds_restricted_data(user.id)))


# --- the pending sign-in --------------------------------------------------------------

def start_pending(session: Any, user: model.User, purpose: str, next_url: str | None,
                  remember: str | None) -> None:
    """Keeps, in the session, a sign-in waiting for a code (`verify`) or an
    enrolment (`enrol`) by `user`, until it expires."""
    session[PENDING] = {
        "user_id": user.id, "purpose": purpose,
        "expires": int(time.time()) + config.two_factor_pending_seconds(),
        "next": next_url if next_url and tk.h.url_is_local(next_url) else None,
        "remember": remember or None,
    }


def pending(session: Any, purpose: str) -> dict[str, Any] | None:
    """The session's pending sign-in for `purpose`, if it has not expired
    (an expired one is dropped)."""
    state = session.get(PENDING)
    if not isinstance(state, dict):
        return None
    if state.get("expires", 0) < time.time():
        session.pop(PENDING, None)
        return None
    return state if state.get("purpose") == purpose else None


def pending_account(session: Any) -> str | None:
    """The name of the user whose sign-in is pending in the session, if any."""
    state = session.get(PENDING)
    user = model.User.get(state.get("user_id")) if isinstance(state, dict) else None
    return user.name if user is not None else None


def drop_pending(session: Any) -> None:
    session.pop(PENDING, None)
