"""CKAN's tags: a tag carried only by datasets the user may not see does
not exist for that user.

| CKAN action (chained) | what the user gets |
| --- | --- |
| `tag_show` | such a tag answers 404 as a missing one; its datasets are those the user may see |
| `tag_list`, `tag_search`, `tag_autocomplete` | without such tags |
"""

from __future__ import annotations

from typing import Any

import ckan.model as model
import ckan.plugins.toolkit as tk
import sqlalchemy as sa
from ckan.types import Context, DataDict

from .common import ActionFunc, Asker, as_missing

# The plugin this area needs loaded (chaining an action nobody defines stops
# CKAN at start-up), or None.
NEEDS_PLUGIN = None


def _tags_of_unseen_only(context: Context) -> set[str]:
    """Names of the tags carried only by datasets the user may not see."""
    unseen = Asker(context).unseen_ids()
    if not unseen:
        return set()
    candidates = sa.select(model.PackageTag.tag_id).where(
        model.PackageTag.package_id.in_(unseen))
    rows = (model.Session.query(model.Tag.name, model.PackageTag.package_id)
            .join(model.PackageTag, model.PackageTag.tag_id == model.Tag.id)
            .join(model.Package, model.Package.id == model.PackageTag.package_id)
            .filter(model.PackageTag.state == "active")
            .filter(model.Tag.id.in_(candidates)))
    carriers: dict[str, set[str]] = {}
    for name, package_id in rows:
        carriers.setdefault(name, set()).add(package_id)
    return {name for name, ids in carriers.items() if ids <= unseen}


def _tag_name(tag: Any) -> str:
    return tag["name"] if isinstance(tag, dict) else tag


@tk.chained_action
@tk.side_effect_free
def tag_show(next_action: ActionFunc, context: Context, data_dict: DataDict) -> dict[str, Any]:
    """A tag carried only by datasets the user may not see is missing; the
    datasets of a tag are those the user may see."""
    tag = model.Tag.get(data_dict.get("id") or "",
                        vocab_id_or_name=data_dict.get("vocabulary_id"))
    if tag is not None and tag.name in _tags_of_unseen_only(context):
        return as_missing(next_action, context, data_dict)
    result = next_action(context, data_dict)
    if result.get("packages"):
        unseen = Asker(context).unseen_ids()
        result["packages"] = [p for p in result["packages"] if p.get("id") not in unseen]
    return result


@tk.chained_action
@tk.side_effect_free
def tag_list(next_action: ActionFunc, context: Context, data_dict: DataDict) -> list:
    """Tags, without those carried only by datasets the user may not see."""
    tags = next_action(context, data_dict)
    unseen = _tags_of_unseen_only(context)
    return [tag for tag in tags if _tag_name(tag) not in unseen]


@tk.chained_action
@tk.side_effect_free
def tag_search(next_action: ActionFunc, context: Context, data_dict: DataDict) -> dict[str, Any]:
    """As tag_list."""
    result = next_action(context, data_dict)
    unseen = _tags_of_unseen_only(context)
    kept = [tag for tag in result["results"] if tag["name"] not in unseen]
    return {"count": result["count"] - (len(result["results"]) - len(kept)), "results": kept}


@tk.chained_action
@tk.side_effect_free
def tag_autocomplete(next_action: ActionFunc, context: Context, data_dict: DataDict) -> list:
    """As tag_list."""
    names = next_action(context, data_dict)
    unseen = _tags_of_unseen_only(context)
    return [name for name in names if name not in unseen]


ACTIONS = {
    "tag_show": tag_show,
    "tag_list": tag_list,
    "tag_search": tag_search,
    "tag_autocomplete": tag_autocomplete,
}
AUTH_FUNCTIONS: dict[str, Any] = {}
