"""Actions of editorial content: `grandlyon_access_editorial_create`,
`_update`, `_delete` (sysadmins), `_show` and `_list` (anyone, drafts to
sysadmins only; a draft asked by anyone else is missing, as a page that does
not exist). An `image_upload` file is checked (images.py) before anything is
stored; `clear_image` removes the image."""

from __future__ import annotations

from typing import Any

import ckan.model as model
import ckan.plugins.toolkit as tk
from ckan.model.types import make_uuid
from ckan.types import Context, DataDict
from ckanext.grandlyon_access.editorial import images, schema
from ckanext.grandlyon_access.editorial.auth import ITEM
from ckanext.grandlyon_access.editorial.model import EditorialItem, utcnow
from sqlalchemy.exc import IntegrityError

__all__ = [
    "grandlyon_access_editorial_create", "grandlyon_access_editorial_update",
    "grandlyon_access_editorial_delete", "grandlyon_access_editorial_show",
    "grandlyon_access_editorial_list",
]

FIELDS = ("name", "state", "title_fr", "title_en", "body_fr", "body_en")


def _validated(data_dict: DataDict, schema_: dict[str, Any], context: Context) -> dict[str, Any]:
    data, errors = tk.navl_validate(dict(data_dict), schema_, context)
    if errors:
        raise tk.ValidationError(errors)
    return data


def _item_or_404(ref: Any) -> EditorialItem:
    item = model.Session.get(EditorialItem, ref) if isinstance(ref, str) and ref else None
    if item is None:
        raise tk.ObjectNotFound(tk._("Page not found"))
    return item


def _name_taken(kind: str, name: str, but: str | None = None) -> bool:
    query = model.Session.query(EditorialItem.id).filter(
        EditorialItem.kind == kind, EditorialItem.name == name)
    if but:
        query = query.filter(EditorialItem.id != but)
    return query.first() is not None


def _checked_image(data_dict: DataDict) -> Any:
    """The uploaded image, checked; None without one."""
    upload = data_dict.get("image_upload")
    stream = images.uploaded_stream(upload)
    if stream is None:
        return None
    images.check(stream)
    return upload


def _save(item: EditorialItem, data: dict[str, Any], upload: Any) -> None:
    """Applies validated fields and the image, then commits; on any failure
    nothing is kept (the session rolled back, a newly stored image removed)."""
    for field in FIELDS:
        if field in data:
            setattr(item, field, data[field].strip() if field == "name" else data[field])
    old_image, new_image = item.image, ""
    taken = tk.ValidationError({"name": [tk._("This address is already used")]})
    try:
        if _name_taken(item.kind, item.name, item.id):
            raise taken
        if upload is not None:
            item.image = new_image = images.store(upload)
        elif data.get("clear_image"):
            item.image = ""
        item.modified = utcnow()
        if item.state == "published" and item.published is None:
            item.published = item.modified
        model.Session.commit()
    except IntegrityError as error:
        model.Session.rollback()
        images.remove(new_image)
        raise taken from error
    except Exception:
        model.Session.rollback()
        images.remove(new_image)
        raise
    if old_image and old_image != item.image:
        images.remove(old_image)


def grandlyon_access_editorial_create(context: Context, data_dict: DataDict) -> dict[str, Any]:
    """A page (`kind` page) or a news article (`kind` news) with its address
    (`name`), titles and Markdown bodies in French and English, `state`
    draft (the default) or published, and an optional `image_upload`."""
    tk.check_access("grandlyon_access_editorial_create", context, data_dict)
    data = _validated(data_dict, schema.create(), context)
    upload = _checked_image(data_dict)
    user = model.User.get(context.get("user") or "")
    item = EditorialItem(id=make_uuid(), kind=data["kind"], author_id=user.id if user else None)
    model.Session.add(item)
    _save(item, data, upload)
    return item.as_dict()


def grandlyon_access_editorial_update(context: Context, data_dict: DataDict) -> dict[str, Any]:
    """Changes the given fields of a page or an article (`id`)."""
    tk.check_access("grandlyon_access_editorial_update", context, data_dict)
    data = _validated(data_dict, schema.update(), context)
    item = _item_or_404(data["id"])
    upload = _checked_image(data_dict)
    title_fr, title_en = data.get("title_fr", item.title_fr), data.get("title_en", item.title_en)
    if not (str(title_fr).strip() or str(title_en).strip()):
        raise tk.ValidationError({"title_fr": [tk._("Give a title in French or in English")]})
    _save(item, data, upload)
    return item.as_dict()


def grandlyon_access_editorial_delete(context: Context, data_dict: DataDict) -> None:
    """Deletes a page or an article (`id`) and its image."""
    tk.check_access("grandlyon_access_editorial_delete", context, data_dict)
    data = _validated(data_dict, schema.delete(), context)
    item = _item_or_404(data["id"])
    image = item.image
    model.Session.delete(item)
    model.Session.commit()
    images.remove(image)


@tk.side_effect_free
def grandlyon_access_editorial_show(context: Context, data_dict: DataDict) -> dict[str, Any]:
    """A page or an article by `id`, or by `kind` and `name`."""
    data = _validated(data_dict, schema.show(), context)
    item: EditorialItem | None = None
    if data.get("id"):
        item = model.Session.get(EditorialItem, data["id"])
    elif data.get("kind") and data.get("name"):
        item = model.Session.query(EditorialItem).filter(
            EditorialItem.kind == data["kind"], EditorialItem.name == data["name"]).first()
    context[ITEM] = item  # type: ignore[literal-required]
    tk.check_access("grandlyon_access_editorial_show", context, data_dict)
    if item is None:
        raise tk.ObjectNotFound(tk._("Page not found"))
    return item.as_dict()


def _may_write(context: Context) -> bool:
    try:
        tk.check_access("grandlyon_access_editorial_create", dict(context))
    except tk.NotAuthorized:
        return False
    return True


@tk.side_effect_free
def grandlyon_access_editorial_list(context: Context, data_dict: DataDict) -> dict[str, Any]:
    """Published pages or articles (`kind`), newest first (`limit`,
    `offset`): `{"count": n, "results": [...]}`. With `include_drafts`,
    sysadmins get the drafts too (others get the published ones only)."""
    tk.check_access("grandlyon_access_editorial_list", context, data_dict)
    data = _validated(data_dict, schema.list_(), context)
    query = model.Session.query(EditorialItem)
    if data.get("kind"):
        query = query.filter(EditorialItem.kind == data["kind"])
    if not (data["include_drafts"] and _may_write(context)):
        query = query.filter(EditorialItem.state == "published")
    count = query.count()
    rows = (query.order_by(EditorialItem.published.desc().nullsfirst(),
                           EditorialItem.modified.desc())
            .offset(data["offset"]).limit(data["limit"]).all())
    return {"count": count, "results": [row.as_dict() for row in rows]}
