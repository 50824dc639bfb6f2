"""Updating an organisation or group with its own dict keeps its members.

The portal keeps user details private (`ckan.auth.public_user_details =
false`), so `organization_show` and `group_show` list no users. CKAN's
update replaces the members with the `users` it is given: an admin who
sent back the dict they had read (the usual way to change a description
through the API) removed every member, themselves included, and lost the
organisation. Found by CKAN's own tests run with the suite on.
"""

from __future__ import annotations

import pytest
from ckan.tests import factories
from ckanext.grandlyon_access.testing.pytest_plugin import World


@pytest.fixture(scope="module")
def world(portal_for_module):
    return World(datasets=("open",))


def _members(world, kind: str, group_id: str) -> set[tuple[str, str]]:
    rows = world.call("member_list", "sysadmin", id=group_id, object_type="user")
    return {(user_id, capacity) for user_id, _type, capacity in rows}


@pytest.mark.parametrize("kind", ["organization", "group"])
def test_an_update_with_the_shown_dict_keeps_the_members(app, world, kind):
    admin, editor = world.admin, world.editor
    if kind == "organization":
        group_id = world.org["id"]
    else:
        group_id = factories.Group(users=[{"name": admin.name, "capacity": "admin"},
                                          {"name": editor.name, "capacity": "member"}])["id"]
    before = _members(world, kind, group_id)
    assert len(before) >= 2
    shown = app.get(f"/api/3/action/{kind}_show", query_string={"id": group_id},
                    headers=admin.headers).json["result"]
    assert "users" not in shown
    shown["description"] = "Changed through the API"
    res = app.post(f"/api/3/action/{kind}_update", json=shown, headers=admin.headers)
    assert res.status_code == 200, res.json
    assert _members(world, kind, group_id) == before
    # The admin still administers it.
    shown["description"] = "Changed again"
    res = app.post(f"/api/3/action/{kind}_update", json=shown, headers=admin.headers)
    assert res.status_code == 200, res.json


@pytest.mark.parametrize("kind", ["organization", "group"])
def test_users_given_still_replace_the_members(world, kind):
    if kind == "organization":
        group = factories.Organization(users=[{"name": world.editor.name, "capacity": "editor"}])
    else:
        group = factories.Group(users=[{"name": world.editor.name, "capacity": "member"}])
    world.call(f"{kind}_update", "sysadmin", **{**group, "users": []})
    assert _members(world, kind, group["id"]) == set()
