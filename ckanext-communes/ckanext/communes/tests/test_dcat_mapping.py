"""The DCAT-AP mappings are configuration: the shipped defaults, the portal's
file merged over them (re-read when it changes), and text stored before the
form offered IRIs is mapped when the RDF is made."""

from __future__ import annotations

import os

import ckan.model as model
import ckan.plugins as plugins
import pytest
from ckan.tests import factories, helpers
from ckanext.communes import dcat_mapping
from rdflib import Graph, Namespace, URIRef
from rdflib.namespace import DCAT, DCTERMS

EU = "http://publications.europa.eu/resource/authority/"
VCARD = Namespace("http://www.w3.org/2006/vcard/ns#")


def test_the_defaults_map_formats_frequencies_and_places():
    mappings = dcat_mapping.current()
    assert mappings.file_type("csv") == EU + "file-type/CSV"
    assert mappings.file_type(" GeoJSON ") == EU + "file-type/GEOJSON"
    assert mappings.media_type("GeoJSON") == (
        "https://www.iana.org/assignments/media-types/application/geo+json")
    assert mappings.media_type("", "text/csv") == (
        "https://www.iana.org/assignments/media-types/text/csv")
    assert mappings.frequency("Annual") == EU + "frequency/ANNUAL"
    assert mappings.frequency("Mensuelle") == EU + "frequency/MONTHLY"
    assert mappings.frequency(EU + "frequency/DAILY") == EU + "frequency/DAILY"
    assert mappings.frequency("every full moon") is None
    assert mappings.place("69266") == "http://id.insee.fr/geo/commune/69266"
    assert mappings.format_name(EU + "file-type/CSV") == "CSV"


def test_the_portal_file_is_merged_over_the_defaults(tmp_path, monkeypatch, ckan_config):
    path = tmp_path / "dcat-ap.yaml"
    path.write_text(
        "formats:\n  CSV: {file_type: http://example.org/csv}\n  TSV: null\n"
        "licences:\n  odbl-1.0: " + EU + "licence/ODC_BL\n"
        "themes:\n  mobilite: " + EU + "data-theme/TRAN\n"
        "places:\n  codes: {'69123': https://sws.geonames.org/2996944/}\n")
    monkeypatch.setitem(ckan_config, "ckanext.communes.dcat.mappings", str(path))
    mappings = dcat_mapping.current()
    assert mappings.file_type("CSV") == "http://example.org/csv"
    assert mappings.file_type("TSV") is None
    assert mappings.file_type("JSON") == EU + "file-type/JSON"  # a default kept
    assert mappings.licence("odbl-1.0") == EU + "licence/ODC_BL"
    assert mappings.licence_id(EU + "licence/ODC_BL") == "odbl-1.0"
    assert mappings.themes_of(["Mobilite", "unknown"]) == [EU + "data-theme/TRAN"]
    assert mappings.place("69123") == "https://sws.geonames.org/2996944/"
    assert mappings.place("69266") == "http://id.insee.fr/geo/commune/69266"

    path.write_text("themes:\n  mobilite: " + EU + "data-theme/ENVI\n")
    os.utime(path, (1, 1))  # another modification time: read again
    assert dcat_mapping.current().themes_of(["mobilite"]) == [EU + "data-theme/ENVI"]


def test_a_malformed_file_names_itself(tmp_path, monkeypatch, ckan_config):
    path = tmp_path / "broken.yaml"
    path.write_text("colours:\n  red: '#f00'\n")
    monkeypatch.setitem(ckan_config, "ckanext.communes.dcat.mappings", str(path))
    with pytest.raises(dcat_mapping.MappingError, match="broken.yaml.*colours"):
        dcat_mapping.current()


@pytest.mark.usefixtures("clean_db", "clean_index")
def test_text_stored_before_the_iris_is_mapped_in_the_rdf(app):
    org = factories.Organization(name="ville-d-exemple", title="Ville d'Exemple",
                                 is_commune="true", insee_code="69266",
                                 contact_email="opendata@ville.example.org")
    dataset = helpers.call_action(
        "package_create", context={"user": factories.Sysadmin()["name"]}, name="ancien",
        title="Ancien jeu", owner_org=org["id"],
        license_id="lo-2.0", frequency="monthly",
        resources=[{"name": "f", "url": "https://example.org/f.csv", "format": "CSV"},
                   {"name": "g", "url": "https://example.org/g.bin", "format": "Mystery"}])
    assert dataset["frequency"] == EU + "frequency/MONTHLY"  # stored as the IRI now
    # A dataset saved before the form offered IRIs still holds the text.
    extra = model.Session.query(model.PackageExtra).filter_by(
        package_id=dataset["id"], key="frequency").one()
    extra.value = "monthly"
    model.Session.commit()

    body = app.get("/dataset/ancien.ttl").get_data(as_text=True)
    g = Graph().parse(data=body, format="turtle")
    node = next(g.subjects(DCTERMS.identifier, None))
    assert set(g.objects(node, DCTERMS.accrualPeriodicity)) == {URIRef(EU + "frequency/MONTHLY")}
    assert URIRef("http://id.insee.fr/geo/commune/69266") in set(g.objects(node, DCTERMS.spatial))
    # No maintainer: the organisation's contact e-mail is the contact point.
    contact = g.value(node, DCAT.contactPoint)
    assert str(g.value(contact, VCARD.fn)) == "Ville d'Exemple"
    assert g.value(contact, VCARD.hasEmail) == URIRef("mailto:opendata@ville.example.org")
    formats = {}
    for distribution in g.objects(node, DCAT.distribution):
        formats[str(g.value(distribution, DCTERMS.title))] = set(
            g.objects(distribution, DCTERMS["format"]))
        assert set(g.objects(distribution, DCTERMS.license)) == {
            URIRef("https://www.etalab.gouv.fr/licence-ouverte-open-licence/")}
    # A format the mappings do not know is left out (a text would break DCAT-AP).
    assert formats == {"f": {URIRef(EU + "file-type/CSV")}, "g": set()}


@pytest.mark.usefixtures("clean_db", "clean_index")
def test_the_form_offers_the_eu_frequencies_and_themes(app):
    publisher = factories.User()
    token = factories.APIToken(user=publisher["name"])["token"]
    factories.Organization(users=[{"name": publisher["name"], "capacity": "admin"}])
    form = app.get("/dataset/new", headers={"Authorization": token}).get_data(as_text=True)
    for code in ("UPDATE_CONT", "DAILY", "MONTHLY", "ANNUAL_2", "ANNUAL", "IRREG"):
        assert f'value="{EU}frequency/{code}"' in form
    for code in ("TRAN", "ENVI", "GOVE", "EDUC", "REGI"):
        assert f'value="{EU}data-theme/{code}"' in form
    assert "Mensuelle" in form and "Transports" in form
    assert 'value="monthly"' not in form


def test_a_missing_mapping_file_stops_the_plugin_at_start(tmp_path, monkeypatch, ckan_config):
    monkeypatch.setitem(ckan_config, "ckanext.communes.dcat.mappings",
                        str(tmp_path / "absent.yaml"))
    with pytest.raises(dcat_mapping.MappingError, match="absent.yaml"):
        plugins.get_plugin("communes").configure(ckan_config)
