"""The widget in a real browser (headless Chromium): a page served from
another origin loads widget.js from a live portal and shows the commune's
datasets, gated ones without any data link; the iframe version and the
builder's live preview too. Screenshots go to test-artifacts/."""

from __future__ import annotations

import os

import pytest
from ckan.tests import factories
from ckanext.grandlyon_access.testing.pytest_plugin import level_fields

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))))
ARTIFACTS = os.path.join(REPO, "test-artifacts")
ORIGIN = "https://origin.example.org/{}.csv"


@pytest.fixture
def live_ckan(world, live_portal) -> str:
    """The URL of a real CKAN web server on the test ini (the shared
    plugin's `live_portal`), started once the world is made."""
    return live_portal.url


@pytest.fixture
def world(clean_db, clean_index):
    commune = factories.Organization(name="ville-b", title="Ville B", is_commune="true",
                                     primary_color="#c8102e")
    other = factories.Organization(name="autre-b")
    for level in ("open", "licensed", "restricted", "hidden"):
        name = f"b-{level}"
        factories.Dataset(name=name, title=f"Titre {name}", owner_org=commune["id"],
                          notes=f"Description <b>{name}</b> {'tulipe' if name == 'b-restricted' else ''}",
                          resources=[{"url": ORIGIN.format(name), "format": "CSV"}],
                          **level_fields(level))
    factories.Dataset(name="x-open", title="Titre x-open", owner_org=other["id"])


def shown(page_or_frame) -> dict[str, list[str]]:
    """Title -> hrefs of each dataset the widget shows (through its shadow root)."""
    return page_or_frame.evaluate("""() => {
        const host = document.querySelector('commune-datasets');
        const out = {};
        host.shadowRoot.querySelectorAll('li.ds').forEach(li => {
            out[li.querySelector('h3').textContent] =
                [...li.querySelectorAll('a')].map(a => a.href);
        });
        return out;
    }""")


def test_a_page_of_another_site_shows_the_commune_datasets(world, live_ckan, other_site,
                                                           chromium):
    site, site_url = other_site
    (site / "index.html").write_text(f"""<!DOCTYPE html><html><head><meta charset="utf-8">
<title>Site de la commune</title>
<script src="{live_ckan}/communes/widget.js" defer></script></head><body>
<h1>Nos données</h1>
<commune-datasets commune="ville-b" page-size="2" primary-color="#c8102e" lang="en">
</commune-datasets></body></html>""", encoding="utf-8")
    page = chromium.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{site_url}/index.html")
    page.locator("commune-datasets li.ds").first.wait_for()
    page.wait_for_function(
        "document.querySelector('commune-datasets').shadowRoot.querySelector('nav button')")
    first = shown(page)
    assert len(first) == 2
    status = page.locator("commune-datasets p.m").first.text_content()
    assert status == "3 datasets"
    page.locator("commune-datasets nav button").nth(1).click()
    page.wait_for_function(
        "document.querySelector('commune-datasets').shadowRoot.querySelectorAll('li.ds')"
        ".length === 1")
    everything = {**first, **shown(page)}
    assert set(everything) == {"Titre b-open", "Titre b-licensed", "Titre b-restricted"}
    assert everything["Titre b-open"][-1] == ORIGIN.format("b-open")
    for gated in ("b-licensed", "b-restricted"):
        assert all("/dataset/" in href for href in everything[f"Titre {gated}"])
        assert not any("origin.example.org" in href for href in everything[f"Titre {gated}"])
    # Text is text: the description's markup is not interpreted.
    assert page.evaluate("document.querySelector('commune-datasets').shadowRoot"
                         ".querySelectorAll('b').length") == 0
    colour = page.evaluate("getComputedStyle(document.querySelector('commune-datasets')"
                           ".shadowRoot.querySelector('button')).backgroundColor")
    assert colour == "rgb(200, 16, 46)"
    # Searching.
    page.locator("commune-datasets input").fill("tulipe")
    page.locator("commune-datasets form button").click()
    page.wait_for_function(
        "document.querySelector('commune-datasets').shadowRoot.querySelector('p.m')"
        ".textContent === '1 dataset'")
    assert list(shown(page)) == ["Titre b-restricted"]
    os.makedirs(ARTIFACTS, exist_ok=True)
    page.screenshot(path=os.path.join(ARTIFACTS, "communes-widget-script.png"), full_page=True)
    assert errors == []


def test_the_iframe_version(world, live_ckan, other_site, chromium):
    site, site_url = other_site
    (site / "frame.html").write_text(
        f'<!DOCTYPE html><html><body><iframe src="{live_ckan}/commune/ville-b/widget?lang=fr'
        f'&page-size=5" style="width:100%;height:500px;border:0"></iframe></body></html>',
        encoding="utf-8")
    page = chromium.new_page()
    page.goto(f"{site_url}/frame.html")
    frame = page.frame_locator("iframe")
    frame.locator("commune-datasets li.ds").first.wait_for()
    inner = page.frames[1]
    assert set(shown(inner)) == {"Titre b-open", "Titre b-licensed", "Titre b-restricted"}
    assert frame.locator("commune-datasets form button").text_content() == "Rechercher"
    os.makedirs(ARTIFACTS, exist_ok=True)
    page.screenshot(path=os.path.join(ARTIFACTS, "communes-widget-iframe.png"), full_page=True)


def test_the_builder_previews_the_real_widget(world, live_ckan, chromium, ckan_config):
    portal = ckan_config["ckan.site_url"]
    page = chromium.new_page()
    page.goto(f"{live_ckan}/commune/ville-b/widget-builder")
    page.locator("#wb-preview commune-datasets li.ds").first.wait_for()
    page.fill("#wb-size", "1")
    # A function, not an expression: Playwright evaluates an expression with
    # eval(), which the portal's Content-Security-Policy refuses.
    page.wait_for_function(
        "() => document.querySelector('#wb-preview commune-datasets').shadowRoot"
        ".querySelectorAll('li.ds').length === 1")
    snippet = page.input_value("#wb-script")
    assert f'<script src="{portal}/communes/widget.js" defer></script>' in snippet
    assert 'commune="ville-b"' in snippet and 'page-size="1"' in snippet
    assert f"{portal}/commune/ville-b/widget?" in page.input_value("#wb-frame")
    os.makedirs(ARTIFACTS, exist_ok=True)
    page.screenshot(path=os.path.join(ARTIFACTS, "communes-widget-builder.png"), full_page=True)
