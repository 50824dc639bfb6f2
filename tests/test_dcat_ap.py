"""The portal's DCAT-AP catalogue conforms to the official DCAT-AP shapes.

A live test portal (`ckan run`) serves the demo catalogue (demo/lyon: its
groups, organisations with their INSEE codes and datasets, plus a private
one); its catalogue and a dataset's RDF, as a harvester reads them over
HTTP, are validated with pyshacl against the SHACL shapes of SEMICeu/DCAT-AP
3.0.1 and 2.1.1 (tests/shapes/, see LICENCE.md there), for each validation
type of the EU validator: mandatory, ranges with background knowledge,
controlled vocabularies (an offline subset of the EU code lists).
"""

from __future__ import annotations

import glob
import json
import os
import re

import ckan.plugins as plugins
import pytest
import requests
from ckan.tests import helpers
from ckanext.communes.dcat_mapping import current as mappings_for_test
from ckanext.harvest import queue
from pyshacl import validate
from rdflib import Graph
from rdflib.namespace import SH

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEMO = os.path.join(REPO, "demo", "lyon")
SHAPES = os.path.join(REPO, "tests", "shapes")
VERSIONS = ("3.0.1", "2.1.1")
ORIGIN = "https://origin.example.org/demo/{}/{}"
FORMATS = {"ttl": "turtle", "rdf": "xml", "jsonld": "json-ld"}
# DCAT-AP 3 by default; a DCAT-AP 2 harvester asks for the ap_2 profile
# (3.0 types dcat:byteSize xsd:nonNegativeInteger, 2.1.1 xsd:decimal).
PROFILES = {"3.0.1": "", "2.1.1": "?profiles=euro_dcat_ap_2,communes_access"}

# Validation type -> the shape files of a release, the extra knowledge.
TYPES = {
    "mandatory": (("shapes.ttl", "shapes_recommended.ttl"), ()),
    "ranges": (("range.ttl",), ("background.ttl",)),
    "vocabularies": (("mdr-vocabularies.shape.ttl",),
                     tuple(sorted(glob.glob(os.path.join(SHAPES, "vocabularies", "*.ttl"))))),
}


@pytest.fixture
def _portal_plugins():
    """The module's plugins are loaded once, by `portal_for_module`."""
    yield


def read_demo(name: str) -> list[dict]:
    with open(os.path.join(DEMO, name), encoding="utf-8") as f:
        return json.load(f)


def demo_resources(dataset: dict) -> list[dict]:
    """The demo's resources as external files (uploads and DataStore
    tables of the demo are given an origin URL), the first with a size."""
    resources = []
    for index, res in enumerate(dataset["resources"]):
        resource = {key: res[key] for key in ("name", "description", "format") if key in res}
        resource["url"] = res.get("url") or ORIGIN.format(dataset["name"], index)
        resources.append(resource)
    if resources:
        resources[0]["size"] = 2048
    return resources


def build_demo_catalogue() -> dict:
    """The demo catalogue through CKAN's actions: groups, organisations and
    datasets (with `private`, one more). Returns the datasets by name."""
    context = {"user": helpers.call_action("get_site_user")["name"]}
    for group in read_demo("groups.json"):
        helpers.call_action("group_create", context=dict(context), name=group["name"],
                            title=group["title"], description=group.get("description", ""))
    for org in read_demo("organizations.json"):
        fields = {key: org[key] for key in ("name", "title", "description", "is_commune",
                                            "insee_code", "website", "contact_email")
                  if org.get(key) is not None}
        helpers.call_action("organization_create", context=dict(context), **fields)
    datasets = {}
    demo = read_demo("datasets.json")
    private = dict(demo[0], name="jeu-prive", title="Jeu privé secret", private=True)
    for ds in [*demo, private]:
        fields = {key: value for key, value in ds.items()
                  if key not in ("resources", "tags", "groups")}
        fields["tags"] = [{"name": tag} for tag in ds.get("tags", [])]
        fields["groups"] = [{"name": name} for name in ds.get("groups", [])]
        datasets[ds["name"]] = helpers.call_action(
            "package_create", context=dict(context), resources=demo_resources(ds), **fields)
    return datasets


@pytest.fixture(scope="module")
def catalogue(portal_for_module) -> dict:
    return build_demo_catalogue()


def fetch_graph(url: str, fmt: str = "ttl") -> Graph:
    res = requests.get(url, timeout=60)
    assert res.status_code == 200, (url, res.status_code, res.text[:500])
    return Graph().parse(data=res.text, format=FORMATS[fmt])


def shapes_of(version: str, files: tuple[str, ...]) -> Graph:
    graph = Graph()
    for name in files:
        graph.parse(os.path.join(SHAPES, "dcat-ap", version, name), format="turtle")
    return graph


def knowledge(files: tuple[str, ...]) -> Graph:
    graph = Graph()
    for path in files:
        graph.parse(os.path.join(SHAPES, path), format="turtle")
    return graph


def results(data: Graph, version: str, kind: str) -> dict[str, list[str]]:
    """The validation results of `data` against the `kind` shapes of DCAT-AP
    `version`: {"violations": [...], "warnings": [...]}, each a short text
    (focus node, path, message)."""
    shape_files, extra = TYPES[kind]
    graph = data
    if extra:  # the background knowledge or code lists, beside the data (as the EU validator)
        graph = Graph()
        graph += data
        graph += knowledge(extra)
    _conforms, report, _text = validate(
        graph, shacl_graph=shapes_of(version, shape_files), inference="none",
        allow_warnings=True)
    found: dict[str, list[str]] = {"violations": [], "warnings": []}
    for result in report.objects(None, SH.result):  # not the nested sh:detail
        severity = report.value(result, SH.resultSeverity)
        line = " ".join(str(report.value(result, p)) for p in (
            SH.focusNode, SH.resultPath, SH.value, SH.resultMessage))
        key = "violations" if severity == SH.Violation else "warnings"
        found[key].append(line)
    return found


def counts(graphs: dict[str, Graph]) -> dict[tuple[str, str], dict[str, list[str]]]:
    """The results of each version's graph for each validation type."""
    return {(version, kind): results(graphs[version], version, kind)
            for version in VERSIONS for kind in TYPES}


def summary(found: dict) -> str:
    lines = []
    for (version, kind), result in found.items():
        lines.append(f"{version} {kind}: {len(result['violations'])} violations, "
                     f"{len(result['warnings'])} warnings")
        lines.extend("  V " + line for line in sorted(set(result["violations"]))[:15])
        kinds: dict[str, int] = {}
        for line in result["warnings"]:
            kind = re.sub(r"<[^>]*>|http://127[^ ]*", "<>", line.split(" ", 1)[1])[:140]
            kinds[kind] = kinds.get(kind, 0) + 1
        lines.extend(f"  W {n} x {kind}" for kind, n in sorted(kinds.items()))
    return "\n".join(lines)


def test_the_catalogue_conforms_to_dcat_ap_3_and_2(catalogue, live_portal):
    found = counts({version: fetch_graph(f"{live_portal.url}/catalog.ttl{PROFILES[version]}")
                    for version in VERSIONS})
    print(summary(found))
    assert not any(result["violations"] for result in found.values()), summary(found)
    warnings = sum(len(result["warnings"]) for result in found.values())
    # What the demo data lacks (temporal coverage, bounding boxes, planned
    # availability, EU corporate-body publishers): see the README.
    assert warnings <= WARNINGS_AT_MOST, summary(found)


def test_a_dataset_conforms_in_every_serialisation(catalogue, live_portal):
    # The Métropole's licensed (gated) one, and an open one of a commune.
    for name, fmt in [("stations-velov", fmt) for fmt in FORMATS] + [
            ("budget-villeurbanne", "ttl")]:
        url = f"{live_portal.url}/dataset/{name}.{fmt}"
        found = counts({version: fetch_graph(url + PROFILES[version], fmt)
                        for version in VERSIONS})
        assert not any(result["violations"] for result in found.values()), (
            name, fmt, summary(found))


WARNINGS_AT_MOST = 348  # 174 against each version


# --- the round trip: ckanext-dcat's RDF harvester reads the catalogue back ------------

@pytest.fixture
def rdf_harvester(catalogue):
    """ckanext-dcat's own RDF harvester (`dcat_rdf_harvester`), loaded for the test."""
    queue.get_connection().flushdb()
    plugins.load("dcat_rdf_harvester")
    try:
        yield
    finally:
        plugins.unload("dcat_rdf_harvester")


def run_harvest_job(source_id: str) -> dict:
    """Runs a job of the source through ckanext-harvest's Redis queues, the
    gather and fetch consumers' callbacks in process; its report."""
    context = {"user": helpers.call_action("get_site_user")["name"], "ignore_auth": True}
    job = helpers.call_action("harvest_job_create", context=dict(context),
                              source_id=source_id, run=True)
    gather, fetch = queue.get_gather_consumer(), queue.get_fetch_consumer()
    method, _channel, body = gather.basic_get(queue=queue.get_gather_queue_name())
    queue.gather_callback(gather, method, None, body)
    while True:
        method, _channel, body = fetch.basic_get(queue=queue.get_fetch_queue_name())
        if body is None:
            break
        queue.fetch_callback(fetch, method, None, body)
    helpers.call_action("harvest_jobs_run", context=dict(context), source_id=source_id)
    return helpers.call_action("harvest_job_report", context=dict(context), id=job["id"])


def test_the_rdf_harvester_round_trip_keeps_fields_and_leaks_nothing(
        catalogue, live_portal, rdf_harvester):
    context = {"user": helpers.call_action("get_site_user")["name"], "ignore_auth": True}
    org = helpers.call_action("organization_create", context=dict(context),
                              name="moisson", title="Moisson DCAT")
    source = helpers.call_action(
        "harvest_source_create", context=dict(context), name="portail-dcat",
        title="Le portail en DCAT-AP", url=f"{live_portal.url}/catalog.ttl",
        source_type="dcat_rdf", owner_org=org["id"], frequency="MANUAL")

    report = run_harvest_job(source["id"])
    assert report["gather_errors"] == [], report["gather_errors"]
    errors = [e["message"] for o in report["object_errors"].values() for e in o["errors"]]
    assert not errors, errors[0][:1500]

    found = helpers.call_action("package_search", fq=f"owner_org:{org['id']}", rows=1000,
                                include_private=True)["results"]
    harvested = {ds["title"]: helpers.call_action("package_show", id=ds["id"])
                 for ds in found}
    visible = {ds["title"]: ds for ds in catalogue.values()
               if not ds.get("private") and not ds.get("access_hidden")}
    assert set(harvested) == set(visible)

    hidden = [ds for ds in catalogue.values() if ds.get("private") or ds.get("access_hidden")]
    gated = [ds for ds in catalogue.values() if ds.get("access_level") != "open"]
    urls = {res["url"] for ds in harvested.values() for res in ds["resources"]}
    for ds in hidden + gated:
        for res in ds["resources"]:
            assert res["url"] not in urls, (ds["name"], res["url"])
    everything = json.dumps(list(harvested.values()))
    for ds in hidden:
        assert ds["id"] not in everything and ds["name"] not in everything, ds["name"]

    themes = mappings_for_test()
    for title, ds in harvested.items():
        source_ds = visible[title]
        assert ds["license_id"] == source_ds["license_id"], title
        assert ds["access_level"] == source_ds["access_level"], title
        assert ds["frequency"] == source_ds["frequency"], title
        assert sorted(r["format"] for r in ds["resources"]) == sorted(
            r["format"] for r in source_ds["resources"]), title
        wanted = themes.themes_of([g["name"] for g in source_ds["groups"]])
        assert set(ds.get("theme") or []) == set(wanted), title

    # Published back out, each harvested dataset is still DCAT-AP 3 (its
    # own RDF: it keeps the source's dataset and distribution IRIs, which
    # the source's datasets also have in this portal's catalogue).
    for ds in harvested.values():
        url = f"{live_portal.url}/dataset/{ds['name']}.ttl"
        found = counts({version: fetch_graph(url + PROFILES[version]) for version in VERSIONS})
        assert not any(result["violations"] for result in found.values()), (
            ds["name"], summary(found))
