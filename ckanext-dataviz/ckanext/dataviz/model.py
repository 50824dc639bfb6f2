"""Tables of the dataviz plugin: saved maps, and the loads of uploaded CSV
files into the DataStore. No foreign keys to CKAN's tables (users,
organisations and resources are referred to by id); created by the plugin's
migrations (`ckan db upgrade -p dataviz`)."""

from __future__ import annotations

import datetime

import ckan.plugins.toolkit as tk
from ckan.model import types as ckan_types
from sqlalchemy import Boolean, CheckConstraint, Column, DateTime, Index, Integer, UnicodeText
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


class DatavizDatastoreLoad(tk.BaseModel):
    """The last load of a resource's uploaded CSV into the DataStore
    (ckanext.dataviz.loader): one row a resource, replaced at each upload.

    `status` is pending, loading, loaded or failed; a failure keeps a reason
    code and its parameters (`error`, `error_params`), translated when shown.
    `source_modified` is the upload's `last_modified`, so that an update of
    the resource's other fields does not load the same file again.
    """

    __tablename__ = "dataviz_datastore_load"

    resource_id = Column(UnicodeText, primary_key=True)
    status = Column(UnicodeText, nullable=False)
    rows = Column(Integer)
    encoding = Column(UnicodeText)
    delimiter = Column(UnicodeText)
    error = Column(UnicodeText)
    error_params = Column(JSONB, nullable=False, default=dict)
    source_modified = Column(UnicodeText, nullable=False, default="")
    updated = Column(DateTime, nullable=False, default=utcnow)
