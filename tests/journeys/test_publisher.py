"""Journey 3, the publisher: creates a dataset in their organisation,
chooses its access level and licence (and meets a form error on the way),
uploads a CSV file that lands in the DataStore, builds a chart view and a map
view of it, attaches a real-time feed and sees its history fill.

Everything the publisher does goes through the web UI, in French; the
organisation and the publisher's account are set up beforehand (the portal's
administrators create them). The CSV file is loaded by the jobs worker, the
feed polled by the history ingest worker, both started as on the server.
"""

from __future__ import annotations

import re
import threading
import time

import pytest
from ckan.tests import factories
from ckanext.history.tests.feed_world import FeedServer, Reply, geojson

PASSWORD = "Publier-2026-Lyon"
STATIONS_CSV = """station;categorie;velos;places;lat;lon;mise_a_jour
Bellecour;centre;12;20;45.7578;4.8320;2026-11-01T08:00:00
Terreaux;centre;7;15;45.7676;4.8344;2026-11-01T08:00:00
Part-Dieu;gare;21;40;45.7606;4.8593;2026-11-01T08:05:00
Perrache;gare;9;30;45.7485;4.8267;2026-11-01T08:05:00
Gerland;quartier;5;18;45.7270;4.8300;2026-11-01T08:10:00
Croix-Rousse;quartier;3;12;45.7745;4.8320;2026-11-01T08:10:00
Vaise;quartier;8;16;45.7740;4.8050;2026-11-01T08:15:00
Confluence;centre;14;25;45.7410;4.8180;2026-11-01T08:15:00
"""


@pytest.fixture
def live_portal_settings() -> dict[str, str]:
    """The feed server runs on loopback; feeds may be polled every second."""
    return {"ckanext.grandlyon_access.outbound.allow": "127.0.0.1",
            "ckanext.history.feed.min_interval_seconds": "1"}


@pytest.fixture
def feed():
    """A real-time feed whose availability changes at every poll."""
    server = FeedServer()
    polls = {"n": 0}
    lock = threading.Lock()

    def next_reply() -> Reply:
        with lock:
            polls["n"] += 1
            n = polls["n"]
        return Reply(body=geojson({
            "1001": {"available_bikes": n % 20, "status": "OPEN"},
            "1002": {"available_bikes": (n * 3) % 17, "status": "OPEN"},
        }))

    server.dynamic = next_reply
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def organisation(portal):
    """Set up by the portal's administrators: the organisation and the
    publisher's account, an editor of it."""
    factories.User(name="publieuse", fullname="Paule Publieuse", password=PASSWORD,
                   email="publieuse@example.org")
    return factories.Organization(name="metropole-test", title="Métropole de Test",
                                  users=[{"name": "publieuse", "capacity": "editor"}])


def reload_until(page, predicate, what: str, timeout: float = 120) -> None:
    """Reloads the page (as the person would) until `predicate(page)` holds."""
    deadline = time.monotonic() + timeout
    while True:
        page.wait_for_load_state("networkidle")
        if predicate(page):
            return
        assert time.monotonic() < deadline, f"{what}: still not there on {page.url}"
        page.wait_for_timeout(1000)
        page.reload()


def new_view(page, kind: str, title: str) -> None:
    """Opens the form of a new view of this kind (its French name) and titles it."""
    page.get_by_role("button", name=re.compile("Nouvelle vue")).click()
    page.get_by_role("link", name=kind).click()
    page.wait_for_load_state("networkidle")
    view_title(page).fill(title)


def view_title(page):
    """The title field of a view form (not the axis titles)."""
    return page.get_by_role("textbox", name=re.compile(r"^\W*Titre\s*:?$"))


def test_publisher_journey(portal, journey, organisation, feed, tmp_path):
    j = journey()
    page = j.page

    # --- logging in ----------------------------------------------------------------
    j.goto("/user/login")
    j.check("login")
    page.get_by_label("Nom d'utilisateur ou courriel").fill("publieuse")
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_load_state("networkidle")

    # --- the dataset form: access level and licence, and an error on the way -----------
    j.goto("/dataset/")
    page.get_by_role("link", name="Ajouter un jeu de données").first.click()
    page.wait_for_load_state("networkidle")
    j.check("dataset-form")
    page.get_by_label("Titre").fill("Stations de vélos en libre-service")
    page.get_by_label("Description").fill(
        "Les stations de vélos de la métropole : catégorie, vélos et places.")
    assert "Métropole de Test" in page.locator("#field-organizations").inner_text()
    page.get_by_label("Visibilité").select_option(label="Publique")
    # A licensed dataset with an open licence: nothing for users to sign.
    page.get_by_label("Accès aux données").select_option(label="Sous licence")
    page.get_by_label("Licence", exact=True).select_option(
        label="Licence Ouverte / Open Licence 2.0")
    page.get_by_role("button", name="Suivant : Ajouter des données").click()
    page.wait_for_load_state("networkidle")
    error = page.locator(".error-explanation, .alert-error, .alert-danger").first
    assert error.is_visible()
    text = error.inner_text()
    assert "Accès aux données" in text, text
    assert "licence que les utilisateurs doivent signer" in text and "choisissez" in text, text
    j.check("dataset-form-error", english=False)
    page.get_by_label("Licence", exact=True).select_option(label="Licence Mobilités")
    page.get_by_role("button", name="Suivant : Ajouter des données").click()
    page.wait_for_load_state("networkidle")

    # --- uploading the CSV file ------------------------------------------------------
    j.check("resource-form", english=False)
    csv_file = tmp_path / "stations-velos.csv"
    csv_file.write_text(STATIONS_CSV, encoding="utf-8")
    page.locator("input[type=file][name=upload]").set_input_files(str(csv_file))
    page.get_by_label("Nom").fill("Stations")
    # The format is left empty: the portal guesses CSV from the file's name.
    page.get_by_role("button", name="Terminer").click()
    page.wait_for_load_state("networkidle")
    j.check("dataset-page")
    dataset_url = page.url
    assert "Sous licence" in page.content() and "Licence Mobilités" in page.content()
    assert page.locator(".dataset-private").count() == 0, "the dataset is public"

    # --- the DataStore fills: pending, then loaded by the jobs worker ------------------
    page.locator(".resource-item a.heading", has_text="Stations").first.click()
    page.wait_for_load_state("networkidle")
    status = page.locator(".dataviz-datastore-load")
    assert "Chargement dans le DataStore : en attente" in status.inner_text()
    j.check("resource-pending")
    portal.start("jobs", "jobs", "worker")
    reload_until(page, lambda p: "chargé : 8 lignes" in p.locator(
        ".dataviz-datastore-load").inner_text(), "the CSV file loaded")
    j.check("resource-loaded")
    # The data dictionary shows the types the loader found.
    dictionary = page.locator("body").inner_text()
    assert all(kind in dictionary for kind in ("int8", "numeric", "timestamp")), dictionary
    resource_url = page.url

    # --- a chart view ------------------------------------------------------------------
    page.goto(resource_url + "/views")
    page.wait_for_load_state("networkidle")
    j.check("views")
    new_view(page, "Graphique", "Vélos par catégorie")
    page.get_by_label("Type de graphique").select_option(label="Barres")
    page.get_by_label("Axe horizontal (x)").select_option(value="categorie")
    page.get_by_label(re.compile("Valeurs \\(y\\)")).select_option(value="velos")
    page.get_by_label("Agrégation").select_option(value="sum")
    page.locator("[data-dataviz-preview] canvas, [data-dataviz-preview] svg").first.wait_for()
    j.check("chart-form", english=False)
    page.get_by_role("button", name="Ajouter").click()
    page.wait_for_load_state("networkidle")

    # --- a map view --------------------------------------------------------------------
    new_view(page, "Carte", "Carte des stations")
    page.get_by_label("Type de source").select_option(value="table")
    page.get_by_label("Colonne de latitude").fill("lat")
    page.get_by_label("Colonne de longitude").fill("lon")
    page.get_by_label("Style", exact=True).select_option(value="categories")
    page.get_by_label("Propriété qui détermine le style").fill("categorie")
    j.check("map-form", english=False)
    page.get_by_role("button", name="Ajouter").click()
    page.wait_for_load_state("networkidle")

    # --- both views render on the resource page --------------------------------------
    page.goto(resource_url)
    page.wait_for_load_state("networkidle")
    page.get_by_role("link", name="Vélos par catégorie").click()
    page.wait_for_load_state("networkidle")
    chart = page.frame_locator("iframe").first
    chart.locator("canvas, svg").first.wait_for()
    j.check("chart-view")
    page.get_by_role("link", name="Carte des stations").click()
    page.wait_for_load_state("networkidle")
    map_frame = page.frame_locator("iframe").first
    markers = map_frame.locator(".leaflet-interactive, .leaflet-marker-icon")
    markers.first.wait_for()
    assert markers.count() >= 8
    j.check("map-view")

    # --- the real-time feed: an error, then the feed, then the history fills ----------
    page.goto(resource_url)
    page.get_by_role("link", name="Historique").click()
    page.wait_for_load_state("networkidle")
    j.check("history-empty")
    page.get_by_label("Adresse de la source").fill("http://10.20.30.40/velov/disponibilites.geojson")
    page.get_by_label("Champ identifiant un objet").fill("number")
    page.get_by_label(re.compile("Champs de valeur")).fill("available_bikes:int, status:text")
    page.get_by_label(re.compile("Intervalle d'interrogation")).fill("1")
    page.get_by_role("button", name="Enregistrer le flux").click()
    page.wait_for_load_state("networkidle")
    problem = page.locator(".history-feed-errors")
    assert "Adresse de la source" in problem.inner_text()
    assert "réseau privé" in problem.inner_text()
    assert "Indiquez" in problem.inner_text()
    j.check("feed-error", english=False)
    page.get_by_label("Adresse de la source").fill(feed.url)
    page.get_by_role("button", name="Enregistrer le flux").click()
    page.wait_for_load_state("networkidle")
    assert "Le flux est enregistré" in page.content()
    portal.start("ingest", "history", "ingest")

    def rows(p) -> int:
        found = p.locator(".history-rows")
        return int(found.inner_text()) if found.count() else 0

    reload_until(page, lambda p: rows(p) > 0, "the first rows of history")
    first = rows(page)
    j.check("history-filling")
    reload_until(page, lambda p: rows(p) > first, "more rows of history")
    j.check("history-grown")
    assert dataset_url
