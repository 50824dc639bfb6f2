"""The mapping of remote datasets onto the portal, re-harvest after re-harvest:
a dataset withdrawn then restored keeps its link to the source (in Solr),
udata resources keep their ids, licences go through the source's table, and
dates, frequencies, coverage and keywords come through as the remote says."""

from __future__ import annotations

import json
import re
from html import unescape

import ckan.plugins.toolkit as tk
import pytest
from ckan.tests import factories

from .conftest import FIXTURES, harvested, run_job, sysadmin_context
from .replay import Answer

# Harvested update frequencies are stored as EU frequency IRIs (DCAT-AP).
FREQUENCY = "http://publications.europa.eu/resource/authority/frequency/"
THEME = "http://publications.europa.eu/resource/authority/data-theme/"

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


def ods_catalogue(change) -> bytes:
    """The v1 OpenDataSoft catalogue on one page, each record passed through
    `change(dataset_id, record)`."""
    results = []
    for name in ("catalog-offset-0.json", "catalog-offset-3.json"):
        results += json.loads((FIXTURES / "opendatasoft" / "v1" / name).read_text())["results"]
    for record in results:
        change(record["dataset_id"], record)
    return json.dumps({"total_count": len(results), "results": results}).encode()


def test_licences_map_through_the_source_table_with_their_access_level(remote, make_source,
                                                                       commune):
    remote.load(FIXTURES / "opendatasoft" / "v1")
    source = make_source("opendatasoft", remote.url, {"page_size": 3, "licences": {
        "CC BY-SA 4.0 International": {"licence": "mobilites", "access_level": "licensed"},
        "open database license (odbl)": {"licence": "odbl-1.0", "access_level": "restricted"}}})

    report = run_job(source["id"])

    assert report["object_errors"] == [] and report["notes"] == []
    datasets = harvested(commune["id"])
    sports = datasets["equipements-sportifs"]
    assert (sports["license_id"], sports["access_level"]) == ("mobilites", "licensed")
    assert sports["provenance_remote_licence"] == "CC BY-SA 4.0 International"
    # Matched whatever the case; the table's level wins over "open".
    budget = datasets["budget-primitif-2025"]
    assert (budget["license_id"], budget["access_level"]) == ("odbl-1.0", "restricted")
    # The table never opens what the remote portal restricts.
    assert datasets["stationnement-residents"]["access_level"] == "restricted"


def test_an_unknown_licence_is_restricted_and_reported_unless_the_default_says(
        remote, make_source, commune):
    remote.load(FIXTURES / "opendatasoft" / "v1")
    source = make_source("opendatasoft", remote.url, {"page_size": 3})
    report = run_job(source["id"])
    sports = harvested(commune["id"])["equipements-sportifs"]
    assert (sports["license_id"], sports["access_level"]) == ("", "restricted")
    assert [n.split(":")[0] for n in report["notes"]] == ["equipements-sportifs"]
    assert "CC BY-SA 4.0 International" in report["notes"][0]

    tk.get_action("harvest_source_patch")(sysadmin_context(), {
        "id": source["id"], "config": json.dumps({
            "page_size": 3, "default_licence": {"licence": "lo-2.0", "access_level": "open"}})})
    report = run_job(source["id"])
    sports = harvested(commune["id"])["equipements-sportifs"]
    assert (sports["license_id"], sports["access_level"]) == ("lo-2.0", "open")
    assert "CC BY-SA 4.0 International" in sports["provenance_notes"]
    assert "restricted" not in sports["provenance_notes"]
    assert "imported with the licence \"lo-2.0\" and the access level \"open\"" in \
        report["notes"][0]


def test_ods_coverage_frequency_and_keywords(remote, make_source, commune):
    def change(dataset_id, record):
        meta = record["metas"]["default"]
        if dataset_id == "arbres-remarquables":
            record["metas"]["dcat"] = {"accrualperiodicity": "http://publications.europa.eu/"
                                       "resource/authority/frequency/QUARTERLY"}
            meta["keyword"] = ["Arbres", "Patrimoine naturel", "ARBRES", "x", "vélo/piéton"]
        if dataset_id == "budget-primitif-2025":
            record["metas"]["dcat"] = {"accrualperiodicity": "Semestrielle"}
            meta["theme"] = ["Budget", THEME + "ECON"]
            meta["bbox"] = {"type": "FeatureCollection", "features": [
                {"type": "Feature", "geometry": {"type": "Point", "coordinates": [4.87, 45.76]}}]}
        if dataset_id == "stationnement-residents":
            meta["geographic_reference"] = {"bbox": [4.8, 45.7, 4.9, 45.8]}

    remote.load(FIXTURES / "opendatasoft" / "v1")
    remote.override["*"] = Answer(ods_catalogue(change))
    source = make_source("opendatasoft", remote.url, {"page_size": 10})

    report = run_job(source["id"])

    assert report["gather_errors"] == [] and report["object_errors"] == []
    datasets = harvested(commune["id"])
    trees = datasets["arbres-remarquables"]
    assert trees["frequency"] == FREQUENCY + "QUARTERLY"
    assert [t["name"] for t in trees["tags"] if t["name"] != "Environnement"] == [
        "Arbres", "Patrimoine naturel", "vélo piéton"]
    # Themes the DCAT-AP mapping file names (config/dcat-ap.yaml) and EU data
    # theme IRIs become EU data themes; the others stay tags.
    assert trees["theme"] == [THEME + "ENVI"]
    budget = datasets["budget-primitif-2025"]
    assert budget["frequency"] == FREQUENCY + "ANNUAL_2"
    assert budget["theme"] == [THEME + "ECON"]
    assert "budget" in [t["name"].lower() for t in budget["tags"]]
    assert not [t for t in budget["tags"] if "europa" in t["name"]]
    assert json.loads(budget["spatial"]) == {"type": "Point", "coordinates": [4.87, 45.76]}
    parking = json.loads(datasets["stationnement-residents"]["spatial"])
    assert parking["type"] == "Polygon" and parking["coordinates"][0][2] == [4.9, 45.8]


def test_udata_zone_names_frequency_and_metadata_dates(udata, remote, commune):
    tk.get_action("organization_patch")(sysadmin_context(), {
        "id": commune["id"], "is_commune": "true", "insee_code": "99999"})
    page = json.loads((FIXTURES / "udata" / "v1" / "datasets-page-1.json").read_text())
    page["data"][1]["frequency"] = "quarterly"
    page["data"][1]["spatial"] = {"zones": ["fr:departement:99", "fr:commune:99999"]}
    key = "/api/1/organizations/ville-d-exemple/datasets/?page=1&page_size=2"
    remote.override[key] = Answer(json.dumps(page).encode())

    run_job(udata["id"])

    datasets = harvested(commune["id"])
    minutes = datasets["65f0c1d2e3a4b5c6d7e8f901"]
    assert minutes["spatial_text"] == "Ville d'Exemple"
    energy = datasets["65f0c1d2e3a4b5c6d7e8f902"]
    assert energy["frequency"] == FREQUENCY + "QUARTERLY"
    assert energy["spatial_text"] == "departement 99, Ville d'Exemple"
    # The source's table names a zone.
    tk.get_action("harvest_source_patch")(sysadmin_context(), {
        "id": udata["id"], "config": json.dumps(dict(UDATA, zone_names={
            "fr:departement:99": "Département d'Exemple"}))})
    run_job(udata["id"])
    energy = harvested(commune["id"])["65f0c1d2e3a4b5c6d7e8f902"]
    assert energy["spatial_text"] == "Département d'Exemple, Ville d'Exemple"

    # A change of the metadata only (udata's last_modified) moves the remote
    # modification date; last_update (the data) stays.
    page["data"][0]["title"] = "Délibérations (titre revu)"
    page["data"][0]["last_modified"] = "2025-04-01T09:00:00.000000+00:00"
    remote.override[key] = Answer(json.dumps(page).encode())
    run_job(udata["id"])
    minutes = harvested(commune["id"])["65f0c1d2e3a4b5c6d7e8f901"]
    assert minutes["provenance_remote_modified"] == "2025-04-01T09:00:00.000000+00:00"


def test_harvest_notes_and_dates_in_the_readers_language(app, remote, make_source, commune):
    remote.load(FIXTURES / "udata" / "v1")
    source = make_source("udata", remote.url, {"remote_organization": "ville-d-exemple",
                                                "page_size": 2, "withdraw": "keep",
                                                "default_licence": "lo-2.0"})
    run_job(source["id"])
    remote.load(FIXTURES / "udata" / "v2")
    run_job(source["id"])
    kept = harvested(commune["id"])["65f0c1d2e3a4b5c6d7e8f903"]
    assert kept["provenance_withdrawn"].startswith("Withdrawn from the remote portal on ")
    energy = harvested(commune["id"])["65f0c1d2e3a4b5c6d7e8f902"]
    token = factories.APIToken(user=factories.Sysadmin()["name"])["token"]

    def page(name, lang):
        res = app.get(f"/{lang}/dataset/{name}" if lang == "en" else f"/dataset/{name}",
                      headers={"Authorization": token})
        assert res.status_code == 200
        return unescape(res.get_data(as_text=True))

    french = page(kept["name"], "fr")
    assert "Retiré du portail distant le" in french and "Withdrawn from" not in french
    assert kept["provenance_withdrawn"][-10:] not in french  # the date, formatted
    english = page(kept["name"], "en")
    assert "Withdrawn from the remote portal on" in english
    french = page(energy["name"], "fr")
    assert "Licence distante absente du registre du portail : other-at" in french
    assert "Remote licence" not in french
    modified = energy["provenance_remote_modified"]
    month = ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août",
             "septembre", "octobre", "novembre", "décembre")[int(modified[5:7]) - 1]
    assert f"{int(modified[8:10])} {month} {modified[:4]}" in french and modified not in french
    assert "Remote licence not in the portal's registry: other-at" in page(energy["name"], "en")


def test_a_hidden_dataset_is_not_counted_for_those_who_cannot_see_it(app, udata, commune):
    run_job(udata["id"])
    datasets = harvested(commune["id"])
    assert len(datasets) >= 2
    hidden = sorted(datasets.values(), key=lambda d: d["name"])[0]
    tk.get_action("package_patch")(sysadmin_context(), {
        "id": hidden["id"], "access_level": "restricted", "access_hidden": "true"})

    def total(headers: dict) -> int:
        res = app.get("/api/3/action/harvest_source_show_status",
                      query_string={"id": udata["id"]}, headers=headers)
        assert res.status_code == 200, res.get_data(as_text=True)
        return res.get_json()["result"]["total_datasets"]

    token = factories.APIToken(user=factories.Sysadmin()["name"])["token"]
    assert total({"Authorization": token}) == len(datasets)
    assert total({}) == len(datasets) - 1
    shown = app.get("/api/3/action/harvest_source_show", query_string={"id": udata["name"]})
    assert shown.get_json()["result"]["status"]["total_datasets"] == len(datasets) - 1
