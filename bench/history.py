"""Benchmark of the history store (ckanext-history) against the CKAN
DataStore, on the same Vélo'v-like rows. Not a test.

    ./portal bench-history [--stations 430] [--days 31] [--year-months 12] [--rounds 5]

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

Memory: rows are generated and written a station block at a time.
"""

from __future__ import annotations

import argparse
import datetime
import os
import statistics
import sys
import time

import numpy as np
import pyarrow as pa

FIELDS = [
    {"name": "available_bikes", "type": "int"},
    {"name": "available_bike_stands", "type": "int"},
    {"name": "bike_stands", "type": "int"},
    {"name": "status", "type": "text"},
]
MONTH_RID = "bench-history-month"
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
