"""The API help panel of dataset and resource pages (site/api_help.py,
templates/api_help/panel.html): the examples with the page's real ids, the
DataStore and history examples where there is a table or a history, where
to get a token, the next step for gated data; and every Python example of
the panel, run against a live portal, does what the panel says.

One world for the module: an open, a licensed and a restricted dataset,
each with one resource, a DataStore table (no external file, so every
example calls the portal itself); the open one's table has a history.
"""

from __future__ import annotations

import datetime
import html
import re

import pytest
import requests
from ckan.plugins import load_all, plugin_loaded
from ckanext.grandlyon_access.site import api_help
from ckanext.grandlyon_access.testing.pytest_plugin import World
from ckanext.history import store

CODE = re.compile(
    r'<code class="language-(\w+)" data-example="(\w+)" data-language="\w+">(.*?)</code>',
    re.S)
ALL = ["package_show", "download", "datastore_search", "history_query"]


class ApiWorld(World):
    def resources(self, key):
        return []


@pytest.fixture(scope="module")
def world(reset_portal_db, reset_index):
    if not plugin_loaded("grandlyon_access"):
        load_all()
    reset_portal_db()
    reset_index()
    made = ApiWorld(datasets=("open", "licensed", "restricted"), creator="sysadmin")
    table = made.datasets["open"]["table_id"]
    store.ensure_schema(table, [{"name": "bikes", "type": "int"}])
    store.write_rows(table, [{"feature": "A", "time": datetime.datetime(2026, 12, 5, 10, m),
                              "values": {"bikes": m}} for m in range(3)])
    return made


def page(app, url, who=None):
    res = app.get(url, headers=who.headers if who else {})
    assert res.status_code == 200, url
    return res.get_data(as_text=True)


def codes(body, language="python"):
    """example key -> code of `language`, as the page shows it."""
    return {key: html.unescape(code) for lang, key, code in CODE.findall(body) if lang == language}


def test_the_dataset_and_resource_pages_show_every_example_with_real_ids(app, world):
    ds = world.datasets["open"]
    for url in (f"/dataset/{ds['name']}", f"/dataset/{ds['name']}/resource/{ds['table_id']}"):
        body = page(app, url)
        assert '<details class="grandlyon-api-help' in body and "<summary" in body
        for language in ("curl", "python", "javascript"):
            found = codes(body, language)
            assert list(found) == ALL, (url, language)
            assert ds["name"] in found["package_show"]
            assert ds["table_id"] in found["datastore_search"]
            assert ds["table_id"] in found["history_query"]
        assert "requests.get(" in codes(body)["download"]
        assert "await fetch(" in codes(body, "javascript")["download"]
        assert "CKAN_API_TOKEN" in codes(body, "curl")["package_show"]


def test_without_a_table_or_history_the_examples_are_not_offered(world):
    pkg = {"name": "x", "resources": [{"id": "r1", "url": "https://example.org/a.csv"}]}
    assert [e["key"] for e in api_help.examples(pkg, history=lambda r: None)] == [
        "package_show", "download"]
    assert api_help.examples(pkg, history=lambda r: None)[1]["python"].count('"a.csv"') == 1


def test_the_panel_says_where_to_get_a_token_in_both_languages(app, world):
    french = html.unescape(page(app, "/dataset/ds-open"))
    assert "Utiliser ces données par l'API" in french
    assert "connectez-vous" in french.lower()
    english = html.unescape(page(app, "/en/dataset/ds-open", world.outsider))
    assert "Use this data through the API" in english
    assert 'href="/en/user/outsider/api-tokens"' in english


def test_gated_data_says_the_next_step(app, world):
    english = html.unescape(page(app, "/en/dataset/ds-restricted"))
    panel = english[english.index("grandlyon-api-help"):]
    assert "answer 403" in panel and "Log in to reach the data" in panel
    panel = html.unescape(page(app, "/en/dataset/ds-restricted", world.outsider))
    panel = panel[panel.index("grandlyon-api-help"):]
    assert "You may ask the publisher for access" in panel
    panel = html.unescape(page(app, "/en/dataset/ds-licensed", world.outsider))
    panel = panel[panel.index("grandlyon-api-help"):]
    assert "Read and sign the licence" in panel
    # A history is offered only to those who may read it (none here).
    assert "history_query" not in codes(page(app, "/dataset/ds-restricted"))
    assert "answer 403" not in html.unescape(page(app, "/en/dataset/ds-open"))


def run(code, tmp_path, monkeypatch, token=None):
    """Runs a Python example as a user would, in an empty folder."""
    monkeypatch.chdir(tmp_path)
    if token:
        monkeypatch.setenv("CKAN_API_TOKEN", token)
    else:
        monkeypatch.delenv("CKAN_API_TOKEN", raising=False)
    exec(compile(code, "example.py", "exec"), {"__name__": "__main__"})


def test_the_python_examples_run_against_the_live_portal(live_portal, app, world, tmp_path,
                                                         monkeypatch, capsys):
    ds = world.datasets["open"]
    tmp_path = tmp_path / "work"
    tmp_path.mkdir()
    for url in (f"/dataset/{ds['name']}", f"/dataset/{ds['name']}/resource/{ds['table_id']}"):
        found = codes(page(app, url))
        assert list(found) == ALL
        for key, code in found.items():
            assert live_portal.url in code, key
            run(code, tmp_path, monkeypatch)
        printed = capsys.readouterr().out
        assert "Dataset open" in printed and "secret-open" in printed and "'bikes': 2" in printed
        assert b"secret-open" in (tmp_path / "data").read_bytes()

    gated = codes(page(app, "/dataset/ds-restricted"))
    assert list(gated) == ["package_show", "download", "datastore_search"]
    run(gated["package_show"], tmp_path, monkeypatch)
    for key in ("download", "datastore_search"):
        with pytest.raises(requests.HTTPError) as refused:
            run(gated[key], tmp_path, monkeypatch)
        assert refused.value.response.status_code == 403, key
    # With the token of someone who has access, the same example reads the data.
    run(gated["datastore_search"], tmp_path, monkeypatch, token=world.editor.token)
    assert "secret-restricted" in capsys.readouterr().out
