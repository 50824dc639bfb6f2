"""The dataset search's facet on the access level: counts from the same
filtered query as the results, so hidden datasets are not counted for those
who may not see them."""

from __future__ import annotations

import html

from ckan.tests import helpers


def _facet(result: dict) -> dict[str, int]:
    items = result["search_facets"]["access_level"]["items"]
    return {item["name"]: item["count"] for item in items}


def _search(user: str | None, **params) -> dict:
    context = {"user": user or "", "ignore_auth": False}
    return helpers.call_action("package_search", context=context,
                               **{"facet.field": '["access_level"]', **params})


def test_facet_counts_leave_out_hidden_datasets_for_outsiders(world):
    found = _search("outsider")
    names = {d["name"] for d in found["results"]}
    assert "ds-hidden" not in names
    assert _facet(found) == {"open": 1, "restricted": 1}
    assert _facet(_search(None)) == {"open": 1, "restricted": 1}


def test_facet_counts_include_hidden_datasets_for_those_who_see_them(world):
    assert _facet(_search("root")) == {"open": 1, "restricted": 2}
    helpers.call_action("grandlyon_access_grant_create", context={"user": "root"},
                        package_id="ds-hidden", user="grantee")
    assert _facet(_search("grantee")) == {"open": 1, "restricted": 2}


def test_filtering_by_a_hidden_level_shows_only_visible_datasets(world):
    found = _search("outsider", fq="access_level:restricted")
    assert [d["name"] for d in found["results"]] == ["ds-restricted"]
    assert found["count"] == 1


def test_search_page_shows_the_facet_in_french_with_visible_counts(app, world):
    page = html.unescape(app.get("/dataset/").body)
    assert "Niveau d'accès" in page
    assert "Ouvert" in page and "Restreint" in page
    filtered = html.unescape(app.get("/dataset/?access_level=restricted").body)
    assert "ds-restricted" in filtered and "ds-hidden" not in filtered
    english = html.unescape(app.get("/en/dataset/").body)
    assert "Access level" in english and "Restricted" in english

