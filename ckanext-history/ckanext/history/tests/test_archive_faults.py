"""The archive's disk fills up during a compaction: the compaction fails with
a clear error, the hot tier keeps every row, no partial file is left, the
answers do not change, and the next compaction (space freed) completes.

The full disk is real: the process's file-size limit (RLIMIT_FSIZE) makes the
kernel refuse writes past 200 bytes, as a full file system refuses them."""

from __future__ import annotations

import contextlib
import datetime
import resource
import signal

import pytest
from click.testing import CliRunner

from ckanext.history import archive, cli, store
from ckanext.history.tests import history_support
from ckanext.history.tests.history_support import FIELDS, long_rows, make_dataset

archive_dir = history_support.archive_dir
pytestmark = pytest.mark.usefixtures("clean_db", "archive_dir")

NOW = datetime.datetime(2026, 4, 1)


@contextlib.contextmanager
def disk_full(limit_bytes: int = 200):
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write fails instead of killing
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit_bytes, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, handler)


@pytest.fixture
def history():
    rid = make_dataset("open")["resource_id"]
    rows = long_rows()
    store.ensure_schema(rid, FIELDS)
    store.write_rows(rid, rows)
    return rid, rows


def test_a_full_disk_fails_the_compaction_and_keeps_the_hot_rows(history, archive_dir):
    rid, rows = history
    hot_before = store.hot_stats(rid)["rows"]
    assert hot_before == len(rows)

    with disk_full(), pytest.raises(OSError):
        archive.compact(rid, now=NOW, retention=1)

    assert store.hot_stats(rid)["rows"] == hot_before
    assert not [p for p in archive_dir.rglob("*") if p.is_file()], "a partial file was left"

    # Space is back: the same compaction completes and keeps every row once.
    archive.compact(rid, now=NOW, retention=1)
    assert store.hot_stats(rid)["rows"] == 0
    assert sum(f.rows for f in archive.month_files(rid, with_rows=True)) == len(rows)


def test_the_compact_command_says_what_happened_and_what_to_do(history):
    rid, _rows = history
    with disk_full():
        result = CliRunner().invoke(cli.history, ["compact", "--resource", rid])
    assert result.exit_code != 0
    assert "could not be written" in result.output
    assert "kept" in result.output
