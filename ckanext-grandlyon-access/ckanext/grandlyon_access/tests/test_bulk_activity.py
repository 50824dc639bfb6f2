"""An organisation's bulk actions (make public, make private, delete) are
recorded in the activity stream as what they did, with the labels of the
datasets as they are after it.

Found by CKAN's own tests run with the suite on (`./portal test-ckan`):
CKAN's bulk update writes with `synchronize_session=False` and its session
keeps objects after a commit, so the activity subscriber could read a
dataset as it was before the update: a dataset made public was recorded
with its private labels (its activity stayed hidden from the public), and a
deleted one as "changed".
"""

from __future__ import annotations

import gc

import ckan.model as model
import pytest
from ckan.tests import helpers
from ckanext.grandlyon_access.testing.pytest_plugin import World


@pytest.fixture(scope="module")
def world(portal_for_module):
    return World(datasets={"one": "private", "two": "private", "three": "open",
                           "four": "open"})


def _latest_of(world, key: str, who: str = "sysadmin") -> dict:
    dataset_id = world.datasets[key]["id"]
    activities = world.call("package_activity_list", who, id=dataset_id)
    return activities[0]


def _bulk_in_one_session(world, action: str, keys: tuple[str, ...]) -> None:
    """The bulk action called as CKAN's own code does after reading the
    datasets in the same session (as a page that lists them would)."""
    ids = [world.datasets[key]["id"] for key in keys]
    held = [model.Package.get(dataset_id) for dataset_id in ids]
    assert all(package.state == "active" for package in held)
    helpers.call_action(action, context={"user": world.admin.name},
                        datasets=ids, org_id=world.org["id"])
    del held
    gc.collect()


def test_datasets_made_public_in_bulk_are_recorded_public(world, app):
    _bulk_in_one_session(world, "bulk_update_public", ("one", "two"))
    for key in ("one", "two"):
        latest = _latest_of(world, key)
        assert latest["activity_type"] == "changed package"
        assert latest["data"]["package"]["private"] is False
    # The public sees the change: the activity carries the public's labels.
    res = app.get("/api/3/action/organization_activity_list",
                  query_string={"id": world.org["id"]})
    seen = {activity["object_id"] for activity in res.json["result"]}
    assert {world.datasets["one"]["id"], world.datasets["two"]["id"]} <= seen


def test_datasets_deleted_in_bulk_are_recorded_deleted(world):
    _bulk_in_one_session(world, "bulk_update_delete", ("three", "four"))
    for key in ("three", "four"):
        latest = _latest_of(world, key)
        assert latest["activity_type"] == "deleted package"
        assert latest["data"]["package"]["state"] == "deleted"
