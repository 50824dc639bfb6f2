"""Every auth function of the access plugin through CKAN's `call_auth`, as
CKAN's own tests check theirs, the DataStore's chained ones included: the
decisions themselves, for each kind of user and each access level (the HTTP
matrix, tests/test_access_matrix.py, checks the answers of the surfaces).

`COVERED` names the auth functions this module tests; the suite's
completeness test (tests/test_auth_coverage.py) fails when the plugin
registers one that is not in it.
"""

from __future__ import annotations

import datetime
from typing import Any

import ckan.logic as logic
import ckan.model as model
import pytest
from ckan.plugins import get_plugin, load_all, plugin_loaded
from ckan.tests import factories, helpers
from ckanext.grandlyon_access import policy
from ckanext.grandlyon_access.model import CircleMember, Grant, utcnow
from ckanext.grandlyon_access.tests.test_editorial import COVERED as EDITORIAL
from ckanext.grandlyon_access.testing.pytest_plugin import LEVELS
from ckanext.grandlyon_access.testing.pytest_plugin import World as FiveLevelWorld

# What each actor may do with each dataset: D data, M metadata only, -
# nothing (the dataset looks missing). `nobody` is an anonymous call made
# inside the portal (no user object), `anonymous` one made over the web
# (CKAN's AnonymousUser object). The circle's member and the grantee hold
# grants on the restricted, hidden and private datasets: CKAN's private flag
# wins over them. `other` edits another organisation's datasets. `lapsed`
# held the same grants and membership, expired; `revoked` signed the
# licence, and a sysadmin revoked the signature.
ACCESS_TABLE = """
              open licensed restricted hidden private
  nobody       D      M        M         -       -
  anonymous    D      M        M         -       -
  outsider     D      M        M         -       -
  other        D      M        M         -       -
  member       D      M        M         M       D
  editor       D      D        D         D       D
  admin        D      D        D         D       D
  sysadmin     D      D        D         D       D
  circle       D      M        D         D       -
  grantee      D      M        D         D       -
  lapsed       D      M        M         -       -
  signer       D      D        M         -       -
  revoked      D      M        M         -       -
"""
ACCESS = {row.split()[0]: dict(zip(LEVELS, row.split()[1:], strict=True))
          for row in ACCESS_TABLE.strip().splitlines()[1:]}
ACTORS = tuple(ACCESS)
# The actors whose answers differ for the functions that do not decide the
# policy themselves (each call costs some twenty queries: the full table is
# asked of the policy's own functions only).
ROLES = ("nobody", "anonymous", "outsider", "other", "member", "editor", "admin", "sysadmin",
         "grantee")
# Grants and requests are managed per organisation: a restricted dataset and
# a private one show it.
MANAGED_LEVELS = ("restricted", "private")
DATA_ROLES = ("anonymous", "outsider", "member", "editor", "sysadmin", "grantee", "signer")
USERS = ("outsider", "other", "member", "editor", "admin", "sysadmin", "circle", "grantee",
         "lapsed", "signer", "revoked")

ALLOWED, REFUSED, MISSING = "allowed", "refused", "missing"

# Auth functions that answer the access policy for one dataset: the outcome
# for each letter of ACCESS_TABLE. The policy's own functions are asked for
# every actor, CKAN's DataStore functions (chained to the policy) for
# DATA_ROLES: a table of a dataset the user may not see is missing (404),
# not forbidden.
POLICY = {
    "grandlyon_access_data_read": {"D": ALLOWED, "M": REFUSED, "-": REFUSED},
    "grandlyon_access_show": {"D": ALLOWED, "M": ALLOWED, "-": REFUSED},
}
DATASTORE = {
    "datastore_search": {"D": ALLOWED, "M": REFUSED, "-": MISSING},
    "datastore_info": {"D": ALLOWED, "M": REFUSED, "-": MISSING},
    "datastore_search_sql": {"D": ALLOWED, "M": REFUSED, "-": MISSING},
}
BY_ACCESS = {**POLICY, **DATASTORE}
SYSADMIN_ONLY = (
    "grandlyon_access_circle_create", "grandlyon_access_circle_update",
    "grandlyon_access_circle_delete", "grandlyon_access_circle_list",
    "grandlyon_access_circle_show", "grandlyon_access_circle_member_create",
    "grandlyon_access_circle_member_delete", "grandlyon_access_log_list",
    "grandlyon_access_throttle_unlock", "grandlyon_access_two_factor_reset",
)
# The dataset's editors and admins, and sysadmins, manage its grants.
MANAGERS = ("editor", "admin", "sysadmin")
GRANTS = ("grandlyon_access_grant_create", "grandlyon_access_grant_list",
          "grandlyon_access_grant_delete")
REQUESTS = ("grandlyon_access_request_create", "grandlyon_access_request_list",
            "grandlyon_access_request_decide")

# Pages and news: tested in test_editorial.py.
COVERED = (*BY_ACCESS, *SYSADMIN_ONLY, *GRANTS, *REQUESTS, *EDITORIAL)


class World(FiveLevelWorld):
    """The suite's five-level world (a dataset per level with one external
    file, no tables) with users of every kind around it: another
    organisation's editor, a circle granted the restricted, hidden and
    private datasets, personal grants (live and expired) and signatures
    (current and revoked)."""

    def __init__(self) -> None:
        super().__init__(users={key: f"auth-{key}" for key in USERS}, table=False)
        factories.Organization(name="auth-other-publisher", users=[
            {"name": "auth-other", "capacity": "editor"}])
        self.call("grandlyon_access_circle_create", name="auth-circle", title="Circle")
        for who in ("circle", "lapsed"):
            self.call("grandlyon_access_circle_member_create", circle_id="auth-circle",
                      user=self.actors[who].name)
        for level in ("restricted", "hidden", "private"):
            self.call("grandlyon_access_grant_create", "admin", package_id=f"ds-{level}",
                      circle_id="auth-circle")
            for who in ("grantee", "lapsed"):
                self.grant(level, who)
        self._expire(self.actors["lapsed"].id)
        for who in ("signer", "revoked"):
            signature = self.sign(who, organisation="Lab", intended_use="Tests")
        self.call("grandlyon_licence_signature_revoke", id=signature["id"], reason="test")

    @staticmethod
    def _expire(user_id: str) -> None:
        past = utcnow() - datetime.timedelta(days=1)
        model.Session.query(Grant).filter_by(user_id=user_id).update({"expires": past})
        model.Session.query(CircleMember).filter_by(user_id=user_id).update({"expires": past})
        model.Session.commit()

    def context(self, who: str, **extra: Any) -> dict[str, Any]:
        """A fresh context for `who`, as CKAN builds it (check_access fills it in)."""
        if who == "nobody":
            context: dict[str, Any] = {"model": model, "user": ""}
        elif who == "anonymous":
            context = {"model": model, "user": "", "auth_user_obj": model.AnonymousUser()}
        else:
            context = {"model": model, "user": self.actors[who].name}
        context.update(extra)
        return context


@pytest.fixture(scope="module")
def world(reset_portal_db):
    """One world for the module: auth checks write nothing. (The plugins are
    loaded for each test by the root conftest, after module fixtures.)"""
    if not plugin_loaded("grandlyon_access"):
        load_all()
    reset_portal_db()
    return World()


def outcome(world: World, name: str, who: str, context: dict | None = None, **data) -> str:
    try:
        helpers.call_auth(name, world.context(who, **(context or {})), **data)
    except logic.NotFound:
        return MISSING
    except logic.NotAuthorized:
        return REFUSED
    return ALLOWED


def data_dict(name: str, world: World, level: str) -> tuple[dict, dict]:
    """(context additions, data_dict) with which the auth function is asked
    about the dataset of `level`, as its callers ask it."""
    dataset = world.datasets[level]
    if name == "grandlyon_access_show":
        return {}, {"id": dataset["id"]}
    if name == "datastore_search_sql":
        return {"table_names": [dataset["file_id"]]}, {"sql": "SELECT 1"}
    return {}, {"resource_id": dataset["file_id"]}


def test_the_plugin_registers_these_auth_functions_and_no_other():
    assert sorted(get_plugin("grandlyon_access").get_auth_functions()) == sorted(COVERED)


# --- the policy ------------------------------------------------------------------------

@pytest.mark.parametrize("name", BY_ACCESS)
def test_the_policy_for_each_actor_and_level(world, name):
    wrong = []
    for who in ACTORS if name in POLICY else DATA_ROLES:
        for level in LEVELS:
            expected = BY_ACCESS[name][ACCESS[who][level]]
            context, data = data_dict(name, world, level)
            if (got := outcome(world, name, who, context, **data)) != expected:
                wrong.append((who, level, got))
    assert wrong == []


def test_a_reading_web_request_gets_the_same_decisions(world, app):
    """On a GET request the policy keeps the user's labels, grants and role
    for the rest of the request (policy.cached_per_request): the decisions
    are the table's, each actor in a request of their own, as a page is."""
    wrong = []
    for who in ACTORS:
        with app.flask_app.test_request_context("/dataset/x", method="GET"):
            app.flask_app.preprocess_request()  # the web hooks start the cache
            assert policy.request_cache_active()
            for name in (*POLICY, "datastore_search"):
                for level in LEVELS:
                    context, data = data_dict(name, world, level)
                    if (got := outcome(world, name, who, context, **data)) \
                            != BY_ACCESS[name][ACCESS[who][level]]:
                        wrong.append((who, name, level, got))
    assert wrong == []


@pytest.mark.parametrize("who", ["outsider", "grantee", "signer"])
def test_the_policy_knows_a_dataset_by_id_or_name(world, who):
    for level in LEVELS:
        expected = POLICY["grandlyon_access_data_read"][ACCESS[who][level]]
        for ref in (world.datasets[level]["id"], world.datasets[level]["name"]):
            assert outcome(world, "grandlyon_access_data_read", who, id=ref) == expected, level


@pytest.mark.parametrize("name", BY_ACCESS)
def test_a_missing_dataset_or_resource_is_refused_or_missing(world, name):
    for ref in ("no-such-thing", "0b5c3c52-1f6e-4a8e-9d2f-3c1e6a1b2c3d"):
        context = {"table_names": [ref]} if name == "datastore_search_sql" else {}
        data = {"id": ref} if name == "grandlyon_access_show" else {"resource_id": ref}
        assert outcome(world, name, "editor", context, **data) in (REFUSED, MISSING)


def test_datastore_info_asked_by_alias_follows_the_policy(world):
    """CKAN's datastore_info resolves an alias before asking its auth
    function: `id` is the table, `resource_id` the alias as asked. The answer
    must be the one for the table itself (a table of a dataset the user may
    not see is missing, gated data refused)."""
    wrong = []
    for who in DATA_ROLES:
        for level in LEVELS:
            expected = DATASTORE["datastore_info"][ACCESS[who][level]]
            got = outcome(world, "datastore_info", who, resource_id=f"alias_{level}",
                          id=world.datasets[level]["file_id"])
            if got != expected:
                wrong.append((who, level, got))
    assert wrong == []


def test_the_datastore_catalogue_is_for_sysadmins(world):
    """`_table_metadata` names every table, hidden datasets' ones too."""
    for who in ROLES:
        got = outcome(world, "datastore_search_sql", who, {"table_names": ["_table_metadata"]},
                      sql='SELECT name FROM "_table_metadata"')
        assert got == (ALLOWED if who == "sysadmin" else REFUSED), who


def test_one_gated_table_refuses_a_query_over_several(world):
    tables = [world.datasets["open"]["file_id"], world.datasets["restricted"]["file_id"]]
    assert outcome(world, "datastore_search_sql", "signer", {"table_names": tables},
                   sql="SELECT 1") == REFUSED
    assert outcome(world, "datastore_search_sql", "grantee", {"table_names": tables},
                   sql="SELECT 1") == ALLOWED


# --- circles and the access log ---------------------------------------------------------

@pytest.mark.parametrize("name", SYSADMIN_ONLY)
def test_circles_and_the_log_are_for_sysadmins(world, name):
    wrong = [(who, got) for who in ROLES
             if (got := outcome(world, name, who, id="auth-circle", circle_id="auth-circle",
                                user="auth-circle")) != (ALLOWED if who == "sysadmin" else REFUSED)]
    assert wrong == []


# --- grants ---------------------------------------------------------------------------

def grant_call(name: str, world: World, level: str) -> tuple[dict, dict]:
    """(context additions, data_dict) as the grant actions ask: delete puts
    the grant's dataset in the context, the others pass `package_id`."""
    package_id = world.datasets[level]["id"]
    if name == "grandlyon_access_grant_delete":
        return {"grandlyon_access_package_id": package_id}, {"id": "a-grant"}
    return {}, {"package_id": package_id}


@pytest.mark.parametrize("name", GRANTS)
def test_grants_are_managed_by_the_datasets_editors_and_admins(world, name):
    wrong = []
    for who in ROLES:
        for level in MANAGED_LEVELS:
            context, data = grant_call(name, world, level)
            expected = ALLOWED if who in MANAGERS else REFUSED
            if (got := outcome(world, name, who, context, **data)) != expected:
                wrong.append((who, level, got))
    assert wrong == []


@pytest.mark.parametrize("name", GRANTS)
def test_a_grant_call_without_a_dataset_is_refused(world, name):
    for who in ("editor", "admin"):
        assert outcome(world, name, who) == REFUSED


# --- access requests --------------------------------------------------------------------

def test_logged_in_users_who_see_a_dataset_may_ask_for_access(world):
    wrong = []
    for who in ROLES:
        for level in LEVELS:
            seen = ACCESS[who][level] != "-"
            expected = ALLOWED if seen and who not in ("nobody", "anonymous") else REFUSED
            got = outcome(world, "grandlyon_access_request_create", who,
                          package_id=world.datasets[level]["id"])
            if got not in ((expected,) if expected == ALLOWED else (REFUSED, MISSING)):
                wrong.append((who, level, got))
    assert wrong == []


def test_logged_in_users_list_their_own_requests(world):
    wrong = [(who, got) for who in ROLES
             if (got := outcome(world, "grandlyon_access_request_list", who))
             != (REFUSED if who in ("nobody", "anonymous") else ALLOWED)]
    assert wrong == []


@pytest.mark.parametrize("name", ["grandlyon_access_request_list",
                                  "grandlyon_access_request_decide"])
def test_a_datasets_requests_are_for_its_organisations_admins(world, name):
    """Listed and decided by the admins (not the editors) and sysadmins."""
    wrong = []
    for who in ROLES:
        for level in MANAGED_LEVELS:
            package_id = world.datasets[level]["id"]
            if name == "grandlyon_access_request_decide":
                got = outcome(world, name, who, {"grandlyon_access_package_id": package_id},
                              id="a-request", decision="approve")
            else:
                got = outcome(world, name, who, package_id=package_id)
            if got != (ALLOWED if who in ("admin", "sysadmin") else REFUSED):
                wrong.append((who, level, got))
    assert wrong == []


def test_a_decision_on_no_known_dataset_is_refused(world):
    for ref in ("", "no-such-dataset"):
        assert outcome(world, "grandlyon_access_request_decide", "admin",
                       {"grandlyon_access_package_id": ref}, id="x") == REFUSED
