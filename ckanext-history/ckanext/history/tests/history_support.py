"""Fixtures and helpers shared by the store, query, archive, import and
download tests (imported by those modules; not a test module)."""

from __future__ import annotations

import datetime

import pytest

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
