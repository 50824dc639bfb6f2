"""A commune portal's DCAT-AP catalogue harvested by ckanext-dcat's RDF
harvester (with the suite's `communes_access` profile): a field the
portal's dataset schema would refuse (a `mailto:` distribution, a negative
size, a frequency outside the EU vocabulary, an unknown licence, a temporal
coverage ending before it starts or with a bound that is no date) is left
out with a note, and the rest of the dataset is published."""

from __future__ import annotations

import pytest
from ckan import plugins

from .conftest import harvested, run_job
from .replay import Answer

CATALOGUE = """
@prefix dcat: <http://www.w3.org/ns/dcat#> .
@prefix dct: <http://purl.org/dc/terms/> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
<{{BASE}}/catalogue> a dcat:Catalog ; dct:title "Commune" ;
  dcat:dataset <{{BASE}}/ds/broken>, <{{BASE}}/ds/clean> .
<{{BASE}}/ds/broken> a dcat:Dataset ;
  dct:title "Stationnement" ; dct:description "Places" ; dct:identifier "broken" ;
  dct:accrualPeriodicity <http://publications.europa.eu/resource/authority/frequency/NEVERX> ;
  dct:license <http://unknown.example/licence> ;
  dct:temporal [ a dct:PeriodOfTime ; dcat:startDate "2020-05-01"^^xsd:date ;
                 dcat:endDate "2019-01-01"^^xsd:date ] ;
  dcat:distribution <{{BASE}}/d/mail>, <{{BASE}}/d/csv> .
<{{BASE}}/d/mail> a dcat:Distribution ; dct:title "Write to us" ;
  dcat:accessURL <mailto:someone@example.org> .
<{{BASE}}/d/csv> a dcat:Distribution ; dct:title "Places CSV" ;
  dcat:downloadURL <https://commune.example.org/places.csv> ; dcat:byteSize "-5" .
<{{BASE}}/ds/clean> a dcat:Dataset ;
  dct:title "Parcs" ; dct:description "Parcs" ; dct:identifier "clean" ;
  dct:license <https://www.etalab.gouv.fr/licence-ouverte-open-licence/> ;
  dct:accrualPeriodicity <http://publications.europa.eu/resource/authority/frequency/MONTHLY> ;
  dct:temporal [ a dct:PeriodOfTime ; dcat:startDate "2019-01-01"^^xsd:date ;
                 dcat:endDate "2020-05-01"^^xsd:date ] ;
  dcat:distribution <{{BASE}}/d/parcs> .
<{{BASE}}/d/parcs> a dcat:Distribution ; dct:title "Parcs CSV" ;
  dcat:downloadURL <https://commune.example.org/parcs.csv> ; dcat:byteSize "120" .
"""

TEXT_DATE_CATALOGUE = CATALOGUE.replace(
    '"2019-01-01"^^xsd:date ] ;\n  dcat:distribution <{{BASE}}/d/mail>',
    '"bientôt" ] ;\n  dcat:distribution <{{BASE}}/d/mail>')


@pytest.fixture
def rdf_harvester():
    plugins.load("dcat_rdf_harvester")
    try:
        yield
    finally:
        plugins.unload("dcat_rdf_harvester")


def serve(remote, body: str) -> str:
    remote.routes["/catalogue.ttl"] = Answer(body.encode(), content_type="text/turtle")
    return remote.url + "/catalogue.ttl"


def by_title(datasets: dict) -> dict:
    return {ds["title"]: ds for ds in datasets.values()}


def test_fields_the_schema_refuses_are_left_out_with_a_note(
        app, remote, make_source, commune, rdf_harvester):
    source = make_source("dcat_rdf", serve(remote, CATALOGUE))
    report = run_job(source["id"])
    assert report["object_errors"] == [], report["object_errors"]

    found = by_title(harvested(commune["id"]))
    assert set(found) == {"Stationnement", "Parcs"}
    broken, clean = found["Stationnement"], found["Parcs"]
    assert [r["url"] for r in broken["resources"]] == ["https://commune.example.org/places.csv"]
    assert not broken["resources"][0].get("size")
    assert broken["temporal_start"] == "2020-05-01" and not broken.get("temporal_end")
    assert not broken.get("frequency") and not broken.get("license_id")
    notes = broken["provenance_notes"]
    for part in ("ends (2019-01-01) before it starts (2020-05-01)", "NEVERX",
                 "unknown.example/licence", "\"Write to us\" was left out",
                 "size of the resource \"Places CSV\""):
        assert part in notes, (part, notes)

    # A clean dataset is taken as it is, without a note.
    assert clean["temporal_end"] == "2020-05-01" and clean["license_id"] == "lo-2.0"
    assert clean["frequency"].endswith("/MONTHLY") and clean["resources"][0]["size"] == 120
    assert not clean.get("provenance_notes")

    # The note is shown on the dataset's page in the reader's language.
    page = app.get(f"/dataset/{broken['name']}").get_data(as_text=True)
    assert "se termine (1 janvier 2019) avant de commencer (1 mai 2020)" in page
    page_en = app.get(f"/en/dataset/{broken['name']}").get_data(as_text=True)
    assert "ends (January 1, 2019) before it starts (May 1, 2020)" in page_en


def test_a_bound_that_is_no_date_is_left_out(remote, make_source, commune, rdf_harvester):
    source = make_source("dcat_rdf", serve(remote, TEXT_DATE_CATALOGUE))
    report = run_job(source["id"])
    assert report["object_errors"] == [], report["object_errors"]
    broken = by_title(harvested(commune["id"]))["Stationnement"]
    assert broken["temporal_start"] == "2020-05-01" and not broken.get("temporal_end")
    assert "bound \"bientôt\" is not an ISO 8601 date" in broken["provenance_notes"]
