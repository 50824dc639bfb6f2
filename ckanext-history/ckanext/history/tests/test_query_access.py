"""Who may read a history: history_query, history_show and the download
routes over HTTP, for each access level and actor, after indexing.

D: the rows are served; M (metadata only): 403 without any row; -: the same
404 as a resource that does not exist, naming nothing."""

from __future__ import annotations

import datetime
import json

import pytest
from ckan.tests import helpers
from ckanext.grandlyon_access.testing.pytest_plugin import World
from ckanext.history import store
from ckanext.history.tests import history_support
from ckanext.history.tests.feed_world import ACCESS
from ckanext.history.tests.history_support import FIELDS

archive_dir = history_support.archive_dir

MISSING_ID = "00000000-0000-4000-8000-000000000000"
USERS = {"outsider": "h-outsider", "member": "h-member", "editor": "h-editor", "admin": "h-admin",
         "sysadmin": "h-root"}


class HistoryWorld(World):
    """The shared five-level world with the module's own names, each dataset
    with one GeoJSON resource (`resource_id`) holding one row of history."""

    def __init__(self) -> None:
        super().__init__(users=USERS, org={"name": "h-publisher"}, name="hist-{key}-h-publisher",
                         title="History {key}", table=False, email="{name}@example.org")

    def resources(self, key: str) -> list[dict]:
        return [{"name": "stations", "url": f"https://origin.example.org/{key}.geojson",
                 "format": "GeoJSON"}]

    def make_dataset(self, key: str, **fields) -> dict:
        dataset = super().make_dataset(key, **fields)
        dataset["resource_id"] = dataset["file_id"]
        store.ensure_schema(dataset["resource_id"], FIELDS)
        store.write_rows(dataset["resource_id"], [
            {"feature": f"secret-{key}", "time": datetime.datetime(2026, 3, 1, 12),
             "values": {"available_bikes": 5, "status": f"row-{key}"}}])
        return dataset


@pytest.fixture
def world(clean_db, clean_index, archive_dir) -> HistoryWorld:
    return HistoryWorld()


def _headers(world, who):
    return world.actors[who].headers


def _api(app, world, who, action, **params):
    res = app.post(f"/api/3/action/{action}", json=params, headers=_headers(world, who))
    return res.status_code, res.get_data(as_text=True)


def _hides(text: str, dataset: dict) -> None:
    for secret in (dataset["id"], dataset["name"], dataset["title"], "secret-", "row-"):
        assert secret not in text.replace(dataset["resource_id"], ""), secret


@pytest.mark.parametrize("action", ["history_query", "history_show"])
def test_actions_at_each_level_for_each_actor(app, world, action):
    params = {"start": "2026-03-01T00:00:00", "end": "2026-03-02T00:00:00"} if action == "history_query" else {}
    for who, levels in ACCESS.items():
        missing_status, missing_body = _api(app, world, who, action, resource_id=MISSING_ID, **params)
        assert missing_status == 404
        for level, expected in levels.items():
            dataset = world.datasets[level]
            status, body = _api(app, world, who, action, resource_id=dataset["resource_id"], **params)
            where = f"{who} {level}"
            if expected == "D":
                assert status == 200, where
                result = json.loads(body)["result"]
                if action == "history_query":
                    assert result["records"][0]["feature"] == f"secret-{level}", where
                else:
                    assert result["coverage"]["rows"] == 1, where
            elif expected == "M":
                assert status == 403, where
                assert "secret-" not in body and "row-" not in body, where
            else:
                assert status == 404, where
                assert (json.loads(body)["error"]
                        == json.loads(missing_body.replace(MISSING_ID, dataset["resource_id"]))["error"]), where
                _hides(body, dataset)


@pytest.mark.parametrize("route", ["download?format=csv&start=2026-03-01&end=2026-03-02",
                                   "download?format=parquet&start=2026-03-01&end=2026-03-02",
                                   "month/2026-03.csv"])
def test_downloads_at_each_level_for_each_actor(app, world, route):
    for who, levels in ACCESS.items():
        missing = app.get(f"/dataset/nope/resource/{MISSING_ID}/history/{route}", headers=_headers(world, who))
        assert missing.status_code == 404
        for level, expected in levels.items():
            dataset = world.datasets[level]
            res = app.get(f"/dataset/{dataset['name']}/resource/{dataset['resource_id']}/history/{route}",
                          headers=_headers(world, who))
            body = res.get_data()
            where = f"{who} {level}"
            if expected == "D":
                assert res.status_code == 200, where
                assert f"secret-{level}".encode() in body, where
            elif expected == "M":
                assert res.status_code == 403, where
                assert b"secret-" not in body and b"row-" not in body, where
            else:
                assert res.status_code == 404, where
                _hides(body.decode(errors="replace").replace(dataset["name"], ""), dataset)


@pytest.mark.ckan_config("ckanext.grandlyon_access.outbound.allow", "127.0.0.1")
def test_the_feed_url_is_not_shown_by_history_show_to_readers(app, world):
    """history_show shows the feed through history_feed_show, which keeps the
    source URL for the dataset's editors."""
    dataset = world.datasets["open"]
    helpers.call_action("history_feed_create", context={"user": "h-editor"},
                        resource_id=dataset["resource_id"], url="http://127.0.0.1:9/secret-feed.geojson",
                        format="geojson", feature_id_field="number", time_field="", fields=FIELDS,
                        interval_seconds=60, store_mode="changes")
    status, body = _api(app, world, "outsider", "history_show", resource_id=dataset["resource_id"])
    assert status == 200 and "secret-feed" not in body
    assert json.loads(body)["result"]["feed"]["resource_id"] == dataset["resource_id"]
    status, body = _api(app, world, "editor", "history_show", resource_id=dataset["resource_id"])
    assert status == 200 and "secret-feed" in body
