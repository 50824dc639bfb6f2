"""Every auth function of the communes plugin through CKAN's `call_auth`, as
CKAN's own tests check theirs. Both read actions are public by design: the
widget searches as an anonymous visitor whoever asks, and the list of
communes is their public identity (test_widget.py and test_whitelabel.py
check what the actions return, over HTTP). There is no refused case: the
test is that nobody, logged in or not, is refused, whatever is asked.

`COVERED` names the auth functions this module tests; the suite's
completeness test (tests/test_auth_coverage.py) fails when the plugin
registers one that is not in it.
"""

from __future__ import annotations

from typing import Any

import ckan.logic as logic
import ckan.model as model
import pytest
from ckan.plugins import get_plugin, load_all, plugin_loaded
from ckan.tests import factories, helpers

# `nobody`: an anonymous call inside the portal (no user object);
# `anonymous`: one made over the web (CKAN's AnonymousUser object);
# `webmaster`: an editor of a commune's organisation.
ACTORS = ("nobody", "anonymous", "user", "webmaster", "sysadmin")

# Each function with the data_dicts its callers pass (a commune that does
# not exist is the action's 404, not a refusal).
PUBLIC = {
    "communes_widget_search": ({"commune": "com-commune"},
                               {"commune": "no-such-commune", "q": "vélo", "page_size": 5}),
    "communes_list": ({}, {"limit": 10}),
}
COVERED = tuple(PUBLIC)


@pytest.fixture(scope="module")
def users(reset_portal_db) -> dict[str, str]:
    if not plugin_loaded("communes"):
        load_all()
    reset_portal_db()
    names = {"user": factories.User()["name"], "webmaster": factories.User()["name"],
             "sysadmin": factories.Sysadmin()["name"]}
    factories.Organization(name="com-commune", users=[
        {"name": names["webmaster"], "capacity": "editor"}])
    return names


def context(users: dict[str, str], who: str) -> dict[str, Any]:
    if who == "nobody":
        return {"model": model, "user": ""}
    if who == "anonymous":
        return {"model": model, "user": "", "auth_user_obj": model.AnonymousUser()}
    return {"model": model, "user": users[who]}


def test_the_plugin_registers_these_auth_functions_and_no_other():
    assert sorted(get_plugin("communes").get_auth_functions()) == sorted(COVERED)


@pytest.mark.parametrize("name", PUBLIC)
def test_everyone_may_call_the_public_read_actions(users, name):
    refused = []
    for who in ACTORS:
        for data in PUBLIC[name]:
            try:
                helpers.call_auth(name, context(users, who), **data)
            except logic.NotAuthorized as error:
                refused.append((who, data, str(error)))
    assert refused == []
