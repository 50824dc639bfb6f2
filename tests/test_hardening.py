"""Bad input and forged requests against everything the suite adds.

- Property-based (hypothesis): every action of the suite's plugins, called by a
  sysadmin through the HTTP API with generated payloads (the action's own
  parameter names with hostile values, and random keys), answers a client
  error or success, never a 500; afterwards every dataset and organisation
  still shows (nothing invalid was stored).
- CSRF: every URL rule of the suite's blueprints that accepts POST refuses a
  logged-in browser session's POST without the CSRF token.
New actions and routes of the suite are picked up by prefix; nothing to list.
"""

from __future__ import annotations

import inspect
import os
import re

import ckan.plugins.toolkit as tk
import pytest
from ckan import model
from ckan.tests import factories, helpers
from ckanext.grandlyon_access.testing.pytest_plugin import PASSWORD, make_actor
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

SUITE_PREFIXES = ("grandlyon_access", "grandlyon_licence", "communes", "history", "dataviz")
SUITE_BLUEPRINTS = SUITE_PREFIXES + ("grandlyon_licence_admin",)
# Payloads per action. By default the same payloads every run (CI stays
# repeatable); PORTAL_FUZZ_EXAMPLES=300 searches deeper with fresh ones.
FUZZ_EXAMPLES = int(os.environ.get("PORTAL_FUZZ_EXAMPLES", "15"))
FUZZ_REPEATABLE = "PORTAL_FUZZ_EXAMPLES" not in os.environ

HOSTILE_TEXT = [
    "", " ", "<script>alert(1)</script>", "\"'><img src=x onerror=alert(1)>", "'; DROP TABLE package; --",
    "a\x00b", "../../etc/passwd", "http://169.254.169.254/latest/meta-data/", "file:///etc/passwd",
    "é" * 300, "x" * 5000, "2026-02-30T25:61:00", "-1", "1e309", "NaN", "null", "{}", "[]",
    "#zzzzzz", "javascript:alert(1)", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢", "%00", "\u202e",
]
scalars = st.one_of(
    st.sampled_from(HOSTILE_TEXT), st.text(max_size=40), st.integers(min_value=-2**70, max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False), st.booleans(), st.none(),
)
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=10), inner, max_size=4)), max_leaves=8)


def suite_actions() -> list[str]:
    from ckan.logic import get_action

    get_action("package_show")  # fills the registry
    from ckan.logic import _actions

    return sorted(name for name in _actions if name.startswith(SUITE_PREFIXES))


def parameter_names(action_name: str) -> list[str]:
    """The `:param x:` names of the action's docstring, plus common ones."""
    doc = inspect.getdoc(tk.get_action(action_name)) or ""
    names = re.findall(r":param (\w+):", doc)
    return sorted(set(names) | {"id", "resource_id", "package_id", "name"})


@pytest.fixture(scope="module")
def world(portal_for_module):
    org = factories.Organization(name="fuzz-org")
    sysadmin = make_actor("fuzz-admin", sysadmin=True)
    editor = make_actor("fuzz-editor")
    helpers.call_action("organization_member_create", {"user": sysadmin.name}, id=org["id"],
                        username=editor.name, role="editor")
    dataset = factories.Dataset(owner_org=org["id"], name="fuzz-dataset",
                                resources=[{"url": "https://example.org/a.csv", "format": "CSV"}])
    return {"token": sysadmin.token, "dataset": dataset, "org": org}


@pytest.fixture(scope="module")
def web(world):
    return helpers._get_test_app()


@pytest.fixture(autouse=True)
def _portal_plugins():
    """The module loads the configured plugins once, with its world."""


def test_the_suite_has_actions_to_fuzz(world):
    names = suite_actions()
    assert any(n.startswith("grandlyon_access") for n in names)
    assert any(n.startswith("grandlyon_licence") for n in names)


def _payloads(action_name: str, world: dict):
    known = {"id": world["dataset"]["id"], "package_id": world["dataset"]["id"],
             "resource_id": world["dataset"]["resources"][0]["id"]}
    names = parameter_names(action_name)
    real = st.fixed_dictionaries({}, optional={k: st.just(v) for k, v in known.items()})
    hostile = st.dictionaries(st.sampled_from(names), values, max_size=6)
    random_keys = st.dictionaries(st.text(min_size=1, max_size=12), values, max_size=3)
    return st.builds(lambda a, b, c: {**a, **b, **c}, real, hostile, random_keys)


def test_every_suite_action_answers_bad_input_without_a_500(web, world):
    failures = []
    for action_name in suite_actions():
        strategy = _payloads(action_name, world)

        @settings(max_examples=FUZZ_EXAMPLES, deadline=None, database=None,
                  derandomize=FUZZ_REPEATABLE,
                  suppress_health_check=list(HealthCheck))
        @given(payload=strategy)
        def probe(payload):
            res = web.post(f"/api/3/action/{action_name}", json=payload,
                           headers={"Authorization": world["token"]}, status=None)
            if res.status_code >= 500:
                raise AssertionError(f"{action_name} answered {res.status_code} to {payload!r:.600}")
            body = res.get_json(silent=True)
            assert body is not None, f"{action_name}: not JSON ({res.status_code})"
            assert body["success"] == (res.status_code == 200)

        try:
            probe()
        except AssertionError as error:  # the smallest failing payload hypothesis found
            failures.append(str(error).splitlines()[0])
        model.Session.remove()
    assert not failures, "\n".join(failures)

    # Nothing invalid was stored: every dataset and organisation still shows.
    for name in helpers.call_action("package_list", {"ignore_auth": True}):
        assert web.get(f"/api/3/action/package_show?id={name}",
                       headers={"Authorization": world["token"]}, status=None).status_code == 200
    for org in helpers.call_action("organization_list"):
        assert web.get(f"/api/3/action/organization_show?id={org}", status=None).status_code == 200


def _csrf(html: str) -> str:
    match = re.search(r'<meta name="_csrf_token" content="([^"]+)"', html)
    assert match, "no CSRF token in the page"
    return match.group(1)


def _suite_post_rules(app) -> list:
    flask_app = app.flask_app
    return sorted({rule.rule for rule in flask_app.url_map.iter_rules()
                   if "POST" in (rule.methods or ()) and rule.endpoint.split(".")[0] in SUITE_BLUEPRINTS},
                  key=str)


def _fill(rule: str, world: dict) -> str:
    dataset = world["dataset"]
    values = {"id": dataset["name"], "package_id": dataset["name"], "resource_id": dataset["resources"][0]["id"],
              "rid": dataset["resources"][0]["id"]}
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", lambda m: values.get(m.group(1), "x"), rule)


def test_every_suite_form_refuses_a_post_without_csrf_token(web, world):
    rules = _suite_post_rules(web)
    assert rules, "the suite registers no POST route: the check would test nothing"
    client = web.test_client()
    page = client.get("/user/login")
    res = client.post("/user/login", data={"login": "fuzz-editor", "password": PASSWORD,
                                           "_csrf_token": _csrf(page.get_data(as_text=True))},
                      follow_redirects=False)
    assert res.status_code == 302
    accepted = []
    for rule in rules:
        url = _fill(rule, world)
        res = client.post(url, data={"message": "forged", "name": "forged"}, follow_redirects=False)
        if res.status_code != 400 or "CSRF" not in res.get_data(as_text=True):
            accepted.append((rule, res.status_code))
    assert not accepted, f"POST without CSRF token not refused: {accepted}"


PRIVATE_URLS = ["http://169.254.169.254/latest/meta-data/", "http://127.0.0.1:5432/",
                "http://10.0.0.1/feed.geojson", "http://[::1]/", "file:///etc/passwd"]


@pytest.mark.parametrize("url", PRIVATE_URLS)
def test_every_url_the_suite_fetches_refuses_private_addresses(web, world, url):
    """SSRF: a harvest source, a history feed and a map layer on a private,
    loopback or link-local address (or not http) are refused, naming the
    field, before any request leaves the portal."""
    headers = {"Authorization": world["token"]}
    source = web.post("/api/3/action/harvest_source_create", headers=headers, status=None, json={
        "name": "ssrf-source", "title": "SSRF", "url": url, "source_type": "opendatasoft",
        "owner_org": world["org"]["id"], "frequency": "MANUAL"})
    assert source.status_code == 409 and "url" in source.json["error"], source.get_data(as_text=True)[:300]

    feed = web.post("/api/3/action/history_feed_create", headers=headers, status=None, json={
        "resource_id": world["dataset"]["resources"][0]["id"], "url": url, "format": "geojson",
        "feature_id_field": "number", "fields": [{"name": "available_bikes", "type": "int"}]})
    assert feed.status_code == 409 and "url" in feed.json["error"], feed.get_data(as_text=True)[:300]

    if not url.startswith("http"):
        # A resource's address is http(s) or ftp (the dataset schema): a
        # file: link is refused when saved, so no layer can point at it.
        with pytest.raises(tk.ValidationError, match="url"):
            helpers.call_action("resource_create", {"user": "fuzz-admin"},
                                package_id=world["dataset"]["id"], url=url, format="GeoJSON",
                                name="layer on a private address")
        return
    resource = helpers.call_action("resource_create", {"user": "fuzz-admin"},
                                   package_id=world["dataset"]["id"], url=url, format="GeoJSON",
                                   name="layer on a private address")
    layer = web.get(f"/api/3/action/dataviz_map_layer_data?resource_id={resource['id']}&kind=geojson",
                    headers=headers, status=None)
    assert layer.status_code == 409 and "url" in layer.json["error"], layer.get_data(as_text=True)[:300]
