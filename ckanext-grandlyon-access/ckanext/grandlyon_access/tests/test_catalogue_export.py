"""The catalogue as CSV (site/catalogue_export.py): the datasets each user
may see and nothing else, gated resources by their download route, the
search page's current search, pages of searches, formula-safe cells.

One world for the module: a dataset at each level (the shared `World`) and
a themed, tagged dataset whose title starts like a spreadsheet formula.
"""

from __future__ import annotations

import csv
import html
import io
import re

import ckan.plugins.toolkit as tk
import pytest
from ckan.plugins import load_all, plugin_loaded
from ckan.tests import factories
from ckanext.grandlyon_access.testing.pytest_plugin import ORIGIN, World

BOM = "\ufeff"
FORMULA_TITLE = "=HYPERLINK(\"http://evil.example\")"
HEADER = ["name", "title", "url", "access_level", "private", "license_id", "license_title",
          "organization", "groups", "tags", "metadata_created", "metadata_modified",
          "resource_formats", "resource_urls"]


class ExportWorld(World):
    def prepare(self) -> None:
        self.theme = factories.Group(name="mobilite", title="Mobilité")

    def make_dataset(self, key, **fields):
        if key == "themed":
            fields.update(groups=[{"name": "mobilite"}], tags=[{"name": "vélo"}, {"name": "-cmd"}])
        dataset = super().make_dataset(key, **fields)
        if key == "themed":
            self.call("package_patch", id=dataset["id"], title=FORMULA_TITLE)
        return dataset


@pytest.fixture(scope="module")
def world(reset_portal_db, reset_index):
    if not plugin_loaded("grandlyon_access"):
        load_all()
    reset_portal_db()
    reset_index()
    return ExportWorld(datasets={"open": "open", "licensed": "licensed",
                                 "restricted": "restricted", "hidden": "hidden",
                                 "private": "private", "themed": "open"},
                       table=False, creator="sysadmin")


def export(app, url="/catalogue.csv", who=None):
    res = app.get(url, headers=who.headers if who else {})
    assert res.status_code == 200, res.get_data(as_text=True)[:500]
    assert res.headers["Content-Type"].startswith("text/csv")
    text = res.get_data(as_text=True)
    assert text.startswith(BOM)
    lines = list(csv.DictReader(io.StringIO(text[len(BOM):])))
    return text, {line["name"]: line for line in lines}, lines


def assert_hidden(text, ds):
    for secret in (ds["name"], ds["id"], ds["title"], ORIGIN.format(ds["name"][3:])):
        assert secret not in text


def test_an_anonymous_visitor_gets_the_public_catalogue(app, world):
    text, found, lines = export(app)
    assert list(csv.reader(io.StringIO(text[len(BOM):])))[0] == HEADER
    assert sorted(found) == ["ds-licensed", "ds-open", "ds-restricted", "ds-themed"]
    assert len(lines) == 4
    for key in ("hidden", "private"):
        assert_hidden(text, world.datasets[key])
    site = tk.config["ckan.site_url"].rstrip("/")
    opened = found["ds-open"]
    assert opened["url"] == f"{site}/dataset/ds-open"
    assert opened["access_level"] == "open" and opened["private"] == "false"
    assert opened["license_id"] == "lo-2.0" and opened["license_title"]
    assert opened["organization"] == world.org["title"]
    assert opened["resource_formats"] == "CSV"
    assert opened["resource_urls"] == ORIGIN.format("open")
    assert opened["metadata_modified"] == world.datasets["open"]["metadata_modified"]


def test_gated_resources_are_listed_by_their_download_route(app, world):
    site = tk.config["ckan.site_url"].rstrip("/")
    for who in (None, world.editor):
        text, found, _lines = export(app, who=who)
        for key in ("licensed", "restricted"):
            ds = world.datasets[key]
            assert found[ds["name"]]["resource_urls"] == (
                f"{site}/dataset/{ds['name']}/resource/{ds['file_id']}/download")
            assert ORIGIN.format(key) not in text
        assert found["ds-licensed"]["access_level"] == "licensed"


def test_each_user_gets_what_they_may_see(app, world):
    _text, found, _lines = export(app, who=world.member)
    assert {"ds-hidden", "ds-private"} <= set(found)
    assert found["ds-private"]["private"] == "true"
    assert found["ds-hidden"]["resource_urls"].endswith("/download")
    text, found, _lines = export(app, who=world.outsider)
    assert "ds-hidden" not in found and "ds-private" not in found
    for key in ("hidden", "private"):
        assert_hidden(text, world.datasets[key])


def test_cells_are_safe_for_spreadsheets_and_lists_are_joined(app, world):
    _text, found, _lines = export(app)
    themed = found["ds-themed"]
    assert themed["title"] == "'" + FORMULA_TITLE
    assert themed["groups"] == "Mobilité"
    assert themed["tags"] == "'-cmd | vélo"


def test_the_export_follows_the_current_search(app, world):
    _text, found, _lines = export(app, "/catalogue.csv?groups=mobilite")
    assert list(found) == ["ds-themed"]
    _text, found, _lines = export(app, "/catalogue.csv?q=Dataset&access_level=restricted")
    assert list(found) == ["ds-restricted"]
    _text, _found, lines = export(app, "/catalogue.csv?sort=name+asc")
    names = [line["name"] for line in lines]
    assert names == sorted(names)
    _text, _found, lines = export(app, "/catalogue.csv?sort=name+desc")
    assert [line["name"] for line in lines] == sorted(names, reverse=True)


def test_the_english_route_serves_the_same_file(app, world):
    assert export(app, "/en/catalogue.csv")[1].keys() == export(app)[1].keys()


def test_an_invalid_search_is_refused_with_400(app, world):
    res = app.get("/catalogue.csv?q=title:(unclosed", expect_errors=True)
    assert res.status_code == 400


def test_the_search_page_links_both_exports_of_its_search(app, world):
    page = html.unescape(app.get("/dataset/?q=velo&tags=v%C3%A9lo&page=2").get_data(as_text=True))
    links = re.findall(r'href="([^"]+)"', page)
    assert "/catalogue.csv?q=velo&tags=v%C3%A9lo" in links
    dcat = [link for link in links if link.startswith("/catalog.ttl?")]
    assert dcat and "q=velo" in dcat[0] and "fq=" in dcat[0]
    english = html.unescape(app.get("/en/dataset/").get_data(as_text=True))
    assert 'href="/en/catalogue.csv"' in english and 'href="/en/catalog.ttl"' in english


@pytest.mark.ckan_config("ckan.search.rows_max", "2")
def test_the_catalogue_is_read_in_pages(app, world):
    _text, found, lines = export(app, who=world.sysadmin)
    assert len(lines) == len(found) == 6
