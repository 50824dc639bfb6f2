"""The ingest worker: `ckan history ingest` polls each enabled feed when it
is due and stores its values in the resource's history.

One poll (`poll_feed`):
- a conditional GET through the portal's outbound guard (If-None-Match with
  the last ETag, If-Modified-Since with the last Last-Modified; 304 means
  nothing new), with a timeout, an overall time limit (a source that drips
  its answer) and a size cap (counted decompressed);
- the body parsed as a GeoJSON FeatureCollection, a JSON array of objects or
  CSV, each value checked against its declared type;
- with store mode `changes`, only the features whose values differ from their
  latest stored values; with `every`, every feature of every poll;
- rows written through `store.write_rows`, which skips a (feature, time)
  already stored: a worker killed and restarted never stores a row twice.

Data from outside is never trusted. A poll fails, stores nothing and opens a
gap (closed by the next success) when the source is unreachable, slow, too
large, answers an HTTP error, sends HTML, text that is not UTF-8 or not in
the declared format, or when its data no longer matches the feed's
declaration: a declared field (or the identifier or time field) that no
feature carries any more, or that holds no value of its type (renamed,
removed, typed differently). Nothing is then stored as NULL in place of a
value: the next poll that matches stores its values. Within a poll that
matches, a feature is left out (and counted, by reason) when it has no
usable identifier, an unreadable time or one more than a day ahead, lacks
a declared field, holds a value not of its type, is sent twice with other
values for the same time, or has a time before the last one stored for it
(the source's clock went back; with a time field only). When every feature
is left out, the poll fails. Every failure and every left-out feature is
recorded as a problem (problems.py) that the history page says in the
reader's language: what happened, what was kept, what to do.

A failed poll schedules a retry with exponential back-off. The worker logs
one line per poll and keeps running whatever a source does.

Several workers may run: each claims a due feed with
`SELECT ... FOR UPDATE SKIP LOCKED` and pushes its next poll time before
fetching, so two workers never poll the same feed at once.
"""

from __future__ import annotations

import contextlib
import csv
import datetime
import io
import json
import logging
import signal
import threading
import time as time_module
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import ckan.model as model
import click
import sqlalchemy as sa
from ckanext.grandlyon_access.shared import OutboundError, fetch, is_storable_text
from ckanext.history import config, problems, store
from ckanext.history.model import Feed, Gap, utcnow

log = logging.getLogger(__name__)

# A JSON document that is an object rather than an array: the keys under which
# APIs commonly put their list of records.
RECORD_KEYS = ("values", "features", "records", "results", "data", "items")
# The shortest sleep of the worker between two looks at the feeds: a feed due
# but locked by another worker is not claimed, and must not make it spin.
MIN_WAIT_SECONDS = 0.5
# Booleans as French sources write them (the store reads the English ones).
FRENCH_BOOLEANS = {"oui": "true", "vrai": "true", "non": "false", "faux": "false"}
# A feature's time may be ahead of the fetch by this much (clocks drift, time
# zones are mistaken); beyond, it is left out: stored, it would hide every
# later correct time behind it.
FUTURE_TOLERANCE = datetime.timedelta(days=1)
# Longest feature identifier (the store's primary key holds it).
MAX_ID_LENGTH = 200
# The start of an HTML or XML document sent instead of CSV (no JSON starts
# with "<" at all).
MARKUP_STARTS = (b"<!doctype", b"<html", b"<?xml", b"<head", b"<body")
# A CSV row shorter than its header: its missing cells are missing fields.
_ABSENT = object()


class FeedError(Exception):
    """A poll that failed: `reason` (English) is logged and recorded in the
    gap and the feed; `problem` says it in the reader's language."""

    def __init__(self, reason: str, code: str = "malformed", details: list[dict] | None = None,
                 **params: Any):
        super().__init__(reason)
        self.reason = reason
        self.problem = problems.problem(code, details, **params)


class Skipped:
    """Features left out of a poll, by reason and field: how many, and the
    first one's particulars as an example."""

    def __init__(self) -> None:
        self.counts: dict[tuple[str, Any], int] = {}
        self.examples: dict[tuple[str, Any], dict] = {}

    def add(self, code: str, count: int = 1, **params: Any) -> None:
        key = (code, params.get("field"))
        self.counts[key] = self.counts.get(key, 0) + count
        self.examples.setdefault(key, params)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def codes(self) -> list[str]:
        return list(dict.fromkeys(code for code, _field in self.counts))

    def details(self) -> list[dict]:
        return [{"code": key[0], "params": {**self.examples[key], "count": count}}
                for key, count in self.counts.items()]


@dataclass
class Parsed:
    rows: list[dict] = field(default_factory=list)
    seen: int = 0          # features read from the body
    skipped: Skipped = field(default_factory=Skipped)

    @property
    def malformed(self) -> int:
        """Features left out, whatever the reason."""
        return self.skipped.total


@dataclass
class PollResult:
    resource_id: str
    status: str            # stored, not_modified, failed
    http_status: int | None = None
    features: int = 0
    stored: int = 0
    malformed: int = 0
    reason: str = ""
    seconds: float = 0.0

    def line(self) -> str:
        if self.status == "failed":
            return (f"feed {self.resource_id}: FAILED ({self.reason}) "
                    f"in {self.seconds:.2f}s")
        if self.status == "not_modified":
            return f"feed {self.resource_id}: 304 not modified in {self.seconds:.2f}s"
        return (f"feed {self.resource_id}: {self.http_status}, {self.features} features, "
                f"{self.stored} rows stored, {self.malformed} malformed in {self.seconds:.2f}s")


# --- parsing ---------------------------------------------------------------------------

def _refuse_markup(feed: Feed, body: bytes, status: int | None) -> None:
    start = body[:200].lstrip().lower()
    if start.startswith(MARKUP_STARTS) or (feed.format != "csv" and start.startswith(b"<")):
        kind = "CSV" if feed.format == "csv" else "JSON"
        raise FeedError(f"HTML or XML instead of {kind}", "html", format=kind, status=status)


def _records(feed: Feed, body: bytes, status: int | None = 200) -> list:
    """The body as a list of flat records (dicts of property -> value); a
    record that is not an object stays in the list (counted, left out)."""
    _refuse_markup(feed, body, status)
    if feed.format == "csv":
        try:
            text = body.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = body.decode("latin-1")  # the other encoding of French CSV files
        if not text.strip():
            raise FeedError("empty CSV body", "empty")
        sample = text[:4096]
        try:
            dialect = csv.Sniffer().sniff(sample, delimiters=",;\t|")
        except csv.Error:
            dialect = csv.excel
        try:
            reader = csv.DictReader(io.StringIO(text), dialect=dialect, restval=_ABSENT)
            if not reader.fieldnames or feed.feature_id_field not in reader.fieldnames:
                raise FeedError(f"CSV without a {feed.feature_id_field} column", "no_id_column",
                                field=feed.feature_id_field)
            return [{k: v for k, v in row.items() if k is not None and v is not _ABSENT}
                    for row in reader]
        except csv.Error:
            raise FeedError("malformed CSV", "malformed", format="CSV") from None
    if not body.strip():
        raise FeedError("empty JSON body", "empty")
    try:
        document = json.loads(body)
    except UnicodeDecodeError as error:
        raise FeedError("not valid UTF-8", "encoding", position=error.start) from None
    except (ValueError, RecursionError):
        raise FeedError("malformed JSON", "malformed", format="JSON") from None
    if feed.format == "geojson":
        if not isinstance(document, dict) or document.get("type") != "FeatureCollection" \
                or not isinstance(document.get("features"), list):
            raise FeedError("not a GeoJSON FeatureCollection", "not_collection")
        records = []
        for feature in document["features"]:
            if not isinstance(feature, dict):
                records.append(None)
                continue
            props = feature.get("properties")
            record = dict(props) if isinstance(props, dict) else {}
            if "id" in feature and "id" not in record:
                record["id"] = feature["id"]
            _point_coordinates(feed, feature.get("geometry"), record)
            records.append(record)
        return records
    if isinstance(document, dict):
        for key in RECORD_KEYS:
            if isinstance(document.get(key), list):
                document = document[key]
                break
    if not isinstance(document, list):
        raise FeedError("not a JSON array of objects", "not_array")
    return document


def _point_coordinates(feed: Feed, geometry: Any, record: dict) -> None:
    """The fields declared `coordinate` (lat, lon) that the properties lack,
    from the feature's Point geometry ([lon, lat] in GeoJSON); another
    geometry gives none (the field is then missing, as in the properties)."""
    wanted = {f.get("coordinate"): f["name"] for f in feed.fields or []
              if f.get("coordinate") and f["name"] not in record}
    if not wanted or not isinstance(geometry, dict) or geometry.get("type") != "Point":
        return
    position = geometry.get("coordinates")
    if not isinstance(position, list) or len(position) < 2:
        return
    for axis, index in (("lon", 0), ("lat", 1)):
        if axis in wanted:
            record[wanted[axis]] = position[index]


def parse_time(value: Any) -> datetime.datetime:
    """A row's time: ISO 8601 text (an offset is converted to UTC; none means
    UTC) or epoch seconds (or milliseconds, from 10^12). Raises ValueError."""
    if isinstance(value, bool):
        raise ValueError("a boolean is not a time")
    if isinstance(value, (int, float)) or (isinstance(value, str) and value.strip().isdigit()):
        seconds = float(value)
        # Seconds up to year 5138, milliseconds from 2001 to 5138; between the
        # two a number could be either, and is no time.
        if 1e12 <= seconds < 1e14:
            seconds /= 1000.0
        elif not -1e11 < seconds < 1e11:
            raise ValueError(f"not a time in seconds or milliseconds: {value!r}")
        return datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc).replace(tzinfo=None)
    if isinstance(value, str) and len(value.strip()) >= 10:
        text = value.strip().replace(" ", "T", 1) if "T" not in value else value.strip()
        return store.parse_time(text)
    raise ValueError(f"not a time: {value!r}")


def _time_of(value: Any) -> datetime.datetime | None:
    try:
        return parse_time(value)
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def is_blank(raw: Any) -> bool:
    return raw is None or (isinstance(raw, str) and raw.strip() == "")


def value_of(raw: Any, type_: str) -> tuple[bool, Any]:
    """(readable, value) of a non-blank raw value as its declared type: a
    boolean is no number, a number other than 0 and 1 no boolean, a value
    out of range or holding a NUL character is not readable."""
    if isinstance(raw, (dict, list)):
        if type_ != "text":
            return False, None
        raw = json.dumps(raw, ensure_ascii=False)
    if isinstance(raw, bool) and type_ in ("int", "float"):
        return False, None
    if type_ == "bool" and isinstance(raw, (int, float)) and not isinstance(raw, bool) \
            and raw not in (0, 1):
        return False, None
    if type_ == "float" and isinstance(raw, str):
        raw = raw.strip().replace(",", ".")  # a decimal comma
    if type_ == "bool" and isinstance(raw, str):
        raw = FRENCH_BOOLEANS.get(raw.strip().lower(), raw)
    if isinstance(raw, str) and not is_storable_text(raw):
        return False, None
    coerced = store.coerce(raw, type_)
    return coerced is not None, coerced


def _check_declaration(feed: Feed, records: list[dict], fields: list[dict]) -> None:
    """Refuses (FeedError) a poll whose features no longer match the feed's
    declaration: the identifier, the time or a declared field carried by no
    feature, or holding no value of its type in any."""
    if not records:
        return
    count = len(records)
    if not any(not is_blank(r.get(feed.feature_id_field)) for r in records):
        raise FeedError(f"no feature carries the identifier field {feed.feature_id_field}",
                        "id_missing", field=feed.feature_id_field, count=count)
    if feed.time_field:
        times = [r[feed.time_field] for r in records if not is_blank(r.get(feed.time_field))]
        if not any(feed.time_field in r for r in records):
            raise FeedError(f"no feature carries the time field {feed.time_field}",
                            "time_missing", field=feed.time_field, count=count)
        if times and all(_time_of(t) is None for t in times):
            raise FeedError(f"no readable time in {feed.time_field}", "time_unreadable",
                            field=feed.time_field, count=count, example=repr(times[0]))
    for f in fields:
        name, type_ = f["name"], f["type"]
        if not any(name in r for r in records):
            raise FeedError(f"field {name} missing from all {count} features", "field_missing",
                            field=name, count=count)
        given = [r[name] for r in records if not is_blank(r.get(name))]
        if given and not any(value_of(v, type_)[0] for v in given):
            raise FeedError(f"field {name} is not of type {type_} in any feature "
                            f"(e.g. {given[0]!r})", "field_type", field=name, type=type_, count=count,
                            example=repr(given[0]))


def parse(feed: Feed, body: bytes, fetched_at: datetime.datetime,
          status: int | None = 200) -> Parsed:
    """The rows a body holds, each `{"feature", "time", "values"}` with values
    of the declared types. Raises FeedError when the body or its features do
    not match the feed's declaration; leaves out (and counts by reason) a
    feature without a usable identifier, with an unreadable or future time,
    lacking a declared field or holding a value not of its type, and the
    features sent twice with other values for the same time."""
    out = Parsed()
    fields = list(feed.fields or [])
    records = _records(feed, body, status)
    out.seen = len(records)
    objects = [r for r in records if isinstance(r, dict)]
    if len(objects) < len(records):
        out.skipped.add("not_object", len(records) - len(objects))
    _check_declaration(feed, objects, fields)
    latest_allowed = fetched_at + FUTURE_TOLERANCE
    rows: dict[tuple[str, datetime.datetime], list[dict]] = {}
    for record in objects:
        raw_id = record.get(feed.feature_id_field)
        feature = "" if raw_id is None or isinstance(raw_id, (dict, list)) else str(raw_id).strip()
        if not feature or len(feature) > MAX_ID_LENGTH or not is_storable_text(feature):
            out.skipped.add("bad_id", field=feed.feature_id_field)
            continue
        if feed.time_field:
            when = _time_of(record.get(feed.time_field))
            if when is None or when < store.EARLIEST_TIME:
                out.skipped.add("bad_time", field=feed.time_field, example=feature,
                                value=repr(record.get(feed.time_field)))
                continue
            if when > latest_allowed:
                out.skipped.add("future_time", example=feature, value=when.isoformat())
                continue
        else:
            when = fetched_at
        values, problem = {}, None
        for f in fields:
            name = f["name"]
            if name not in record:
                problem = ("missing_field", {"field": name, "example": feature})
                break
            raw = record[name]
            if is_blank(raw):
                values[name] = None
                continue
            readable, value = value_of(raw, f["type"])
            if not readable:
                problem = ("bad_value", {"field": name, "type": f["type"], "example": feature,
                                         "value": repr(raw)})
                break
            values[name] = value
        if problem is not None:
            out.skipped.add(problem[0], **problem[1])
            continue
        rows.setdefault((feature, when), []).append(values)
    for (feature, when), versions in rows.items():
        if any(v != versions[0] for v in versions[1:]):
            out.skipped.add("duplicate", len(versions), example=feature)
            continue
        out.rows.append({"feature": feature, "time": when, "values": versions[0]})
    return out


def _comparable(values: dict | None, fields: list[dict]) -> tuple:
    """Values as stored (JSON) and as parsed compare the same way."""
    values = values or {}
    return tuple(store.coerce(values.get(f["name"]), f["type"]) for f in fields)


# feature -> (time, values comparable) of its latest row per feed, as this
# process last left them, with the feed's last_success_at then: valid as long
# as nobody else (another worker, a restart) polled the feed since. Saves
# reading the latest row of every feature from the hot tier at each poll.
_LATEST: dict[str, tuple[datetime.datetime | None, dict[str, tuple]]] = {}


def _latest_of(feed: Feed, fields: list[dict]) -> dict[str, tuple]:
    cached = _LATEST.get(feed.resource_id)
    if cached is not None and cached[0] == feed.last_success_at and feed.last_success_at:
        return dict(cached[1])
    return {feature: (when, _comparable(values, fields))
            for feature, (when, values) in store.latest_rows(feed.resource_id).items()}


def drop_older(feed: Feed, parsed: Parsed, latest: dict[str, tuple]) -> list[dict]:
    """The rows not before their feature's latest stored time; a row before
    it (the source's clock went back) or at it with other values is left
    out and counted. A row before it whose values are those stored for its
    time already (a feed that repeats its last readings) is nothing new:
    left out silently."""
    fields = list(feed.fields or [])
    earlier = [(row["feature"], row["time"]) for row in parsed.rows
               if (latest.get(row["feature"]) or (None, None))[0] is not None
               and row["time"] < latest[row["feature"]][0]]
    # The row in force then: the same row, or (storing changes only) the last
    # change before it.
    stored = store.rows_in_force(feed.resource_id, earlier) if earlier else {}
    kept = []
    for row in parsed.rows:
        known = latest.get(row["feature"])
        if known is not None and known[0] is not None:
            if row["time"] < known[0]:
                when, before = stored.get((row["feature"], row["time"]), (None, None))
                if when is not None and (when == row["time"] or feed.store_mode == "changes") \
                        and _comparable(before, fields) == _comparable(row["values"], fields):
                    continue
                parsed.skipped.add("older", example=row["feature"], value=row["time"].isoformat(),
                                   latest=known[0].isoformat())
                continue
            if row["time"] == known[0] and _comparable(row["values"], fields) != known[1]:
                parsed.skipped.add("same_time", example=row["feature"],
                                   value=row["time"].isoformat())
                continue
        kept.append(row)
    return kept


def only_changes(feed: Feed, rows: list[dict], latest: dict[str, tuple]) -> list[dict]:
    """The rows whose values differ from their feature's latest stored values
    (and from an earlier row of the same feature in this poll)."""
    fields = list(feed.fields or [])
    previous = {feature: values for feature, (_when, values) in latest.items()}
    kept = []
    for row in sorted(rows, key=lambda r: r["time"]):
        now = _comparable(row["values"], fields)
        if previous.get(row["feature"]) != now:
            kept.append(row)
            previous[row["feature"]] = now
    return kept


def _remember(latest: dict[str, tuple], rows: list[dict], fields: list[dict]) -> dict[str, tuple]:
    for row in sorted(rows, key=lambda r: r["time"]):
        known = latest.get(row["feature"])
        if known is None or known[0] is None or row["time"] >= known[0]:
            latest[row["feature"]] = (row["time"], _comparable(row["values"], fields))
    return latest


# --- one poll --------------------------------------------------------------------------

def _backoff(feed: Feed) -> datetime.timedelta:
    """The wait after the n-th consecutive failure: the interval, doubled at
    each further failure, at most the configured maximum."""
    interval = max(int(feed.interval_seconds or 60), 1)
    ceiling = max(config.ingest_max_backoff(), interval)
    exponent = min(max(feed.consecutive_failures - 1, 0), 30)
    return datetime.timedelta(seconds=min(interval * 2 ** exponent, ceiling))


def _fail(feed: Feed, reason: str, problem: dict, now: datetime.datetime) -> None:
    feed.consecutive_failures = (feed.consecutive_failures or 0) + 1
    feed.last_error = reason[:500]
    feed.problem = problem
    feed.last_fetch_at = now
    feed.next_poll_at = now + _backoff(feed)
    gap = (model.Session.query(Gap)
           .filter(Gap.resource_id == feed.resource_id, Gap.end.is_(None)).one_or_none())
    if gap is None:
        model.Session.add(Gap(resource_id=feed.resource_id, start=now, reason=reason[:500],
                              problem=problem, attempts=1))
    else:
        gap.attempts = (gap.attempts or 0) + 1


def _succeed(feed: Feed, now: datetime.datetime, problem: dict | None = None) -> None:
    feed.consecutive_failures = 0
    feed.last_error = problems.english(problem)[:500] or None
    feed.problem = problem
    feed.last_fetch_at = now
    feed.last_success_at = now
    feed.next_poll_at = now + datetime.timedelta(seconds=max(int(feed.interval_seconds or 60), 1))
    gap = (model.Session.query(Gap)
           .filter(Gap.resource_id == feed.resource_id, Gap.end.is_(None)).one_or_none())
    if gap is not None:
        gap.end = now


class _TooSlow(Exception):
    """The overall time limit of a fetch ran out."""


@contextlib.contextmanager
def _time_limit(seconds: float) -> Iterator[None]:
    """Raises _TooSlow in the block once `seconds` have passed, however the
    source drips its answer (the outbound guard's timeout bounds each wait,
    not the whole). A signal timer: in the main thread only, where the
    worker polls; elsewhere the block runs without an overall limit."""
    if threading.current_thread() is not threading.main_thread() \
            or not hasattr(signal, "setitimer"):
        yield
        return

    def expire(_signum, _frame):
        raise _TooSlow()

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous if previous is not None else signal.SIG_DFL)


def _fetch(feed: Feed):
    headers = {"Accept": {"geojson": "application/geo+json, application/json",
                          "json": "application/json", "csv": "text/csv"}[feed.format],
               "User-Agent": "ckanext-history ingest"}
    # A conditional request, unless every poll must give a row of each
    # feature stamped with the fetch time (store mode `every`, no time field).
    conditional = feed.store_mode == "changes" or bool(feed.time_field)
    if conditional and feed.etag:
        headers["If-None-Match"] = feed.etag
    if conditional and feed.last_modified:
        headers["If-Modified-Since"] = feed.last_modified
    limit = config.ingest_max_seconds()
    try:
        with _time_limit(limit):
            return fetch(feed.url, timeout=config.ingest_timeout(), headers=headers,
                         max_bytes=config.ingest_max_bytes())
    except _TooSlow:
        raise FeedError(f"too slow: the answer was not complete after {limit} seconds",
                        "too_slow", seconds=limit) from None


# The kinds of the outbound guard's errors, as problems.
OUTBOUND_PROBLEMS = {"refused": "refused", "timeout": "timeout", "unreachable": "unreachable",
                     "too_large": "too_large", "http": "redirects"}


def _refuse_lost_data(feed: Feed, parsed: Parsed, fields: list[dict], latest: dict[str, tuple]) -> None:
    """Refuses (FeedError) a poll that would store emptiness in place of data
    the feed used to send: no feature at all while the history holds some,
    or a declared field blank in every feature while every feature's latest
    stored row holds a value of it (a field that some features leave blank
    may be blank in all)."""
    if not parsed.seen:
        known = store.feature_count(feed.resource_id)
        if known:
            raise FeedError(f"no feature in the answer, while the history holds {known}",
                            "no_features", known=known)
        return
    if not parsed.rows:
        return
    blank = [i for i, f in enumerate(fields)
             if all(row["values"].get(f["name"]) is None for row in parsed.rows)]
    if not blank:
        return
    latest = latest or _latest_of(feed, fields)
    for i in blank:
        if latest and all(values[i] is not None for _when, values in latest.values()):
            name = fields[i]["name"]
            raise FeedError(f"field {name} empty in all {len(parsed.rows)} features",
                            "field_empty", field=name, count=len(parsed.rows))


def _store_poll(feed: Feed, answer, now: datetime.datetime, result: PollResult) -> None:
    """Parses a 200 answer, stores what is new and records the poll."""
    fields = list(feed.fields or [])
    parsed = parse(feed, answer.content, now, answer.status)
    result.features = parsed.seen
    with_latest = feed.store_mode == "changes" or bool(feed.time_field)
    latest = _latest_of(feed, fields) if with_latest else {}
    rows = drop_older(feed, parsed, latest) if feed.time_field else parsed.rows
    result.malformed = parsed.malformed
    _refuse_lost_data(feed, parsed, fields, latest)
    if parsed.seen and not rows:
        raise FeedError(f"no usable feature ({parsed.malformed} malformed: "
                        f"{', '.join(parsed.skipped.codes)})", "no_usable_feature",
                        parsed.skipped.details(), count=parsed.seen)
    if feed.store_mode == "changes":
        rows = only_changes(feed, rows, latest)
    result.stored = store.write_rows(feed.resource_id, rows, fields)
    feed.etag = answer.headers.get("ETag")
    feed.last_modified = answer.headers.get("Last-Modified")
    problem = None
    if parsed.skipped.total:
        problem = problems.problem("features_skipped", parsed.skipped.details(),
                                   skipped=parsed.skipped.total, count=parsed.seen)
    _succeed(feed, now, problem)
    if with_latest:
        _LATEST[feed.resource_id] = (now, _remember(latest, rows, fields))
    result.status = "stored"


def poll_feed(resource_id: str, now: datetime.datetime | None = None) -> PollResult:
    """Polls one feed now, stores what is new, records the outcome (and a gap
    on failure) and commits. Never raises for a failure of the source."""
    started = time_module.monotonic()
    # CKAN's session keeps objects across commits: read what the publishers
    # changed since the last poll (URL, fields, schedule).
    model.Session.expire_all()
    feed = model.Session.query(Feed).filter(Feed.resource_id == resource_id).one_or_none()
    if feed is None:
        raise LookupError(f"no feed for resource {resource_id}")
    now = now or utcnow().replace(microsecond=0)
    result = PollResult(resource_id=resource_id, status="failed")
    try:
        answer = _fetch(feed)
        result.http_status = answer.status
        if answer.status == 304:
            result.status = "not_modified"
            cached = _LATEST.get(feed.resource_id)
            if cached is not None and cached[0] != feed.last_success_at:
                _LATEST.pop(feed.resource_id, None)
            _succeed(feed, now)
            if feed.resource_id in _LATEST:
                _LATEST[feed.resource_id] = (now, _LATEST[feed.resource_id][1])
        elif answer.status != 200:
            raise FeedError(f"HTTP {answer.status}", "http_status", status=answer.status)
        else:
            _store_poll(feed, answer, now, result)
    except OutboundError as error:
        result.reason = f"{error.kind}: {error.reason}"
        _fail(feed, result.reason, problems.problem(
            OUTBOUND_PROBLEMS.get(error.kind, "unreachable"), seconds=config.ingest_timeout(),
            max_bytes=config.ingest_max_bytes()), now)
    except FeedError as error:
        result.reason = error.reason
        _fail(feed, result.reason, error.problem, now)
    result.seconds = time_module.monotonic() - started
    try:
        model.Session.commit()
    except Exception:
        _LATEST.pop(feed.resource_id, None)
        raise
    (log.warning if result.status == "failed" else log.info)(result.line())
    return result


# --- the worker ------------------------------------------------------------------------

def _pollable(only: Iterable[str] = (), skip: Iterable[str] = ()) -> list:
    """The conditions on a feed that a worker polls: enabled, of an active
    resource of an active dataset (a feed whose resource was deleted or
    purged waits for `ckan history compact` to prune it), among `only`, not
    in `skip`. Claiming and waiting share them, so that the worker never
    waits on a feed it will not claim."""
    live = (sa.select(model.Resource.id)
            .join(model.Package, model.Package.id == model.Resource.package_id)
            .where(model.Resource.state == "active", model.Package.state == "active"))
    conditions = [Feed.enabled.is_(True), Feed.resource_id.in_(live)]
    only, skip = list(only), list(skip)
    if only:
        conditions.append(Feed.resource_id.in_(only))
    if skip:
        conditions.append(Feed.resource_id.notin_(skip))
    return conditions


def claim_due_feed(only: Iterable[str] = (), force: bool = False,
                   skip: Iterable[str] = ()) -> str | None:
    """Takes the next due feed (locking it against other workers) and pushes
    its next poll time by its interval, so that a worker killed mid-poll
    retries later; returns its resource id, or None when none is due. Feeds
    of deleted resources or datasets are left alone."""
    now = utcnow()
    query = (model.Session.query(Feed.resource_id, Feed.interval_seconds)
             .filter(*_pollable(only, skip)))
    if not force:
        query = query.filter(sa.or_(Feed.next_poll_at.is_(None), Feed.next_poll_at <= now))
    row = (query.order_by(Feed.next_poll_at.asc().nullsfirst())
           .limit(1).with_for_update(skip_locked=True, of=Feed).first())
    if row is None:
        model.Session.rollback()
        return None
    resource_id, interval = row
    (model.Session.query(Feed).filter(Feed.resource_id == resource_id)
     .update({Feed.next_poll_at: now + datetime.timedelta(seconds=max(interval or 60, 1))},
             synchronize_session=False))
    model.Session.commit()
    return resource_id


def seconds_until_next(only: Iterable[str] = ()) -> float:
    """Seconds until the next feed that `claim_due_feed` would claim falls
    due (0 when one is due now), at most the configured idle time. A feed
    due but locked by another worker counts as due in a moment: the wait is
    at least a short pause, never a spin."""
    next_at = (model.Session.query(sa.func.min(sa.func.coalesce(Feed.next_poll_at, utcnow())))
               .filter(*_pollable(only)).scalar())
    model.Session.rollback()
    idle = float(config.ingest_idle_seconds())
    if next_at is None:
        return idle
    return max(MIN_WAIT_SECONDS, min(idle, (next_at - utcnow()).total_seconds()))


def run_once(only: Iterable[str] = (), force: bool = False) -> list[PollResult]:
    """Polls every due feed once (every selected feed with `force`)."""
    results, done = [], []
    only = list(only)
    while True:
        resource_id = claim_due_feed(only, force=force, skip=done)
        if resource_id is None:
            return results
        done.append(resource_id)
        results.append(_poll_safely(resource_id))


def _poll_safely(resource_id: str) -> PollResult:
    """poll_feed, and an unexpected error is logged and recorded, never raised."""
    try:
        return poll_feed(resource_id)
    except Exception as error:  # the worker outlives any one feed
        _rollback_quietly()
        log.exception("feed %s: unexpected error", resource_id)
        reason = f"internal error: {type(error).__name__}"
        try:
            feed = model.Session.query(Feed).filter(Feed.resource_id == resource_id).one_or_none()
            if feed is not None:
                _fail(feed, reason, problems.problem("internal", error=type(error).__name__),
                      utcnow().replace(microsecond=0))
                model.Session.commit()
        except Exception:
            model.Session.rollback()
            log.exception("feed %s: could not record the failure", resource_id)
        return PollResult(resource_id=resource_id, status="failed", reason=reason)


def _rollback_quietly() -> None:
    try:
        model.Session.rollback()
    except Exception:  # a connection already gone: the session starts anew
        model.Session.remove()


def run_forever(only: Iterable[str] = ()) -> None:
    """Polls feeds as they fall due until SIGTERM or SIGINT."""
    stopping = {"now": False}

    def stop(_signum, _frame):
        stopping["now"] = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    only = list(only)
    log.info("history ingest worker started%s", f" for {', '.join(only)}" if only else "")
    while not stopping["now"]:
        try:
            resource_id = claim_due_feed(only)
            wait = seconds_until_next(only) if resource_id is None else 0.0
        except Exception:  # the database is away (restarting): wait, then retry
            _rollback_quietly()
            log.exception("could not read the feeds; retrying")
            resource_id, wait = None, float(config.ingest_idle_seconds())
        if resource_id is not None:
            _poll_safely(resource_id)
            continue
        deadline = time_module.monotonic() + wait
        while not stopping["now"] and time_module.monotonic() < deadline:
            time_module.sleep(min(0.5, max(deadline - time_module.monotonic(), 0)))
    log.info("history ingest worker stopped")


@click.command("ingest", short_help="Poll the feeds and store their history (a worker).")
@click.option("--once", is_flag=True, help="Poll the feeds that are due once, then exit.")
@click.option("--feed", "feeds", multiple=True, metavar="RESOURCE_ID",
              help="Only this feed (repeatable).")
@click.option("--force", is_flag=True, help="With --once: poll even the feeds not yet due.")
def ingest_command(once: bool, feeds: tuple[str, ...], force: bool) -> None:
    """Polls each enabled feed when it is due and stores its new values.
    Runs until stopped (SIGTERM), or once with --once."""
    if once:
        results = run_once(feeds, force=force)
        for result in results:
            click.echo(result.line())
        failed = sum(1 for r in results if r.status == "failed")
        click.echo(f"{len(results)} feeds polled, {failed} failed")
        return
    run_forever(feeds)
