"""Commune portals that misbehave (peers.py): whatever the peer does, nothing
already published is lost or changed, no dataset is duplicated, and the job
report says what happened, what was kept and what to do, in English (as
recorded) and in French (the job page).

Each test harvests a catalogue of 6 datasets (pages of 4) once, then runs a
second job against the misbehaving peer."""

from __future__ import annotations

import email.utils
import json

import ckan.model as model
import ckan.plugins.toolkit as tk
import pytest
from ckan.tests import factories
from ckanext.communes.harvesters.base import retry_delay, withdrawal_limit
from ckanext.communes.helpers import communes_harvest_message

from .conftest import harvested, run_job, sysadmin_context
from .peers import CONFIGS, Peer

pytestmark = [
    pytest.mark.ckan_config("ckanext.grandlyon_access.outbound.allow", "127.0.0.1"),
    pytest.mark.ckan_config("ckanext.communes.harvest.max_wait", "1"),
    pytest.mark.ckan_config("ckanext.communes.harvest.deadline", "1"),
    pytest.mark.ckan_config("ckanext.communes.harvest.max_bytes", "1000000"),
]

COUNT = 6
BOTH = ["opendatasoft", "udata"]
ALL = ["opendatasoft", "udata", "communes_ckan"]


@pytest.fixture
def kind(request) -> str:
    return request.param


@pytest.fixture
def peer(remote, kind) -> Peer:
    return Peer(remote, kind, count=COUNT)


@pytest.fixture
def harvested_once(peer, kind, make_source, commune):
    """The peer's datasets harvested by a first job while it behaved."""
    source = make_source(kind, peer.server.url, CONFIGS[kind])
    report = run_job(source["id"])
    assert report["stats"]["added"] == COUNT, report
    return source


def assert_nothing_changed(before: dict, org_id: str) -> None:
    """Every dataset still there, active and not rewritten; no other one (no
    duplicate of a remote dataset either)."""
    after = harvested(org_id, include_deleted=True)
    assert sorted(after) == sorted(before)
    assert model.Session.query(model.Package).filter_by(
        owner_org=org_id, type="dataset").count() == len(before)
    for key, dataset in before.items():
        assert after[key]["state"] == "active", key
        assert after[key]["metadata_modified"] == dataset["metadata_modified"], key


def failed_job(source: dict, commune: dict) -> str:
    """Runs a job against the misbehaving peer; asserts that it changed
    nothing and recorded one gather error, which it returns."""
    before = harvested(commune["id"])
    report = run_job(source["id"])
    assert_nothing_changed(before, commune["id"])
    assert report["stats"]["added"] == 0 and report["stats"]["deleted"] == 0
    assert len(report["gather_errors"]) == 1, report
    return report["gather_errors"][0]


# --- listings that cannot be verified (defect 1) -------------------------------------------

LISTING_MODES = {
    "ignore_offset": "seems to ignore the page asked",
    "repeat_page": "seems to ignore the page asked",
    "reorder": "pages repeated, reordered or changed",
    "duplicates": "pages repeated, reordered or changed",
    "insert_while_paged": f"counted {COUNT} datasets, then {COUNT + 1}",
    "remove_while_paged": f"counted {COUNT} datasets, then {COUNT - 1}",
}


@pytest.mark.parametrize("kind", ALL, indirect=True)
@pytest.mark.parametrize("mode", list(LISTING_MODES))
def test_an_unverifiable_listing_imports_and_withdraws_nothing(harvested_once, peer, commune,
                                                              mode):
    peer.mode = mode

    message = failed_job(harvested_once, commune)

    assert LISTING_MODES[mode] in message
    assert f"Nothing was imported or withdrawn: the {COUNT} datasets already harvested " \
           "from this source are kept as they are." in message
    assert "Nothing is withdrawn until a complete listing is read." in message


@pytest.mark.parametrize("kind", ["opendatasoft", "communes_ckan"], indirect=True)
def test_a_total_too_low_on_every_page_withdraws_nothing(harvested_once, peer, commune):
    """Found by an outside probe: a catalogue announcing 4 datasets on each
    page, whose pages (of 4) listed 6, was taken as verified and 2 datasets
    were withdrawn. A full last page makes the harvester read the next one."""
    peer.mode = "low_total"

    message = failed_job(harvested_once, commune)

    assert f"counts {COUNT - 2} datasets but lists more after them" in message


@pytest.mark.parametrize("kind", ["opendatasoft", "communes_ckan"], indirect=True)
def test_a_page_past_the_end_that_is_no_page_is_no_more_datasets(remote, kind, make_source,
                                                                  commune):
    """A catalogue of exactly one full page makes the harvester read the page
    after it; an OpenDataSoft portal answering a JSON array there crashed the
    gather (a list has no "results"). It lists nothing more."""
    peer = Peer(remote, kind, count=4)
    peer.mode = "list_beyond"
    source = make_source(kind, peer.server.url, CONFIGS[kind])

    report = run_job(source["id"])

    assert report["gather_errors"] == [] and report["stats"]["added"] == 4, report
    assert any(("offset=4" in r or "start=4" in r) for r in remote.requests)


def test_a_percentage_withdraws_no_more_than_it_says():
    """20% of 6 datasets is 1 (it was rounded up to 2: 33%); a percentage
    allows one dataset at least."""
    assert withdrawal_limit({"max_withdraw": "20%"}, 6)[0] == 1
    assert withdrawal_limit({"max_withdraw": "20%"}, 10)[0] == 2
    assert withdrawal_limit({"max_withdraw": "20%"}, 3)[0] == 1
    assert withdrawal_limit({"max_withdraw": "0%"}, 30)[0] == 0
    assert withdrawal_limit({"max_withdraw": "100%"}, 7)[0] == 7


@pytest.mark.parametrize("kind", ["opendatasoft"], indirect=True)
def test_the_opendatasoft_catalogue_is_read_in_a_stable_order(harvested_once, remote):
    pages = [r for r in remote.requests if "/catalog/datasets?" in r]
    assert pages and all("order_by=dataset_id" in r for r in pages)


# --- shrinking and empty catalogues --------------------------------------------------------

@pytest.mark.parametrize("kind", ALL, indirect=True)
def test_a_catalogue_shrinking_beyond_the_threshold_withdraws_nothing(harvested_once, peer,
                                                                     commune):
    peer.mode = "shrunk"  # 2 of the 6 datasets, consistently

    message = failed_job(harvested_once, commune)

    assert f"no longer lists {COUNT - 2} of the {COUNT} datasets" in message
    assert '"max_withdraw": "20%"' in message
    assert "Nothing was withdrawn; the 2 datasets listed were imported or updated." in message
    assert 'raise "max_withdraw" in the source configuration' in message


@pytest.mark.parametrize("kind", BOTH, indirect=True)
def test_an_empty_catalogue_withdraws_nothing(harvested_once, peer, commune):
    peer.mode = "empty"

    message = failed_job(harvested_once, commune)

    assert f"lists no dataset, while {COUNT} were harvested" in message
    assert '"max_withdraw": "100%"' in message


@pytest.mark.parametrize("kind", ["udata"], indirect=True)
def test_max_withdraw_lets_the_sysadmin_accept_a_shrinking_catalogue(harvested_once, peer,
                                                                     commune):
    peer.mode = "shrunk"
    config = dict(CONFIGS["udata"], max_withdraw=COUNT - 2)
    tk.get_action("harvest_source_patch")(sysadmin_context(), {
        "id": harvested_once["id"], "config": json.dumps(config)})

    report = run_job(harvested_once["id"])

    assert report["gather_errors"] == []
    assert report["stats"]["deleted"] == COUNT - 2
    assert len(harvested(commune["id"])) == 2


def test_max_withdraw_is_validated(make_source, remote):
    with pytest.raises(tk.ValidationError) as error:
        make_source("opendatasoft", remote.url, {"max_withdraw": "lots"})
    assert "max_withdraw" in str(error.value.error_dict["config"])
    for index, value in enumerate((0, 5, "20%", "100%", "12.5%")):
        # One source per portal: each on its own path.
        make_source("opendatasoft", f"{remote.url}/portal-{index}", {"max_withdraw": value},
                    name=f"source-{abs(hash(str(value)))}")


# --- volatile fields (defect 9) ------------------------------------------------------------

@pytest.mark.parametrize("kind", BOTH, indirect=True)
def test_counters_that_change_at_every_request_rewrite_nothing(harvested_once, peer, commune):
    """udata's metrics (views, downloads, followers) and ODS's records count
    and processing date change without the dataset changing."""
    before = harvested(commune["id"])
    peer.volatile = True

    report = run_job(harvested_once["id"])

    assert report["gather_errors"] == [] and report["object_errors"] == []
    assert report["stats"]["not modified"] == COUNT
    assert_nothing_changed(before, commune["id"])


# --- transport failures (defect 8) ---------------------------------------------------------

@pytest.mark.parametrize("kind", BOTH, indirect=True)
def test_a_429_is_retried_after_the_wait_the_peer_asks(harvested_once, peer, commune):
    before = harvested(commune["id"])
    peer.mode, peer.limited, peer.retry_after = "rate_limited", 1, "1"
    requests_before = peer.catalogue_requests

    report = run_job(harvested_once["id"])

    assert report["gather_errors"] == [] and report["stats"]["not modified"] == COUNT
    assert peer.catalogue_requests - requests_before == 3  # 429, then both pages
    assert_nothing_changed(before, commune["id"])


@pytest.mark.parametrize("kind", BOTH, indirect=True)
def test_a_429_asking_to_wait_too_long_is_reported_with_its_advice(harvested_once, peer,
                                                                  commune):
    peer.mode, peer.limited, peer.retry_after = "rate_limited", 99, "3600"

    message = failed_job(harvested_once, commune)

    assert "answered HTTP 429 and asks to wait 3600 seconds, more than the 1 seconds" in message
    assert "limits the number of requests" in message
    assert peer.catalogue_requests == 3  # the first job's 2, then no retry


@pytest.mark.parametrize("kind", ["opendatasoft"], indirect=True)
@pytest.mark.ckan_config("ckanext.communes.harvest.retries", "2")
def test_a_429_that_lasts_is_reported_after_the_retries(harvested_once, peer, commune):
    peer.mode, peer.limited, peer.retry_after = "rate_limited", 99, "0"

    message = failed_job(harvested_once, commune)

    assert "still answered HTTP 429 after 2 retries" in message
    assert "limits the number of requests" in message
    assert peer.catalogue_requests == 2 + 3


def test_retry_delay_reads_seconds_dates_and_reset_headers():
    now = 1_800_000_000.0
    assert retry_delay({"Retry-After": "7"}, now) == 7
    date = email.utils.formatdate(now + 30, usegmt=True)
    assert retry_delay({"Retry-After": date}, now) == pytest.approx(30)
    assert retry_delay({"X-RateLimit-Reset": str(int(now + 12))}, now) == pytest.approx(12)
    assert retry_delay({"X-RateLimit-Reset": "5"}, now) == 5
    assert retry_delay({"Retry-After": "soon", "X-RateLimit-Reset": "nan"}, now) is None
    assert retry_delay({}, now) is None


TRANSPORT_MODES = {
    "redirect_private": ("redirected to {address}", "sent the harvester to {address}"),
    "slow_drip": ("sent its answer too slowly", "slow or overloaded"),
    "huge": ("too large", 'Lower "page_size"'),
    "gzip_bomb": ("too large", 'Lower "page_size"'),
    "invalid_utf8": ("not valid UTF-8", "sent a broken answer"),
    "html_200": ("answered an HTML page instead of JSON", "answers web pages, not the portal"),
}


@pytest.mark.parametrize("kind", BOTH, indirect=True)
@pytest.mark.parametrize("mode", list(TRANSPORT_MODES))
def test_a_broken_second_page_is_reported_with_specific_advice(harvested_once, peer, commune,
                                                               mode, kind):
    peer.mode = mode
    peer.redirect_to = {"opendatasoft": "http://169.254.169.254/latest/meta-data/",
                        "udata": "http://10.0.0.1/admin"}[kind]

    message = failed_job(harvested_once, commune)

    what, advice = (text.format(address=peer.redirect_to) for text in TRANSPORT_MODES[mode])
    assert what in message and advice in message
    assert f"{peer.server.url}/api/" in message  # the page that failed
    assert f"the {COUNT} datasets already harvested from this source are kept" in message


# --- the job page in French ------------------------------------------------------------------

@pytest.mark.parametrize("kind", BOTH, indirect=True)
@pytest.mark.parametrize("mode,french", [
    ("ignore_offset", "le portail distant semble ignorer la page demandée"),
    ("shrunk", f"ne liste plus {COUNT - 2} des {COUNT} jeux de données"),
    ("redirect_private", "Le serveur distant a redirigé vers http://169.254.169.254/"),
])
def test_the_job_page_says_it_in_french(harvested_once, peer, commune, app, mode, french):
    peer.mode = mode
    job = run_job(harvested_once["id"])["job"]
    token = factories.APIToken(user=factories.Sysadmin()["name"])["token"]

    res = app.get(f"/harvest/{harvested_once['name']}/job/{job['id']}",
                  headers={"Authorization": token, "Accept-Language": "fr"})

    body = res.get_data(as_text=True).replace("&#39;", "'").replace("&#34;", '"')
    assert res.status_code == 200
    assert french in body
    assert f"Rien n'a été importé ni retiré : les {COUNT} jeux de données" in body \
        or "Rien n'a été retiré ; les 2 jeux de données listés" in body
    assert "relancez la moisson" in body or "un administrateur peut autoriser" in body
    # The advice itself in French too (a pattern such as "{url}: {reason}"
    # once caught it and left it in English).
    assert "run the job again" not in body and "a sysadmin can" not in body


def test_messages_are_translated_line_by_line(app):
    recorded = "\n".join([
        "http://x.example/api: the remote portal answered HTTP 429 and asks to wait 90 "
        "seconds, more than the 60 seconds the harvester waits",
        "Nothing was imported.",
        "http://x.example/api: The remote server redirected to http://10.0.0.1/: This address "
        "is on a private or local network, which the portal does not fetch from."])
    with app.flask_app.test_request_context(environ_overrides={"CKAN_LANG": "fr"}):
        french = communes_harvest_message(recorded).split("\n")
    assert french[0].startswith("http://x.example/api : le portail distant a répondu HTTP 429 "
                                "et demande d'attendre 90 secondes")
    assert french[1] == "Rien n'a été importé."
    assert "Le serveur distant a redirigé vers http://10.0.0.1/ : " in french[2]
