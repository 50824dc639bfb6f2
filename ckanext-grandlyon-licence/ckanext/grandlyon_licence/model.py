"""The plugin's tables: the licence registry and online signatures.

- `grandlyon_licence_licence`: each licence of the registry (what does not
  change with a version: titles, url, whether it must be signed, the
  details a signer gives, CKAN's licence fields) and its current version;
- `grandlyon_licence_version`: every version ever published of each
  licence, with its text, when and by whom (never deleted: a signature of
  an old version keeps naming a text one can read);
- `grandlyon_licence_revision`: one row, a stamp changed by every write to
  the two tables above; each web process reads it once per request and
  reloads the registry only when it changed (store.py);
- `grandlyon_licence_signature`: the signatures.

No foreign key to core tables: `user_id`, `published_by` and `revoked_by`
hold users' ids. Created by the plugin's alembic migrations
(`ckan db upgrade -p grandlyon_licence`).
"""

from __future__ import annotations

import datetime
from typing import Any

import ckan.plugins.toolkit as tk
from ckan.model.types import make_uuid
from sqlalchemy import CheckConstraint, Column, ForeignKey, Index, text, types
from sqlalchemy.dialects.postgresql import JSONB


def utcnow() -> datetime.datetime:
    """Now in UTC, without time zone, as CKAN stores its timestamps."""
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)


class GrandlyonLicenceSignature(tk.BaseModel):
    """A user's signature of one version of a licence."""

    __tablename__ = "grandlyon_licence_signature"
    __table_args__ = (
        Index("grandlyon_licence_signature_user_licence_idx", "user_id", "licence_id"),
        # One valid (not revoked) signature per user and licence version.
        Index(
            "grandlyon_licence_signature_one_valid_idx",
            "user_id",
            "licence_id",
            "licence_version",
            unique=True,
            postgresql_where=text("revoked_at IS NULL"),
        ),
    )

    id = Column(types.UnicodeText, primary_key=True, default=make_uuid)
    user_id = Column(types.UnicodeText, nullable=False)
    licence_id = Column(types.UnicodeText, nullable=False)
    licence_version = Column(types.UnicodeText, nullable=False)
    signed_at = Column(types.DateTime, nullable=False, default=utcnow)
    details: Any = Column(JSONB, nullable=False, default=dict)
    revoked_at = Column(types.DateTime, nullable=True)
    revoked_by = Column(types.UnicodeText, nullable=True)
    revoke_reason = Column(types.UnicodeText, nullable=True)


class GrandlyonLicence(tk.BaseModel):
    """A licence of the registry; its texts are in its versions."""

    __tablename__ = "grandlyon_licence_licence"

    id = Column(types.UnicodeText, primary_key=True)
    position = Column(types.Integer, nullable=False)
    title: Any = Column(JSONB, nullable=False)
    url = Column(types.UnicodeText, nullable=False, default="")
    signature_required = Column(types.Boolean, nullable=False)
    signer_details: Any = Column(JSONB, nullable=False, default=list)
    ckan_fields: Any = Column(JSONB, nullable=False, default=dict)
    current_version = Column(types.UnicodeText, nullable=False)
    created_at = Column(types.DateTime, nullable=False, default=utcnow)
    updated_at = Column(types.DateTime, nullable=False, default=utcnow)


class GrandlyonLicenceVersion(tk.BaseModel):
    """One published version of a licence: its text, when and by whom."""

    __tablename__ = "grandlyon_licence_version"

    licence_id = Column(
        types.UnicodeText,
        ForeignKey("grandlyon_licence_licence.id", ondelete="CASCADE"),
        primary_key=True,
    )
    version = Column(types.UnicodeText, primary_key=True)
    text: Any = Column(JSONB, nullable=False)
    published_at = Column(types.DateTime, nullable=False, default=utcnow)
    # A user's id; None when the version came from the registry file.
    published_by = Column(types.UnicodeText, nullable=True)
    # Where it came from, e.g. "registry file /etc/ckan/licences.yaml".
    note = Column(types.UnicodeText, nullable=False, default="")


class GrandlyonLicenceRevision(tk.BaseModel):
    """The registry's revision: one row, its stamp new at every change."""

    __tablename__ = "grandlyon_licence_revision"
    __table_args__ = (CheckConstraint("id = 1", name="grandlyon_licence_revision_one_row"),)

    id = Column(types.Integer, primary_key=True)
    revision = Column(types.Integer, nullable=False)
    stamp = Column(types.UnicodeText, nullable=False)
    changed_at = Column(types.DateTime, nullable=False, default=utcnow)
