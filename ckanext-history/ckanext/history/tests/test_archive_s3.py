"""The archive on S3-compatible object storage (the scale-out path), against a
real S3 server on loopback (moto's, installed by `./portal test` apart from
CKAN): the query, compaction and download tests of the local archive run
again with `ckanext.history.archive.path = s3://...`, and the objects are
checked in the bucket."""

from __future__ import annotations

import datetime
import io
import os
import socket
import subprocess
import time
import uuid

import pyarrow.fs as pafs
import pyarrow.parquet as pq
import pytest
import requests

from ckanext.grandlyon_access.testing.pytest_plugin import make_actor
from ckanext.history import archive, store
from ckanext.history.logic import action

from ckanext.history.tests.history_support import FIELDS, long_rows, make_dataset

# The same tests as on a local disk, collected again here with the S3 archive.
from ckanext.history.tests.test_query import (  # noqa: F401
    history,
    test_a_crash_between_the_file_and_the_delete_leaves_the_answers_unchanged,
    test_compaction_keeps_the_answers_and_empties_the_hot_tier,
    test_every_aggregate_matches_the_reference,
    test_late_rows_are_merged_into_the_archived_month,
    test_paging_has_no_gap_and_no_repeat,
)

# The times of these tests are UTC (test_time_zones.py: other zones).
pytestmark = [pytest.mark.usefixtures("clean_db", "archive_dir"),
              pytest.mark.ckan_config("ckan.display_timezone", "UTC")]

SERVER = os.environ.get("PORTAL_S3_TEST_SERVER") or os.path.join(
    os.path.dirname(__file__), *[".."] * 5, ".stack", "s3-test", "bin", "moto_server")
KEYS = {"AWS_ACCESS_KEY_ID": "portal-test", "AWS_SECRET_ACCESS_KEY": "portal-test-secret",
        "AWS_EC2_METADATA_DISABLED": "true"}


@pytest.fixture(scope="session")
def s3_endpoint(tmp_path_factory):
    """host:port of an S3-compatible server on loopback."""
    if not os.path.exists(SERVER):
        if os.environ.get("PORTAL_S3_TEST_SERVER"):  # under ./portal test: its install failed
            pytest.fail(f"the tests' S3 server is missing at {SERVER}")
        pytest.skip(f"needs the tests' S3 server at {SERVER}: run through `./portal test`, "
                    "which installs it into .stack/s3-test")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = open(tmp_path_factory.mktemp("s3") / "moto.log", "w")
    server = subprocess.Popen([SERVER, "-H", "127.0.0.1", "-p", str(port)], stdout=log,
                              stderr=subprocess.STDOUT)
    try:
        for _ in range(120):
            try:
                requests.get(f"http://127.0.0.1:{port}/", timeout=2)
                break
            except requests.RequestException:
                assert server.poll() is None, "the S3 test server stopped"
                time.sleep(0.25)
        yield f"127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


@pytest.fixture
def archive_dir(s3_endpoint, ckan_config, monkeypatch):
    """A fresh bucket as the archive; returns (filesystem, bucket)."""
    for key, value in KEYS.items():
        monkeypatch.setenv(key, value)
    bucket = f"history-{uuid.uuid4().hex[:12]}"
    fs = pafs.S3FileSystem(access_key=KEYS["AWS_ACCESS_KEY_ID"], secret_key=KEYS["AWS_SECRET_ACCESS_KEY"],
                           endpoint_override=s3_endpoint, scheme="http", region="us-east-1",
                           allow_bucket_creation=True)
    fs.create_dir(bucket)
    monkeypatch.setitem(ckan_config, "ckanext.history.archive.path",
                        f"s3://{bucket}/archive?endpoint_override={s3_endpoint}&scheme=http"
                        "&region=us-east-1")
    return fs, bucket


def _objects(fs, bucket: str) -> list[str]:
    selector = pafs.FileSelector(f"{bucket}/archive", recursive=True, allow_not_found=True)
    return sorted(info.path for info in fs.get_file_info(selector) if info.type == pafs.FileType.File)


def test_the_archive_is_in_the_bucket(history, archive_dir):
    fs, bucket = archive_dir
    rid, rows = history
    assert not archive.is_local()
    archive.compact(rid, now=datetime.datetime(2026, 4, 1), retention=1)
    assert _objects(fs, bucket) == [
        f"{bucket}/archive/resource={rid}/year=2026/month=01/data.parquet",
        f"{bucket}/archive/resource={rid}/year=2026/month=02/data.parquet"]
    with fs.open_input_file(f"{bucket}/archive/resource={rid}/year=2026/month=01/data.parquet") as f:
        table = pq.read_table(f)
    january = [r for r in rows if r["time"] < datetime.datetime(2026, 2, 1)]
    assert table.num_rows == len(january)
    assert store.hot_stats(rid)["rows"] == 0


def test_monthly_files_and_downloads_are_served_from_the_bucket(app, archive_dir):
    fs, bucket = archive_dir
    user = make_actor(sysadmin=True)
    headers = user.headers
    dataset = make_dataset("open", user=user.name)
    rid = dataset["resource_id"]
    store.ensure_schema(rid, FIELDS)
    store.write_rows(rid, long_rows())
    archive.compact(rid, now=datetime.datetime(2026, 2, 15), retention=14)  # January archived
    res = app.get(f"/dataset/{dataset['name']}/resource/{rid}/history/download?format=csv"
                  "&start=2026-01-30T00:00:00&end=2026-02-02T00:00:00", headers=headers)
    assert res.status_code == 200
    expected = [r for r in long_rows() if datetime.datetime(2026, 1, 30) <= r["time"]
                < datetime.datetime(2026, 2, 2)]
    assert len(res.get_data(as_text=True).splitlines()) - 1 == len(expected)
    base = f"/dataset/{dataset['name']}/resource/{rid}/history/month"
    res = app.get(f"{base}/2026-01.parquet", headers=headers)
    assert res.status_code == 200
    with fs.open_input_file(f"{bucket}/archive/resource={rid}/year=2026/month=01/data.parquet") as f:
        assert res.get_data() == f.read()
    res = app.get(f"{base}/2026-02.parquet", headers=headers)
    february = [r for r in long_rows() if r["time"] >= datetime.datetime(2026, 2, 1)]
    assert pq.read_table(io.BytesIO(res.get_data())).num_rows == len(february)


def test_deleting_the_history_deletes_its_objects(history, archive_dir):
    fs, bucket = archive_dir
    rid, _rows = history
    archive.compact(rid, now=datetime.datetime(2026, 4, 1), retention=1)
    assert _objects(fs, bucket)
    action.delete_history(rid)
    assert _objects(fs, bucket) == []
