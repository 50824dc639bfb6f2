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
