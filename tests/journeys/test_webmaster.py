"""Journey 4, the commune's webmaster: themes the commune (logo, colours,
introduction) in the organisation form, meets a form error that says what to
write, opens the commune's white-label view, builds a widget in the builder,
pastes its snippet into a page of another site and sees the commune's
datasets there."""

from __future__ import annotations

import re
import struct
import zlib

import pytest
from ckan.tests import factories
from playwright.sync_api import expect

PASSWORD = "Webmestre-2026!"
PRIMARY = "#7a1f3d"
SECONDARY = "#fdf1e6"
DATASETS = {"arbres-d-exemple": "Arbres d'alignement", "parkings-d-exemple": "Parkings vélos",
            "ecoles-d-exemple": "Écoles publiques"}


def png(width: int = 24, height: int = 24, rgb: tuple[int, int, int] = (122, 31, 61)) -> bytes:
    """A small, real PNG image (one colour)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    rows = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


@pytest.fixture
def commune(clean_db, clean_index):
    """A commune whose webmaster administers its organisation, with datasets
    published by its services (and one of another organisation)."""
    webmaster = factories.User(name="webmestre", fullname="Camille Webmestre",
                               email="webmestre@ville-exemple.fr", password=PASSWORD)
    org = factories.Organization(name="ville-d-exemple", title="Ville d'Exemple",
                                 is_commune="true", image_url="",
                                 users=[{"name": webmaster["name"], "capacity": "admin"}])
    for name, title in DATASETS.items():
        factories.Dataset(name=name, title=title, owner_org=org["id"], license_id="lo-2.0",
                          notes=f"{title} de la Ville d'Exemple.")
    other = factories.Organization(name="metropole", title="Métropole")
    factories.Dataset(name="voirie", title="Voirie métropolitaine", owner_org=other["id"],
                      license_id="lo-2.0")
    return {"org": org, "webmaster": webmaster}


def widget_titles(page) -> list[str]:
    """The titles of the datasets the widget shows (inside its shadow root)."""
    return page.evaluate("""() => [...document.querySelector('commune-datasets')
        .shadowRoot.querySelectorAll('li.ds h3')].map(h => h.textContent)""")


def test_the_webmaster_themes_the_commune_and_puts_its_widget_on_another_site(
        commune, journey, other_site, tmp_path):
    j = journey()
    page = j.page
    logo = tmp_path / "logo-ville.png"
    logo.write_bytes(png())

    # Logs in.
    j.goto("/user/login")
    j.check("login")
    page.get_by_label("Nom d'utilisateur ou courriel").fill("webmestre")
    page.get_by_label(re.compile("^Mot de passe")).fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_load_state("networkidle")
    expect(page.get_by_role("link", name=re.compile("Camille Webmestre|webmestre")).first) \
        .to_be_visible()

    # The organisation form: a colour written wrongly is refused, with the
    # field named and what to write.
    j.goto("/organization/edit/ville-d-exemple")
    expect(page.get_by_label("Commune", exact=True)).to_have_value("true")
    j.check("organisation-form")
    page.get_by_label("Couleur principale").fill("rouge")
    page.get_by_role("button", name=re.compile("Mise à jour|Mettre à jour")).click()
    page.wait_for_load_state("networkidle")
    summary = page.locator(".error-explanation, .alert-error, .alert-danger").first
    expect(summary).to_contain_text("Couleur principale")
    expect(summary).to_contain_text("Une couleur s'écrit #rgb ou #rrggbb (ex. #c8102e)")
    j.check("organisation-form-error")

    # The theme: colours, introduction, logo (a file sent from the computer).
    page.get_by_label("Couleur principale").fill(PRIMARY)
    page.get_by_label("Couleur secondaire").fill(SECONDARY)
    page.get_by_label("Introduction").fill(
        "Bienvenue sur les **données ouvertes** de la Ville d'Exemple.")
    expect(page.get_by_role("link", name="Envoi")).to_be_visible()
    page.get_by_title("Télécharger un fichier sur votre ordinateur").set_input_files(str(logo))
    page.get_by_role("button", name=re.compile("Mise à jour|Mettre à jour")).click()
    page.wait_for_load_state("networkidle")
    assert "/organization/edit/" not in page.url, \
        page.locator(".error-explanation").all_inner_texts()
    j.check("organisation-saved")

    # The white-label view wears the commune's identity.
    j.goto("/commune/ville-d-exemple")
    header = page.locator("header.commune-header")
    expect(header).to_contain_text("Ville d'Exemple")
    assert header.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(122, 31, 61)"
    intro = page.locator(".commune-introduction")
    expect(intro).to_contain_text("Bienvenue sur les données ouvertes de la Ville d'Exemple.")
    assert intro.locator("strong").inner_text() == "données ouvertes"
    assert intro.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(253, 241, 230)"
    logo_img = page.get_by_role("img", name="Logo de Ville d'Exemple")
    expect(logo_img).to_be_visible()
    assert re.search(r"/uploads/group/[^/]*logo-ville\.png$", logo_img.get_attribute("src"))
    assert logo_img.evaluate("i => i.complete && i.naturalWidth") == 24
    for title in DATASETS.values():
        expect(page.get_by_role("link", name=title)).to_be_visible()
    expect(page.get_by_text("Voirie métropolitaine")).to_have_count(0)
    j.check("commune-view")

    # The widget builder: two datasets a page, in French; the preview is the
    # real widget.
    page.get_by_role("navigation", name="Commune").get_by_role("link", name="Widgets").click()
    page.wait_for_load_state("networkidle")
    expect(page.get_by_role(
        "heading", name="Montrez les jeux de données de Ville d'Exemple sur votre site web")) \
        .to_be_visible()
    options = page.locator("form.widget-builder-form")
    options.get_by_label("Jeux de données par page").fill("2")
    options.get_by_label("Langue").select_option(label="Français")
    # A function, not an expression: Playwright evaluates an expression with
    # eval(), which the portal's Content-Security-Policy refuses.
    page.wait_for_function("() => document.querySelector('#wb-preview commune-datasets')"
                           ".shadowRoot.querySelectorAll('li.ds').length === 2")
    j.check("widget-builder")
    page.get_by_role("button", name="Copier").first.click()
    expect(page.get_by_text("Copié.")).to_be_visible()
    snippet = page.get_by_label("Extrait avec un script").input_value()
    assert f'<script src="{j.portal.url}/communes/widget.js" defer></script>' in snippet
    assert 'commune="ville-d-exemple"' in snippet and 'page-size="2"' in snippet

    # Pasted into a page of the commune's own web site (another origin).
    site, site_url = other_site
    (site / "donnees.html").write_text(
        '<!DOCTYPE html><html lang="fr"><head><meta charset="utf-8">'
        "<title>Ville d'Exemple - nos données</title></head><body>"
        f"<h1>Nos données</h1>\n{snippet}\n</body></html>", encoding="utf-8")
    page.goto(f"{site_url}/donnees.html")
    page.wait_for_function("document.querySelector('commune-datasets').shadowRoot"
                           ".querySelectorAll('li.ds').length === 2")
    first = widget_titles(page)
    status = page.evaluate("document.querySelector('commune-datasets').shadowRoot"
                           ".querySelector('p.m').textContent")
    assert status == "3 jeux de données"
    page.evaluate("document.querySelector('commune-datasets').shadowRoot"
                  ".querySelectorAll('nav button')[1].click()")
    page.wait_for_function("document.querySelector('commune-datasets').shadowRoot"
                           ".querySelectorAll('li.ds').length === 1")
    assert set(first + widget_titles(page)) == set(DATASETS.values())
    assert not j.errors, j.errors
