"""The ingest worker: `ckan history ingest` polls each enabled feed when it
is due and stores its values in the resource's history.

One poll (`poll_feed`):
- a conditional GET through the portal's outbound guard (If-None-Match with
  the last ETag, If-Modified-Since with the last Last-Modified; 304 means
  nothing new), with a timeout and a size cap;
- the body parsed as a GeoJSON FeatureCollection, a JSON array of objects or
  CSV, each value coerced to its declared type;
- with store mode `changes`, only the features whose values differ from their
  latest stored values; with `every`, every feature of every poll;
- rows written through `store.write_rows`, which skips a (feature, time)
  already stored: a worker killed and restarted never stores a row twice.

A failed poll (unreachable, timeout, HTTP error, a body too large or not in
the declared format, no usable feature) opens a gap (closed by the next
success) and schedules a retry with exponential back-off. The worker logs
one line per poll and keeps running whatever a source does.

Several workers may run: each claims a due feed with
`SELECT ... FOR UPDATE SKIP LOCKED` and pushes its next poll time before
fetching, so two workers never poll the same feed at once.
"""

from __future__ import annotations

import csv
import datetime
import io
import json
import logging
import signal
import time as time_module
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import ckan.model as model
import click
import sqlalchemy as sa
from ckanext.history import config
from ckanext.history.model import Feed, Gap, utcnow

log = logging.getLogger(__name__)

# A JSON document that is an object rather than an array: the keys under which
# APIs commonly put their list of records.
RECORD_KEYS = ("values", "features", "records", "results", "data", "items")
# Booleans as French sources write them (the store reads the English ones).
FRENCH_BOOLEANS = {"oui": "true", "vrai": "true", "non": "false", "faux": "false"}


class FeedError(Exception):
    """A poll that failed; `reason` is recorded in the gap and the feed."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass
class Parsed:
    rows: list[dict] = field(default_factory=list)
    seen: int = 0          # features read from the body
    malformed: int = 0     # features skipped (no id, unreadable time or value)


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

def _store():
    from ckanext.history import store

    return store


def _records(feed: Feed, body: bytes) -> list[dict]:
    """The body as a list of flat records (dicts of property -> value)."""
    if feed.format == "csv":
        try:
            text = body.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = body.decode("latin-1")
        if not text.strip():
            raise FeedError("empty CSV body")
        sample = text[:4096]
        try:
            dialect = csv.Sniffer().sniff(sample, delimiters=",;\t|")
        except csv.Error:
            dialect = csv.excel
        reader = csv.DictReader(io.StringIO(text), dialect=dialect)
        if not reader.fieldnames or feed.feature_id_field not in reader.fieldnames:
            raise FeedError(f"CSV without a {feed.feature_id_field} column")
        return [dict(row) for row in reader]
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        start = body[:200].lstrip().lower()
        if start.startswith((b"<!doctype", b"<html", b"<?xml", b"<")):
            raise FeedError("HTML or XML instead of JSON") from None
        raise FeedError("malformed JSON") from None
    if feed.format == "geojson":
        if not isinstance(document, dict) or document.get("type") != "FeatureCollection" \
                or not isinstance(document.get("features"), list):
            raise FeedError("not a GeoJSON FeatureCollection")
        records = []
        for feature in document["features"]:
            if not isinstance(feature, dict):
                records.append(None)
                continue
            props = feature.get("properties")
            record = dict(props) if isinstance(props, dict) else {}
            if "id" in feature and "id" not in record:
                record["id"] = feature["id"]
            records.append(record)
        return records
    if isinstance(document, dict):
        for key in RECORD_KEYS:
            if isinstance(document.get(key), list):
                document = document[key]
                break
    if not isinstance(document, list):
        raise FeedError("not a JSON array of objects")
    return document


def parse_time(value: Any) -> datetime.datetime:
    """A row's time: ISO 8601 text (an offset is converted to UTC; none means
    UTC) or epoch seconds (or milliseconds). Raises ValueError."""
    if isinstance(value, bool):
        raise ValueError("a boolean is not a time")
    if isinstance(value, (int, float)) or (isinstance(value, str) and value.strip().isdigit()):
        seconds = float(value)
        if seconds > 1e11:  # milliseconds
            seconds /= 1000.0
        return datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc).replace(tzinfo=None)
    if isinstance(value, str) and len(value.strip()) >= 10:
        text = value.strip().replace(" ", "T", 1) if "T" not in value else value.strip()
        return _store().parse_time(text)
    raise ValueError(f"not a time: {value!r}")


def parse(feed: Feed, body: bytes, fetched_at: datetime.datetime) -> Parsed:
    """The rows a body holds, each `{"feature", "time", "values"}` with values
    of the declared types. A feature without an id, with an unreadable time or
    a value that is not of its type is counted as malformed and skipped."""
    store = _store()
    out = Parsed()
    fields = list(feed.fields or [])
    for record in _records(feed, body):
        out.seen += 1
        if not isinstance(record, dict):
            out.malformed += 1
            continue
        feature = record.get(feed.feature_id_field)
        if feature is None or isinstance(feature, (dict, list)) or str(feature).strip() == "":
            out.malformed += 1
            continue
        try:
            when = parse_time(record.get(feed.time_field)) if feed.time_field else fetched_at
        except (TypeError, ValueError, OverflowError, OSError):
            out.malformed += 1
            continue
        values, bad = {}, False
        for f in fields:
            raw = record.get(f["name"])
            if raw is None or (isinstance(raw, str) and raw.strip() == ""):
                values[f["name"]] = None
                continue
            if isinstance(raw, (dict, list)) and f["type"] != "text":
                bad = True
                break
            if isinstance(raw, (dict, list)):
                raw = json.dumps(raw, ensure_ascii=False)
            if f["type"] == "float" and isinstance(raw, str):
                raw = raw.strip().replace(",", ".")  # a decimal comma
            if f["type"] == "bool" and isinstance(raw, str):
                raw = FRENCH_BOOLEANS.get(raw.strip().lower(), raw)
            coerced = store.coerce(raw, f["type"])
            if coerced is None:
                bad = True
                break
            values[f["name"]] = coerced
        if bad:
            out.malformed += 1
            continue
        out.rows.append({"feature": str(feature).strip(), "time": when, "values": values})
    return out


def _comparable(values: dict | None, fields: list[dict]) -> tuple:
    """Values as stored (JSON) and as parsed compare the same way."""
    store = _store()
    values = values or {}
    return tuple(store.coerce(values.get(f["name"]), f["type"]) for f in fields)


# feature -> latest values (comparable) per feed, as this process last left
# them, with the feed's last_success_at then: valid as long as nobody else
# (another worker, a restart) polled the feed since. Saves reading the latest
# row of every feature from the hot tier at each poll.
_LATEST: dict[str, tuple[datetime.datetime | None, dict[str, tuple]]] = {}


def _latest_of(feed: Feed, fields: list[dict]) -> dict[str, tuple]:
    cached = _LATEST.get(feed.resource_id)
    if cached is not None and cached[0] == feed.last_success_at and feed.last_success_at:
        return dict(cached[1])
    return {feature: _comparable(values, fields)
            for feature, values in _store().latest_values(feed.resource_id).items()}


def only_changes(feed: Feed, rows: list[dict]) -> tuple[list[dict], dict[str, tuple]]:
    """The rows whose values differ from their feature's latest stored values
    (and from an earlier row of the same feature in this poll), and the
    latest values once they are stored."""
    fields = list(feed.fields or [])
    latest = _latest_of(feed, fields)
    kept = []
    for row in sorted(rows, key=lambda r: r["time"]):
        now = _comparable(row["values"], fields)
        if latest.get(row["feature"]) != now:
            kept.append(row)
            latest[row["feature"]] = now
    return kept, latest


# --- one poll --------------------------------------------------------------------------

def _backoff(feed: Feed) -> datetime.timedelta:
    """The wait after the n-th consecutive failure: the interval, doubled at
    each further failure, at most the configured maximum."""
    interval = max(int(feed.interval_seconds or 60), 1)
    ceiling = max(config.ingest_max_backoff(), interval)
    exponent = min(max(feed.consecutive_failures - 1, 0), 30)
    return datetime.timedelta(seconds=min(interval * 2 ** exponent, ceiling))


def _fail(feed: Feed, reason: str, now: datetime.datetime) -> None:
    feed.consecutive_failures = (feed.consecutive_failures or 0) + 1
    feed.last_error = reason[:500]
    feed.last_fetch_at = now
    feed.next_poll_at = now + _backoff(feed)
    gap = (model.Session.query(Gap)
           .filter(Gap.resource_id == feed.resource_id, Gap.end.is_(None)).one_or_none())
    if gap is None:
        model.Session.add(Gap(resource_id=feed.resource_id, start=now, reason=reason[:500],
                              attempts=1))
    else:
        gap.attempts = (gap.attempts or 0) + 1


def _succeed(feed: Feed, now: datetime.datetime) -> None:
    feed.consecutive_failures = 0
    feed.last_error = None
    feed.last_fetch_at = now
    feed.last_success_at = now
    feed.next_poll_at = now + datetime.timedelta(seconds=max(int(feed.interval_seconds or 60), 1))
    gap = (model.Session.query(Gap)
           .filter(Gap.resource_id == feed.resource_id, Gap.end.is_(None)).one_or_none())
    if gap is not None:
        gap.end = now


def _fetch(feed: Feed):
    from ckanext.grandlyon_access.outbound import fetch

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
    return fetch(feed.url, timeout=config.ingest_timeout(), headers=headers,
                 max_bytes=config.ingest_max_bytes())


def poll_feed(resource_id: str, now: datetime.datetime | None = None) -> PollResult:
    """Polls one feed now, stores what is new, records the outcome (and a gap
    on failure) and commits. Never raises for a failure of the source."""
    from ckanext.grandlyon_access.outbound import OutboundError

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
            raise FeedError(f"HTTP {answer.status}")
        else:
            parsed = parse(feed, answer.content, now)
            result.features, result.malformed = parsed.seen, parsed.malformed
            if parsed.seen and not parsed.rows:
                raise FeedError(f"no usable feature ({parsed.malformed} malformed)")
            latest = None
            if feed.store_mode == "changes":
                rows, latest = only_changes(feed, parsed.rows)
            else:
                rows = parsed.rows
            result.stored = _store().write_rows(feed.resource_id, rows, list(feed.fields or []))
            feed.etag = answer.headers.get("ETag")
            feed.last_modified = answer.headers.get("Last-Modified")
            _succeed(feed, now)
            if latest is not None:
                _LATEST[feed.resource_id] = (now, latest)
            if parsed.malformed:
                feed.last_error = f"{parsed.malformed} malformed features skipped"
            result.status = "stored"
    except OutboundError as error:
        result.reason = f"{error.kind}: {error.reason}"
        _fail(feed, result.reason, now)
    except FeedError as error:
        result.reason = error.reason
        _fail(feed, result.reason, now)
    result.seconds = time_module.monotonic() - started
    try:
        model.Session.commit()
    except Exception:
        _LATEST.pop(feed.resource_id, None)
        raise
    (log.warning if result.status == "failed" else log.info)(result.line())
    return result


# --- the worker ------------------------------------------------------------------------

def claim_due_feed(only: Iterable[str] = (), force: bool = False,
                   skip: Iterable[str] = ()) -> str | None:
    """Takes the next due feed (locking it against other workers) and pushes
    its next poll time by its interval, so that a worker killed mid-poll
    retries later; returns its resource id, or None when none is due. Feeds
    of deleted resources or datasets are left alone."""
    now = utcnow()
    live = (sa.select(model.Resource.id)
            .join(model.Package, model.Package.id == model.Resource.package_id)
            .where(model.Resource.state == "active", model.Package.state == "active"))
    query = (model.Session.query(Feed.resource_id, Feed.interval_seconds)
             .filter(Feed.enabled.is_(True), Feed.resource_id.in_(live)))
    only, skip = list(only), list(skip)
    if only:
        query = query.filter(Feed.resource_id.in_(only))
    if skip:
        query = query.filter(Feed.resource_id.notin_(skip))
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
    query = model.Session.query(sa.func.min(Feed.next_poll_at)).filter(Feed.enabled.is_(True))
    only = list(only)
    if only:
        query = query.filter(Feed.resource_id.in_(only))
    next_at = query.scalar()
    model.Session.rollback()
    idle = float(config.ingest_idle_seconds())
    if next_at is None:
        return idle
    return max(0.0, min(idle, (next_at - utcnow()).total_seconds()))


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
        model.Session.rollback()
        log.exception("feed %s: unexpected error", resource_id)
        reason = f"internal error: {type(error).__name__}"
        try:
            feed = model.Session.query(Feed).filter(Feed.resource_id == resource_id).one_or_none()
            if feed is not None:
                _fail(feed, reason, utcnow().replace(microsecond=0))
                model.Session.commit()
        except Exception:
            model.Session.rollback()
            log.exception("feed %s: could not record the failure", resource_id)
        return PollResult(resource_id=resource_id, status="failed", reason=reason)


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
        except Exception:
            model.Session.rollback()
            log.exception("could not read the feeds; retrying")
            resource_id = None
            time_module.sleep(config.ingest_idle_seconds())
            continue
        if resource_id is not None:
            _poll_safely(resource_id)
            continue
        wait = seconds_until_next(only)
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
