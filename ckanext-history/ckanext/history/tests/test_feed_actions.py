"""Feed actions over the API: validation (409 naming the field, nothing
stored), and who may declare, change, read and delete a feed at each access
level (the dataset's publishers write; readers of the data read, without the
source URL; a dataset the user may not see looks missing)."""

from __future__ import annotations

import datetime

import ckan.model as model
import pytest
from ckan.cli.cli import ckan
from ckan.tests import helpers
from ckanext.history import archive, store
from ckanext.history.tests import history_support
from ckanext.history.map_view import value_fields
from ckanext.history.model import Feed, Gap

from .feed_world import ACCESS, EDITORS, FEED_URL, FIELDS, LEVELS, World, api, feed_params

archive_dir = history_support.archive_dir
pytestmark = pytest.mark.ckan_config("ckanext.grandlyon_access.outbound.allow", "127.0.0.1")


@pytest.fixture
def world(clean_db, clean_index):
    return World()


def test_editor_declares_a_feed_over_the_api(app, world):
    status, answer = api(app, world, "editor", "history_feed_create",
                         **feed_params(world.rid("open"), url=FEED_URL.format("open"),
                                       hot_retention_days=7, store_mode="every"))
    assert status == 200, answer
    feed = answer["result"]
    assert feed["url"] == FEED_URL.format("open")
    assert feed["fields"] == FIELDS
    assert (feed["format"], feed["feature_id_field"], feed["time_field"]) == ("geojson", "number", "")
    assert (feed["interval_seconds"], feed["hot_retention_days"], feed["store_mode"]) == (60, 7, "every")
    assert feed["enabled"] is True and feed["next_poll_at"]
    stored = model.Session.query(Feed).one()
    assert stored.package_id == world.datasets["open"]["id"]
    assert store.get_schema(world.rid("open")) == FIELDS


def test_defaults_and_a_fields_text_from_a_form(world):
    feed = helpers.call_action("history_feed_create", context={"user": "org-editor"},
                               resource_id=world.rid("open"), url=FEED_URL.format("open"),
                               format="CSV", feature_id_field="id",
                               fields="bikes:int, ratio:float\nopen:bool")
    assert feed["format"] == "csv"
    assert feed["fields"] == [{"name": "bikes", "type": "int"}, {"name": "ratio", "type": "float"},
                              {"name": "open", "type": "bool"}]
    assert (feed["interval_seconds"], feed["store_mode"], feed["hot_retention_days"]) == (60, "changes", None)


def test_fields_carry_titles_in_both_languages_a_unit_and_how_features_add_up(world):
    fields = [{"name": "bikes", "type": "int", "title_fr": "Vélos disponibles",
               "title_en": "Available bikes", "unit": "vélos", "across": "sum"},
              {"name": "ratio", "type": "float", "title_fr": " Taux ", "unit": ""},
              {"name": "name", "type": "text", "label": True}]
    feed = helpers.call_action("history_feed_create", context={"user": "org-editor"},
                               resource_id=world.rid("open"), url=FEED_URL.format("open"),
                               format="json", feature_id_field="id", fields=fields)
    assert feed["fields"] == [fields[0], {"name": "ratio", "type": "float", "title_fr": "Taux"},
                              fields[2]]


def test_a_unit_may_be_given_in_each_language_and_read_in_the_readers(world):
    fields = [{"name": "bikes", "type": "int", "unit_fr": "vélos", "unit_en": "bikes"},
              {"name": "ratio", "type": "float", "unit": "%"},
              {"name": "speed", "type": "float", "unit_en": "km/h"}]
    feed = helpers.call_action("history_feed_create", context={"user": "org-editor"},
                               resource_id=world.rid("open"), url=FEED_URL.format("open"),
                               format="json", feature_id_field="id", fields=fields)
    assert feed["fields"] == fields
    assert [f["unit"] for f in value_fields(feed["fields"], "fr")] == ["vélos", "%", "km/h"]
    assert [f["unit"] for f in value_fields(feed["fields"], "en")] == ["bikes", "%", "km/h"]


BAD_INPUT = [
    ("url", {"url": "not a url"}),
    ("url", {"url": "file:///etc/passwd"}),
    ("url", {"url": "http://169.254.169.254/latest/meta-data/"}),
    ("url", {"url": "http://10.1.2.3/feed.json"}),
    ("url", {"url": "http://[::1]/feed.json"}),
    ("url", {"url": ""}),
    ("format", {"format": "xml"}),
    ("feature_id_field", {"feature_id_field": "number; DROP TABLE history_row"}),
    ("feature_id_field", {"feature_id_field": ""}),
    ("time_field", {"time_field": "last update"}),
    ("fields", {"fields": [{"name": "bad-name", "type": "int"}]}),
    ("fields", {"fields": [{"name": "1st", "type": "int"}]}),
    ("fields", {"fields": [{"name": "bikes", "type": "decimal"}]}),
    ("fields", {"fields": [{"name": "time", "type": "int"}]}),
    ("fields", {"fields": [{"name": "a", "type": "int"}, {"name": "a", "type": "text"}]}),
    ("fields", {"fields": []}),
    ("fields", {"fields": "not: a valid list; x"}),
    ("fields", {"fields": "[{broken json"}),
    ("fields", {"fields": [{"name": "a", "type": "int", "across": "median"}]}),
    ("fields", {"fields": [{"name": "a", "type": "text", "across": "sum"}]}),
    ("fields", {"fields": [{"name": "a", "type": "int", "title_en": "x" * 101}]}),
    ("fields", {"fields": [{"name": "a", "type": "int", "unit": ["km"]}]}),
    ("fields", {"fields": [{"name": "a", "type": "int", "unit_fr": "k" * 21}]}),
    ("fields", {"fields": [{"name": "a", "type": "int", "label": True}]}),
    ("fields", {"fields": [{"name": "a", "type": "text", "label": True},
                           {"name": "b", "type": "text", "label": True}]}),
    ("interval_seconds", {"interval_seconds": 1}),
    ("interval_seconds", {"interval_seconds": 10 ** 7}),
    ("interval_seconds", {"interval_seconds": "often"}),
    ("store_mode", {"store_mode": "sometimes"}),
    ("hot_retention_days", {"hot_retention_days": -3}),
    ("hot_retention_days", {"hot_retention_days": 1.5}),
    ("hot_retention_days", {"hot_retention_days": "abc"}),
    ("hot_retention_days", {"hot_retention_days": 10 ** 30}),
    ("hot_retention_days", {"hot_retention_days": True}),
    ("enabled", {"enabled": "maybe"}),
    ("enabled", {"enabled": 2}),
]


def test_bad_input_answers_409_naming_the_field_and_stores_nothing(app, world):
    failures = []
    for field, change in BAD_INPUT:
        params = feed_params(world.rid("open"), url=FEED_URL.format("open"))
        params.update(change)
        status, answer = api(app, world, "editor", "history_feed_create", **params)
        if status != 409 or field not in answer["error"]:
            failures.append((field, change, status, answer))
    assert failures == []
    assert model.Session.query(Feed).count() == 0
    assert store.get_schema(world.rid("open")) is None


def test_bad_input_to_an_update_answers_409_naming_the_field_once(app, world):
    """Found by the outside probe of issue 21: a fraction, text or a huge
    number of retention days failed an update with a 500 (and a create said
    it twice); an empty store mode was blamed on the resource."""
    params = feed_params(world.rid("open"), url=FEED_URL.format("open"))
    status, _answer = api(app, world, "editor", "history_feed_create", **params)
    assert status == 200
    failures = []
    for field, change in [("hot_retention_days", {"hot_retention_days": 1.5}),
                          ("hot_retention_days", {"hot_retention_days": "abc"}),
                          ("hot_retention_days", {"hot_retention_days": 10 ** 30}),
                          ("store_mode", {"store_mode": ""}),
                          ("store_mode", {"store_mode": "sometimes"})]:
        status, answer = api(app, world, "editor", "history_feed_update",
                             resource_id=world.rid("open"), **change)
        if status != 409 or list(answer["error"]) != [field, "__type"] and \
                set(answer["error"]) - {"__type"} != {field} or len(answer["error"][field]) != 1:
            failures.append((change, status, answer))
    assert failures == []
    # CKAN's one_of answered in English on French pages.
    status, answer = api(app, world, "editor", "history_feed_update",
                         resource_id=world.rid("open"), format="xml")
    assert status == 409 and answer["error"]["format"] == [
        "Choisissez parmi : geojson, json, csv"]


def test_a_missing_resource_id_is_named(app, world):
    for action in ("history_feed_create", "history_feed_update", "history_feed_show",
                   "history_feed_delete"):
        status, answer = api(app, world, "editor", action, url=FEED_URL.format("open"))
        assert status == 409 and "resource_id" in answer["error"], (action, answer)


def test_loopback_and_metadata_addresses_are_refused_by_default(app, world, ckan_config,
                                                                monkeypatch):
    monkeypatch.setitem(ckan_config, "ckanext.grandlyon_access.outbound.allow", [])
    for url in ("http://127.0.0.1:9/feed.geojson", "http://169.254.169.254/latest/meta-data/",
                "http://localhost/feed.json"):
        status, answer = api(app, world, "editor", "history_feed_create",
                             **feed_params(world.rid("open"), url=url))
        assert status == 409 and "url" in answer["error"], (url, answer)
    assert model.Session.query(Feed).count() == 0


@pytest.mark.ckan_config("ckanext.history.feed.min_interval_seconds", "300")
def test_interval_bounds_come_from_the_config(app, world):
    status, answer = api(app, world, "editor", "history_feed_create",
                         **feed_params(world.rid("open"), interval_seconds=60))
    assert status == 409 and "300" in answer["error"]["interval_seconds"][0]
    status, _answer = api(app, world, "editor", "history_feed_create",
                          **feed_params(world.rid("open"), interval_seconds=300))
    assert status == 200


def test_update_validates_too_and_keeps_what_is_not_given(app, world):
    world.declare("open")
    status, answer = api(app, world, "editor", "history_feed_update", resource_id=world.rid("open"),
                         fields=[{"name": "x y", "type": "int"}])
    assert status == 409 and "fields" in answer["error"]
    status, answer = api(app, world, "editor", "history_feed_update", resource_id=world.rid("open"),
                         url="http://169.254.169.254/")
    assert status == 409 and "url" in answer["error"]
    assert model.Session.query(Feed).one().url == FEED_URL.format("open")


def test_update_refuses_what_create_refuses(app, world):
    """An empty list of fields, or an `enabled` that is neither true nor
    false, was taken without a word (and "maybe" stopped the feed)."""
    world.declare("open")
    for field, change in (("fields", {"fields": []}), ("enabled", {"enabled": "maybe"}),
                          ("enabled", {"enabled": ""})):
        status, answer = api(app, world, "editor", "history_feed_update",
                             resource_id=world.rid("open"), **change)
        assert status == 409 and field in answer["error"], (change, answer)
    model.Session.expire_all()
    feed = model.Session.query(Feed).one()
    assert feed.enabled is True and [f["name"] for f in feed.fields] == [f["name"] for f in FIELDS]
    for text, enabled in (("off", False), ("true", True), ("0", False), (True, True)):
        status, answer = api(app, world, "editor", "history_feed_update",
                             resource_id=world.rid("open"), enabled=text)
        assert status == 200 and answer["result"]["enabled"] is enabled, (text, answer)


def test_a_resource_has_one_feed(app, world):
    world.declare("open")
    status, answer = api(app, world, "editor", "history_feed_create",
                         **feed_params(world.rid("open")))
    assert status == 409 and "resource_id" in answer["error"]


def test_a_new_url_forgets_the_conditional_request_validators(world):
    world.declare("open")
    feed = model.Session.query(Feed).one()
    feed.etag, feed.last_modified, feed.consecutive_failures = '"v1"', "Mon, 01 Jan 2026", 3
    feed.next_poll_at = datetime.datetime(2030, 1, 1)
    model.Session.commit()
    updated = helpers.call_action("history_feed_update", context={"user": "org-admin"},
                                  resource_id=world.rid("open"), url="http://127.0.0.1:9/v2.geojson",
                                  interval_seconds=120)
    assert (updated["etag"], updated["last_modified"], updated["consecutive_failures"]) == (None, None, 0)
    assert updated["interval_seconds"] == 120 and updated["fields"] == FIELDS
    assert updated["next_poll_at"] < "2030"
    fields = FIELDS + [{"name": "status_code", "type": "int"}]
    helpers.call_action("history_feed_update", context={"user": "org-editor"},
                        resource_id=world.rid("open"), fields=fields)
    assert store.get_schema(world.rid("open")) == fields


def test_delete_removes_the_feed_its_rows_and_gaps(app, world):
    rid = world.rid("open")
    world.declare("open")
    store.write_rows(rid, [{"feature": "1", "time": datetime.datetime(2026, 3, 1),
                            "values": {"available_bikes": 3}}])
    model.Session.add(Gap(resource_id=rid, start=datetime.datetime(2026, 3, 2)))
    model.Session.commit()
    status, answer = api(app, world, "editor", "history_feed_delete", resource_id=rid)
    assert status == 200, answer
    assert model.Session.query(Feed).count() == 0
    assert model.Session.query(Gap).count() == 0
    assert store.latest_values(rid) == {}
    status, _answer = api(app, world, "editor", "history_feed_show", resource_id=rid)
    assert status == 404


def _history_of(rid: str) -> None:
    store.write_rows(rid, [{"feature": "1", "time": datetime.datetime(2026, 3, 1),
                            "values": {"available_bikes": 3}}])
    model.Session.add(Gap(resource_id=rid, start=datetime.datetime(2026, 3, 2)))
    model.Session.commit()


def test_deleting_the_resource_deletes_its_feed_and_history(app, world):
    rid, other = world.rid("open"), world.rid("licensed")
    world.declare("open")
    world.declare("licensed")
    _history_of(rid)
    _history_of(other)
    status, answer = api(app, world, "editor", "resource_delete", id=rid)
    assert status == 200, answer
    assert [f.resource_id for f in model.Session.query(Feed)] == [other]
    assert {g.resource_id for g in model.Session.query(Gap)} == {other}
    assert store.latest_values(rid) == {}
    assert store.latest_values(other) != {}


def test_compaction_prunes_histories_of_resources_gone_another_way(app, world, cli, archive_dir):
    """A resource dropped by package_update (no resource_delete hook runs)."""
    rid, other = world.rid("open"), world.rid("licensed")
    world.declare("open")
    world.declare("licensed")
    _history_of(rid)
    _history_of(other)
    dataset = helpers.call_action("package_show", id=model.Resource.get(rid).package_id)
    dataset["resources"] = [r for r in dataset["resources"] if r["id"] != rid]
    helpers.call_action("package_update", context={"user": "org-editor"}, **dataset)
    assert model.Session.query(Feed).filter(Feed.resource_id == rid).count() == 1
    result = cli.invoke(ckan, ["history", "compact"])
    assert result.exit_code == 0, result.output
    assert f"{rid}: resource deleted, its history removed" in result.output
    assert [f.resource_id for f in model.Session.query(Feed)] == [other]
    assert store.latest_values(rid) == {} and archive.month_files(rid) == []
    assert [f.label for f in archive.month_files(other)] == ["2026-03"]  # compacted, kept


# --- who may do what -----------------------------------------------------------------

def _missing_error(app, world, who: str, action: str) -> dict:
    status, answer = api(app, world, who, action, resource_id="00000000-0000-4000-8000-000000000000")
    assert status == 404
    return answer["error"]


def test_show_at_each_access_level_for_each_actor(app, world):
    """D: the feed (the URL for the publishers only); M: 403; -: the same 404
    as a resource that does not exist, naming nothing."""
    for level in LEVELS:
        world.declare(level)
    failures = []
    for who, levels in ACCESS.items():
        missing = _missing_error(app, world, who, "history_feed_show")
        for level, access in levels.items():
            status, answer = api(app, world, who, "history_feed_show", resource_id=world.rid(level))
            text = str(answer)
            if access == "D":
                ok = status == 200 and answer["result"]["fields"] == FIELDS
                ok = ok and (("url" in answer["result"]) == (who in EDITORS))
                ok = ok and ((FEED_URL.format(level) in text) == (who in EDITORS))
                ok = ok and "last_error" not in answer["result"] if who not in EDITORS else ok
            elif access == "M":
                ok = status == 403 and FEED_URL.format(level) not in text
            else:
                ds = world.datasets[level]
                ok = (status == 404 and answer["error"] == missing
                      and not any(s in text for s in (ds["id"], ds["name"], ds["title"],
                                                      FEED_URL.format(level), world.rid(level))))
            if not ok:
                failures.append((who, level, status, answer))
    assert failures == []


def test_only_publishers_write_feeds(app, world):
    rid = world.rid("open")
    for who in ("anonymous", "outsider", "member"):
        status, _answer = api(app, world, who, "history_feed_create",
                              **feed_params(rid, url=FEED_URL.format("open")))
        assert status == 403, who
    assert model.Session.query(Feed).count() == 0
    for who in ("editor", "admin", "sysadmin"):
        status, answer = api(app, world, who, "history_feed_create",
                             **feed_params(rid, url=FEED_URL.format("open")))
        assert status == 200, (who, answer)
        for other in ("anonymous", "outsider", "member"):
            assert api(app, world, other, "history_feed_update", resource_id=rid,
                       interval_seconds=300)[0] == 403
            assert api(app, world, other, "history_feed_delete", resource_id=rid)[0] == 403
        status, answer = api(app, world, who, "history_feed_update", resource_id=rid,
                             interval_seconds=300)
        assert status == 200 and answer["result"]["interval_seconds"] == 300
        assert api(app, world, who, "history_feed_delete", resource_id=rid)[0] == 200
        assert model.Session.query(Feed).count() == 0


def test_writes_on_a_dataset_the_user_cannot_see_look_missing(app, world):
    world.declare("hidden")
    for who in ("anonymous", "outsider"):
        for level in ("hidden", "private"):
            rid = world.rid(level)
            for action, params in (("history_feed_create", feed_params(rid)),
                                   ("history_feed_update", {"resource_id": rid, "enabled": False}),
                                   ("history_feed_delete", {"resource_id": rid})):
                status, answer = api(app, world, who, action, **params)
                assert status == 404, (who, level, action, answer)
                assert world.datasets[level]["name"] not in str(answer)
    assert model.Session.query(Feed).one().enabled is True


def test_a_field_keeps_its_type_once_its_history_holds_values(app, world):
    """Retyping a field whose values are stored made every query and
    download of the resource answer 500 (outside probe): a 409 naming the
    field; before any row, and for new fields, the change is taken."""
    rid = world.rid("open")
    world.declare("open")
    retyped = [dict(f, type="bool") if f["name"] == "available_bikes" else f for f in FIELDS]
    status, answer = api(app, world, "editor", "history_feed_update", resource_id=rid,
                         fields=retyped)
    assert status == 200, answer  # no history yet
    helpers.call_action("history_feed_update", context={"user": "org-editor"},
                        resource_id=rid, fields=FIELDS)
    _history_of(rid)

    status, answer = api(app, world, "editor", "history_feed_update", resource_id=rid,
                         fields=retyped)
    assert status == 409 and "available_bikes" in answer["error"]["fields"][0]
    assert model.Session.query(Feed).one().fields == FIELDS
    status, answer = api(app, world, "editor", "history_query", resource_id=rid,
                         start="2026-02-28T00:00:00Z", end="2026-03-02T00:00:00Z")
    assert status == 200 and answer["result"]["records"][0]["available_bikes"] == 3
    added = FIELDS + [{"name": "docks", "type": "int"}]
    status, _answer = api(app, world, "editor", "history_feed_update", resource_id=rid,
                          fields=added)
    assert status == 200
