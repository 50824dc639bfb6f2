"""What every browser journey stands on.

A journey is a person's path through the portal in headless Chromium (Debian's
package, driven by Playwright), through the web UI only, in French. It runs
against a real CKAN web server started on the test ini (`portal`: the shared
plugin's `live_portal`), with the workers it needs started the same way, and
an SMTP catcher on the address the test ini gives (`mailbox`, in the root
conftest).

Each page a journey stops at goes through `Journey.check`: no serious or
critical axe-core violation, no horizontal scrolling at a phone's width, the
same page in English, and a screenshot in test-artifacts/journeys/ (the
README's tour is made from them: `./portal tour`).

The portal's Content-Security-Policy is enforced as in production: any
violation in any page or frame of the journey (a `securitypolicyviolation`
event, or Chromium's console error naming the policy, as for a refused
frame-ancestors) fails the journey at its next check, or at its end.
"""

from __future__ import annotations

import json
import os
import re
from urllib.parse import urlsplit, urlunsplit

import ckan.plugins.toolkit as tk
import pytest
from ckan.tests import factories, helpers
from ckanext.grandlyon_access.testing.pytest_plugin import LivePortal
from ckanext.history import store

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
ARTIFACTS = os.path.join(REPO, "test-artifacts", "journeys")
AXE = os.path.join(HERE, "node_modules", "axe-core", "axe.min.js")
# Reports every CSP violation of a document to the test (all frames, every
# page of the context), before any script of the page runs.
CSP_LISTENER = """document.addEventListener('securitypolicyviolation', (e) =>
    window.__journeyCspViolation({directive: e.violatedDirective, blocked: e.blockedURI,
        page: e.documentURI, source: e.sourceFile, line: e.lineNumber, sample: e.sample}));"""
CSP_CONSOLE = re.compile(r"Content Security Policy|Refused to (frame|load|execute|connect|apply)")
PHONE = {"width": 375, "height": 812}
DESKTOP = {"width": 1280, "height": 900}
BLOCKING_IMPACTS = ("serious", "critical")


# --- the portal and its workers -------------------------------------------------------
@pytest.fixture
def portal(clean_db, clean_index, mailbox, live_portal) -> LivePortal:
    """The shared plugin's `live_portal` on an empty database and index
    (emptied before the server starts), with the SMTP catcher listening:
    a real CKAN web server on the test ini, its own address as
    `ckan.site_url`, and its workers (`portal.start(...)`) on its ini. A
    journey module adds settings by overriding `live_portal_settings`."""
    return live_portal


# --- the person in the browser ----------------------------------------------------------
class Journey:
    """One person's browser (a French-speaking context of its own) and the
    checks made at each page the journey stops at."""

    def __init__(self, browser, portal: LivePortal, name: str):
        self.portal = portal
        self.name = name
        self.context = browser.new_context(locale="fr-FR", viewport=DESKTOP,
                                           accept_downloads=True)
        self.context.set_default_timeout(20_000)
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.csp_violations: list[str] = []
        self.context.expose_binding("__journeyCspViolation",
                                    lambda _source, v: self.csp_violations.append(str(v)))
        self.context.add_init_script(CSP_LISTENER)
        self.context.on("console", self._console)
        self.steps = 0
        self.checked: list[str] = []
        os.makedirs(ARTIFACTS, exist_ok=True)

    def _console(self, message) -> None:
        if message.type == "error" and CSP_CONSOLE.search(message.text):
            self.csp_violations.append(f"{message.text} ({message.location.get('url')})")

    def assert_no_csp_violation(self, step: str) -> None:
        """Nothing the portal's Content-Security-Policy refused so far."""
        violations, self.csp_violations[:] = list(self.csp_violations), []
        assert not violations, f"{step}: Content-Security-Policy violations: {violations}"

    def goto(self, path: str):
        """Opens a page of the portal by its path (French, the default locale)."""
        response = self.page.goto(self.portal.url + path)
        self.page.wait_for_load_state("networkidle")
        return response

    def check(self, step: str, *, english: bool = True, wait_for: str | None = None,
              status: int | None = None) -> None:
        """The page the person is on: accessible, usable at a phone's width,
        available in English (answering `status` when the page is a refusal),
        and photographed as `<journey>-<nn>-<step>.png`."""
        page = self.page
        page.wait_for_load_state("networkidle")
        if wait_for:
            page.wait_for_selector(wait_for)
        lang = page.locator("html").get_attribute("lang", timeout=5000)
        assert lang in ("fr", "fr-FR", "fr_FR"), f"{step}: the page is not in French ({page.url})"
        self.steps += 1
        shot = os.path.join(ARTIFACTS, f"{self.name}-{self.steps:02d}-{step}.png")
        page.screenshot(path=shot, full_page=False)
        assert_accessible(page, step)
        assert_fits_a_phone(page, step, os.path.join(ARTIFACTS,
                                                     f"{self.name}-{self.steps:02d}-{step}-phone.png"))
        if english:
            assert_english_version(self.context, page.url, step, status)
        assert not self.errors, f"{step}: JavaScript errors on {page.url}: {self.errors}"
        self.assert_no_csp_violation(step)
        self.checked.append(page.url)

    def close(self) -> None:
        self.context.close()


def assert_accessible(page, step: str) -> None:
    """axe-core finds no serious or critical violation on the page."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        # Evaluated, not added as a <script> tag: the page's policy would
        # refuse an inline script (and count as a violation).
        with open(AXE, encoding="utf-8") as source:
            page.evaluate(source.read())
    result = page.evaluate("""async () => {
        const r = await axe.run(document, {resultTypes: ['violations']});
        return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.slice(0, 5).map(n => n.target.join(' '))}));
    }""")
    blocking = [v for v in result if v["impact"] in BLOCKING_IMPACTS]
    assert not blocking, f"{step}: accessibility violations on {page.url}:\n" + json.dumps(
        blocking, indent=1, ensure_ascii=False)


def assert_fits_a_phone(page, step: str, shot: str) -> None:
    """At 375 px wide, the page does not scroll sideways."""
    page.set_viewport_size(PHONE)
    try:
        page.wait_for_timeout(150)
        width = page.evaluate("() => document.documentElement.scrollWidth")
        page.screenshot(path=shot, full_page=False)
        assert width <= PHONE["width"] + 1, (
            f"{step}: {page.url} is {width}px wide at a phone's {PHONE['width']}px; widest: "
            + str(page.evaluate("""(w) => [...document.querySelectorAll('body *')]
                .filter(e => e.getBoundingClientRect().right > w + 1)
                .slice(-5).map(e => e.tagName + '.' + e.className)""", PHONE["width"])))
    finally:
        page.set_viewport_size(DESKTOP)


def english_url(url: str) -> str:
    """The same page with CKAN's /en/ locale prefix."""
    parts = urlsplit(url)
    path = re.sub(r"^/(fr|en)(?=/|$)", "", parts.path) or "/"
    return urlunsplit(parts._replace(path="/en" + path))


def assert_english_version(context, url: str, step: str, status: int | None = None) -> None:
    """The page exists in English: same status, <html lang="en">, and the
    portal's navigation in English."""
    page = context.new_page()
    try:
        response = page.goto(english_url(url))
        assert response is not None and (
            response.status == status if status else response.status < 400), \
            f"{step}: {english_url(url)} answered {response and response.status}"
        assert page.locator("html").get_attribute("lang") == "en", \
            f"{step}: {english_url(url)} is not in English"
        nav = page.locator("header").first.inner_text()  # the masthead (pages may have more)
        assert "Jeux de données" not in nav, f"{step}: the English page's header is French"
    finally:
        page.close()


@pytest.fixture
def journey(chromium, portal, request):
    """A Journey named after the test module (test_reuser.py -> reuser)."""
    opened: list[Journey] = []

    def open_journey(name: str | None = None) -> Journey:
        base = re.sub(r"^test_", "", request.module.__name__.rsplit(".", 1)[-1])
        j = Journey(chromium, portal, name or base)
        opened.append(j)
        return j

    yield open_journey
    for j in opened:
        try:
            j.page.wait_for_timeout(200)  # reports of the last page arrive
            j.assert_no_csp_violation("end of the journey")
        finally:
            j.close()


# --- a real-time history, published before the browser starts -----------------------
FEED_URL = "http://127.0.0.1:9/stations.geojson"  # never polled: the feeds are disabled


def publish_history(prefix: str, dataset: dict, resource_name: str, fields: list[dict],
                    rows: list[dict], view_type: str, view_title: str) -> dict:
    """A sysadmin's organisation, an open dataset (`dataset`: name, title)
    whose resource `resource_name` has a disabled GeoJSON feed declaring
    `fields`, its `rows`, and a view; returns the resource."""
    admin = factories.Sysadmin(name=f"{prefix}-publisher")
    org = factories.Organization(name=f"{prefix}-velos", title="Vélos partagés")
    as_admin = {"user": admin["name"]}
    created = helpers.call_action(
        "package_create", context=as_admin, owner_org=org["id"], license_id="lo-2.0",
        access_level="open", **dataset,
        resources=[{"name": resource_name, "url": FEED_URL, "format": "GeoJSON"}])
    resource = created["resources"][0]
    allow_key = "ckanext.grandlyon_access.outbound.allow"
    allowed_before = tk.config.get(allow_key)
    tk.config[allow_key] = ["127.0.0.1"]  # the feed's address, allowed while it is declared
    try:
        helpers.call_action(
            "history_feed_create", context=as_admin, resource_id=resource["id"], url=FEED_URL,
            format="geojson", feature_id_field="number", time_field="", enabled=False,
            fields=fields)
    finally:
        tk.config[allow_key] = allowed_before
    store.write_rows(resource["id"], rows)
    helpers.call_action("resource_view_create", context=as_admin, resource_id=resource["id"],
                        view_type=view_type, title=view_title)
    return resource

