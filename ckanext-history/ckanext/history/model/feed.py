"""Tables of the history plugin that describe feeds: the feed declared on a
resource and the gaps recorded when its source failed. The rows themselves live
in the time-partitioned table of `rows.py`. No foreign keys to CKAN's tables
(resources are referred to by id); created by the plugin's migrations
(`ckan db upgrade -p history`)."""

from __future__ import annotations

import datetime
from typing import Any, Optional

import ckan.plugins.toolkit as tk
from ckan.model import types as ckan_types
from sqlalchemy import BigInteger, Boolean, Column, DateTime, Integer, UnicodeText
from sqlalchemy.dialects.postgresql import JSONB


def utcnow() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)


class Feed(tk.BaseModel):
    """A resource declared the real-time source of a history.

    `fields` is a list of `{"name": ..., "type": ...}` with type one of
    `int`, `float`, `text`, `bool`, `timestamp`; `time_field` empty means the
    fetch time is the row's time. `store_mode` is `changes` (store a feature's
    snapshot only when one of its values changed) or `every` (every poll).
    Times are naive UTC.
    """

    __tablename__ = "history_feed"

    id = Column(UnicodeText, primary_key=True, default=ckan_types.make_uuid)
    resource_id = Column(UnicodeText, nullable=False, unique=True)
    package_id = Column(UnicodeText, nullable=False, index=True)
    url = Column(UnicodeText, nullable=False)
    format = Column(UnicodeText, nullable=False)
    feature_id_field = Column(UnicodeText, nullable=False)
    time_field: Optional[str] = Column(UnicodeText)
    fields: Any = Column(JSONB, nullable=False, default=list)
    interval_seconds = Column(Integer, nullable=False, default=60)
    hot_retention_days: Optional[int] = Column(Integer)
    store_mode = Column(UnicodeText, nullable=False, default="changes")
    enabled = Column(Boolean, nullable=False, default=True)
    # Conditional requests and scheduling, kept by the ingest worker.
    etag: Optional[str] = Column(UnicodeText)
    last_modified: Optional[str] = Column(UnicodeText)
    next_poll_at: Optional[datetime.datetime] = Column(DateTime, index=True)
    last_fetch_at: Optional[datetime.datetime] = Column(DateTime)
    last_success_at: Optional[datetime.datetime] = Column(DateTime)
    consecutive_failures = Column(Integer, nullable=False, default=0)
    last_error: Optional[str] = Column(UnicodeText)
    # The last poll's problem, to be said in the reader's language (problems.py).
    problem: Any = Column(JSONB)
    created = Column(DateTime, nullable=False, default=utcnow)
    modified = Column(DateTime, nullable=False, default=utcnow, onupdate=utcnow)
    creator_user_id: Optional[str] = Column(UnicodeText)


class Gap(tk.BaseModel):
    """A period when a feed's source failed (`end` empty while it still fails)."""

    __tablename__ = "history_gap"

    id = Column(BigInteger, primary_key=True, autoincrement=True)
    resource_id = Column(UnicodeText, nullable=False, index=True)
    start = Column(DateTime, nullable=False)
    end: Optional[datetime.datetime] = Column(DateTime)
    reason = Column(UnicodeText, nullable=False, default="")
    # The problem that opened the gap (problems.py); `reason` is its English line.
    problem: Any = Column(JSONB)
    attempts = Column(Integer, nullable=False, default=1)
