"""Embeds of resource views (/dataviz/embed/view/<id>) and the chart view
page, over HTTP for each access level: the chart when the viewer may read
the data; otherwise what to do (log in, sign, request) and no data; a
dataset they may not see looks missing. The embed may be framed by any site."""

from __future__ import annotations

import ckan.lib.search as search
import pytest
from ckan.tests import helpers

from ckanext.grandlyon_access.testing.pytest_plugin import World

CONFIG = {"chart_type": "bar", "x": "station", "y": "bikes", "aggregate": "sum"}


@pytest.fixture(scope="module")
def world(portal_for_module):
    """The shared five-level world, created by its sysadmin, with a chart
    view of each dataset's table."""
    w = World(datasets=("open", "restricted", "hidden", "licensed", "private"),
              creator="sysadmin")
    for ds in w.datasets.values():
        ds["view"] = helpers.call_action(
            "resource_view_create", context={"user": w.sysadmin.name},
            resource_id=ds["table_id"], view_type="dataviz_chart",
            title=f"Chart {ds['name']}", **CONFIG)
    search.rebuild()
    return w


# what each viewer gets: chart, a next step (login / sign / request), or 404
EXPECTED = {
    "anonymous": {"open": "chart", "licensed": "login", "restricted": "login",
                  "hidden": 404, "private": 404},
    "outsider": {"open": "chart", "licensed": "sign", "restricted": "request",
                 "hidden": 404, "private": 404},
    "admin": {"open": "chart", "licensed": "chart", "restricted": "chart", "hidden": "chart",
              "private": "chart"},
}


@pytest.mark.parametrize("who", list(EXPECTED))
@pytest.mark.parametrize("level", ["open", "licensed", "restricted", "hidden", "private"])
def test_embed_per_access_level(app, world, who, level):
    headers = {} if who == "anonymous" else getattr(world, who).headers
    ds = world.datasets[level]
    res = app.get(f"/dataviz/embed/view/{ds['view']['id']}", headers=headers)
    expected = EXPECTED[who][level]
    body = res.get_data(as_text=True)
    assert f"secret-{level}" not in body
    if expected == 404:
        missing = app.get("/dataviz/embed/view/00000000-0000-4000-8000-000000000000",
                          headers=headers)
        assert res.status_code == missing.status_code == 404
        for secret in (ds["id"], ds["name"], ds["title"], ds["table_id"]):
            assert secret not in body
        return
    assert res.status_code == 200
    assert "frame-ancestors *" in res.headers["Content-Security-Policy"]
    assert "X-Frame-Options" not in res.headers
    if expected == "chart":
        assert "data-dataviz-chart" in body and "data-dataviz-access" not in body
        assert "data-dataviz-embed-code" not in body  # the embed is not its own snippet
        data = app.get("/api/3/action/dataviz_chart_data", headers=headers,
                       query_string={"view_id": ds["view"]["id"]})
        assert data.json["result"]["series"][0]["points"] == [[f"secret-{level}", 7]]
    else:
        assert f'data-dataviz-access="{expected}"' in body
        assert "data-dataviz-chart" not in body
        data = app.get("/api/3/action/dataviz_chart_data", headers=headers,
                       query_string={"view_id": ds["view"]["id"]})
        assert data.status_code == 403 and f"secret-{level}" not in data.get_data(as_text=True)


def test_the_view_page_shows_the_chart_and_its_embed_code(app, world):
    ds = world.datasets["open"]
    res = app.get(f"/dataset/{ds['name']}/resource/{ds['table_id']}/view/{ds['view']['id']}")
    body = res.get_data(as_text=True)
    assert res.status_code == 200
    assert "data-dataviz-chart" in body and "data-dataviz-embed-code" in body
    assert f"/dataviz/embed/view/{ds['view']['id']}" in body
    assert "dataviz-i18n" in body and "<details" in body


def test_the_view_page_without_access_shows_the_next_step(app, world):
    ds = world.datasets["licensed"]
    res = app.get(f"/dataset/{ds['name']}/resource/{ds['table_id']}/view/{ds['view']['id']}",
                  headers=world.outsider.headers)
    body = res.get_data(as_text=True)
    assert 'data-dataviz-access="sign"' in body and "secret-licensed" not in body


def test_the_form_shows_each_error_at_its_field_in_french(app, world):
    ds = world.datasets["open"]
    url = f"/dataset/{ds['name']}/resource/{ds['table_id']}/new_view?view_type=dataviz_chart"
    form = app.get(url, headers=world.admin.headers)
    assert form.status_code == 200 and 'name="chart_type"' in form.get_data(as_text=True)
    res = app.post(url, headers=world.admin.headers, data={
        "title": "Bad", "view_type": "dataviz_chart", "chart_type": "bar", "x": "station",
        "y": "station", "aggregate": "avg", "colours": "blue", "filters": "bikes >= many"})
    body = res.get_data(as_text=True)
    assert 'id="field-y-error"' in body
    assert "L'agrégation" in body or "agrégation" in body  # French (the default locale)
    assert "blue" in body and "many" in body
    views = helpers.call_action("resource_view_list", id=ds["table_id"])
    assert "Bad" not in [v["title"] for v in views]
