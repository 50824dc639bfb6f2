"""A source that fails (timeout, HTTP 500, HTML instead of JSON, malformed
JSON, an answer too large) gives a harvest error report, and the datasets
already harvested stay as they are: a failed gather withdraws nothing."""

from __future__ import annotations

import pytest

from .conftest import FIXTURES, harvested, run_job, source_with_a_broken_record
from .replay import Answer

pytestmark = pytest.mark.ckan_config("ckanext.grandlyon_access.outbound.allow", "127.0.0.1")

PAGE_2 = "/api/explore/v2.1/catalog/datasets?limit=3&offset=3&order_by=dataset_id"
PAGE_1 = "/api/explore/v2.1/catalog/datasets?limit=3&offset=0&order_by=dataset_id"

FAILURES = [
    pytest.param(Answer(b'{"error": "Internal Server Error"}', 500), "HTTP 500", id="http-500"),
    pytest.param(Answer(b"<!DOCTYPE html><html><body>Maintenance</body></html>", 200,
                        "text/html; charset=utf-8"), "HTML", id="html"),
    pytest.param(Answer(b'{"total_count": 5, "results": [{"dataset_id": "arbres"', 200),
                 "not valid JSON", id="malformed-json"),
    pytest.param(Answer(b'{"total_count": 5, "results": [], "padding": "' + b"x" * 60000 + b'"}'),
                 "too large", id="huge",
                 marks=pytest.mark.ckan_config("ckanext.communes.harvest.max_bytes", "30000")),
    pytest.param(Answer(b'{"total_count": 5, "results": []}', delay=3.0), "in time",
                 id="timeout",
                 marks=pytest.mark.ckan_config("ckanext.communes.harvest.timeout", "1")),
    pytest.param(Answer(b'{"total": 5, "datasets": []}'), "not an OpenDataSoft catalogue",
                 id="wrong-shape"),
]


@pytest.fixture
def harvested_once(remote, make_source, commune):
    remote.load(FIXTURES / "opendatasoft" / "v1")
    source = make_source("opendatasoft", remote.url, {"page_size": 3})
    report = run_job(source["id"])
    assert report["stats"]["added"] == 5
    return source


@pytest.mark.parametrize("answer,message", FAILURES)
def test_a_failing_page_records_a_gather_error_and_keeps_the_datasets(
        harvested_once, remote, commune, answer, message):
    before = harvested(commune["id"])
    remote.load(FIXTURES / "opendatasoft" / "v2")  # one dataset gone... but page 2 fails
    remote.override[PAGE_2] = answer

    report = run_job(harvested_once["id"])

    assert report["status"] == "Finished"
    assert len(report["gather_errors"]) == 1, report
    assert message in report["gather_errors"][0]
    assert remote.url in report["gather_errors"][0]
    # ckanext-harvest counts the gather error as one error of the job.
    assert report["stats"] == {"added": 0, "updated": 0, "not modified": 0, "errored": 1,
                               "deleted": 0}
    after = harvested(commune["id"])
    assert sorted(after) == sorted(before)
    for key, dataset in before.items():
        assert after[key]["metadata_modified"] == dataset["metadata_modified"]
        assert after[key]["state"] == "active"


def test_a_failing_first_harvest_creates_nothing(remote, make_source, commune):
    remote.load(FIXTURES / "opendatasoft" / "v1")
    remote.override[PAGE_1] = Answer(b"Bad gateway", 502, "text/plain")
    source = make_source("opendatasoft", remote.url, {"page_size": 3})

    report = run_job(source["id"])

    assert len(report["gather_errors"]) == 1 and "HTTP 502" in report["gather_errors"][0]
    assert harvested(commune["id"]) == {}


def test_the_next_job_after_a_failure_catches_up(harvested_once, remote, commune):
    remote.load(FIXTURES / "opendatasoft" / "v2")
    remote.override[PAGE_2] = Answer(b"oops", 500)
    assert run_job(harvested_once["id"])["gather_errors"]
    remote.override.clear()

    report = run_job(harvested_once["id"])

    assert report["gather_errors"] == []
    assert report["stats"]["updated"] == 1 and report["stats"]["deleted"] == 1
    assert len(harvested(commune["id"])) == 4


def test_licensed_without_a_licence_to_sign_falls_back_to_restricted(remote, make_source,
                                                                    commune):
    remote.load(FIXTURES / "opendatasoft" / "v1")
    source = make_source("opendatasoft", remote.url, {
        "page_size": 3, "access_levels": {"restricted": "licensed"}})

    report = run_job(source["id"])

    assert report["stats"]["added"] == 5
    assert harvested(commune["id"])["stationnement-residents"]["access_level"] == "restricted"


def test_a_dataset_the_portal_refuses_is_an_object_error(remote, make_source, commune):
    """An import that fails (here: a record of the wrong shape) is recorded
    for that dataset, with a link to its remote page; the others are imported."""
    source = source_with_a_broken_record(remote, make_source)

    report = run_job(source["id"])

    assert report["gather_errors"] == []
    assert report["stats"]["added"] == 4 and report["stats"]["errored"] == 1
    assert len(report["object_errors"]) == 1
    assert report["object_errors"][0].startswith("qualite-air-capteurs: ")
    assert report["original_urls"] == [f"{remote.url}/explore/dataset/qualite-air-capteurs/"]
    assert "qualite-air-capteurs" not in harvested(commune["id"])


def test_a_queued_harvest_survives_a_redis_restart(remote, make_source, commune):
    """Redis restarts (the real server, `./portal service restart redis`)
    while a job waits on the gather queue: the job is still there afterwards
    and the harvest completes."""
    import os
    import subprocess

    from .test_opendatasoft import CONFIG

    remote.load(FIXTURES / "opendatasoft" / "v1")
    source = make_source("opendatasoft", remote.url, CONFIG)
    portal = os.path.join(os.path.dirname(__file__), *[".."] * 5, "portal")

    def restart_redis() -> None:
        subprocess.run([portal, "service", "restart", "redis"], check=True, env=os.environ,
                       stdout=subprocess.DEVNULL)

    report = run_job(source["id"], once_queued=restart_redis)
    assert report["gather_errors"] == [] and report["object_errors"] == []
    assert len(harvested(commune["id"])) == 5
