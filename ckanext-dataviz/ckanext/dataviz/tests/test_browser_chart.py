"""Charts in a real browser (headless Chromium through Playwright): each chart
type renders as SVG with its series and legend entries, its text alternative
and its data table; the form's live preview draws from the form's fields; an
embed renders in an iframe of another origin; an embed of gated data shows
the next step and no data. Screenshots go to test-artifacts/ (git-ignored)."""

from __future__ import annotations

import datetime
import os
import threading

import ckan.lib.search as search
import pytest
from ckan.tests import factories, helpers
from ckanext.grandlyon_access.testing.pytest_plugin import PASSWORD, actor_of
from werkzeug.serving import make_server

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), *[".."] * 4))
ARTIFACTS = os.path.join(REPO, "test-artifacts")
COMMUNES = ["Lyon", "Villeurbanne", "Bron", "Écully"]


def shot(page, name: str) -> None:
    os.makedirs(ARTIFACTS, exist_ok=True)
    page.screenshot(path=os.path.join(ARTIFACTS, f"dataviz-chart-{name}.png"), full_page=True)


def _rows() -> list[dict]:
    rows = []
    for i in range(120):
        t = datetime.datetime(2024, 1, 1) + datetime.timedelta(days=3 * i)
        rows.append({"t": t.isoformat(), "commune": COMMUNES[i % 4], "kind": "ab"[i % 2],
                     "bikes": (i * 7) % 31, "temp": round(10 + (i % 13) * 1.5, 1)})
    return rows


# view title -> (config, expected series, expected legend entries)
CHARTS = {
    "line": ({"chart_type": "line", "x": "t", "y": "bikes", "series": "commune",
              "aggregate": "avg", "bucket": "month"}, 4, 4),
    "bar": ({"chart_type": "bar", "x": "commune", "y": ["bikes", "temp"], "aggregate": "sum",
             "colours": "#aa3300, #0055aa"}, 2, 2),
    "area": ({"chart_type": "area", "x": "t", "y": "bikes", "aggregate": "sum",
              "bucket": "month", "x_label": "Mois", "y_label": "Vélos"}, 1, 1),
    "pie": ({"chart_type": "pie", "x": "commune", "aggregate": "count"}, 1, 4),
    "scatter": ({"chart_type": "scatter", "x": "temp", "y": "bikes", "series": "kind"}, 2, 2),
}


@pytest.fixture(scope="module")
def chart_world(portal_for_module):
    editor = factories.User(name="chart-editor", password=PASSWORD,
                            email="chart-editor@example.org")
    org = factories.Organization(name="chart-org",
                                 users=[{"name": editor["name"], "capacity": "editor"}])
    call = lambda action, **kw: helpers.call_action(  # noqa: E731
        action, context={"user": editor["name"]}, **kw)
    out = {"views": {}, "token": actor_of(editor).token}
    for level, licence in (("open", "lo-2.0"), ("licensed", "mobilites")):
        ds = call("package_create", name=f"chart-{level}", title=f"Chart {level}",
                  owner_org=org["id"], access_level=level, license_id=licence)
        table = call("datastore_create", resource={"package_id": ds["id"], "name": "counts"},
                     fields=[{"id": "t", "type": "timestamp"},
                             {"id": "commune", "type": "text"},
                             {"id": "kind", "type": "text"}, {"id": "bikes", "type": "int"},
                             {"id": "temp", "type": "float"}],
                     records=_rows() if level == "open" else
                     [{"t": "2024-01-01", "commune": "secret-licensed", "kind": "a",
                       "bikes": 1, "temp": 1.0}], force=True)
        out[level] = {"name": ds["name"], "id": ds["id"], "table_id": table["resource_id"]}
    for title, (config, _, _) in CHARTS.items():
        out["views"][title] = call("resource_view_create", view_type="dataviz_chart",
                                   resource_id=out["open"]["table_id"], title=title, **config)
    out["gated"] = call("resource_view_create", view_type="dataviz_chart",
                        resource_id=out["licensed"]["table_id"], title="gated",
                        chart_type="bar", x="commune", y="bikes")
    search.rebuild()
    return out


@pytest.fixture(scope="module")
def live(chart_world):
    # The whole WSGI stack (I18nMiddleware and the plugins' middlewares), not
    # only its inner Flask app.
    app = helpers._get_test_app().app
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()


def ready(target, selector: str = "[data-dataviz-chart]") -> None:
    target.locator(f"{selector}[data-state=ready]").wait_for(timeout=30000)


RENDERED = """(figure) => {
    const canvas = figure.querySelector('.dataviz-chart-canvas');
    const option = canvas.datavizChart.getOption();
    const svg = canvas.querySelector('svg');
    const texts = Array.from(svg.querySelectorAll('text')).map((t) => t.textContent);
    return {
        svg: !!svg,
        paths: svg.querySelectorAll('path').length,
        series: option.series.length,
        legend: option.legend[0].data.length,
        legendNames: option.legend[0].data.map(String),
        texts,
        figureSeries: Number(figure.dataset.series),
        rows: figure.querySelectorAll('.dataviz-chart-table tbody tr').length,
        label: canvas.getAttribute('aria-label'),
        tabindex: canvas.getAttribute('tabindex'),
        caption: figure.querySelector('figcaption').textContent,
        colours: option.color,
    };
}"""


@pytest.mark.parametrize("kind", list(CHARTS))
def test_each_chart_type_renders_as_svg(chart_world, live, chromium, kind):
    config, n_series, n_legend = CHARTS[kind]
    ds, view = chart_world["open"], chart_world["views"][kind]
    page = chromium.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append("console: " + m.text) if m.type == "error" else None)
    page.goto(f"{live}/dataset/{ds['name']}/resource/{ds['table_id']}/view/{view['id']}")
    ready(page)
    found = page.locator("[data-dataviz-chart]").evaluate(RENDERED)
    assert found["svg"] and found["paths"] > 0
    assert found["series"] == n_series == found["figureSeries"]
    assert found["legend"] == n_legend
    for name in found["legendNames"]:  # each legend entry is drawn
        assert name in found["texts"], (name, found["texts"][:20])
    assert found["rows"] > 0
    assert found["tabindex"] == "0"
    assert kind in found["label"].lower() or found["label"]  # text alternative present
    assert "points" in found["caption"] or "points" in found["caption"].lower()
    if kind == "bar":
        assert found["colours"][:2] == ["#aa3300", "#0055aa"]
        assert found["rows"] == 4  # one row per commune
    if kind == "pie":
        assert sorted(found["legendNames"]) == sorted(COMMUNES)
    canvas = page.locator(".dataviz-chart-canvas")
    canvas.press("ArrowRight")
    canvas.press("Enter")
    opened = page.evaluate("""() => { const c = document.querySelector('.dataviz-chart-canvas');
        c.dispatchEvent(new KeyboardEvent('keydown', {key: 'Enter', bubbles: true}));
        return document.querySelector('details.dataviz-chart-data').open; }""")
    assert opened  # Enter on the chart opens its data table
    assert page.locator("details.dataviz-chart-data").get_attribute("open") is not None
    shot(page, kind)
    assert errors == []


def test_the_view_shows_its_embed_code(chart_world, live, chromium):
    ds, view = chart_world["open"], chart_world["views"]["line"]
    page = chromium.new_page()
    page.goto(f"{live}/dataset/{ds['name']}/resource/{ds['table_id']}/view/{view['id']}")
    code = page.locator("[data-dataviz-embed-code]").input_value()
    assert code.startswith("<iframe") and f"/dataviz/embed/view/{view['id']}" in code


def test_an_embed_renders_in_an_iframe_of_another_origin(chart_world, live, other_site, chromium):
    folder, site = other_site
    view = chart_world["views"]["line"]
    (folder / "chart.html").write_text(
        f'<!DOCTYPE html><html><body><h1>Commune site</h1><iframe src="{live}/dataviz/embed/'
        f'view/{view["id"]}" width="900" height="600" title="chart"></iframe></body></html>')
    page = chromium.new_page()
    page.goto(f"{site}/chart.html")
    frame = page.frame_locator("iframe")
    ready(frame)
    found = frame.locator("[data-dataviz-chart]").evaluate(RENDERED)
    assert found["series"] == 4 and found["paths"] > 0
    assert frame.locator("[data-dataviz-embed-code]").count() == 0
    shot(page, "embed")


def test_an_embed_of_gated_data_shows_the_next_step_and_no_data(chart_world, live, other_site,
                                                                chromium):
    folder, site = other_site
    (folder / "gated.html").write_text(
        f'<!DOCTYPE html><html><body><iframe src="{live}/dataviz/embed/view/'
        f'{chart_world["gated"]["id"]}" width="800" height="400" title="chart"></iframe>'
        f'</body></html>')
    page = chromium.new_page()
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(f"{site}/gated.html")
    frame = page.frame_locator("iframe")
    frame.locator("[data-dataviz-access=login]").wait_for(timeout=30000)
    assert frame.locator("svg").count() == 0
    assert not [u for u in requests if "dataviz_chart_data" in u]
    for f in page.frames:
        assert "secret-licensed" not in f.content()
    shot(page, "gated-embed")


def test_the_form_previews_the_chart_from_its_fields(chart_world, live, chromium):
    ds = chart_world["open"]
    page = chromium.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    # The editor's API token identifies them on web pages too.
    page.set_extra_http_headers({"Authorization": chart_world["token"]})
    page.goto(f"{live}/dataset/{ds['name']}/resource/{ds['table_id']}/new_view"
              f"?view_type=dataviz_chart")
    page.select_option("#field-chart_type", "bar")
    page.select_option("#field-x", "commune")
    page.select_option("#field-y", ["bikes"])
    page.select_option("#field-aggregate", "max")
    ready(page, "[data-dataviz-preview]")
    found = page.locator("[data-dataviz-preview]").evaluate(RENDERED)
    assert found["series"] == 1 and found["rows"] == 4
    page.select_option("#field-series", "kind")
    page.wait_for_function(
        "() => document.querySelector('[data-dataviz-preview]').dataset.series === '2'",
        timeout=30000)
    page.select_option("#field-aggregate", "avg")
    page.select_option("#field-y", ["kind"])
    page.wait_for_function(
        "() => document.querySelector('[data-dataviz-preview]').dataset.state === 'error'",
        timeout=30000)
    assert "kind" in page.locator("[data-dataviz-preview] figcaption").inner_text()
    shot(page, "form-preview")
    assert errors == []

