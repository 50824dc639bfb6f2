"""Journey, the map through time: a visitor opens a dataset's real-time
resource, finds its stations on a map through time, plays the day hour by
hour, pauses, and reads the step's values in the table below the map, in
French.

The publisher's side (an open dataset whose resource has a day of hourly
readings of three stations with their positions, and a history_map view) is
set up through the actions before the browser starts.
"""

from __future__ import annotations

import datetime
import re

from playwright.sync_api import expect

from .conftest import publish_history

STATIONS = {"3001": ("Bellecour", 45.7578, 4.8320), "3002": ("Part-Dieu", 45.7606, 4.8594),
            "3003": ("Croix-Rousse", 45.7745, 4.8320)}


def publish() -> dict:
    now = datetime.datetime.utcnow().replace(minute=0, second=0, microsecond=0)
    return publish_history(
        "map", {"name": "stations-dans-le-temps", "title": "Stations dans le temps"},
        "Stations en temps réel",
        [{"name": "available_bikes", "type": "int", "title_fr": "Vélos disponibles",
          "title_en": "Available bikes", "unit": "vélos"},
         {"name": "name", "type": "text", "label": True},
         {"name": "lat", "type": "float", "coordinate": "lat"},
         {"name": "lon", "type": "float", "coordinate": "lon"}],
        [{"feature": feature, "time": now - datetime.timedelta(hours=hour),
          "values": {"available_bikes": (hour * 2 + index * 5) % 17, "name": name, "lat": lat,
                     "lon": lon}}
         for hour in range(30) for index, (feature, (name, lat, lon)) in enumerate(
             STATIONS.items())],
        "history_map", "Les stations dans le temps")


def test_visitor_plays_the_stations_through_a_day(portal, journey):
    publish()
    j = journey()
    page = j.page

    j.goto("/dataset/stations-dans-le-temps")
    page.get_by_role("link", name="Stations en temps réel").first.click()
    page.wait_for_load_state("networkidle")
    frame = page.frame_locator("iframe").first
    table = frame.locator("[data-history-map-table] tbody tr")
    expect(table.first).to_be_visible(timeout=30_000)
    j.check("history-map")

    slider = frame.get_by_label("Moment")
    first_value = slider.input_value()
    caption = frame.locator("[data-history-map-caption]").inner_text()
    frame.get_by_role("button", name="Lecture").click()
    expect(frame.get_by_role("button", name="Pause")).to_be_visible()
    expect(slider).not_to_have_value(first_value, timeout=20_000)
    frame.get_by_role("button", name="Pause").click()
    expect(frame.get_by_role("button", name="Lecture")).to_be_visible()
    expect(frame.locator("[data-history-map-caption]")).not_to_have_text(caption)
    names = " ".join(table.all_inner_texts())
    assert re.search("Bellecour|Part-Dieu|Croix-Rousse", names), names
    j.check("history-map-played")
