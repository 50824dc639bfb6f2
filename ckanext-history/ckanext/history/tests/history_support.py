"""Fixtures and helpers shared by the store, query, archive, import and
download tests (imported by those modules; not a test module)."""

from __future__ import annotations

import datetime

import pytest
from ckan.tests import factories, helpers
from ckanext.grandlyon_access.testing.pytest_plugin import level_fields
from ckanext.history import store

FIELDS = [
    {"name": "available_bikes", "type": "int"},
    {"name": "available_bike_stands", "type": "int"},
    {"name": "ratio", "type": "float"},
    {"name": "status", "type": "text"},
]

T0 = datetime.datetime(2026, 1, 31, 22, 0)


@pytest.fixture
def archive_dir(tmp_path, ckan_config, monkeypatch):
    path = tmp_path / "archive"
    monkeypatch.setitem(ckan_config, "ckanext.history.archive.path", str(path))
    return path


def sample_rows(features=("A", "B", "C"), minutes=180, start=T0, step=7):
    """Deterministic rows crossing a month boundary: feature f at minute m."""
    rows = []
    for fi, feature in enumerate(features):
        for m in range(0, minutes, step):
            bikes = (m * 3 + fi * 5) % 23
            rows.append({
                "feature": feature,
                "time": start + datetime.timedelta(minutes=m),
                "values": {
                    "available_bikes": bikes,
                    "available_bike_stands": 20 - bikes % 20,
                    "ratio": round(bikes / 23, 4),
                    "status": "OPEN" if (m // 7) % 5 else "CLOSED",
                },
            })
    return rows


def load(resource_id: str, rows=None, fields=FIELDS) -> list[dict]:
    rows = sample_rows() if rows is None else rows
    store.ensure_schema(resource_id, fields)
    store.write_rows(resource_id, rows)
    return rows


def make_dataset(level: str = "open", org=None, user: str | None = None) -> dict:
    """A dataset at an access level (open, licensed, restricted, hidden,
    private: the shared plugin's `level_fields`) with one resource; returns
    the dataset with `resource_id`."""
    if org is None:
        org = factories.Organization()
    fields = level_fields(level)
    if user is None:
        user = factories.Sysadmin()["name"]
    context = {"user": user}
    dataset = helpers.call_action(
        "package_create", context=context, name=f"hist-{level}-{org['name']}"[:100],
        title=f"History {level}", owner_org=org["id"],
        resources=[{"name": "stations", "url": f"https://origin.example.org/{level}.geojson",
                    "format": "GeoJSON"}], **fields)
    dataset["resource_id"] = dataset["resources"][0]["id"]
    return dataset


def long_rows(features=("A", "B", "C"), days=10, step=37, start=datetime.datetime(2026, 1, 27, 0, 3)):
    """Rows every `step` minutes over `days` days, crossing months and weeks,
    with a few missing values."""
    rows = []
    minutes = days * 24 * 60
    for fi, feature in enumerate(features):
        for m in range(fi, minutes, step):
            bikes = (m * 7 + fi * 11) % 31
            values = {
                "available_bikes": None if m % 11 == 3 else bikes,
                "available_bike_stands": 30 - bikes,
                "ratio": None if m % 13 == 5 else round(bikes / 31, 5),
                "status": None if m % 17 == 2 else ("OPEN" if bikes % 4 else "CLOSED"),
            }
            rows.append({"feature": feature, "time": start + datetime.timedelta(minutes=m),
                         "values": values})
    return rows


# Around both DST days of 2026 in Paris (naive UTC), and a week between.
CHANGES_PERIODS = [
    (datetime.datetime(2026, 3, 26, 22), datetime.datetime(2026, 3, 31, 22)),
    (datetime.datetime(2026, 6, 10), datetime.datetime(2026, 6, 12)),
    (datetime.datetime(2026, 10, 22, 22), datetime.datetime(2026, 10, 27, 23)),
]
CHANGES_FEATURES = ("A", "B", "C")


def changes_rows() -> list[dict]:
    """Readings stored as a changes-only feed stores them: a feature's row
    only when a value changed (irregular times, a few a quarter), features
    sharing no time (first and last across features are defined), some
    values empty, a text field that changes too."""
    rows = []
    for first, last in CHANGES_PERIODS:
        for i, feature in enumerate(CHANGES_FEATURES):
            t, n, previous = first + datetime.timedelta(minutes=i), 0, None
            while t < last:
                bikes = (n * 7 + i * 5) // 3 % 29
                values = {
                    "available_bikes": None if n % 19 == 4 else bikes,
                    "available_bike_stands": 29 - bikes,
                    "ratio": None if n % 23 == 7 else round(bikes / 29, 4),
                    "status": None if n % 31 == 9 else ("OPEN" if bikes % 5 else "CLOSED"),
                }
                if values != previous:
                    rows.append({"feature": feature, "time": t, "values": values})
                    previous = values
                t, n = t + datetime.timedelta(minutes=4 + (n * 5 + i) % 9), n + 1
    return rows


# A feed that places its features: a latitude and a longitude (a GeoJSON
# feed fills them from each feature's Point) and a name, besides FIELDS
# (free stands titled in both languages).
POSITIONED_FIELDS = [
    dict(f, title_fr="Bornes libres", title_en="Free stands", across="sum")
    if f["name"] == "available_bike_stands" else f for f in FIELDS] + [
    {"name": "lat", "type": "float", "coordinate": "lat"},
    {"name": "lon", "type": "float", "coordinate": "lon"},
    {"name": "name", "type": "text", "label": True},
]


def with_positions(rows: list[dict]) -> list[dict]:
    """`rows` whose values also hold their feature's position and name (a
    feature moves a little every row, so that the last position counts)."""
    out = []
    for n, row in enumerate(rows):
        index = sum(map(ord, row["feature"])) % 50
        values = dict(row["values"], lat=round(45.70 + index / 100 + n / 1e6, 6),
                      lon=round(4.80 + index / 100, 6), name=f"Station {row['feature']}")
        out.append({**row, "values": values})
    return out


def declare_positioned(resource_id: str, user: str, fields=POSITIONED_FIELDS) -> dict:
    """A disabled GeoJSON feed on the resource declaring `fields`, by `user`
    (one who edits the dataset)."""
    return helpers.call_action(
        "history_feed_create", context={"user": user}, resource_id=resource_id,
        url="http://127.0.0.1:9/feed.geojson", format="geojson", feature_id_field="number",
        time_field="", fields=fields, enabled=False)
