"""Source configurations: a bad one is refused with a message naming the key
(HTTP 409 over the API), and the mapping options take effect."""

from __future__ import annotations

import pytest
from ckan.tests import factories

from .conftest import FIXTURES, harvested, run_job

pytestmark = pytest.mark.ckan_config("ckanext.grandlyon_access.outbound.allow", "127.0.0.1")


@pytest.mark.parametrize("source_type,config,key", [
    ("opendatasoft", '{"withdraw": "archive"}', "withdraw"),
    ("opendatasoft", '{"default_access_level": "secret"}', "default_access_level"),
    ("opendatasoft", '{"page_size": 500}', "page_size"),
    ("opendatasoft", '{"licences": ["lo-2.0"]}', "licences"),
    ("opendatasoft", '{"themes": "categories"}', "themes"),
    ("opendatasoft", "{not json", "JSON"),
    ("udata", '{"remote_organization": ""}', "remote_organization"),
    ("communes_ckan", '{"access_levels": {"open": "public"}}', "access_levels"),
])
def test_a_bad_configuration_is_a_409_naming_the_key(app, commune, source_type, config, key):
    sysadmin = factories.Sysadmin()
    token = factories.APIToken(user=sysadmin["name"])["token"]
    res = app.post("/api/3/action/harvest_source_create", headers={"Authorization": token},
                   json={"name": "bad-source", "title": "Bad", "url": "https://example.org/",
                         "source_type": source_type, "owner_org": commune["id"],
                         "config": config})
    assert res.status_code == 409
    error = res.get_json()["error"]
    assert key in str(error["config"])


def test_themes_can_become_groups(remote, make_source, commune):
    factories.Group(name="environnement", title="Environnement")
    remote.load(FIXTURES / "opendatasoft" / "v1")
    source = make_source("opendatasoft", remote.url, {"page_size": 3, "themes": "groups"})

    run_job(source["id"])

    datasets = harvested(commune["id"])
    trees = datasets["arbres-remarquables"]
    assert [g["name"] for g in trees["groups"]] == ["environnement"]
    assert "environnement" not in {t["name"] for t in trees["tags"]}
    # A theme without a group of the portal stays a tag.
    budget = datasets["budget-primitif-2025"]
    assert budget["groups"] == []
    assert "Administration Gouvernement Finances publiques Citoyenneté" in {
        t["name"] for t in budget["tags"]}


def test_an_explicit_licence_map_wins(remote, make_source, commune):
    remote.load(FIXTURES / "opendatasoft" / "v1")
    source = make_source("opendatasoft", remote.url, {
        "page_size": 3, "licences": {"CC BY-SA 4.0 International": "odbl-1.0"}})

    run_job(source["id"])

    sports = harvested(commune["id"])["equipements-sportifs"]
    assert sports["license_id"] == "odbl-1.0" and sports["provenance_notes"] == ""
