"""The plugin's table: online signatures of licences.

No foreign key to core tables: `user_id` holds a user's id and `licence_id`
an id of the licence registry (a file, not a table). Created by the plugin's
alembic migration (`ckan db upgrade -p grandlyon_licence`).
"""

from __future__ import annotations

import datetime
from typing import Any

import ckan.plugins.toolkit as tk
from ckan.model.types import make_uuid
from sqlalchemy import Column, Index, text, types
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
