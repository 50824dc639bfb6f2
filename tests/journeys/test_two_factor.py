"""Journey 6, two-factor sign-in: a sysadmin, of whom the portal requires a
second factor, logs in with the password and is sent to set it up (QR code
and key, a first code from the app), keeps the recovery codes, lands on the
page they asked for; later logs in with the password and a code from the
app. In French, through the web UI, the codes computed as the phone's app
would (pyotp).
"""

from __future__ import annotations

import re
import time

import pyotp
import pytest
from ckan.tests import factories
from playwright.sync_api import expect

PASSWORD = "double-facteur-2026"


@pytest.fixture
def live_portal_settings() -> dict[str, str]:
    """Sysadmins must use two-factor sign-in (the test ini requires it of
    no one)."""
    return {"ckanext.grandlyon_access.two_factor.required_for": "sysadmin"}


def fresh_step() -> None:
    """Waits out the last seconds of a TOTP time step."""
    if time.time() % 30 > 22:
        time.sleep(30 - time.time() % 30 + 0.5)


def log_in(j, name: str, next_path: str = "") -> None:
    page = j.page
    j.goto("/user/login" + (f"?next={next_path}" if next_path else ""))
    page.get_by_label("Nom d'utilisateur ou courriel").fill(name)
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_load_state("networkidle")


def test_sysadmin_sets_up_two_factor_then_logs_in_with_a_code(portal, journey):
    factories.Sysadmin(name="camille-admin", fullname="Camille Admin",
                       email="camille@example.org", password=PASSWORD)
    admin = journey()
    page = admin.page

    # The password alone does not log in: the second factor is set up first.
    log_in(admin, "camille-admin", next_path="/dataset/")
    expect(page).to_have_url(re.compile(r"/user/two-factor/enrol$"))
    expect(page.locator("h1")).to_have_text("Mettre en place la double authentification")
    expect(page.locator(".grandlyon-two-factor-qr svg")).to_be_visible()
    admin.check("enrol")
    secret = page.locator("#two-factor-secret").inner_text().strip()

    # A wrong code is refused; the app's code switches it on.
    page.get_by_label("Code de l'application").fill("000000")
    page.get_by_role("button", name="Activer").click()
    page.wait_for_load_state("networkidle")
    expect(page.locator(".flash-messages")).to_contain_text("Ce code n'est pas valide")
    fresh_step()
    page.get_by_label("Code de l'application").fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="Activer").click()
    page.wait_for_load_state("networkidle")
    expect(page.locator("h1")).to_have_text("Vos codes de secours")
    expect(page.locator("#recovery-codes li")).to_have_count(10)
    admin.check("recovery-codes", english=False)
    page.get_by_role("link", name="Je les ai gardés, continuer").click()
    page.wait_for_load_state("networkidle")
    expect(page).to_have_url(re.compile(r"/dataset/$"))

    # The account's page says it is on.
    admin.goto("/user/camille-admin/two-factor")
    expect(page.locator("#two-factor-on")).to_be_visible()
    admin.check("account")

    # Logs out, then in again: password, then a code from the app.
    admin.goto("/user/_logout")
    log_in(admin, "camille-admin")
    expect(page).to_have_url(re.compile(r"/user/two-factor/verify$"))
    admin.check("verify")
    # the next time step's code: the enrolment used the current one
    page.get_by_label("Code de l'application ou code de secours").fill(
        pyotp.TOTP(secret).at(time.time() + 30))
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_load_state("networkidle")
    expect(page).to_have_url(re.compile(r"/user/camille-admin$"))
    assert admin.goto("/ckan-admin/").status == 200  # logged in, as a sysadmin
