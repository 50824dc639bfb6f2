"""The ingest worker against a local HTTP server playing a changing feed:
changes stored once, 304s, then a source that fails in every way (HTML,
500, timeout, huge body, malformed JSON, malformed rows), gaps opened and
closed, back-off, and the worker surviving all of it."""

from __future__ import annotations

import datetime
import json

import ckan.model as model
import pytest
import sqlalchemy as sa
from ckan.tests import helpers
from ckanext.history import ingest, store
from ckanext.history.model import Feed, Gap

from .feed_world import FeedServer, Reply, World, geojson

pytestmark = [
    pytest.mark.ckan_config("ckanext.grandlyon_access.outbound.allow", "127.0.0.1"),
    pytest.mark.ckan_config("ckanext.history.ingest.timeout", "1"),
    pytest.mark.ckan_config("ckanext.history.ingest.max_bytes", "20000"),
]

T0 = datetime.datetime(2026, 3, 2, 8, 0)


def at(minutes: float) -> datetime.datetime:
    return T0 + datetime.timedelta(minutes=minutes)


@pytest.fixture
def world(clean_db, clean_index):
    return World()


@pytest.fixture
def server():
    feed_server = FeedServer()
    yield feed_server
    feed_server.close()


def rows_of(resource_id: str) -> list[tuple]:
    sql = sa.text('SELECT feature, "time", "values" FROM history_row WHERE resource_id = :rid '
                  'ORDER BY feature, "time"')
    return [tuple(r) for r in model.Session.execute(sql, {"rid": resource_id})]


def feed_of(resource_id: str) -> Feed:
    model.Session.expire_all()
    return model.Session.query(Feed).filter_by(resource_id=resource_id).one()


def gaps_of(resource_id: str) -> list[Gap]:
    model.Session.expire_all()
    return model.Session.query(Gap).filter_by(resource_id=resource_id).order_by(Gap.start).all()


def station(bikes: int, stands: int, status: str = "OPEN") -> dict:
    return {"available_bikes": bikes, "available_bike_stands": stands, "status": status}


def test_changes_are_stored_once_and_failures_open_one_gap(world, server):
    rid = world.rid("open")
    world.declare("open", url=server.url)

    server.reply = Reply(geojson({"1": station(5, 15), "2": station(0, 20)}), etag='"v1"')
    result = ingest.poll_feed(rid, now=at(0))
    assert (result.status, result.features, result.stored) == ("stored", 2, 2)
    assert feed_of(rid).etag == '"v1"'

    # The same version: the server answers 304 to the conditional request.
    result = ingest.poll_feed(rid, now=at(1))
    assert (result.status, result.stored) == ("not_modified", 0)
    assert server.requests[-1].get("If-None-Match") == '"v1"'

    # One station changed: only it is stored.
    server.reply = Reply(geojson({"1": station(4, 16), "2": station(0, 20)}), etag='"v2"')
    assert ingest.poll_feed(rid, now=at(2)).stored == 1
    # A new version with the same values: nothing new.
    server.reply = Reply(geojson({"1": station(4, 16), "2": station(0, 20)}), etag='"v3"')
    assert ingest.poll_feed(rid, now=at(3)).stored == 0
    assert len(rows_of(rid)) == 3
    assert gaps_of(rid) == []

    # The source fails in every way; the worker records, backs off, goes on.
    failures = [
        (Reply(b"<!DOCTYPE html><html><body>Maintenance</body></html>",
               content_type="text/html"), "HTML"),
        (Reply(b'{"error": "boom"}', status=500), "HTTP 500"),
        (Reply(geojson({"1": station(9, 11)}), delay=2.5), "timeout"),
        (Reply(b"x" * 50000), "too_large"),
        (Reply(b'{"type": "FeatureCollection", "features": [{"type": "Feat'), "malformed JSON"),
        (Reply(b'{"type": "Feature", "properties": {}}'), "FeatureCollection"),
        (Reply(geojson({"": station(1, 1), "3": {"available_bikes": "many"}})), "no usable feature"),
    ]
    for n, (reply, reason) in enumerate(failures, start=1):
        server.reply = reply
        result = ingest.poll_feed(rid, now=at(10 + n))
        assert result.status == "failed" and reason in result.reason, (reason, result)
        feed = feed_of(rid)
        assert feed.consecutive_failures == n
        assert reason in feed.last_error
        # Back-off: the interval (60 s), doubled at each further failure, capped.
        assert feed.next_poll_at == at(10 + n) + datetime.timedelta(
            seconds=min(60 * 2 ** (n - 1), 3600))
    [gap] = gaps_of(rid)
    assert (gap.start, gap.end, gap.attempts) == (at(11), None, len(failures))
    assert "HTML" in gap.reason
    assert len(rows_of(rid)) == 3

    # Back: some rows malformed (no id, a value not of its type) are skipped.
    server.reply = Reply(geojson({"1": station(2, 18), "2": station(0, 20), "": station(1, 1),
                                  "3": {"available_bikes": "many"}, "4": station(7, 13)}),
                         etag='"v4"')
    result = ingest.poll_feed(rid, now=at(30))
    assert (result.status, result.features, result.malformed, result.stored) == ("stored", 5, 2, 2)
    [gap] = gaps_of(rid)
    assert gap.end == at(30)
    feed = feed_of(rid)
    assert (feed.consecutive_failures, feed.last_success_at) == (0, at(30))
    assert feed.next_poll_at == at(31)
    stored = rows_of(rid)
    assert [(f, t) for f, t, _v in stored] == [
        ("1", at(0)), ("1", at(2)), ("1", at(30)), ("2", at(0)), ("4", at(30))]
    assert stored[2][2] == {"available_bikes": 2, "available_bike_stands": 18, "status": "OPEN"}


def test_what_another_worker_stored_meanwhile_is_taken_into_account(world, server):
    """The worker remembers the latest values it stored; when another worker
    (or a restart) polled the feed since, it reads them again from the store."""
    rid = world.rid("open")
    world.declare("open", url=server.url)
    server.reply = Reply(geojson({"1": station(5, 15)}))
    assert ingest.poll_feed(rid, now=at(0)).stored == 1
    assert ingest.poll_feed(rid, now=at(1)).stored == 0           # remembered: unchanged
    # Another worker stores new values for station 1 and records its poll.
    store.write_rows(rid, [{"feature": "1", "time": at(2), "values": station(9, 11)}])
    feed = feed_of(rid)
    feed.last_success_at = at(2)
    model.Session.commit()
    # Back to the first values: a change with respect to what is stored.
    assert ingest.poll_feed(rid, now=at(3)).stored == 1
    assert [t for _f, t, _v in rows_of(rid)] == [at(0), at(2), at(3)]


def test_every_snapshot_with_the_source_times_never_stores_a_row_twice(world, server):
    rid = world.rid("open")
    world.declare("open", url=server.url, store_mode="every", time_field="last_update")
    body = geojson({"1": station(5, 15), "2": station(3, 17)}, last_update="2026-03-02T09:00:00+01:00")
    server.reply = Reply(body)
    assert ingest.poll_feed(rid, now=at(0)).stored == 2
    assert ingest.poll_feed(rid, now=at(1)).stored == 0   # same (feature, time): skipped
    server.reply = Reply(geojson({"1": station(5, 15)}, last_update="2026-03-02T08:01:00Z"))
    assert ingest.poll_feed(rid, now=at(2)).stored == 1   # same values, new time: stored
    assert [(f, t) for f, t, _v in rows_of(rid)] == [("1", at(0)), ("1", at(1)), ("2", at(0))]


def test_every_snapshot_at_the_fetch_time_asks_without_conditions(world, server):
    rid = world.rid("open")
    world.declare("open", url=server.url, store_mode="every")
    server.reply = Reply(geojson({"1": station(5, 15), "2": station(3, 17)}), etag='"same"')
    assert ingest.poll_feed(rid, now=at(0)).stored == 2
    assert ingest.poll_feed(rid, now=at(1)).stored == 2   # the same values, a new snapshot
    assert "If-None-Match" not in server.requests[-1]
    assert len(rows_of(rid)) == 4


def test_csv_and_json_feeds_are_parsed_and_coerced(world, server):
    rid = world.rid("open")
    world.declare("open", url=server.url, format="csv", feature_id_field="id",
                  time_field="updated",
                  fields=[{"name": "bikes", "type": "int"}, {"name": "ratio", "type": "float"},
                          {"name": "open", "type": "bool"}, {"name": "since", "type": "timestamp"}])
    server.reply = Reply(b"id;bikes;ratio;open;since;updated\n"
                         b"A;3;0,25;oui;2026-03-01T10:00:00Z;2026-03-02 08:00:00\n"
                         b"B;x;0.5;true;;2026-03-02 08:00:00\n"
                         b"C;;1.5;false;;1772438400\n", content_type="text/csv")
    result = ingest.poll_feed(rid, now=at(5))
    assert (result.stored, result.malformed) == (2, 1)
    stored = {f: (t, v) for f, t, v in rows_of(rid)}
    assert stored["A"] == (at(0), {"bikes": 3, "ratio": 0.25, "open": True,
                                   "since": "2026-03-01T10:00:00"})
    assert stored["C"][0] == datetime.datetime(2026, 3, 2, 8, 0)
    assert stored["C"][1]["bikes"] is None

    helpers.call_action("history_feed_update", context={"user": "org-editor"}, resource_id=rid,
                        format="json", feature_id_field="station", time_field="")
    server.reply = Reply(json.dumps({"values": [
        {"station": 7, "bikes": "4", "ratio": 0.1, "open": 1, "since": None},
        {"station": 8, "bikes": 4.5},
    ]}).encode())
    result = ingest.poll_feed(rid, now=at(6))
    assert (result.stored, result.malformed) == (1, 1)
    assert sorted(f for f, _t, _v in rows_of(rid)) == ["7", "A", "C"]


def test_the_worker_survives_a_broken_feed_and_polls_the_others(world, server):
    """run_once polls every due feed; a feed whose source fails in an
    unexpected way does not stop the others."""
    ok, broken = world.rid("open"), world.rid("restricted")
    world.declare("open", url=server.url)
    world.declare("restricted", url=server.url, feature_id_field="missing_everywhere")
    server.reply = Reply(geojson({"1": station(5, 15)}))
    results = {r.resource_id: r for r in ingest.run_once()}
    assert results[ok].status == "stored" and results[ok].stored == 1
    assert results[broken].status == "failed"
    assert ingest.run_once() == []            # nothing due any more
    assert [r.resource_id for r in ingest.run_once(only=[ok], force=True)] == [ok]


def test_a_feed_of_a_deleted_resource_is_not_polled(world, server):
    rid = world.rid("open")
    world.declare("open", url=server.url)
    helpers.call_action("resource_delete", context={"user": "org-editor"}, id=rid)
    assert ingest.run_once() == []
    assert server.requests == []


def test_a_purged_dataset_takes_its_feed_and_history_with_it(world, server):
    """dataset_purge tells no resource plugin: the history plugin's signal
    handler removes the feed, its gaps and rows, as deleting does."""
    rid, other = world.rid("open"), world.rid("restricted")
    world.declare("open", url=server.url)
    world.declare("restricted", url=server.url)
    server.reply = Reply(geojson({"1": station(5, 15)}))
    assert ingest.poll_feed(rid, now=at(0)).stored == 1
    ingest.poll_feed(other, now=at(0))
    model.Session.add(Gap(resource_id=rid, start=at(-5), end=at(-4), reason="HTTP 503"))
    model.Session.commit()
    helpers.call_action("dataset_purge", context={"user": "root"}, id="ds-open")
    model.Session.expire_all()
    assert model.Session.query(Feed).filter_by(resource_id=rid).count() == 0
    assert gaps_of(rid) == [] and rows_of(rid) == [] and store.get_schema(rid) is None
    # The other dataset's history is untouched.
    assert feed_of(other) is not None and len(rows_of(other)) == 1


@pytest.mark.ckan_config("ckanext.history.ingest.idle_seconds", "7")
def test_the_worker_never_waits_on_a_feed_it_will_not_claim(world, server):
    """A feed left behind by a resource dropped from its dataset (no hook
    runs then; `ckan history compact` prunes it later), due long ago: the
    worker does not claim it, and so does not count it when it computes its
    sleep (which was 0: a spin at 60 % of a core)."""
    rid = world.rid("open")
    world.declare("open", url=server.url)
    dataset = helpers.call_action("package_show", id="ds-open")
    helpers.call_action("package_patch", context={"user": "org-editor"}, id=dataset["id"],
                        resources=[{"name": "other", "url": "https://origin.example.org/x.csv"}])
    feed = feed_of(rid)
    feed.next_poll_at = at(-600)
    model.Session.commit()
    assert ingest.claim_due_feed() is None
    assert ingest.seconds_until_next() == 7
    # A feed that is due counts, one that is not yet due is waited for.
    world.declare("restricted", url=server.url)
    due = feed_of(world.rid("restricted"))
    due.next_poll_at = ingest.utcnow() + datetime.timedelta(seconds=3)
    model.Session.commit()
    assert 2 <= ingest.seconds_until_next() <= 3
    assert ingest.claim_due_feed() is None
    due = feed_of(world.rid("restricted"))
    due.next_poll_at = ingest.utcnow() - datetime.timedelta(seconds=3)
    model.Session.commit()
    assert ingest.seconds_until_next() == ingest.MIN_WAIT_SECONDS
    assert ingest.claim_due_feed() == world.rid("restricted")
