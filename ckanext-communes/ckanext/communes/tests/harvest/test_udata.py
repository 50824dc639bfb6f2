"""The udata harvester end to end: a replayed data.gouv.fr API v1
organisation (two pages through `next_page`), harvested through Redis."""

from __future__ import annotations

import json

import pytest

from .conftest import FIXTURES, harvested, run_job

# Harvested update frequencies are stored as EU frequency IRIs (DCAT-AP).
FREQUENCY = "http://publications.europa.eu/resource/authority/frequency/"

pytestmark = pytest.mark.ckan_config("ckanext.grandlyon_access.outbound.allow", "127.0.0.1")

CONFIG = {"remote_organization": "ville-d-exemple", "page_size": 2,
          "licences": {"other-at": "mobilites"}}


@pytest.fixture
def udata(remote, make_source):
    remote.load(FIXTURES / "udata" / "v1")
    return make_source("udata", remote.url, CONFIG)


def test_harvest_follows_next_page_and_maps_the_datasets(udata, remote, commune):
    report = run_job(udata["id"])

    assert report["gather_errors"] == [] and report["object_errors"] == []
    assert report["stats"]["added"] == 3
    assert "/api/1/organizations/ville-d-exemple/datasets/?page=2&page_size=2" in remote.requests
    datasets = harvested(commune["id"])
    assert len(datasets) == 3
    assert {d["owner_org"] for d in datasets.values()} == {commune["id"]}

    minutes = datasets["65f0c1d2e3a4b5c6d7e8f901"]
    assert minutes["name"] == "deliberations-du-conseil-municipal"
    assert minutes["title"] == "Délibérations du conseil municipal"
    assert minutes["license_id"] == "lo-2.0"
    assert minutes["access_level"] == "open"
    assert minutes["frequency"] == FREQUENCY + "MONTHLY"
    assert (minutes["temporal_start"], minutes["temporal_end"]) == ("2020-01-01", "2025-02-28")
    assert json.loads(minutes["spatial"])["type"] == "MultiPolygon"
    # No commune of the portal has that INSEE code: the zone's level and code.
    assert minutes["spatial_text"] == "commune 99999"
    assert sorted(t["name"] for t in minutes["tags"]) == ["citoyennete", "conseil-municipal",
                                                         "deliberations"]
    assert minutes["provenance_remote_url"] == \
        "https://www.data.gouv.fr/fr/datasets/deliberations-du-conseil-municipal/"
    assert minutes["provenance_remote_modified"] == "2025-03-05T16:20:00.000000+00:00"
    assert minutes["resources"][0]["url"] == \
        "https://static.data.gouv.fr/resources/deliberations/deliberations.csv"
    assert minutes["resources"][0]["format"] == "CSV"
    assert minutes["provenance_notes"] == ""

    # open_with_account + a licence to sign (mapped by the source) = licensed.
    energy = datasets["65f0c1d2e3a4b5c6d7e8f902"]
    assert (energy["license_id"], energy["access_level"]) == ("mobilites", "licensed")
    births = datasets["65f0c1d2e3a4b5c6d7e8f903"]
    assert (births["license_id"], births["access_level"]) == ("odbl-1.0", "restricted")


def test_open_with_account_without_a_licence_to_sign_is_restricted(remote, make_source,
                                                                    commune):
    remote.load(FIXTURES / "udata" / "v1")
    source = make_source("udata", remote.url, {"remote_organization": "ville-d-exemple",
                                               "page_size": 2, "default_licence": "lo-2.0"})
    run_job(source["id"])

    energy = harvested(commune["id"])["65f0c1d2e3a4b5c6d7e8f902"]
    assert energy["license_id"] == "lo-2.0"  # the source's default for an unknown licence
    assert energy["access_level"] == "restricted"
    assert "other-at" in energy["provenance_notes"]
    assert "restricted" in energy["provenance_notes"] or "restreint" in energy["provenance_notes"]


def test_reharvest_updates_and_withdraws(udata, remote, commune):
    run_job(udata["id"])
    remote.load(FIXTURES / "udata" / "v2")

    report = run_job(udata["id"])

    assert report["stats"] == {"added": 0, "updated": 1, "not modified": 1, "errored": 0,
                               "deleted": 1}
    datasets = harvested(commune["id"])
    assert sorted(datasets) == ["65f0c1d2e3a4b5c6d7e8f901", "65f0c1d2e3a4b5c6d7e8f902"]
    assert datasets["65f0c1d2e3a4b5c6d7e8f902"]["title"].endswith("(2019-2025)")


def test_next_page_on_another_host_is_an_error(udata, remote, commune):
    page = json.loads((FIXTURES / "udata" / "v1" / "datasets-page-1.json").read_text())
    page["next_page"] = "http://169.254.169.254/latest/meta-data/"
    from .replay import Answer

    remote.override["/api/1/organizations/ville-d-exemple/datasets/?page=1&page_size=2"] = \
        Answer(json.dumps(page).encode())

    report = run_job(udata["id"])

    assert len(report["gather_errors"]) == 1
    assert "169.254.169.254" in report["gather_errors"][0]
    assert harvested(commune["id"]) == {}


def test_the_configuration_must_name_the_organisation(make_source, remote):
    import ckan.plugins.toolkit as tk

    with pytest.raises(tk.ValidationError) as error:
        make_source("udata", remote.url, {"page_size": 2})
    assert "config" in error.value.error_dict
    assert "organization" in str(error.value.error_dict["config"])
