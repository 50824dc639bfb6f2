"""The five plugins of the suite load together with the CKAN extensions the
portal runs, and each declares its options to `ckan config declaration`."""

from __future__ import annotations

import pathlib

import ckan.plugins as plugins
import pytest
import yaml

REPO = pathlib.Path(__file__).resolve().parent.parent

SUITE = {
    "grandlyon_access": "ckanext-grandlyon-access/ckanext/grandlyon_access",
    "grandlyon_licence": "ckanext-grandlyon-licence/ckanext/grandlyon_licence",
    "communes": "ckanext-communes/ckanext/communes",
    "history": "ckanext-history/ckanext/history",
    "dataviz": "ckanext-dataviz/ckanext/dataviz",
}
COMPANIONS = [
    "activity", "scheming_datasets", "scheming_organizations", "datastore",
    "harvest", "communes_ckan_harvester", "spatial_metadata", "spatial_query",
]


def declared_keys(plugin: str) -> list[str]:
    path = REPO / SUITE[plugin] / "config_declaration.yaml"
    declaration = yaml.safe_load(path.read_text(encoding="utf-8"))
    return [o["key"] for group in declaration["groups"] for o in group["options"]]


@pytest.mark.parametrize("name", [*SUITE, *COMPANIONS])
def test_plugin_is_loaded(name):
    assert plugins.plugin_loaded(name)


def test_status_show_lists_the_suite(app):
    extensions = app.get("/api/3/action/status_show").get_json()["result"]["extensions"]
    assert set(SUITE) | set(COMPANIONS) <= set(extensions)


@pytest.mark.parametrize("plugin", SUITE)
def test_config_declaration_prints_the_plugin_options(plugin, ckan_command):
    keys = declared_keys(plugin)
    assert keys and all(k.startswith(f"ckanext.{plugin}.") for k in keys)

    printed = ckan_command("config", "declaration", plugin)
    assert printed.returncode == 0, printed.stderr
    for key in keys:
        assert key in printed.stdout


def test_config_declaration_of_an_unknown_plugin_prints_no_option(ckan_command):
    printed = ckan_command("config", "declaration", "no_such_plugin")
    assert "ckanext." not in printed.stdout
