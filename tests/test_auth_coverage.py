"""Every auth function the suite's plugins register has `call_auth` tests.

The plugins of the suite are the loaded plugins whose code lives in one of
this repository's `ckanext-*` distributions; each registers its auth
functions through IAuthFunctions (CKAN's blankets), chained ones of CKAN
included. Each distribution's `tests/test_auth.py` declares the names it
tests in a module-level tuple `COVERED` (its tests are parametrised over the
tables that make it, and it checks that its plugin registers exactly those).
This test fails when a plugin registers an auth function that no `COVERED`
names, or when a `COVERED` names one that nothing registers any more.
"""

from __future__ import annotations

import importlib
import inspect
import pathlib
from collections.abc import Iterable, Mapping

import ckan.plugins as plugins
import pytest

REPO = pathlib.Path(__file__).resolve().parent.parent

# The suite's plugins that must be found registering auth functions (a
# sanity check: the walk below finds nothing if no plugin is loaded).
EXPECTED_PLUGINS = ("grandlyon_access", "grandlyon_licence", "communes", "history", "dataviz")

def distribution_of(plugin: object) -> str | None:
    """The `ckanext-*` folder of this repository holding the plugin's code,
    or None for a plugin from elsewhere (CKAN, its extensions)."""
    path = pathlib.Path(inspect.getfile(type(plugin))).resolve()
    try:
        folder = path.relative_to(REPO).parts[0]
    except ValueError:
        return None
    return folder if folder.startswith("ckanext-") else None


def auth_tests_of(plugin: object) -> str:
    """`ckanext.<package>.tests.test_auth` for a plugin of `ckanext.<package>`."""
    return ".".join(type(plugin).__module__.split(".")[:2]) + ".tests.test_auth"


def registered_by_suite() -> dict[str, dict[str, set[str]]]:
    """test module -> plugin name -> the auth function names it registers."""
    found: dict[str, dict[str, set[str]]] = {}
    for plugin in plugins.PluginImplementations(plugins.IAuthFunctions):
        if distribution_of(plugin) is None:
            continue
        names = set(plugin.get_auth_functions())
        found.setdefault(auth_tests_of(plugin), {})[plugin.name] = names
    return found


def covered_by(module_name: str) -> set[str]:
    """The names a test module declares it tests (empty without the module)."""
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        if error.name != module_name:
            raise
        return set()
    names: set[str] = set()
    names.update(getattr(module, "COVERED", ()))
    return names


def untested(registered: Mapping[str, Mapping[str, Iterable[str]]],
             covered: Mapping[str, Iterable[str]]) -> list[tuple[str, str]]:
    """(plugin, auth function) pairs registered and covered by no test."""
    return sorted((plugin, name)
                  for module, by_plugin in registered.items()
                  for plugin, names in by_plugin.items()
                  for name in names if name not in set(covered.get(module, ())))


def stale(registered: Mapping[str, Mapping[str, Iterable[str]]],
          covered: Mapping[str, Iterable[str]]) -> list[tuple[str, str]]:
    """(test module, name) pairs declared covered that the module's plugins
    do not register."""
    return sorted((module, name) for module, names in covered.items()
                  for name in names
                  if not any(name in set(n) for n in registered.get(module, {}).values()))


@pytest.fixture(scope="module")
def registered() -> dict[str, dict[str, set[str]]]:
    if not all(plugins.plugin_loaded(name) for name in EXPECTED_PLUGINS):
        plugins.load_all()
    return registered_by_suite()


def test_the_suite_plugins_are_found(registered):
    found = {plugin for by_plugin in registered.values() for plugin in by_plugin}
    assert set(EXPECTED_PLUGINS) <= found


def test_every_auth_function_of_the_suite_has_call_auth_tests(registered):
    covered = {module: covered_by(module) for module in registered}
    assert untested(registered, covered) == [], (
        "auth functions without call_auth tests: add them to the extension's "
        "tests/test_auth.py and its COVERED")
    assert stale(registered, covered) == []


def test_the_check_fails_for_an_auth_function_without_a_test():
    registered = {"ckanext.x.tests.test_auth": {"x": {"x_show", "x_create"}},
                  "ckanext.y.tests.test_auth": {"y": {"y_list"}}}
    covered = {"ckanext.x.tests.test_auth": {"x_show", "x_gone"}}
    assert untested(registered, covered) == [("x", "x_create"), ("y", "y_list")]
    assert stale(registered, covered) == [("ckanext.x.tests.test_auth", "x_gone")]
