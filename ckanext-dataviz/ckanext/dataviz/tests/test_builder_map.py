"""The map builder in a real browser: an editor composes a map from a
resource with the builder's form, saves it, and its page renders the layer."""

from __future__ import annotations

import json

from ckanext.dataviz.tests import test_browser_map as browser_module
from ckanext.dataviz.tests import test_map_world as world_module
from ckanext.dataviz.tests.test_map_world import POINTS

map_world = world_module.map_world
live = browser_module.live


def test_an_editor_builds_a_map_in_the_browser(map_world, live, chromium):
    context = chromium.new_context(
        extra_http_headers={"Authorization": map_world.actors["editor"].token})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{live}/dataviz/map/new")
    page.fill("#field-title", "Built in the browser")
    page.select_option("#field-owner_org", map_world.org["id"])
    page.fill("#builder-resource_id", map_world.datasets["open"]["geo_id"])
    page.fill("#builder-title", "Kinds")
    page.select_option("#builder-mode", "categories")
    page.fill("#builder-field", "kind")
    page.locator("[data-dataviz-builder-layers] fieldset button").click()
    layers = json.loads(page.input_value("#field-layers"))
    assert layers == [{"resource_id": map_world.datasets["open"]["geo_id"], "title": "Kinds",
                       "style": {"mode": "categories", "field": "kind", "color": "#2b6cb0",
                                 "cluster": False}}]
    assert page.locator(".dataviz-builder-list li").count() == 1
    page.locator(".form-actions button.btn-primary").click()
    page.wait_for_url(f"{live}/dataviz/map/built-in-the-browser")
    browser_module.ready(page)
    found = browser_module.counts(page)
    assert found["paths"] == len(POINTS) and found["legend"] == 3
    browser_module.shot(page, "built")
    saved = map_world.call("dataviz_map_show", "anonymous", id="built-in-the-browser")
    assert saved["owner_org"] == map_world.org["id"]
    assert errors == []
    context.close()
