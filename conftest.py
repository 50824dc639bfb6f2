"""Fixtures for every test of the suite.

Every test runs against the portal as configured: the plugins named by
`ckan.plugins` in the test ini are loaded for each test (CKAN's pytest plugin
unloads them between tests otherwise), and `clean_db` leaves the tables of
every plugin that has migrations (activity, harvest, the suite's) in place.
"""

from __future__ import annotations

import inspect
import os

import ckan.plugins as plugins
import ckan.plugins.toolkit as tk
import pytest


@pytest.fixture(autouse=True)
def _portal_plugins(with_plugins):
    """Loads the configured plugins around each test."""


def plugins_with_migrations() -> list[str]:
    """Names of the configured plugins that ship at least one migration."""
    names = []
    for name in tk.aslist(tk.config["ckan.plugins"]):
        module_dir = os.path.dirname(inspect.getfile(type(plugins.get_plugin(name))))
        versions = os.path.join(module_dir, "migration", name, "versions")
        if os.path.isdir(versions) and any(f.endswith(".py") for f in os.listdir(versions)):
            names.append(name)
    return names


@pytest.fixture(scope="session")
def reset_portal_db(reset_db, migrate_db_for):
    """A callable that empties the database, then brings every plugin's
    tables up to date (CKAN's reset re-creates only the core tables)."""

    def reset() -> None:
        reset_db()
        for name in plugins_with_migrations():
            migrate_db_for(name)

    return reset


@pytest.fixture
def clean_db(reset_portal_db):
    """Empties the database, then brings every plugin's tables up to date."""
    reset_portal_db()


# --- browser tests ------------------------------------------------------------------
# Debian's chromium driven by Playwright (never a downloaded browser); the flags
# keep it off the network this machine does not reach.
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="session")
def chromium():
    """A headless Chromium for the whole session (pages are opened per test)."""
    if not os.path.exists(CHROMIUM):
        pytest.skip("needs Debian's chromium at /usr/bin/chromium (./portal test installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="session")
def other_site(tmp_path_factory):
    """A web site on another origin than the portal: (folder, its URL), the
    folder served over HTTP on a free loopback port."""
    import functools
    import http.server
    import threading

    folder = tmp_path_factory.mktemp("other-site")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield folder, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
