"""The web pages: licences and their earlier versions, signing with the form
(cookie login, CSRF), one's signatures, and the sysadmins' table with its CSV
export, revocation, and the versions of a licence with the form that
publishes a new one with its texts."""

from __future__ import annotations

import csv
import io
import re

import pytest
from ckanext.grandlyon_licence import shared
from ckanext.grandlyon_licence.tests.conftest import (
    MOBILITES_DETAILS,
    api_result,
    csrf_token,
    publish,
)

XSS = "<script>alert('x')</script>"


def sign_form(client, path="/licence/mobilites", accept=True, token=True, **details):
    page = client.get(path).get_data(as_text=True)
    data = {"version": "1.0", **details}
    if accept:
        data["accept"] = "1"
    if token:
        data["_csrf_token"] = csrf_token(page)
    return client.post(path, data=data, follow_redirects=False)


# --- reading --------------------------------------------------------------------------


def test_the_licence_list_links_every_licence_in_the_request_language(app):
    page = app.get("/licence/").get_data(as_text=True)
    for licence_id in ("lo-2.0", "odbl-1.0", "mobilites"):
        assert f'href="/licence/{licence_id}"' in page
    assert "Licence Mobilités (mobility data licence)" not in page
    english = app.get("/en/licence/").get_data(as_text=True)
    assert "Licence Mobilités (mobility data licence)" in english
    assert 'href="/en/licence/mobilites"' in english


def test_a_licence_page_renders_its_markdown_text(app):
    page = app.get("/en/licence/mobilites").get_data(as_text=True)
    assert "<h2>Licence Mobilités, version 1.0</h2>" in page
    assert "<strong>Attribution</strong>" in page
    assert "Version 1.0" in page


def test_an_open_licence_has_nothing_to_sign(app):
    page = app.get("/en/licence/lo-2.0").get_data(as_text=True)
    assert "Licence Ouverte / Open Licence 2.0" in page
    assert 'id="sign"' not in page and "Log in to sign" not in page


def test_an_unknown_licence_is_not_found(app):
    assert app.get("/licence/no-such-licence").status_code == 404


def test_anonymous_users_are_asked_to_log_in_to_sign(app):
    page = app.get("/en/licence/mobilites").get_data(as_text=True)
    assert 'href="/en/user/login?came_from=/en/licence/mobilites"' in page
    assert "Log in to sign this licence" in page
    assert 'name="organisation"' not in page


def test_anonymous_posts_are_sent_to_the_login_page(app, clean_db, signature_count):
    client = app.test_client()
    page = client.get("/licence/mobilites").get_data(as_text=True)
    token = re.search(r'<meta name="_csrf_token" content="([^"]+)"', page).group(1)
    res = client.post(
        "/licence/mobilites",
        data={"_csrf_token": token, "accept": "1", **MOBILITES_DETAILS},
        follow_redirects=False,
    )
    assert res.status_code == 302 and "/user/login?came_from=" in res.headers["Location"]
    assert signature_count() == 0


# --- signing with the form --------------------------------------------------------------


def test_a_logged_in_user_sees_the_form_with_labels_in_their_language(browser, user):
    client = browser(user)
    page = client.get("/licence/mobilites").get_data(as_text=True)
    assert 'name="_csrf_token"' in page
    assert 'name="organisation"' in page and 'name="intended_use"' in page
    assert "Usage prévu des données" in page
    english = client.get("/en/licence/mobilites").get_data(as_text=True)
    assert "Intended use of the data" in english and "Usage prévu des données" not in english


def test_signing_with_the_form(browser, user, signature_count):
    client = browser(user)
    res = sign_form(client, **MOBILITES_DETAILS)
    assert res.status_code == 302 and res.headers["Location"].endswith("/licence/mobilites")
    assert signature_count() == 1
    assert shared.has_current_signature(user.id, "mobilites")

    page = client.get("/licence/mobilites").get_data(as_text=True)
    assert "Vous avez signé la version 1.0 le" in page
    assert 'name="organisation"' not in page
    english = client.get("/en/licence/mobilites").get_data(as_text=True)
    assert "You signed version 1.0 on" in english


def test_signing_goes_back_to_the_page_the_signer_came_from(browser, user):
    client = browser(user)
    page = client.get("/licence/mobilites?came_from=/dataset/comptages").get_data(as_text=True)
    assert 'name="came_from" value="/dataset/comptages"' in page
    data = {"version": "1.0", "accept": "1", "came_from": "/dataset/comptages",
            "_csrf_token": csrf_token(page), **MOBILITES_DETAILS}
    res = client.post("/licence/mobilites", data=data, follow_redirects=False)
    assert res.status_code == 302 and res.headers["Location"].endswith("/dataset/comptages")


def test_signing_never_sends_the_signer_to_another_site(browser, other_user):
    client = browser(other_user)
    page = client.get("/licence/mobilites?came_from=https://evil.example.org/").get_data(
        as_text=True)
    assert 'name="came_from"' not in page
    data = {"version": "1.0", "accept": "1", "came_from": "https://evil.example.org/",
            "_csrf_token": csrf_token(page), **MOBILITES_DETAILS}
    res = client.post("/licence/mobilites", data=data, follow_redirects=False)
    assert res.status_code == 302 and res.headers["Location"].endswith("/licence/mobilites")


def test_a_form_without_csrf_token_is_refused(browser, user, signature_count):
    client = browser(user)
    res = sign_form(client, token=False, **MOBILITES_DETAILS)
    assert res.status_code == 400
    assert signature_count() == 0


def test_errors_are_shown_in_the_form_in_the_users_language_and_data_is_kept(
    browser, user, signature_count
):
    client = browser(user)
    res = sign_form(client, organisation=XSS, intended_use="  ", contact_phone="04 00")
    page = res.get_data(as_text=True)
    assert res.status_code == 200
    assert "Valeur manquante : cette licence la demande" in page
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in page  # kept, escaped
    assert XSS not in page
    assert 'value="04 00"' in page
    assert signature_count() == 0

    res = sign_form(client, "/en/licence/mobilites", organisation="Lab")
    page = res.get_data(as_text=True)
    assert "Missing value: this licence asks for it" in page and 'value="Lab"' in page
    assert signature_count() == 0


def test_the_terms_must_be_accepted(browser, user, signature_count):
    client = browser(user)
    page = sign_form(client, "/en/licence/mobilites", accept=False, **MOBILITES_DETAILS).get_data(
        as_text=True
    )
    assert "Tick the box to accept the terms of the licence" in page
    assert f'value="{MOBILITES_DETAILS["organisation"]}"' in page
    assert signature_count() == 0


def test_the_page_asks_to_sign_a_new_version_again(browser, user, signature_count):
    client = browser(user)
    sign_form(client, **MOBILITES_DETAILS)
    publish("2.0")

    page = client.get("/en/licence/mobilites").get_data(as_text=True)
    assert "You signed version 1.0 on" in page and "read version 2.0 and sign it again" in page
    assert 'name="organisation"' in page

    # a form shown for version 1.0 and sent after the change is refused
    res = client.post(
        "/en/licence/mobilites",
        data={
            "version": "1.0",
            "accept": "1",
            "_csrf_token": csrf_token(page),
            **MOBILITES_DETAILS,
        },
    )
    assert "Version 1.0 is not the current version of this licence" in res.get_data(as_text=True)
    assert signature_count() == 1

    page = client.get("/licence/mobilites").get_data(as_text=True)
    res = client.post(
        "/licence/mobilites",
        data={
            "version": "2.0",
            "accept": "1",
            "_csrf_token": csrf_token(page),
            **MOBILITES_DETAILS,
        },
        follow_redirects=False,
    )
    assert res.status_code == 302
    assert signature_count() == 2


def test_an_earlier_version_stays_readable_with_nothing_to_sign(browser, user):
    client = browser(user)
    sign_form(client, **MOBILITES_DETAILS)
    publish("2.0", fr="## Conditions 2.0", en="## Terms 2.0")

    page = client.get("/en/licence/mobilites").get_data(as_text=True)
    assert "Terms 2.0" in page and 'name="organisation"' in page
    assert 'href="/en/licence/mobilites?version=1.0"' in page

    old = client.get("/en/licence/mobilites?version=1.0").get_data(as_text=True)
    assert "This is version 1.0 of the licence, published on" in old
    assert "It has been replaced by version 2.0." in old
    assert "What you may do" in old and "Terms 2.0" not in old
    assert 'name="organisation"' not in old  # an earlier version is not signed
    assert client.get("/en/licence/mobilites?version=0.9").status_code == 404

    french = client.get("/licence/mobilites?version=1.0").get_data(as_text=True)
    assert "Ceci est la version 1.0 de la licence" in french


# --- my signatures ------------------------------------------------------------------------


def test_my_signatures_need_a_login(app):
    res = app.get("/licence/mine", follow_redirects=False)
    assert res.status_code == 302 and "/user/login" in res.headers["Location"]


def test_my_signatures_list_what_i_signed_and_whether_it_is_current(
    app, browser, user, other_user, sysadmin
):
    client = browser(user)
    assert "You have not signed any licence yet." in client.get("/en/licence/mine").get_data(
        as_text=True
    )

    sign_form(client, **MOBILITES_DETAILS)
    api_result(
        app, "grandlyon_licence_sign", other_user, licence_id="mobilites", **MOBILITES_DETAILS
    )
    page = client.get("/en/licence/mine").get_data(as_text=True)
    assert "Licence Mobilités (mobility data licence)" in page
    assert "Current" in page and "1.0" in page

    publish("2.0")
    page = client.get("/en/licence/mine").get_data(as_text=True)
    assert "Outdated" in page and "version 2.0 must be signed" in page
    assert 'href="/en/licence/mobilites?version=1.0"' in page  # what I signed
    assert page.count("<tr>") == 2  # header and my one signature, not the other user's


# --- the sysadmins' table -----------------------------------------------------------------


def test_only_sysadmins_see_the_signatures_table(app, user, sysadmin):
    assert app.get("/ckan-admin/licence-signatures").status_code == 403
    assert app.get("/ckan-admin/licence-signatures", headers=user.headers).status_code == 403
    assert (
        app.get("/ckan-admin/licence-signatures?format=csv", headers=user.headers).status_code
        == 403
    )
    assert app.get("/ckan-admin/licence-signatures", headers=sysadmin.headers).status_code == 200


def test_the_signatures_table_filters_and_escapes(app, user, other_user, sysadmin):
    api_result(
        app,
        "grandlyon_licence_sign",
        user,
        licence_id="mobilites",
        **dict(MOBILITES_DETAILS, intended_use=XSS),
    )
    api_result(
        app, "grandlyon_licence_sign", other_user, licence_id="mobilites", **MOBILITES_DETAILS
    )

    page = app.get("/en/ckan-admin/licence-signatures", headers=sysadmin.headers).get_data(
        as_text=True
    )
    assert "2 signatures" in page
    assert user.name in page and other_user.name in page
    assert "Intended use of the data" in page
    assert XSS not in page and "&lt;script&gt;" in page
    assert page.count('name="reason"') == 2

    page = app.get(
        "/en/ckan-admin/licence-signatures",
        query_string={"user": other_user.name},
        headers=sysadmin.headers,
    ).get_data(as_text=True)
    assert (
        "1 signatures" in page
        and f"<td>{other_user.name}</td>" in page
        and f"<td>{user.name}</td>" not in page
    )

    page = app.get(
        "/en/ckan-admin/licence-signatures",
        query_string={"licence_id": "odbl-1.0"},
        headers=sysadmin.headers,
    ).get_data(as_text=True)
    assert "No signature matches these filters." in page

    page = app.get(
        "/en/ckan-admin/licence-signatures",
        query_string={"user": "nobody-at-all"},
        headers=sysadmin.headers,
    ).get_data(as_text=True)
    assert "No user with this name or id" in page

    publish("2.0")
    page = app.get(
        "/en/ckan-admin/licence-signatures", query_string={"current": "1"}, headers=sysadmin.headers
    ).get_data(as_text=True)
    assert "No signature matches these filters." in page


def test_the_csv_export(app, user, other_user, sysadmin):
    mine = api_result(
        app,
        "grandlyon_licence_sign",
        user,
        licence_id="mobilites",
        **dict(MOBILITES_DETAILS, organisation='=HYPERLINK("http://evil")'),
    )
    api_result(
        app,
        "grandlyon_licence_sign",
        other_user,
        licence_id="mobilites",
        organisation='Lab, "Lyon"',
        intended_use="Recherche",
    )
    api_result(app, "grandlyon_licence_signature_revoke", sysadmin, id=mine["id"], reason="Fraude")

    res = app.get("/ckan-admin/licence-signatures?format=csv", headers=sysadmin.headers)
    assert res.status_code == 200
    assert res.headers["Content-Type"].startswith("text/csv")
    assert "attachment" in res.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(res.get_data(as_text=True))))
    assert list(rows[0]) == [
        "id",
        "user_name",
        "user_id",
        "licence_id",
        "licence_version",
        "current",
        "signed_at",
        "revoked_at",
        "revoked_by_name",
        "revoke_reason",
        "organisation",
        "intended_use",
        "contact_phone",
    ]
    by_user = {row["user_name"]: row for row in rows}
    assert set(by_user) == {user.name, other_user.name}
    assert by_user[other_user.name]["organisation"] == 'Lab, "Lyon"'
    assert (
        by_user[other_user.name]["current"] == "yes"
        and by_user[other_user.name]["contact_phone"] == ""
    )
    revoked = by_user[user.name]
    assert revoked["id"] == mine["id"] and revoked["licence_version"] == "1.0"
    assert revoked["current"] == "no" and revoked["revoke_reason"] == "Fraude"
    assert revoked["revoked_by_name"] == sysadmin.name and revoked["revoked_at"]
    assert revoked["organisation"] == '\'=HYPERLINK("http://evil")'  # no formula for spreadsheets

    current = app.get(
        "/ckan-admin/licence-signatures?format=csv&current=1", headers=sysadmin.headers
    )
    rows = list(csv.DictReader(io.StringIO(current.get_data(as_text=True))))
    assert [row["user_name"] for row in rows] == [other_user.name]


def test_a_sysadmin_revokes_with_the_form(app, browser, user, sysadmin, signature_count):
    signature = api_result(
        app, "grandlyon_licence_sign", user, licence_id="mobilites", **MOBILITES_DETAILS
    )
    client = browser(sysadmin)
    page = client.get("/en/ckan-admin/licence-signatures").get_data(as_text=True)
    action = f"/en/ckan-admin/licence-signatures/{signature['id']}/revoke"
    assert f'action="{action}"' in page

    res = client.post(action, data={"reason": "  ", "_csrf_token": csrf_token(page)})
    assert "Reason: Missing value" in res.get_data(as_text=True)
    assert shared.has_current_signature(user.id, "mobilites")

    res = client.post(
        action,
        data={"reason": "Usage abusif", "user": user.name, "_csrf_token": csrf_token(page)},
        follow_redirects=False,
    )
    assert res.status_code == 302 and f"user={user.name}" in res.headers["Location"]
    assert not shared.has_current_signature(user.id, "mobilites")
    page = client.get(res.headers["Location"]).get_data(as_text=True)
    assert "The signature was revoked." in page and "Usage abusif" in page
    assert signature_count() == 1


@pytest.mark.parametrize("token", [False, True])
def test_users_cannot_revoke_with_the_form(app, browser, user, other_user, token):
    signature = api_result(
        app, "grandlyon_licence_sign", other_user, licence_id="mobilites", **MOBILITES_DETAILS
    )
    client = browser(user)
    data = {"reason": "x"}
    if token:
        data["_csrf_token"] = csrf_token(client.get("/licence/mobilites").get_data(as_text=True))
    res = client.post(f"/ckan-admin/licence-signatures/{signature['id']}/revoke", data=data)
    assert res.status_code == (403 if token else 400)
    assert shared.has_current_signature(other_user.id, "mobilites")


def test_a_sysadmin_publishes_a_version_with_its_texts(app, browser, user, sysadmin):
    client = browser(sysadmin)
    page = client.get("/en/ckan-admin/licence-signatures").get_data(as_text=True)
    assert 'name="text_fr"' not in page  # texts: once a licence is chosen
    page = client.get("/en/ckan-admin/licence-signatures?licence_id=mobilites").get_data(
        as_text=True)
    assert "Versions of Licence Mobilités" in page
    assert re.search(r'<textarea[^>]*name="text_fr"[^>]*>\s*## Licence Mobilités, version 1.0',
                     page)

    res = client.post("/en/ckan-admin/licences/version", data={
        "_csrf_token": csrf_token(page), "licence_id": "mobilites", "shown": "licence",
        "version": "2.0", "text_fr": "## Version 2.0\r\n\r\nNouveau texte.", "text_en": "  ",
    }, follow_redirects=False)
    assert res.status_code == 302
    assert res.headers["Location"].endswith("/ckan-admin/licence-signatures?licence_id=mobilites")

    page = client.get(res.headers["Location"]).get_data(as_text=True)
    assert "Version 2.0 of Licence Mobilités (mobility data licence) is published" in page
    history = page.split('class="table table-bordered grandlyon-licence-history"')[1]
    rows = re.findall(r"<tr>(.*?)</tr>", history, re.S)[1:]
    assert "2.0" in rows[0] and "Current" in rows[0] and sysadmin.name in rows[0]
    assert "1.0" in rows[1] and "registry file" in rows[1]
    shown = api_result(app, "grandlyon_licence_show", user, id="mobilites")
    assert shown["text_translated"]["fr"] == "## Version 2.0\r\n\r\nNouveau texte."
    assert "What you may do" in shown["text_translated"]["en"]  # left empty: kept


def test_the_admin_pages_have_a_tab_for_the_signatures(app, sysadmin):
    page = app.get("/en/ckan-admin", headers=sysadmin.headers).get_data(as_text=True)
    assert 'href="/en/ckan-admin/licence-signatures"' in page and "Licence signatures" in page
