"""The registry is CKAN's licence list: license_list, datasets' license_title
and the dataset form, titled in the language of the request."""

from __future__ import annotations

import pytest
from ckan.tests import factories
from ckanext.grandlyon_licence.tests.conftest import api_result, licence_entry

MOBILITES_FR = "Licence Mobilités"
MOBILITES_EN = "Licence Mobilités (mobility data licence)"


def by_id(licences: list[dict]) -> dict[str, dict]:
    return {licence["id"]: licence for licence in licences}


def test_license_list_is_the_registry_in_french_by_default(app):
    licences = app.get("/api/3/action/license_list").get_json()["result"]
    assert [licence["id"] for licence in licences] == ["lo-2.0", "odbl-1.0", "mobilites"]
    mobilites = by_id(licences)["mobilites"]
    assert mobilites["title"] == MOBILITES_FR
    assert mobilites["title_translated"] == {"fr": MOBILITES_FR, "en": MOBILITES_EN}
    assert mobilites["version"] == "1.0"
    assert mobilites["signature_required"] is True
    assert mobilites["od_conformance"] == "not reviewed"
    assert by_id(licences)["lo-2.0"]["od_conformance"] == "approved"


def test_license_list_in_english(app):
    licences = app.get("/en/api/3/action/license_list").get_json()["result"]
    assert by_id(licences)["mobilites"]["title"] == MOBILITES_EN


def test_license_list_follows_the_registry_file(app, registry_copy):
    def add_licence(document):
        extra = dict(licence_entry(document, "odbl-1.0"), id="cc-by-4.0")
        extra["title"] = {"fr": "CC BY 4.0 (fr)", "en": "CC BY 4.0 (en)"}
        document["licences"].append(extra)

    registry_copy(add_licence)
    licences = by_id(app.get("/en/api/3/action/license_list").get_json()["result"])
    assert licences["cc-by-4.0"]["title"] == "CC BY 4.0 (en)"


@pytest.fixture
def publisher(sysadmin):
    return sysadmin


@pytest.mark.usefixtures("clean_index")
def test_a_dataset_shows_its_licence_title_in_the_request_language(app, publisher):
    org = factories.Organization()
    created = api_result(
        app,
        "package_create",
        publisher,
        name="velov-disponibilites",
        title="Disponibilités Vélo'v",
        owner_org=org["id"],
        notes="Disponibilités en temps réel",
        license_id="mobilites",
    )
    assert created["license_title"] == MOBILITES_FR

    shown_fr = app.get(
        "/api/3/action/package_show", query_string={"id": created["name"]}
    ).get_json()
    shown_en = app.get(
        "/en/api/3/action/package_show", query_string={"id": created["name"]}
    ).get_json()
    assert shown_fr["result"]["license_title"] == MOBILITES_FR
    assert shown_en["result"]["license_title"] == MOBILITES_EN
    assert shown_en["result"]["license_url"].startswith("https://wiki.lafabriquedesmobilites.fr/")

    found = app.get(
        "/en/api/3/action/package_search", query_string={"q": "name:velov-disponibilites"}
    )
    assert found.get_json()["result"]["results"][0]["license_title"] == MOBILITES_EN

    page_en = app.get("/en/dataset/velov-disponibilites").get_data(as_text=True)
    page_fr = app.get("/dataset/velov-disponibilites").get_data(as_text=True)
    assert MOBILITES_EN in page_en
    assert MOBILITES_EN not in page_fr and MOBILITES_FR in page_fr


def test_the_dataset_form_offers_the_registry_licences(app, publisher):
    factories.Organization(users=[{"name": publisher.name, "capacity": "admin"}])
    form_fr = app.get("/dataset/new", headers=publisher.headers).get_data(as_text=True)
    form_en = app.get("/en/dataset/new", headers=publisher.headers).get_data(as_text=True)
    for licence_id in ("lo-2.0", "odbl-1.0", "mobilites"):
        assert f'value="{licence_id}"' in form_fr
    assert MOBILITES_EN not in form_fr and MOBILITES_FR in form_fr
    assert MOBILITES_EN in form_en
    assert 'value="cc-by"' not in form_fr  # CKAN's default list is replaced
