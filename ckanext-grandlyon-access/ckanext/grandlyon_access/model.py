"""Tables of the access plugin: circles and their members, grants, access
requests, the audit log of data reads, second factors and the account log.
No foreign keys to CKAN's tables
(datasets and users are referred to by id); created by the plugin's
migrations (`ckan db upgrade -p grandlyon_access`)."""

from __future__ import annotations

import datetime
from typing import Optional

import ckan.plugins.toolkit as tk
from ckan.model import types as ckan_types
from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Index,
    UnicodeText,
    UniqueConstraint,
    text,
)


def utcnow() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)


class Circle(tk.BaseModel):
    """A named group of users, e.g. the partners of a mobility programme."""

    __tablename__ = "grandlyon_access_circle"

    id = Column(UnicodeText, primary_key=True, default=ckan_types.make_uuid)
    name = Column(UnicodeText, nullable=False, unique=True)
    title = Column(UnicodeText, nullable=False)
    description = Column(UnicodeText, nullable=False, default="")
    created = Column(DateTime, nullable=False, default=utcnow)


class CircleMember(tk.BaseModel):
    """A user in a circle, until `expires` (never when empty)."""

    __tablename__ = "grandlyon_access_circle_member"
    __table_args__ = (UniqueConstraint("circle_id", "user_id"),)

    id = Column(UnicodeText, primary_key=True, default=ckan_types.make_uuid)
    circle_id = Column(
        UnicodeText, ForeignKey("grandlyon_access_circle.id", ondelete="CASCADE"), nullable=False
    )
    user_id = Column(UnicodeText, nullable=False, index=True)
    expires: Optional[datetime.datetime] = Column(DateTime)
    created = Column(DateTime, nullable=False, default=utcnow)


class Grant(tk.BaseModel):
    """A dataset granted to a circle or to one user, until `expires`."""

    __tablename__ = "grandlyon_access_grant"
    __table_args__ = (
        CheckConstraint("(circle_id IS NULL) <> (user_id IS NULL)", name="grandlyon_access_grant_one_grantee"),
        Index("grandlyon_access_grant_circle_uq", "package_id", "circle_id", unique=True,
              postgresql_where=text("circle_id IS NOT NULL")),
        Index("grandlyon_access_grant_user_uq", "package_id", "user_id", unique=True,
              postgresql_where=text("user_id IS NOT NULL")),
    )

    id = Column(UnicodeText, primary_key=True, default=ckan_types.make_uuid)
    package_id = Column(UnicodeText, nullable=False, index=True)
    circle_id = Column(
        UnicodeText, ForeignKey("grandlyon_access_circle.id", ondelete="CASCADE"), index=True
    )
    user_id = Column(UnicodeText, index=True)
    expires: Optional[datetime.datetime] = Column(DateTime)
    created = Column(DateTime, nullable=False, default=utcnow)
    created_by = Column(UnicodeText)


class AccessRequest(tk.BaseModel):
    """A user's request for access to a restricted dataset, and its decision."""

    __tablename__ = "grandlyon_access_request"
    __table_args__ = (
        Index("grandlyon_access_request_pending_uq", "package_id", "user_id", unique=True,
              postgresql_where=text("status = 'pending'")),
    )

    id = Column(UnicodeText, primary_key=True, default=ckan_types.make_uuid)
    package_id = Column(UnicodeText, nullable=False, index=True)
    user_id = Column(UnicodeText, nullable=False, index=True)
    message = Column(UnicodeText, nullable=False, default="")
    status = Column(UnicodeText, nullable=False, default="pending")
    created = Column(DateTime, nullable=False, default=utcnow)
    decided_at = Column(DateTime)
    decided_by = Column(UnicodeText)
    reason = Column(UnicodeText)
    expires = Column(DateTime)
    grant_id = Column(UnicodeText)


class AccessLog(tk.BaseModel):
    """One read of gated data: who, what, when, through which surface."""

    __tablename__ = "grandlyon_access_log"
    __table_args__ = (
        Index("grandlyon_access_log_package_at", "package_id", "at"),
        Index("grandlyon_access_log_user_at", "user_id", "at"),
    )

    id = Column(BigInteger, primary_key=True, autoincrement=True)
    at = Column(DateTime, nullable=False, default=utcnow)
    user_id = Column(UnicodeText)
    package_id = Column(UnicodeText, nullable=False)
    resource_id = Column(UnicodeText)
    surface = Column(UnicodeText, nullable=False)


class TwoFactor(tk.BaseModel):
    """A user's TOTP second factor (site/twofactor.py): the secret,
    encrypted with a key derived from the site's SECRET_KEY, whether it is
    switched on (after a first valid code), and the last time step used (a
    code is accepted once)."""

    __tablename__ = "grandlyon_access_two_factor"

    user_id = Column(UnicodeText, primary_key=True)
    secret = Column(UnicodeText, nullable=False)
    enabled = Column(Boolean, nullable=False, default=False)
    last_step = Column(BigInteger, nullable=False, default=0)
    created = Column(DateTime, nullable=False, default=utcnow)
    enabled_at = Column(DateTime)


class TwoFactorRecoveryCode(tk.BaseModel):
    """One single-use recovery code of a user, stored as a keyed hash."""

    __tablename__ = "grandlyon_access_two_factor_recovery"

    id = Column(BigInteger, primary_key=True, autoincrement=True)
    user_id = Column(UnicodeText, nullable=False, index=True)
    code_hash = Column(UnicodeText, nullable=False)
    used_at = Column(DateTime)


class AccountLog(tk.BaseModel):
    """One change made to a user's account security by someone (a sysadmin
    resetting a second factor): who, to whom, what, when."""

    __tablename__ = "grandlyon_access_account_log"

    id = Column(BigInteger, primary_key=True, autoincrement=True)
    at = Column(DateTime, nullable=False, default=utcnow)
    actor_id = Column(UnicodeText)
    user_id = Column(UnicodeText, nullable=False, index=True)
    event = Column(UnicodeText, nullable=False)
