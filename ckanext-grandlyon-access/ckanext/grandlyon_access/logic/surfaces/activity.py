"""CKAN's activity streams (the `activity` plugin; registered only when it
is loaded).

| CKAN action (chained) | what the user gets |
| --- | --- |
| `package_activity_list`, `organization_activity_list`, `group_activity_list`, `user_activity_list`, `recently_changed_packages_activity_list`, `dashboard_activity_list` | no activity of a dataset the user may not see now; snapshots without origin URLs when the user may not read the data, whatever the level was when they were taken |
| `activity_show`, `activity_data_show`, `activity_diff` | an activity of a dataset the user may not see answers as a missing one; snapshots gated as above |
"""

from __future__ import annotations

from typing import Any

import ckan.model as model
import ckan.plugins.toolkit as tk
from ckan.types import Context, DataDict
from ckanext.grandlyon_access import gate

from .common import (ActionFunc, Asker, as_missing, dataset, dataset_missing_for,
                     gate_urls_for, viewer_context)

# The plugin this area needs loaded (chaining an action nobody defines stops
# CKAN at start-up), or None.
NEEDS_PLUGIN = "activity"


def _activity_package(activity: dict[str, Any]) -> model.Package | None:
    """The dataset an activity is about, if any."""
    package = dataset(activity.get("object_id"))
    if package is None:
        snapshot = (activity.get("data") or {}).get("package")
        if isinstance(snapshot, dict):
            package = dataset(snapshot.get("id"))
    return package


def _screen_activity(asker: Asker, activity: dict[str, Any]) -> dict[str, Any] | None:
    """None for an activity of a dataset the user may not see (now: the
    activity's own labels date from when it was recorded); the snapshot of
    a dataset whose data the user may not read, without origin URLs."""
    package = _activity_package(activity)
    if package is None:
        return activity
    if not asker.sees(package):
        return None
    snapshot = (activity.get("data") or {}).get("package")
    if isinstance(snapshot, dict):
        gate.hide_unseen_relationships(dict(asker.context), snapshot)
        gate_urls_for(asker, package, snapshot)
    return activity


def _screen_activities(context: Context, activities: list[dict[str, Any]]) -> list:
    asker = Asker(context)
    screened = (_screen_activity(asker, activity) for activity in activities)
    return [activity for activity in screened if activity is not None]


def _activity_list(next_action: ActionFunc, context: Context, data_dict: DataDict) -> list:
    viewer = viewer_context(context)
    return _screen_activities(viewer, next_action(context, data_dict))


@tk.chained_action
@tk.side_effect_free
def package_activity_list(next_action: ActionFunc, context: Context, data_dict: DataDict) -> list:
    """A dataset the user may not see is missing; snapshots are screened."""
    if dataset_missing_for(context, data_dict):
        return as_missing(next_action, context, data_dict)
    return _activity_list(next_action, context, data_dict)


@tk.chained_action
@tk.side_effect_free
def organization_activity_list(next_action: ActionFunc, context: Context,
                               data_dict: DataDict) -> list:
    """Without the activities of datasets the user may not see; snapshots screened."""
    return _activity_list(next_action, context, data_dict)


@tk.chained_action
@tk.side_effect_free
def group_activity_list(next_action: ActionFunc, context: Context, data_dict: DataDict) -> list:
    """As organization_activity_list."""
    return _activity_list(next_action, context, data_dict)


@tk.chained_action
@tk.side_effect_free
def user_activity_list(next_action: ActionFunc, context: Context, data_dict: DataDict) -> list:
    """As organization_activity_list."""
    return _activity_list(next_action, context, data_dict)


@tk.chained_action
@tk.side_effect_free
def recently_changed_packages_activity_list(next_action: ActionFunc, context: Context,
                                            data_dict: DataDict) -> list:
    """As organization_activity_list."""
    return _activity_list(next_action, context, data_dict)


@tk.chained_action
@tk.side_effect_free
def dashboard_activity_list(next_action: ActionFunc, context: Context,
                            data_dict: DataDict) -> list:
    """As organization_activity_list (also counts dashboard_new_activities_count)."""
    return _activity_list(next_action, context, data_dict)


def _activity_of_unseen(context: Context, data_dict: DataDict) -> tuple[bool, model.Package | None]:
    from ckanext.activity.model import Activity

    activity = Activity.get(data_dict.get("id") or "")
    if activity is None:
        return False, None
    package = _activity_package({"object_id": activity.object_id, "data": activity.data})
    return package is not None and not Asker(context).sees(package), package


@tk.chained_action
@tk.side_effect_free
def activity_show(next_action: ActionFunc, context: Context, data_dict: DataDict) -> dict:
    """An activity of a dataset the user may not see is missing; its
    snapshot is screened."""
    unseen, _package_ = _activity_of_unseen(context, data_dict)
    if unseen:
        return as_missing(next_action, context, data_dict)
    viewer = viewer_context(context)
    activity = next_action(context, data_dict)
    return _screen_activity(Asker(viewer), activity) or activity


@tk.chained_action
@tk.side_effect_free
def activity_data_show(next_action: ActionFunc, context: Context, data_dict: DataDict) -> Any:
    """As activity_show."""
    unseen, package = _activity_of_unseen(context, data_dict)
    if unseen:
        return as_missing(next_action, context, data_dict)
    viewer = viewer_context(context)
    data = next_action(context, data_dict)
    if package is not None and isinstance(data, dict):
        snapshot = data.get("package") if "package" in data else data
        if isinstance(snapshot, dict) and "resources" in snapshot:
            asker = Asker(viewer)
            gate.hide_unseen_relationships(dict(asker.context), snapshot)
            gate_urls_for(asker, package, snapshot)
    return data


@tk.chained_action
@tk.side_effect_free
def activity_diff(next_action: ActionFunc, context: Context, data_dict: DataDict) -> Any:
    """An activity of a dataset the user may not see is missing; the diff of
    a dataset whose data the user may not read (it shows origin URLs) is
    refused."""
    unseen, package = _activity_of_unseen(context, data_dict)
    if unseen:
        return as_missing(next_action, context, data_dict)
    if package is not None and not Asker(context).reads(package):
        raise tk.NotAuthorized(tk._("You do not have access to the data of this dataset"))
    return next_action(context, data_dict)


ACTIONS = {
    "package_activity_list": package_activity_list,
    "organization_activity_list": organization_activity_list,
    "group_activity_list": group_activity_list,
    "user_activity_list": user_activity_list,
    "recently_changed_packages_activity_list": recently_changed_packages_activity_list,
    "dashboard_activity_list": dashboard_activity_list,
    "activity_show": activity_show,
    "activity_data_show": activity_data_show,
    "activity_diff": activity_diff,
}
AUTH_FUNCTIONS: dict[str, Any] = {}
