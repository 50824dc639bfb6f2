"""The white-label view of a commune, by path (/commune/<name>) and by host
name: the commune's identity, a search of its datasets only (as the visitor
may see them), facets and pages, and dataset pages that keep the identity."""

from __future__ import annotations

import re

import pytest
from ckan.tests import factories
from ckanext.grandlyon_access.testing.pytest_plugin import level_fields, make_actor

HOST = "data.ville-a.fr"


@pytest.fixture
def world(clean_db, clean_index):
    editor = make_actor("editeur-a")
    commune = factories.Organization(
        name="ville-a", title="Ville A", is_commune="true", primary_color="#C8102E",
        secondary_color="#eee", host_names=HOST, introduction="Les **données** de A",
        users=[{"name": editor.name, "capacity": "editor"}])
    other = factories.Organization(name="autre-org", title="Autre organisation")
    service = factories.Organization(name="service-metropole", title="Service")

    def dataset(name, org, level, **fields):
        return factories.Dataset(name=name, title=f"Titre {name}", owner_org=org["id"],
                                 **level_fields(level), **fields)

    dataset("a-open", commune, "open", tags=[{"name": "velo"}],
            resources=[{"url": "https://origin.example.org/a-open.csv", "format": "CSV"}])
    dataset("a-restricted", commune, "restricted",
            resources=[{"url": "https://origin.example.org/a-restricted.csv", "format": "JSON"}])
    dataset("a-hidden", commune, "hidden")
    dataset("a-private", commune, "private")
    dataset("b-open", other, "open")
    dataset("s-open", service, "open")
    return {"commune": commune, "editor": editor}


def listed(html: str) -> set[str]:
    return set(re.findall(r'data-dataset="([^"]+)"', html))


def test_the_commune_page_shows_its_identity_and_only_its_visible_datasets(app, world):
    res = app.get("/commune/ville-a")
    assert res.status_code == 200
    html = res.get_data(as_text=True)
    assert listed(html) == {"a-open", "a-restricted"}
    assert "--commune-primary:#c8102e;--commune-secondary:#eee;" in html
    assert 'class="commune-header"' in html and "Ville A" in html
    assert "<strong>données</strong>" in html
    for facet in ("tags", "res_format", "access_level", "license_id"):
        assert f'data-facet="{facet}"' in html
    for hidden in ("a-hidden", "a-private", "b-open", "s-open", "Titre a-hidden"):
        assert hidden not in html


def test_the_organisation_editor_sees_the_hidden_and_private_ones(app, world):
    html = app.get("/commune/ville-a", headers=world["editor"].headers).get_data(as_text=True)
    assert listed(html) == {"a-open", "a-restricted", "a-hidden", "a-private"}


def test_the_same_view_under_the_commune_host_name(app, world):
    res = app.get("/", headers={"Host": HOST})
    assert res.status_code == 200
    html = res.get_data(as_text=True)
    assert listed(html) == {"a-open", "a-restricted"}
    assert "--commune-primary:#c8102e" in html
    assert 'href="/dataset/a-open"' in html
    # Another host: the portal's own home.
    html = app.get("/", headers={"Host": "autre.example.org"}).get_data(as_text=True)
    assert "commune-header" not in html and "--commune-primary" not in html


def test_dataset_pages_keep_the_identity(app, world, ckan_config):
    by_path = app.get("/commune/ville-a/dataset/a-open")
    assert by_path.status_code == 200
    html = by_path.get_data(as_text=True)
    assert "commune-header" in html and "--commune-primary:#c8102e" in html
    assert "Titre a-open" in html
    by_host = app.get("/dataset/a-open", headers={"Host": HOST})
    assert by_host.status_code == 200
    assert "commune-header" in by_host.get_data(as_text=True)
    # Another organisation's dataset under the commune's host name: the portal's own page.
    elsewhere = app.get("/dataset/b-open", headers={"Host": HOST}, follow_redirects=False)
    assert elsewhere.status_code == 302
    assert elsewhere.headers["Location"] == ckan_config["ckan.site_url"] + "/dataset/b-open"


@pytest.mark.parametrize("url", [
    "/commune/ville-a/dataset/b-open", "/commune/ville-a/dataset/a-hidden",
    "/commune/ville-a/dataset/a-private", "/commune/ville-a/dataset/no-such-dataset",
    "/commune/autre-org", "/commune/no-such-commune", "/commune/autre-org/dataset/b-open",
])
def test_what_is_not_the_commune_visible_dataset_is_missing(app, world, url):
    res = app.get(url)
    assert res.status_code == 404
    assert "Titre a-hidden" not in res.get_data(as_text=True)


def test_facets_filter_the_search(app, world):
    html = app.get("/commune/ville-a?access_level=restricted").get_data(as_text=True)
    assert listed(html) == {"a-restricted"}
    html = app.get("/commune/ville-a?tags=velo").get_data(as_text=True)
    assert listed(html) == {"a-open"}
    html = app.get("/commune/ville-a?q=a-restricted").get_data(as_text=True)
    assert "a-restricted" in listed(html)
    html = app.get('/commune/ville-a?tags=%22%29%20OR%20*:*').get_data(as_text=True)
    assert listed(html) == set()


def test_pages(app, clean_db, clean_index):
    org = factories.Organization(name="ville-p", is_commune="true")
    for n in range(21):
        factories.Dataset(name=f"p-{n:02d}", owner_org=org["id"], access_level="open")
    first = app.get("/commune/ville-p").get_data(as_text=True)
    second = app.get("/commune/ville-p?page=2").get_data(as_text=True)
    assert len(listed(first)) == 20 and len(listed(second)) == 1
    assert not listed(first) & listed(second)
    assert 'rel="next"' in first and 'rel="prev"' in second


def test_the_list_of_communes_shows_communes_only_with_their_map(app, clean_db):
    square = ('{"type":"Polygon","coordinates":[[[4.8,45.7],[4.9,45.7],[4.9,45.8],'
              '[4.8,45.8],[4.8,45.7]]]}')
    factories.Organization(name="ville-m", title="Ville M", is_commune="true",
                           boundary=square, primary_color="#123456")
    factories.Organization(name="ville-n", title="Ville N", is_commune="true")
    factories.Organization(name="service-x", title="Service X")
    html = app.get("/commune/").get_data(as_text=True)
    assert set(re.findall(r'data-commune="([^"]+)"', html)) == {"ville-m", "ville-n"}
    assert html.count("<path ") == 1 and 'fill="#123456"' in html


@pytest.mark.ckan_config("ckan.group_and_organization_list_all_fields_max", "2")
def test_the_list_of_communes_reads_every_page_of_organisations(app, clean_db):
    for n in range(5):
        factories.Organization(name=f"ville-{n}", title=f"Ville {n}", is_commune="true")
    listed = app.get("/api/3/action/communes_list").get_json()["result"]
    assert [c["name"] for c in listed] == [f"ville-{n}" for n in range(5)]


def test_a_dataset_page_shows_its_organisation_in_the_sidebar(app, world):
    """The sidebar's organisation (read without members, tags or counts):
    its link, title and description, once."""
    html = app.get("/dataset/b-open").get_data(as_text=True)
    sidebar = html.split('id="organization-info"', 1)[1].split("</section>", 1)[0]
    assert 'href="/organization/autre-org"' in sidebar
    assert "Autre organisation" in sidebar
    description = app.get("/api/3/action/organization_show?id=autre-org").json["result"]["description"]
    assert description and description[:40] in sidebar
    assert html.count('id="organization-info"') == 1
