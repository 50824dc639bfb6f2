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


# --- found by the outside probe of issue 21 ------------------------------------------------

def _same(hidden, missing, hidden_ref, missing_ref):
    assert hidden[0] == missing[0]
    assert str(hidden[1]).replace(hidden_ref, "X") == str(missing[1]).replace(missing_ref, "X")


def test_a_hidden_table_asked_by_id_key_answers_as_a_missing_one(app, world):
    """CKAN's datastore_search takes `id` for `resource_id`; the gate read
    `resource_id` only ("Introuvable" for a hidden alias, the DataStore's
    words for a missing one)."""
    hidden = _get(app, world.outsider, "datastore_search", id=alias("hidden"))
    missing = _get(app, world.outsider, "datastore_search", id=alias("nowhere"))
    assert hidden[0] == 404
    _same(hidden, missing, alias("hidden"), alias("nowhere"))


@pytest.mark.parametrize("action", ["datastore_info", "datastore_search"])
@pytest.mark.parametrize("bad", [{"limit": "abc"}, {"filters": "notjson"}, {"offset": "-x"}])
def test_a_hidden_table_with_a_bad_parameter_answers_as_a_missing_one(app, world, action, bad):
    """The DataStore checks the other parameters before the table: a hidden
    table answered 404 where a missing one answers 409."""
    table = world.datasets["hidden"]["table_id"]
    made_up = "00000000-0000-4000-8000-000000000000"
    hidden = _get(app, world.outsider, action, resource_id=table, **bad)
    missing = _get(app, world.outsider, action, resource_id=made_up, **bad)
    _same(hidden, missing, table, made_up)


@pytest.mark.parametrize("action", ["package_show", "resource_show", "resource_view_list",
                                    "package_activity_list", "follow_dataset",
                                    "dataset_follower_count", "package_relationships_list"])
@pytest.mark.parametrize("shape", [list, lambda ref: {"id": ref}])
def test_an_id_wrapped_in_a_list_or_object_is_refused_alike(app, world, action, shape):
    """A hidden dataset's id in a list answered 404, a made-up one 500."""
    hidden = world.datasets["hidden"]
    ref = hidden["id"] if "resource" not in action else hidden["file_id"]
    made_up = "00000000-0000-4000-8000-000000000000"
    got = [_post(app, world.outsider, action, id=shape([value]) if shape is list else shape(value))
           for value in (ref, made_up)]
    assert got[0][0] == got[1][0] == 409
    _same(got[0], got[1], ref, made_up)


def test_a_lone_surrogate_is_refused_naming_the_parameter(app, world):
    res = app.post("/api/3/action/package_show", headers=world.outsider.headers,
                   data='{"id": "x\\ud800"}', content_type="application/json")
    assert res.status_code == 400
    assert "id" in res.json["error"] and "UTF-16" in str(res.json["error"]["id"])


def _get(app, actor, action, **params):
    res = app.get(f"/api/3/action/{action}", query_string=params, headers=actor.headers)
    return res.status_code, res.json
