"""Fixtures of the licence tests: users with API tokens (the shared plugin's
actors, ckanext.grandlyon_access.testing.pytest_plugin), a browser-like
client logged in with its cookie, copies of the portal's registry file to
seed from, a registry in the database seeded afresh for each test, and a
count of the stored signatures."""

from __future__ import annotations

import pathlib
import re
from collections.abc import Callable
from typing import Any

import pytest
import yaml
from ckan import model
from ckanext.grandlyon_access.testing.pytest_plugin import PASSWORD, Actor
from ckanext.grandlyon_licence import registry, store
from ckanext.grandlyon_licence.model import GrandlyonLicenceSignature
from sqlalchemy.exc import ProgrammingError

REPO = pathlib.Path(__file__).resolve().parents[4]
PORTAL_REGISTRY = REPO / "config" / "licences.yaml"
CSRF_INPUT = re.compile(r'name="_csrf_token" value="([^"]+)"')


def empty_registry() -> None:
    """Empties the registry's tables (not the signatures): its next use
    seeds it from the configured file, as on a new portal."""
    with model.meta.engine.begin() as conn:
        for table in (store.revision_table, store.version_table, store.licence_table):
            conn.execute(table.delete())


@pytest.fixture(autouse=True)
def fresh_registry(migrate_db_for) -> None:
    """Each test starts with the registry seeded from the configured file
    (a test before may have published a version or seeded another file)."""
    try:
        empty_registry()
    except ProgrammingError:  # a test database that never had the tables
        migrate_db_for("grandlyon_licence")


@pytest.fixture
def user(clean_db, actor_factory) -> Actor:
    return actor_factory("signer")


@pytest.fixture
def other_user(clean_db, actor_factory) -> Actor:
    return actor_factory("someone-else")


@pytest.fixture
def sysadmin(clean_db, actor_factory) -> Actor:
    return actor_factory("portal-admin", sysadmin=True)


def api_call(app, action: str, actor: Actor | None = None, lang: str = "", **data):
    """POSTs an action over HTTP and returns the response (not asserted).
    `lang`: "en" for English messages (French, the default language, otherwise)."""
    headers = actor.headers if actor else {}
    prefix = f"/{lang}" if lang else ""
    return app.post(f"{prefix}/api/3/action/{action}", json=data, headers=headers)


def api_result(app, action: str, actor: Actor | None = None, **data):
    """POSTs an action over HTTP; returns its result, fails on an error."""
    res = api_call(app, action, actor, **data)
    body = res.get_json()
    assert res.status_code == 200 and body["success"], (action, res.status_code, body)
    return body["result"]


def csrf_token(html: str) -> str:
    match = CSRF_INPUT.search(html)
    assert match, "no CSRF token in the page"
    return match.group(1)


@pytest.fixture
def browser(app) -> Callable[[Actor], Any]:
    """Logs an actor in through the login form; returns a client that keeps
    the session cookie (the `app` fixture's helpers use a new client per
    request, without cookies)."""

    def login(actor: Actor):
        client = app.test_client()
        res = client.post(
            "/user/login",
            data={"login": actor.name, "password": PASSWORD},
            follow_redirects=False,
        )
        assert res.status_code == 302, res.status_code
        assert client.get("/dashboard/datasets").status_code == 200
        return client

    return login


@pytest.fixture
def signature_count() -> Callable[[], int]:
    def count() -> int:
        model.Session.remove()
        return model.Session.query(GrandlyonLicenceSignature).count()

    return count


@pytest.fixture
def registry_copy(tmp_path, ckan_config, monkeypatch) -> Callable[..., pathlib.Path]:
    """Points the registry option at a copy of the portal's registry, changed
    by `change(document)`, and empties the registry's tables so that their
    next use seeds them from it (`keep_registry`: as on a portal seeded
    before); returns the copy's path."""

    def make(change: Callable[[dict], Any] | None = None, name: str = "licences.yaml",
             keep_registry: bool = False):
        document = yaml.safe_load(PORTAL_REGISTRY.read_text(encoding="utf-8"))
        if change:
            change(document)
        path = tmp_path / name
        path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
        monkeypatch.setitem(ckan_config, "ckanext.grandlyon_licence.registry", str(path))
        if not keep_registry:
            empty_registry()
        return path

    return make


def licence_entry(document: dict, licence_id: str) -> dict:
    return next(e for e in document["licences"] if e["id"] == licence_id)


def new_mobilites_version(version: str = "2.0") -> Callable[[dict], None]:
    """A change of the file for registry_copy: a new version of mobilites."""

    def change(document: dict) -> None:
        licence_entry(document, "mobilites")["version"] = version

    return change


def publish(version: str = "2.0", licence_id: str = "mobilites", **text: str) -> None:
    """Publishes a version in the database, as a sysadmin's action does."""
    registry.publish_version(licence_id, version, text or None)


MOBILITES_DETAILS = {
    "organisation": "Transports Rhône SA",
    "intended_use": "Calculateur d'itinéraires",
    "contact_phone": "04 72 00 00 00",
}
