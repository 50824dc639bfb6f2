"""The whole stack, end to end: the action API over HTTP, PostgreSQL, Solr,
the DataStore database and a background job run by a separate worker process
through Redis."""

from __future__ import annotations

import ckan.lib.jobs as jobs
import ckan.lib.search as search
import pytest
from ckan.tests import factories, helpers


def api(app, action, token, **data):
    """POSTs an action over HTTP; returns CKAN's `result`, fails on an error."""
    res = app.post(f"/api/3/action/{action}", json=data, headers={"Authorization": token})
    body = res.get_json()
    assert res.status_code == 200 and body["success"], (action, res.status_code, body)
    return body["result"]


@pytest.fixture
def publisher():
    user = factories.Sysadmin()
    return {"user": user, "token": factories.APIToken(user=user["name"])["token"]}


@pytest.mark.usefixtures("clean_db", "clean_index")
def test_dataset_created_over_http_is_found_in_solr(app, publisher):
    org = factories.Organization()
    created = api(
        app, "package_create", publisher["token"],
        name="stations-velos-smoke", title="Stations de vélos (smoke)",
        owner_org=org["id"], notes="Emplacements des stations", license_id="lo-2.0",
        tag_string="mobilité,vélo",
    )
    assert created["license_title"] == "Licence Ouverte / Open Licence 2.0"

    found = api(app, "package_search", publisher["token"], q="stations vélos", fq="tags:vélo")
    assert found["count"] == 1
    assert found["results"][0]["id"] == created["id"]

    missing = api(app, "package_search", publisher["token"], q="name:does-not-exist")
    assert missing["count"] == 0


@pytest.mark.usefixtures("clean_db", "clean_index")
def test_datastore_rows_round_trip(app, publisher):
    dataset = factories.Dataset(owner_org=factories.Organization()["id"])
    rows = [
        {"id": "3082", "nom": "Bellecour", "capacite": 40, "taux": 0.5},
        {"id": "7024", "nom": "Gratte-Ciel", "capacite": 22, "taux": 0.25},
    ]
    created = api(
        app, "datastore_create", publisher["token"],
        resource={"package_id": dataset["id"], "name": "Stations", "format": "CSV"},
        fields=[
            {"id": "id", "type": "text"}, {"id": "nom", "type": "text"},
            {"id": "capacite", "type": "int"}, {"id": "taux", "type": "numeric"},
        ],
        records=rows, primary_key=["id"], force=True,
    )
    result = api(
        app, "datastore_search", publisher["token"],
        resource_id=created["resource_id"], sort="capacite desc",
    )
    assert result["total"] == 2
    assert [(r["id"], r["nom"], r["capacite"]) for r in result["records"]] == [
        ("3082", "Bellecour", 40), ("7024", "Gratte-Ciel", 22)]
    assert [float(r["taux"]) for r in result["records"]] == [0.5, 0.25]

    filtered = api(
        app, "datastore_search", publisher["token"],
        resource_id=created["resource_id"], filters={"nom": "Gratte-Ciel"},
    )
    assert [r["id"] for r in filtered["records"]] == ["7024"]


@pytest.mark.usefixtures("clean_db", "clean_index", "clean_queues")
def test_background_job_runs_in_a_worker_process_through_redis(ckan_command):
    """A job queued in Redis is run by `ckan jobs worker --burst`, a separate
    process: here it puts back into Solr a dataset missing from the index."""
    dataset = factories.Dataset(title="Parkings relais", owner_org=factories.Organization()["id"])
    search.clear(dataset["name"])

    def indexed() -> int:
        return helpers.call_action("package_search", q=f"id:{dataset['id']}")["count"]

    assert indexed() == 0

    job = jobs.enqueue(search.rebuild, [dataset["id"]], title="reindex one dataset")
    assert job.get_status() == "queued"

    worker = ckan_command("jobs", "worker", "--burst")
    assert worker.returncode == 0, worker.stderr

    job.refresh()
    assert job.get_status() == "finished", worker.stderr
    assert indexed() == 1
