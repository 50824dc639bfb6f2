"""Harvest sources go through the portal's outbound guard: loopback, private
and link-local addresses are refused unless allowed, before any request."""

from __future__ import annotations

import ckan.plugins.toolkit as tk
import pytest

from .conftest import FIXTURES, harvested, run_job


@pytest.fixture
def saved_while_allowed(make_source, ckan_config, monkeypatch):
    """A source saved while its address was allowed (the allow-list changed
    since, or the host now resolves elsewhere): the gather checks again."""
    def make(*args, **kwargs):
        key = "ckanext.grandlyon_access.outbound.allow"
        monkeypatch.setitem(ckan_config, key, ["127.0.0.1", "169.254.169.254", "10.0.0.7", "::1"])
        source = make_source(*args, **kwargs)
        monkeypatch.setitem(ckan_config, key, [])
        return source
    return make


@pytest.mark.parametrize("source_type", ["opendatasoft", "udata"])
def test_a_source_on_loopback_is_refused_by_default(remote, saved_while_allowed, commune,
                                                    source_type):
    remote.load(FIXTURES / "opendatasoft" / "v1")
    source = saved_while_allowed(source_type, remote.url, {"remote_organization": "x"}
                                 if source_type == "udata" else {})

    report = run_job(source["id"])

    assert len(report["gather_errors"]) == 1
    assert "private or local network" in report["gather_errors"][0] \
        or "réseau privé" in report["gather_errors"][0]
    assert remote.requests == []  # refused before connecting
    assert harvested(commune["id"]) == {}


@pytest.mark.parametrize("url", ["http://169.254.169.254/", "http://10.0.0.7/",
                                 "http://[::1]:8080/"])
def test_link_local_and_private_sources_are_refused(saved_while_allowed, commune, url):
    source = saved_while_allowed("opendatasoft", url, {})

    report = run_job(source["id"])

    assert len(report["gather_errors"]) == 1
    assert harvested(commune["id"]) == {}


@pytest.mark.ckan_config("ckanext.grandlyon_access.outbound.allow", "127.0.0.1")
def test_allowed_loopback_is_harvested(remote, make_source, commune):
    remote.load(FIXTURES / "opendatasoft" / "v1")
    source = make_source("opendatasoft", remote.url, {"page_size": 3})

    assert run_job(source["id"])["stats"]["added"] == 5


@pytest.mark.parametrize("source_type,refused", [
    ("opendatasoft", "http://169.254.169.254/latest/"), ("udata", "http://127.0.0.1:8080/"),
    ("communes_ckan", "file:///etc/passwd")])
def test_saving_a_source_on_a_refused_address_is_a_409_on_url(app, commune, source_type,
                                                               refused):
    from ckan.tests import factories

    token = factories.APIToken(user=factories.Sysadmin()["name"])["token"]
    source = {"name": "metadata-service", "title": "Cloud metadata", "source_type": source_type,
              "url": refused, "owner_org": commune["id"],
              "config": "{}" if source_type == "opendatasoft"
              else '{"remote_organization": "x"}'}
    res = app.post("/api/3/action/harvest_source_create", headers={"Authorization": token},
                   json=source)
    assert res.status_code == 409
    assert "url" in res.get_json()["error"]

    res = app.post("/api/3/action/harvest_source_create", headers={"Authorization": token},
                   json=dict(source, url="https://data.example.org/"))
    assert res.status_code == 200, res.get_json()
    res = app.post("/api/3/action/harvest_source_update", headers={"Authorization": token},
                   json=dict(source, id=res.get_json()["result"]["id"], url="http://10.1.2.3/"))
    assert res.status_code == 409 and "url" in res.get_json()["error"]


def test_ckanext_harvests_own_ckan_harvester_is_not_offered(app, make_source, commune):
    """ckanext-harvest's `ckan` harvester fetches without the outbound guard
    (a source on 169.254.169.254 was saved and fetched): the portal offers
    its own `communes_ckan` instead."""
    with pytest.raises(tk.ValidationError) as refused:
        make_source("ckan", "http://169.254.169.254/latest")
    assert "source_type" in refused.value.error_dict
    with pytest.raises(tk.ValidationError) as guarded:
        make_source("communes_ckan", "http://169.254.169.254/latest")
    assert "url" in guarded.value.error_dict
