"""The restore drill (scripts/restore_drill.py, `./portal drill`) on a small
portal: a restricted dataset with an uploaded file, a DataStore table, a
licence signature, a grant and a history; backed up as docker/README.md
says, wiped, restored, and found whole again."""

from __future__ import annotations

import importlib.util
import io
import os
import subprocess
import sys
from pathlib import Path

import ckan.model as model
import ckanext.datastore.tests.helpers as datastore_helpers
import pytest
from sqlalchemy import orm
from ckan.tests import factories, helpers
from ckan.tests.pytest_ckan.fixtures import FakeFileStorage
from ckanext.history.tests.history_support import load

ROOT = Path(__file__).resolve().parent.parent
DRILL = ROOT / "scripts" / "restore_drill.py"


def _drill_module():
    spec = importlib.util.spec_from_file_location("restore_drill", DRILL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def small_portal(clean_db, reset_index):
    reset_index()
    # The DataStore of the test session holds the tables of earlier tests.
    datastore_helpers.clear_db(orm.scoped_session(orm.sessionmaker(
        bind=datastore_helpers.db.get_write_engine())))
    admin = factories.Sysadmin()
    partner = factories.User(name="drill-partner")
    org = factories.Organization(name="drill-org")
    context = {"user": admin["name"], "ignore_auth": True}
    dataset = helpers.call_action(
        "package_create", context=dict(context), name="drill-restricted", title="Drill",
        owner_org=org["id"], license_id="mobilites", access_level="licensed")
    upload = helpers.call_action(
        "resource_create", context=dict(context), package_id=dataset["id"], name="file",
        url="rows.csv", upload=FakeFileStorage(io.BytesIO(b"station,bikes\nA,3\n"), "rows.csv"))
    table = helpers.call_action(
        "datastore_create", context=dict(context), resource={"package_id": dataset["id"],
                                                             "name": "table"},
        fields=[{"id": "station", "type": "text"}, {"id": "bikes", "type": "int"}],
        records=[{"station": "A", "bikes": 3}, {"station": "B", "bikes": 7}], force=True)
    helpers.call_action("grandlyon_licence_sign", context={"user": partner["name"]},
                        licence_id="mobilites", organisation="Drill & Co",
                        intended_use="a test")
    helpers.call_action("grandlyon_access_grant_create", context=dict(context),
                        package_id=dataset["id"], user=partner["name"])
    load(upload["id"])
    model.Session.remove()
    model.meta.engine.dispose()  # the drill's wipe waits for open connections
    return {"dataset": dataset, "upload": upload, "table": table}


def test_the_drill_restores_a_small_portal_whole(small_portal, request, tmp_path):
    ini = request.config.getoption("--ckan-ini")
    done = subprocess.run(
        [sys.executable, str(DRILL), "--ini", ini, "--backup", str(tmp_path / "backup")],
        capture_output=True, text=True, timeout=600, env=dict(os.environ))
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-3000:]
    assert "the restore gave back everything" in output
    assert "1 DataStore tables, 1 histories" in output, output[-1500:]
    for part in ("ckan.dump", "datastore.dump", "storage.tgz"):
        assert (tmp_path / "backup" / part).stat().st_size > 0

    # The portal answers from the restored databases, files and index.
    shown = helpers.call_action("package_show", id="drill-restricted")
    assert [r["name"] for r in shown["resources"]] == ["file", "table"]
    rows = helpers.call_action("datastore_search", resource_id=small_portal["table"]
                               ["resource_id"])
    assert rows["total"] == 2
    found = helpers.call_action("package_search", q="name:drill-restricted",
                                include_private=True)
    assert found["count"] == 1
    signatures = helpers.call_action("grandlyon_licence_signature_list",
                                     context={"user": "drill-partner"})
    assert [s["licence_id"] for s in signatures] == ["mobilites"]


def test_the_drill_names_what_differs():
    drill = _drill_module()
    before = {"tables": {"ckan": {"public.package": "3 abc", "public.user": "2 def"}},
              "files": {"storage": {"resources/x": "111"}}}
    after = {"tables": {"ckan": {"public.package": "3 abc", "public.user": "1 fed"}},
             "files": {"storage": {}}}
    found = drill.differences(before, after)
    assert found == ["files / storage / resources/x: missing after the restore",
                     "tables / ckan / public.user: '2 def' != '1 fed'"]
    assert drill.differences(before, before) == []
