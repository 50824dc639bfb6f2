"""Every auth function of the dataviz plugins through CKAN's `call_auth`, as
CKAN's own tests check theirs (test_map_actions.py and test_chart_data.py
check the actions' answers over HTTP). The functions are called by their
registered names only: where they live is the plugin's business.

- chart data and the list of maps: anyone may ask (the chart action applies
  the access policy itself, the list shows the maps the user may read);
- a layer's data: the access policy on the layer's resource;
- saved maps: a private map is read by its owners and the members of its
  organisation; an organisation's map is changed by its editors and admins,
  a user's map by that user; sysadmins do everything.

`COVERED` names the auth functions this module tests; the suite's
completeness test (tests/test_auth_coverage.py) fails when the plugins
register one that is not in it.
"""

from __future__ import annotations

from typing import Any

import pytest
from ckan.plugins import get_plugin, load_all, plugin_loaded
from ckan.tests import factories
from ckanext.grandlyon_access.testing.pytest_plugin import LEVELS, auth_allows, auth_context
from ckanext.grandlyon_access.testing.pytest_plugin import World as FiveLevelWorld

# `nobody`: an anonymous call inside the portal (no user object);
# `anonymous`: one made over the web (CKAN's AnonymousUser object); `other`
# edits another organisation; `owner` saved the personal maps; `grantee`
# holds personal grants on the restricted and hidden datasets.
ACTORS = ("nobody", "anonymous", "outsider", "other", "member", "editor", "admin", "sysadmin",
          "owner", "grantee")
USERS = ACTORS[2:]
MAPS = ("org-map", "org-private", "own-map", "own-private")

# Y: allowed, .: refused.
LAYER_DATA_TABLE = """
            open licensed restricted hidden private
  nobody      Y     .         .        .       .
  anonymous   Y     .         .        .       .
  outsider    Y     .         .        .       .
  other       Y     .         .        .       .
  member      Y     .         .        .       Y
  editor      Y     Y         Y        Y       Y
  admin       Y     Y         Y        Y       Y
  sysadmin    Y     Y         Y        Y       Y
  owner       Y     .         .        .       .
  grantee     Y     .         Y        Y       .
"""
MAP_SHOW_TABLE = """
            org-map org-private own-map own-private
  nobody       Y        .          Y        .
  anonymous    Y        .          Y        .
  outsider     Y        .          Y        .
  other        Y        .          Y        .
  member       Y        Y          Y        .
  editor       Y        Y          Y        .
  admin        Y        Y          Y        .
  sysadmin     Y        Y          Y        Y
  owner        Y        .          Y        Y
  grantee      Y        .          Y        .
"""
MAP_EDIT_TABLE = """
            org-map org-private own-map own-private
  nobody       .        .          .        .
  anonymous    .        .          .        .
  outsider     .        .          .        .
  other        .        .          .        .
  member       .        .          .        .
  editor       Y        Y          .        .
  admin        Y        Y          .        .
  sysadmin     Y        Y          Y        Y
  owner        .        .          Y        Y
  grantee      .        .          .        .
"""


def table(text: str) -> dict[str, dict[str, bool]]:
    rows = text.strip().splitlines()
    columns = rows[0].split()
    return {row.split()[0]: dict(zip(columns, [c == "Y" for c in row.split()[1:]], strict=True))
            for row in rows[1:]}


LAYER_DATA = table(LAYER_DATA_TABLE)
MAP_SHOW = table(MAP_SHOW_TABLE)
MAP_EDIT = table(MAP_EDIT_TABLE)
LOGGED_IN = tuple(who for who in ACTORS if who not in ("nobody", "anonymous"))
EDITORS_OF_THE_ORG = ("editor", "admin", "sysadmin")

PUBLIC = ("dataviz_chart_data", "dataviz_map_list")
MAP_EDITS = ("dataviz_map_update", "dataviz_map_delete")
COVERED = (*PUBLIC, "dataviz_map_layer_data", "dataviz_map_show", *MAP_EDITS,
           "dataviz_map_create")


class World(FiveLevelWorld):
    """The suite's five-level world (a dataset per level with one external
    file, no tables), another organisation with its editor, grants on the
    restricted and hidden datasets, and four saved maps."""

    def __init__(self) -> None:
        super().__init__(users={who: f"dv-{who}" for who in USERS}, org={"name": "dv-publisher"},
                         name="dv-ds-{key}", table=False)
        factories.Organization(name="dv-other-publisher", users=[
            {"name": "dv-other", "capacity": "editor"}])
        for level in ("restricted", "hidden"):
            self.grant(level, "grantee")
        self.files = {level: dataset["file_id"] for level, dataset in self.datasets.items()}
        self.maps = {
            "org-map": self._map("editor", owner_org="dv-publisher"),
            "org-private": self._map("editor", owner_org="dv-publisher", private=True),
            "own-map": self._map("owner"),
            "own-private": self._map("owner", private=True),
        }

    def _map(self, who: str, **fields: Any) -> str:
        saved = self.call("dataviz_map_create", who, title="A map", layers=[
            {"resource_id": self.files["open"], "title": "Points"}], **fields)
        return saved["id"]


@pytest.fixture(scope="module")
def world(reset_portal_db):
    """One world for the module: auth checks write nothing."""
    if not plugin_loaded("dataviz"):
        load_all()
    reset_portal_db()
    return World()


def context(who: str) -> dict[str, Any]:
    if who in ("nobody", "anonymous"):
        return auth_context(anonymous_object=who == "anonymous")
    return auth_context(f"dv-{who}")


def allowed(name: str, who: str, **data: Any) -> bool:
    return auth_allows(name, context(who), **data)


def test_the_plugins_register_these_auth_functions_and_no_other():
    registered = {}
    for plugin in ("dataviz", "dataviz_chart", "dataviz_history", "dataviz_map"):
        registered.update(getattr(get_plugin(plugin), "get_auth_functions", dict)())
    assert sorted(registered) == sorted(COVERED)


@pytest.mark.parametrize("name", PUBLIC)
def test_anyone_may_ask_for_chart_data_and_the_list_of_maps(world, name):
    """The chart action applies the access policy to the resource itself."""
    asks = ({"resource_id": world.files["hidden"]}, {"view_id": "no-such-view"},
            {"package_id": "dv-ds-open", "mine": True}, {})
    wrong = [(who, data) for who in ACTORS for data in asks if not allowed(name, who, **data)]
    assert wrong == []


def test_a_layers_data_follows_the_access_policy(world):
    wrong = [(who, level) for who in ACTORS for level in LEVELS
             if allowed("dataviz_map_layer_data", who, resource_id=world.files[level])
             != LAYER_DATA[who][level]]
    assert wrong == []


def test_the_data_of_a_missing_layer_is_refused(world):
    for resource_id in ("", "no-such-resource", None):
        for who in ("anonymous", "editor"):
            assert not allowed("dataviz_map_layer_data", who, resource_id=resource_id)


def test_a_private_map_is_read_by_its_owners_and_its_organisations_members(world):
    wrong = [(who, key) for who in ACTORS for key in MAPS
             if allowed("dataviz_map_show", who, id=world.maps[key]) != MAP_SHOW[who][key]]
    assert wrong == []


@pytest.mark.parametrize("name", MAP_EDITS)
def test_a_map_is_changed_by_its_owners(world, name):
    wrong = [(who, key) for who in ACTORS for key in MAPS
             if allowed(name, who, id=world.maps[key]) != MAP_EDIT[who][key]]
    assert wrong == []


@pytest.mark.parametrize("name", ("dataviz_map_show", *MAP_EDITS))
def test_a_missing_map_is_refused(world, name):
    for ref in ("", "no-such-map", None):
        for who in ("anonymous", "editor", "owner"):
            assert not allowed(name, who, id=ref)


def test_a_map_moves_only_to_an_organisation_its_changer_edits(world):
    org_map, own_map = world.maps["org-map"], world.maps["own-map"]
    assert allowed("dataviz_map_update", "admin", id=org_map, owner_org="dv-publisher")
    assert not allowed("dataviz_map_update", "editor", id=org_map, owner_org="dv-other-publisher")
    assert not allowed("dataviz_map_update", "owner", id=own_map, owner_org="dv-publisher")
    assert not allowed("dataviz_map_update", "owner", id=own_map, owner_org="no-such-org")
    assert allowed("dataviz_map_update", "sysadmin", id=own_map, owner_org="dv-other-publisher")


def test_logged_in_users_save_their_own_maps(world):
    wrong = [who for who in ACTORS if allowed("dataviz_map_create", who, title="t")
             != (who in LOGGED_IN)]
    assert wrong == []


def test_an_organisations_map_is_saved_by_its_editors_and_admins(world):
    wrong = [(who, ref) for who in ACTORS for ref in ("dv-publisher", world.org["id"])
             if allowed("dataviz_map_create", who, title="t", owner_org=ref)
             != (who in EDITORS_OF_THE_ORG)]
    assert wrong == []


def test_no_one_but_a_sysadmin_saves_a_map_for_a_missing_organisation(world):
    assert not allowed("dataviz_map_create", "editor", title="t", owner_org="no-such-org")
    assert not allowed("dataviz_map_create", "editor", title="t", owner_org=["dv-publisher"])
    assert allowed("dataviz_map_create", "sysadmin", title="t", owner_org="no-such-org")
