"""Every auth function of the licence plugin through CKAN's `call_auth`, as
CKAN's own tests check theirs (test_actions.py checks the actions' answers
over HTTP): reading licences is public, signing needs a login, a user lists
their own signatures, sysadmins revoke signatures and publish versions.

`COVERED` names the auth functions this module tests; the suite's
completeness test (tests/test_auth_coverage.py) fails when the plugin
registers one that is not in it.
"""

from __future__ import annotations

from typing import Any

import pytest
from ckan.plugins import get_plugin, load_all, plugin_loaded
from ckan.tests import factories
from ckanext.grandlyon_access.testing.pytest_plugin import auth_allows, auth_context

# `nobody`: an anonymous call inside the portal (no user object);
# `anonymous`: one made over the web (CKAN's AnonymousUser object).
ACTORS = ("nobody", "anonymous", "user", "editor", "sysadmin")
LOGGED_IN = ("user", "editor", "sysadmin")

# Who may call each function, with the data_dict its action passes.
WHO_MAY = {
    "grandlyon_licence_list": (ACTORS, {}),
    "grandlyon_licence_show": (ACTORS, {"id": "mobilites"}),
    "grandlyon_licence_sign": (LOGGED_IN, {"licence_id": "mobilites"}),
    "grandlyon_licence_signature_list": (LOGGED_IN, {"licence_id": "mobilites"}),
    "grandlyon_licence_signature_revoke": (("sysadmin",), {"id": "a-signature", "reason": "r"}),
    "grandlyon_licence_version_publish": (("sysadmin",), {"licence_id": "mobilites",
                                                          "version": "9.0"}),
}
COVERED = tuple(WHO_MAY)


@pytest.fixture(scope="module")
def users(reset_portal_db) -> dict[str, dict[str, Any]]:
    """One set of users for the module (an editor of an organisation, to
    show that publishing datasets gives no right over licences)."""
    if not plugin_loaded("grandlyon_licence"):
        load_all()
    reset_portal_db()
    made = {"user": factories.User(name="lic-user"), "editor": factories.User(name="lic-editor"),
            "sysadmin": factories.Sysadmin(name="lic-root")}
    factories.Organization(users=[{"name": "lic-editor", "capacity": "editor"}])
    return made


def context(who: str) -> dict[str, Any]:
    if who in ("nobody", "anonymous"):
        return auth_context(anonymous_object=who == "anonymous")
    return auth_context(f"lic-{'root' if who == 'sysadmin' else who}")


def allowed(name: str, who: str, **data: Any) -> bool:
    return auth_allows(name, context(who), **data)


def test_the_plugin_registers_these_auth_functions_and_no_other():
    assert sorted(get_plugin("grandlyon_licence").get_auth_functions()) == sorted(COVERED)


@pytest.mark.parametrize("name", WHO_MAY)
def test_who_may_call_each_function(users, name):
    who_may, data = WHO_MAY[name]
    wrong = [who for who in ACTORS if allowed(name, who, **data) != (who in who_may)]
    assert wrong == []


def test_users_list_their_own_signatures_by_name_or_id(users):
    for ref in (users["user"]["name"], users["user"]["id"]):
        assert allowed("grandlyon_licence_signature_list", "user", user=ref)


@pytest.mark.parametrize("ref", ["lic-editor", "lic-root", "no-such-user"])
def test_users_may_not_list_other_users_signatures(users, ref):
    assert not allowed("grandlyon_licence_signature_list", "user", user=ref)


def test_sysadmins_list_anyones_signatures(users):
    for ref in ("lic-user", users["editor"]["id"], "no-such-user"):
        assert allowed("grandlyon_licence_signature_list", "sysadmin", user=ref)
