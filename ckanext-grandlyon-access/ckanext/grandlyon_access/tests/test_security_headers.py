"""Security headers on every kind of response (site/headers.py): pages, the
API, errors, the download redirect; framing denied except for the embed
pages; a script policy without 'unsafe-inline' whose nonce is the one on
the page's inline scripts; HSTS only over HTTPS."""

from __future__ import annotations

import re

import pytest
from ckan.tests import factories
from ckanext.grandlyon_access.testing.pytest_plugin import World

EMBED_ORIGINS = "ckanext.grandlyon_access.headers.embed_origins"
NONCE = re.compile(r"'nonce-([^']+)'")
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)([^>]*)>", re.I)


@pytest.fixture(scope="module")
def world(portal_for_module):
    """An open dataset with an external file and a DataStore table (and its
    DataTables view), and a commune."""
    made = World(datasets=("open",))
    table_id = made.datasets["open"]["table_id"]
    views = made.call("resource_view_list", id=table_id)
    if not views:
        views = [made.call("resource_view_create", resource_id=table_id,
                           view_type="datatables_view", title="Table")]
    made.view_id = views[0]["id"]
    made.commune = factories.Organization(name="commune-a", is_commune=True)
    return made


def pages(world: World) -> dict[str, tuple[str, int]]:
    """Every kind of response: path and expected status."""
    file_id = world.datasets["open"]["file_id"]
    return {
        "home": ("/", 200),
        "dataset": ("/dataset/ds-open", 200),
        "resource": (f"/dataset/ds-open/resource/{file_id}", 200),
        "search": ("/dataset/?q=open", 200),
        "login": ("/user/login", 200),
        "api": ("/api/3/action/package_show?id=ds-open", 200),
        "not found": ("/dataset/no-such-dataset", 404),
        "download redirect": (f"/dataset/ds-open/resource/{file_id}/download", 302),
    }


def policy_of(response) -> dict[str, list[str]]:
    """The Content-Security-Policy as directive -> sources."""
    header = response.headers["Content-Security-Policy"]
    directives = {}
    for part in header.split(";"):
        name, *sources = part.split()
        directives[name] = sources
    return directives


def test_every_kind_of_response_has_the_headers_and_denies_framing(app, world):
    for kind, (path, status) in pages(world).items():
        res = app.get(path, follow_redirects=False)
        assert res.status_code == status, kind
        headers = res.headers
        assert headers["X-Content-Type-Options"] == "nosniff", kind
        assert headers["Referrer-Policy"] == "strict-origin-when-cross-origin", kind
        assert headers["X-Frame-Options"] == "DENY", kind
        policy = policy_of(res)
        assert policy["frame-ancestors"] == ["'none'"], kind
        assert policy["default-src"] == ["'self'"], kind
        assert policy["object-src"] == ["'none'"], kind
        assert "Strict-Transport-Security" not in headers, kind


def test_the_script_policy_has_no_unsafe_inline_and_styles_may_be_inline(app, world):
    policy = policy_of(app.get("/"))
    assert "'unsafe-inline'" not in policy["script-src"]
    assert "'unsafe-eval'" not in policy["script-src"]
    assert policy["script-src"][0] == "'self'"
    assert "'unsafe-inline'" in policy["style-src"]


def test_the_nonce_changes_per_request_and_is_on_the_pages_inline_scripts(app, world):
    table_id = world.datasets["open"]["table_id"]
    path = f"/dataset/ds-open/resource/{table_id}/view/{world.view_id}"
    nonces = []
    for _ in range(2):
        res = app.get(path)
        nonce = NONCE.search(res.headers["Content-Security-Policy"]).group(1)
        scripts = INLINE_SCRIPT.findall(res.body)
        assert scripts, "the DataTables view writes an inline script"
        for attributes in scripts:
            assert f'nonce="{nonce}"' in attributes
        assert 'onclick="fitColText()"' not in res.body
        nonces.append(nonce)
    assert nonces[0] != nonces[1]


def test_the_resource_view_page_may_be_framed_by_the_portal_only(app, world):
    table_id = world.datasets["open"]["table_id"]
    res = app.get(f"/dataset/ds-open/resource/{table_id}/view/{world.view_id}")
    assert res.headers["X-Frame-Options"] == "SAMEORIGIN"
    assert policy_of(res)["frame-ancestors"] == ["'self'"]


def embeds(world: World) -> list[str]:
    return [f"/dataviz/embed/view/{world.view_id}", "/commune/commune-a/widget"]


def test_embed_pages_may_be_framed_by_any_site_by_default(app, world):
    for path in embeds(world):
        res = app.get(path)
        assert res.status_code == 200, path
        assert "X-Frame-Options" not in res.headers, path
        assert policy_of(res)["frame-ancestors"] == ["*"], path
        assert res.headers["X-Content-Type-Options"] == "nosniff", path
        assert "'unsafe-inline'" not in policy_of(res)["script-src"], path


@pytest.mark.ckan_config(EMBED_ORIGINS, "https://a.example https://*.b.example 'unsafe-inline'")
def test_embed_pages_may_be_framed_by_the_configured_origins_only(app, world):
    for path in embeds(world):
        res = app.get(path)
        assert "X-Frame-Options" not in res.headers, path
        assert policy_of(res)["frame-ancestors"] == [
            "'self'", "https://a.example", "https://*.b.example"], path
    res = app.get("/dataset/ds-open")
    assert res.headers["X-Frame-Options"] == "DENY"
    assert policy_of(res)["frame-ancestors"] == ["'none'"]


def test_hsts_only_over_https(app, world):
    plain = app.get("/")
    assert "Strict-Transport-Security" not in plain.headers
    secure = app.get("/", environ_overrides={"wsgi.url_scheme": "https"})
    assert secure.headers["Strict-Transport-Security"] == "max-age=31536000"


@pytest.mark.ckan_config("ckanext.grandlyon_access.headers.hsts_max_age", "600")
def test_hsts_max_age_is_configured(app, world):
    secure = app.get("/api/3/action/status_show", environ_overrides={"wsgi.url_scheme": "https"})
    assert secure.headers["Strict-Transport-Security"] == "max-age=600"


@pytest.mark.ckan_config("ckan.site_url", "https://portal.example")
def test_hsts_when_the_portal_is_https(app, world):
    res = app.get("/api/3/action/status_show")
    assert res.headers["Strict-Transport-Security"] == "max-age=31536000"


@pytest.mark.ckan_config("ckanext.dataviz.basemap.tile_url",
                         "https://{s}.tiles.example.org/{z}/{x}/{y}.png")
@pytest.mark.ckan_config("ckanext.grandlyon_access.headers.img_src", "https://logos.example")
def test_images_may_come_from_the_tile_server_and_configured_sources(app, world):
    policy = policy_of(app.get("/api/3/action/status_show"))
    assert policy["img-src"] == ["'self'", "data:", "blob:", "https://*.tiles.example.org",
                                 "gravatar.com", "https://logos.example"]
    assert policy["connect-src"] == ["'self'"]


def test_the_resource_form_runs_no_inline_handler(app, world):
    """CKAN's upload/link switch has onclick handlers, which the policy
    would not run: the portal's snippet says what to do in data-csp-*."""
    res = app.get("/dataset/ds-open/resource/new", headers=world.editor.headers)
    assert res.status_code == 200
    assert not re.search(r"\son[a-z]+=", res.body)
    assert 'data-csp-check="resource-url-link"' in res.body
    assert "csp_handlers.js" in res.body


def test_images_by_default_any_https_and_gravatar(app, world):
    policy = policy_of(app.get("/api/3/action/status_show"))
    assert policy["img-src"] == ["'self'", "data:", "blob:", "gravatar.com", "https:"]


@pytest.mark.ckan_config("ckan.gravatar_default", "disabled")
def test_no_gravatar_when_ckan_shows_none(app, world):
    policy = policy_of(app.get("/api/3/action/status_show"))
    assert "gravatar.com" not in policy["img-src"]


@pytest.mark.ckan_config("ckanext.grandlyon_access.headers.csp_report_only", "true")
def test_a_report_only_policy_still_enforces_frame_ancestors(app, world):
    res = app.get("/dataset/ds-open")
    assert res.headers["Content-Security-Policy"] == "frame-ancestors 'none'"
    assert "'nonce-" in res.headers["Content-Security-Policy-Report-Only"]
    assert res.headers["X-Frame-Options"] == "DENY"
