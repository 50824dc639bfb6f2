"""The CKAN harvester of commune portals end to end: a replayed CKAN action
API (package_search, two pages, filtered on the remote organisation)."""

from __future__ import annotations

import json

import pytest

from .conftest import FIXTURES, harvested, run_job
from .replay import Answer

pytestmark = pytest.mark.ckan_config("ckanext.grandlyon_access.outbound.allow", "127.0.0.1")


def test_ckan_portal_is_harvested_with_the_portal_fields(remote, make_source, commune):
    remote.load(FIXTURES / "ckan" / "v1")
    source = make_source("communes_ckan", remote.url, {
        "remote_organization": "ville-d-exemple", "page_size": 2, "default_access_level": "open"})

    report = run_job(source["id"])

    assert report["gather_errors"] == [] and report["object_errors"] == []
    assert report["stats"]["added"] == 3
    datasets = harvested(commune["id"])
    lanes = datasets["7c1e0a52-1b2c-4d3e-8f90-000000000001"]
    assert lanes["name"] == "pistes-cyclables"
    assert lanes["owner_org"] == commune["id"]
    assert lanes["license_id"] == "lo-2.0"
    assert lanes["access_level"] == "open"
    assert sorted(t["name"] for t in lanes["tags"]) == ["mobilité", "vélo"]  # as written
    assert json.loads(lanes["spatial"])["type"] == "Polygon"
    assert lanes["provenance_remote_url"] == f"{remote.url}/dataset/pistes-cyclables"
    assert lanes["resources"][0]["format"] == "GeoJSON"
    menus = datasets["7c1e0a52-1b2c-4d3e-8f90-000000000002"]
    assert (menus["license_id"], menus["access_level"]) == ("odbl-1.0", "open")
    water = datasets["7c1e0a52-1b2c-4d3e-8f90-000000000003"]
    assert water["access_level"] == "restricted"  # the remote portal's own level
    assert water["license_id"] == "" and "Other (Not Open)" in water["provenance_notes"]
    assert water["provenance_remote_licence"] == "Other (Not Open)"
    assert report["notes"] == [f"{water['provenance_remote_id']}: Remote licence unknown to the "
                               'portal: Other (Not Open). The dataset was imported without a '
                               'licence and with the access level "restricted"; map this '
                               'licence in "licences" in the source configuration.']

    # Nothing changed remotely: nothing rewritten.
    assert run_job(source["id"])["stats"]["not modified"] == 3


def test_what_a_remote_ckan_sends_oddly_is_published_safely(remote, make_source, commune):
    """Found by an outside probe: resources that are not http(s) were left
    out without the note the other harvesters give; a dataset hidden at the
    source came out visible to everyone; a NUL character in a title made
    the import fail with a raw database error."""
    remote.load(FIXTURES / "ckan" / "v1")
    route = "/api/3/action/package_search?fq=organization%3A%22ville-d-exemple%22&rows=2&sort=id+asc&start=2"
    page = json.loads((FIXTURES / "ckan" / "v1" / "package-search-start-2.json").read_text())
    water = page["result"]["results"][0]
    water.update(title="Qualité\x00 de l'eau \ud800", access_hidden=True)
    water["resources"] = water["resources"] + [
        {"id": "r-js", "name": "js", "url": "javascript:alert(1)", "format": "HTML"},
        {"id": "r-rel", "name": "relatif", "url": "/relative.csv", "format": "CSV"}]
    # A portal of this suite sends its EU data themes (a list of IRIs).
    water["theme"] = ["http://publications.europa.eu/resource/authority/data-theme/HEAL"]
    remote.override[route] = Answer(json.dumps(page).encode())
    source = make_source("communes_ckan", remote.url, {
        "remote_organization": "ville-d-exemple", "page_size": 2})

    report = run_job(source["id"])

    assert report["object_errors"] == [] and report["stats"]["added"] == 3, report
    shown = harvested(commune["id"])[water["id"]]
    assert shown["title"] == "Qualité de l'eau"
    assert shown["theme"] == ["http://publications.europa.eu/resource/authority/data-theme/HEAL"]
    assert not [t for t in shown["tags"] if "europa" in t["name"]]
    assert shown["access_level"] == "restricted" and shown["access_hidden"] in (True, "true")
    assert all(r["url"].startswith("http") for r in shown["resources"])
    for name in ("js", "relatif"):
        note = f'The remote resource "{name}" was left out: its address is not an http(s) URL'
        assert note in shown["provenance_notes"]
        assert f"{water['id']}: {note}" in report["notes"]
