"""Fixtures of the harvester tests: a replay server per test, an organisation
for the commune, harvest sources, and jobs run through ckanext-harvest's
Redis queues (the real Redis of the test stack) with the gather and fetch
consumers' own callbacks, in process."""

from __future__ import annotations

import json
import pathlib
from typing import Any, Callable

import ckan.model as model
import ckan.plugins.toolkit as tk
import pytest
from ckan.tests import factories
from ckanext.harvest import queue

from ckanext.communes.harvesters.base import job_notes

from .replay import Answer, ReplayServer

FIXTURES = pathlib.Path(__file__).parent / "fixtures"


def sysadmin_context() -> dict:
    user = tk.get_action("get_site_user")({"ignore_auth": True}, {})["name"]
    return {"model": model, "session": model.Session, "user": user, "ignore_auth": True}


@pytest.fixture
def harvest_ready(clean_db, clean_index):
    """An empty database and index, and empty harvest queues."""
    queue.get_connection().flushdb()
    yield


@pytest.fixture
def remote():
    with ReplayServer() as server:
        yield server


@pytest.fixture
def commune(harvest_ready):
    return factories.Organization(name="ville-d-exemple", title="Ville d'Exemple")


@pytest.fixture
def make_source(commune) -> Callable[..., dict]:
    def make(source_type: str, url: str, config: dict | None = None, name: str = "",
             title: str = "Portail de la Ville d'Exemple") -> dict:
        return tk.get_action("harvest_source_create")(sysadmin_context(), {
            "name": name or f"source-{source_type}", "title": title, "url": url,
            "source_type": source_type, "owner_org": commune["id"], "frequency": "MANUAL",
            "config": json.dumps(config) if config is not None else "",
        })
    return make


def run_job(source_id: str, once_queued: Callable[[], None] | None = None) -> dict[str, Any]:
    """Creates a job and runs it through Redis: the job id is popped from the
    gather queue and handed to the gather callback, then each object id from
    the fetch queue to the fetch callback; harvest_jobs_run then marks the
    job finished. `once_queued` runs while the job waits on Redis. Returns
    harvest_job_report (stats, errors)."""
    context = sysadmin_context()
    job = tk.get_action("harvest_job_create")(context, {"source_id": source_id, "run": True})
    if once_queued is not None:
        once_queued()
    gather = queue.get_gather_consumer()
    fetch = queue.get_fetch_consumer()
    method, channel, body = gather.basic_get(queue=queue.get_gather_queue_name())
    assert body and json.loads(body)["harvest_job_id"] == job["id"], "the job is not on Redis"
    queue.gather_callback(gather, method, None, body)
    while True:
        method, channel, body = fetch.basic_get(queue=queue.get_fetch_queue_name())
        if body is None:
            break
        queue.fetch_callback(fetch, method, None, body)
    tk.get_action("harvest_jobs_run")(sysadmin_context(), {"source_id": source_id})
    shown = tk.get_action("harvest_job_show")(sysadmin_context(), {"id": job["id"]})
    report = tk.get_action("harvest_job_report")(sysadmin_context(), {"id": job["id"]})
    return {"job": shown, "stats": shown["stats"], "status": shown["status"],
            "gather_errors": [e["message"] for e in report["gather_errors"]],
            "object_errors": [f'{o["guid"]}: {e["message"]}'
                              for o in report["object_errors"].values() for e in o["errors"]],
            # Notes of the mapping (an unknown licence): the dataset was imported.
            "notes": [f"{guid}: {note}" for guid, note in job_notes(job["id"])],
            "original_urls": [o.get("original_url") for o in report["object_errors"].values()]}


def harvested(org_id: str, include_deleted: bool = False) -> dict[str, dict]:
    """The datasets of the organisation, by remote id, as package_show gives them."""
    query = model.Session.query(model.Package).filter_by(owner_org=org_id, type="dataset")
    if not include_deleted:
        query = query.filter_by(state="active")
    result = {}
    for package in query:
        shown = tk.get_action("package_show")(sysadmin_context(), {"id": package.id})
        result[shown.get("provenance_remote_id") or shown["name"]] = shown
    return result


def source_with_a_broken_record(remote, make_source) -> dict:
    """An Opendatasoft source of 5 datasets (pages of 3) whose second page
    gives `qualite-air-capteurs` a `visibility` that is not a text (a
    record the harvester cannot read, unlike a bad field, which is left out
    with a note): the portal refuses that one dataset and imports the 4
    others."""
    remote.load(FIXTURES / "opendatasoft" / "v1")
    page = json.loads((FIXTURES / "opendatasoft" / "v1" / "catalog-offset-3.json").read_text())
    page["results"][1]["visibility"] = 5
    remote.override["/api/explore/v2.1/catalog/datasets?limit=3&offset=3&order_by=dataset_id"] = \
        Answer(json.dumps(page).encode())
    return make_source("opendatasoft", remote.url, {"page_size": 3})
