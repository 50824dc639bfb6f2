"""A pytest plugin that runs CKAN's own tests with the suite on.

Loaded with `-p ckan_core_harness` by `./portal test-ckan`, next to CKAN's
pytest plugin and the repository's root conftest.py (whose autouse fixture
loads the plugins named by `ckan.plugins` for every test). It does three things:

- every test runs in English (CKAN's tests read CKAN's English words), unless
  it names a language;
- every test runs with the portal's plugins: a test that asks for its own
  plugins (`@pytest.mark.ckan_config("ckan.plugins", "datastore")`) gets the
  portal's plugins plus the ones it names;
- CKAN's database fixtures (`reset_db`, hence `clean_db`, `non_clean_db`,
  `clean_datastore` and ckanext-activity's own `clean_db`) also bring the
  tables of every configured plugin that has migrations up to date;
- a dataset made without `owner_org` by CKAN's factory, by `call_action`'s
  `package_create` or by `CreateTestData` is put in an organisation of its
  own, made for it, of which the dataset's creator is an editor: the
  portal's schema requires an organisation (the tests that are about
  datasets without one stay failures, listed with that reason);
- the activities of CKAN's nameless test caller ('127.0.0.1', no account:
  `helpers.call_action` acts as it when a test names no user) are recorded
  as the site user's: the activity plugin is on, and its subscriber
  refuses an action it cannot attribute;
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
import ckan.lib.create_test_data as ctd
import ckan.model as model
import ckan.plugins as plugins
import ckan.plugins.toolkit as tk
import pytest
import sqlalchemy as sa
from ckan.plugins import core
from ckan.tests import factories, helpers
from ckan.tests.pytest_ckan import ckan_setup
from ckanext.activity import subscriptions

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
    helpers.call_action = _datasets_in_an_organization(_CALL_ACTION)
    subscriptions.get_subscriptions = _attributed_subscriptions(subscriptions.get_subscriptions)
    ctd.CreateTestData.create = classmethod(_test_data_in_an_organization)
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
_CALL_ACTION = helpers.call_action


def _an_organization_for(creator: str | None) -> str:
    """The id of a new organisation of which `creator` (a user name, unless
    it is the site user or nobody) is an editor."""
    site_user = _CALL_ACTION("get_site_user")["name"]
    members = [] if creator in (None, "", site_user) else [{"name": creator, "capacity": "editor"}]
    return factories.Organization(users=members)["id"]


def _dataset_in_an_organization(cls, data_dict: dict) -> dict:
    """CKAN's factory dataset, in a new organisation when it names none."""
    if "owner_org" not in data_dict:
        data_dict["owner_org"] = _an_organization_for(factories._get_action_user_name(data_dict))
    return _DATASET_PREPARE_ARGS(cls, data_dict)


_CREATE_TEST_DATA = ctd.CreateTestData.create.__func__


def _test_data_in_an_organization(cls, *args, **kwargs):
    """CKAN's CreateTestData (two datasets written through the model, with
    no organisation), then those datasets in an organisation of their own."""
    result = _CREATE_TEST_DATA(cls, *args, **kwargs)
    owner = _an_organization_for(None)
    for name in cls.pkg_names:
        package = model.Package.by_name(name)
        if package is not None and not package.owner_org:
            package.owner_org = owner
    model.repo.commit_and_remove()
    return result


# --- datasets made through call_action, activities of its nameless caller ---------------
def _datasets_in_an_organization(call_action):
    """CKAN's `helpers.call_action`, creating a dataset that names no
    organisation in one of its own (of which the caller is an editor)."""

    def call_action_with_an_organization(action_name: str, context=None, **kwargs):
        if action_name == "package_create" and "owner_org" not in kwargs:
            kwargs["owner_org"] = _an_organization_for((context or {}).get("user"))
        return call_action(action_name, context, **kwargs)

    call_action_with_an_organization.__doc__ = call_action.__doc__
    return call_action_with_an_organization


# CKAN's `helpers.call_action` acts as this name when the test names no user.
NAMELESS_CALLER = "127.0.0.1"


def _attributed(receiver):
    """An activity subscriber that, for an action of CKAN's nameless test
    caller, is told the site user acted: the portal records activities
    (stock CKAN's action tests run without the activity plugin), and the
    subscribers refuse (or record as "not logged in", which activity_create
    then refuses) an action they cannot attribute. Only the activity's
    author changes; the action itself ran as the nameless caller."""

    def attributed(sender, **kwargs):
        context = kwargs.get("context")
        if isinstance(context, dict) and context.get("user") == NAMELESS_CALLER \
                and model.User.get(NAMELESS_CALLER) is None:
            # defer_commit: making the site user must not commit the action's
            # own work (a test may roll it back).
            site_user = _CALL_ACTION("get_site_user", {"defer_commit": True})["name"]
            kwargs["context"] = {**context, "user": site_user}
        return receiver(sender, **kwargs)

    return attributed


# One `_attributed` per receiver, kept: blinker holds its receivers weakly, and
# unloading the plugin disconnects the receivers it connected.
_ATTRIBUTED: dict = {}


def _attributed_subscriptions(get_subscriptions):
    """ckanext-activity's signal subscriptions, each receiver `_attributed`."""

    def one(entry):
        entry = dict(entry) if isinstance(entry, dict) else {"receiver": entry}
        receiver = entry["receiver"]
        entry["receiver"] = _ATTRIBUTED.setdefault(receiver, _attributed(receiver))
        return entry

    def subscriptions_attributed():
        return {signal: [one(entry) for entry in entries]
                for signal, entries in get_subscriptions().items()}

    return subscriptions_attributed


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
    def ckan_config(self, request, ckan_config):
        """CKAN's `ckan_config`, with the portal's plugins before those a test
        names, and in English unless the test names a language: CKAN's tests
        read CKAN's English words and dates (the portal speaks French first
        and offers English)."""
        asked = ckan_config.get("ckan.plugins")
        asked = tk.aslist(asked) if isinstance(asked, str) else list(asked or [])
        wanted = portal_plugins()
        ckan_config["ckan.plugins"] = " ".join(wanted + [p for p in asked if p not in wanted])
        named = {mark.args[0] for mark in request.node.iter_markers("ckan_config") if mark.args}
        if "ckan.locale_default" not in named:
            ckan_config["ckan.locale_default"] = "en"
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
