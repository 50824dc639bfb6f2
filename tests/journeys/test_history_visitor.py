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

from playwright.sync_api import expect

from .conftest import publish_history

STATIONS = {"2001": "Bellecour", "2002": "Part-Dieu", "2003": "Croix-Rousse"}


def publish() -> dict:
    now = datetime.datetime.utcnow().replace(minute=0, second=0, microsecond=0)
    resource = publish_history(
        "history", {"name": "disponibilite-stations", "title": "Disponibilité des stations"},
        "Disponibilités en temps réel",
        [{"name": "available_bikes", "type": "int", "across": "sum",
          "title_fr": "Vélos disponibles", "title_en": "Available bikes", "unit": "vélos"},
         {"name": "name", "type": "text", "label": True}],
        [{"feature": feature, "time": now - datetime.timedelta(hours=hour),
          "values": {"available_bikes": (hour + index * 4) % 15, "name": name}}
         for hour in range(48) for index, (feature, name) in enumerate(STATIONS.items())],
        "dataviz_history", "Vélos disponibles")
    return {"resource": resource}


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
