"""`ckan history compact` killed (SIGKILL) while it archives: no row is lost
or counted twice in the answers, and the next compaction completes. The
compaction runs as a real process on the test configuration; the rows are
in the test database and the archive is the configured one."""

from __future__ import annotations

import datetime
import os
import signal
import subprocess
import time

import pytest
from ckan.tests import helpers
from ckanext.grandlyon_access.testing.pytest_plugin import ckan_bin
from ckanext.history import archive, store
from ckanext.history.tests.history_support import FIELDS, make_dataset

pytestmark = pytest.mark.usefixtures("clean_db")

START = datetime.datetime(2026, 1, 1)
FEATURES = [f"S{n:03d}" for n in range(60)]
MINUTES = 60 * 24 * 2  # two days a minute apart: 172,800 rows


def _rows():
    for minute in range(0, MINUTES, 1):
        when = START + datetime.timedelta(minutes=minute)
        for i, feature in enumerate(FEATURES):
            yield {"feature": feature, "time": when,
                   "values": {"available_bikes": (minute + i) % 20, "available_bike_stands": 5,
                              "ratio": 0.5, "status": "OPEN"}}


def _total_answered(rid: str) -> int:
    answer = helpers.call_action("history_query", {"ignore_auth": True}, resource_id=rid,
                                 start="2025-12-01T00:00:00", end="2026-02-01T00:00:00",
                                 aggregate="month", functions=["count"], per_feature=False,
                                 fields=["available_bikes"])
    return sum(r["available_bikes_count"] for r in answer["records"])


def test_a_compaction_killed_midway_loses_and_doubles_nothing(ckan_ini):
    rid = make_dataset("open")["resource_id"]
    store.ensure_schema(rid, FIELDS)
    batch, total = [], 0
    for row in _rows():
        batch.append(row)
        if len(batch) == 20000:
            total += store.write_rows(rid, batch)
            batch = []
    total += store.write_rows(rid, batch)
    assert _total_answered(rid) == total

    ini, ckan = ckan_ini, ckan_bin()
    folder = os.path.dirname(archive.month_path(rid, 2026, 1))
    january = archive.month_path(rid, 2026, 1)

    def writing() -> bool:  # the compaction has started writing the archive
        return os.path.isdir(folder)

    def renamed() -> bool:  # a month's file is in place (before or after its hot rows go)
        return os.path.exists(january)

    killed = []
    for moment in (writing, renamed):
        process = subprocess.Popen([ckan, "-c", ini, "history", "compact", "--resource", rid],
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 120
        while not moment() and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.005)
        if process.poll() is not None:
            continue  # finished first (a fast machine): nothing to kill at this moment
        process.send_signal(signal.SIGKILL)
        process.wait()
        killed.append(moment.__name__)
        # Whatever the moment: every row answered once.
        assert _total_answered(rid) == total, moment.__name__

    assert "writing" in killed, "the compaction was never killed while writing the archive"

    done = subprocess.run([ckan, "-c", ini, "history", "compact", "--resource", rid],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert store.hot_stats(rid)["rows"] == 0
    assert sum(f.rows for f in archive.month_files(rid, with_rows=True)) == total
    assert _total_answered(rid) == total
    # The killed runs' temporary files are gone.
    root = os.path.dirname(os.path.dirname(folder))
    assert not [n for _d, _s, names in os.walk(root) for n in names if n.startswith(".tmp-")]
