"""The access plugin's web pages, with cookie logins and CSRF tokens as a
browser sends them; French is the portal's default language."""

from __future__ import annotations

import html
import re

import ckan.model as model
import pytest
from ckan.tests import helpers

from ckanext.grandlyon_access.model import AccessLog, AccessRequest, Circle, Grant

PASSWORD = "correct-horse-battery"
TOKEN = re.compile(r'<meta name="_csrf_token" content="([^"]+)"')


def csrf_token(client, url: str) -> str:
    page = client.get(url)
    return TOKEN.search(page.body).group(1)


def login(client, name: str) -> None:
    token = csrf_token(client, "/user/login")
    res = client.post("/user/login", data={"login": name, "password": PASSWORD, "_csrf_token": token},
                   follow_redirects=False)
    assert res.status_code == 302, "login failed"


@pytest.fixture
def browser(app):
    """One client that keeps its cookies between requests, as a browser does
    (each call of the `app` fixture's get/post starts a new client)."""
    return app.test_client()


@pytest.fixture
def people(world):
    for name in ("org-admin", "outsider", "root", "grantee"):
        user = model.User.get(name)
        user.password = PASSWORD
    model.Session.commit()
    return world


def test_download_refusal_says_what_to_do_in_french(browser, people):
    file_id = people.datasets["restricted"]["file_id"]
    page = browser.get(f"/dataset/ds-restricted/resource/{file_id}/download", status=403)
    assert "Ces données ne vous sont pas encore ouvertes" in page.body
    assert "Se connecter" in page.body
    assert "origin.example.org" not in page.body


def test_outsider_asks_for_access_on_the_dataset_page(browser, people):
    login(browser, "outsider")
    page = browser.get("/dataset/ds-restricted")
    assert "Demander l'accès" in html.unescape(page.body)
    token = TOKEN.search(page.body).group(1)
    browser.post("/dataset/ds-restricted/access/request",
             data={"message": "Étude <b>fréquentation</b>", "_csrf_token": token})
    req = model.Session.query(AccessRequest).one()
    assert (req.status, req.message) == ("pending", "Étude <b>fréquentation</b>")
    page = browser.get("/dataset/ds-restricted")
    assert "en attente de décision" in page.body


def test_request_without_csrf_token_is_refused_and_stores_nothing(browser, people):
    login(browser, "outsider")
    browser.post("/dataset/ds-restricted/access/request", data={"message": "x"}, status=400)
    assert model.Session.query(AccessRequest).count() == 0


def test_admin_approves_from_the_dataset_page(browser, people):
    helpers.call_action("grandlyon_access_request_create", context={"user": "outsider"},
                        package_id="ds-restricted", message="Étude <script>alert(1)</script>")
    login(browser, "org-admin")
    page = browser.get("/dataset/ds-restricted")
    assert "<script>alert(1)</script>" not in page.body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.body
    req = model.Session.query(AccessRequest).one()
    token = TOKEN.search(page.body).group(1)
    browser.post(f"/dataset/ds-restricted/access/request/{req.id}/decide",
             data={"decision": "approve", "expires": "2099-01-01", "_csrf_token": token})
    model.Session.expire_all()
    assert model.Session.get(AccessRequest, req.id).status == "approved"
    grant = model.Session.query(Grant).filter_by(user_id=model.User.get("outsider").id).one()
    assert grant.expires.year == 2099


def test_circles_pages_are_for_sysadmins(browser, people):
    login(browser, "outsider")
    browser.get("/ckan-admin/access/circles", status=403)
    browser.get("/ckan-admin/access/log", status=403)


def test_sysadmin_creates_a_circle_and_adds_a_member(browser, people):
    login(browser, "root")
    token = csrf_token(browser, "/ckan-admin/access/circles")
    browser.post("/ckan-admin/access/circles",
             data={"name": "partenaires", "title": "Partenaires", "_csrf_token": token})
    browser.post("/ckan-admin/access/circles/partenaires",
             data={"action": "add", "user": "outsider", "_csrf_token": token})
    page = browser.get("/ckan-admin/access/circles/partenaires")
    assert "outsider" in page.body
    bad = browser.post("/ckan-admin/access/circles",
                   data={"name": "Pas Un Nom", "title": "", "_csrf_token": token})
    assert "Partenaires" in bad.body  # the list is shown again, with the errors
    assert model.Session.query(Circle).count() == 1


def test_access_log_exports_csv(browser, people):
    helpers.call_action("grandlyon_access_grant_create", context={"user": "root"},
                        package_id="ds-restricted", user="grantee")
    login(browser, "grantee")
    file_id = people.datasets["restricted"]["file_id"]
    browser.get(f"/dataset/ds-restricted/resource/{file_id}/download", follow_redirects=False)
    assert model.Session.query(AccessLog).count() == 1

    browser.get("/user/_logout")
    login(browser, "root")
    csv = browser.get("/ckan-admin/access/log?format=csv&user=grantee")
    lines = csv.body.strip().splitlines()
    assert lines[0] == "at,user,user_id,package_id,resource_id,surface"
    assert len(lines) == 2 and ",grantee," in lines[1] and lines[1].endswith(",download")
    by_licence = browser.get("/ckan-admin/access/log?format=csv&licence_id=odbl-1.0")
    assert len(by_licence.body.strip().splitlines()) == 1


def test_editor_grants_from_the_dataset_page(browser, people):
    user = model.User.get("org-editor")
    user.password = PASSWORD
    model.Session.commit()
    login(browser, "org-editor")
    page = browser.get("/dataset/ds-restricted")
    token = TOKEN.search(page.body).group(1)
    browser.post("/dataset/ds-restricted/access/grants",
             data={"user": "grantee", "_csrf_token": token})
    assert model.Session.query(Grant).filter_by(user_id=model.User.get("grantee").id).count() == 1


@pytest.mark.parametrize("path", ["/user/%00", "/dataset/%00", "/dataset/a%00b/resource/x",
                                  "/api/3/action/package_show/%00"])
def test_a_nul_in_the_address_is_refused_before_any_view(app, path):
    res = app.get(path, follow_redirects=False)
    assert res.status_code == 400
    assert "NUL" in res.get_data(as_text=True)
