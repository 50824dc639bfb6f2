"""Two web processes share the registry through the database.

Two real `ckan run` servers on the test database, each with its own copy of
the registry file (as replicas of a read-only image have): a version
published on one is enforced by the other on its very next request, and the
old signature stops opening licensed data there at once. The servers start
once for the module.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import pytest
import requests
from ckan.tests import factories, helpers
from ckanext.grandlyon_access.testing.pytest_plugin import (
    LivePortal,
    free_port,
    ini_with,
    make_actor,
)
from ckanext.grandlyon_licence.tests.conftest import MOBILITES_DETAILS, PORTAL_REGISTRY

CSV = "station,passages\nPart-Dieu,1234\n"


def opened(answer: requests.Response, origin: str) -> bool:
    """The download route delivered the file: a redirect to its origin, or
    the file itself (streamed by the portal)."""
    if answer.status_code == 302:
        return answer.headers.get("Location") == origin
    return answer.status_code == 200 and answer.text == CSV


@pytest.fixture
def _portal_plugins() -> None:
    """The plugins stay loaded for the module (portal_for_module)."""


@pytest.fixture(scope="module")
def licensed_world(portal_for_module, other_site) -> dict:
    """A sysadmin, a signer of version 1.0 of the licence, and a dataset
    under it whose file (on a local site) is reached through the gated
    download route."""
    folder, site = other_site
    (folder / "comptages.csv").write_text(CSV, encoding="utf-8")
    origin = f"{site}/comptages.csv"
    sysadmin = make_actor("licence-admin", sysadmin=True)
    signer = make_actor("licence-signer")
    org = factories.Organization(name="transports")
    dataset = helpers.call_action(
        "package_create",
        {"user": sysadmin.name, "ignore_auth": True},
        name="comptages",
        title="Comptages",
        owner_org=org["id"],
        license_id="mobilites",
        access_level="licensed",
        resources=[{"name": "Comptages", "url": origin, "format": "CSV"}],
    )
    helpers.call_action(
        "grandlyon_licence_sign", {"user": signer.name, "ignore_auth": False},
        licence_id="mobilites", **MOBILITES_DETAILS)
    return {"sysadmin": sysadmin, "signer": signer, "origin": origin,
            "download": f"/dataset/comptages/resource/{dataset['resources'][0]['id']}/download"}


@pytest.fixture(scope="module")
def two_portals(licensed_world, ckan_ini, tmp_path_factory) -> Iterator[list[LivePortal]]:
    """Two web processes on the test database, each with its own registry file."""
    portals = []
    try:
        for name in ("one", "two"):
            folder = tmp_path_factory.mktemp(f"web-{name}")
            registry_file = shutil.copy(PORTAL_REGISTRY, folder / "licences.yaml")
            settings = {"ckanext.grandlyon_licence.registry": str(registry_file),
                        "ckanext.grandlyon_access.outbound.allow": "127.0.0.1"}
            ini = ini_with(ckan_ini, settings, str(folder / "portal.ini"))
            port = free_port()
            url = f"http://127.0.0.1:{port}"
            portal = LivePortal(url=url, ini=ini, env=dict(os.environ, CKAN_SITE_URL=url),
                                logs=str(folder))
            portal.start("web", "run", "-H", "127.0.0.1", "-p", str(port), "-r")
            portals.append(portal)
        for portal in portals:  # both start at once; wait for each
            portal.wait_until_up()
        yield portals
    finally:
        for portal in portals:
            portal.stop()


def get(portal: LivePortal, path: str, token: str) -> requests.Response:
    return requests.get(portal.url + path, headers={"Authorization": token},
                        allow_redirects=False, timeout=30)


def action(portal: LivePortal, name: str, token: str, **data) -> requests.Response:
    return requests.post(f"{portal.url}/api/3/action/{name}", json=data,
                         headers={"Authorization": token}, timeout=30)


def test_a_version_published_on_one_process_is_enforced_by_the_other_at_once(
        two_portals, licensed_world):
    one, two = two_portals
    admin, signer = licensed_world["sysadmin"], licensed_world["signer"]
    path, origin = licensed_world["download"], licensed_world["origin"]

    # Both processes serve version 1.0, and the signature of it opens the data.
    for portal in (one, two):
        shown = action(portal, "grandlyon_licence_show", signer.token, id="mobilites").json()
        assert shown["result"]["version"] == "1.0"
        assert opened(get(portal, path, signer.token), origin)

    published = action(one, "grandlyon_licence_version_publish", admin.token,
                       licence_id="mobilites", version="2.0",
                       text={"fr": "## Version 2.0\n\nNouvelles conditions."})
    assert published.status_code == 200, published.text

    # The very next request to the other process asks to sign again.
    refused = get(two, path, signer.token)
    assert refused.status_code == 403 and origin not in refused.text
    assert "/licence/mobilites" in refused.text
    shown = action(two, "grandlyon_licence_show", signer.token, id="mobilites").json()["result"]
    assert (shown["version"], shown["signed_current_version"]) == ("2.0", False)
    assert shown["text_translated"]["fr"] == "## Version 2.0\n\nNouvelles conditions."
    # What was signed keeps its meaning: the text of version 1.0 is still served.
    old = action(two, "grandlyon_licence_show", signer.token, id="mobilites",
                 version="1.0").json()["result"]
    assert old["is_current"] is False and "version 1.0" in old["text_translated"]["fr"]

    # Signing 2.0 on the second process opens the data on the first at once.
    signed = action(two, "grandlyon_licence_sign", signer.token, licence_id="mobilites",
                    version="2.0", **MOBILITES_DETAILS)
    assert signed.status_code == 200, signed.text
    assert opened(get(one, path, signer.token), origin)
