"""Faults of the real services: each test stops or restarts a service of the
test stack (`./portal service ...`) and checks what people meet meanwhile and
that nothing is lost. Every test puts the service back, even when it fails."""

from __future__ import annotations

import contextlib
import os
import pathlib
import subprocess

import pytest
from ckan import model
from ckan.lib import jobs
from ckan.lib.search import rebuild
from ckan.tests import factories, helpers

ROOT = pathlib.Path(__file__).resolve().parent.parent


def service(action: str, name: str) -> None:
    subprocess.run([str(ROOT / "portal"), "service", action, name], check=True, env=os.environ,
                   stdout=subprocess.DEVNULL)


@contextlib.contextmanager
def stopped(name: str):
    service("stop", name)
    try:
        yield
    finally:
        service("start", name)


@pytest.fixture
def publisher(clean_db, clean_index):
    org = factories.Organization()
    sysadmin = factories.Sysadmin()
    token = factories.APIToken(user=sysadmin["name"])["token"]
    return {"org": org, "headers": {"Authorization": token},
            "context": {"user": sysadmin["name"], "ignore_auth": False}}


def test_solr_stopped_answers_503_and_loses_nothing(app, publisher):
    kept = helpers.call_action("package_create", dict(publisher["context"]), name="kept-before-outage",
                               owner_org=publisher["org"]["id"], access_level="open")
    with stopped("solr"):
        search = app.get("/api/3/action/package_search?q=kept", status=None)
        assert search.status_code == 503
        assert search.headers["Retry-After"]
        # The portal's default language is French (config/portal.ini).
        assert "service de recherche est momentanément indisponible" in search.json["error"]["message"]

        page = app.get("/dataset/", status=None)
        assert page.status_code == 503
        assert "Service temporairement indisponible" in page.get_data(as_text=True)
        english = app.get("/en/dataset/", status=None)
        assert english.status_code == 503
        assert "Service temporarily unavailable" in english.get_data(as_text=True)

        create = app.post("/api/3/action/package_create", headers=publisher["headers"], status=None,
                          json={"name": "during-outage", "owner_org": publisher["org"]["id"],
                                "access_level": "open"})
        assert create.status_code == 503
        assert "rien n'a été enregistré" in create.json["error"]["message"]
        assert "8983" not in create.get_data(as_text=True)  # no internal address

        # The dataset written before the outage is still served from the database.
        shown = app.get("/api/3/action/package_show?id=kept-before-outage", status=None)
        assert shown.status_code == 200, shown.get_data(as_text=True)[:300]
        assert shown.json["result"]["id"] == kept["id"]
        page = app.get("/dataset/kept-before-outage", status=None)
        assert page.status_code in (200, 503), page.status_code
    model.Session.remove()
    assert model.Package.get("during-outage") is None  # refused, not half-saved
    assert model.Package.get("kept-before-outage").state == "active"

    # Changed behind the index's back, then reindexed by the documented command.
    model.Session.execute(model.package_table.update()
                          .where(model.package_table.c.id == kept["id"])
                          .values(title="Titre changé hors index"))
    model.Session.commit()
    rebuild()
    found = helpers.call_action("package_search", q="title:changé")
    assert [d["name"] for d in found["results"]] == ["kept-before-outage"]


def test_redis_restart_keeps_queued_jobs(tmp_path):
    marker = tmp_path / "made-by-the-job"
    jobs.get_queue().empty()
    job = jobs.enqueue(os.makedirs, [str(marker)])
    service("restart", "redis")
    assert job.id in jobs.get_queue().job_ids
    jobs.Worker(["default"]).work(burst=True)
    assert marker.is_dir()


def test_postgres_restart_web_reconnects(app, publisher):
    helpers.call_action("package_create", dict(publisher["context"]), name="survives-restart",
                        owner_org=publisher["org"]["id"],
                        access_level="open")
    assert app.get("/dataset/survives-restart").status_code == 200
    service("restart", "postgres")
    # The pool's connections died with the server; the next requests reconnect.
    answers = [app.get("/dataset/survives-restart", status=None).status_code for _ in range(3)]
    assert answers == [200, 200, 200]
    assert app.get("/api/3/action/package_show?id=survives-restart").json["result"]["name"] == \
        "survives-restart"
