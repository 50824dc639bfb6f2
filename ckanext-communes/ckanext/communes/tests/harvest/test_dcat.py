"""The portal is harvestable: its DCAT-AP catalogue (ckanext-dcat with the
`communes_access` profile) carries licences and access rights, and shows an
anonymous visitor exactly what package_search and package_show show them:
no hidden restricted or private dataset, no origin URL of gated data (the
gated download route instead)."""

from __future__ import annotations

import pytest
from ckan.tests import factories, helpers
from rdflib import Graph, URIRef
from rdflib.namespace import DCAT, DCTERMS

ORIGIN = "https://origin.example.org/secret/{}.csv"
RIGHTS = "http://publications.europa.eu/resource/authority/access-right/"
LEVELS = {
    "open": {"access_level": "open", "license_id": "lo-2.0"},
    "licensed": {"access_level": "licensed", "license_id": "mobilites"},
    "restricted": {"access_level": "restricted", "license_id": "lo-2.0"},
    "hidden": {"access_level": "restricted", "access_hidden": "true", "license_id": "lo-2.0"},
    "private": {"access_level": "open", "license_id": "lo-2.0", "private": True},
}
FORMATS = {"ttl": "turtle", "rdf": "xml", "jsonld": "json-ld", "xml": "xml"}


@pytest.fixture
def world(clean_db, clean_index):
    editor = factories.User(name="dcat-editor")
    org = factories.Organization(name="dcat-org", users=[{"name": editor["name"],
                                                          "capacity": "editor"}])
    datasets = {}
    for key, fields in LEVELS.items():
        datasets[key] = helpers.call_action(
            "package_create", context={"user": editor["name"]}, name=f"dcat-{key}",
            title=f"DCAT {key} title", owner_org=org["id"],
            resources=[{"name": "file", "url": ORIGIN.format(key), "format": "CSV"}], **fields)
    return {"editor": editor, "org": org, "datasets": datasets}


def graph(body: str, fmt: str) -> Graph:
    return Graph().parse(data=body, format=FORMATS[fmt])


def dataset_node(g: Graph, ds: dict) -> URIRef:
    for node in g.subjects(DCTERMS.identifier, None):
        if str(g.value(node, DCTERMS.identifier)) == ds["id"]:
            return node
    raise AssertionError(f"{ds['name']} not in the catalogue")


@pytest.mark.parametrize("fmt", ["ttl", "rdf", "jsonld"])
def test_anonymous_catalogue_hides_hidden_and_private_and_gated_origins(app, world, fmt):
    res = app.get(f"/catalog.{fmt}")
    assert res.status_code == 200
    body = res.get_data(as_text=True)
    g = graph(body, fmt)
    ds = world["datasets"]

    for key in ("hidden", "private"):
        for secret in (ds[key]["id"], ds[key]["name"], ds[key]["title"], ORIGIN.format(key)):
            assert secret not in body, (key, secret)
    for key in ("licensed", "restricted"):
        assert ORIGIN.format(key) not in body
    assert ORIGIN.format("open") in body

    expected = {"open": "PUBLIC", "licensed": "RESTRICTED", "restricted": "NON_PUBLIC"}
    for key, right in expected.items():
        node = dataset_node(g, ds[key])
        assert set(g.objects(node, DCTERMS.accessRights)) == {URIRef(RIGHTS + right)}, key
        assert list(g.objects(node, DCTERMS.license)), key
        urls = {str(u) for dist in g.objects(node, DCAT.distribution)
                for u in g.objects(dist, DCAT.accessURL)}
        if key == "open":
            assert urls == {ORIGIN.format("open")}
        else:
            resource_id = ds[key]["resources"][0]["id"]
            assert urls == {f"http://test.ckan.net/dataset/{ds[key]['name']}/resource/"
                            f"{resource_id}/download"} or all(
                u.endswith(f"/dataset/{ds[key]['name']}/resource/{resource_id}/download")
                for u in urls), urls
    licence = set(g.objects(dataset_node(g, ds["open"]), DCTERMS.license))
    assert URIRef("https://www.etalab.gouv.fr/licence-ouverte-open-licence/") in licence


def test_catalogue_queries_do_not_find_gated_datasets_by_origin(app, world):
    for params in ("q=origin.example.org", "fq=res_url:*secret*", "q=name:dcat-hidden",
                   "fq=capacity:private"):
        body = app.get(f"/catalog.ttl?{params}").get_data(as_text=True)
        for key in ("hidden", "private"):
            assert world["datasets"][key]["id"] not in body, params
        for key in ("licensed", "restricted", "hidden", "private"):
            assert ORIGIN.format(key) not in body, params


@pytest.mark.parametrize("fmt", ["rdf", "ttl", "jsonld"])
def test_anonymous_dataset_rdf_per_level(app, world, fmt):
    ds = world["datasets"]
    missing = app.get(f"/dataset/dcat-does-not-exist.{fmt}")
    for key in ("hidden", "private"):
        res = app.get(f"/dataset/{ds[key]['name']}.{fmt}")
        assert res.status_code == missing.status_code == 404
        body = res.get_data(as_text=True)
        assert ds[key]["title"] not in body and ORIGIN.format(key) not in body
    for key, right in (("open", "PUBLIC"), ("licensed", "RESTRICTED"),
                       ("restricted", "NON_PUBLIC")):
        res = app.get(f"/dataset/{ds[key]['name']}.{fmt}")
        assert res.status_code == 200
        body = res.get_data(as_text=True)
        assert (ORIGIN.format(key) in body) is (key == "open"), key
        g = graph(body, fmt)
        assert set(g.objects(dataset_node(g, ds[key]), DCTERMS.accessRights)) == {
            URIRef(RIGHTS + right)}


def test_the_editor_sees_hidden_datasets_and_origins(app, world):
    """The catalogue comes from the search index, which holds no origin URL of
    gated data: it lists the download route (which redirects those with
    access); the dataset's own RDF (package_show) has the origin."""
    token = factories.APIToken(user=world["editor"]["name"])["token"]
    body = app.get("/catalog.ttl", headers={"Authorization": token}).get_data(as_text=True)
    assert world["datasets"]["hidden"]["id"] in body
    assert ORIGIN.format("open") in body
    res = app.get("/dataset/dcat-hidden.rdf", headers={"Authorization": token})
    assert res.status_code == 200 and ORIGIN.format("hidden") in res.get_data(as_text=True)


def test_dcat_actions_gate_like_package_show(world):
    """dcat_dataset_show / dcat_catalog_show over the action API (anonymous)."""
    from ckan.tests.helpers import _get_test_app

    app = _get_test_app()
    hidden = app.post("/api/3/action/dcat_dataset_show", json={"id": "dcat-hidden",
                                                               "format": "ttl"})
    missing = app.post("/api/3/action/dcat_dataset_show", json={"id": "dcat-nope",
                                                                "format": "ttl"})
    assert hidden.status_code == missing.status_code == 404
    assert hidden.get_json()["error"] == missing.get_json()["error"]
    catalogue = app.post("/api/3/action/dcat_catalog_show", json={"format": "ttl"})
    assert catalogue.status_code == 200
    body = catalogue.get_data(as_text=True)
    assert "dcat-hidden" not in body and ORIGIN.format("restricted") not in body
