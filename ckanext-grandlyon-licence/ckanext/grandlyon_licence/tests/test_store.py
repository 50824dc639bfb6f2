"""The registry in the database: seeded from the file on first use and on
demand, once even when processes start together, never going back."""

from __future__ import annotations

import datetime
import threading
from typing import Any

import ckan.plugins as plugins
import sqlalchemy as sa
from ckan import model
from ckanext.grandlyon_licence import cli, registry, store
from ckanext.grandlyon_licence.model import GrandlyonLicenceSignature
from ckanext.grandlyon_licence.tests.conftest import (
    PORTAL_REGISTRY,
    api_call,
    licence_entry,
    publish,
)
from click.testing import CliRunner


def rows(table: sa.Table) -> list[dict]:
    with model.meta.engine.connect() as conn:
        return [dict(row) for row in conn.execute(sa.select(table)).mappings()]


def revision() -> int:
    [row] = rows(store.revision_table)
    return row["revision"]


def test_the_first_use_seeds_the_registry_from_the_file_once():
    assert rows(store.revision_table) == []  # a new portal (fresh_registry)
    assert [lic.id for lic in registry.current().licences] == ["lo-2.0", "odbl-1.0", "mobilites"]
    versions = rows(store.version_table)
    assert sorted((v["licence_id"], v["version"]) for v in versions) == [
        ("lo-2.0", "2.0"), ("mobilites", "1.0"), ("odbl-1.0", "1.0")]
    assert {v["note"] for v in versions} == {f"registry file {PORTAL_REGISTRY}"}
    assert {v["published_by"] for v in versions} == {None}
    assert revision() == 1

    assert registry.seed(str(PORTAL_REGISTRY), only_if_unseeded=True) == {
        "added": [], "versions": [], "updated": [], "text_differs": [], "signed_only": []}
    assert registry.seed(str(PORTAL_REGISTRY))["added"] == []
    assert revision() == 1 and len(rows(store.version_table)) == 3


def test_processes_starting_together_seed_once():
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def first_use() -> None:
        start.wait()
        try:
            registry.seed(str(PORTAL_REGISTRY), only_if_unseeded=True)
        except BaseException as error:  # noqa: BLE001 (reported below)
            errors.append(error)

    threads = [threading.Thread(target=first_use) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(rows(store.licence_table)) == 3 and len(rows(store.version_table)) == 3
    assert revision() == 1


def test_seed_reports_each_change(registry_copy):
    registry.current()  # seeded from the portal's file
    publish("2.0")

    def change(document: dict) -> None:
        licence_entry(document, "lo-2.0")["version"] = "2.1"
        licence_entry(document, "odbl-1.0")["text"]["fr"] = "Un autre texte, même version"
        licence_entry(document, "odbl-1.0")["url"] = "https://example.org/odbl"
        document["licences"].append(dict(licence_entry(document, "lo-2.0"), id="nouvelle"))

    path = registry_copy(change, keep_registry=True)
    report = registry.seed(str(path))

    assert report == {"added": ["nouvelle"], "versions": ["lo-2.0 2.1"],
                      "updated": ["odbl-1.0"], "text_differs": ["odbl-1.0 1.0"],
                      "signed_only": []}
    current = registry.current()
    assert current.get("lo-2.0").version == "2.1"
    assert current.get("odbl-1.0").url == "https://example.org/odbl"
    # A published version's text does not change; the file never goes back.
    assert current.get("odbl-1.0").text["fr"] != "Un autre texte, même version"
    assert current.get("mobilites").version == "2.0"
    assert current.licences[-1].id == "nouvelle"
    assert revision() == 3  # seeded, published, seeded again


def test_versions_signed_before_the_database_are_recorded_and_never_published_again(
        app, sysadmin):
    """A portal that ran with the file: signatures of 0.9, the file now at 1.0."""
    signed_at = datetime.datetime(2026, 3, 1, 9, 30)
    for user_id in ("u1", "u2"):
        model.Session.add(GrandlyonLicenceSignature(
            user_id=user_id, licence_id="mobilites", licence_version="0.9",
            signed_at=signed_at + datetime.timedelta(days=len(user_id) + int(user_id[1]))))
    model.Session.commit()

    assert registry.current().get("mobilites").version == "1.0"  # the first use seeds
    [old] = [v for v in registry.history("mobilites") if v.version == "0.9"]
    assert (old.text, old.note) == ({}, store.SIGNED_ONLY_NOTE)
    assert old.published_at == signed_at + datetime.timedelta(days=3)  # the first signature
    assert [v.version for v in registry.history("mobilites")] == ["1.0", "0.9"]
    assert registry.seed(str(PORTAL_REGISTRY))["signed_only"] == []  # once

    res = api_call(app, "grandlyon_licence_version_publish", sysadmin, lang="en",
                   licence_id="mobilites", version="0.9")
    assert res.status_code == 409
    assert "Version 0.9 of this licence was already published" in res.get_json()["error"][
        "version"][0]
    page = app.get("/en/licence/mobilites?version=0.9").get_data(as_text=True)
    assert "The text of this version was not kept" in page


def seed_command() -> Any:
    return CliRunner().invoke(cli.grandlyon_licence, ["seed"])


def test_the_plugin_registers_its_command():
    commands = plugins.get_plugin("grandlyon_licence").get_commands()
    assert [command.name for command in commands] == ["grandlyon-licence"]


def test_the_seed_command(registry_copy):
    registry.current()

    def change(document: dict) -> None:
        licence_entry(document, "mobilites")["version"] = "1.1"

    registry_copy(change, keep_registry=True)
    result = seed_command()
    assert result.exit_code == 0, result.output
    assert "mobilites: version 1.1 published, now current" in result.output
    again = seed_command()
    assert again.exit_code == 0 and "the licence registry already matches" in again.output
    assert registry.current().get("mobilites").version == "1.1"


def test_the_seed_command_names_an_invalid_file(registry_copy):
    path = registry_copy(lambda document: document["licences"][0].pop("text"))
    result = seed_command()
    assert result.exit_code != 0
    assert f"licence registry {path} is not valid" in result.output
    assert "licence 'lo-2.0': missing key 'text'" in result.output


def test_each_request_reads_the_stamp_once_and_the_licences_only_when_changed(app):
    statements: list[str] = []

    def record(conn, cursor, statement, *args) -> None:
        statements.append(statement)

    def request_reads() -> dict[str, int]:
        statements.clear()
        assert app.get("/api/3/action/license_list").status_code == 200
        return {table: sum(f"FROM {table}" in s for s in statements)
                for table in ("grandlyon_licence_revision", "grandlyon_licence_licence")}

    registry.current()  # seeded, loaded
    sa.event.listen(model.meta.engine, "before_cursor_execute", record)
    try:
        # license_list asks the register several times: one stamp read.
        assert request_reads() == {"grandlyon_licence_revision": 1,
                                   "grandlyon_licence_licence": 0}
        store.publish("mobilites", "2.0", None, None)  # another process: a new stamp
        assert request_reads() == {"grandlyon_licence_revision": 1,
                                   "grandlyon_licence_licence": 1}
        assert request_reads() == {"grandlyon_licence_revision": 1,
                                   "grandlyon_licence_licence": 0}
    finally:
        sa.event.remove(model.meta.engine, "before_cursor_execute", record)
