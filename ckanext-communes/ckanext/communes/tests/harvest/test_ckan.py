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


def test_fields_the_portal_would_refuse_are_left_out_with_a_note(remote, make_source, commune):
    """Found by the outside probe of issue 15: one bad field (a broken
    geometry, an unknown EU theme) refused the whole dataset, and bad dates,
    frequencies and sizes were dropped without a note."""
    remote.load(FIXTURES / "ckan" / "v1")
    route = "/api/3/action/package_search?fq=organization%3A%22ville-d-exemple%22&rows=2&sort=id+asc&start=2"
    page = json.loads((FIXTURES / "ckan" / "v1" / "package-search-start-2.json").read_text())
    water = page["result"]["results"][0]
    theme = "http://publications.europa.eu/resource/authority/data-theme/"
    water.update(
        theme=[theme + "TRAN", theme + "XXXX"], frequency="every-blue-moon",
        temporal_start="2024", temporal_end="2025-02-30", metadata_modified="garbage",
        spatial='{"type": "Polygon", "coordinates": [[[4.8, 45.7], [4.9, 45.7], [4.8, 45.7]]]}')
    water["resources"] = [
        dict(water["resources"][0], size=-12, mimetype="text/csv"),
        {"id": "r-ftp", "name": "ftp", "url": "ftp://ftp.example.org/eau.csv", "size": 2048},
        {"id": "r-sp", "name": "espaces", "url": " https://example.org/eau.csv ", "size": "big"},
        {"id": "r-mail", "name": "", "url": "mailto:eau@example.org"}]
    remote.override[route] = Answer(json.dumps(page).encode())
    source = make_source("communes_ckan", remote.url, {
        "remote_organization": "ville-d-exemple", "page_size": 2})

    report = run_job(source["id"])

    assert report["object_errors"] == [], report["object_errors"]
    shown = harvested(commune["id"])[water["id"]]
    assert shown["theme"] == [theme + "TRAN"]
    assert not shown.get("spatial") and not shown.get("frequency")
    assert shown["temporal_start"] == "2024-01-01" and not shown.get("temporal_end")
    assert [(r["url"], r.get("size")) for r in shown["resources"]] == [
        (water["resources"][0]["url"], None), ("ftp://ftp.example.org/eau.csv", 2048),
        ("https://example.org/eau.csv", None)]
    assert shown["resources"][0]["mimetype"] == "text/csv"
    notes = shown["provenance_notes"]
    for part in ('theme "' + theme + 'XXXX"', "not a valid GeoJSON geometry",
                 '"every-blue-moon"', 'bound "2025-02-30"', 'modification date "garbage"',
                 'resource "Consommations" is not a whole number',
                 'resource "espaces" is not a whole number',
                 'resource "mailto:eau@example.org" was left out'):
        assert part in notes, (part, notes)
        assert any(part in note for note in report["notes"]), (part, report["notes"])
