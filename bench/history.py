"""Benchmark of the history store (ckanext-history) against the CKAN
DataStore, on the same Vélo'v-like rows. Not a test.

    ./portal bench-history [--stations 430] [--days 31] [--year-months 12] [--rounds 5]
                           [--recent-days 35] [--recent-rounds 15] [--recent-changes-per-hour 6]
                           [--recent-only]

Rows: `stations` stations, one row per station per minute, fields
available_bikes, available_bike_stands, bike_stands, status (a random walk
that changes a few times an hour, like the real feed).

1. Ingest `days` days into both:
   - the suite: store.write_rows in batches of 5,000 (what the feed worker
     and `ckan history import` do), then `compact` into the Parquet archive;
   - the DataStore: datastore_create (primary key station, time) and
     datastore_upsert (method insert) in batches of 5,000 for the first
     `--upsert-rows` rows, then COPY for the rest into the same table (its
     full-text trigger runs as for any insert), so the table is what CKAN
     would store.
2. Bytes per row on disk: DataStore table (pg_total_relation_size), hot tier
   partitions, archive files.
3. Latency (median of `rounds`, warm): (a) one station over the loaded
   period, (b) hourly average of all stations over it, (d) the period as CSV
   (the suite's streaming CSV writer; the DataStore's own dump_to, which CKAN's
   /datastore/dump runs); (c) daily average per station over `year-months`
   months, generated straight into archive month files (not through
   PostgreSQL; the DataStore is not loaded with a year: "n/a").

4. Recent windows (`recent_windows`): the hot retention (`--recent-days`,
   default `ckanext.history.hot_retention_days`, 35) of the same stations,
   a reading a minute whose bikes change `--recent-changes-per-hour` times
   an hour (default 6), stored changes-only as the feeds store them (a
   station's row only when a value changed), ending now, three times: in the hot tier
   (store.write_rows), in the archive (month files written straight from
   the generator) and in a DataStore table (COPY); and a fourth history
   whose last 7 days are hot and the rest archived. Each window of the
   issue (last 24 h hourly average of all stations, last 7 days raw for one
   station, last 7 days hourly average of all stations, the whole retention
   daily per station, in Europe/Paris; a range over both tiers and its two
   parts) is timed through query.run (what history_query runs) on each,
   `--recent-rounds` rounds after a warm-up: median and p95, beside the
   issue's target. `--recent-only` runs this part alone.

Memory: rows are generated and written a station block at a time.
"""

from __future__ import annotations

import argparse
import datetime
import math
import os
import statistics
import sys
import time

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

FIELDS = [
    {"name": "available_bikes", "type": "int"},
    {"name": "available_bike_stands", "type": "int"},
    {"name": "bike_stands", "type": "int"},
    {"name": "status", "type": "text"},
]
MONTH_RID = "bench-history-month"
RECENT_HOT_RID = "bench-history-recent-hot"
RECENT_ARCHIVE_RID = "bench-history-recent-archive"
RECENT_SPAN_RID = "bench-history-recent-span"
YEAR_RID = "bench-history-year"
START = datetime.datetime(2025, 1, 1)


# --- the generator -----------------------------------------------------------------------

def station_ids(stations: int) -> list[str]:
    return [str(1001 + i) for i in range(stations)]


def generate(stations: list[str], start: datetime.datetime, minutes: int, seed: int = 7):
    """Arrow record batches (feature, time, fields), one station at a time,
    sorted by (feature, time): a Vélo'v-like random walk."""
    rng = np.random.default_rng(seed + start.toordinal())
    base = np.datetime64(start, "us")
    times = base + np.arange(minutes, dtype="int64") * np.timedelta64(60_000_000, "us")
    for number in stations:
        capacity = int(rng.integers(12, 40))
        steps = rng.random(minutes) < 0.06
        moves = np.where(steps, rng.choice([-1, 1], size=minutes), 0)
        bikes = np.clip(capacity // 2 + np.cumsum(moves), 0, capacity).astype("int64")
        closed = np.zeros(minutes, dtype=bool)
        if rng.random() < 0.05:
            at = int(rng.integers(0, max(1, minutes - 600)))
            closed[at:at + 600] = True
        status = np.where(closed, "CLOSED", "OPEN")
        yield pa.RecordBatch.from_arrays([
            pa.array([number] * minutes, pa.string()),
            pa.array(times, pa.timestamp("us")),
            pa.array(bikes), pa.array(capacity - bikes), pa.array(np.full(minutes, capacity, dtype="int64")),
            pa.array(status, pa.string()),
        ], names=["feature", "time", "available_bikes", "available_bike_stands", "bike_stands", "status"])


def rows_of(batch: pa.RecordBatch) -> list[dict]:
    cols = batch.to_pydict()
    names = [f["name"] for f in FIELDS]
    return [{"feature": cols["feature"][i], "time": cols["time"][i],
             "values": {n: cols[n][i] for n in names}} for i in range(batch.num_rows)]


# --- CKAN -----------------------------------------------------------------------------

def load_ckan(ini: str):
    from ckan.cli import load_config
    from ckan.config.middleware import make_app

    config = load_config(ini)
    app = make_app(config)
    context = app._wsgi_app.test_request_context()
    context.push()
    return context


def timed(fn, rounds: int, warm: bool = True) -> float:
    if warm:
        fn()
    values = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn()
        values.append(time.perf_counter() - t0)
    return statistics.median(values)


def human(seconds: float | None) -> str:
    if seconds is None:
        return "n/a"
    return f"{seconds * 1000:.0f} ms" if seconds < 10 else f"{seconds:.1f} s"


def dir_size(path: str) -> int:
    total = 0
    for root, _dirs, files in os.walk(path):
        total += sum(os.path.getsize(os.path.join(root, f)) for f in files)
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ini", required=True, help="the suite's bench ini (ckan_bench databases)")
    parser.add_argument("--stations", type=int, default=430)
    parser.add_argument("--days", type=int, default=31, help="days loaded into both stores")
    parser.add_argument("--year-months", type=int, default=12, help="months generated into Parquet for (c)")
    parser.add_argument("--upsert-rows", type=int, default=100_000,
                        help="rows loaded through datastore_upsert (the rest by COPY)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--recent-days", type=int, default=None,
                        help="days of changes-only rows for the recent windows (default: the hot retention)")
    parser.add_argument("--recent-rounds", type=int, default=15, help="rounds of each recent window")
    parser.add_argument("--recent-changes-per-hour", type=float, default=6.0,
                        help="how often a station's bikes change in the recent windows' rows")
    parser.add_argument("--recent-only", action="store_true", help="run the recent windows alone")
    parser.add_argument("--recent-reuse", action="store_true",
                        help="time the recent windows over the rows a previous run loaded (no load)")
    parser.add_argument("--archive", default=None, help="archive folder (default: <state>/bench-history)")
    parser.add_argument("--reuse", action="store_true",
                        help="keep the rows loaded by a previous run (no ingest figures); rewrite the "
                             "archive's month files with the current row groups")
    args = parser.parse_args()

    load_ckan(args.ini)
    import ckan.plugins.toolkit as tk

    from ckanext.history import archive, store

    state = os.path.dirname(os.path.abspath(args.ini))
    archive_path = args.archive or os.path.join(state, "bench-history")
    tk.config["ckanext.history.archive.path"] = archive_path
    tk.config["ckanext.history.query.max_range_days"] = 400
    tk.config["ckanext.history.duckdb.memory_limit"] = "1GB"

    stations = station_ids(args.stations)
    if args.recent_only:
        recent_windows(args, stations)
        return
    minutes = args.days * 1440
    period_start, period_end = START, START + datetime.timedelta(days=args.days)
    total = len(stations) * minutes
    print(f"rows: {args.stations} stations x {args.days} days x 1440 minutes = {total:,}", flush=True)

    suite_ingest = hot_bytes = compact_s = upsert_rate = copy_rate = 0.0
    # --- the suite: hot tier, then archive --------------------------------------------
    if args.reuse:
        schema = store.arrow_schema(FIELDS)
        for month_file in archive.month_files(MONTH_RID):
            archive.write_month_stream(MONTH_RID, month_file.year, month_file.month, schema, list(
                archive.iter_month_batches(MONTH_RID, month_file.year, month_file.month, archive.ROW_GROUP_ROWS)))
    else:
        suite_ingest, hot_bytes, compact_s = load_suite(args, stations, minutes, total, period_end)
    archive_bytes = dir_size(archive.resource_dir(MONTH_RID))
    print(f"archive {archive_bytes / total:.2f} B/row", flush=True)
    rid, ds_bytes, upsert_rate, copy_rate, site_user = load_datastore(args, stations, minutes)
    run_queries(args, stations, total, period_start, period_end, rid, site_user, suite_ingest, hot_bytes,
                compact_s, archive_bytes, ds_bytes, upsert_rate, copy_rate)
    recent_windows(args, stations)


def load_suite(args, stations, minutes, total, period_end):
    import sqlalchemy as sa

    from ckanext.history import archive, store

    store.delete_resource(MONTH_RID)
    archive.delete_resource(MONTH_RID)
    store.ensure_schema(MONTH_RID, FIELDS)
    t0 = time.perf_counter()
    for batch in generate(stations, START, minutes):
        for offset in range(0, batch.num_rows, 5000):
            store.write_rows(MONTH_RID, rows_of(batch.slice(offset, 5000)), fields=FIELDS)
    suite_ingest = total / (time.perf_counter() - t0)
    with store.engine().connect() as conn:
        hot_bytes = sum(conn.execute(sa.text(
            f"SELECT pg_total_relation_size('{store.PARTITION_SCHEMA}.{name}')")).scalar()
            for _m, name in store.partitions())
        hot_bytes += conn.execute(sa.text("SELECT pg_total_relation_size('history_feature')")).scalar()
    print(f"suite ingest: {suite_ingest:,.0f} rows/s; hot tier {hot_bytes / total:.1f} B/row", flush=True)
    t0 = time.perf_counter()
    archive.compact(MONTH_RID, now=period_end + datetime.timedelta(days=3650), retention=1)
    compact_s = time.perf_counter() - t0
    print(f"compaction: {compact_s:.1f} s", flush=True)
    return suite_ingest, hot_bytes, compact_s


def load_datastore(args, stations, minutes):
    """The DataStore table of the same rows; returns (resource id, bytes,
    upsert rows/s, COPY rows/s, site user)."""
    import ckan.plugins.toolkit as tk

    total = len(stations) * minutes
    site_user = tk.get_action("get_site_user")({"ignore_auth": True}, {})["name"]
    ctx = lambda: {"user": site_user, "ignore_auth": True}  # noqa: E731
    try:
        org = tk.get_action("organization_show")(ctx(), {"id": "bench-history"})
    except tk.ObjectNotFound:
        org = tk.get_action("organization_create")(ctx(), {"name": "bench-history", "title": "Bench history"})
    try:
        dataset = tk.get_action("package_show")(ctx(), {"id": "bench-history-velov"})
    except tk.ObjectNotFound:
        dataset = tk.get_action("package_create")(ctx(), {
            "name": "bench-history-velov", "title": "Bench history", "owner_org": org["id"],
            "access_level": "open", "license_id": "lo-2.0",
            "resources": [{"name": "velov", "url": "https://example.org/velov.geojson"}]})
    rid = dataset["resources"][0]["id"]
    import psycopg2

    if args.reuse:
        with psycopg2.connect(tk.config["ckan.datastore.write_url"]) as conn, conn.cursor() as cur:
            cur.execute("SELECT pg_total_relation_size(%s)", ('"' + rid + '"',))
            return rid, cur.fetchone()[0], 0.0, 0.0, site_user
    try:
        tk.get_action("datastore_delete")(ctx(), {"resource_id": rid, "force": True})
    except tk.ObjectNotFound:
        pass
    tk.get_action("datastore_create")(ctx(), {
        "resource_id": rid, "force": True, "primary_key": ["station", "time"],
        "fields": [{"id": "station", "type": "text"}, {"id": "time", "type": "timestamp"},
                   {"id": "available_bikes", "type": "int"}, {"id": "available_bike_stands", "type": "int"},
                   {"id": "bike_stands", "type": "int"}, {"id": "status", "type": "text"}]})
    upserted, upsert_s, copied, copy_s = 0, 0.0, 0, 0.0

    write = psycopg2.connect(tk.config["ckan.datastore.write_url"])
    for batch in generate(stations, START, minutes):
        offset = 0
        while upserted < args.upsert_rows and offset < batch.num_rows:
            part = batch.slice(offset, min(5000, args.upsert_rows - upserted))
            cols = part.to_pydict()
            records = [{"station": cols["feature"][i], "time": cols["time"][i].isoformat(),
                        **{f["name"]: cols[f["name"]][i] for f in FIELDS}} for i in range(part.num_rows)]
            t0 = time.perf_counter()
            tk.get_action("datastore_upsert")(ctx(), {"resource_id": rid, "method": "insert",
                                                      "records": records, "force": True})
            upsert_s += time.perf_counter() - t0
            upserted += part.num_rows
            offset += part.num_rows
        if offset < batch.num_rows:
            import io

            import pyarrow.csv as pacsv

            rest = batch.slice(offset)
            sink = io.BytesIO()
            pacsv.write_csv(rest, sink, write_options=pacsv.WriteOptions(include_header=False))
            sink.seek(0)
            t0 = time.perf_counter()
            with write.cursor() as cur:
                cur.copy_expert(
                    f'COPY "{rid}" (station, "time", available_bikes, available_bike_stands, bike_stands, status) '
                    "FROM STDIN WITH (FORMAT csv)", sink)
            write.commit()
            copy_s += time.perf_counter() - t0
            copied += rest.num_rows
    with write.cursor() as cur:
        cur.execute("ANALYZE " + '"' + rid + '"')
        cur.execute("SELECT pg_total_relation_size(%s)", ('"' + rid + '"',))
        ds_bytes = cur.fetchone()[0]
    write.commit()
    upsert_rate = upserted / upsert_s if upsert_s else 0
    copy_rate = copied / copy_s if copy_s else 0
    print(f"DataStore ingest: datastore_upsert {upsert_rate:,.0f} rows/s ({upserted:,} rows), "
          f"COPY {copy_rate:,.0f} rows/s ({copied:,} rows); {ds_bytes / total:.1f} B/row", flush=True)
    return rid, ds_bytes, upsert_rate, copy_rate, site_user


def run_queries(args, stations, total, period_start, period_end, rid, site_user, suite_ingest, hot_bytes,
                compact_s, archive_bytes, ds_bytes, upsert_rate, copy_rate):
    import ckan.plugins.toolkit as tk
    import psycopg2

    from ckanext.history import archive, query, store
    from ckanext.history.views import download

    read = psycopg2.connect(tk.config["ckan.datastore.read_url"])
    station = stations[len(stations) // 2]

    def ds_sql(sql, params):
        def run():
            with read.cursor() as cur:
                cur.execute(sql, params)
                return cur.fetchall()
        return run

    def suite_stream(rid=MONTH_RID, **params):
        def run():
            q = query.parse({"resource_id": rid, **params}, FIELDS, for_download=True)
            return sum(b.num_rows for b in query.stream(q))
        return run

    rng = {"start": period_start.isoformat(), "end": period_end.isoformat()}
    a_suite = timed(suite_stream(features=[station], **rng), args.rounds)
    a_ds = timed(ds_sql(f'SELECT * FROM "{rid}" WHERE station = %s AND "time" >= %s AND "time" < %s '
                        'ORDER BY "time"', (station, period_start, period_end)), args.rounds)
    b_suite = timed(suite_stream(aggregate="hour", functions=["avg"], fields=["available_bikes"],
                                 per_feature=False, **rng), args.rounds)
    b_ds = timed(ds_sql(f'SELECT date_trunc(\'hour\', "time") AS h, avg(available_bikes) FROM "{rid}" '
                        'WHERE "time" >= %s AND "time" < %s GROUP BY 1 ORDER BY 1',
                        (period_start, period_end)), args.rounds)

    def suite_csv():
        q = query.parse({"resource_id": MONTH_RID, **rng}, FIELDS, for_download=True)
        return sum(len(c) for c in download.csv_chunks(download._batches(q), [f["id"] for f in q.output_fields()]))

    def ds_csv():
        from ckanext.datastore.blueprint import dump_to

        return sum(len(c) for c in dump_to(rid, "csv", 0, None, {}, "_id", {}, site_user))

    csv_rounds = max(1, min(args.rounds, 3))
    d_suite = timed(suite_csv, csv_rounds)
    d_ds = timed(ds_csv, 1, warm=False)  # minutes at scale: CKAN pages with OFFSET

    # --- (c): a year straight into Parquet ------------------------------------------------
    c_suite, year_rows, year_bytes = None, 0, 0
    if args.year_months > 0:
        archive.delete_resource(YEAR_RID)
        store.ensure_schema(YEAR_RID, FIELDS)
        store.register_features(YEAR_RID, stations)
        schema = store.arrow_schema(FIELDS)
        t0 = time.perf_counter()
        month = START
        for _ in range(args.year_months):
            following = store.next_month(month)
            month_minutes = int((following - month).total_seconds() // 60)
            _path, rows = archive.write_month_stream(
                YEAR_RID, month.year, month.month, schema, _grouped(generate(stations, month, month_minutes), schema))
            year_rows += rows
            month = following
        gen_s = time.perf_counter() - t0
        year_bytes = dir_size(archive.resource_dir(YEAR_RID))
        print(f"year: {year_rows:,} rows generated into Parquet in {gen_s:.0f} s, "
              f"{year_bytes / year_rows:.2f} B/row", flush=True)
        year = {"start": START.isoformat(), "end": month.isoformat()}
        tk.config["ckanext.history.query.max_points"] = 100000
        c_suite = timed(suite_stream(rid=YEAR_RID, aggregate="day", functions=["avg"],
                                     fields=["available_bikes"], **year), max(1, min(args.rounds, 3)))

    # --- the table -------------------------------------------------------------------------
    def ratio(ds, suite):
        return f"{ds / suite:.1f}x" if ds and suite else "n/a"

    print()
    print(f"History store vs DataStore: {args.stations} stations, {args.days} days ({total:,} rows); "
          f"(c) over {args.year_months} months ({year_rows:,} rows, Parquet only)")
    print(f"{'':46} {'suite':>16} {'DataStore':>16} {'ratio':>8}")
    print(f"{'ingest rows/s (write_rows | datastore_upsert)':46} {suite_ingest:>16,.0f} {upsert_rate:>16,.0f} "
          f"{suite_ingest / upsert_rate if upsert_rate else 0:>7.1f}x")
    print(f"{'  bulk (DataStore COPY, same table)':46} {'':>16} {copy_rate:>16,.0f}")
    print(f"{'bytes/row: archive | DataStore table':46} {archive_bytes / total:>16.2f} {ds_bytes / total:>16.1f} "
          f"{ratio(ds_bytes, archive_bytes):>8}")
    print(f"{'bytes/row: hot tier (PostgreSQL)':46} {hot_bytes / total:>16.1f}")
    print(f"{'(a) one station, whole period':46} {human(a_suite):>16} {human(a_ds):>16} {ratio(a_ds, a_suite):>8}")
    print(f"{'(b) hourly avg, all stations, whole period':46} {human(b_suite):>16} {human(b_ds):>16} "
          f"{ratio(b_ds, b_suite):>8}")
    print(f"{'(c) daily avg per station, year':46} {human(c_suite):>16} {'n/a':>16} {'':>8}")
    print(f"{'(d) whole period as CSV':46} {human(d_suite):>16} {human(d_ds):>16} {ratio(d_ds, d_suite):>8}")
    if year_rows:
        print(f"{'archive bytes/row over the year':46} {year_bytes / year_rows:>16.2f}")
    print(f"compaction of the period: {compact_s:.1f} s; peak memory: {_peak_mb():.0f} MB")


# --- recent windows ----------------------------------------------------------------------

def generate_changing(stations: list[str], start: datetime.datetime, minutes: int, per_hour: float,
                      seed: int = 11):
    """Like `generate`, a reading a minute of each station, but its bikes
    change `per_hour` times an hour on average all along (a walk reflected
    at 0 and the capacity: `generate`'s clipped walk stays at a bound for
    hours, a day of it changes ~27 times)."""
    rng = np.random.default_rng(seed + start.toordinal())
    base = np.datetime64(start, "us")
    times = base + np.arange(minutes, dtype="int64") * np.timedelta64(60_000_000, "us")
    for number in stations:
        capacity = int(rng.integers(12, 40))
        steps = rng.random(minutes) < per_hour / 60
        walk = capacity // 2 + np.cumsum(np.where(steps, rng.choice([-1, 1], size=minutes), 0))
        folded = np.mod(walk, 2 * capacity)
        bikes = np.where(folded <= capacity, folded, 2 * capacity - folded).astype("int64")
        closed = np.zeros(minutes, dtype=bool)
        if rng.random() < 0.05:
            at = int(rng.integers(0, max(1, minutes - 600)))
            closed[at:at + 600] = True
        status = np.where(closed, "CLOSED", "OPEN")
        yield pa.RecordBatch.from_arrays([
            pa.array([number] * minutes, pa.string()),
            pa.array(times, pa.timestamp("us")),
            pa.array(bikes), pa.array(capacity - bikes), pa.array(np.full(minutes, capacity, dtype="int64")),
            pa.array(status, pa.string()),
        ], names=["feature", "time", "available_bikes", "available_bike_stands", "bike_stands", "status"])


def changes_only(batch: pa.RecordBatch) -> pa.RecordBatch:
    """A station's readings as a changes-only feed stores them: its first
    row, then a row only when a value differs from the one before."""
    names = [f["name"] for f in FIELDS]
    columns = [batch.column(n).to_numpy(zero_copy_only=False) for n in names]
    keep = np.zeros(batch.num_rows, dtype=bool)
    keep[0] = True
    for column in columns:
        keep[1:] |= column[1:] != column[:-1]
    return batch.filter(pa.array(keep))


# The targets on this 2-core machine (seconds).
TARGETS = {"24h": 0.1, "raw7": 0.05, "hour7": 0.3, "retention": 1.0}


def percentile(values: list[float], share: float) -> float:
    """The nearest-rank percentile of `values`."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def measure(fn, rounds: int) -> tuple[float, float]:
    """(median, p95) of `rounds` timed calls after one warm-up call."""
    fn()
    values = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn()
        values.append(time.perf_counter() - t0)
    return statistics.median(values), percentile(values, 0.95)


def _load_recent(args, stations: list[str], days: int):
    """Loads the recent windows' rows (hot, archive, spanning, DataStore);
    returns (end, start, rows, DataStore resource id)."""
    import io

    import ckan.plugins.toolkit as tk
    import psycopg2
    import pyarrow.csv as pacsv
    import sqlalchemy as sa

    from ckanext.history import archive, store

    end = store.utcnow().replace(second=0, microsecond=0)
    start = end - datetime.timedelta(days=days)
    # The spanning history's last 7 days are hot (half of a shorter run).
    split = end - datetime.timedelta(days=7 if days > 7 else days / 2)
    minutes = days * 1440
    schema = store.arrow_schema(FIELDS)
    for rid in (RECENT_HOT_RID, RECENT_ARCHIVE_RID, RECENT_SPAN_RID):
        store.delete_resource(rid)
        archive.delete_resource(rid)
        store.ensure_schema(rid, FIELDS)
        store.register_features(rid, stations)

    # The rows, a station at a time: hot copy, archive copy (by month),
    # the spanning history's hot part, the DataStore's CSV.
    print(f"recent windows: {len(stations)} stations x {days} days, changes-only, ending {end:%Y-%m-%d %H:%M} UTC",
          flush=True)
    t0 = time.perf_counter()
    by_month: dict = {}
    total = 0
    csv_sink = io.BytesIO()
    for batch in generate_changing(stations, start, minutes, args.recent_changes_per_hour):
        batch = changes_only(batch)
        total += batch.num_rows
        for offset in range(0, batch.num_rows, 5000):
            store.write_rows(RECENT_HOT_RID, rows_of(batch.slice(offset, 5000)), fields=FIELDS)
        times = batch.column("time")
        recent = batch.filter(pc.greater_equal(times, pa.scalar(split, pa.timestamp("us"))))
        for offset in range(0, recent.num_rows, 5000):
            store.write_rows(RECENT_SPAN_RID, rows_of(recent.slice(offset, 5000)), fields=FIELDS)
        by_month.setdefault("all", []).append(batch)
        pacsv.write_csv(batch, csv_sink, write_options=pacsv.WriteOptions(include_header=False))
    load_s = time.perf_counter() - t0
    print(f"  hot tier: {total:,} rows ({total / len(stations) / days:.0f} a station a day) "
          f"written in {load_s:.0f} s", flush=True)
    table = pa.Table.from_batches(by_month.pop("all")).cast(schema)
    month = store.month_start(start)
    while month < end:
        following = store.next_month(month)
        in_month = table.filter(pc.and_(
            pc.greater_equal(table.column("time"), pa.scalar(month, pa.timestamp("us"))),
            pc.less(table.column("time"), pa.scalar(following, pa.timestamp("us")))))
        archive.write_month_stream(RECENT_ARCHIVE_RID, month.year, month.month, schema,
                                   in_month.combine_chunks().to_batches(archive.ROW_GROUP_ROWS))
        old = in_month.filter(pc.less(in_month.column("time"), pa.scalar(split, pa.timestamp("us"))))
        if old.num_rows:
            archive.write_month_stream(RECENT_SPAN_RID, month.year, month.month, schema,
                                       old.combine_chunks().to_batches(archive.ROW_GROUP_ROWS))
        month = following
    with store.engine().begin() as conn:
        conn.execute(sa.text("ANALYZE history_row"))

    # The DataStore: the same rows in a table of its own (COPY).
    site_user = tk.get_action("get_site_user")({"ignore_auth": True}, {})["name"]
    ctx = lambda: {"user": site_user, "ignore_auth": True}  # noqa: E731
    dataset = tk.get_action("package_show")(ctx(), {"id": "bench-history-velov"}) if _exists(
        "bench-history-velov") else None
    if dataset is None:
        try:
            org = tk.get_action("organization_show")(ctx(), {"id": "bench-history"})
        except tk.ObjectNotFound:
            org = tk.get_action("organization_create")(ctx(), {"name": "bench-history",
                                                              "title": "Bench history"})
        dataset = tk.get_action("package_create")(ctx(), {
            "name": "bench-history-velov", "title": "Bench history", "owner_org": org["id"],
            "access_level": "open", "license_id": "lo-2.0",
            "resources": [{"name": "velov", "url": "https://example.org/velov.geojson"}]})
    recent = [r for r in dataset["resources"] if r["name"] == "velov-recent"]
    resource = recent[0] if recent else tk.get_action("resource_create")(ctx(), {
        "package_id": dataset["id"], "name": "velov-recent", "url": "https://example.org/velov.geojson"})
    ds_rid = resource["id"]
    try:
        tk.get_action("datastore_delete")(ctx(), {"resource_id": ds_rid, "force": True})
    except tk.ObjectNotFound:
        pass
    tk.get_action("datastore_create")(ctx(), {
        "resource_id": ds_rid, "force": True, "primary_key": ["station", "time"],
        "fields": [{"id": "station", "type": "text"}, {"id": "time", "type": "timestamp"},
                   {"id": "available_bikes", "type": "int"}, {"id": "available_bike_stands", "type": "int"},
                   {"id": "bike_stands", "type": "int"}, {"id": "status", "type": "text"}]})
    write = psycopg2.connect(tk.config["ckan.datastore.write_url"])
    csv_sink.seek(0)
    with write.cursor() as cur:
        cur.copy_expert(f'COPY "{ds_rid}" (station, "time", available_bikes, available_bike_stands, bike_stands, '
                        "status) FROM STDIN WITH (FORMAT csv)", csv_sink)
        cur.execute(f'ANALYZE "{ds_rid}"')
    write.commit()
    write.close()
    return end, start, total, ds_rid


def recent_windows(args, stations: list[str]) -> None:
    """Section 4: the recent windows over the hot tier, the archive, the
    DataStore and a history over both tiers (see the module's docstring)."""
    import ckan.plugins.toolkit as tk
    import psycopg2

    from ckanext.history import config, query, store

    days = args.recent_days or config.hot_retention_days()
    # A day per station over the retention is more records than a page.
    tk.config["ckanext.history.query.max_limit"] = 100_000
    if args.recent_reuse:
        # The rows of a previous run: they end a minute after the last one.
        hot = store.hot_stats(RECENT_HOT_RID)
        end, total = hot["last"] + datetime.timedelta(minutes=1), hot["rows"]
        start = end - datetime.timedelta(days=days)
        site_user = tk.get_action("get_site_user")({"ignore_auth": True}, {})["name"]
        dataset = tk.get_action("package_show")({"user": site_user}, {"id": "bench-history-velov"})
        ds_rid = [r for r in dataset["resources"] if r["name"] == "velov-recent"][0]["id"]
        print(f"recent windows: the rows of a previous run ({total:,}), ending {end:%Y-%m-%d %H:%M} UTC",
              flush=True)
    else:
        end, start, total, ds_rid = _load_recent(args, stations, days)
    split = end - datetime.timedelta(days=7 if days > 7 else days / 2)
    read = psycopg2.connect(tk.config["ckan.datastore.read_url"])

    def suite(rid, **params):
        def run():
            q = query.parse({"resource_id": rid, "tz": "Europe/Paris", "limit": 100_000, **params}, FIELDS)
            return len(query.run(q)["records"])
        return run

    def ds(sql, params):
        def run():
            with read.cursor() as cur:
                cur.execute(sql, params)
                return len(cur.fetchall())
        return run

    def iso(t: datetime.datetime) -> str:
        return t.isoformat() + "Z"

    station = stations[len(stations) // 2]
    day_ago, week_ago = end - datetime.timedelta(days=1), end - datetime.timedelta(days=7)
    hourly = {"aggregate": "hour", "functions": ["avg"], "fields": ["available_bikes"], "per_feature": False}
    daily = {"aggregate": "day", "functions": ["avg"], "fields": ["available_bikes"]}
    ds_hourly = (f'SELECT date_trunc(\'hour\', "time" AT TIME ZONE \'UTC\' AT TIME ZONE \'Europe/Paris\') AS h, '
                 f'avg(available_bikes) FROM "{ds_rid}" WHERE "time" >= %s AND "time" < %s GROUP BY 1 ORDER BY 1')
    ds_daily = (f'SELECT station, date_trunc(\'day\', "time" AT TIME ZONE \'UTC\' AT TIME ZONE \'Europe/Paris\') '
                f'AS d, avg(available_bikes) FROM "{ds_rid}" WHERE "time" >= %s AND "time" < %s '
                "GROUP BY 1, 2 ORDER BY 2, 1")
    ds_raw = f'SELECT * FROM "{ds_rid}" WHERE station = %s AND "time" >= %s AND "time" < %s ORDER BY "time"'
    cases = [
        ("24h", "last 24 h, hourly avg of all stations",
         {"start": iso(day_ago), "end": iso(end), **hourly}, ds(ds_hourly, (day_ago, end))),
        ("raw7", "last 7 days, raw, one station",
         {"start": iso(week_ago), "end": iso(end), "features": [station]}, ds(ds_raw, (station, week_ago, end))),
        ("hour7", "last 7 days, hourly avg of all stations",
         {"start": iso(week_ago), "end": iso(end), **hourly}, ds(ds_hourly, (week_ago, end))),
        ("retention", f"last {days} days, daily avg per station",
         {"start": iso(start), "end": iso(end), **daily}, ds(ds_daily, (start, end))),
    ]
    rounds = args.recent_rounds
    results = []
    for key, label, params, ds_run in cases:
        hot = measure(suite(RECENT_HOT_RID, **params), rounds)
        arch = measure(suite(RECENT_ARCHIVE_RID, **params), rounds)
        data = measure(ds_run, rounds)
        results.append((label, hot, arch, data, TARGETS.get(key)))
        print(f"  {label}: hot {human(hot[0])}, archive {human(arch[0])}, DataStore {human(data[0])}", flush=True)
    # Over both tiers: the spanning history's whole range, and its parts.
    span_params = {"start": iso(start), "end": iso(end), **daily}
    both = measure(suite(RECENT_SPAN_RID, **span_params), rounds)
    part_old = measure(suite(RECENT_SPAN_RID, **{**span_params, "end": iso(split)}), rounds)
    part_new = measure(suite(RECENT_SPAN_RID, **{**span_params, "start": iso(split)}), rounds)
    answers_equal = (query.run(query.parse({"resource_id": RECENT_SPAN_RID, "tz": "Europe/Paris", "limit": 100_000,
                                            **span_params}, FIELDS))["records"]
                     == query.run(query.parse({"resource_id": RECENT_HOT_RID, "tz": "Europe/Paris",
                                               "limit": 100_000, **span_params}, FIELDS))["records"])

    # The plan of the raw read of one station in the hot tier.
    raw = store.engine().raw_connection()
    try:
        cur = raw.cursor()
        cur.execute("EXPLAIN " + store.hot_select_sql(FIELDS, "one") + ' ORDER BY "time" LIMIT 10001',
                    {"rid": RECENT_HOT_RID, "start": week_ago, "end": end, "feature": station,
                     **{f"f{i}": f["name"] for i, f in enumerate(FIELDS)}})
        scans = sorted({line.strip().lstrip("-> ").split(" on ")[0] + " on " + line.strip().split(" on ")[1].split(" ")[0]
                        for (line,) in cur.fetchall() if " Scan " in line and " on " in line})
    finally:
        raw.rollback()
        raw.close()

    def cell(pair):
        return f"{human(pair[0])} / {human(pair[1])}"

    print()
    print(f"Recent windows: {len(stations)} stations, {days} days changes-only ({total:,} rows), "
          f"Europe/Paris buckets; median / p95 of {rounds} rounds; load average {os.getloadavg()[0]:.2f}")
    print(f"{'':44} {'hot (PostgreSQL)':>18} {'archive':>18} {'DataStore':>18} {'target':>8}")
    for label, hot, arch, data, target in results:
        print(f"{label:44} {cell(hot):>18} {cell(arch):>18} {cell(data):>18} "
              f"{('<= ' + human(target)) if target else '':>8}")
    print(f"{'over both tiers: ' + str(days) + ' days daily per station':44} {cell(both):>18}")
    print(f"{'  its archived part + its hot part':44} {human(part_old[0] + part_new[0]):>18}  "
          f"(archive {human(part_old[0])}, hot {human(part_new[0])}); target: no slower than the sum")
    print(f"  same answer over both tiers as all hot: {answers_equal}")
    print(f"  raw read of one station in the hot tier: {'; '.join(scans)}")


def _exists(name: str) -> bool:
    import ckan.plugins.toolkit as tk

    try:
        tk.get_action("package_show")({"ignore_auth": True}, {"id": name})
        return True
    except tk.ObjectNotFound:
        return False


def _grouped(batches, schema: pa.Schema):
    """Station batches re-cut into row groups of the archive's size."""
    from ckanext.history import archive

    rows = archive.ROW_GROUP_ROWS
    pending, count = [], 0
    for batch in batches:
        pending.append(batch)
        count += batch.num_rows
        while count >= rows:
            table = pa.Table.from_batches(pending).cast(schema)
            yield table.slice(0, rows).combine_chunks().to_batches()[0]
            rest = table.slice(rows)
            pending, count = rest.to_batches(), rest.num_rows
    if count:
        yield from pa.Table.from_batches(pending).cast(schema).combine_chunks().to_batches()


def _peak_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


if __name__ == "__main__":
    sys.exit(main())
