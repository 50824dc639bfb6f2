"""The widget's search action (communes_widget_search), its iframe page and
builder, over HTTP: a commune's datasets as an anonymous visitor sees them,
download links for open datasets only, whoever asks."""

from __future__ import annotations

import gzip
import re

import pytest
from ckan.tests import factories
from ckanext.grandlyon_access.testing.pytest_plugin import LEVELS, level_fields, make_actor

ORIGIN = "https://origin.example.org/{}.csv"


@pytest.fixture
def world(clean_db, clean_index):
    commune = factories.Organization(name="ville-w", title="Ville W", is_commune="true",
                                     primary_color="#0a0")
    other = factories.Organization(name="autre-w")
    for level in LEVELS:
        name = f"w-{level}"
        factories.Dataset(name=name, title=f"Titre {name}", owner_org=commune["id"],
                          notes=f"**Description** de {name} " + "longue " * 60,
                          tags=[{"name": "theme-w"}] if name != "w-restricted" else [],
                          resources=[{"url": ORIGIN.format(name), "format": "csv",
                                      "name": f"fichier {name}"}], **level_fields(level))
    factories.Dataset(name="x-open", owner_org=other["id"], access_level="open")
    return {"token": make_actor(sysadmin=True).token}


def search(app, headers=None, **params):
    return app.get("/api/3/action/communes_widget_search", query_string=params,
                   headers=headers or {})


def test_the_commune_datasets_an_anonymous_visitor_sees(app, world):
    res = search(app, commune="ville-w", page_size=20)
    assert res.status_code == 200
    result = res.get_json()["result"]
    items = {d["name"]: d for d in result["results"]}
    assert set(items) == {"w-open", "w-licensed", "w-restricted"}
    assert result["count"] == 3
    assert result["commune"]["title"] == "Ville W"
    assert result["commune"]["primary_color"] == "#0a0"
    assert items["w-open"]["resources"] == [
        {"name": "fichier w-open", "format": "CSV", "url": ORIGIN.format("w-open")}]
    assert items["w-open"]["formats"] == ["CSV"]
    assert items["w-open"]["url"].endswith("/dataset/w-open")
    assert "<" not in items["w-open"]["excerpt"] and "Description de w-open" in items[
        "w-open"]["excerpt"]
    assert len(items["w-open"]["excerpt"]) <= 210
    for gated in ("w-licensed", "w-restricted"):
        assert items[gated]["resources"] == []
        assert ORIGIN.format(gated) not in res.get_data(as_text=True)
    assert items["w-licensed"]["access_level"] == "licensed"


def test_a_token_gives_no_more_than_anonymous(app, world):
    result = search(app, {"Authorization": world["token"]}, commune="ville-w",
                    page_size=20).get_json()["result"]
    assert {d["name"] for d in result["results"]} == {"w-open", "w-licensed", "w-restricted"}
    assert all(not d["resources"] for d in result["results"] if d["access_level"] != "open")


def test_search_words_tags_and_pages(app, world):
    tagged = search(app, commune="ville-w", tags="theme-w", page_size=20).get_json()["result"]
    assert {d["name"] for d in tagged["results"]} == {"w-open", "w-licensed"}
    found = search(app, commune="ville-w", q="w-restricted").get_json()["result"]
    assert [d["name"] for d in found["results"]][:1] == ["w-restricted"]
    pages = [search(app, commune="ville-w", page_size=1, page=n).get_json()["result"]
             for n in (1, 2, 3, 4)]
    assert [len(p["results"]) for p in pages] == [1, 1, 1, 0]
    assert len({p["results"][0]["name"] for p in pages[:3]}) == 3


@pytest.mark.parametrize("params,field", [
    ({"commune": "ville-w", "page_size": 0}, "page_size"),
    ({"commune": "ville-w", "page_size": 500}, "page_size"),
    ({"commune": "ville-w", "page_size": "x"}, "page_size"),
    ({"commune": "ville-w", "page": -1}, "page"),
    ({"commune": "ville-w", "q": "x" * 300}, "q"),
    ({}, "commune"),
])
def test_bad_input_names_the_field(app, world, params, field):
    res = search(app, **params)
    assert res.status_code == 409
    assert field in res.get_json()["error"]


@pytest.mark.parametrize("name", ["autre-w", "no-such-commune"])
def test_an_organisation_that_is_not_a_commune_is_missing(app, world, name):
    assert search(app, commune=name).status_code == 404


def test_the_list_of_communes(app, world):
    listed = app.get("/api/3/action/communes_list").get_json()["result"]
    assert [c["name"] for c in listed] == ["ville-w"]


def test_the_script_is_small(app):
    res = app.get("/communes/widget.js")
    assert res.status_code == 200
    assert res.headers["Content-Type"].startswith("text/javascript")
    assert len(gzip.compress(res.data, 9)) < 30 * 1024
    body = res.get_data(as_text=True)
    assert "innerHTML" not in body and "eval(" not in body


def test_the_iframe_page_validates_its_options_and_may_be_framed(app, world):
    res = app.get("/commune/ville-w/widget", query_string={
        "q": "vélo", "tags": "a,b", "page-size": "3", "primary-color": "#123",
        "lang": "en"})
    assert res.status_code == 200
    html = res.get_data(as_text=True)
    element = re.search(r"<commune-datasets[^>]*>", html).group(0)
    for attr in ('commune="ville-w"', 'q="vélo"', 'tags="a,b"', 'page-size="3"',
                 'primary-color="#123"', 'lang="en"'):
        assert attr in element
    assert "frame-ancestors *" in res.headers["Content-Security-Policy"]
    assert "X-Frame-Options" not in res.headers
    bad = app.get("/commune/ville-w/widget", query_string={
        "q": '"><script>alert(1)</script>', "page-size": "999",
        "primary-color": "red;x", "lang": "de"}).get_data(as_text=True)
    element = re.search(r"<commune-datasets[^>]*>", bad).group(0)
    assert element == '<commune-datasets commune="ville-w">'
    assert "<script>alert" not in bad
    assert app.get("/commune/autre-w/widget").status_code == 404


def test_other_pages_are_not_frameable(app, world):
    res = app.get("/commune/ville-w")
    assert "frame-ancestors 'none'" in res.headers["Content-Security-Policy"]
    assert res.headers["X-Frame-Options"] == "DENY"


def test_the_builder_page(app, world):
    res = app.get("/commune/ville-w/widget-builder")
    assert res.status_code == 200
    html = res.get_data(as_text=True)
    assert "/communes/widget.js" in html and "/commune/ville-w/widget" in html
    assert "builder.js" in html
    assert app.get("/commune/autre-w/widget-builder").status_code == 404
