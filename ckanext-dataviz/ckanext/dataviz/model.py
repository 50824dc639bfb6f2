"""Tables of the dataviz plugin: saved maps. No foreign keys to CKAN's
tables (users, organisations and resources are referred to by id); created by
the plugin's migrations (`ckan db upgrade -p dataviz`)."""

from __future__ import annotations

import datetime

import ckan.plugins.toolkit as tk
from ckan.model import types as ckan_types
from sqlalchemy import Boolean, CheckConstraint, Column, DateTime, Index, UnicodeText
from sqlalchemy.dialects.postgresql import JSONB


def utcnow() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)


class DatavizMap(tk.BaseModel):
    """A saved map: layers from several resources, each with its style.

    Owned by an organisation (`owner_org`: its editors and admins edit it) or
    by a user (`owner_user_id`). `layers` is a list of
    ``{"resource_id", "package_id", "title", "source": {...}, "style": {...}}``;
    `package_id` is kept so that a dataset page can list the maps using it.
    """

    __tablename__ = "dataviz_map"
    __table_args__ = (
        CheckConstraint("(owner_org IS NULL) <> (owner_user_id IS NULL)",
                        name="dataviz_map_one_owner"),
        Index("dataviz_map_layers_gin", "layers", postgresql_using="gin"),
    )

    id = Column(UnicodeText, primary_key=True, default=ckan_types.make_uuid)
    name = Column(UnicodeText, nullable=False, unique=True)
    title = Column(UnicodeText, nullable=False)
    description = Column(UnicodeText, nullable=False, default="")
    owner_org = Column(UnicodeText, index=True)
    owner_user_id = Column(UnicodeText, index=True)
    creator_user_id = Column(UnicodeText, nullable=False)
    private = Column(Boolean, nullable=False, default=False)
    legend = Column(Boolean, nullable=False, default=True)
    layers = Column(JSONB, nullable=False, default=list)
    bbox = Column(JSONB)
    created = Column(DateTime, nullable=False, default=utcnow)
    modified = Column(DateTime, nullable=False, default=utcnow)
