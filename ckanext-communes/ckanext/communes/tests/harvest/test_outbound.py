"""Harvest sources go through the portal's outbound guard: loopback, private
and link-local addresses are refused unless allowed, before any request."""

from __future__ import annotations

import pytest

from .conftest import FIXTURES, harvested, run_job


@pytest.mark.parametrize("source_type", ["opendatasoft", "udata"])
def test_a_source_on_loopback_is_refused_by_default(remote, make_source, commune, source_type):
    remote.load(FIXTURES / "opendatasoft" / "v1")
    source = make_source(source_type, remote.url, {"organization": "x"}
                         if source_type == "udata" else {})

    report = run_job(source["id"])

    assert len(report["gather_errors"]) == 1
    assert "private or local network" in report["gather_errors"][0] \
        or "réseau privé" in report["gather_errors"][0]
    assert remote.requests == []  # refused before connecting
    assert harvested(commune["id"]) == {}


@pytest.mark.parametrize("url", ["http://169.254.169.254/", "http://10.0.0.7/",
                                 "http://[::1]:8080/", "file:///etc/passwd"])
def test_link_local_and_private_sources_are_refused(make_source, commune, url):
    source = make_source("opendatasoft", url, {})

    report = run_job(source["id"])

    assert len(report["gather_errors"]) == 1
    assert harvested(commune["id"]) == {}


@pytest.mark.ckan_config("ckanext.grandlyon_access.outbound.allow", "127.0.0.1")
def test_allowed_loopback_is_harvested(remote, make_source, commune):
    remote.load(FIXTURES / "opendatasoft" / "v1")
    source = make_source("opendatasoft", remote.url, {"page_size": 3})

    assert run_job(source["id"])["stats"]["added"] == 5
