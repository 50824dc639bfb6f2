"""Fixtures for every test of the suite.

Every test runs against the portal as configured: the plugins named by
`ckan.plugins` in the test ini are loaded for each test (CKAN's pytest plugin
unloads them between tests otherwise), and `clean_db` leaves the tables of
every plugin that has migrations (activity, harvest, the suite's) in place.
"""

from __future__ import annotations

import inspect
import os

import ckan.plugins as plugins
import ckan.plugins.toolkit as tk
import pytest


@pytest.fixture(autouse=True)
def _portal_plugins(with_plugins):
    """Loads the configured plugins around each test."""


def plugins_with_migrations() -> list[str]:
    """Names of the configured plugins that ship at least one migration."""
    names = []
    for name in tk.aslist(tk.config["ckan.plugins"]):
        module_dir = os.path.dirname(inspect.getfile(type(plugins.get_plugin(name))))
        versions = os.path.join(module_dir, "migration", name, "versions")
        if os.path.isdir(versions) and any(f.endswith(".py") for f in os.listdir(versions)):
            names.append(name)
    return names


@pytest.fixture(scope="session")
def reset_portal_db(reset_db, migrate_db_for):
    """A callable that empties the database, then brings every plugin's
    tables up to date (CKAN's reset re-creates only the core tables)."""

    def reset() -> None:
        reset_db()
        for name in plugins_with_migrations():
            migrate_db_for(name)

    return reset


@pytest.fixture
def clean_db(reset_portal_db):
    """Empties the database, then brings every plugin's tables up to date."""
    reset_portal_db()
