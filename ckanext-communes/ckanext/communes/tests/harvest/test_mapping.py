"""The mapping of remote datasets onto the portal, re-harvest after re-harvest:
a dataset withdrawn then restored keeps its link to the source (in Solr),
udata resources keep their ids, licences go through the source's table, and
dates, frequencies, coverage and keywords come through as the remote says."""

from __future__ import annotations

import json
import re

import ckan.plugins.toolkit as tk
import pytest
from ckan.tests import factories

from .conftest import FIXTURES, harvested, run_job, sysadmin_context
from .replay import Answer

pytestmark = pytest.mark.ckan_config("ckanext.grandlyon_access.outbound.allow", "127.0.0.1")

UDATA = {"remote_organization": "ville-d-exemple", "page_size": 2,
         "licences": {"other-at": "mobilites"}}


@pytest.fixture
def udata(remote, make_source):
    remote.load(FIXTURES / "udata" / "v1")
    return make_source("udata", remote.url, UDATA)


def indexed_for_source(source_id: str) -> set[str]:
    result = tk.get_action("package_search")(sysadmin_context(), {
        "fq": f'+harvest_source_id:"{source_id}"', "rows": 100})
    return {d["provenance_remote_id"] for d in result["results"]}


def test_a_dataset_withdrawn_then_restored_keeps_its_source(app, udata, remote, commune):
    run_job(udata["id"])
    remote.load(FIXTURES / "udata" / "v2")
    assert run_job(udata["id"])["stats"]["deleted"] == 1
    remote.load(FIXTURES / "udata" / "v1")

    report = run_job(udata["id"])

    assert report["object_errors"] == []
    restored = "65f0c1d2e3a4b5c6d7e8f903"
    assert restored in harvested(commune["id"])
    assert indexed_for_source(udata["id"]) == set(harvested(commune["id"]))
    token = factories.APIToken(user=factories.Sysadmin()["name"])["token"]
    body = app.get(f"/harvest/{udata['name']}", headers={"Authorization": token}).get_data(
        as_text=True)
    assert re.search(r"<dd>\s*3\s*</dd>", body)


def test_udata_resources_keep_their_id_when_their_url_changes(udata, remote, commune):
    run_job(udata["id"])
    before = harvested(commune["id"])["65f0c1d2e3a4b5c6d7e8f901"]["resources"]
    page = json.loads((FIXTURES / "udata" / "v1" / "datasets-page-1.json").read_text())
    resources = page["data"][0]["resources"]
    resources[0]["url"] = "https://static.data.gouv.fr/resources/deliberations/v2.csv"
    resources.append({"id": "0d3c2b1a-0000-4000-8000-000000000099", "title": "Annexe",
                      "url": before[0]["url"], "format": "pdf"})
    remote.override["/api/1/organizations/ville-d-exemple/datasets/?page=1&page_size=2"] = \
        Answer(json.dumps(page).encode())

    report = run_job(udata["id"])

    assert report["stats"]["updated"] == 1 and report["object_errors"] == []
    after = harvested(commune["id"])["65f0c1d2e3a4b5c6d7e8f901"]["resources"]
    assert after[0]["id"] == before[0]["id"]
    assert after[0]["url"].endswith("/v2.csv")
    assert after[0]["remote_id"] == "0d3c2b1a-0000-4000-8000-000000000010"
    # The new resource at the old address is a new resource.
    assert after[1]["id"] != before[0]["id"] and after[1]["name"] == "Annexe"
