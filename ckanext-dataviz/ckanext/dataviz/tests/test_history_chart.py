"""The history chart view (dataviz_history) over ckanext-history's
history_query: offered only for resources with a history feed, draws the
aggregated series in headless Chromium, and shows no data to a viewer
without access. The tests that need history_query skip, saying so, when
the history plugin does not provide it."""

from __future__ import annotations

import csv
import datetime
import io
import os
import threading
import zoneinfo
from urllib.parse import parse_qs, urlsplit

import ckan.lib.datapreview as datapreview
import ckan.lib.search as search
import ckan.plugins.toolkit as tk
import pytest
from ckan.tests import factories, helpers
from ckanext.grandlyon_access.testing.pytest_plugin import actor_of
from werkzeug.serving import make_server

from ckanext.dataviz.chart import plugin as chart_plugin
from ckanext.dataviz.chart.plugin import history_available

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), *[".."] * 4))
FEATURES = ("3082", "7024")
NAMES = {"3082": "Bellecour", "7024": "Part-Dieu Vivier Merle"}


def test_no_history_view_without_a_feed(clean_db):
    dataset = factories.Dataset(owner_org=factories.Organization()["id"])
    resource = factories.Resource(package_id=dataset["id"], url="https://example.org/feed.json")
    plugin = datapreview.get_view_plugin("dataviz_history")
    assert plugin is not None
    assert plugin.can_view({"resource": resource, "package": dataset}) is False


@pytest.fixture(scope="module")
def history_world(portal_for_module):
    assert history_available(), "the portal's configuration loads the history plugin"
    editor = factories.User(name="history-editor")
    org = factories.Organization(users=[{"name": editor["name"], "capacity": "editor"}])
    call = lambda action, **kw: helpers.call_action(  # noqa: E731
        action, context={"user": editor["name"]}, **kw)
    out = {"token": actor_of(editor).token}
    from ckanext.history import store

    # The feed's URL (never polled here) is a local address: allowed for
    # the time of the fixture, as the history plugin's own tests do.
    allow_key = "ckanext.grandlyon_access.outbound.allow"
    allowed_before = tk.config.get(allow_key)
    tk.config[allow_key] = ["127.0.0.1"]
    now = datetime.datetime.utcnow().replace(minute=0, second=0, microsecond=0)
    for level, licence in (("open", "lo-2.0"), ("licensed", "mobilites")):
        ds = call("package_create", name=f"history-{level}", owner_org=org["id"],
                  access_level=level, license_id=licence,
                  resources=[{"name": "stations", "url": "http://127.0.0.1:9/feed.json",
                              "format": "JSON"}])
        rid = ds["resources"][0]["id"]
        call("history_feed_create", resource_id=rid, url="http://127.0.0.1:9/feed.json",
             format="json", feature_id_field="id", time_field="",
             fields=[{"name": "available_bikes", "type": "int", "across": "sum",
                      "title_fr": "Vélos disponibles", "title_en": "Available bikes",
                      "unit": "vélos"},
                     {"name": "fill_rate", "type": "float", "title_en": "Fill rate",
                      "unit": "%"},
                     {"name": "name", "type": "text", "label": True}], interval_seconds=300,
             store_mode="every", enabled=False)
        rows = [{"feature": f, "time": now - datetime.timedelta(hours=h),
                 "values": {"available_bikes": (h * 3 + i) % 20, "fill_rate": 10.0 * (i + 1),
                            "name": NAMES[f]}}
                for h in range(48) for i, f in enumerate(FEATURES)]
        store.write_rows(rid, rows)
        view = call("resource_view_create", resource_id=rid, view_type="dataviz_history",
                    title=f"History {level}")
        out[level] = {"name": ds["name"], "resource_id": rid, "view": view,
                      "resource": ds["resources"][0], "package": ds}
    tk.config[allow_key] = allowed_before
    search.rebuild()
    return out


def test_the_view_is_offered_for_a_resource_with_a_feed(history_world):
    plugin = datapreview.get_view_plugin("dataviz_history")
    ds = history_world["open"]
    assert plugin.can_view({"resource": ds["resource"], "package": ds["package"]})


def test_history_query_answers_what_the_chart_asks(history_world):
    ds = history_world["open"]
    now = datetime.datetime.utcnow()
    answer = tk.get_action("history_query")(
        {"ignore_auth": True},
        {"resource_id": ds["resource_id"], "start": (now - datetime.timedelta(days=7)).isoformat(),
         "end": now.isoformat(), "aggregate": "hour", "functions": ["avg"]})
    assert answer["records"] and "available_bikes_avg" in answer["records"][0]


def _view_page(app, ds, query="", lang=""):
    url = f"{lang}/dataset/{ds['name']}/resource/{ds['resource_id']}/view/{ds['view']['id']}{query}"
    res = app.get(url)
    assert res.status_code == 200
    return res.get_data(as_text=True)


def test_the_history_chart_is_in_the_portals_zone(app, history_world):
    ds = history_world["open"]
    page = _view_page(app, ds, lang="/en")
    assert 'data-tz="Europe/Paris"' in page
    assert "From (Europe/Paris)" in page and "To (Europe/Paris)" in page and "(UTC)" not in page
    page = _view_page(app, ds)  # the portal's language, French
    assert "Du (Europe/Paris)" in page and "Au (Europe/Paris)" in page and "(UTC)" not in page
    # A link may name another zone; what is not an IANA name is ignored.
    assert 'data-tz="America/New_York"' in _view_page(app, ds, "?tz=America/New_York")
    for bad in ("Mars/Olympus", "../etc/passwd", "+01:00", "localtime"):
        assert 'data-tz="Europe/Paris"' in _view_page(app, ds, f"?tz={bad}"), bad


@pytest.mark.ckan_config("ckan.display_timezone", "server")
def test_a_server_zone_charts_in_utc(app, history_world):
    page = _view_page(app, history_world["open"], lang="/en")
    assert 'data-tz="UTC"' in page and "From (UTC)" in page


SHOWN = """(figure) => {
    const option = figure.querySelector('.dataviz-chart-canvas').datavizChart.getOption();
    return {yName: option.yAxis[0].name, legend: option.legend[0].data.map(String),
            series: option.series.map((s) => ({name: s.name, data: s.data}))};
}"""


def _series_count(page, n: int) -> None:
    page.wait_for_function(
        f"() => document.querySelector('[data-dataviz-history]').dataset.series === '{n}'",
        timeout=30000)


def test_the_history_chart_shows_all_features_as_one_series_then_compares(history_world,
                                                                          chromium):
    """By default one series, the total of all features (the field's
    `across` is sum), titled and with its unit from the feed's fields;
    naming two features draws two series; more than five draws five and
    says so. Features are chosen by name, suggested from the feed's label
    field."""
    server = make_server("127.0.0.1", 0, helpers._get_test_app().app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    live = f"http://127.0.0.1:{server.server_port}"
    try:
        page = chromium.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        asked: list[str] = []
        page.on("request", lambda r: asked.append(r.url) if "history_query" in r.url else None)
        ds = history_world["open"]
        page.goto(f"{live}/dataset/{ds['name']}/resource/{ds['resource_id']}/view/"
                  f"{ds['view']['id']}")
        figure = page.locator("[data-dataviz-history]")
        figure.locator("xpath=self::*[@data-state='ready']").wait_for(timeout=30000)
        shown = figure.evaluate(SHOWN)
        assert figure.get_attribute("data-series") == "1"
        assert shown["yName"] == "Vélos disponibles (vélos)"
        assert shown["legend"] == ["Total de tous les éléments"]
        assert "available_bikes" not in " ".join(shown["legend"] + [shown["yName"]])
        # Each hour's total is the sum of both stations' values.
        totals = {v for _t, v in shown["series"][0]["data"]}
        sums = {(h * 3) % 20 + (h * 3 + 1) % 20 for h in range(48)}
        assert totals and totals <= sums, (totals, sums)
        # A field without `across` is averaged across features, its English
        # title stands in for the missing French one.
        page.select_option('[name="field"]', "fill_rate")
        page.locator("[data-dataviz-history-form] [type=submit]").click()
        page.wait_for_function(
            "() => document.querySelector('.dataviz-chart-canvas').datavizChart.getOption()"
            ".yAxis[0].name === 'Fill rate (%)'", timeout=30000)
        shown = figure.evaluate(SHOWN)
        assert shown["legend"] == ["Moyenne de tous les éléments"]
        assert {v for _t, v in shown["series"][0]["data"]} == {15.0}
        page.select_option('[name="field"]', "available_bikes")
        # Features are chosen by name: their names are suggested.
        suggested = page.locator("[data-dataviz-history-names] option").evaluate_all(
            "(options) => options.map((o) => o.value)")
        assert sorted(suggested) == ["Bellecour (3082)", "Part-Dieu Vivier Merle (7024)"]
        pick = page.locator("[data-dataviz-history-pick]")
        pick.fill("Bellecour (3082)")
        pick.press("Enter")
        _series_count(page, 1)
        pick.fill("part-dieu")  # a part of a name, found once
        page.locator("[data-dataviz-history-add]").click()
        _series_count(page, 2)
        assert sorted(figure.evaluate(SHOWN)["legend"]) == sorted(NAMES.values())
        assert page.locator('[name="features"]').input_value() == ",".join(FEATURES)
        assert page.locator("[data-dataviz-history-note]").inner_text() == ""
        pick.fill("Fourvière")
        pick.press("Enter")
        assert "Fourvière" in page.locator("[data-dataviz-history-note]").inner_text()
        # A chosen feature is removed by its button (named for screen readers).
        page.get_by_role("button", name="Retirer Bellecour").click()
        page.wait_for_function(
            "() => document.querySelector('[data-dataviz-history]').dataset.series === '1' && "
            "document.querySelector('.dataviz-chart-canvas').datavizChart.getOption()"
            ".legend[0].data[0] === 'Part-Dieu Vivier Merle'", timeout=30000)
        # More than five (a link or a view may name them) draws five and says so.
        page.evaluate("""() => { document.querySelector('[name=features]').value =
            '3082,7024,a,b,c,d'; }""")
        page.locator("[data-dataviz-history-form] [type=submit]").click()
        page.locator("[data-dataviz-history-note]:has-text('5')").wait_for(timeout=30000)
        last = [u for u in asked if "per_feature" not in u][-1]
        assert last.count("features=") == 5 and "features=d" not in last, last
        assert errors == []
        page.close()
    finally:
        server.shutdown()


def test_the_history_chart_draws_in_its_zone(history_world, chromium):
    server = make_server("127.0.0.1", 0, helpers._get_test_app().app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    live = f"http://127.0.0.1:{server.server_port}"
    try:
        page = chromium.new_page()
        asked = []
        page.on("request", lambda r: asked.append(r.url) if "history_query" in r.url else None)
        ds = history_world["open"]
        page.goto(f"{live}/dataset/{ds['name']}/resource/{ds['resource_id']}/view/"
                  f"{ds['view']['id']}")
        page.locator("[data-dataviz-history][data-state=ready]").wait_for(timeout=30000)
        assert page.locator("[data-dataviz-history]").get_attribute("data-series") == "1"
        assert page.locator("[data-dataviz-history] svg path").count() > 0
        # The chart asks in its zone, and its inputs hold local times of it.
        assert asked and all("tz=Europe%2FParis" in url for url in asked), asked
        end = page.locator('[name="end"]').input_value()
        paris = datetime.datetime.now(zoneinfo.ZoneInfo("Europe/Paris")).replace(tzinfo=None)
        assert abs(datetime.datetime.fromisoformat(end) - paris) < datetime.timedelta(minutes=5), end
        page.locator("[data-preset='30d']").click()
        page.locator("[data-dataviz-history][data-state=ready]").wait_for(timeout=30000)
        os.makedirs(os.path.join(REPO, "test-artifacts"), exist_ok=True)
        page.screenshot(path=os.path.join(REPO, "test-artifacts",
                                          "dataviz-history-chart.png"), full_page=True)
        gated = history_world["licensed"]
        page.goto(f"{live}/dataviz/embed/view/{gated['view']['id']}")
        page.locator("[data-dataviz-access=login]").wait_for(timeout=30000)
        assert page.locator("svg").count() == 0
        page.close()
    finally:
        server.shutdown()


def test_the_history_charts_state_is_in_its_address(history_world, chromium):
    """Field, value, aggregation, features and period go into the page's
    query string and the embed code as they change; opening that address
    draws the same chart; local dates are kept as typed."""
    server = make_server("127.0.0.1", 0, helpers._get_test_app().app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    live = f"http://127.0.0.1:{server.server_port}"
    try:
        page = chromium.new_page()
        ds = history_world["open"]
        page.goto(f"{live}/dataset/{ds['name']}/resource/{ds['resource_id']}/view/"
                  f"{ds['view']['id']}?tz=Europe/Paris")
        figure = page.locator("[data-dataviz-history]")
        figure.locator("xpath=self::*[@data-state='ready']").wait_for(timeout=30000)
        page.locator("[data-preset='24h']").click()
        page.select_option('[name="aggregate"]', "day")
        page.select_option('[name="function"]', "max")
        page.evaluate("() => { document.querySelector('[name=features]').value = '3082,7024'; }")
        page.locator("[data-dataviz-history-form] [type=submit]").click()
        _series_count(page, 2)
        query = parse_qs(urlsplit(page.url).query)
        assert query == {"tz": ["Europe/Paris"], "field": ["available_bikes"],
                         "function": ["max"], "aggregate": ["day"],
                         "features": ["3082,7024"], "period": ["24h"]}, query
        code = page.locator("[data-dataviz-embed-code]").input_value()
        assert "aggregate=day" in code and "features=3082%2C7024" in code and "period=24h" in code
        drawn = figure.evaluate(SHOWN)
        other = chromium.new_page()
        other.goto(page.url)
        again = other.locator("[data-dataviz-history]")
        again.locator("xpath=self::*[@data-state='ready']").wait_for(timeout=30000)
        assert again.get_attribute("data-series") == "2"
        assert other.locator('[name="aggregate"]').input_value() == "day"
        assert other.locator('[name="function"]').input_value() == "max"
        assert again.evaluate(SHOWN) == drawn
        # Dates typed in the zone's local time are kept as such.
        other.fill('[name="start"]', "2026-01-02T08:00")
        other.fill('[name="end"]', "2026-01-03T08:00")
        other.locator("[data-dataviz-history-form] [type=submit]").click()
        other.wait_for_function("() => location.search.includes('start=')", timeout=30000)
        query = parse_qs(urlsplit(other.url).query)
        assert query["start"] == ["2026-01-02T08:00"] and query["end"] == ["2026-01-03T08:00"]
        assert "period" not in query
        third = chromium.new_page()
        third.goto(other.url)
        third.locator("[data-dataviz-history][data-state]").wait_for(timeout=30000)
        assert third.locator('[name="start"]').input_value() == "2026-01-02T08:00"
        assert third.locator('[name="end"]').input_value() == "2026-01-03T08:00"
        # The embed reads the same state from its address.
        embed = chromium.new_page()
        embed.goto(f"{live}/dataviz/embed/view/{ds['view']['id']}"
                   "?aggregate=day&function=max&features=7024&period=30d")
        embed.locator("[data-dataviz-history][data-state=ready]").wait_for(timeout=30000)
        assert embed.locator('[name="aggregate"]').input_value() == "day"
        assert embed.locator("[data-dataviz-history]").evaluate(SHOWN)["legend"] == [
            "Part-Dieu Vivier Merle"]
        for p in (page, other, third, embed):
            p.close()
    finally:
        server.shutdown()


def test_the_drawn_series_download_as_csv_and_the_chart_as_png(history_world, chromium):
    """The CSV has a row per time drawn and a column per series, named as
    in the legend; the PNG is an image."""
    server = make_server("127.0.0.1", 0, helpers._get_test_app().app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    live = f"http://127.0.0.1:{server.server_port}"
    try:
        page = chromium.new_page(accept_downloads=True)
        ds = history_world["open"]
        page.goto(f"{live}/dataset/{ds['name']}/resource/{ds['resource_id']}/view/"
                  f"{ds['view']['id']}?features=3082,7024&period=7d")
        figure = page.locator("[data-dataviz-history]")
        figure.locator("xpath=self::*[@data-state='ready']").wait_for(timeout=30000)
        assert figure.get_attribute("data-series") == "2"
        drawn = figure.evaluate(SHOWN)
        with page.expect_download() as info:
            page.locator("[data-dataviz-history-csv]").click()
        text = open(info.value.path(), encoding="utf-8-sig").read()
        rows = list(csv.reader(io.StringIO(text)))
        assert rows[0] == ["time (Europe/Paris)"] + drawn["legend"]
        assert len(rows) - 1 == len(drawn["series"][0]["data"]) > 0
        first = dict(zip(drawn["legend"], (s["data"][0][1] for s in drawn["series"]), strict=True))
        assert rows[1][1:] == [str(first[name]) for name in drawn["legend"]]
        assert datetime.datetime.fromisoformat(rows[1][0]).utcoffset() is not None
        with page.expect_download() as info:
            page.locator("[data-dataviz-history-png]").click()
        assert info.value.suggested_filename.endswith(".png")
        with open(info.value.path(), "rb") as image:
            assert image.read(8) == b"\x89PNG\r\n\x1a\n"
        page.close()
    finally:
        server.shutdown()


def test_a_fields_unit_is_read_in_the_readers_language(monkeypatch):
    monkeypatch.setattr(chart_plugin, "_history_feed_fields", lambda resource_id: [
        {"name": "bikes", "type": "int", "unit_fr": "vélos", "unit_en": "bikes"},
        {"name": "ratio", "type": "float", "unit": "%"},
        {"name": "speed", "type": "float", "unit_en": "km/h"}])
    assert [f["unit"] for f in chart_plugin.history_chart_fields("r", "fr")] == [
        "vélos", "%", "km/h"]
    assert [f["unit"] for f in chart_plugin.history_chart_fields("r", "en")] == [
        "bikes", "%", "km/h"]
