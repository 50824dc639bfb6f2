"""The CKAN harvester of commune portals end to end: a replayed CKAN action
API (package_search, two pages, filtered on the remote organisation)."""

from __future__ import annotations

import json

import pytest

from .conftest import FIXTURES, harvested, run_job

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
