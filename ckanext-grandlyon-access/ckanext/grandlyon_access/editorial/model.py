"""The table of editorial content (created by the plugin's migration
`c4e1f7a9b2d3`, never by `create_all`)."""

from __future__ import annotations

import datetime
from typing import Any

import ckan.plugins.toolkit as tk
from ckan.model import types as ckan_types
from sqlalchemy import CheckConstraint, Column, DateTime, UnicodeText, UniqueConstraint

KINDS = ("page", "news")
STATES = ("draft", "published")
LANGUAGES = ("fr", "en")


def utcnow() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)


class EditorialItem(tk.BaseModel):
    """A static page or a news article, in French and English."""

    __tablename__ = "grandlyon_access_editorial"
    __table_args__ = (
        UniqueConstraint("kind", "name"),
        CheckConstraint("kind IN ('page', 'news')", name="grandlyon_access_editorial_kind"),
        CheckConstraint("state IN ('draft', 'published')",
                        name="grandlyon_access_editorial_state"),
    )

    id = Column(UnicodeText, primary_key=True, default=ckan_types.make_uuid)
    kind = Column(UnicodeText, nullable=False)
    name = Column(UnicodeText, nullable=False)
    state = Column(UnicodeText, nullable=False, default="draft")
    title_fr = Column(UnicodeText, nullable=False, default="")
    title_en = Column(UnicodeText, nullable=False, default="")
    body_fr = Column(UnicodeText, nullable=False, default="")
    body_en = Column(UnicodeText, nullable=False, default="")
    image = Column(UnicodeText, nullable=False, default="")
    author_id = Column(UnicodeText)
    created = Column(DateTime, nullable=False, default=utcnow)
    modified = Column(DateTime, nullable=False, default=utcnow)
    published: datetime.datetime | None = Column(DateTime)

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "kind": self.kind, "name": self.name, "state": self.state,
            "title_fr": self.title_fr, "title_en": self.title_en,
            "body_fr": self.body_fr, "body_en": self.body_en, "image": self.image,
            "author_id": self.author_id,
            "created": self.created.isoformat(), "modified": self.modified.isoformat(),
            "published": self.published.isoformat() if self.published else None,
        }
