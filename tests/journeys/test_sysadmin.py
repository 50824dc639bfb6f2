"""Journey 5, the portal's sysadmin: adds a harvest source for a commune's
portal, runs it, follows the job and sees the harvested datasets; a source
that fails says what happened and what to do. Then publishes a new version
of a licence (its signatory is asked to sign again before downloading) and
exports the signatures and the access log."""

from __future__ import annotations

import csv
import http.server
import io
import os
import re
import shutil
import subprocess
import sys
import threading
import time

import pytest
import requests
import yaml
from ckan.tests import factories
from ckan.tests.helpers import call_action
from ckanext.grandlyon_access.testing.pytest_plugin import free_port
from playwright.sync_api import expect

from .conftest import REPO

PASSWORD = "Sysadmin-2026!"
SIGNER_PASSWORD = "Signataire-2026!"
HARVESTED = ["Arbres remarquables", "Budget primitif 2025", "Équipements sportifs",
             "Stationnement résidentiel", "Qualité de l'air - capteurs citoyens"]


@pytest.fixture
def registry_file(tmp_path):
    """The live portal's licence registry: a copy of the portal's (publishing
    a version writes it)."""
    path = tmp_path / "licences.yaml"
    shutil.copy(os.path.join(REPO, "config", "licences.yaml"), path)
    return path


@pytest.fixture
def live_portal_settings(registry_file):
    return {"ckanext.grandlyon_access.outbound.allow": "127.0.0.1",
            "ckanext.grandlyon_licence.registry": str(registry_file)}


@pytest.fixture
def commune_portal():
    """The demo commune portal: recorded OpenDataSoft answers on a local port."""
    port = free_port()
    server = subprocess.Popen([sys.executable, os.path.join(REPO, "demo", "commune-portal",
                                                            "serve.py"), "--port", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                requests.get(url + "/", timeout=2)
                break
            except requests.ConnectionError:
                assert server.poll() is None
                time.sleep(0.1)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.fixture
def broken_portal():
    """A portal in maintenance: every address answers HTTP 500 with an HTML page."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            body = b"<!DOCTYPE html><html><body><h1>Maintenance</h1></body></html>"
            self.send_response(500)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


def log_in(j, name: str, password: str) -> None:
    page = j.page
    j.goto("/user/login")
    page.get_by_label("Nom d'utilisateur ou courriel").fill(name)
    page.get_by_label(re.compile("^Mot de passe")).fill(password)
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_load_state("networkidle")
    expect(page.get_by_role("link", name=re.compile("Tableau de bord|Déconnexion")).first) \
        .to_be_attached()


@pytest.fixture
def harvest_world(clean_db, clean_index):
    from ckanext.harvest import queue

    queue.get_connection().flushdb()
    factories.Sysadmin(name="admin-portail", fullname="Dominique Admin",
                       email="admin@portail.example", password=PASSWORD)
    factories.Organization(name="ville-d-exemple", title="Ville d'Exemple", is_commune="true")


def add_source(j, url: str, title: str, config: str) -> None:
    """The sysadmin fills ckanext-harvest's form for a new source."""
    page = j.page
    page.get_by_label("URL").fill(url)
    page.get_by_label("Titre").fill(title)
    page.get_by_label("OpenDataSoft (Explore API v2.1)").check()
    page.get_by_label("Fréquence de mise à jour").select_option(label="Manuelle")
    page.get_by_label("Configuration").fill(config)
    page.get_by_role("button", name="Enregistrer").click()
    page.wait_for_load_state("networkidle")


def run_and_follow(j, portal) -> None:
    """Clicks the run button of the source's admin page, confirms, opens the
    job's report and reloads it until the job is finished (the server's
    periodic `ckan harvester run` marks finished jobs)."""
    page = j.page
    page.get_by_role("link", name="Moissonner").click()
    page.get_by_role("dialog").get_by_role("button", name="Confirmation").click()
    page.wait_for_load_state("networkidle")
    expect(page.get_by_text("La moisson va commencer. Rechargez cette page pour suivre son "
                            "avancement.")).to_be_visible()
    page.get_by_role("link", name="Voir le rapport complet de la moisson").click()
    page.wait_for_load_state("networkidle")
    expect(page.get_by_role("heading", name="Rapport de moisson")).to_be_visible()
    status = page.locator("th").filter(has_text=re.compile(r"^(État|Statut)$")) \
        .locator("xpath=following-sibling::td")
    assert status.inner_text().strip() in ("Nouvelle", "En cours", "Terminée")
    deadline = time.monotonic() + 180
    while status.inner_text().strip() != "Terminée":
        assert time.monotonic() < deadline, "the harvest job did not finish in 3 minutes: " \
            + portal.log("gather")[-1500:] + portal.log("fetch")[-1500:]
        result = portal.ckan("harvester", "run")
        assert result.returncode == 0, result.stderr[-2000:]
        page.reload()
        page.wait_for_load_state("networkidle")


def test_the_sysadmin_harvests_a_commune_portal(harvest_world, journey, portal, commune_portal,
                                                broken_portal):
    portal.start("gather", "harvester", "gather-consumer")
    portal.start("fetch", "harvester", "fetch-consumer")
    j = journey()
    page = j.page
    log_in(j, "admin-portail", PASSWORD)

    # A new source for the commune's portal.
    j.goto("/harvest")
    j.check("harvest-sources")
    page.get_by_role("link", name="Ajouter une source de moissonnage").click()
    page.wait_for_load_state("networkidle")
    expect(page.get_by_label("Organisation").and_(page.locator("select"))).to_have_value(
        call_action("organization_show", id="ville-d-exemple")["id"])
    j.check("harvest-new-source")
    add_source(j, commune_portal, "Portail de la Ville d'Exemple",
               '{"page_size": 3, "default_access_level": "open"}')
    expect(page.get_by_role("heading", name="Portail de la Ville d'Exemple")).to_be_visible()
    j.check("harvest-source")

    # Runs it and follows the job.
    page.locator("#content").get_by_role("link", name="Administrateur").click()
    page.wait_for_load_state("networkidle")
    j.check("harvest-source-admin")
    run_and_follow(j, portal)
    stats = page.locator("[data-diff]")
    expect(stats.filter(has_text="ajoutés")).to_have_text("5 ajoutés")
    expect(stats.filter(has_text="erreur")).to_have_text(re.compile(r"^0 erreurs?$"))
    expect(page.get_by_text("Aucune erreur pour cette moisson")).to_be_visible()
    j.check("harvest-job-finished")

    # The harvested datasets, on the source's page and on the commune's.
    page.get_by_role("link", name="Voir la source de moissonnage").click()
    page.wait_for_load_state("networkidle")
    for title in HARVESTED:
        expect(page.get_by_role("link", name=title)).to_be_visible()
    j.check("harvest-source-datasets")
    j.goto("/commune/ville-d-exemple")
    expect(page.locator(".commune-count")).to_have_text("5 jeux de données")
    for title in HARVESTED:
        expect(page.get_by_role("link", name=title)).to_be_visible()

    # A source whose portal is down: the job says what happened and what to do.
    j.goto("/harvest/new")
    add_source(j, broken_portal, "Portail en maintenance", '{"page_size": 3}')
    page.locator("#content").get_by_role("link", name="Administrateur").click()
    page.wait_for_load_state("networkidle")
    run_and_follow(j, portal)
    expect(page.locator("[data-diff]").filter(has_text="erreur")).to_have_text("1 erreur")
    errors = page.locator(".harvest-error-list")
    expect(errors.first).to_contain_text(
        f"{broken_portal}/api/explore/v2.1/catalog/datasets?limit=3&offset=0&order_by=dataset_id"
        " : le portail distant a répondu HTTP 500")
    expect(errors.first).to_contain_text("Le portail distant a une erreur interne : relancez la "
                                         "moisson plus tard")
    j.check("harvest-job-failed")


@pytest.fixture
def licence_world(clean_db, clean_index):
    """A licensed dataset under the Licence Mobilités, and a re-user who
    signed version 1.0 of the licence."""
    factories.Sysadmin(name="admin-portail", fullname="Dominique Admin",
                       email="admin@portail.example", password=PASSWORD)
    signer = factories.User(name="signataire", fullname="Alex Signataire",
                            email="alex@velo.example", password=SIGNER_PASSWORD)
    org = factories.Organization(name="metropole", title="Métropole")
    dataset = factories.Dataset(
        name="comptages-velos", title="Comptages vélos", owner_org=org["id"],
        license_id="mobilites", access_level="licensed",
        resources=[{"name": "Comptages 2026", "url": "https://origin.example.org/comptages.csv",
                    "format": "CSV"}])
    call_action("grandlyon_licence_sign", context={"user": signer["name"]},
                licence_id="mobilites", organisation="Vélo Exemple",
                intended_use="Carte des comptages")
    token = call_action("api_token_create", context={"user": signer["name"]},
                        user=signer["name"], name="application")["token"]
    return {"dataset": dataset, "resource": dataset["resources"][0], "token": token}


def test_the_sysadmin_publishes_a_licence_version_and_exports_signatures_and_access_log(
        licence_world, registry_file, journey, portal):
    dataset, resource = licence_world["dataset"], licence_world["resource"]
    download = f"/dataset/comptages-velos/resource/{resource['id']}/download"
    # The re-user's application downloaded the data (version 1.0 signed):
    # the portal's data proxy streams it from the origin, which does not
    # resolve here (502), never sending the origin's address.
    answer = requests.get(portal.url + download, allow_redirects=False, timeout=30,
                          headers={"Authorization": licence_world["token"]})
    assert answer.status_code in (200, 502), answer.status_code
    assert "origin.example.org" not in answer.text + answer.headers.get("Location", "")

    # The sysadmin publishes version 2.0 of the licence (a number already
    # current is refused, with what to do).
    j = journey()
    page = j.page
    log_in(j, "admin-portail", PASSWORD)
    j.goto("/ckan-admin/licence-signatures")
    expect(page.get_by_role("cell", name="Alex Signataire").or_(
        page.get_by_role("cell", name="signataire"))).to_be_visible()
    j.check("licence-signatures")
    publish = page.locator("form", has=page.get_by_role("button", name="Publier la version"))

    def publish_version(version: str) -> None:
        publish.get_by_label("Licence").select_option(label="Licence Mobilités (version 1.0)")
        publish.get_by_label("Nouvelle version").fill(version)
        publish.get_by_role("button", name="Publier la version").click()
        page.wait_for_load_state("networkidle")

    publish_version("1.0")
    expect(page.locator(".alert-error, .alert-danger").first).to_contain_text(
        "Nouvelle version: 1.0 est déjà la version en vigueur : donnez un autre numéro à la "
        "nouvelle version")
    j.check("licence-version-refused")
    publish_version("2.0")
    expect(page.locator(".alert-success").first).to_contain_text(
        "La version 2.0 de Licence Mobilités est publiée : ses signataires doivent la signer "
        "avant d'accéder de nouveau à ses données.")
    # Published in the database (every web process sees it), not in the file.
    in_file = yaml.safe_load(registry_file.read_text(encoding="utf-8"))["licences"]
    assert [lic["version"] for lic in in_file if lic["id"] == "mobilites"] == ["1.0"]
    assert call_action("grandlyon_licence_show", id="mobilites")["version"] == "2.0"
    j.check("licence-version-published")
    j.goto("/licence/mobilites")
    expect(page.locator(".grandlyon-licence-version")).to_contain_text("Version 2.0")
    expect(page.get_by_text("Vous avez signé")).to_have_count(0)
    j.check("licence-new-version")

    # The signatory is asked to sign again before downloading.
    s = journey("sysadmin-signatory")
    log_in(s, "signataire", SIGNER_PASSWORD)
    s.goto("/dataset/comptages-velos")
    s.page.get_by_role("link", name="Comptages 2026").first.click()
    s.page.wait_for_load_state("networkidle")
    s.page.locator(f'a[href$="{download}"]').first.click()
    s.page.wait_for_load_state("networkidle")
    expect(s.page.get_by_role("heading", name="Ces données ne vous sont pas encore ouvertes")) \
        .to_be_visible()
    expect(s.page.get_by_text("Les données de ce jeu de données sont disponibles une fois sa "
                              "licence signée.")).to_be_visible()
    s.check("signatory-asked-to-sign", english=False)
    s.page.get_by_role("link", name="Lire et signer la licence").click()
    s.page.wait_for_load_state("networkidle")
    expect(s.page.get_by_text(re.compile(r"Vous avez signé la version 1\.0 le .*La licence a "
                                         r"changé depuis"))).to_be_visible()
    s.check("signatory-licence")

    # The sysadmin exports the signatures and the access log.
    j.goto("/ckan-admin/licence-signatures")
    with page.expect_download() as got:
        page.get_by_role("link", name="Exporter en CSV").click()
    rows = list(csv.DictReader(io.StringIO(open(got.value.path(), encoding="utf-8").read())))
    assert [(r["user_name"], r["licence_id"], r["licence_version"], r["current"],
             r["organisation"], r["intended_use"]) for r in rows] == [
        ("signataire", "mobilites", "1.0", "no", "Vélo Exemple", "Carte des comptages")]

    j.goto("/ckan-admin/access/log")
    j.check("access-log")
    with page.expect_download() as got:
        page.get_by_role("link", name="Exporter en CSV").click()
    rows = list(csv.DictReader(io.StringIO(open(got.value.path(), encoding="utf-8").read())))
    mine = [r for r in rows if r["user"] == "signataire"]
    assert mine and all(r["package_id"] == dataset["id"] for r in mine), rows
    assert resource["id"] in {r["resource_id"] for r in mine}
