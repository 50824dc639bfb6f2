"""Fixtures for every test of the suite.

Every test runs against the portal as configured: the plugins named by
`ckan.plugins` in the test ini are loaded for each test (CKAN's pytest plugin
unloads them between tests otherwise), and `clean_db` leaves the tables of
every plugin that has migrations (activity, harvest, the suite's) in place.
"""

from __future__ import annotations

import copy
import email
import inspect
import os
import socketserver
import threading
import time

import ckan.model as model
import ckan.plugins as plugins
import ckan.plugins.toolkit as tk
import pytest
import sqlalchemy as sa
from ckan.plugins import core


# Loading the suite's plugins (CKAN's `with_plugins`) and building a test
# app cost about a second each; most tests change neither the plugins nor
# the configuration. Both are kept from one test to the next while the
# configuration they were made with is the same as the test's, and made
# again otherwise (a `ckan_config` mark, a fixture that patched the config,
# a test that loaded or unloaded plugins).
_KEPT: dict = {"plugins_config": None, "generation": 0, "app": None, "app_config": None}


# ckanext-spatial appends its query parser to this list at each load, in place.
_GROWS_AT_LOAD = ("ckan.search.solr_allowed_query_parsers",)


def _config_now() -> dict:
    now = copy.deepcopy(dict(tk.config))
    for key in _GROWS_AT_LOAD:
        if isinstance(now.get(key), list):
            now[key] = sorted(set(now[key]))
    return now


@pytest.fixture(autouse=True)
def _portal_plugins(ckan_config):
    """The configured plugins, loaded (again only when needed) for each test."""
    wanted = tk.aslist(ckan_config.get("ckan.plugins")) + core.find_system_plugins()
    if list(core._PLUGINS) != wanted or _KEPT["plugins_config"] != _config_now():
        plugins.load_all()
        # As loaded (a plugin may extend a list of the configuration in place).
        _KEPT.update(plugins_config=_config_now(), generation=_KEPT["generation"] + 1)
    yield


@pytest.fixture
def app(make_app, _portal_plugins):
    """CKAN's test app, the same one while plugins and configuration are."""
    now = _config_now()
    kept = _KEPT["app"]
    if kept is None or kept[0] != _KEPT["generation"] or _KEPT["app_config"] != now:
        made = make_app()
        # As made: building the app loads the plugins and updates the config.
        _KEPT.update(app=(_KEPT["generation"], made), app_config=_config_now(),
                     plugins_config=_config_now())
    return _KEPT["app"][1]


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

    migrated: dict = {"tables": None}

    def tables() -> int:
        return model.Session.execute(sa.text(
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")).scalar()

    def reset() -> None:
        reset_db()
        # Running every plugin's migrations costs half a second; once they
        # ran, the tables stay (CKAN's reset empties them): again only when
        # the tables changed (a test that took a migration down and not up).
        if migrated["tables"] is None or tables() != migrated["tables"]:
            for name in plugins_with_migrations():
                migrate_db_for(name)
            migrated["tables"] = tables()

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


# --- e-mail -------------------------------------------------------------------------------
class _SMTPHandler(socketserver.StreamRequestHandler):
    """Just enough of SMTP (RFC 5321) to accept messages."""

    def handle(self):
        self.wfile.write(b"220 catcher ESMTP\r\n")
        data_lines: list[bytes] | None = None
        while line := self.rfile.readline():
            if data_lines is not None:
                if line in (b".\r\n", b".\n"):
                    self.server.messages.append(email.message_from_bytes(b"".join(data_lines)))
                    data_lines = None
                    self.wfile.write(b"250 queued\r\n")
                else:
                    data_lines.append(line[1:] if line.startswith(b"..") else line)
                continue
            verb = line[:4].upper()
            if verb in (b"EHLO", b"HELO"):
                self.wfile.write(b"250 catcher\r\n")
            elif verb == b"DATA":
                data_lines = []
                self.wfile.write(b"354 go ahead\r\n")
            elif verb == b"QUIT":
                self.wfile.write(b"221 bye\r\n")
                return
            else:
                self.wfile.write(b"250 ok\r\n")


class Mailbox(list):
    """The messages the catcher received, in order."""

    def wait_for(self, to: str, timeout: float = 30) -> email.message.Message:
        """The first message sent to `to`, waiting for it to arrive."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for message in self:
                if to in message.get("To", ""):
                    return message
            time.sleep(0.2)
        raise AssertionError(f"no e-mail to {to}; received: {[m.get('To') for m in self]}")

    @staticmethod
    def text(message: email.message.Message) -> str:
        """The plain-text body, decoded."""
        for part in message.walk():
            if part.get_content_type() == "text/plain":
                return part.get_payload(decode=True).decode(part.get_content_charset() or "utf-8")
        return ""


@pytest.fixture
def mailbox(ckan_config):
    """An SMTP catcher on the test ini's smtp.server."""
    host, port = ckan_config["smtp.server"].split(":")
    socketserver.ThreadingTCPServer.allow_reuse_address = True
    server = socketserver.ThreadingTCPServer((host, int(port)), _SMTPHandler)
    server.daemon_threads = True
    server.messages = Mailbox()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server.messages
    finally:
        server.shutdown()
        server.server_close()
