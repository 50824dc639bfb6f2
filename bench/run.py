"""The benchmark: the portal (the suite's plugins) against stock CKAN, side by
side, on the same datasets, database and search index.

    ./portal bench [--datasets 1000] [--rounds 200]

Starts two CKAN web servers on loopback (the suite's ini and stock CKAN's,
written by the local stack), makes sure the benchmark datasets exist (a third
of them restricted), then sends the same requests to both, alternating one
request to each so that both see the same machine, and prints the latency
percentiles, requests per second and the ratio of the suite to stock.
Figures in the README come from this script. Bounded: rounds x surfaces x 2
requests, all to 127.0.0.1.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import statistics
import subprocess
import sys
import time
from typing import Callable, Iterator

import requests

BENCH_TAG = "benchmark"


def ckan(state: str, ini: str, *args: str) -> str:
    exe = os.path.join(os.path.dirname(sys.executable), "ckan")
    done = subprocess.run([exe, "-c", os.path.join(state, ini), *args],
                          capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        raise SystemExit(f"ckan {' '.join(args)} failed:\n{done.stderr[-2000:]}")
    return done.stdout


@contextlib.contextmanager
def server(state: str, ini: str, port: int, *extra: str) -> Iterator[str]:
    exe = os.path.join(os.path.dirname(sys.executable), "ckan")
    log = open(os.path.join(state, "log", f"bench-{port}.log"), "w")
    proc = subprocess.Popen([exe, "-c", os.path.join(state, ini), "run", "-H", "127.0.0.1",
                             "-p", str(port), "-r", *extra], stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(240):
            with contextlib.suppress(requests.ConnectionError):
                if requests.get(f"{url}/api/3/action/status_show", timeout=5).ok:
                    break
            if proc.poll() is not None:
                raise SystemExit(f"the server of {ini} stopped; see {log.name}")
            time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


def sysadmin_token(state: str) -> str:
    if "name=bench-admin" not in ckan(state, "bench-suite.ini", "user", "show", "bench-admin"):
        ckan(state, "bench-suite.ini", "user", "add", "bench-admin", "email=bench@example.org",
             f"password={os.urandom(12).hex()}")
        ckan(state, "bench-suite.ini", "sysadmin", "add", "bench-admin")
    return ckan(state, "bench-suite.ini", "user", "token", "add", "bench-admin", "bench",
                "-q").strip().splitlines()[-1]


def call(base: str, token: str, action: str, **data) -> dict:
    res = requests.post(f"{base}/api/3/action/{action}", json=data,
                        headers={"Authorization": token}, timeout=60)
    body = res.json()
    if not body.get("success"):
        raise SystemExit(f"{action}: {body.get('error')}")
    return body["result"]


def ensure_datasets(url: str, token: str, count: int) -> None:
    """Creates the missing benchmark datasets: realistic titles, tags, two
    resources each, a third of them restricted."""
    have = call(url, token, "package_search", fq=f"tags:{BENCH_TAG}", rows=0)["count"]
    if have >= count:
        return
    with contextlib.suppress(SystemExit):
        call(url, token, "organization_create", name="bench-org", title="Organisation de test")
    words = ["vélo", "parking", "arbres", "qualité de l'air", "bus", "bibliothèques", "budget",
             "écoles", "voirie", "énergie", "eau", "déchets", "piscines", "musées"]
    rng = random.Random(42)
    for i in range(count):
        name = f"bench-{i:05d}"
        topic = words[i % len(words)]
        level = "restricted" if i % 3 == 2 else "open"
        with contextlib.suppress(SystemExit):
            call(url, token, "package_create", name=name, owner_org="bench-org",
                 title=f"{topic.capitalize()} — série {i}", license_id="lo-2.0",
                 notes=f"Données de test sur le thème {topic}, série {i}.",
                 access_level=level,
                 tags=[{"name": BENCH_TAG}, {"name": rng.choice(words).replace("'", " ")}],
                 resources=[{"name": "CSV", "url": f"https://data.example.org/{name}.csv",
                             "format": "CSV"},
                            {"name": "JSON", "url": f"https://data.example.org/{name}.json",
                             "format": "JSON"}])
        if i % 100 == 99:
            print(f"  datasets: {i + 1}/{count}", flush=True)


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(pct / 100 * (len(ordered) - 1))))]


def measure(targets: dict[str, str], request: Callable[[str, int], requests.Response],
            rounds: int) -> dict[str, list[float]]:
    """Alternates one request to each target per round; any error stops."""
    times: dict[str, list[float]] = {name: [] for name in targets}
    for i in range(rounds):
        order = list(targets.items()) if i % 2 == 0 else list(reversed(targets.items()))
        for name, url in order:
            start = time.perf_counter()
            res = request(url, i)
            elapsed = time.perf_counter() - start
            if res.status_code != 200:
                raise SystemExit(f"{name}: {res.request.url} answered {res.status_code}")
            times[name].append(elapsed)
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--state", required=True, help="the local stack's state folder")
    parser.add_argument("--datasets", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=200, help="requests per surface and side")
    parser.add_argument("--port-suite", type=int, default=5081)
    parser.add_argument("--port-stock", type=int, default=5082)
    args = parser.parse_args()

    token = sysadmin_token(args.state)
    with server(args.state, "bench-suite.ini", args.port_suite) as suite:
        print(f"preparing {args.datasets} datasets", flush=True)
        ensure_datasets(suite, token, args.datasets)
        with server(args.state, "bench-stock.ini", args.port_stock) as stock:
            targets = {"stock": stock, "suite": suite}
            words = ["vélo", "parking", "arbres", "bus", "budget", "eau"]
            surfaces = {
                "package_search": lambda url, i: requests.get(
                    f"{url}/api/3/action/package_search",
                    params={"q": words[i % len(words)], "rows": 20}, timeout=60),
                "dataset page": lambda url, i: requests.get(
                    f"{url}/dataset/bench-{(i * 7) % args.datasets:05d}", timeout=60),
            }
            for fn in surfaces.values():  # warm both servers up
                measure(targets, fn, 10)
            print(f"\n{args.rounds} requests per surface and side, alternating, one at a time\n")
            print(f"{'surface':<16}{'side':<7}{'p50 ms':>9}{'p95 ms':>9}{'req/s':>8}"
                  f"{'p50 ratio':>11}{'p95 ratio':>11}")
            worst = 0.0
            for surface, fn in surfaces.items():
                times = measure(targets, fn, args.rounds)
                base50 = percentile(times["stock"], 50)
                base95 = percentile(times["stock"], 95)
                for side in ("stock", "suite"):
                    p50, p95 = percentile(times[side], 50), percentile(times[side], 95)
                    rps = len(times[side]) / sum(times[side])
                    print(f"{surface:<16}{side:<7}{p50 * 1000:>9.1f}{p95 * 1000:>9.1f}{rps:>8.1f}"
                          f"{p50 / base50:>11.2f}{p95 / base95:>11.2f}")
                worst = max(worst, statistics.median(times["suite"]) / statistics.median(times["stock"]))
            print(f"\nworst median ratio, suite / stock: {worst:.2f} (target: at most 1.10)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
