"""Journey 1, the re-user: from the home page to the data of a licensed
dataset, then to the API with a token of their own, in French.

The publisher's side (an organisation, datasets about bicycles, one of them
licensed with an uploaded CSV file and its rows in the DataStore) is set up
through CKAN's actions before the browser starts; everything the re-user does
goes through the web UI.
"""

from __future__ import annotations

import io
import re

import requests
from ckan.tests import factories, helpers
from playwright.sync_api import expect
from werkzeug.datastructures import FileStorage

NAME = "camille-reuse"
EMAIL = "camille@example.org"
PASSWORD = "velo-en-ville-2026"
ROWS = [
    {"compteur": "Pont Lafayette", "jour": "2026-03-02", "passages": 4210},
    {"compteur": "Quai Augagneur", "jour": "2026-03-02", "passages": 3175},
    {"compteur": "Cours Gambetta", "jour": "2026-03-02", "passages": 2890},
]
CSV = ("compteur,jour,passages\n"
       + "".join(f"{r['compteur']},{r['jour']},{r['passages']}\n" for r in ROWS)).encode()


def publish() -> dict:
    """The publisher's datasets; returns the licensed dataset's resource."""
    admin = factories.Sysadmin(name="publisher-admin")
    org = factories.Organization(name="mobilites-urbaines", title="Mobilités urbaines")
    as_admin = {"user": admin["name"]}
    helpers.call_action(
        "package_create", context=as_admin, name="stations-velo", title="Stations de vélo",
        notes="Les stations de vélo en libre-service.", owner_org=org["id"],
        license_id="lo-2.0", access_level="open")
    dataset = helpers.call_action(
        "package_create", context=as_admin, name="comptages-velo",
        title="Comptages vélo", notes="Passages quotidiens aux compteurs vélo.",
        owner_org=org["id"], license_id="mobilites", access_level="licensed")
    resource = helpers.call_action(
        "resource_create", context=as_admin, package_id=dataset["id"],
        name="Comptages quotidiens", format="CSV", url="comptages-velo.csv",
        upload=FileStorage(io.BytesIO(CSV), filename="comptages-velo.csv"))
    helpers.call_action(
        "datastore_create", context=as_admin, resource_id=resource["id"], force=True,
        fields=[{"id": "compteur", "type": "text"}, {"id": "jour", "type": "date"},
                {"id": "passages", "type": "int"}],
        records=ROWS)
    views = helpers.call_action("resource_view_list", context=as_admin, id=resource["id"])
    if not any(v["view_type"] == "datatables_view" for v in views):
        helpers.call_action("resource_view_create", context=as_admin, resource_id=resource["id"],
                            view_type="datatables_view", title="Tableau")
    return resource


def test_reuser_reaches_licensed_data_and_the_api(portal, journey):
    resource = publish()
    j = journey()
    page = j.page

    # Lands on the home page and searches "vélo".
    j.goto("/")
    j.check("home")
    search = page.get_by_role("search").get_by_role("searchbox").or_(
        page.get_by_label(re.compile("Rechercher", re.I))).first
    search.fill("vélo")
    search.press("Enter")
    page.wait_for_load_state("networkidle")
    expect(page.get_by_role("link", name="Stations de vélo")).to_be_visible()
    expect(page.get_by_role("link", name="Comptages vélo")).to_be_visible()
    j.check("search")

    # Filters by access level: licensed datasets only.
    facet = page.locator("section", has=page.get_by_role("heading", name="Niveau d'accès"))
    facet.get_by_role("link", name=re.compile("Sous licence")).click()
    page.wait_for_load_state("networkidle")
    expect(page.get_by_role("link", name="Comptages vélo")).to_be_visible()
    expect(page.get_by_role("link", name="Stations de vélo")).to_have_count(0)
    j.check("search-licensed")

    # Opens the licensed dataset: told to log in.
    page.get_by_role("link", name="Comptages vélo").click()
    page.wait_for_load_state("networkidle")
    access = page.locator("section.grandlyon-access")
    expect(access).to_contain_text("Sous licence")
    expect(access).to_contain_text("Connectez-vous pour accéder aux données")
    j.check("dataset-anonymous")
    access.get_by_role("link", name="Se connecter").click()
    page.wait_for_load_state("networkidle")
    j.check("login")

    # Tries a password though they have no account yet: told what happened
    # and what to do.
    page.get_by_label("Nom d'utilisateur ou courriel").fill(NAME)
    page.get_by_label("Mot de passe").fill("pas-le-bon")
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_load_state("networkidle")
    error = page.get_by_role("alert")
    expect(error).to_contain_text("ne correspondent à aucun compte")
    expect(error).to_contain_text("Vérifiez-les et réessayez")
    expect(error).to_contain_text("créez un compte")
    j.check("login-failed", english=False)

    # Creates an account.
    error.get_by_role("link", name="Créer un compte").click()
    page.wait_for_load_state("networkidle")
    j.check("register")
    page.get_by_label(re.compile("Nom d'utilisateur")).fill(NAME)
    page.get_by_label(re.compile("Nom complet", re.I)).fill("Camille Réutilisatrice")
    page.get_by_label(re.compile("e-mail", re.I)).fill(EMAIL)
    page.get_by_label(re.compile("Mot de passe")).fill(PASSWORD)
    page.get_by_label(re.compile("Confirmation")).fill(PASSWORD)
    page.get_by_role("button", name="Créer un compte").click()
    page.wait_for_load_state("networkidle")
    expect(page.locator(".account-masthead")).to_contain_text("Camille")
    j.check("account-created", english=False)

    # Back to the dataset, now asked to sign its licence.
    page.get_by_role("navigation").get_by_role("link", name="Jeux de données").first.click()
    page.get_by_role("link", name="Comptages vélo").click()
    page.wait_for_load_state("networkidle")
    expect(access).to_contain_text("une fois sa licence signée")
    j.check("dataset-unsigned")
    access.get_by_role("link", name="Lire et signer la licence").click()
    page.wait_for_load_state("networkidle")
    j.check("licence")

    # Leaves out a required detail: the form names it, in French.
    page.get_by_label("Organisation").fill("Atelier Cyclo")
    page.get_by_label(re.compile("J'ai lu la version")).check()
    page.get_by_role("button", name="Signer la licence").click()
    page.wait_for_load_state("networkidle")
    summary = page.locator(".error-explanation")
    expect(summary).to_contain_text("Usage prévu des données")
    expect(summary).to_contain_text("Valeur manquante")
    j.check("licence-missing-detail", english=False)

    page.get_by_label("Usage prévu des données").fill("Carte des itinéraires cyclables")
    page.get_by_label(re.compile("J'ai lu la version")).check()
    page.get_by_role("button", name="Signer la licence").click()
    page.wait_for_load_state("networkidle")
    # Signed, back on the dataset: downloads the file and previews the rows.
    expect(page).to_have_url(re.compile(r"/dataset/comptages-velo(#.*)?$"))
    expect(page.locator(".flash-messages")).to_contain_text("Vous avez signé la version 1.0")
    expect(access).to_contain_text("Vous avez accès aux données")
    j.check("dataset-signed", english=False)
    page.get_by_role("link", name=re.compile("Comptages quotidiens")).first.click()
    page.wait_for_load_state("networkidle")
    with page.expect_download() as caught:
        page.get_by_role("link", name=re.compile("Télécharger")).first.click()
    download = caught.value
    with open(download.path(), "rb") as f:
        assert f.read() == CSV
    frame = page.frame_locator("iframe").first
    for row in ROWS:
        expect(frame.get_by_role("cell", name=row["compteur"])).to_be_visible()
    expect(frame.get_by_role("cell", name="4210").or_(frame.get_by_role("cell", name="4 210")).first
           ).to_be_visible()
    j.check("resource-preview")

    # Creates an API token on their user page.
    page.get_by_role("link", name="Camille Réutilisatrice").first.click()
    page.wait_for_load_state("networkidle")
    page.get_by_role("link", name="Jetons d'API").click()
    page.wait_for_load_state("networkidle")
    j.check("api-tokens")
    page.get_by_label("Nom du jeton").fill("carte-itineraires")
    page.get_by_role("button", name=re.compile("Créer un jeton d.API")).click()
    page.wait_for_load_state("networkidle")
    created = page.locator(".flash-messages .alert").filter(has_text="Jeton d'API créé")
    expect(created).to_contain_text("Copiez-le maintenant")
    token = created.locator("code").inner_text().strip()
    assert token
    j.check("api-token-created", english=False)

    # Uses the API with the token; without it, the data is refused.
    api = f"{portal.url}/api/3/action/datastore_search"
    with_token = requests.get(api, params={"resource_id": resource["id"]},
                              headers={"Authorization": token}, timeout=30)
    assert with_token.status_code == 200, with_token.text
    records = with_token.json()["result"]["records"]
    assert [(r["compteur"], r["passages"]) for r in records] == [
        (r["compteur"], r["passages"]) for r in ROWS]
    without = requests.get(api, params={"resource_id": resource["id"]}, timeout=30)
    assert without.status_code == 403
    assert "Compteur" not in without.text and "Pont Lafayette" not in without.text
    download_url = (f"{portal.url}/dataset/comptages-velo/resource/{resource['id']}"
                    "/download/comptages-velo.csv")
    assert requests.get(download_url, headers={"Authorization": token}, timeout=30).content == CSV
    refused = requests.get(download_url, timeout=30)
    assert refused.status_code == 403 and CSV not in refused.content
