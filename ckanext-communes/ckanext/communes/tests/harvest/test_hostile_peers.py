"""Commune portals that misbehave (peers.py): whatever the peer does, nothing
already published is lost or changed, no dataset is duplicated, and the job
report says what happened, what was kept and what to do.

Each test harvests a catalogue of 10 datasets (pages of 4) once, then runs a
second job against the misbehaving peer."""

from __future__ import annotations

import pytest

from .conftest import harvested, run_job
from .peers import CONFIGS, Peer

pytestmark = pytest.mark.ckan_config("ckanext.grandlyon_access.outbound.allow", "127.0.0.1")

KINDS = ["opendatasoft", "udata", "communes_ckan"]


@pytest.fixture(params=KINDS)
def kind(request) -> str:
    return request.param


@pytest.fixture
def peer(remote, kind) -> Peer:
    return Peer(remote, kind, count=10)


@pytest.fixture
def harvested_once(peer, kind, make_source, commune):
    """The peer's 10 datasets harvested by a well-behaved first job."""
    source = make_source(kind, peer.server.url, CONFIGS[kind])
    report = run_job(source["id"])
    assert report["stats"]["added"] == 10, report
    return source


def assert_nothing_changed(before: dict, org_id: str) -> None:
    after = harvested(org_id, include_deleted=True)
    assert sorted(after) == sorted(before)
    for key, dataset in before.items():
        assert after[key]["state"] == "active", key
        assert after[key]["metadata_modified"] == dataset["metadata_modified"], key


@pytest.mark.parametrize("mode", ["ignore_offset", "repeat_page"])
def test_a_catalogue_that_ignores_paging_withdraws_nothing(harvested_once, peer, commune, mode):
    before = harvested(commune["id"])
    peer.mode = mode

    report = run_job(harvested_once["id"])

    assert_nothing_changed(before, commune["id"])
    assert report["stats"]["deleted"] == 0
    assert len(report["gather_errors"]) == 1, report
    message = report["gather_errors"][0]
    assert "Nothing was imported or withdrawn" in message
    assert "10 datasets" in message
