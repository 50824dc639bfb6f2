#!/usr/bin/env python3
"""A simulated real-time bike-share feed for the demo, served locally.

    python demo/velov.py --port 5090 --stations demo/lyon/files/stations-velov.csv
    python demo/velov.py --year-csv PATH    # a past year of the same feed, hourly

Serves `/velov/disponibilites.geojson`: a GeoJSON FeatureCollection shaped
like the Vélo'v availability layer of the Lyon platform (Point geometry;
properties number, name, address, bike_stands, available_bikes,
available_bike_stands, status, last_update). Each station changes its
values every 1 to 5 minutes (its own rhythm), deterministically: a restart
serves the same values for the same minute. The answer carries an ETag and
a Last-Modified (the latest change); a conditional request for the current
version gets 304 Not Modified. Standard library only.

`--year-csv` writes the twelve whole months before the current one as CSV
(number, last_update, available_bikes, available_bike_stands, bike_stands,
status), one snapshot an hour, for `ckan history import` (the demo's
synthetic past).
"""

from __future__ import annotations

import argparse
import csv
import datetime
import email.utils
import hashlib
import http.server
import json
import sys
from pathlib import Path

PATH = "/velov/disponibilites.geojson"
DEFAULT_STATIONS = Path(__file__).resolve().parent / "lyon" / "files" / "stations-velov.csv"


def _hash(*parts: object) -> int:
    return int.from_bytes(hashlib.sha256("|".join(map(str, parts)).encode()).digest()[:8], "big")


def read_stations(path: Path) -> list[dict]:
    """id, nom, commune, capacite, latitude, longitude (the demo's station table)."""
    with open(path, encoding="utf-8", newline="") as f:
        return [{"number": int(row["id"]), "name": row["nom"], "commune": row["commune"],
                 "bike_stands": int(row["capacite"]), "lat": float(row["latitude"]),
                 "lon": float(row["longitude"])} for row in csv.DictReader(f)]


def station_state(station: dict, minute: int) -> tuple[dict, int]:
    """The station's properties at `minute` (minutes since the epoch) and the
    minute of its last change."""
    number, stands = station["number"], station["bike_stands"]
    period = 1 + _hash("period", number) % 5
    changed = minute - minute % period
    closed = _hash("closed", number, changed // 120) % 40 == 0   # now and then, for two hours
    broken = _hash("broken", number, changed // 60) % 3
    bikes = 0 if closed else _hash("bikes", number, changed) % (stands - broken + 1)
    free = 0 if closed else stands - broken - bikes
    last = datetime.datetime.fromtimestamp(changed * 60, datetime.timezone.utc)
    return {
        "number": number,
        "name": station["name"],
        "address": f"{station['name']}, {station['commune']}",
        "commune": station["commune"],
        "bike_stands": stands,
        "available_bikes": bikes,
        "available_bike_stands": free,
        "status": "CLOSED" if closed else "OPEN",
        "last_update": last.isoformat().replace("+00:00", "Z"),
    }, changed


def snapshot(stations: list[dict], minute: int) -> tuple[bytes, str, int]:
    """The FeatureCollection at `minute`, its ETag and its latest change."""
    features, latest = [], 0
    for station in stations:
        props, changed = station_state(station, minute)
        latest = max(latest, changed)
        point = {"type": "Point", "coordinates": [station["lon"], station["lat"]]}
        features.append({"type": "Feature", "properties": props, "geometry": point})
    body = json.dumps({"type": "FeatureCollection", "features": features},
                      ensure_ascii=False).encode("utf-8")
    return body, f'"velov-{latest}"', latest


def write_year(stations: list[dict], path: Path) -> int:
    """The twelve whole months before this one, hourly, as CSV; returns the rows."""
    today = datetime.datetime.now(datetime.timezone.utc)
    end = datetime.datetime(today.year, today.month, 1, tzinfo=datetime.timezone.utc)
    start = end.replace(year=end.year - 1)
    columns = ["number", "last_update", "available_bikes", "available_bike_stands",
               "bike_stands", "status", "name", "lat", "lon"]
    rows = 0
    tmp = path.with_suffix(path.suffix + ".part")
    with open(tmp, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(columns)
        hour = start
        while hour < end:
            minute = int(hour.timestamp() // 60)
            for station in stations:
                props, _changed = station_state(station, minute)
                props["last_update"] = hour.strftime("%Y-%m-%dT%H:%M:%S")
                props["lat"], props["lon"] = station["lat"], station["lon"]
                writer.writerow([props[c] for c in columns])
                rows += 1
            hour += datetime.timedelta(hours=1)
    tmp.replace(path)
    return rows


def make_handler(stations: list[dict]):
    class Handler(http.server.BaseHTTPRequestHandler):
        server_version = "velov-demo/1.0"

        def do_GET(self):  # noqa: N802
            if self.path.split("?", 1)[0] != PATH:
                self.send_error(404, "Not Found")
                return
            now = datetime.datetime.now(datetime.timezone.utc)
            body, etag, latest = snapshot(stations, int(now.timestamp() // 60))
            modified = email.utils.formatdate(latest * 60, usegmt=True)
            if self.headers.get("If-None-Match") == etag or (
                    not self.headers.get("If-None-Match")
                    and self.headers.get("If-Modified-Since") == modified):
                self.send_response(304)
                self.send_header("ETag", etag)
                self.send_header("Last-Modified", modified)
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/geo+json; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("ETag", etag)
            self.send_header("Last-Modified", modified)
            self.send_header("Cache-Control", "no-cache")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, fmt, *args):
            sys.stderr.write("%s %s\n" % (self.log_date_time_string(), fmt % args))

    return Handler


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5090)
    parser.add_argument("--stations", type=Path, default=DEFAULT_STATIONS)
    parser.add_argument("--year-csv", type=Path,
                        help="write a past year of the feed (hourly) to this CSV file and exit")
    args = parser.parse_args(argv)
    stations = read_stations(args.stations)
    if args.year_csv:
        rows = write_year(stations, args.year_csv)
        print(f"{args.year_csv}: {rows} rows", file=sys.stderr)
        return 0
    httpd = http.server.ThreadingHTTPServer((args.host, args.port), make_handler(stations))
    print(f"Vélo'v demo feed: http://{args.host}:{httpd.server_address[1]}{PATH} "
          f"({len(stations)} stations)", file=sys.stderr, flush=True)
    try:
        httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
