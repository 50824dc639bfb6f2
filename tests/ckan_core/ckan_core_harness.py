"""A pytest plugin that runs CKAN's own tests with the suite on.

Loaded with `-p ckan_core_harness` by `./portal test-ckan`, next to CKAN's
pytest plugin and the repository's root conftest.py (whose autouse fixture
loads the plugins named by `ckan.plugins` for every test). It does three things:

- every test runs with the portal's plugins: a test that asks for its own
  plugins (`@pytest.mark.ckan_config("ckan.plugins", "datastore")`) gets the
  portal's plugins plus the ones it names;
- CKAN's database fixtures (`reset_db`, hence `clean_db`, `non_clean_db`,
  `clean_datastore` and ckanext-activity's own `clean_db`) also bring the
  tables of every configured plugin that has migrations up to date;
- a dataset made by CKAN's factory without `owner_org` is put in an
  organisation of its own, made for it, of which the dataset's creator is
  an editor: the portal's schema requires an organisation (the tests that
  are about datasets without one stay failures, listed with that reason);
- CKAN's `with_plugins` keeps the plugins loaded from one test to the next
  (as the root conftest.py does for the suite's tests);
- each test listed in `known-failures.txt` is marked `xfail(strict=True)`
  with the reason given there: it must fail, so one that starts passing
  shows up as a failure and its line must go.

The file is not named `test_*.py` nor `conftest.py`: `./portal test` does not
collect it.
"""

from __future__ import annotations

import importlib.util
import inspect
import os
import re
from dataclasses import dataclass, field

import ckan
import ckan.model as model
import ckan.plugins as plugins
import ckan.plugins.toolkit as tk
import pytest
import sqlalchemy as sa
from ckan.plugins import core
from ckan.tests import factories, helpers
from ckan.tests.pytest_ckan import ckan_setup

KNOWN_FAILURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "known-failures.txt")

# The installed packages CKAN's tests live in; node ids in known-failures.txt
# are relative to this folder (`ckan/tests/logic/action/test_get.py::test_x`).
SITE_PACKAGES = os.path.dirname(os.path.dirname(os.path.abspath(ckan.__file__)))


@dataclass
class KnownFailure:
    """One line of known-failures.txt: a node id, `*` matching any text."""

    pattern: str
    reason: str
    line: int
    regex: re.Pattern = field(init=False)
    matched: int = 0

    def __post_init__(self) -> None:
        parts = (re.escape(part) for part in self.pattern.split("*"))
        self.regex = re.compile(".*".join(parts) + r"\Z")


def read_known_failures(path: str = KNOWN_FAILURES) -> list[KnownFailure]:
    """The lines `<node id or pattern>  # <reason>`; blank lines and lines
    that start with `#` are comments."""
    known = []
    with open(path, encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            pattern, sep, reason = line.partition(" # ")
            if not sep or not reason.strip():
                raise pytest.UsageError(f"{path}:{number}: `<node id>  # <reason>` expected")
            known.append(KnownFailure(pattern.strip(), reason.strip(), number))
    return known


def relative_node_id(item: pytest.Item) -> str:
    """The test's node id with its file relative to the installed packages."""
    path = os.path.relpath(str(item.path), SITE_PACKAGES)
    return path + item.nodeid[item.nodeid.index("::"):] if "::" in item.nodeid else path


def _register_root_conftest(config: pytest.Config) -> None:
    """The repository's conftest.py, also when CKAN's tests are installed
    outside the repository (PORTAL_STATE_DIR elsewhere): pytest then does
    not find it above them."""
    path = os.path.join(str(config.rootpath), "conftest.py")
    loaded = (getattr(plugin, "__file__", None) for plugin in config.pluginmanager.get_plugins())
    if os.path.exists(path) and path not in loaded:
        spec = importlib.util.spec_from_file_location("portal_root_conftest", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        config.pluginmanager.register(module, path)


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_KNOWN] = read_known_failures()
    _register_root_conftest(config)
    factories.Dataset._api_prepare_args = classmethod(_dataset_in_an_organization)
    config.pluginmanager.register(Fixtures(), "ckan_core_harness_fixtures")


_KNOWN = pytest.StashKey[list]()


def xfail_reason(decision: str) -> str:
    """Why a listed test is expected to fail, and what would make it run."""
    return (f"known failure by the suite's design: {decision}. It runs again when that "
            "decision changes (or CKAN's test stops assuming otherwise): then its line "
            "in tests/ckan_core/known-failures.txt goes, as strict=True demands")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    known = config.stash[_KNOWN]
    for item in items:
        node_id = relative_node_id(item)
        for failure in known:
            if failure.regex.match(node_id):
                failure.matched += 1
                item.add_marker(pytest.mark.xfail(reason=xfail_reason(failure.reason),
                                                  strict=True))
                break


def pytest_terminal_summary(terminalreporter, config: pytest.Config) -> None:
    """Lines of known-failures.txt that matched no collected test (only
    meaningful when the three folders were run whole)."""
    unused = [f for f in config.stash.get(_KNOWN, []) if not f.matched]
    if unused:
        terminalreporter.section("known-failures.txt lines matching no collected test")
        for failure in unused:
            terminalreporter.line(f"line {failure.line}: {failure.pattern}")


# --- the suite on, for every test ------------------------------------------------------
def portal_plugins() -> list[str]:
    """The plugins of the portal's configuration (the test ini)."""
    return tk.aslist(ckan_setup._config.get("ckan.plugins"))


# --- datasets in an organisation -----------------------------------------------------
_DATASET_PREPARE_ARGS = factories.Dataset._api_prepare_args.__func__


def _dataset_in_an_organization(cls, data_dict: dict) -> dict:
    """CKAN's factory dataset, in a new organisation when it names none."""
    if "owner_org" not in data_dict:
        creator = factories._get_action_user_name(data_dict)
        site_user = helpers.call_action("get_site_user")["name"]
        members = [] if creator in (None, site_user) else [{"name": creator, "capacity": "editor"}]
        data_dict["owner_org"] = factories.Organization(users=members)["id"]
    return _DATASET_PREPARE_ARGS(cls, data_dict)


def plugins_with_migrations() -> list[str]:
    """Names of the configured plugins that ship at least one migration."""
    names = []
    for name in tk.aslist(tk.config["ckan.plugins"]):
        plugin = plugins.get_plugin(name) or core._get_service(name)
        module_dir = os.path.dirname(inspect.getfile(type(plugin)))
        versions = os.path.join(module_dir, "migration", name, "versions")
        if os.path.isdir(versions) and any(f.endswith(".py") for f in os.listdir(versions)):
            names.append(name)
    return names


def _table_count() -> int:
    return model.Session.execute(sa.text(
        "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")).scalar()


class Fixtures:
    """The harness's versions of CKAN's fixtures. Registered as a plugin in
    `pytest_configure`, after CKAN's pytest plugin (an entry point, loaded
    after `-p` plugins), so that these override CKAN's and still reach them."""

    @pytest.fixture
    def ckan_config(self, ckan_config):
        """CKAN's `ckan_config`, with the portal's plugins before those a test names."""
        asked = ckan_config.get("ckan.plugins")
        asked = tk.aslist(asked) if isinstance(asked, str) else list(asked or [])
        wanted = portal_plugins()
        ckan_config["ckan.plugins"] = " ".join(wanted + [p for p in asked if p not in wanted])
        return ckan_config

    @pytest.fixture
    def with_plugins(self, _portal_plugins):
        """The plugins the root conftest.py loaded for the test, kept after it:
        CKAN's `with_plugins` loads them all again and unloads them at the
        end, a second or two a test on two cores."""
        yield

    @pytest.fixture(scope="session")
    def reset_db(self, reset_db, migrate_db_for):
        """CKAN's reset, then every configured plugin's migrations (CKAN's
        reset creates the core tables only)."""
        migrated: dict = {"tables": None}

        def reset() -> None:
            reset_db()
            # A session fixture (reset_db_once, for non_clean_db) may come
            # before the root conftest.py loaded the plugins for the test.
            if any(plugins.get_plugin(name) is None
                   for name in tk.aslist(tk.config["ckan.plugins"])):
                plugins.load_all()
            # Once run, the plugins' tables stay (CKAN's reset empties them):
            # again only when the tables changed.
            if migrated["tables"] is None or _table_count() != migrated["tables"]:
                for name in plugins_with_migrations():
                    migrate_db_for(name)
                migrated["tables"] = _table_count()

        return reset
