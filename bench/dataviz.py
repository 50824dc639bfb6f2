"""Benchmark (not a test): a chart view of a large DataStore table against
CKAN's own DataTables view of the same table.

    ./portal bench-dataviz [--rows 1000000] [--rounds 5]

Serves the suite (bench-suite.ini, written by the local stack) on loopback,
makes sure the dataset `bench-dataviz` holds a DataStore table of --rows rows
(the first rows through datastore_create, the others inserted by one
INSERT ... SELECT generate_series on the DataStore's write URL), with a monthly
line chart (dataviz_chart: avg of `value` by month of `t`) and a
datatables_view. Then measures, for each view:

- server time: the data request the view makes (dataviz_chart_data for the
  chart, /datatables/ajax for DataTables), median of --rounds;
- bytes of data sent to the browser for the first drawing, and all bytes of
  the page load (HTML, scripts, styles, data);
- time until drawn in headless Chromium (navigation to the view page until
  the chart is ready / the table's first rows are shown), median of --rounds.

Prints a table (quoted in the README, section "Dataviz").
"""

from __future__ import annotations

import argparse
import configparser
import os
import statistics
import sys
import time

import requests

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run import call, server, sysadmin_token  # noqa: E402

DATASET = "bench-dataviz"
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


def find(url: str, token: str, action: str, **data) -> dict | None:
    """An action's result, or None when the object does not exist."""
    res = requests.post(f"{url}/api/3/action/{action}", json=data,
                        headers={"Authorization": token}, timeout=60)
    return res.json()["result"] if res.status_code == 200 else None


def ini_option(state: str, key: str) -> str:
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.read(os.path.join(state, "bench-suite.ini"))
    for section in parser.sections():
        if parser.has_option(section, key):
            return parser.get(section, key)
    raise SystemExit(f"no {key} in bench-suite.ini")


def write_url(state: str) -> str:
    return ini_option(state, "ckan.datastore.write_url")


def ensure_table(url: str, token: str, state: str, rows: int) -> dict:
    """The dataset, its table of `rows` rows and both views (idempotent)."""
    pkg = find(url, token, "package_show", id=DATASET)
    if pkg is None:
        pkg = call(url, token, "package_create", name=DATASET, owner_org="bench-org",
                   title="Dataviz benchmark", access_level="open", license_id="lo-2.0")
    resources = [r for r in pkg.get("resources", []) if r.get("name") == "counts"]
    if resources:
        rid = resources[0]["id"]
    else:
        rid = call(url, token, "datastore_create", force=True,
                   resource={"package_id": pkg["id"], "name": "counts"},
                   fields=[{"id": "t", "type": "timestamp"}, {"id": "station", "type": "text"},
                           {"id": "value", "type": "float"}],
                   records=[{"t": "2020-01-01T00:00:00", "station": "s0", "value": 1.0}]
                   )["resource_id"]
    import psycopg2

    with psycopg2.connect(write_url(state)) as conn, conn.cursor() as cur:
        cur.execute(f'SELECT count(*) FROM "{rid}"')
        have = cur.fetchone()[0]
        if have < rows:
            print(f"inserting {rows - have} rows into the DataStore table...", flush=True)
            cur.execute(
                f'INSERT INTO "{rid}" (t, station, value) '
                "SELECT timestamp '2020-01-01' + (g * interval '3 minutes'), "
                "'s' || (g %% 50), (g %% 997) / 10.0 FROM generate_series(%s, %s) AS g",
                (have, rows - 1))
            cur.execute(f'ANALYZE "{rid}"')
    views = {v["view_type"]: v for v in call(url, token, "resource_view_list", id=rid)}
    if "dataviz_chart" not in views:
        views["dataviz_chart"] = call(url, token, "resource_view_create", resource_id=rid,
                                      view_type="dataviz_chart", title="Monthly average",
                                      chart_type="line", x="t", y="value", aggregate="avg",
                                      bucket="month")
    if "datatables_view" not in views:
        views["datatables_view"] = call(url, token, "resource_view_create", resource_id=rid,
                                        view_type="datatables_view", title="Table")
    return {"rid": rid, "views": views}


def server_times(url: str, token: str, world: dict, rounds: int) -> dict:
    out = {}
    chart = world["views"]["dataviz_chart"]["id"]
    table = world["views"]["datatables_view"]["id"]
    times, size = [], 0
    for _ in range(rounds):
        start = time.perf_counter()
        res = requests.get(f"{url}/api/3/action/dataviz_chart_data",
                           params={"view_id": chart}, headers={"Authorization": token},
                           timeout=300)
        times.append(time.perf_counter() - start)
        size = len(res.content)
        res.raise_for_status()
    out["chart"] = (statistics.median(times), size)
    form = {"draw": "1", "search[value]": "", "start": "0", "length": "10",
            "order[0][column]": "0", "order[0][dir]": "asc"}
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        res = requests.post(f"{url}/datatables/ajax/{table}", data=form,
                            headers={"Authorization": token}, timeout=300)
        times.append(time.perf_counter() - start)
        size = len(res.content)
        res.raise_for_status()
    out["table"] = (statistics.median(times), size)
    return out


def browser_times(url: str, world: dict, rounds: int) -> dict:
    from playwright.sync_api import sync_playwright

    pkg, rid = DATASET, world["rid"]
    targets = {
        "chart": ("dataviz_chart", "[data-dataviz-chart][data-state=ready]",
                  "dataviz_chart_data"),
        "table": ("datatables_view", "#dtprv tbody tr td", "/datatables/ajax"),
    }
    out = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        for key, (view_type, ready, data_path) in targets.items():
            view_id = world["views"][view_type]["id"]
            times, total, data = [], 0, 0
            for i in range(rounds + 1):  # the first load warms caches up
                context = browser.new_context()
                page = context.new_page()
                sizes = {"total": 0, "data": 0}

                def on_response(response, sizes=sizes, data_path=data_path):
                    try:
                        n = len(response.body())
                    except Exception:
                        return
                    sizes["total"] += n
                    if data_path in response.url:
                        sizes["data"] += n

                page.on("response", on_response)
                problems: list[str] = []
                page.on("console", lambda m, problems=problems: problems.append(m.text)
                        if m.type == "error" else None)
                page.on("pageerror", lambda e, problems=problems: problems.append(str(e)))
                start = time.perf_counter()
                page.goto(f"{url}/dataset/{pkg}/resource/{rid}/view/{view_id}")
                try:
                    page.locator(ready).first.wait_for(timeout=120000)
                except Exception:
                    print(f"{key}: not drawn within 120 s: {problems[:3]}", flush=True)
                    context.close()
                    break
                elapsed = time.perf_counter() - start
                page.wait_for_load_state("networkidle")
                if i:
                    times.append(elapsed)
                total, data = sizes["total"], sizes["data"]
                context.close()
            out[key] = (statistics.median(times) if times else None, data, total)
        browser.close()
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--state", required=True)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--port", type=int, default=0,
                        help="default: the port of ckan.site_url (DataTables' requests go there)")
    args = parser.parse_args()
    if not args.port:
        args.port = int(ini_option(args.state, "ckan.site_url").rsplit(":", 1)[1].split("/")[0])
    token = sysadmin_token(args.state)
    with server(args.state, "bench-suite.ini", args.port) as url:
        if find(url, token, "organization_show", id="bench-org") is None:
            call(url, token, "organization_create", name="bench-org",
                 title="Organisation de test")
        world = ensure_table(url, token, args.state, args.rows)
        srv = server_times(url, token, world, args.rounds)
        web = browser_times(url, world, args.rounds)
    print(f"\nDataviz benchmark: {args.rows:,} rows, median of {args.rounds} "
          "(2 cores shared, warm cache)\n")
    print("| view | data request: server time | data bytes to the browser | "
          "all bytes of the page | time until drawn (Chromium) |")
    print("| --- | ---: | ---: | ---: | ---: |")
    names = {"chart": "dataviz_chart (monthly line, avg)", "table": "datatables_view (CKAN)"}
    for key in ("chart", "table"):
        seconds, _size = srv[key]
        drawn, data, total = web[key]
        drawn_text = f"{drawn * 1000:.0f} ms" if drawn is not None else "not drawn"
        print(f"| {names[key]} | {seconds * 1000:.0f} ms | {data:,} B | {total:,} B | "
              f"{drawn_text} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
