"""Maps in a real browser (headless Chromium through Playwright): the map
view and a saved map render their features (Leaflet SVG paths and markers)
with their legend and text alternative; a saved map's embed renders in an
iframe of another origin; an embed of gated data shows the next step and no
data. Screenshots go to test-artifacts/ (git-ignored)."""

from __future__ import annotations

import os
import threading

import pytest
from ckan.tests import helpers
from werkzeug.serving import make_server

from ckanext.dataviz.tests import test_map_world as world_module
from ckanext.dataviz.tests.test_map_world import POINTS

map_world = world_module.map_world

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), *[".."] * 4))
ARTIFACTS = os.path.join(REPO, "test-artifacts")


def shot(page, name: str) -> None:
    os.makedirs(ARTIFACTS, exist_ok=True)
    page.screenshot(path=os.path.join(ARTIFACTS, f"dataviz-map-{name}.png"), full_page=True)


@pytest.fixture(scope="module")
def live(map_world):
    """The portal's web app served on a free loopback port, in this process
    (same configuration, database and index as the test)."""
    app = helpers._get_test_app().app
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()


@pytest.fixture(scope="module")
def maps(map_world):
    """A map view of the open GeoJSON, a map view of the licensed one, and a
    saved map with three layers (open GeoJSON by category, open DataStore
    table clustered, licensed GeoJSON)."""
    open_ds, licensed = map_world.datasets["open"], map_world.datasets["licensed"]
    view = map_world.call("resource_view_create", "editor", resource_id=open_ds["geo_id"],
                          view_type="dataviz_map", title="Points by kind", mode="categories",
                          field="kind", popup_fields="name, kind")
    gated_view = map_world.call("resource_view_create", "editor", resource_id=licensed["geo_id"],
                                view_type="dataviz_map", title="Licensed points")
    saved = map_world.call("dataviz_map_create", "editor", title="Commune map",
                           owner_org="map-publisher", layers=[
                               {"resource_id": open_ds["geo_id"], "title": "Kinds",
                                "style": {"mode": "graduated", "field": "value", "classes": 3}},
                               {"resource_id": open_ds["table_id"], "title": "Stations",
                                "style": {"mode": "simple", "cluster": True, "color": "#aa3300"}},
                               {"resource_id": licensed["geo_id"], "title": "Licensed layer"}])
    gated_map = map_world.call("dataviz_map_create", "editor", title="Gated map",
                               owner_org="map-publisher", layers=[
                                   {"resource_id": map_world.datasets["restricted"]["geo_id"],
                                    "title": "Restricted layer"}])
    bad = world_module.upload("map-editor", open_ds["id"], "broken", b'{"type": "Feature"',
                              "broken.geojson", "GeoJSON")
    bad_view = map_world.call("resource_view_create", "editor", resource_id=bad["id"],
                              view_type="dataviz_map", title="Broken points")
    return {"view": view, "gated_view": gated_view, "saved": saved, "gated_map": gated_map,
            "bad": bad, "bad_view": bad_view}


def ready(target) -> None:
    target.locator("[data-dataviz-map][data-state=ready]").wait_for(timeout=30000)


def counts(target) -> dict[str, int]:
    return target.evaluate("""() => ({
        paths: document.querySelectorAll('.leaflet-overlay-pane path.leaflet-interactive').length,
        markers: document.querySelectorAll('.leaflet-marker-pane .leaflet-marker-icon').length,
        legend: document.querySelectorAll('[data-legend-entry]').length,
        features: Number(document.querySelector('[data-dataviz-map]').dataset.featureCount),
        rows: document.querySelectorAll('.dataviz-map-table tbody tr').length,
    })""")


def test_the_map_view_renders_its_features_and_legend(map_world, maps, live, chromium):
    ds = map_world.datasets["open"]
    page = chromium.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{live}/dataset/{ds['name']}/resource/{ds['geo_id']}/view/{maps['view']['id']}")
    ready(page)
    found = counts(page)
    assert found["paths"] == len(POINTS) and found["features"] == len(POINTS)
    assert found["legend"] == 3  # kinds a, b, c
    assert found["rows"] == len(POINTS)
    legend = page.locator(".dataviz-map-legend").inner_text()
    assert "a (2)" in legend and "b (1)" in legend and "c (1)" in legend
    summary = page.locator(".dataviz-map-summary").inner_text()
    assert f"{len(POINTS)}" in summary and "Points by kind" in summary
    canvas = page.locator(".dataviz-map-canvas")
    assert canvas.get_attribute("tabindex") == "0"
    canvas.focus()
    assert page.evaluate("() => document.activeElement.classList.contains('dataviz-map-canvas')")
    page.locator(".leaflet-overlay-pane path.leaflet-interactive").first.dispatch_event("click")
    popup = page.locator(".leaflet-popup-content")
    popup.wait_for()
    assert "secret-open-" in popup.inner_text()
    shot(page, "view")
    assert errors == []


def test_a_saved_map_renders_every_layer_it_may(map_world, maps, live, chromium):
    page = chromium.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{live}/dataviz/map/{maps['saved']['name']}")
    ready(page)
    found = counts(page)
    assert found["paths"] == len(POINTS)  # the graduated GeoJSON layer
    assert found["markers"] >= 1  # the clustered table: clusters or dots
    assert found["features"] == 2 * len(POINTS)  # the licensed layer sends nothing
    assert found["legend"] == 3 + 1  # three classes, one simple entry
    unavailable = page.locator("[data-layer-unavailable=login]")
    assert "Licensed layer" in unavailable.inner_text()
    assert "secret-licensed" not in page.content()
    assert page.locator(".dataviz-map-summary li[data-layer-state=unavailable]").count() == 1
    shot(page, "saved")
    assert errors == []


def test_an_embed_renders_in_an_iframe_of_another_origin(map_world, maps, live, other_site,
                                                         chromium):
    folder, site = other_site
    (folder / "map.html").write_text(
        f'<!DOCTYPE html><html><body><h1>Commune site</h1><iframe src="{live}/dataviz/embed/map/'
        f'{maps["saved"]["id"]}" width="900" height="700" title="map"></iframe></body></html>')
    page = chromium.new_page()
    page.goto(f"{site}/map.html")
    frame = page.frame_locator("iframe")
    ready(frame)
    found = frame.locator("body").evaluate("""() => ({
        paths: document.querySelectorAll('.leaflet-overlay-pane path.leaflet-interactive').length,
        features: Number(document.querySelector('[data-dataviz-map]').dataset.featureCount)})""")
    assert found == {"paths": len(POINTS), "features": 2 * len(POINTS)}
    shot(page, "embed")


def test_embeds_of_gated_data_show_the_next_step_and_no_data(map_world, maps, live, other_site,
                                                            chromium):
    folder, site = other_site
    (folder / "gated.html").write_text(
        f'<!DOCTYPE html><html><body><iframe id="view" src="{live}/dataviz/embed/view/'
        f'{maps["gated_view"]["id"]}" width="800" height="400" title="view"></iframe>'
        f'<iframe id="map" src="{live}/dataviz/embed/map/{maps["gated_map"]["id"]}" width="800" '
        f'height="600" title="map"></iframe></body></html>')
    page = chromium.new_page()
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(f"{site}/gated.html")
    view = page.frame_locator("#view")
    view.locator("[data-dataviz-access=login]").wait_for()
    assert view.locator(".leaflet-interactive").count() == 0
    saved = page.frame_locator("#map")
    ready(saved)
    assert saved.locator("[data-layer-unavailable=login]").count() == 1
    assert saved.locator(".leaflet-interactive").count() == 0
    for frame in page.frames:
        assert "secret-" not in frame.content()
    assert not [u for u in requests if "dataviz_map_layer_data" in u]
    shot(page, "gated-embed")


def test_a_malformed_layer_is_a_clear_message_not_a_blank_map(map_world, maps, live, chromium):
    ds = map_world.datasets["open"]
    page = chromium.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{live}/dataset/{ds['name']}/resource/{maps['bad']['id']}/view/"
              f"{maps['bad_view']['id']}")
    ready(page)
    alert = page.locator(".dataviz-map-error[role=alert]")
    assert alert.count() == 1 and "url" in alert.inner_text() and "JSON" in alert.inner_text()
    assert page.locator(".dataviz-map-summary li[data-layer-state=error]").count() == 1
    shot(page, "error")
    assert errors == []
