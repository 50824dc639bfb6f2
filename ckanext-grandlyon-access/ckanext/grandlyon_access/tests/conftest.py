"""A small world for access tests: an organisation with its admin, editor
and member, outsiders, and datasets at each level with an external resource
and a DataStore table."""

from __future__ import annotations

import dataclasses

import pytest
from ckan.tests import factories, helpers

ORIGIN = "https://origin.example.org/secret/{}.csv"


@dataclasses.dataclass
class Actor:
    name: str
    id: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": self.token}


def actor(user: dict) -> Actor:
    return Actor(user["name"], user["id"], factories.APIToken(user=user["name"])["token"])


class World:
    """Created through CKAN's actions, then indexed."""

    def __init__(self):
        self.admin = actor(factories.User(name="org-admin"))
        self.editor = actor(factories.User(name="org-editor"))
        self.member = actor(factories.User(name="org-member"))
        self.outsider = actor(factories.User(name="outsider"))
        self.grantee = actor(factories.User(name="grantee"))
        self.sysadmin = actor(factories.Sysadmin(name="root"))
        self.org = factories.Organization(name="publisher", users=[
            {"name": "org-admin", "capacity": "admin"},
            {"name": "org-editor", "capacity": "editor"},
            {"name": "org-member", "capacity": "member"},
        ])
        self.datasets = {}
        for name, fields in {
            "open": {"access_level": "open"},
            "restricted": {"access_level": "restricted"},
            "hidden": {"access_level": "restricted", "access_hidden": "true"},
        }.items():
            self.datasets[name] = self.make_dataset(name, **fields)

    def make_dataset(self, name: str, **fields) -> dict:
        fields.setdefault("license_id", "lo-2.0")
        dataset = helpers.call_action(
            "package_create", context={"user": self.sysadmin.name},
            name=f"ds-{name}", title=f"Dataset {name}", owner_org=self.org["id"],
            resources=[{"name": "file", "url": ORIGIN.format(name), "format": "CSV"}],
            **fields,
        )
        table = helpers.call_action(
            "datastore_create", context={"user": self.sysadmin.name},
            resource={"package_id": dataset["id"], "name": "table"},
            fields=[{"id": "station", "type": "text"}, {"id": "bikes", "type": "int"}],
            records=[{"station": f"secret-{name}", "bikes": 7}], force=True,
        )
        dataset = helpers.call_action("package_show", id=dataset["id"])
        dataset["file_id"] = dataset["resources"][0]["id"]
        dataset["table_id"] = table["resource_id"]
        return dataset


@pytest.fixture
def world(clean_db, clean_index):
    return World()
