"""Harvest source configurations: each harvester knows its keys, refuses any
other (409 naming the key, over the API and on the form), and no key may
take the place of a field of the source (ckanext-harvest copies config keys
over the source's fields when it shows it). A source saved with udata's old
`organization` key still shows its pages and still harvests."""

from __future__ import annotations

import json
from typing import Any

import ckan.model as model
import ckan.plugins.toolkit as tk
import pytest
from ckan.tests import factories
from ckanext.communes.harvesters.ckan import CommunesCKANHarvester
from ckanext.communes.harvesters.opendatasoft import OpenDataSoftHarvester
from ckanext.communes.harvesters.udata import UdataHarvester
from ckanext.harvest.logic.schema import harvest_source_show_package_schema
from ckanext.harvest.model import HarvestSource

from .conftest import FIXTURES, harvested, run_job, sysadmin_context

pytestmark = pytest.mark.ckan_config("ckanext.grandlyon_access.outbound.allow", "127.0.0.1")

HARVESTERS = (OpenDataSoftHarvester, UdataHarvester, CommunesCKANHarvester)


@pytest.fixture
def token():
    return factories.APIToken(user=factories.Sysadmin()["name"])["token"]


def create(app, token, commune, source_type: str, config) -> Any:
    return app.post("/api/3/action/harvest_source_create", headers={"Authorization": token},
                    json={"name": "a-source", "title": "A source",
                          "url": "https://example.org/", "source_type": source_type,
                          "owner_org": commune["id"],
                          "config": config if isinstance(config, str) else json.dumps(config)})


def test_no_config_key_is_a_field_of_the_source():
    fields = set(harvest_source_show_package_schema()) | {
        "organization", "owner_org", "status", "groups", "tags", "resources", "extras",
        "private", "state", "type", "id", "name", "title", "url", "notes", "config"}
    for harvester in HARVESTERS:
        keys = set(harvester().config_keys())
        assert keys and not keys & fields, harvester


NOT_A_SETTING = ("not a setting", "pas un paramètre")


@pytest.mark.parametrize("source_type,config,key,words", [
    ("udata", {"organization": "ville-d-exemple"}, "organization", ("remote_organization",)),
    ("communes_ckan", {"organization": "ville-d-exemple"}, "organization",
     ("remote_organization",)),
    ("opendatasoft", {"title": "Mon titre"}, "title", NOT_A_SETTING),
    ("opendatasoft", {"page_sise": 10}, "page_sise", ("page_size",)),
    ("communes_ckan", {"fq": 3}, "fq", ("string", "chaîne")),
    ("udata", {"remote_organization": "x", "where": "a = 1"}, "where", NOT_A_SETTING),
    ("udata", {"page_size": 2}, "remote_organization", ("must give", "doit indiquer")),
    ("opendatasoft", {"default_licence": "notspecified"}, "default_licence",
     ("not a licence", "pas une licence")),
    ("opendatasoft", {"licences": {"CC BY": {"licence": "lo-2.0", "access_level": "x"}}},
     "licences.CC BY.access_level", ("one of", "l'une")),
])
def test_an_unknown_key_is_refused_naming_it(app, commune, token, source_type, config, key,
                                             words):
    res = create(app, token, commune, source_type, config)
    assert res.status_code == 409
    message = str(res.get_json()["error"]["config"])
    assert key in message and any(word in message for word in words), message


def test_the_form_says_which_key_is_refused_in_french(app, commune, token):
    res = app.post("/harvest/new", headers={"Authorization": token, "Accept-Language": "fr"},
                   data={"name": "a-source", "title": "A source", "url": "https://example.org/",
                         "source_type": "udata", "owner_org": commune["id"],
                         "frequency": "MANUAL", "save": "",
                         "config": '{"organization": "ville-d-exemple"}'})
    body = res.get_data(as_text=True)
    assert res.status_code == 200
    assert "remote_organization" in body and "est devenu" in body


@pytest.fixture
def legacy_udata_source(remote, make_source):
    """A udata source saved before the key was renamed: its config still
    names the remote organisation with `organization`."""
    remote.load(FIXTURES / "udata" / "v1")
    source = make_source("udata", remote.url, {"remote_organization": "ville-d-exemple",
                                                "page_size": 2})
    legacy = json.dumps({"organization": "ville-d-exemple", "page_size": 2})
    HarvestSource.get(source["id"]).config = legacy
    package = model.Package.get(source["id"])
    package.extras = dict(package.extras, config=legacy)
    model.Session.commit()
    from ckan.lib.search import rebuild
    rebuild(source["id"])
    return source


def test_a_legacy_source_harvests_and_its_pages_answer(app, legacy_udata_source, commune,
                                                       token):
    source = legacy_udata_source
    report = run_job(source["id"])
    assert report["gather_errors"] == [] and report["stats"]["added"] == 3
    assert len(harvested(commune["id"])) == 3

    shown = tk.get_action("harvest_source_show")(sysadmin_context(), {"id": source["id"]})
    assert shown["organization"]["id"] == commune["id"]
    for url in ("/harvest/", f"/harvest/{source['name']}", f"/harvest/admin/{source['name']}",
                f"/harvest/edit/{source['name']}", f"/harvest/about/{source['name']}",
                f"/harvest/{source['name']}/job",
                f"/harvest/{source['name']}/job/{report['job']['id']}",
                f"/dataset/?q=name:{source['name']}"):
        res = app.get(url, headers={"Authorization": token, "Accept-Language": "fr"})
        assert res.status_code == 200, url
    # Saving it again asks for the new key.
    with pytest.raises(tk.ValidationError) as error:
        tk.get_action("harvest_source_patch")(sysadmin_context(), {"id": source["id"],
                                                                   "title": "Renamed"})
    assert "remote_organization" in str(error.value.error_dict["config"])
