"""The load scenario: many concurrent requests on loopback, the portal (the
suite's plugins) and stock CKAN side by side on the same datasets.

    ./portal bench load [--clients 8] [--requests 400] [--max-seconds 120] [--rounds 4]
                        [--only SURFACE ...]

Both servers run threaded (`ckan run -t`). Shared requests, sent to both:
anonymous searches (API and page), dataset pages, and downloads by a logged-in
partner (on the suite a restricted dataset the partner was granted, through the
access policy; on stock CKAN the same resource, ungated). Suite-only requests:
the commune widget's search and anonymous history queries (a week of 100
stations, imported once with `ckan history import` and compacted into the
archive). Each surface
runs in phases, stock then suite, `--rounds` times, so both see the same
machine (a fast surface's phase lasts a second or less: more rounds spread a
passing disturbance over both sides); each phase is bounded by a request
count and a duration. Prints
requests per second, p50 and p95 latency and errors, and the suite/stock ratio
on the shared requests (target: zero errors, within 15 %).

With `--prod-url` (`./portal bench load --prod`), a third side, "prod", runs
every shared phase too: the suite on the same databases served the way the
image serves it, nginx in front of uWSGI with several processes and threads
(`./portal prod`, docker/ckan/uwsgi.ini, docker/nginx/portal.conf).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import datetime
import os
import random
import sys
import threading
import time
from typing import Callable, Optional

import requests
from run import BENCH_TAG, call, ensure_datasets, percentile, server, sysadmin_token

Request = Callable[[requests.Session, str, int], requests.Response]
OK = {200, 302}


def ensure_partner(url: str, token: str, state: str) -> tuple[str, list[tuple[str, str]]]:
    """A partner user with a token and a personal grant on every restricted
    benchmark dataset; returns the token and (dataset, resource) pairs."""
    from run import ckan

    if "name=bench-partner" not in ckan(state, "bench-suite.ini", "user", "show", "bench-partner"):
        ckan(state, "bench-suite.ini", "user", "add", "bench-partner", "email=partner@example.org",
             f"password={os.urandom(12).hex()}")
    partner_token = ckan(state, "bench-suite.ini", "user", "token", "add", "bench-partner", "load",
                         "-q").strip().splitlines()[-1]
    restricted = call(url, token, "package_search", fq=f"tags:{BENCH_TAG} access_level:restricted",
                      rows=50, fl="id,name")["results"]
    pairs = []
    for ds in restricted:
        call(url, token, "grandlyon_access_grant_create", package_id=ds["id"], user="bench-partner")
        full = call(url, token, "package_show", id=ds["id"])
        pairs.append((full["name"], full["resources"][0]["id"]))
    return partner_token, pairs


def prepare_suite_only(url: str, token: str, state: str) -> dict[str, Request]:
    """Requests only the suite answers: the commune widget's cross-origin
    search (the benchmark organisation marked a commune) and anonymous
    history queries (hourly or daily averages over a week of all stations)."""
    call(url, token, "organization_patch", id="bench-org", is_commune="true")
    words = ["vélo", "parking", "arbres", "bus", "budget", "eau"]
    requests_: dict[str, Request] = {
        "widget search": lambda s, base, i: s.get(
            f"{base}/api/3/action/communes_widget_search",
            params={"commune": "bench-org", "q": words[i % len(words)], "page_size": 10},
            headers={"Origin": "https://commune.example.org"}, timeout=60),
    }
    resource_id, start, end = ensure_history(url, token, state)
    aggregates = ["hour", "day"]
    requests_["history query"] = lambda s, base, i: s.get(
        f"{base}/api/3/action/history_query",
        params={"resource_id": resource_id, "start": start, "end": end,
                "aggregate": aggregates[i % 2], "per_feature": "false", "limit": 200},
        timeout=60)
    return requests_


HISTORY_DATASET = "bench-history-load"
HISTORY_STATIONS, HISTORY_DAYS, HISTORY_STEP_MINUTES = 100, 7, 5


def ensure_history(url: str, token: str, state: str) -> tuple[str, str, str]:
    """An open dataset of the benchmark organisation whose resource has a
    history: a week of 100 stations every 5 minutes (201,600 rows), declared
    as a feed that is not polled, filled once by `ckan history import` and
    compacted into the archive. Returns (resource id, first, last)."""
    from run import ckan

    try:
        package = call(url, token, "package_show", id=HISTORY_DATASET)
    except SystemExit:
        package = call(url, token, "package_create", name=HISTORY_DATASET, owner_org="bench-org",
                       title="Disponibilités des stations — historique", license_id="lo-2.0",
                       access_level="open",
                       resources=[{"name": "Stations", "format": "CSV",
                                   "url": "http://127.0.0.1/bench/stations.csv"}])
    resource_id = package["resources"][0]["id"]
    try:
        shown = call(url, token, "history_show", resource_id=resource_id)
    except SystemExit:  # no feed yet: "this resource has no history"
        shown = {}
    if not shown.get("feed"):
        call(url, token, "history_feed_create", resource_id=resource_id,
             url="http://127.0.0.1/bench/stations.csv", format="csv",
             feature_id_field="station", time_field="time", enabled=False,
             fields=[{"name": "available_bikes", "type": "int"},
                     {"name": "available_bike_stands", "type": "int"}])
    expected = HISTORY_STATIONS * HISTORY_DAYS * 24 * 60 // HISTORY_STEP_MINUTES
    if (shown.get("coverage") or {}).get("rows", 0) < expected:
        print(f"importing a history of {expected:,} rows", flush=True)
        path = os.path.join(state, "bench-history-load.csv")
        _write_history_csv(path)
        ckan(state, "bench-suite.ini", "history", "import", resource_id, path,
             "--feature-field", "station")
        os.remove(path)
        # Into the Parquet archive, as the daily compaction does with rows
        # older than the hot retention.
        ckan(state, "bench-suite.ini", "history", "compact")
        shown = call(url, token, "history_show", resource_id=resource_id)
    coverage = shown["coverage"]
    return resource_id, coverage["first"], coverage["last"]


def _write_history_csv(path: str) -> None:
    rng = random.Random(11)
    start = datetime.datetime(2026, 1, 5, tzinfo=datetime.timezone.utc)
    steps = HISTORY_DAYS * 24 * 60 // HISTORY_STEP_MINUTES
    with open(path, "w", encoding="utf-8") as f:
        f.write("station,time,available_bikes,available_bike_stands\n")
        for station in range(HISTORY_STATIONS):
            bikes = rng.randrange(20)
            for step in range(steps):
                bikes = min(20, max(0, bikes + rng.choice((-1, 0, 0, 1))))
                moment = start + datetime.timedelta(minutes=step * HISTORY_STEP_MINUTES)
                f.write(f"S{station:04d},{moment.isoformat()},{bikes},{20 - bikes}\n")


def run_phase(base: str, request: Request, clients: int, count: int, max_seconds: float) -> dict:
    """`count` requests from `clients` threads (or fewer when time runs out)."""
    times: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    counter = iter(range(count))
    deadline = time.monotonic() + max_seconds

    def client() -> None:
        session = requests.Session()
        while time.monotonic() < deadline:
            with lock:
                i = next(counter, None)
            if i is None:
                return
            start = time.perf_counter()
            try:
                res = request(session, base, i)
                status = res.status_code
            except requests.RequestException as error:
                status = type(error).__name__
            elapsed = time.perf_counter() - start
            with lock:
                times.append(elapsed)
                if status not in OK:
                    errors.append(f"{status}")

    started = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(clients) as pool:
        for future in [pool.submit(client) for _ in range(clients)]:
            future.result()
    wall = time.perf_counter() - started
    return {"times": times, "errors": errors, "wall": wall}


def merge(a: Optional[dict], b: dict) -> dict:
    if a is None:
        return b
    return {"times": a["times"] + b["times"], "errors": a["errors"] + b["errors"],
            "wall": a["wall"] + b["wall"]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--state", required=True, help="the local stack's state folder")
    parser.add_argument("--datasets", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients")
    parser.add_argument("--requests", type=int, default=400, help="requests per surface and side")
    parser.add_argument("--max-seconds", type=float, default=120, help="cap per surface and side")
    parser.add_argument("--rounds", type=int, default=4,
                        help="stock/suite alternations per surface (each side's requests and "
                             "time cap are shared among them)")
    parser.add_argument("--port-suite", type=int, default=5083)
    parser.add_argument("--port-stock", type=int, default=5084)
    parser.add_argument("--prod-url", metavar="URL",
                        help="also run the shared phases against this production run "
                             "(nginx and uWSGI on the benchmark's databases)")
    parser.add_argument("--only", action="append", metavar="SURFACE",
                        help="run only this shared surface (repeatable), e.g. 'dataset page'")
    args = parser.parse_args()

    token = sysadmin_token(args.state)
    with server(args.state, "bench-suite.ini", args.port_suite, "-t") as suite:
        print(f"preparing {args.datasets} datasets and a partner", flush=True)
        ensure_datasets(suite, token, args.datasets)
        partner, gated = ensure_partner(suite, token, args.state)
        with server(args.state, "bench-stock.ini", args.port_stock, "-t") as stock:
            words = ["vélo", "parking", "arbres", "bus", "budget", "eau"]
            rng = random.Random(7)
            shared: dict[str, Request] = {
                "search API": lambda s, url, i: s.get(
                    f"{url}/api/3/action/package_search",
                    params={"q": words[i % len(words)], "rows": 20}, timeout=60),
                "search page": lambda s, url, i: s.get(
                    f"{url}/dataset/", params={"q": words[i % len(words)]}, timeout=60),
                "dataset page": lambda s, url, i: s.get(
                    f"{url}/dataset/bench-{rng.randrange(args.datasets):05d}", timeout=60),
                "partner download": lambda s, url, i: s.get(
                    f"{url}/dataset/{gated[i % len(gated)][0]}/resource/{gated[i % len(gated)][1]}/download",
                    headers={"Authorization": partner}, allow_redirects=False, timeout=60),
            }
            if args.only:
                unknown = set(args.only) - set(shared)
                if unknown:
                    parser.error(f"unknown surface {sorted(unknown)}; choose from {sorted(shared)}")
                shared = {name: shared[name] for name in args.only}
            sides = {"stock": stock, "suite": suite}
            if args.prod_url:
                sides["prod"] = args.prod_url.rstrip("/")
            print(f"\n{args.clients} concurrent clients, {args.requests} requests per surface and side"
                  f" (cap {args.max_seconds:.0f} s), {args.rounds} rounds of phases "
                  f"{'/'.join(sides)}")
            print("stock, suite: `ckan run -t` (one process, threads)" + (
                "; prod: nginx -> uWSGI (docker/ckan/uwsgi.ini)" if args.prod_url else "") + "\n")
            print(f"{'surface':<18}{'side':<7}{'req/s':>8}{'p50 ms':>9}{'p95 ms':>9}{'errors':>8}"
                  f"{'p50 ratio':>11}{'rps ratio':>11}")
            worst = 0.0
            total_errors = 0
            for surface, request in shared.items():
                for side_url in sides.values():  # warm-up
                    run_phase(side_url, request, 2, 10, 30)
                results: dict[str, Optional[dict]] = {side: None for side in sides}
                for _ in range(args.rounds):
                    for side, url in sides.items():
                        results[side] = merge(results[side], run_phase(
                            url, request, args.clients, args.requests // args.rounds,
                            args.max_seconds / args.rounds))
                base = results["stock"]
                base_p50 = percentile(base["times"], 50)
                base_rps = len(base["times"]) / base["wall"]
                for side in sides:
                    r = results[side]
                    rps = len(r["times"]) / r["wall"]
                    p50, p95 = percentile(r["times"], 50), percentile(r["times"], 95)
                    total_errors += len(r["errors"])
                    print(f"{surface:<18}{side:<7}{rps:>8.1f}{p50 * 1000:>9.1f}{p95 * 1000:>9.1f}"
                          f"{len(r['errors']):>8}{p50 / base_p50:>11.2f}{rps / base_rps:>11.2f}")
                    if r["errors"]:
                        print(f"{'':<25}errors: {sorted(set(r['errors']))}")
                worst = max(worst, percentile(results["suite"]["times"], 50) / base_p50)
            suite_only = {} if args.only else prepare_suite_only(suite, token, args.state)
            if suite_only:
                print("\nsuite only (no stock counterpart)")
            for surface, request in suite_only.items():
                run_phase(suite, request, 2, 10, 30)
                r = run_phase(suite, request, args.clients, args.requests, args.max_seconds)
                rps = len(r["times"]) / r["wall"]
                total_errors += len(r["errors"])
                print(f"{surface:<18}{'suite':<7}{rps:>8.1f}{percentile(r['times'], 50) * 1000:>9.1f}"
                      f"{percentile(r['times'], 95) * 1000:>9.1f}{len(r['errors']):>8}")
                if r["errors"]:
                    print(f"{'':<25}errors: {sorted(set(r['errors']))}")
            print(f"\nerrors: {total_errors} (target 0); worst p50 ratio suite/stock on shared "
                  f"requests: {worst:.2f} (target: at most 1.15)")
    return 0 if total_errors == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
