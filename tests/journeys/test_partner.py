"""Journey 2, the partner: asks for access to a restricted dataset; an admin
of the publishing organisation, told by e-mail, approves it until a date;
the partner downloads the data; once the access has expired, the download is
refused with the way to ask again. In French, through the web UI.

The organisation, its admin, the restricted dataset (an uploaded CSV file)
and the partner's account are set up through CKAN's actions before the
browsers start.
"""

from __future__ import annotations

import datetime
import email.header
import io
import re

import ckan.model as model
from ckan.tests import factories, helpers
from ckanext.grandlyon_access.model import AccessRequest, Grant
from playwright.sync_api import expect
from werkzeug.datastructures import FileStorage

PASSWORD = "partenaire-velo-2026"
ADMIN_EMAIL = "admin.mobilites@example.org"
MESSAGE = "Nous étudions les trajets domicile-travail pour un plan de mobilité employeur."
SENT = "Votre demande a été transmise au producteur"
CSV = b"origine,destination,trajets\nPart-Dieu,Gerland,812\nVaise,Confluence,455\n"


def publish() -> dict:
    """The organisation, its admin, the restricted dataset and the partner."""
    factories.User(name="admin-mobilites", fullname="Alex Admin", email=ADMIN_EMAIL,
                   password=PASSWORD)
    factories.User(name="partenaire", fullname="Dominique Partenaire",
                   email="dominique@example.org", password=PASSWORD)
    org = factories.Organization(name="mobilites-urbaines", title="Mobilités urbaines",
                                 users=[{"name": "admin-mobilites", "capacity": "admin"}])
    dataset = helpers.call_action(
        "package_create", context={"user": "admin-mobilites"}, name="trajets-velo",
        title="Trajets vélo domicile-travail", notes="Origines et destinations des trajets.",
        owner_org=org["id"], license_id="lo-2.0", access_level="restricted")
    return helpers.call_action(
        "resource_create", context={"user": "admin-mobilites"}, package_id=dataset["id"],
        name="Trajets par origine et destination", format="CSV", url="trajets-velo.csv",
        upload=FileStorage(io.BytesIO(CSV), filename="trajets-velo.csv"))


def log_in(j, name: str) -> None:
    """From a page telling the person to log in: logs in and comes back."""
    page = j.page
    page.locator("section.grandlyon-access").get_by_role("link", name="Se connecter").click()
    page.get_by_label("Nom d'utilisateur ou courriel").fill(name)
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_load_state("networkidle")


def test_partner_asks_gets_downloads_and_is_refused_after_expiry(portal, mailbox, journey):
    resource = publish()
    partner = journey()
    page = partner.page
    access = page.locator("section.grandlyon-access")

    # Opens the restricted dataset, logs in, asks for access with a message.
    partner.goto("/dataset/trajets-velo")
    expect(access).to_contain_text("Restreint")
    partner.check("dataset-anonymous")
    log_in(partner, "partenaire")
    expect(page).to_have_url(re.compile(r"/dataset/trajets-velo$"))
    expect(access).to_contain_text("réservées à des partenaires identifiés")
    partner.check("dataset-ask")
    access.get_by_label("Votre message").fill(MESSAGE)
    access.get_by_role("button", name="Demander l'accès").click()
    page.wait_for_load_state("networkidle")
    expect(page.locator(".flash-messages")).to_contain_text(SENT)
    expect(access).to_contain_text("en attente de décision")
    partner.check("request-sent", english=False)

    # The organisation's admin is told by e-mail and follows its link.
    mail = mailbox.wait_for(ADMIN_EMAIL)
    body = mailbox.text(mail)
    subject = str(email.header.make_header(email.header.decode_header(mail["Subject"])))
    assert subject == "Demande d'accès à Trajets vélo domicile-travail"
    assert "Dominique Partenaire" in body and MESSAGE in body
    link = re.search(r"https?://\S+/dataset/trajets-velo\b", body).group(0)
    assert link.startswith(portal.url)
    admin = journey("partner-admin")
    admin_page = admin.page
    admin_page.goto(link)
    admin_page.wait_for_load_state("networkidle")
    log_in(admin, "admin-mobilites")
    requests_box = admin_page.locator("section.grandlyon-access li", has_text=MESSAGE)
    expect(requests_box).to_contain_text("partenaire")
    admin.check("admin-request")
    until = (datetime.date.today() + datetime.timedelta(days=30)).isoformat()
    requests_box.get_by_label("Accès jusqu'au (facultatif)").fill(until)
    requests_box.get_by_role("button", name="Accepter").click()
    admin_page.wait_for_load_state("networkidle")
    expect(admin_page.locator(".flash-messages")).to_contain_text("La demande a été acceptée.")
    granted = admin_page.locator("section.grandlyon-access li", has_text="Utilisateur partenaire")
    expect(granted).to_contain_text("jusqu'au")
    admin.check("admin-approved", english=False)

    # The partner now downloads the data.
    page.reload()
    page.wait_for_load_state("networkidle")
    expect(access).to_contain_text("Vous avez accès aux données de ce jeu de données.")
    partner.check("dataset-granted")
    page.get_by_role("link", name=re.compile("Trajets par origine et destination")).first.click()
    page.wait_for_load_state("networkidle")
    partner.check("resource-granted")
    download_link = page.get_by_role("link", name=re.compile("Télécharger")).first
    with page.expect_download() as caught:
        download_link.click()
    with open(caught.value.path(), "rb") as f:
        assert f.read() == CSV

    # Time passes: the access ends (the grant's expiry, and the request's
    # copy of it, moved into the past).
    past = datetime.datetime.utcnow() - datetime.timedelta(days=1)
    grant = model.Session.query(Grant).filter_by(package_id=resource["package_id"]).one()
    grant.expires = past
    model.Session.query(AccessRequest).filter_by(grant_id=grant.id).update({"expires": past})
    model.Session.commit()

    # The download is refused, with what happened and the way to ask again.
    download_link.click()
    page.wait_for_load_state("networkidle")
    expect(page.locator("h1")).to_contain_text("Ces données ne vous sont pas encore ouvertes")
    expect(page.locator("main, #content").first).to_contain_text("Votre accès a expiré le")
    partner.check("download-refused", status=403)  # the refusal, in English too
    page.get_by_role("link", name="Demander l'accès").click()
    page.wait_for_load_state("networkidle")
    expect(access).to_contain_text("Votre accès a expiré le")
    access.get_by_label("Votre message").fill("Nous prolongeons l'étude de trois mois.")
    access.get_by_role("button", name="Demander l'accès").click()
    page.wait_for_load_state("networkidle")
    expect(page.locator(".flash-messages")).to_contain_text(SENT)
    expect(access).to_contain_text("en attente de décision")
    partner.check("asked-again", english=False)
    to_admin = [m for m in mailbox if ADMIN_EMAIL in m.get("To", "")]
    assert len(to_admin) == 2
    assert "Nous prolongeons l'étude de trois mois." in mailbox.text(to_admin[1])
