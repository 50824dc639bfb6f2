"""`ckan history ingest` as the long-running worker it is, in a subprocess:
killed with SIGKILL mid-way and restarted, it never stores a row twice and
keeps the "only changes" promise; SIGTERM stops it cleanly; `--once` polls
and exits."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import ckan.model as model
import pytest
import sqlalchemy as sa
from ckanext.grandlyon_access.testing.pytest_plugin import ini_with
from ckanext.history.model import Feed, Gap

from .feed_world import FeedServer, Reply, World, geojson

pytestmark = pytest.mark.ckan_config("ckanext.grandlyon_access.outbound.allow", "127.0.0.1")

STATIONS = 400
# A station of a poll that matches the feed's declared fields.
STATION = {"available_bikes": 3, "available_bike_stands": 8, "status": "OPEN"}


@pytest.fixture
def world(clean_db, clean_index):
    return World()


@pytest.fixture
def server():
    feed_server = FeedServer()
    yield feed_server
    feed_server.close()


@pytest.fixture
def worker_ini(tmp_path, ckan_ini):
    """The test configuration, with loopback feeds allowed (the worker runs
    in another process, which the test's config markers do not reach)."""
    return ini_with(ckan_ini, {"ckanext.grandlyon_access.outbound.allow": "127.0.0.1",
                               "ckanext.history.ingest.idle_seconds": "1",
                               "ckanext.history.ingest.max_bytes": "200000"},
                    str(tmp_path / "worker.ini"))


def ckan_command(ini: str, *args: str) -> list[str]:
    return [os.path.join(os.path.dirname(sys.executable), "ckan"), "-c", ini, *args]


def count(resource_id: str) -> tuple[int, int]:
    """Rows, and distinct (feature, time) among them."""
    sql = sa.text('SELECT count(*), count(DISTINCT (feature, "time")) FROM history_row '
                  'WHERE resource_id = :rid')
    with model.meta.engine.connect() as conn:
        return tuple(conn.execute(sql, {"rid": resource_id}).one())


def consecutive_repeats(resource_id: str) -> int:
    """Rows whose values equal the previous row of the same feature (which
    "only changes" must never store)."""
    sql = sa.text(
        'SELECT count(*) FROM (SELECT "values", lag("values") OVER (PARTITION BY feature '
        'ORDER BY "time") AS previous FROM history_row WHERE resource_id = :rid) r '
        'WHERE previous IS NOT NULL AND "values" = previous')
    with model.meta.engine.connect() as conn:
        return conn.execute(sql, {"rid": resource_id}).scalar()


def wait_until(predicate, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def changing_feed(server: FeedServer):
    """Every answer changes a tenth of the stations; values stay small."""
    state = {"n": 0}

    def reply() -> Reply:
        state["n"] += 1
        n = state["n"]
        stations = {str(i): {"available_bikes": (i + (n if i % 10 == n % 10 else 0)) % 30,
                             "available_bike_stands": 10, "status": "OPEN"}
                    for i in range(STATIONS)}
        return Reply(geojson(stations))

    server.dynamic = reply


def start(ini: str, *args: str) -> subprocess.Popen:
    return subprocess.Popen(ckan_command(ini, "history", "ingest", *args),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def test_killed_and_restarted_the_worker_never_stores_a_row_twice(world, server, worker_ini):
    rid = world.rid("open")
    world.declare("open", url=server.url)
    # Poll every second (below the configured minimum: set in the table).
    model.Session.query(Feed).update({Feed.interval_seconds: 1})
    model.Session.commit()
    changing_feed(server)

    for _round in range(3):
        before = count(rid)[0]
        worker = start(worker_ini)
        try:
            # Kill it as soon as it is writing: mid-poll, between the rows and
            # the feed's bookkeeping, or asleep.
            assert wait_until(lambda: count(rid)[0] > before, 60), "the worker stored nothing"
            time.sleep(0.3)
        finally:
            worker.send_signal(signal.SIGKILL)
            worker.wait(10)
    rows, distinct = count(rid)
    assert rows >= STATIONS and rows == distinct
    assert consecutive_repeats(rid) == 0

    # Restarted once more, it goes on, then stops cleanly on SIGTERM.
    worker = start(worker_ini)
    try:
        assert wait_until(lambda: count(rid)[0] > rows, 60)
    finally:
        worker.send_signal(signal.SIGTERM)
        output, _ = worker.communicate(timeout=30)
    assert worker.returncode == 0, output
    assert f"feed {rid}:" in output and "rows stored" in output
    rows, distinct = count(rid)
    assert rows == distinct and consecutive_repeats(rid) == 0


def test_the_worker_outlives_a_failing_source_and_logs_each_poll(world, server, worker_ini):
    rid = world.rid("open")
    world.declare("open", url=server.url)
    model.Session.query(Feed).update({Feed.interval_seconds: 1})
    model.Session.commit()
    answers = iter([Reply(b"<html><body>Erreur</body></html>", content_type="text/html"),
                    Reply(b"{}", status=500), Reply(b'{"type": "FeatureCollection", "feat'),
                    Reply(b" " * 300000)])
    server.dynamic = lambda: next(answers, Reply(geojson({"1": STATION | {"available_bikes": 2}})))
    worker = start(worker_ini)
    try:
        assert wait_until(lambda: count(rid)[0] == 1, 60), "no row after the failures"
    finally:
        worker.send_signal(signal.SIGTERM)
        output, _ = worker.communicate(timeout=30)
    assert worker.returncode == 0
    for reason in ("HTML or XML instead of JSON", "HTTP 500", "malformed JSON",
                   "too_large: The remote answer is too large."):
        assert f"feed {rid}: FAILED ({reason})" in output, output[-3000:]
    assert f"feed {rid}: 200, 1 features, 1 rows stored" in output
    model.Session.expire_all()
    [gap] = model.Session.query(Gap).filter_by(resource_id=rid).all()
    assert gap.end is not None and gap.attempts == 4 and "HTML" in gap.reason


def test_a_running_worker_follows_the_publishers_changes(world, server, worker_ini):
    """An editor changes the feed's URL while the worker runs: the next poll
    fetches the new one."""
    from ckan.tests import helpers

    rid = world.rid("open")
    world.declare("open", url=server.url)
    model.Session.query(Feed).update({Feed.interval_seconds: 1})
    model.Session.commit()
    server.reply = Reply(geojson({"1": STATION}))
    worker = start(worker_ini)
    try:
        assert wait_until(lambda: any(r["_path"] == "/velov.geojson" for r in server.requests), 60)
        helpers.call_action("history_feed_update", context={"user": "org-editor"},
                            resource_id=rid, url=server.url.replace("velov", "moved"))
        model.Session.query(Feed).update({Feed.interval_seconds: 1})
        model.Session.commit()
        assert wait_until(lambda: any(r["_path"] == "/moved.geojson" for r in server.requests), 30)
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.communicate(timeout=30)


def test_once_polls_the_due_feeds_and_exits(world, server, worker_ini):
    rid = world.rid("open")
    world.declare("open", url=server.url)
    server.reply = Reply(geojson({"1": STATION}), etag='"a"')
    done = subprocess.run(ckan_command(worker_ini, "history", "ingest", "--once", "--feed", rid),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert f"feed {rid}: 200, 1 features, 1 rows stored" in done.stdout
    assert "1 feeds polled, 0 failed" in done.stdout
    # Not due any more: a second pass polls nothing, unless forced (then 304).
    again = subprocess.run(ckan_command(worker_ini, "history", "ingest", "--once"),
                           capture_output=True, text=True, timeout=120)
    assert "0 feeds polled" in again.stdout
    forced = subprocess.run(ckan_command(worker_ini, "history", "ingest", "--once", "--force"),
                            capture_output=True, text=True, timeout=120)
    assert "304 not modified" in forced.stdout
    assert count(rid) == (1, 1)


def test_the_worker_reconnects_when_postgresql_restarts(world, server, worker_ini):
    """The database restarts under a running worker (`./portal service
    restart postgres`, the real server): the worker reconnects and goes on
    storing, without a row twice."""
    rid = world.rid("open")
    world.declare("open", url=server.url)
    model.Session.query(Feed).update({Feed.interval_seconds: 1})
    model.Session.commit()
    model.Session.remove()
    changing_feed(server)
    portal = os.path.join(os.path.dirname(__file__), *[".."] * 4, "portal")
    worker = start(worker_ini)
    try:
        assert wait_until(lambda: count(rid)[0] > 0, 60), "the worker stored nothing"
        subprocess.run([portal, "service", "restart", "postgres"], check=True, env=os.environ,
                       stdout=subprocess.DEVNULL)
        after = count(rid)[0]
        assert wait_until(lambda: count(rid)[0] > after, 90), "nothing stored after the restart"
        assert worker.poll() is None, "the worker stopped"
    finally:
        worker.send_signal(signal.SIGTERM)
        output, _ = worker.communicate(timeout=30)
    rows, distinct = count(rid)
    assert rows == distinct and consecutive_repeats(rid) == 0


def cpu_ticks(pid: int) -> int:
    """User and system CPU time of a process, in clock ticks."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def test_the_worker_sleeps_when_its_only_due_feeds_are_of_purged_or_dropped_resources(
        world, server, worker_ini):
    """Defect 15: a purged dataset's feed stayed enabled and due; the worker
    did not claim it but counted it in its sleep, and spun (594 CPU ticks in
    10 s). A purge now removes the feed; a feed whose resource was dropped
    another way is neither claimed nor waited on."""
    from ckan.tests import helpers

    purged, dropped = world.rid("open"), world.rid("restricted")
    world.declare("open", url=server.url)
    world.declare("restricted", url=server.url)
    helpers.call_action("dataset_purge", context={"user": "root"}, id="ds-open")
    dataset = helpers.call_action("package_show", context={"user": "root"}, id="ds-restricted")
    helpers.call_action("package_patch", context={"user": "root"}, id=dataset["id"],
                        resources=[{"name": "other", "url": "https://origin.example.org/x.csv"}])
    model.Session.expire_all()
    assert model.Session.query(Feed).filter_by(resource_id=purged).count() == 0
    model.Session.query(Feed).filter_by(resource_id=dropped).update(
        {Feed.next_poll_at: sa.func.now() - sa.text("interval '1 hour'")}, synchronize_session=False)
    model.Session.commit()
    model.Session.remove()

    worker = start(worker_ini)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(worker.stdout), daemon=True)
    reader.start()
    try:
        assert wait_until(lambda: any("worker started" in line for line in lines), 120), lines
        time.sleep(1)
        before = cpu_ticks(worker.pid)
        time.sleep(4)
        spent = cpu_ticks(worker.pid) - before
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(30)
    # A spinning worker spends most of a core (about 400 ticks in 4 s).
    assert spent < 80, f"{spent} CPU ticks in 4 s"
    assert server.requests == []
