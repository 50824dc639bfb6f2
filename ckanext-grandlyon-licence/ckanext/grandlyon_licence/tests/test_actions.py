"""The actions over HTTP with API tokens: reading licences, signing, new
versions, revocation, and every bad input refused with nothing stored.

CKAN's action API answers a ValidationError with 409 and the errors by field,
a missing object with 404 and a refused authorisation with 403."""

from __future__ import annotations

import pytest
from ckanext.grandlyon_licence import shared
from ckanext.grandlyon_licence.tests.conftest import (
    MOBILITES_DETAILS,
    api_call,
    api_result,
    publish,
)


def sign(app, actor, **data):
    return api_result(app, "grandlyon_licence_sign", actor, licence_id="mobilites", **data)


# --- reading ---------------------------------------------------------------------------


def test_licence_list_gives_every_licence_without_its_text(app):
    licences = app.get("/api/3/action/grandlyon_licence_list").get_json()["result"]
    assert [(lic["id"], lic["version"], lic["signature_required"]) for lic in licences] == [
        ("lo-2.0", "2.0", False),
        ("odbl-1.0", "1.0", False),
        ("mobilites", "1.0", True),
    ]
    assert "text" not in licences[0]


def test_licence_show_gives_the_text_and_the_details_asked_in_the_request_language(app):
    shown = app.get("/en/api/3/action/grandlyon_licence_show", query_string={"id": "mobilites"})
    licence = shown.get_json()["result"]
    assert licence["version"] == "1.0"
    assert licence["text"].startswith("## Licence Mobilités, version 1.0")
    assert "What you may do" in licence["text"]
    assert "Ce que vous pouvez faire" in licence["text_translated"]["fr"]
    assert [(d["name"], d["label"], d["required"]) for d in licence["signer_details"]] == [
        ("organisation", "Organisation", True),
        ("intended_use", "Intended use of the data", True),
        ("contact_phone", "Contact phone", False),
    ]
    # anonymous: nothing to say about a signature
    assert licence["signed_current_version"] is None and licence["signature"] is None

    french = app.get("/api/3/action/grandlyon_licence_show", query_string={"id": "mobilites"})
    assert french.get_json()["result"]["signer_details"][1]["label"] == "Usage prévu des données"


def test_licence_show_of_an_unknown_licence_is_not_found(app):
    res = app.get("/api/3/action/grandlyon_licence_show", query_string={"id": "no-such-licence"})
    assert res.status_code == 404
    assert "no-such-licence" in res.get_json()["error"]["message"]


def test_licence_show_tells_a_user_whether_they_signed(app, user):
    before = api_result(app, "grandlyon_licence_show", user, id="mobilites")
    assert before["signed_current_version"] is False and before["signature"] is None
    signature = sign(app, user, **MOBILITES_DETAILS)
    after = api_result(app, "grandlyon_licence_show", user, id="mobilites")
    assert after["signed_current_version"] is True
    assert after["signature"]["id"] == signature["id"]


# --- signing -----------------------------------------------------------------------------


def test_signing_over_the_api_stores_the_signature(app, user, signature_count):
    signature = sign(app, user, version="1.0", **MOBILITES_DETAILS)
    assert signature["user_id"] == user.id and signature["user_name"] == user.name
    assert signature["licence_id"] == "mobilites" and signature["licence_version"] == "1.0"
    assert signature["details"] == MOBILITES_DETAILS
    assert signature["current"] is True and signature["revoked"] is False
    assert signature["signed_at"]
    assert signature_count() == 1
    assert shared.has_current_signature(user.id, "mobilites") is True
    assert shared.has_current_signature(user.name, "mobilites") is True


def test_an_optional_detail_may_be_left_out_and_values_are_trimmed(app, user):
    signature = sign(app, user, organisation="  Lyon Lab  ", intended_use="Recherche")
    assert signature["details"] == {"organisation": "Lyon Lab", "intended_use": "Recherche"}


def test_signing_again_returns_the_existing_signature(app, user, signature_count):
    first = sign(app, user, **MOBILITES_DETAILS)
    again = sign(app, user, **dict(MOBILITES_DETAILS, organisation="Autre"))
    assert again["id"] == first["id"]
    assert again["details"]["organisation"] == MOBILITES_DETAILS["organisation"]
    assert signature_count() == 1


@pytest.mark.parametrize(
    "data, field, message",
    [
        (
            {"licence_id": "no-such-licence", **MOBILITES_DETAILS},
            "licence_id",
            "No licence with this id: no-such-licence",
        ),
        ({"licence_id": "lo-2.0"}, "licence_id", "does not need to be signed"),
        ({**MOBILITES_DETAILS}, "licence_id", "Missing value"),
        ({"licence_id": "  ", **MOBILITES_DETAILS}, "licence_id", "Missing value"),
        (
            {"licence_id": "mobilites", "version": "0.9", **MOBILITES_DETAILS},
            "version",
            "Version 0.9 is not the current version of this licence: read version 1.0 and sign it",
        ),
        (
            {"licence_id": "mobilites", "intended_use": "Recherche"},
            "organisation",
            "Missing value: this licence asks for it",
        ),
        (
            {"licence_id": "mobilites", **dict(MOBILITES_DETAILS, intended_use="   ")},
            "intended_use",
            "Missing value: this licence asks for it",
        ),
        (
            {"licence_id": "mobilites", **dict(MOBILITES_DETAILS, organisation=["a", "b"])},
            "organisation",
            "Must be a text",
        ),
        (
            {"licence_id": "mobilites", **dict(MOBILITES_DETAILS, organisation="x" * 1001)},
            "organisation",
            "Too long: at most 1000 characters",
        ),
        (
            {"licence_id": "mobilites", "favourite_colour": "blue", **MOBILITES_DETAILS},
            "favourite_colour",
            "Unknown field: this licence does not ask for it",
        ),
    ],
)
def test_a_bad_signature_is_refused_naming_the_field_and_nothing_is_stored(
    app, user, signature_count, data, field, message
):
    res = api_call(app, "grandlyon_licence_sign", user, lang="en", **data)
    assert res.status_code == 409
    error = res.get_json()["error"]
    assert error["__type"] == "Validation Error"
    assert any(message in m for m in error[field]), error
    assert signature_count() == 0


def test_every_bad_detail_is_reported_at_once_in_french(app, user, signature_count):
    res = api_call(app, "grandlyon_licence_sign", user, licence_id="mobilites", version="0.1")
    error = res.get_json()["error"]
    assert res.status_code == 409
    assert {"version", "organisation", "intended_use"} <= set(error)
    assert error["organisation"] == ["Valeur manquante : cette licence la demande"]
    assert signature_count() == 0


def test_anonymous_users_cannot_sign(app, signature_count):
    res = api_call(app, "grandlyon_licence_sign", None, licence_id="mobilites", **MOBILITES_DETAILS)
    assert res.status_code == 403
    assert signature_count() == 0


# --- new versions ------------------------------------------------------------------------


def test_a_new_version_of_the_licence_must_be_signed_again(app, user, signature_count):
    old = sign(app, user, **MOBILITES_DETAILS)
    publish("2.0")

    shown = api_result(app, "grandlyon_licence_show", user, id="mobilites")
    assert shown["version"] == "2.0"
    assert shown["signed_current_version"] is False
    assert shared.has_current_signature(user.id, "mobilites") is False
    assert api_result(app, "grandlyon_licence_signature_list", user, current_only=True) == []
    [listed] = api_result(app, "grandlyon_licence_signature_list", user)
    assert (
        listed["id"] == old["id"]
        and listed["current"] is False
        and listed["current_version"] == "2.0"
    )

    res = api_call(
        app,
        "grandlyon_licence_sign",
        user,
        lang="en",
        licence_id="mobilites",
        version="1.0",
        **MOBILITES_DETAILS,
    )
    assert res.status_code == 409 and "read version 2.0" in res.get_json()["error"]["version"][0]
    assert signature_count() == 1

    new = sign(app, user, version="2.0", **MOBILITES_DETAILS)
    assert new["id"] != old["id"] and new["licence_version"] == "2.0" and new["current"] is True
    assert signature_count() == 2
    assert shared.has_current_signature(user.id, "mobilites") is True


# --- listing, revoking, authorisation ------------------------------------------------


def test_users_list_their_own_signatures_and_sysadmins_everyones(app, user, other_user, sysadmin):
    mine = sign(app, user, **MOBILITES_DETAILS)
    theirs = sign(app, other_user, **MOBILITES_DETAILS)

    assert [s["id"] for s in api_result(app, "grandlyon_licence_signature_list", user)] == [
        mine["id"]
    ]
    assert [
        s["id"] for s in api_result(app, "grandlyon_licence_signature_list", user, user=user.name)
    ] == [mine["id"]]
    res = api_call(app, "grandlyon_licence_signature_list", user, user=other_user.name)
    assert res.status_code == 403
    res = api_call(app, "grandlyon_licence_signature_list", user, user=other_user.id)
    assert res.status_code == 403
    assert api_call(app, "grandlyon_licence_signature_list", None).status_code == 403

    everyone = api_result(app, "grandlyon_licence_signature_list", sysadmin)
    assert {s["id"] for s in everyone} == {mine["id"], theirs["id"]}
    filtered = api_result(
        app,
        "grandlyon_licence_signature_list",
        sysadmin,
        user=other_user.name,
        licence_id="mobilites",
        current_only=True,
    )
    assert [s["id"] for s in filtered] == [theirs["id"]]
    assert api_result(app, "grandlyon_licence_signature_list", sysadmin, licence_id="lo-2.0") == []
    res = api_call(app, "grandlyon_licence_signature_list", sysadmin, user="nobody-at-all")
    assert res.status_code == 409 and "user" in res.get_json()["error"]


def test_a_sysadmin_revokes_a_signature_and_the_user_may_sign_again(
    app, user, sysadmin, signature_count
):
    signature = sign(app, user, **MOBILITES_DETAILS)
    revoked = api_result(
        app,
        "grandlyon_licence_signature_revoke",
        sysadmin,
        id=signature["id"],
        reason="Usage non conforme",
    )
    assert revoked["revoked"] is True and revoked["current"] is False
    assert revoked["revoked_by"] == sysadmin.id and revoked["revoke_reason"] == "Usage non conforme"
    assert revoked["revoked_at"]

    assert shared.has_current_signature(user.id, "mobilites") is False
    assert (
        api_result(app, "grandlyon_licence_show", user, id="mobilites")["signed_current_version"]
        is False
    )
    assert api_result(app, "grandlyon_licence_signature_list", user) == []
    [kept] = api_result(app, "grandlyon_licence_signature_list", user, include_revoked=True)
    assert kept["id"] == signature["id"] and kept["revoked"] is True

    again = sign(app, user, **MOBILITES_DETAILS)
    assert again["id"] != signature["id"]
    assert signature_count() == 2
    assert shared.has_current_signature(user.id, "mobilites") is True


def test_revoking_needs_a_known_signature_not_yet_revoked_and_a_reason(app, user, sysadmin):
    signature = sign(app, user, **MOBILITES_DETAILS)
    res = api_call(
        app, "grandlyon_licence_signature_revoke", sysadmin, id=signature["id"], reason="  "
    )
    assert res.status_code == 409 and "reason" in res.get_json()["error"]
    res = api_call(app, "grandlyon_licence_signature_revoke", sysadmin, id="no-such-id", reason="x")
    assert res.status_code == 404
    api_result(app, "grandlyon_licence_signature_revoke", sysadmin, id=signature["id"], reason="x")
    res = api_call(
        app,
        "grandlyon_licence_signature_revoke",
        sysadmin,
        lang="en",
        id=signature["id"],
        reason="y",
    )
    assert res.status_code == 409
    assert res.get_json()["error"]["id"][0].startswith("This signature was already revoked on ")


def test_users_cannot_revoke_signatures(app, user, other_user):
    signature = sign(app, other_user, **MOBILITES_DETAILS)
    for actor in (user, other_user, None):
        res = api_call(
            app, "grandlyon_licence_signature_revoke", actor, id=signature["id"], reason="x"
        )
        assert res.status_code == 403
    assert shared.has_current_signature(other_user.id, "mobilites") is True


# --- shared.py ---------------------------------------------------------------------------


def test_licence_requires_signature():
    assert shared.licence_requires_signature("mobilites") is True
    assert shared.licence_requires_signature("lo-2.0") is False
    assert shared.licence_requires_signature("no-such-licence") is False
    assert shared.licence_requires_signature(None) is False


def test_has_current_signature_is_false_for_others_and_unknowns(app, user, other_user):
    sign(app, user, **MOBILITES_DETAILS)
    assert shared.has_current_signature(other_user.id, "mobilites") is False
    assert shared.has_current_signature(user.id, "odbl-1.0") is False
    assert shared.has_current_signature("no-such-user", "mobilites") is False
    assert shared.has_current_signature("", "mobilites") is False


# --- publishing a new version ----------------------------------------------------------


def test_a_sysadmin_publishes_a_new_version_in_the_database_not_the_file(
    app, user, sysadmin, registry_copy
):
    path = registry_copy()
    before = path.read_text(encoding="utf-8")
    sign(app, user, **MOBILITES_DETAILS)

    published = api_result(app, "grandlyon_licence_version_publish", sysadmin,
                           licence_id="mobilites", version="2.0",
                           text={"fr": "## Version 2.0\n\nNouveau texte.", "en": ""})

    assert published["id"] == "mobilites" and published["version"] == "2.0"
    assert published["text_translated"]["fr"] == "## Version 2.0\n\nNouveau texte."
    # A language left empty keeps the text of the version before.
    assert "What you may do" in published["text_translated"]["en"]
    assert path.read_text(encoding="utf-8") == before  # the file is only a seed
    assert api_result(app, "grandlyon_licence_show", user, id="mobilites")["version"] == "2.0"
    assert shared.has_current_signature(user.id, "mobilites") is False
    assert api_result(app, "grandlyon_licence_show", user, id="lo-2.0")["version"] == "2.0"

    # The history: every version, who published it and when (sysadmins see who).
    history = api_result(app, "grandlyon_licence_show", sysadmin, id="mobilites")["versions"]
    assert [(v["version"], v["current"], v["published_by_name"]) for v in history] == [
        ("2.0", True, sysadmin.name), ("1.0", False, None)]
    assert history[1]["note"] == f"registry file {path}"
    assert history[0]["published_at"] >= history[1]["published_at"]
    public = api_result(app, "grandlyon_licence_show", user, id="mobilites")["versions"]
    assert [sorted(v) for v in public] == [["current", "published_at", "version"]] * 2


def test_the_text_of_an_old_version_stays_readable(app, user):
    signed = sign(app, user, **MOBILITES_DETAILS)
    publish("2.0", fr="Texte de la version 2.0", en="Text of version 2.0")

    old = api_result(app, "grandlyon_licence_show", user, id="mobilites",
                     version=signed["licence_version"])
    assert (old["version"], old["current_version"], old["is_current"]) == ("1.0", "2.0", False)
    assert old["text_translated"]["fr"].startswith("## Licence Mobilités, version 1.0")
    new = api_result(app, "grandlyon_licence_show", user, id="mobilites")
    assert (new["version"], new["is_current"], new["text"]) == (
        "2.0", True, "Texte de la version 2.0")
    res = api_call(app, "grandlyon_licence_show", user, lang="en", id="mobilites", version="9.9")
    assert res.status_code == 404 and "no version 9.9" in res.get_json()["error"]["message"]


@pytest.mark.parametrize("data,field,message", [
    ({"licence_id": "mobilites", "version": "1.0"}, "version",
     "1.0 is already the current version"),
    ({"licence_id": "mobilites", "version": ""}, "version", "e.g. 2.0"),
    ({"licence_id": "mobilites", "version": "2.0\n"}, None, None),
    ({"licence_id": "mobilites", "version": "<b>3</b>"}, "version", "e.g. 2.0"),
    ({"licence_id": "no-such-licence", "version": "2.0"}, "licence_id", "Choose a licence"),
    ({"licence_id": "mobilites", "version": "2.0", "text": "plain"}, "text",
     "markdown per language code"),
    ({"licence_id": "mobilites", "version": "2.0", "text": {"<b>": "x"}}, "text",
     "markdown per language code"),
])
def test_a_bad_new_version_is_refused_naming_the_field(app, sysadmin, data, field, message):
    res = api_call(app, "grandlyon_licence_version_publish", sysadmin, lang="en", **data)
    if field is None:  # surrounding spaces are trimmed
        assert res.status_code == 200
        assert res.get_json()["result"]["version"] == "2.0"
        return
    assert res.status_code == 409
    assert message in res.get_json()["error"][field][0]
    shown = api_result(app, "grandlyon_licence_show", sysadmin, id="mobilites")
    assert [v["version"] for v in shown["versions"]] == ["1.0"]


def test_a_version_published_before_cannot_come_back(app, sysadmin):
    """Publishing 1.0 again after 2.0 would make the old signatures count again."""
    publish("2.0")
    res = api_call(app, "grandlyon_licence_version_publish", sysadmin, lang="en",
                   licence_id="mobilites", version="1.0")
    assert res.status_code == 409
    assert "Version 1.0 of this licence was already published on" in (
        res.get_json()["error"]["version"][0])
    assert api_result(app, "grandlyon_licence_show", sysadmin, id="mobilites")["version"] == "2.0"


def test_only_sysadmins_publish_a_new_version(app, user):
    res = api_call(app, "grandlyon_licence_version_publish", user,
                   licence_id="mobilites", version="2.0")
    assert res.status_code == 403
    assert api_result(app, "grandlyon_licence_show", user, id="mobilites")["version"] == "1.0"
