"""Following datasets.

| CKAN action (chained) | what the user gets |
| --- | --- |
| `follow_dataset`, `unfollow_dataset`, `am_following_dataset`, `dataset_follower_count`, `dataset_follower_list` | a dataset the user may not see fails as a missing one |
| `dataset_followee_list`, `followee_list` | followed datasets, relationships to unseen datasets removed and origin URLs gated without data access |
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import ckan.plugins.toolkit as tk
from ckan.types import Context, DataDict

from .common import (
    ActionFunc,
    Asker,
    as_missing,
    dataset,
    dataset_missing_for,
    gate_dataset_dict,
    viewer_context,
)

# The plugin this area needs loaded (chaining an action nobody defines stops
# CKAN at start-up), or None.
NEEDS_PLUGIN = None


def _followed_dataset(next_action: ActionFunc, context: Context, data_dict: DataDict) -> Any:
    if dataset_missing_for(context, data_dict):
        return as_missing(next_action, context, data_dict)
    package = dataset(data_dict.get("id"))
    if package is None:
        return next_action(context, data_dict)
    # By id, CKAN finds the dataset already loaded instead of asking again by name.
    return next_action(context, {**data_dict, "id": package.id})


@tk.chained_action
def follow_dataset(next_action: ActionFunc, context: Context, data_dict: DataDict) -> Any:
    """Following a dataset the user may not see fails as for a missing one."""
    return _followed_dataset(next_action, context, data_dict)


@tk.chained_action
def unfollow_dataset(next_action: ActionFunc, context: Context, data_dict: DataDict) -> Any:
    """As follow_dataset."""
    return _followed_dataset(next_action, context, data_dict)


@tk.chained_action
@tk.side_effect_free
def am_following_dataset(next_action: ActionFunc, context: Context, data_dict: DataDict) -> Any:
    """As follow_dataset."""
    return _followed_dataset(next_action, context, data_dict)


@tk.chained_action
@tk.side_effect_free
def dataset_follower_count(next_action: ActionFunc, context: Context,
                           data_dict: DataDict) -> Any:
    """As follow_dataset."""
    return _followed_dataset(next_action, context, data_dict)


@tk.chained_action
@tk.side_effect_free
def dataset_follower_list(next_action: ActionFunc, context: Context,
                          data_dict: DataDict) -> Any:
    """As follow_dataset."""
    return _followed_dataset(next_action, context, data_dict)


def _gate_followed(context: Context, pkg_dicts: Iterable[dict[str, Any]]) -> None:
    """CKAN dictizes followed datasets from the database, with origin URLs."""
    asker = Asker(context)
    for pkg_dict in pkg_dicts:
        gate_dataset_dict(asker, pkg_dict)


@tk.chained_action
@tk.side_effect_free
def dataset_followee_list(next_action: ActionFunc, context: Context, data_dict: DataDict) -> list:
    """The followed datasets (CKAN keeps those the user may see), URLs gated."""
    viewer = viewer_context(context)
    datasets = next_action(context, data_dict)
    _gate_followed(viewer, datasets)
    return datasets


@tk.chained_action
@tk.side_effect_free
def followee_list(next_action: ActionFunc, context: Context, data_dict: DataDict) -> list:
    """As dataset_followee_list, for the datasets among everything followed."""
    viewer = viewer_context(context)  # before CKAN sets ignore_auth on the context
    followees = next_action(context, data_dict)
    _gate_followed(viewer, [f["dict"] for f in followees if f.get("type") == "dataset"])
    return followees


ACTIONS = {
    "follow_dataset": follow_dataset,
    "unfollow_dataset": unfollow_dataset,
    "am_following_dataset": am_following_dataset,
    "dataset_follower_count": dataset_follower_count,
    "dataset_follower_list": dataset_follower_list,
    "dataset_followee_list": dataset_followee_list,
    "followee_list": followee_list,
}
AUTH_FUNCTIONS: dict[str, Any] = {}
