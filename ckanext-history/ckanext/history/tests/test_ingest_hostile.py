"""The ingest worker against real-time feeds that misbehave the way real ones
do on a bad day (a local HTTP server, feed_world.FeedServer): schema drift
(a field renamed, typed differently, missing), duplicate feature ids in one
poll, a clock going backwards, a DST change, an HTML error page with status
200, invalid UTF-8, a slow drip, a huge body and a gzip-compressed huge one.

Each mode polls a good answer first, then the hostile one, and asserts that
nothing stored before is lost or changed, that no NULL and no duplicate row
is stored, that the failure is recorded (a gap, or the features left out)
and that the history page says what happened, what was kept and what to do
in French and in English. The modes of schema drift then poll a correct
answer, whose values are stored.
"""

from __future__ import annotations

import dataclasses
import datetime
import gzip
import html
import json

import ckan.model as model
import pytest
import sqlalchemy as sa
from ckan.tests import helpers
from ckanext.history import ingest
from ckanext.history.model import Feed, Gap

from .feed_world import FeedServer, Reply, World, geojson

pytestmark = [
    pytest.mark.ckan_config("ckanext.grandlyon_access.outbound.allow", "127.0.0.1"),
    pytest.mark.ckan_config("ckanext.history.ingest.timeout", "1"),
    pytest.mark.ckan_config("ckanext.history.ingest.max_seconds", "2"),
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
    sql = sa.text(
        'SELECT feature, "time", "values" FROM history_row WHERE resource_id = :rid '
        'ORDER BY feature, "time"'
    )
    return [tuple(r) for r in model.Session.execute(sql, {"rid": resource_id})]


def gaps_of(resource_id: str) -> list[Gap]:
    model.Session.expire_all()
    return model.Session.query(Gap).filter_by(resource_id=resource_id).order_by(Gap.start).all()


def feed_of(resource_id: str) -> Feed:
    model.Session.expire_all()
    return model.Session.query(Feed).filter_by(resource_id=resource_id).one()


def station(bikes, stands=10, status="OPEN", **more) -> dict:
    return {"available_bikes": bikes, "available_bike_stands": stands, "status": status, **more}


def page(app, world: World, english: bool = False, who: str = "editor") -> str:
    url = f"/dataset/ds-open/resource/{world.rid('open')}/history"
    res = app.get(("/en" if english else "") + url, headers=world.actors[who].headers)
    assert res.status_code == 200
    return html.unescape(res.get_data(as_text=True))


@dataclasses.dataclass
class Mode:
    """A hostile answer, what the worker must say of it (French, English),
    and whether the poll fails (a gap) or only leaves features out."""

    reply: Reply
    french: str
    english: str
    fails: bool = True
    # A correct answer after it, whose values must be stored (schema drift).
    after: Reply | None = None
    declare: dict = dataclasses.field(default_factory=dict)


LAST = "2026-03-02T09:10:00+01:00"
GOOD = geojson(
    {"1": station(5), "2": station(0, 20, "CLOSED")}, last_update="2026-03-02T09:00:00+01:00"
)
CORRECT = geojson({"1": station(7), "2": station(1, 19)}, last_update=LAST)
BIG = b'{"type": "FeatureCollection", "features": [' + b" " * 5_000_000 + b"]}"

MODES = {
    "field renamed": Mode(
        Reply(
            geojson(
                {
                    "1": {"bikes_available": 6, "available_bike_stands": 9, "status": "OPEN"},
                    "2": {"bikes_available": 1, "available_bike_stands": 19, "status": "OPEN"},
                },
                last_update=LAST,
            )
        ),
        "Aucun des 2 objets ne porte le champ available_bikes",
        "None of the 2 features carries the field available_bikes",
        after=Reply(CORRECT),
    ),
    "field typed differently": Mode(
        Reply(geojson({"1": station("beaucoup"), "2": station("peu", 19)}, last_update=LAST)),
        "Le champ available_bikes n'est de type int dans aucun des 2 objets",
        "The field available_bikes is not of type int in any of the 2 features",
        after=Reply(CORRECT),
    ),
    "field missing": Mode(
        Reply(
            geojson(
                {
                    "1": {"available_bikes": 6, "available_bike_stands": 9},
                    "2": {"available_bikes": 1, "available_bike_stands": 19},
                },
                last_update=LAST,
            )
        ),
        "Aucun des 2 objets ne porte le champ status",
        "None of the 2 features carries the field status",
        after=Reply(CORRECT),
    ),
    "a field missing from one feature": Mode(
        Reply(
            geojson(
                {"1": {"available_bikes": 6, "available_bike_stands": 9}, "2": station(1, 19)},
                last_update=LAST,
            )
        ),
        "1 sans le champ status (par ex. l'objet 1)",
        "1 without the field status (e.g. feature 1)",
        fails=False,
        after=Reply(CORRECT),
    ),
    "duplicate feature ids": Mode(
        Reply(
            json.dumps(
                {
                    "type": "FeatureCollection",
                    "features": [
                        {
                            "type": "Feature",
                            "properties": {"number": "1", "last_update": LAST, **station(6)},
                        },
                        {
                            "type": "Feature",
                            "properties": {"number": "1", "last_update": LAST, **station(2)},
                        },
                        {
                            "type": "Feature",
                            "properties": {"number": "2", "last_update": LAST, **station(3, 17)},
                        },
                        {
                            "type": "Feature",
                            "properties": {"number": "2", "last_update": LAST, **station(3, 17)},
                        },
                    ],
                }
            ).encode()
        ),
        "2 envoyés plusieurs fois avec d'autres valeurs pour la même heure (par ex. l'objet 1)",
        "2 sent more than once with other values for the same time (e.g. feature 1)",
        fails=False,
    ),
    "clock going backwards": Mode(
        Reply(geojson({"1": station(9), "2": station(9)}, last_update="2026-03-02T08:30:00+01:00")),
        "avec une heure antérieure à la dernière enregistrée",
        "with a time before the last one stored",
        after=Reply(CORRECT),
    ),
    "no feature any more": Mode(
        Reply(geojson({}, last_update=LAST)),
        "La réponse ne contient aucun objet, alors que l'historique en compte 2",
        "The answer holds no feature, while the history holds 2",
        after=Reply(CORRECT),
    ),
    "a field empty in every feature": Mode(
        Reply(geojson({"1": station(6, status=None), "2": station(1, 19, status="")},
                      last_update=LAST)),
        "Le champ status est vide dans les 2 objets",
        "The field status is empty in all 2 features",
        after=Reply(CORRECT),
    ),
    "HTML error page with status 200": Mode(
        Reply(
            b"<!DOCTYPE html><html><body><h1>Maintenance</h1></body></html>",
            content_type="text/html",
        ),
        "La source a envoyé une page web (HTML) au lieu de JSON",
        "The source sent a web page (HTML) instead of JSON",
        after=Reply(CORRECT),
    ),
    "invalid UTF-8": Mode(
        Reply(GOOD.replace(b'"CLOSED"', b'"FERM\xc9"')),
        "La réponse n'est pas du texte UTF-8 valide",
        "The answer is not valid UTF-8 text",
        after=Reply(CORRECT),
    ),
    "slow drip": Mode(
        Reply(CORRECT, drip=0.2, chunk=8),
        "La source a envoyé sa réponse trop lentement",
        "The source sent its answer too slowly",
        after=Reply(CORRECT),
    ),
    "huge body": Mode(
        Reply(BIG, length=-1),
        "La réponse dépassait la limite de 20000 octets",
        "The answer was larger than the limit of 20000 bytes",
        after=Reply(CORRECT),
    ),
    "gzip-compressed huge body": Mode(
        Reply(gzip.compress(BIG), headers={"Content-Encoding": "gzip"}),
        "La réponse dépassait la limite de 20000 octets",
        "The answer was larger than the limit of 20000 bytes",
        after=Reply(CORRECT),
    ),
}


@pytest.mark.parametrize("name", list(MODES))
def test_a_hostile_feed_loses_nothing_and_says_so(app, world, server, name):
    mode = MODES[name]
    rid = world.rid("open")
    world.declare("open", url=server.url, time_field="last_update", **mode.declare)
    server.reply = Reply(GOOD)
    assert ingest.poll_feed(rid, now=at(0)).stored == 2
    before = rows_of(rid)

    server.reply = mode.reply
    result = ingest.poll_feed(rid, now=at(20))
    after = rows_of(rid)
    keys_before = {(f, t) for f, t, _v in before}
    assert [r for r in after if (r[0], r[1]) in keys_before] == before, "a stored row changed"
    for _feature, _time, values in after:
        assert None not in values.values(), f"a NULL was stored: {after}"
    features_at = [(f, t) for f, t, _v in after]
    assert len(features_at) == len(set(features_at))
    feed = feed_of(rid)
    if mode.fails:
        assert result.status == "failed" and after == before, result
        [gap] = gaps_of(rid)
        assert gap.end is None and gap.problem and feed.problem == gap.problem
    else:
        assert result.status == "stored" and result.malformed
        assert gaps_of(rid) == []
        assert feed.problem["code"] == "features_skipped"

    french, english = page(app, world), page(app, world, english=True)
    assert mode.french in french, french[french.find("history-feed-problem") - 200 :][:3000]
    assert mode.english in english
    kept_fr = (
        "rien de ce qui était enregistré n'a changé"
        if not mode.fails
        else "l'historique enregistré auparavant est gardé tel quel"
    )
    kept_en = (
        "nothing stored before was changed"
        if not mode.fails
        else "the history stored before is kept unchanged"
    )
    assert kept_fr in french and kept_en in english
    assert "Que faire :" in french and "What to do:" in english
    # A reader sees what happened and what was kept, not the publisher's advice.
    reader = page(app, world, who="anonymous")
    assert mode.french in reader and "Que faire :" not in reader

    if mode.after is not None:
        server.reply = mode.after
        result = ingest.poll_feed(rid, now=at(40))
        assert result.status == "stored" and result.malformed == 0, result
        stored = {(f, t): v for f, t, v in rows_of(rid)}
        time = datetime.datetime(2026, 3, 2, 8, 10)
        assert stored[("1", time)] == station(7)
        assert stored[("2", time)] == station(1, 19)
        feed = feed_of(rid)
        assert feed.problem is None and feed.last_error is None
        assert all(g.end == at(40) for g in gaps_of(rid))


def test_the_duplicates_of_one_poll_store_one_row_and_keep_the_stored_one(world, server):
    """A feature sent twice with the same values is one row; sent twice with
    other values, neither is stored and its stored row is kept."""
    rid = world.rid("open")
    world.declare("open", url=server.url, time_field="last_update")
    server.reply = Reply(GOOD)
    ingest.poll_feed(rid, now=at(0))
    server.reply = MODES["duplicate feature ids"].reply
    result = ingest.poll_feed(rid, now=at(20))
    assert (result.stored, result.malformed) == (1, 2)
    rows = rows_of(rid)
    assert [(f, t.isoformat()) for f, t, _v in rows] == [
        ("1", "2026-03-02T08:00:00"),
        ("2", "2026-03-02T08:00:00"),
        ("2", "2026-03-02T08:10:00"),
    ]
    assert rows[0][2] == station(5)


def test_a_clock_going_back_for_some_features_leaves_only_them_out(world, server):
    rid = world.rid("open")
    world.declare("open", url=server.url, time_field="last_update", store_mode="every")
    server.reply = Reply(GOOD)
    ingest.poll_feed(rid, now=at(0))
    server.reply = Reply(
        geojson(
            {
                "1": station(8, last_update="2026-03-02T08:59:00+01:00"),
                "2": station(8, last_update="2026-03-02T09:05:00+01:00"),
                "3": station(8, last_update="2026-03-02T08:59:00+01:00"),
            }
        )
    )
    result = ingest.poll_feed(rid, now=at(20))
    assert (result.status, result.stored, result.malformed) == ("stored", 2, 1)
    assert [(f, t.isoformat()) for f, t, _v in rows_of(rid)] == [
        ("1", "2026-03-02T08:00:00"),
        ("2", "2026-03-02T08:00:00"),
        ("2", "2026-03-02T08:05:00"),
        ("3", "2026-03-02T07:59:00"),
    ]
    problem = feed_of(rid).problem
    assert problem["details"][0]["code"] == "older"
    assert problem["details"][0]["params"]["example"] == "1"


def readings(values: list[tuple[str, int]]) -> Reply:
    """Station 1's last readings, (local time, bikes) each, as feeds that
    send a short history do."""
    return Reply(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"number": "1", "last_update": f"2026-03-02T{clock}+01:00",
                                           **station(bikes)}}
        for clock, bikes in values]}).encode())


@pytest.mark.parametrize("store_mode", ["every", "changes"])
def test_a_feed_repeating_its_last_readings_is_nothing_new(world, server, store_mode):
    """Readings sent again, before the last one stored, with the values
    stored for their time: nothing new, no clock gone back. A reading sent
    again with other values is one."""
    rid = world.rid("open")
    world.declare("open", url=server.url, time_field="last_update", store_mode=store_mode)
    server.reply = readings([("09:00:00", 5), ("09:10:00", 5), ("09:20:00", 7)])
    first = ingest.poll_feed(rid, now=at(30))
    assert first.stored == (3 if store_mode == "every" else 2)
    server.reply = readings([("09:10:00", 5), ("09:20:00", 7), ("09:30:00", 8)])
    result = ingest.poll_feed(rid, now=at(31))
    assert (result.status, result.stored, result.malformed) == ("stored", 1, 0)
    assert feed_of(rid).problem is None
    server.reply = readings([("09:10:00", 6), ("09:30:00", 8)])
    result = ingest.poll_feed(rid, now=at(32))
    assert (result.stored, result.malformed) == (0, 1)
    assert feed_of(rid).problem["details"][0]["code"] == "older"
    assert [v["available_bikes"] for _f, _t, v in rows_of(rid)] == (
        [5, 5, 7, 8] if store_mode == "every" else [5, 7, 8])


def test_a_field_empty_in_a_new_history_is_stored_as_empty(world, server):
    """A field no reading has ever held (an optional one) is not refused."""
    rid = world.rid("open")
    world.declare("open", url=server.url, time_field="last_update")
    server.reply = Reply(geojson({"1": station(6, status=None)}, last_update=LAST))
    result = ingest.poll_feed(rid, now=at(30))
    assert (result.status, result.stored) == ("stored", 1)
    assert rows_of(rid)[0][2]["status"] is None


def test_the_dst_change_stores_every_time_once_in_utc(world, server):
    """The night of 2026-10-25, Europe/Paris goes from +02:00 back to +01:00:
    local times 02:00-03:00 come twice, with their offsets. Every poll is
    stored at its UTC time, in order, none refused as going back."""
    rid = world.rid("open")
    world.declare("open", url=server.url, time_field="last_update", store_mode="every")
    local = [
        "01:30:00+02:00",
        "02:00:00+02:00",
        "02:30:00+02:00",
        "02:59:59+02:00",
        "02:00:00+01:00",
        "02:30:00+01:00",
        "03:00:00+01:00",
    ]
    for n, clock in enumerate(local):
        server.reply = Reply(geojson({"1": station(n)}, last_update=f"2026-10-25T{clock}"))
        result = ingest.poll_feed(
            rid, now=datetime.datetime(2026, 10, 25, 2, 30) + datetime.timedelta(minutes=n)
        )
        assert (result.status, result.stored, result.malformed) == ("stored", 1, 0), clock
    stored = rows_of(rid)
    assert [t.isoformat() for _f, t, _v in stored] == [
        "2026-10-24T23:30:00",
        "2026-10-25T00:00:00",
        "2026-10-25T00:30:00",
        "2026-10-25T00:59:59",
        "2026-10-25T01:00:00",
        "2026-10-25T01:30:00",
        "2026-10-25T02:00:00",
    ]
    assert [v["available_bikes"] for _f, _t, v in stored] == list(range(len(local)))
    assert feed_of(rid).problem is None and gaps_of(rid) == []
    answer = helpers.call_action(
        "history_query",
        resource_id=rid,
        start="2026-10-25T00:00:00+02:00",
        end="2026-10-25T04:00:00+01:00",
    )
    assert len(answer["records"]) == len(local)


def test_a_renamed_field_stored_no_null_and_the_next_poll_at_the_same_time_is_stored(world, server):
    """Defect 12 as found: a renamed field was stored as NULL, and the next
    correct poll, with the same source time, was skipped as already stored."""
    rid = world.rid("open")
    world.declare("open", url=server.url, time_field="last_update")
    same_time = "2026-03-02T09:30:00+01:00"
    server.reply = Reply(
        geojson(
            {"1": {"nb_velos": 4, "available_bike_stands": 6, "status": "OPEN"}},
            last_update=same_time,
        )
    )
    result = ingest.poll_feed(rid, now=at(30))
    assert result.status == "failed" and "available_bikes" in result.reason
    assert rows_of(rid) == []
    [gap] = gaps_of(rid)
    assert gap.problem["code"] == "field_missing" and gap.end is None
    server.reply = Reply(geojson({"1": station(4, 6)}, last_update=same_time))
    assert ingest.poll_feed(rid, now=at(31)).stored == 1
    assert rows_of(rid) == [("1", at(30), station(4, 6))]
    assert gaps_of(rid)[0].end == at(31)


def test_feed_errors_are_said_in_the_api_in_the_reader_s_language(app, world, server):
    rid = world.rid("open")
    world.declare("open", url=server.url)
    server.reply = Reply(b"{}", status=503)
    ingest.poll_feed(rid, now=at(0))
    res = app.post(
        "/api/3/action/history_show",
        json={"resource_id": rid},
        headers={**world.actors["editor"].headers, "Accept-Language": "en"},
    )
    [gap] = json.loads(res.get_data(as_text=True))["result"]["gaps"]
    assert gap["reason"] == "HTTP 503"
    assert gap["problem"] == {"code": "http_status", "params": {"status": 503}}
    assert "503" in gap["problem_explained"]["what"] and gap["problem_explained"]["todo"]


def test_one_feature_beyond_what_a_history_holds_leaves_only_itself_out(world, server):
    """An outside probe found one feature with a time before 1900, or a lone
    surrogate (valid JSON "\\ud800") in a text or an id, failing the whole
    poll with an internal error: the others are stored, each fault counted
    under its own field."""
    rid = world.rid("open")
    world.declare("open", url=server.url, time_field="last_update", store_mode="every")
    good = {"number": "1", "last_update": LAST, **station(5)}
    bad = [
        {"number": "2", "last_update": "0001-01-01T00:00:00Z", **station(5)},
        {"number": "3", "last_update": "1899-12-31T23:00:00Z", **station(5)},
        {"number": "4", "last_update": LAST, **station(5, status="\ud800")},
        {"number": "\udc00Z", "last_update": LAST, **station(5)},
        {"number": "6", "last_update": 253402300800, **station(5)},
        {"number": "7", "last_update": LAST, **station("x")},
    ]
    body = json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": p} for p in [good] + bad]}).encode()
    server.reply = Reply(body)
    result = ingest.poll_feed(rid, now=at(20))
    assert (result.status, result.stored, result.malformed) == ("stored", 1, 6), result
    assert [f for f, _t, _v in rows_of(rid)] == ["1"]
    details = {(d["code"], d["params"].get("field")): d["params"]["count"]
               for d in feed_of(rid).problem["details"]}
    assert details == {("bad_time", "last_update"): 3, ("bad_value", "status"): 1,
                       ("bad_id", "number"): 1, ("bad_value", "available_bikes"): 1}, details
