"""A DataStore table asked for by one of its aliases is judged as the table.

Found by the call_auth tests: CKAN's `datastore_info` resolves an alias
before asking its auth function and leaves the alias in `resource_id`; the
chained auth read only `resource_id`, found no resource and let CKAN's basic
check decide, so an outsider read a restricted table's fields and row count
by its alias, and a hidden table's alias answered 403 naming its resource
id. `datastore_search` on a hidden table's alias answered a bare 404, not
the DataStore's own words for a missing alias.
"""

from __future__ import annotations

import uuid

import pytest
from ckanext.grandlyon_access.testing.pytest_plugin import World

# Aliases are views of the DataStore database, which the tests' database
# reset may keep: names of this run only.
RUN = uuid.uuid4().hex[:8]


def alias(key: str) -> str:
    return f"alias_{key}_{RUN}"


class AliasedWorld(World):
    def table_of(self, key):
        table = super().table_of(key)
        return {**table, "aliases": alias(key)}


@pytest.fixture(scope="module")
def world(portal_for_module):
    return AliasedWorld(datasets=("open", "restricted", "hidden"))


def _post(app, actor, action, **params):
    res = app.post(f"/api/3/action/{action}", json=params, headers=actor.headers)
    return res.status_code, res.json


@pytest.mark.parametrize("action", ["datastore_info", "datastore_search"])
def test_a_restricted_table_by_alias_is_refused_as_by_id(app, world, action):
    by_id = _post(app, world.outsider, action, resource_id=world.datasets["restricted"]["table_id"])
    by_alias = _post(app, world.outsider, action, resource_id=alias("restricted"))
    assert by_id[0] == by_alias[0] == 403
    assert world.datasets["restricted"]["table_id"] not in str(by_alias[1])
    assert "fields" not in str(by_alias[1]["error"]) and "secret-restricted" not in str(by_alias)


@pytest.mark.parametrize("action", ["datastore_info", "datastore_search"])
def test_a_hidden_table_by_alias_answers_as_an_alias_that_does_not_exist(app, world, action):
    hidden = _post(app, world.outsider, action, resource_id=alias("hidden"))
    missing = _post(app, world.outsider, action, resource_id=alias("nowhere"))
    assert hidden[0] == missing[0] == 404
    assert (hidden[1]["error"]["message"].replace(alias("hidden"), "X")
            == missing[1]["error"]["message"].replace(alias("nowhere"), "X"))
    assert world.datasets["hidden"]["table_id"] not in str(hidden[1])


@pytest.mark.parametrize("action", ["datastore_info", "datastore_search"])
def test_a_table_by_alias_still_reads_for_who_may(app, world, action):
    status, body = _post(app, world.sysadmin, action, resource_id=alias("restricted"))
    assert status == 200, body
    status, body = _post(app, world.outsider, action, resource_id=alias("open"))
    assert status == 200, body
