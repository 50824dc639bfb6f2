"""What the outside probe of the DCAT-AP catalogue (issue 15) found: values
that broke the catalogue or a dataset are refused when saved, and those
stored before are left out of (or encoded in) the RDF, never a 500."""

from __future__ import annotations
import re
from urllib.parse import quote

import ckan.model as model
import ckan.plugins.toolkit as tk
import pytest
from ckan.lib import search
from ckan.tests import factories, helpers
from rdflib import Graph, Namespace, URIRef
from rdflib.namespace import DCAT, DCTERMS, RDF, XSD

HYDRA = Namespace("http://www.w3.org/ns/hydra/core#")

# Turtle's IRIREF (grammar rule [18]) may not hold these; rdflib reads them
# leniently, Jena and RDF4J (data.europa.eu's harvester) do not.
STRICT_IRIREF_FORBIDS = re.compile(r'[\x00-\x20"{}|^`\\]')

BAD_URLS = [
    "http://[::1/x.csv",
    "https://example.org/a\nb.csv",
    "https://example.org/a\tb.csv",
    "https://example.org/a b.csv",
    "https://example.org:99999/x.csv",
    "javascript:alert(1)",
    "data:text/csv,a,b",
    "file:///etc/passwd",
    "example.org/x.csv",
]


@pytest.fixture
def _portal_plugins():
    """The module's plugins are loaded once, by `portal_for_module`."""
    yield


@pytest.fixture(scope="module")
def world(portal_for_module):
    """A publisher (sysadmin token) and an organisation, once per module."""
    admin = factories.Sysadmin()
    org = factories.Organization(name="hardening-org")
    token = factories.APIToken(user=admin["name"])["token"]
    return {"admin": admin, "org": org, "headers": {"Authorization": token}}


def _api(app, world, action, data):
    res = app.post(f"/api/3/action/{action}", json=data, headers=world["headers"])
    return res.status_code, res.get_json()


def _dataset(app, world, name, **extra):
    status, body = _api(app, world, "package_create", dict(
        name=name, title=name, owner_org=world["org"]["id"], license_id="lo-2.0",
        resources=[{"name": "r", "url": "https://example.org/ok.csv", "format": "CSV"}],
        **extra))
    assert status == 200, body
    return body["result"]


@pytest.mark.parametrize("url", BAD_URLS)
def test_an_unusable_resource_url_is_refused_and_nothing_stored(app, world, url):
    name = "bad-url-" + str(BAD_URLS.index(url))
    status, body = _api(app, world, "package_create", dict(
        name=name, title=name, owner_org=world["org"]["id"], license_id="lo-2.0",
        resources=[{"name": "r", "url": url}]))
    assert status == 409, body
    assert "url" in body["error"]["resources"][0]
    assert model.Session.query(model.Package).filter_by(name=name).count() == 0

    dataset = _dataset(app, world, name + "-ok")
    resource = dataset["resources"][0]
    status, body = _api(app, world, "resource_patch", {"id": resource["id"], "url": url})
    assert status == 409, body
    assert "url" in body["error"]
    shown = helpers.call_action("resource_show", id=resource["id"])
    assert shown["url"] == "https://example.org/ok.csv"


@pytest.mark.parametrize("url", ["https://example.org/x.csv?a=1#b", "http://[::1]:8080/x",
                                 "ftp://ftp.example.org/x.zip"])
def test_http_https_and_ftp_urls_are_kept(app, world, url):
    dataset = _dataset(app, world, "good-url-" + str(abs(hash(url)) % 10000))
    status, body = _api(app, world, "resource_patch",
                        {"id": dataset["resources"][0]["id"], "url": url})
    assert status == 200, body
    assert body["result"]["url"] == url


def test_an_uploaded_file_name_is_kept(app, world):
    dataset = _dataset(app, world, "uploaded-file")
    status, body = _api(app, world, "resource_patch", {
        "id": dataset["resources"][0]["id"], "url": "stations.csv", "url_type": "upload"})
    assert status == 200, body
    assert body["result"]["url"].endswith("/download/stations.csv")
    # shown back as the portal's download URL, and saved again as it is
    status, body = _api(app, world, "resource_patch",
                        {"id": dataset["resources"][0]["id"], "name": "renamed"})
    assert status == 200, body
    assert body["result"]["url"].endswith("/download/stations.csv")


def test_resource_create_with_an_unreadable_url_is_a_409(app, world):
    dataset = _dataset(app, world, "resource-create-bad")
    status, body = _api(app, world, "resource_create",
                        {"package_id": dataset["id"], "url": "http://[::1/x.csv"})
    assert status == 409, body
    assert "url" in body["error"]
    assert len(helpers.call_action("package_show", id=dataset["id"])["resources"]) == 1


def strict_turtle(body: str) -> Graph:
    """The graph of a Turtle text, after checking its IRIs as strictly as
    Jena does (the rdflib parser alone would accept them)."""
    bad = [m.group(0) for m in re.finditer(r"<[^<>]*>", body)
           if STRICT_IRIREF_FORBIDS.search(m.group(0)[1:-1])]
    assert not bad, bad[:5]
    return Graph().parse(data=body, format="turtle")


def test_a_url_stored_before_the_validator_is_encoded_in_the_rdf(app, world):
    dataset = _dataset(app, world, "stored-before")
    resource = model.Resource.get(dataset["resources"][0]["id"])
    resource.url = 'https://example.org/a\nb c{d}|e"f^g`h\\i.csv'
    model.Session.commit()
    search.rebuild(dataset["id"])
    for path in ("/catalog.ttl", "/dataset/stored-before.ttl"):
        res = app.get(path)
        assert res.status_code == 200, path
        g = strict_turtle(res.get_data(as_text=True))
        assert URIRef("https://example.org/a%0Ab%20c%7Bd%7D%7Ce%22f%5Eg%60h%5Ci.csv") in set(
            g.objects(None, DCAT.downloadURL)) | set(g.objects(None, DCAT.accessURL)), path


@pytest.mark.parametrize("char", [" ", "|", "^", "<", "`", "{", "\\"])
@pytest.mark.parametrize("fmt", ["ttl", "n3", "rdf"])
def test_the_paging_iris_are_percent_encoded(app, world, char, fmt):
    _dataset(app, world, "paged") if not model.Package.by_name("paged") else None
    fq = f'organization:hardening-org OR title:"x{char}y"'
    res = app.get(f"/catalog.{fmt}", query_string={"fq": fq})
    assert res.status_code == 200, res.get_data(as_text=True)[:300]
    body = res.get_data(as_text=True)
    if fmt == "rdf":
        g = Graph().parse(data=body, format="xml")
    else:
        g = strict_turtle(body)
    paging = [str(node) for node in g.subjects(RDF.type, HYDRA.PagedCollection)]
    assert len(paging) == 1 and paging[0].endswith(
        f"/catalog.{fmt}?fq={quote(fq, safe='')}&page=1"), paging
    assert str(g.value(URIRef(paging[0]), HYDRA.firstPage)) == paging[0]


@pytest.mark.parametrize("since, found", [
    ("2099-12-06T08:00:00Z", False), ("2099-12-06T08:00:00.000Z", False),
    ("2099-12-06T08:00:00+01:00", False), ("2099-12-06T08:00:00-05:00", False),
    ("2000-01-01", True), ("2000-01-01T00:00:00Z", True), ("2000-01-01T08:00:00+01:00", True)])
def test_modified_since_accepts_a_time_zone(app, world, since, found):
    _dataset(app, world, "paged") if not model.Package.by_name("paged") else None
    res = app.get("/catalog.ttl", query_string={"modified_since": since})
    assert res.status_code == 200, res.get_data(as_text=True)[:300]
    g = strict_turtle(res.get_data(as_text=True))
    assert bool(list(g.subjects(RDF.type, DCAT.Dataset))) is found


@pytest.mark.parametrize("since", ["2" * 5000, "abc", "NOW-1DAY", "2026-13-45", "*",
                                   "2026-12-06T08:00:00 OR 1=1"])
def test_modified_since_junk_is_a_400_naming_it(app, world, since):
    res = app.get("/catalog.ttl", query_string={"modified_since": since})
    assert res.status_code == 400
    assert "modified_since" in res.get_data(as_text=True)


@pytest.mark.parametrize("page", ["21474838", "100001", "99999999999999999999", "0", "-1",
                                  "abc", "1.5"])
def test_a_page_that_is_not_1_to_the_maximum_is_a_400_naming_it(app, world, page):
    res = app.get("/catalog.ttl", query_string={"page": page})
    assert res.status_code == 400
    body = res.get_data(as_text=True)
    assert "page doit être un nombre de 1 à" in body and "{" not in body.split("page doit")[1][:80]


@pytest.mark.parametrize("name, value", [("q", '"'), ("fq", "("), ("q", "{!lucene}*:*"),
                                         ("fq", "{!join from=id to=id}*:*")])
def test_a_search_syntax_error_is_refused_naming_the_parameter(app, world, name, value):
    res = app.get("/catalog.ttl", query_string={name: value})
    assert res.status_code == 400, res.status_code
    assert re.search(f"(search of|recherche de) {name} ", res.get_data(as_text=True))


@pytest.mark.parametrize("path", ["/catalog.json", "/catalog.nt", "/catalog.foo",
                                  "/catalog.TTL", "/dataset/paged.json", "/dataset/paged.nt"])
def test_an_unknown_rdf_format_is_a_404_like_a_missing_dataset(app, world, path):
    _dataset(app, world, "paged") if not model.Package.by_name("paged") else None
    missing = app.get("/dataset/no-such-dataset.ttl")
    assert missing.status_code == 404
    res = app.get(path)
    assert res.status_code == 404
    assert as_compared(res, path) == as_compared(missing, "/dataset/no-such-dataset.ttl")


def as_compared(res, path: str) -> str:
    """A page without its CSRF tokens (signed, different on every page)
    and its own path (in the language links)."""
    body = re.sub(r"[\w-]{20,}\.[\w-]{6}\.[\w-]{20,}", "", res.get_data(as_text=True))
    return body.replace(path, "")


def test_a_negative_size_is_refused_and_left_out_of_the_rdf(app, world):
    status, body = _api(app, world, "package_create", dict(
        name="negative-size", title="n", owner_org=world["org"]["id"], license_id="lo-2.0",
        resources=[{"name": "r", "url": "https://example.org/n.csv", "size": -5}]))
    assert status == 409, body
    assert "size" in body["error"]["resources"][0]
    dataset = _dataset(app, world, "negative-size")
    status, body = _api(app, world, "resource_patch",
                        {"id": dataset["resources"][0]["id"], "size": "-5"})
    assert status == 409 and "size" in body["error"], body
    for size in ("", " ", None):
        status, body = _api(app, world, "resource_patch",
                            {"id": dataset["resources"][0]["id"], "size": size})
        assert status == 200, body
    status, body = _api(app, world, "resource_patch",
                        {"id": dataset["resources"][0]["id"], "size": 2048})
    assert status == 200, body
    g = strict_turtle(app.get("/dataset/negative-size.ttl").get_data(as_text=True))
    assert [int(size) for size in g.objects(None, DCAT.byteSize)] == [2048]
    resource = model.Resource.get(dataset["resources"][0]["id"])
    resource.size = -5
    model.Session.commit()
    search.rebuild(dataset["id"])
    for path in ("/dataset/negative-size.ttl", "/catalog.ttl"):
        g = strict_turtle(app.get(path).get_data(as_text=True))
        assert all(int(size) >= 0 for size in g.objects(None, DCAT.byteSize)), path
    g = strict_turtle(app.get("/dataset/negative-size.ttl").get_data(as_text=True))
    assert list(g.objects(None, DCAT.byteSize)) == []


@pytest.mark.parametrize("fields, named", [
    ({"temporal_start": "hier"}, "temporal_start"),
    ({"temporal_start": "2026-99-99"}, "temporal_start"),
    ({"temporal_end": "31/12/2024"}, "temporal_end"),
    ({"temporal_start": "2024-01-01", "temporal_end": "2023-12-31"}, "temporal_end")])
def test_a_temporal_coverage_that_is_not_iso_is_refused(app, world, fields, named):
    status, body = _api(app, world, "package_create", dict(
        name="temporal-bad", title="t", owner_org=world["org"]["id"], license_id="lo-2.0",
        **fields))
    assert status == 409, body
    assert named in body["error"], body


def test_the_temporal_coverage_is_typed_and_stored_text_left_out(app, world):
    dataset = _dataset(app, world, "temporal", temporal_start="2020-01-01",
                       temporal_end="2024-12-31T18:00:00")
    g = strict_turtle(app.get("/dataset/temporal.ttl").get_data(as_text=True))
    periods = set(g.objects(None, DCTERMS.temporal))
    assert {v.datatype for p in periods for v in g.objects(p, DCAT.startDate)} == {XSD.date}
    assert {v.datatype for p in periods for v in g.objects(p, DCAT.endDate)} == {XSD.dateTime}
    for value in ("hier", "2026-99-99"):
        extra = model.Session.query(model.PackageExtra).filter_by(
            package_id=dataset["id"], key="temporal_start").one()
        extra.value = value
        model.Session.commit()
        search.rebuild(dataset["id"])
        for path in ("/dataset/temporal.ttl", "/catalog.ttl"):
            g = strict_turtle(app.get(path).get_data(as_text=True))
            starts = [str(v) for v in g.objects(None, DCAT.startDate)]
            assert value not in starts and "2026-99-99" not in starts, path
        g = strict_turtle(app.get("/dataset/temporal.ttl").get_data(as_text=True))
        assert [str(v) for v in g.objects(None, DCAT.endDate)] == ["2024-12-31T18:00:00"]


@pytest.mark.parametrize("licence", ["no-such-licence", "CC-BY-4.0 ", "lo-2.0\n"])
def test_a_licence_outside_the_registry_is_refused(app, world, licence):
    status, body = _api(app, world, "package_create", dict(
        name="unknown-licence", title="u", owner_org=world["org"]["id"], license_id=licence))
    if licence.strip() == "lo-2.0":  # surrounding spaces are not a different licence
        assert status == 200, body
        assert body["result"]["license_id"] == "lo-2.0"
        _api(app, world, "dataset_purge", {"id": "unknown-licence"})
        return
    assert status == 409, body
    assert "Licence inconnue : " + licence.strip() in body["error"]["license_id"][0], body
    status, body = _api(app, world, "package_show", {"id": "unknown-licence"})
    assert status == 404


def test_the_catalogue_publisher_has_an_iri_of_its_own(app, world):
    _dataset(app, world, "publisher-iri")
    g = strict_turtle(app.get("/catalog.ttl").get_data(as_text=True))
    catalogue = next(g.subjects(RDF.type, DCAT.Catalog))
    publisher = g.value(catalogue, DCTERMS.publisher)
    homepages = set(g.objects(catalogue, Namespace("http://xmlns.com/foaf/0.1/").homepage))
    assert publisher is not None and publisher != catalogue and publisher not in homepages
    assert str(publisher).endswith("/#publisher")


@pytest.mark.parametrize("profiles", [
    "communes_access,euro_dcat_ap_3", " euro_dcat_ap_3 , communes_access ",
    "communes_access,euro_dcat_ap_3,communes_access"])
def test_the_suite_profile_runs_last_whatever_the_order_asked(app, world, profiles):
    if model.Package.get("profiles-order") is None:
        _dataset(app, world, "profiles-order", frequency="monthly")
    wanted = strict_turtle(app.get("/catalog.ttl").get_data(as_text=True))
    for path in ("/catalog.ttl", "/dataset/profiles-order.ttl"):
        asked = app.get(path, query_string={"profiles": profiles})
        assert asked.status_code == 200, asked.get_data(as_text=True)[:300]
        g = strict_turtle(asked.get_data(as_text=True))
        # The EU frequency IRI and the typed licence, as the configured order gives them.
        frequencies = set(g.objects(None, DCTERMS.accrualPeriodicity))
        assert frequencies and all(isinstance(f, URIRef) for f in frequencies), path
        assert {str(f) for f in frequencies} <= {
            str(f) for f in wanted.objects(None, DCTERMS.accrualPeriodicity)}
        assert all(isinstance(x, URIRef) for x in g.objects(None, DCTERMS["format"])), path


def test_texts_are_tagged_with_the_portal_language(app, world):
    if model.Package.get("tagged-texts") is None:
        _dataset(app, world, "tagged-texts", notes="Une description", tags=[{"name": "vélo"}])
    for path in ("/dataset/tagged-texts.ttl", "/catalog.ttl"):
        g = strict_turtle(app.get(path).get_data(as_text=True))
        texts = [value for predicate in (DCTERMS.title, DCTERMS.description, DCAT.keyword)
                 for value in g.objects(None, predicate)
                 if str(value) in ("tagged-texts", "Une description", "vélo")]
        assert len(texts) == 3 and {value.language for value in texts} == {"fr"}, path


def test_a_dataset_edited_while_a_harvester_pages_is_not_missed(app, world, monkeypatch):
    org = factories.Organization(name="paged-org")
    names = [f"paged-{index}" for index in range(3)]
    for name in names:
        _api(app, world, "package_create", dict(
            name=name, title=name, owner_org=org["id"], license_id="lo-2.0"))
    monkeypatch.setitem(tk.config, "ckanext.dcat.datasets_per_page", 2)

    def page(number: int) -> set[str]:
        res = app.get("/catalog.ttl", query_string={"fq": f"owner_org:{org['id']}",
                                                     "page": number})
        g = strict_turtle(res.get_data(as_text=True))
        return {str(title) for title in g.objects(None, DCTERMS.title)} & set(names)

    first = page(1)
    assert len(first) == 2
    for name in set(names) - first:  # edited between the two pages
        _api(app, world, "package_patch", {"id": name, "notes": "edited"})
    assert first | page(2) == set(names)


@pytest.mark.parametrize("params, named", [
    ({"q": "title:["}, "q"), ({"q": "x", "fq": "title:["}, "fq"),
    ({"q": "metadata_modified:[2020 TO"}, "q")])
def test_a_query_solr_refuses_names_the_parameter_not_solr_internals(app, world, params, named):
    res = app.get("/api/3/action/package_search", query_string=params)
    assert res.status_code == 409
    message = res.get_json()["error"]["message"]
    assert f"recherche de {named} ne peut" in message, message
    for internal in ("SOLR", "site_id", "permission_labels", "org.apache", "capacity"):
        assert internal not in message, message


def test_blank_titles_descriptions_and_addresses_still_make_mandatory_rdf(app, world):
    status, body = _api(app, world, "package_create", dict(
        name="blank-texts", title="   ", notes="", owner_org=world["org"]["id"],
        license_id="lo-2.0", resources=[{"name": "no address", "url": "", "format": "CSV"}]))
    assert status == 200, body
    assert body["result"]["title"] == "blank-texts"
    dataset = model.Package.get("blank-texts")
    dataset.title, dataset.notes = "  ", "   "  # as stored before the schema stripped titles
    model.Session.commit()
    search.rebuild(dataset.id)
    for path in ("/dataset/blank-texts.ttl", "/catalog.ttl"):
        g = strict_turtle(app.get(path).get_data(as_text=True))
        node = next(s for s in g.subjects(DCTERMS.identifier, None)
                    if str(g.value(s, DCTERMS.identifier)) == dataset.id)
        assert [str(t) for t in g.objects(node, DCTERMS.title)] == ["blank-texts"], path
        assert [str(t) for t in g.objects(node, DCTERMS.description)] == ["blank-texts"], path
        for distribution in g.objects(node, DCAT.distribution):
            assert str(g.value(distribution, DCAT.accessURL)).startswith("http"), path


@pytest.mark.parametrize("path", ["/catalog.ttl", "/dataset/profiles-order.ttl"])
def test_an_unknown_profile_is_a_400_naming_it(app, world, path):
    if model.Package.get("profiles-order") is None:
        _dataset(app, world, "profiles-order", frequency="monthly")
    res = app.get(path, query_string={"profiles": "euro_dcat_ap_3,nonexistent"})
    assert res.status_code == 400
    assert "profil RDF inconnu nonexistent" in res.get_data(as_text=True)
