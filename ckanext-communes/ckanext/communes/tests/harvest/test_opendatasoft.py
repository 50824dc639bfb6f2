"""The OpenDataSoft harvester end to end: a replayed Explore API v2.1
catalogue (two pages), harvested through Redis into the commune's
organisation; then a second recording where one dataset changed and one
disappeared."""

from __future__ import annotations

import json
from html import unescape

import ckan.plugins.toolkit as tk
import pytest
from ckan.tests import factories

from .conftest import FIXTURES, harvested, run_job, sysadmin_context

pytestmark = pytest.mark.ckan_config("ckanext.grandlyon_access.outbound.allow", "127.0.0.1")

CONFIG = {"page_size": 3}


@pytest.fixture
def ods(remote, make_source):
    remote.load(FIXTURES / "opendatasoft" / "v1")
    return make_source("opendatasoft", remote.url, CONFIG)


def test_first_harvest_reads_both_pages_and_creates_every_dataset(ods, remote, commune):
    report = run_job(ods["id"])

    assert report["status"] == "Finished"
    assert report["gather_errors"] == [] and report["object_errors"] == []
    assert report["stats"]["added"] == 5
    catalogue = "/api/explore/v2.1/catalog/datasets?limit=3&order_by=dataset_id"
    assert catalogue.replace("&", "&offset=0&", 1) in remote.requests
    assert catalogue.replace("&", "&offset=3&", 1) in remote.requests
    datasets = harvested(commune["id"])
    assert sorted(datasets) == ["arbres-remarquables", "budget-primitif-2025",
                                "equipements-sportifs", "qualite-air-capteurs",
                                "stationnement-residents"]
    assert {d["owner_org"] for d in datasets.values()} == {commune["id"]}


def test_metadata_is_mapped_onto_the_portal(ods, remote, commune):
    run_job(ods["id"])
    datasets = harvested(commune["id"])

    trees = datasets["arbres-remarquables"]
    assert trees["name"] == "arbres-remarquables"
    assert trees["title"] == "Arbres remarquables"
    assert "arbres remarquables" in trees["notes"] and "<b>" not in trees["notes"]
    assert trees["license_id"] == "lo-2.0"
    assert trees["access_level"] == "open"
    # Keywords and themes as the remote portal writes them.
    assert sorted(t["name"] for t in trees["tags"]) == ["Environnement", "arbres",
                                                        "patrimoine naturel"]
    assert trees["spatial_text"] == "Ville d'Exemple"
    assert json.loads(trees["spatial"])["type"] == "Polygon"
    assert trees["provenance_remote_modified"] == "2025-03-01T10:00:00+00:00"
    assert trees["provenance_source_url"] == remote.url
    assert trees["provenance_remote_url"] == f"{remote.url}/explore/dataset/arbres-remarquables/"
    assert trees["provenance_harvested"]
    assert trees["author"] == "Ville d'Exemple"
    urls = {r["format"]: r["url"] for r in trees["resources"]}
    api = f"{remote.url}/api/explore/v2.1/catalog/datasets/arbres-remarquables"
    assert urls["CSV"] == f"{api}/exports/csv"
    assert urls["GeoJSON"] == f"{api}/exports/geojson"
    assert urls["JSON"] == f"{api}/exports/json"
    assert urls["PDF"] == f"{api}/attachments/fiche_methodologique_pdf"

    budget = datasets["budget-primitif-2025"]
    assert budget["license_id"] == "odbl-1.0"
    assert {r["format"] for r in budget["resources"]} == {"CSV", "JSON"}  # not geographic
    assert "spatial" not in budget or not budget["spatial"]

    # A licence the registry does not hold: no licence of the portal (its
    # default, notspecified, is not in the registry), restricted data, its
    # remote title kept, and a note.
    sports = datasets["equipements-sportifs"]
    assert (sports["license_id"], sports["access_level"]) == ("", "restricted")
    assert sports["provenance_remote_licence"] == "CC BY-SA 4.0 International"
    assert "CC BY-SA 4.0 International" in sports["provenance_notes"]

    # An ODS dataset reserved to the remote portal's users is restricted here.
    assert datasets["stationnement-residents"]["access_level"] == "restricted"
    # A bbox list becomes a polygon; a licence named by its title is found.
    air = datasets["qualite-air-capteurs"]
    assert json.loads(air["spatial"])["coordinates"][0][0] == [4.85, 45.74]
    assert air["license_id"] == "lo-2.0"


def test_reharvest_updates_changed_skips_unchanged_and_withdraws_removed(ods, remote, commune):
    run_job(ods["id"])
    before = harvested(commune["id"])
    remote.load(FIXTURES / "opendatasoft" / "v2")

    report = run_job(ods["id"])

    assert report["gather_errors"] == [] and report["object_errors"] == []
    assert report["stats"] == {"added": 0, "updated": 1, "not modified": 3, "errored": 0,
                               "deleted": 1}
    after = harvested(commune["id"])
    assert sorted(after) == ["arbres-remarquables", "budget-primitif-2025",
                             "equipements-sportifs", "stationnement-residents"]
    trees = after["arbres-remarquables"]
    assert trees["id"] == before["arbres-remarquables"]["id"]
    assert trees["name"] == "arbres-remarquables"  # the name stays
    assert trees["title"] == "Arbres remarquables et alignements"
    assert "alignements" in {t["name"] for t in trees["tags"]}
    # Unchanged datasets were not rewritten.
    for key in ("budget-primitif-2025", "equipements-sportifs"):
        assert after[key]["metadata_modified"] == before[key]["metadata_modified"]
    gone = harvested(commune["id"], include_deleted=True)["qualite-air-capteurs"]
    assert gone["state"] == "deleted"

    # A third run with nothing new changes nothing.
    report = run_job(ods["id"])
    assert report["stats"] == {"added": 0, "updated": 0, "not modified": 4, "errored": 0,
                               "deleted": 0}


def test_keep_leaves_a_removed_dataset_with_a_note(remote, make_source, commune):
    remote.load(FIXTURES / "opendatasoft" / "v1")
    source = make_source("opendatasoft", remote.url, dict(CONFIG, withdraw="keep"))
    run_job(source["id"])
    remote.load(FIXTURES / "opendatasoft" / "v2")

    report = run_job(source["id"])

    assert report["stats"]["deleted"] == 1
    kept = harvested(commune["id"])["qualite-air-capteurs"]
    assert kept["state"] == "active"
    assert "Withdrawn" in kept["provenance_withdrawn"] or "Retiré" in kept["provenance_withdrawn"]
    # The next run does not withdraw it again; if it comes back, the same
    # dataset is updated.
    assert run_job(source["id"])["stats"]["deleted"] == 0
    remote.load(FIXTURES / "opendatasoft" / "v1")
    report = run_job(source["id"])
    assert report["stats"]["added"] == 0
    back = harvested(commune["id"])["qualite-air-capteurs"]
    assert back["id"] == kept["id"] and back["provenance_withdrawn"] == ""


def test_provenance_is_shown_on_the_dataset_page(ods, remote, commune, app):
    run_job(ods["id"])

    page = app.get("/dataset/equipements-sportifs", headers={"Accept-Language": "fr"})

    assert page.status_code == 200
    html = unescape(page.get_data(as_text=True))
    for label in ("Moissonné depuis", "Page sur le portail d'origine", "Moissonné le",
                  "Modifié sur le portail d'origine", "Notes de moissonnage"):
        assert label in html, label
    assert "Portail de la Ville d'Exemple" in html
    assert f"{remote.url}/explore/dataset/equipements-sportifs/" in html
    # Dates as the portal shows them, notes in the reader's language, the
    # remote licence's title, no "Licence notspecified".
    assert "20 novembre 2024" in html and "2024-11-20T14:00:00+00:00" not in html
    assert "Licence sur le portail d'origine" in html
    assert "CC BY-SA 4.0 International" in html
    assert "Licence distante absente du registre du portail" in html
    assert "Remote licence" not in html and "notspecified" not in html


def test_harvested_coverage_is_found_by_spatial_search(ods, commune):
    import ckan.plugins.toolkit as tk

    run_job(ods["id"])

    def found(bbox: str) -> set[str]:
        result = tk.get_action("package_search")({"ignore_auth": True}, {
            "extras": {"ext_bbox": bbox}, "rows": 50})
        return {d["name"] for d in result["results"]}

    assert found("4.80,45.70,5.00,45.85") == {"arbres-remarquables", "equipements-sportifs",
                                             "qualite-air-capteurs"}
    assert found("2.20,48.80,2.40,48.90") == set()


def test_a_dataset_deleted_on_the_portal_is_not_published_again(ods, remote, commune):
    """A publisher deletes a harvested dataset here: the next jobs leave it
    deleted and say why in the job report; restored by hand, it is updated
    again; purged, it is harvested anew."""
    run_job(ods["id"])
    trees = harvested(commune["id"])["arbres-remarquables"]
    tk.get_action("package_delete")(sysadmin_context(), {"id": trees["id"]})

    report = run_job(ods["id"])
    assert report["gather_errors"] == [] and report["object_errors"] == []
    assert "arbres-remarquables" not in harvested(commune["id"])
    assert any(note.startswith("arbres-remarquables: Deleted on this portal")
               for note in report["notes"]), report["notes"]
    assert report["stats"]["added"] == 0 and report["stats"]["updated"] == 0

    tk.get_action("package_patch")(sysadmin_context(), {"id": trees["id"], "state": "active"})
    run_job(ods["id"])
    assert harvested(commune["id"])["arbres-remarquables"]["id"] == trees["id"]

    tk.get_action("package_delete")(sysadmin_context(), {"id": trees["id"]})
    tk.get_action("dataset_purge")(sysadmin_context(), {"id": trees["id"]})
    report = run_job(ods["id"])
    assert report["stats"]["added"] == 1, report
    again = harvested(commune["id"])["arbres-remarquables"]
    assert again["id"] != trees["id"] and again["state"] == "active"


def test_a_source_given_to_another_organisation_moves_its_datasets(ods, remote, commune):
    """The source's owner is the datasets' owner: a source moved to another
    organisation moves its datasets at the next job, changed or not."""
    run_job(ods["id"])
    other = factories.Organization(name="autre-commune")
    tk.get_action("harvest_source_patch")(sysadmin_context(), {"id": ods["id"],
                                                               "owner_org": other["id"]})
    report = run_job(ods["id"])
    assert report["gather_errors"] == [] and report["object_errors"] == []
    assert harvested(commune["id"]) == {}
    assert len(harvested(other["id"])) == 5


def test_harvested_changes_are_in_the_activity_stream(ods, remote, commune):
    """A harvested dataset's creation, change and withdrawal are activities
    of the harvest user. (That user is CKAN's site user unless a sysadmin
    named `harvest` exists or ckanext.harvest.user_name names one; CKAN
    hides the site user's activities from the public stream, see the
    README's harvest section.)"""
    run_job(ods["id"])
    trees = harvested(commune["id"])["arbres-remarquables"]
    air = harvested(commune["id"])["qualite-air-capteurs"]
    remote.load(FIXTURES / "opendatasoft" / "v2")
    run_job(ods["id"])

    def kinds(package_id):
        return [a["activity_type"] for a in tk.get_action("package_activity_list")(
            sysadmin_context(), {"id": package_id, "include_hidden_activity": True})]

    assert kinds(trees["id"]) == ["changed package", "new package"]
    assert kinds(air["id"]) == ["deleted package", "new package"]
