from __future__ import annotations

import datetime
import threading

import pytest
import sqlalchemy as sa

import ckan.plugins.toolkit as tk
from ckanext.history import store
from ckanext.history.tests import history_support
from ckanext.history.tests.history_support import FIELDS, T0, sample_rows

archive_dir = history_support.archive_dir

pytestmark = pytest.mark.usefixtures("clean_db")


def _count(resource_id: str) -> int:
    with store.engine().connect() as conn:
        return conn.execute(
            sa.select(sa.func.count()).select_from(store.row_table)
            .where(store.row_table.c.resource_id == resource_id)
        ).scalar()


def test_rows_are_stored_once_even_when_written_again():
    store.ensure_schema("r1", FIELDS)
    rows = sample_rows()
    # A writer killed after the first half, then restarted from the start.
    assert store.write_rows("r1", rows[: len(rows) // 2]) == len(rows) // 2
    assert store.write_rows("r1", rows) == len(rows) - len(rows) // 2
    assert store.write_rows("r1", rows) == 0
    assert _count("r1") == len(rows)


def test_duplicates_inside_one_batch_are_stored_once():
    store.ensure_schema("r1", FIELDS)
    row = {"feature": "A", "time": T0, "values": {"available_bikes": 1}}
    assert store.write_rows("r1", [row, dict(row), dict(row)]) == 1


def test_monthly_partitions_are_created_on_demand():
    store.ensure_schema("r1", FIELDS)
    store.write_rows("r1", sample_rows())  # Jan 31 22:00 to Feb 1 00:53
    store.write_rows("r1", [{"feature": "A", "time": datetime.datetime(2031, 7, 4, 12), "values": {}}])
    months = [m for m, _name in store.partitions()]
    assert datetime.datetime(2026, 1, 1) in months and datetime.datetime(2026, 2, 1) in months
    assert datetime.datetime(2031, 7, 1) in months
    with store.engine().connect() as conn:
        in_july = conn.execute(sa.text("SELECT count(*) FROM history_part.p203107")).scalar()
    assert in_july == 1


def test_concurrent_writers_create_a_partition_once():
    store.ensure_schema("r1", FIELDS)
    errors = []

    def write(feature):
        try:
            store.write_rows("r1", [{"feature": feature, "time": datetime.datetime(2032, 2, 3), "values": {}}])
        except Exception as error:  # noqa: BLE001 (reported below)
            errors.append(error)

    threads = [threading.Thread(target=write, args=(str(i),)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert _count("r1") == 4


def test_values_are_coerced_to_the_declared_types():
    store.ensure_schema("r1", FIELDS)
    store.write_rows("r1", [{"feature": 12, "time": "2026-03-01T10:00:00+01:00",
                             "values": {"available_bikes": "7", "ratio": "0.5", "status": 3,
                                        "available_bike_stands": "n/a", "unknown": 1}}])
    latest = store.latest_values("r1")
    assert latest == {"12": {"available_bikes": 7, "ratio": 0.5, "status": "3",
                             "available_bike_stands": None}}
    batches = list(store.hot_batches("r1", FIELDS, datetime.datetime(2026, 3, 1),
                                     datetime.datetime(2026, 3, 2)))
    table = batches[0]
    assert table.column("time")[0].as_py() == datetime.datetime(2026, 3, 1, 9, 0)
    assert table.column("available_bikes")[0].as_py() == 7


def test_latest_values_per_feature():
    store.ensure_schema("r1", FIELDS)
    rows = sample_rows(features=("A",), minutes=30)
    store.write_rows("r1", rows)
    assert store.latest_values("r1")["A"] == rows[-1]["values"]


@pytest.mark.usefixtures("archive_dir")
def test_delete_resource_removes_rows_and_schema():
    store.ensure_schema("r1", FIELDS)
    store.ensure_schema("r2", FIELDS)
    store.write_rows("r1", sample_rows())
    store.write_rows("r2", sample_rows())
    store.delete_resource("r1")
    assert _count("r1") == 0 and store.get_schema("r1") is None
    assert _count("r2") > 0


@pytest.mark.parametrize("fields", [
    "x", [{"name": "time", "type": "int"}], [{"name": "a", "type": "json"}],
    [{"name": "a", "type": "int"}, {"name": "a", "type": "float"}], [{"name": "", "type": "int"}],
])
def test_bad_schemas_are_refused(fields):
    with pytest.raises(tk.ValidationError) as error:
        store.ensure_schema("r1", fields)
    assert "fields" in error.value.error_dict
