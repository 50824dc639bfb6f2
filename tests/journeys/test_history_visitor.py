"""Journey, the history's visitor: opens a dataset's history of bike-share
stations, picks two stations by name, switches to "7 jours" and downloads
the drawn series as CSV, in French.

The publisher's side (an open dataset whose resource has a history of two
days of hourly readings of three stations, and its history chart view) is
set up through the actions before the browser starts.
"""

from __future__ import annotations

import csv
import datetime
import io
import re

import ckan.plugins.toolkit as tk
from ckan.tests import factories, helpers
from ckanext.history import store
from playwright.sync_api import expect

STATIONS = {"2001": "Bellecour", "2002": "Part-Dieu", "2003": "Croix-Rousse"}
FEED_URL = "http://127.0.0.1:9/stations.json"  # never polled: the feed is disabled


def publish() -> dict:
    admin = factories.Sysadmin(name="history-publisher")
    org = factories.Organization(name="velos-partages", title="Vélos partagés")
    as_admin = {"user": admin["name"]}
    dataset = helpers.call_action(
        "package_create", context=as_admin, name="disponibilite-stations",
        title="Disponibilité des stations", owner_org=org["id"], license_id="lo-2.0",
        access_level="open",
        resources=[{"name": "Disponibilités en temps réel", "url": FEED_URL, "format": "JSON"}])
    resource = dataset["resources"][0]
    allow_key = "ckanext.grandlyon_access.outbound.allow"
    allowed_before = tk.config.get(allow_key)
    tk.config[allow_key] = ["127.0.0.1"]  # the feed's address, allowed while it is declared
    try:
        helpers.call_action(
            "history_feed_create", context=as_admin, resource_id=resource["id"], url=FEED_URL,
            format="json", feature_id_field="id", time_field="", interval_seconds=300,
            store_mode="every", enabled=False,
            fields=[{"name": "available_bikes", "type": "int", "across": "sum",
                     "title_fr": "Vélos disponibles", "title_en": "Available bikes",
                     "unit": "vélos"},
                    {"name": "name", "type": "text", "label": True}])
    finally:
        tk.config[allow_key] = allowed_before
    now = datetime.datetime.utcnow().replace(minute=0, second=0, microsecond=0)
    store.write_rows(resource["id"], [
        {"feature": feature, "time": now - datetime.timedelta(hours=hour),
         "values": {"available_bikes": (hour + index * 4) % 15, "name": name}}
        for hour in range(48) for index, (feature, name) in enumerate(STATIONS.items())])
    helpers.call_action("resource_view_create", context=as_admin, resource_id=resource["id"],
                        view_type="dataviz_history", title="Vélos disponibles")
    return {"dataset": dataset, "resource": resource}


def test_visitor_compares_two_stations_over_a_week_and_downloads_them(portal, journey):
    published = publish()
    j = journey()
    page = j.page

    # Opens the dataset, then its real-time resource with the history chart.
    j.goto("/dataset/disponibilite-stations")
    page.get_by_role("link", name="Disponibilités en temps réel").first.click()
    page.wait_for_load_state("networkidle")
    chart = page.frame_locator("iframe").first
    expect(chart.locator(".dataviz-chart-caption")).not_to_contain_text("Chargement", timeout=30_000)
    j.check("history")

    # Picks two stations by name, as the list suggests them.
    pick = chart.get_by_label(re.compile("Comparer des éléments"))
    for name in ("Bellecour", "Part-Dieu"):
        pick.fill(name)
        chart.get_by_role("button", name="Ajouter").click()
    chosen = chart.get_by_role("list", name=re.compile("comparés|Compared"))
    expect(chosen).to_contain_text("Bellecour")
    expect(chosen).to_contain_text("Part-Dieu")

    # Switches to the last 7 days and downloads what is drawn.
    chart.get_by_role("button", name="7 jours").click()
    expect(chart.locator(".dataviz-chart-caption")).not_to_contain_text("Chargement", timeout=30_000)
    with page.expect_download() as download:
        chart.get_by_role("button", name=re.compile("Télécharger les séries tracées")).click()
    text = open(download.value.path(), encoding="utf-8-sig").read()
    rows = list(csv.reader(io.StringIO(text)))
    header, body = rows[0], rows[1:]
    joined = " ".join(header)
    assert "Bellecour" in joined and "Part-Dieu" in joined, header
    assert "Croix-Rousse" not in joined, header
    assert 40 <= len(body) <= 49, len(body)  # two days of hourly readings, 7 days asked
    j.check("history-two-stations")
    assert published["resource"]["id"] in page.url
