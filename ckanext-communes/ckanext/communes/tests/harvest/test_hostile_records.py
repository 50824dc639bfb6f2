"""Remote records that are hostile or malformed, one dataset at a time: no
address other than http(s) becomes a link or a resource of the portal, and
a record whose shape the mapping cannot verify is an object error that
leaves the published dataset as it was."""

from __future__ import annotations

import json
from typing import Callable

import ckan.model as model
import pytest
from ckanext.communes.harvesters.udata import UdataHarvester
from ckanext.harvest.model import HarvestObject

from .conftest import FIXTURES, harvested, run_job
from .replay import Answer

pytestmark = pytest.mark.ckan_config("ckanext.grandlyon_access.outbound.allow", "127.0.0.1")

UDATA = {"remote_organization": "ville-d-exemple", "page_size": 2}
UDATA_PAGE = "/api/1/organizations/ville-d-exemple/datasets/?page=1&page_size=2"
MINUTES = "65f0c1d2e3a4b5c6d7e8f901"


@pytest.fixture
def udata(remote, make_source):
    remote.load(FIXTURES / "udata" / "v1")
    return make_source("udata", remote.url, UDATA)


def udata_first_page(remote, change: Callable[[dict], None]) -> None:
    """The v1 udata catalogue with its first dataset passed through `change`."""
    page = json.loads((FIXTURES / "udata" / "v1" / "datasets-page-1.json").read_text())
    change(page["data"][0])
    remote.override[UDATA_PAGE] = Answer(json.dumps(page).encode())


# --- only http(s) addresses become links (finding 1) --------------------------------------

@pytest.mark.parametrize("page", ["javascript:alert(document.domain)",
                                  "data:text/html,<script>alert(1)</script>",
                                  " JavaScript:alert(1)", "//evil.example/x"])
def test_a_remote_page_that_is_not_http_is_no_link(udata, remote, commune, page):
    udata_first_page(remote, lambda record: record.update(page=page))

    report = run_job(udata["id"])

    assert report["object_errors"] == []
    minutes = harvested(commune["id"])[MINUTES]
    assert minutes["url"] == "" and minutes["provenance_remote_url"] == ""
    obj = model.Session.query(HarvestObject).filter_by(guid=MINUTES, current=True).one()
    assert UdataHarvester().get_original_url(obj.id) is None
    # An http(s) page stays the link.
    other = harvested(commune["id"])["65f0c1d2e3a4b5c6d7e8f902"]
    assert other["url"].startswith("https://www.data.gouv.fr/")


# --- only http(s) resources are imported (finding 2) ----------------------------------------

@pytest.mark.parametrize("url", ["javascript:alert(1)", "data:text/csv,a,b", "file:///etc/passwd",
                                 "ftp://example.org/x.csv"])
def test_a_resource_that_is_not_http_is_left_out_with_a_note(app, udata, remote, commune, url):
    def change(record):
        record["resources"].append({"id": "0d3c2b1a-0000-4000-8000-000000000666",
                                    "title": "Piège", "format": "csv", "url": url})
    udata_first_page(remote, change)

    report = run_job(udata["id"])

    assert report["object_errors"] == []
    minutes = harvested(commune["id"])[MINUTES]
    assert [r["name"] for r in minutes["resources"]] == ["Délibérations 2020-2025"]
    note = 'The remote resource "Piège" was left out: its address is not an http(s) URL'
    assert note in minutes["provenance_notes"]
    assert f"{MINUTES}: {note}" in report["notes"]
    # Every resource of the portal downloads (or redirects); none answers 500.
    for dataset in harvested(commune["id"]).values():
        for resource in dataset["resources"]:
            res = app.get(f"/dataset/{dataset['id']}/resource/{resource['id']}/download",
                          follow_redirects=False)
            assert res.status_code < 500
    with app.flask_app.test_request_context(environ_overrides={"CKAN_LANG": "fr"}):
        from ckanext.communes.helpers import communes_harvest_message
        assert communes_harvest_message(note) == (
            "La ressource distante « Piège » a été écartée : son adresse n'est pas une URL "
            "http(s)")
