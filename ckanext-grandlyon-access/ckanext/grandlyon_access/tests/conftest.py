"""A small world for access tests: an organisation with its admin, editor
and member, outsiders, and datasets at each level with an external resource
and a DataStore table (the shared plugin's `World`,
ckanext.grandlyon_access.testing.pytest_plugin)."""

from __future__ import annotations

import pytest
from ckanext.grandlyon_access.testing.pytest_plugin import World

USERS = {"admin": "org-admin", "editor": "org-editor", "member": "org-member",
         "outsider": "outsider", "grantee": "grantee", "sysadmin": "root"}


@pytest.fixture
def world(clean_db, clean_index) -> World:
    """Created through CKAN's actions by the sysadmin, then indexed:
    `world.outsider`, `world.datasets["restricted"]`..."""
    return World(users=USERS, datasets=("open", "restricted", "hidden"), creator="sysadmin")
