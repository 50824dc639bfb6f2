"""Every migration of the suite's plugins runs down and up, one revision at a
time, on a database holding data: core data survives, each plugin's tables
disappear at its base and come back at its head, and the plugin works again.
New migrations are picked up from each plugin's `migration/<plugin>/versions`."""

from __future__ import annotations

import pathlib

import pytest
import sqlalchemy as sa
from alembic.script import ScriptDirectory
from ckan import model
from ckan.cli.db import _repo_for_plugin, _run_migrations
from ckan.tests import factories, helpers

ROOT = pathlib.Path(__file__).resolve().parent.parent
# Plugins of the suite that ship migrations, found on disk.
SUITE = sorted({path.parent.parent.name
                for path in ROOT.glob("ckanext-*/ckanext/*/migration/*/versions/*.py")})


def _revisions(plugin: str) -> list[str]:
    """The plugin's revisions from base to head."""
    with _repo_for_plugin(plugin) as repo:
        repo.setup_migration_version_control()
        script = ScriptDirectory.from_config(repo.alembic_config)
        return [rev.revision for rev in reversed(list(script.walk_revisions()))]


def _tables() -> set[str]:
    return set(sa.inspect(model.meta.engine).get_table_names())


def _plugin_tables(plugin: str) -> set[str]:
    return {name for name in _tables()
            if name.startswith(plugin + "_") and name != plugin + "_alembic_version"}


@pytest.fixture
def data_everywhere(clean_db):
    """A dataset, a circle with a grant, and an access request: rows in core
    tables and in the access plugin's tables before any migration runs."""
    org = factories.Organization()
    dataset = factories.Dataset(owner_org=org["id"])
    user = factories.User()
    sysadmin = {"user": factories.Sysadmin()["name"], "ignore_auth": False}
    circle = helpers.call_action("grandlyon_access_circle_create", dict(sysadmin), name="partners",
                                 title="Partners")
    helpers.call_action("grandlyon_access_grant_create", dict(sysadmin), package_id=dataset["id"],
                        circle_id=circle["id"])
    model.Session.remove()
    return {"dataset": dataset, "user": user}


def test_the_suite_has_migrations_to_check():
    assert {"grandlyon_access", "history"} <= set(SUITE)


@pytest.mark.parametrize("plugin", SUITE)
def test_every_migration_runs_down_and_up_with_data(plugin, data_everywhere):
    revisions = _revisions(plugin)
    at_head = _plugin_tables(plugin)
    assert at_head, f"{plugin} has migrations but no table prefixed {plugin}_"

    for target in reversed(revisions[:-1]):
        _run_migrations(plugin, target, forward=False)
    _run_migrations(plugin, "base", forward=False)
    assert _plugin_tables(plugin) == set()

    for target in revisions:
        _run_migrations(plugin, target, forward=True)
    assert _plugin_tables(plugin) == at_head

    model.Session.remove()
    shown = helpers.call_action("package_show", id=data_everywhere["dataset"]["id"])
    assert shown["name"] == data_everywhere["dataset"]["name"]
