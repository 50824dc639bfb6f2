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
from ckanext.communes.helpers import communes_harvest_message
from ckanext.harvest.model import HarvestObject
from flask_babel import force_locale

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


# --- only http(s) and ftp resources are imported (finding 2) -----------------------------

@pytest.mark.parametrize("url", ["javascript:alert(1)", "data:text/csv,a,b", "file:///etc/passwd",
                                 "gopher://example.org/x.csv"])
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


# --- a record of an unexpected shape changes nothing (finding 3) ----------------------------

def assert_kept(before: dict, after: dict) -> None:
    assert after["state"] == "active"
    assert after["metadata_modified"] == before["metadata_modified"]
    assert after["title"] == before["title"] and after["notes"] == before["notes"]
    assert after["tags"] == before["tags"] and after["resources"] == before["resources"]


@pytest.mark.parametrize("field,value,expected", [
    ("title", None, "a non-empty string"),
    ("title", "  ", "a non-empty string"),
    ("title", {"fr": "Titre"}, "a non-empty string"),
    ("resources", {"a": {"url": "https://example.org/a.csv"}}, "a list of objects"),
    ("resources", ["https://example.org/a.csv"], "a list of objects"),
    ("tags", "a,b", "a list of strings"),
    ("tags", [{"name": "a"}], "a list of strings"),
    ("spatial", "fr:commune:99999", "an object"),
])
def test_a_malformed_udata_record_keeps_the_published_dataset(udata, remote, commune, field,
                                                             value, expected):
    run_job(udata["id"])
    before = harvested(commune["id"])[MINUTES]
    udata_first_page(remote, lambda record: record.update({field: value}))

    report = run_job(udata["id"])

    assert report["object_errors"] == [
        f'{MINUTES}: Dataset {MINUTES} not imported: the remote record\'s "{field}" must be '
        f'{expected}; the published version is kept unchanged'], report
    assert_kept(before, harvested(commune["id"])[MINUTES])
    assert report["stats"]["deleted"] == 0


def ods_one_page(change: Callable[[str, dict], None]) -> bytes:
    results = []
    for name in ("catalog-offset-0.json", "catalog-offset-3.json"):
        results += json.loads((FIXTURES / "opendatasoft" / "v1" / name).read_text())["results"]
    for record in results:
        change(record["dataset_id"], record)
    return json.dumps({"total_count": len(results), "results": results}).encode()


@pytest.mark.parametrize("field,value,expected", [
    ("metas.default", None, "an object"),  # "metas": {"default": null}
    ("metas", None, "an object"),
    ("metas.default.title", None, "a non-empty string"),
    ("metas.default.keyword", {"a": "b"}, "a string or a list of strings"),
    ("metas.default.territory", [{"a": 1}], "a string or a list of strings"),
    ("attachments", {"id": "x"}, "a list of objects"),
])
def test_a_malformed_ods_record_keeps_the_published_dataset(remote, make_source, commune, field,
                                                           value, expected):
    remote.load(FIXTURES / "opendatasoft" / "v1")
    remote.override["*"] = Answer(ods_one_page(lambda key, record: None))
    source = make_source("opendatasoft", remote.url, {"page_size": 10})
    run_job(source["id"])
    before = harvested(commune["id"])["arbres-remarquables"]

    def change(key, record):
        if key == "arbres-remarquables":
            *path, last = field.split(".")
            target = record
            for step in path:
                target = target[step]
            target[last] = value
    remote.override["*"] = Answer(ods_one_page(change))

    report = run_job(source["id"])

    assert report["object_errors"] == [
        f'arbres-remarquables: Dataset arbres-remarquables not imported: the remote record\'s '
        f'"{field}" must be {expected}; the published version is kept unchanged'], report
    assert_kept(before, harvested(commune["id"])["arbres-remarquables"])


def test_the_shape_error_reads_in_french(app):
    from ckanext.communes.helpers import communes_harvest_message
    recorded = ('Dataset x not imported: the remote record\'s "tags" must be a list of strings; '
                'the published version is kept unchanged')
    with app.flask_app.test_request_context(environ_overrides={"CKAN_LANG": "fr"}):
        assert communes_harvest_message(recorded) == (
            "Jeu de données x non importé : le champ « tags » de l'enregistrement distant doit "
            "être une liste de chaînes ; la version publiée est conservée telle quelle")


# --- remote CKAN: state, organisation and access level (finding 3) --------------------------

def test_remote_ckan_packages_deleted_foreign_or_of_unknown_access(remote, make_source, commune):
    from .peers import CONFIGS, Peer
    peer = Peer(remote, "communes_ckan", count=6)
    made = peer.record

    def record(key):
        pkg = made(key)
        number = peer.keys.index(key)
        if number == 0:
            pkg["state"] = "deleted"
        elif number == 1:
            pkg["state"] = "draft"
        elif number == 2:
            pkg["organization"] = {"name": "une-autre-commune", "title": "Une autre commune"}
        elif number == 3:
            pkg["access_level"] = "public"
        elif number == 4:
            pkg["access_level"] = "restricted"
        return pkg
    peer.record = record
    source = make_source("communes_ckan", remote.url, dict(
        CONFIGS["communes_ckan"], default_access_level="restricted"))

    report = run_job(source["id"])

    assert report["gather_errors"] == [] and report["object_errors"] == []
    datasets = harvested(commune["id"], include_deleted=True)
    assert sorted(datasets) == peer.keys[3:]
    unknown = datasets[peer.keys[3]]
    assert unknown["access_level"] == "restricted"
    assert ('The remote access level "public" is unknown to the harvester; the source\'s '
            'default access level "restricted" applies') in unknown["provenance_notes"]
    assert datasets[peer.keys[4]]["access_level"] == "restricted"
    assert "unknown to the harvester" not in datasets[peer.keys[5]]["provenance_notes"]


# --- catalogue entries without an id (finding 7) --------------------------------------------

def test_a_udata_entry_without_id_is_skipped_and_nothing_is_withdrawn(udata, remote, commune):
    run_job(udata["id"])
    before = harvested(commune["id"])
    udata_first_page(remote, lambda record: record.pop("id"))

    report = run_job(udata["id"])

    assert report["stats"]["deleted"] == 0 and report["object_errors"] == []
    assert len(report["gather_errors"]) == 1
    message = report["gather_errors"][0]
    assert "1 entries of the remote catalogue have no id; they were not imported." in message
    assert "Nothing was withdrawn" in message
    after = harvested(commune["id"])
    assert sorted(after) == sorted(before)
    assert after[MINUTES]["metadata_modified"] == before[MINUTES]["metadata_modified"]


def test_an_ods_entry_without_dataset_id_does_not_stop_the_others(remote, make_source,
                                                                 commune):
    remote.load(FIXTURES / "opendatasoft" / "v1")
    remote.override["*"] = Answer(ods_one_page(
        lambda key, record: record.pop("dataset_id") if key == "arbres-remarquables" else None))
    source = make_source("opendatasoft", remote.url, {"page_size": 10})

    report = run_job(source["id"])

    assert report["stats"]["added"] == 4
    assert "arbres-remarquables" not in harvested(commune["id"])
    assert "1 entries of the remote catalogue have no id" in report["gather_errors"][0]


def test_the_portal_s_own_validation_messages_are_shown_in_french(app):
    """An import refused by the portal's schema records CKAN's (English)
    messages field by field; the French job page shows each in French."""
    recorded = "Dataset x not imported: name: Missing value; tags: That URL is already in use."
    with app.flask_app.test_request_context("/"), force_locale("fr"):
        shown = communes_harvest_message(recorded)
    assert shown.startswith("Jeu de données x non importé"), shown
    assert "name: Valeur manquante" in shown and "tags: Cette URL est déjà utilisée." in shown
