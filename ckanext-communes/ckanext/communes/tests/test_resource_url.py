"""The resource address validator (`communes_resource_url`) lets CKAN's own
paths through: a DataStore table created with its resource
(`datastore_create` with `resource`) has no address of its own."""

from __future__ import annotations

import pytest
from ckan.tests import factories, helpers


@pytest.fixture
def _portal_plugins():
    """The module's plugins are loaded once, by `portal_for_module`."""
    yield


def test_a_datastore_table_made_with_its_resource_is_kept(portal_for_module):
    admin = factories.Sysadmin()
    org = factories.Organization()
    dataset = factories.Dataset(owner_org=org["id"])
    made = helpers.call_action(
        "datastore_create", context={"user": admin["name"]},
        resource={"package_id": dataset["id"], "name": "table"},
        fields=[{"id": "n", "type": "int"}], records=[{"n": 1}])
    resource = helpers.call_action("resource_show", id=made["resource_id"])
    assert resource["datastore_active"] is True
    assert resource["url"].endswith(f"/datastore/dump/{made['resource_id']}")
