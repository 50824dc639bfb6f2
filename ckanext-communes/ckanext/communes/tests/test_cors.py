"""Cross-origin answers: only the widget's script and its search action answer
any origin (no credentials, no cookie); nothing else of the portal does."""

from __future__ import annotations

import pytest
from ckan.tests import factories
from ckanext.grandlyon_access.testing.pytest_plugin import make_actor

ORIGIN = {"Origin": "https://www.site-de-commune.example"}


@pytest.fixture
def world(clean_db, clean_index):
    org = factories.Organization(name="ville-c", is_commune="true")
    dataset = factories.Dataset(name="c-open", owner_org=org["id"], access_level="open")
    user = make_actor(sysadmin=True)
    return {"token": user.token, "dataset": dataset, "user": user}


def assert_cors(res):
    assert res.headers.get("Access-Control-Allow-Origin") == "*"
    assert "Access-Control-Allow-Credentials" not in res.headers
    assert "Set-Cookie" not in res.headers


def assert_not_cors(res):
    assert "Access-Control-Allow-Origin" not in res.headers, res.headers


@pytest.mark.parametrize("url", [
    "/communes/widget.js",
    "/api/3/action/communes_widget_search?commune=ville-c",
    "/api/action/communes_widget_search?commune=ville-c",
])
def test_the_widget_calls_answer_any_origin(app, world, url):
    res = app.get(url, headers=ORIGIN)
    assert res.status_code == 200
    assert_cors(res)


def test_preflight(app, world):
    res = app.options("/api/3/action/communes_widget_search", headers={
        **ORIGIN, "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "content-type"})
    assert res.status_code == 200
    assert_cors(res)
    assert "GET" in res.headers["Access-Control-Allow-Methods"]
    assert "authorization" not in res.headers["Access-Control-Allow-Headers"].lower()


def test_cookies_are_never_set_cross_origin(app, world):
    res = app.get("/api/3/action/communes_widget_search?commune=ville-c",
                  headers={**ORIGIN, "Cookie": "ckan=whatever"})
    assert_cors(res)


@pytest.mark.parametrize("method,url,body", [
    ("get", "/api/3/action/package_search", None),
    ("get", "/api/3/action/organization_show?id=ville-c", None),
    ("get", "/api/3/action/package_show?id=c-open", None),
    ("get", "/api/3/action/user_show?id={user}", None),
    ("post", "/api/3/action/package_update", {"id": "c-open", "name": "c-open"}),
    ("post", "/api/3/action/package_patch", {"id": "c-open", "notes": "x"}),
    ("post", "/api/3/action/datastore_search", {"resource_id": "no-such-resource"}),
    ("get", "/", None),
    ("get", "/commune/ville-c", None),
    ("get", "/commune/ville-c/widget", None),
    ("get", "/dataset/c-open", None),
    ("options", "/api/3/action/package_update", None),
    ("options", "/api/3/action/user_show", None),
])
def test_nothing_else_is_cross_origin(app, world, method, url, body):
    url = url.format(user=world["user"].name)
    headers = {**ORIGIN, "Authorization": world["token"]}
    if method == "options":
        headers["Access-Control-Request-Method"] = "POST"
        res = app.options(url, headers=headers)
    elif body is not None:
        res = app.post(url, json=body, headers=headers)
    else:
        res = app.get(url, headers=headers)
    assert res.status_code < 500
    assert_not_cors(res)
