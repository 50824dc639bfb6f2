"""Queries over a history: the Parquet archive and the hot PostgreSQL rows
together, answered by DuckDB.

For a query on [start, end): the archive's month files overlapping the range
are read with DuckDB's `read_parquet` (local archive) or through a pyarrow
dataset registered in DuckDB (S3 and other pyarrow filesystems); the hot rows
of the range are fetched from PostgreSQL with bound parameters, as Arrow
record batches registered in DuckDB. An aggregate's hot rows after the
archive's last time are aggregated by PostgreSQL into partial aggregates,
one row per bucket (`partials`, `hot_partials_sql`, the buckets of
`buckets` written for PostgreSQL by `Buckets.postgres`), which DuckDB
combines with the archive's. A hot row whose (feature, time) is
already archived (a compaction interrupted between writing the month file
and deleting the rows) is ignored; this check only runs when the hot rows of
the range fall in archived months.

Every value reaches SQL as a bound parameter; identifiers come only from the
feed's declared fields and are quoted. Paging is keyset: records are ordered
by (time, feature) and the opaque cursor holds the last (time, feature).

Bad input never reaches SQL: `parse` refuses it with a tk.ValidationError
naming the parameter (409 in the action API, 400 in downloads). Times lie
between TIME_MIN and TIME_MAX once converted to UTC (Python's own limits);
a cursor must hold a feature without NUL character and a time within the
query's range; an empty range answers zero records.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import hashlib
import hmac
import json
import math
import zoneinfo
from collections.abc import Iterator
from dataclasses import dataclass, field

import ckan.plugins.toolkit as tk
import duckdb
import pyarrow as pa

from . import archive, config, store, zones
from .duck import connect

AGGREGATES = ("none", "minute", "hour", "day", "week", "month")
FUNCTIONS = ("avg", "min", "max", "sum", "count", "first", "last")
NUMERIC = ("int", "float", "bool")
BUCKET_SECONDS = {"minute": 60, "hour": 3600, "day": 86400, "week": 7 * 86400, "month": 28 * 86400}


def quote(name: str) -> str:
    """A DuckDB identifier (names come from the declared fields only)."""
    return '"' + name.replace('"', '""') + '"'


# The times a query may name, in UTC: Python's own limits (a time beyond
# them, e.g. 0001-01-01T00:00:00+01:00, is refused naming its parameter).
TIME_MIN = datetime.datetime.min
TIME_MAX = datetime.datetime.max


def _error(key: str, message: str) -> tk.ValidationError:
    return tk.ValidationError({key: [message]})


def minus(time: datetime.datetime, delta: datetime.timedelta) -> datetime.datetime:
    """`time - delta`, or TIME_MIN when that would fall before it."""
    return time - delta if time - TIME_MIN >= delta else TIME_MIN


def month_after(time: datetime.datetime) -> datetime.datetime:
    """The first instant of the month after `time`'s month, or TIME_MAX
    after December 9999."""
    if (time.year, time.month) == (TIME_MAX.year, 12):
        return TIME_MAX
    return store.next_month(store.month_start(time))


def _no_nul(values: list[str], key: str) -> list[str]:
    if any("\x00" in v for v in values):
        raise _error(key, tk._("Must not contain a NUL character"))
    return values


def _as_list(value, key: str) -> list[str] | None:
    if value is None or value == "" or value == []:
        return None
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                value = json.loads(text)
            except (ValueError, RecursionError):
                raise _error(key, tk._("Not a list")) from None
        else:
            value = [v.strip() for v in text.split(",") if v.strip()]
    if not isinstance(value, (list, tuple)) or not all(
            isinstance(v, (str, int)) and not isinstance(v, bool) for v in value):
        raise _error(key, tk._("Not a list"))
    return _no_nul([str(v) for v in value], key)


def _zone(value) -> zoneinfo.ZoneInfo:
    """The zone of a query: `tz` when given (an IANA name), else the
    portal's (config.time_zone); anything else names `tz`."""
    try:
        return zones.zone(config.time_zone() if value is None else value)
    except zones.UnknownZone:
        raise _error("tz", tk._("Unknown time zone: give an IANA name such as Europe/Paris or UTC")) from None


def _read_time(value) -> datetime.datetime:
    """A datetime (naive or with its offset) from a datetime, a date or ISO
    8601 text (`Z` is UTC). Raises ValueError."""
    if isinstance(value, datetime.datetime):
        return value
    if isinstance(value, datetime.date):
        return datetime.datetime(value.year, value.month, value.day)
    if not isinstance(value, str):
        raise ValueError(f"not a time: {value!r}")
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    return datetime.datetime.fromisoformat(text)


def _time(value, key: str, tz: zoneinfo.ZoneInfo) -> datetime.datetime:
    """A time parameter as naive UTC: with an offset (or Z), that instant;
    naive, a local time of `tz`. A value that is not a time, lies beyond
    the limits of times once converted to UTC, or is a local time that the
    clocks skip or pass twice, names `key`."""
    try:
        return zones.to_utc(_read_time(value), tz)
    except zones.NonexistentTime:
        raise _error(key, tk._("This local time does not exist in %(zone)s (the clocks move forward): "
                               "give a time after the change, or with its offset")
                     % {"zone": tz.key}) from None
    except zones.AmbiguousTime as twice:
        raise _error(key, tk._("This local time happens twice in %(zone)s (the clocks go back): add its "
                               "offset, %(first)s or %(second)s")
                     % {"zone": tz.key, "first": twice.offsets[0], "second": twice.offsets[1]}) from None
    except OverflowError:
        raise _error(key, tk._("Out of range: give a time between 0001-01-01T00:00:00 and "
                               "9999-12-31T23:59:59 in UTC")) from None
    except (ValueError, TypeError):
        raise _error(key, tk._("Not a date and time in ISO 8601 (e.g. 2026-03-01T00:00:00)")) from None


def parse_zone(value) -> zoneinfo.ZoneInfo:
    """The zone a parameter `tz` names (the portal's when None); a
    tk.ValidationError naming `tz` for anything else."""
    return _zone(value)


def parse_moment(value, key: str, tz: zoneinfo.ZoneInfo) -> datetime.datetime:
    """A time parameter `key` as naive UTC (naive input is a local time of
    `tz`); a tk.ValidationError naming `key` when it is none."""
    return _time(value, key, tz)


def _cursor_tag(time: str, feature: str, resource_id: str) -> str:
    """A keyed hash (the site's SECRET_KEY) of the position and the history:
    only the portal makes a cursor it accepts, for that history only."""
    secret = str(tk.config.get("SECRET_KEY") or "").encode()
    message = json.dumps([time, feature, resource_id], separators=(",", ":")).encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()[:32]


def encode_cursor(time: datetime.datetime, feature: str, resource_id: str) -> str:
    """The position after (time, feature), for this resource's history only."""
    raw = json.dumps([time.isoformat(), feature, _cursor_tag(time.isoformat(), feature, resource_id)],
                     separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, resource_id: str) -> tuple[datetime.datetime, str]:
    """(time, feature) of a cursor of this resource's history; anything else,
    a NUL character, a time out of range or another resource's cursor
    included, is an invalid cursor."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        decoded = json.loads(raw)
        if not isinstance(decoded, list) or len(decoded) != 3 \
                or not all(isinstance(v, str) for v in decoded) or "\x00" in decoded[1]:
            raise ValueError("not a cursor")
        if not hmac.compare_digest(decoded[2], _cursor_tag(decoded[0], decoded[1], resource_id)):
            raise ValueError("made by hand, or a cursor of another history")
        return store.parse_time(decoded[0]), decoded[1]
    except (ValueError, TypeError, OverflowError, RecursionError, binascii.Error):
        raise _error("cursor", tk._("Invalid cursor: use the next_cursor of a previous answer")) from None


@dataclass
class Query:
    resource_id: str
    schema: list[dict]
    start: datetime.datetime
    end: datetime.datetime
    fields: list[dict]
    features: list[str] | None = None
    aggregate: str = "none"
    functions: list[str] = field(default_factory=lambda: ["avg"])
    per_feature: bool = True
    limit: int = 1000
    after: tuple[datetime.datetime, str] | None = None
    # The zone of the buckets and of the times of the answer.
    tz: zoneinfo.ZoneInfo = field(default_factory=lambda: zoneinfo.ZoneInfo("UTC"))

    @property
    def aggregated(self) -> bool:
        return self.aggregate != "none"

    def output_fields(self) -> list[dict]:
        """The answer's columns: [{"id", "type"}]."""
        out = [{"id": "time", "type": "timestamp"}]
        if not self.aggregated or self.per_feature:
            out.append({"id": "feature", "type": "text"})
        for f in self.fields:
            if not self.aggregated:
                out.append({"id": f["name"], "type": f["type"]})
                continue
            for fn in self.functions:
                if not _applies(fn, f["type"]):
                    continue
                out.append({"id": f"{f['name']}_{fn}", "type": _result_type(fn, f["type"])})
        return out


def _applies(function: str, type_: str) -> bool:
    return function not in ("avg", "sum") or type_ in NUMERIC


def _result_type(function: str, type_: str) -> str:
    if function == "avg":
        return "float"
    if function == "count":
        return "int"
    if function == "sum":
        return "float" if type_ == "float" else "int"
    return type_


# The parameters of history_query and of downloads; any other is refused
# (a misspelt one would otherwise be ignored without a word).
QUERY_PARAMETERS = ("start", "end", "tz", "features", "fields", "aggregate", "functions",
                    "per_feature", "limit", "cursor")
DOWNLOAD_PARAMETERS = ("format", "start", "end", "tz", "features", "fields", "aggregate", "functions",
                       "per_feature")


def parse(data_dict: dict, schema: list[dict], for_download: bool = False) -> Query:
    """The query asked by `data_dict`, checked against the history's declared
    fields and the configured limits. Raises tk.ValidationError naming the
    parameter."""
    resource_id = data_dict["resource_id"]
    by_name = {f["name"]: f for f in schema}
    known = DOWNLOAD_PARAMETERS if for_download else QUERY_PARAMETERS
    for key in data_dict:
        if key not in known and key != "resource_id":
            raise _error(str(key)[:100], tk._("Unknown parameter: choose among %s") % ", ".join(known))

    tz = _zone(data_dict.get("tz"))
    now = store.utcnow().replace(microsecond=0)
    end = _time(data_dict["end"], "end", tz) if data_dict.get("end") not in (None, "") else now
    start = (_time(data_dict["start"], "start", tz) if data_dict.get("start") not in (None, "")
             else minus(end, datetime.timedelta(days=1)))
    if start >= end:
        raise _error("start", tk._("The start must be before the end"))

    aggregate = str(data_dict.get("aggregate") or "none").lower()
    if aggregate not in AGGREGATES:
        raise _error("aggregate", tk._("Unknown aggregate: choose one of %s") % ", ".join(AGGREGATES))

    functions = _as_list(data_dict.get("functions"), "functions") or ["avg"]
    for fn in functions:
        if fn not in FUNCTIONS:
            raise _error("functions", tk._("Unknown function: choose among %s") % ", ".join(FUNCTIONS))
    functions = list(dict.fromkeys(functions))

    names = _as_list(data_dict.get("fields"), "fields")
    if names is None:
        fields = list(schema)
        if aggregate != "none" and all(fn in ("avg", "sum") for fn in functions):
            fields = [f for f in schema if f["type"] in NUMERIC]
    else:
        unknown = [n for n in names if n not in by_name]
        if unknown:
            raise _error("fields", tk._("Unknown field: %s") % unknown[0][:100])
        fields = [by_name[n] for n in dict.fromkeys(names)]
        if aggregate != "none":
            for f in fields:
                if not any(_applies(fn, f["type"]) for fn in functions):
                    raise _error("fields", tk._("No chosen function applies to the text field %s") % f["name"])

    features = _as_list(data_dict.get("features"), "features")
    if features:
        features = list(dict.fromkeys(features))
        missing = set(features) - store.known_features(resource_id, features)
        if missing:
            raise _error("features", tk._("Unknown feature: %s") % sorted(missing)[0][:100])

    per_feature = data_dict.get("per_feature", True)
    if isinstance(per_feature, str):
        if per_feature.strip().lower() not in ("true", "false", "1", "0", "yes", "no"):
            raise _error("per_feature", tk._("Must be true or false"))
        per_feature = per_feature.strip().lower() in ("true", "1", "yes")
    elif not isinstance(per_feature, bool):
        raise _error("per_feature", tk._("Must be true or false"))

    limit = config.query_default_limit()
    if not for_download and data_dict.get("limit") not in (None, ""):
        try:
            limit = int(data_dict["limit"])
        except (TypeError, ValueError, OverflowError):
            raise _error("limit", tk._("Must be a whole number")) from None
        if limit < 1 or limit > config.query_max_limit():
            raise _error("limit", tk._("Must be between 1 and %d") % config.query_max_limit())

    seconds = (end - start).total_seconds()
    if aggregate == "none":
        if seconds > config.query_max_range_days() * 86400:
            raise _error("end", tk._("The range is longer than %d days: shorten it or choose an aggregate")
                         % config.query_max_range_days())
    else:
        buckets = math.ceil(seconds / BUCKET_SECONDS[aggregate])
        if buckets > config.query_max_points():
            raise _error("end", tk._("The range holds %(n)d buckets, more than %(max)d: shorten it or "
                                     "choose a coarser aggregate") % {"n": buckets, "max": config.query_max_points()})

    after = None
    if not for_download and data_dict.get("cursor"):
        after = decode_cursor(str(data_dict["cursor"]), resource_id)
        # A cursor is the last record of a previous page: within the range
        # (an aggregate's bucket may start up to one bucket before it, and
        # a local day, week or month may hold a day of 25 hours).
        slack = datetime.timedelta(seconds=0 if aggregate == "none" else BUCKET_SECONDS[aggregate])
        if aggregate == "month":
            slack = datetime.timedelta(days=31)
        if aggregate in ("day", "week", "month"):
            slack += datetime.timedelta(days=1)
        if not minus(start, slack) <= after[0] < end:
            raise _error("cursor", tk._("Invalid cursor: use the next_cursor of a previous answer"))

    return Query(resource_id=resource_id, schema=schema, start=start, end=end, fields=fields,
                 features=features, aggregate=aggregate, functions=functions,
                 per_feature=per_feature, limit=limit, after=after, tz=tz)


# --- execution ------------------------------------------------------------------

class Sources:
    """The SQL of the rows of a query (both tiers), its bound parameters, and
    the DuckDB connection holding the registered hot rows."""

    def __init__(self, con: duckdb.DuckDBPyConnection, q: Query, start: datetime.datetime,
                 end: datetime.datetime, hot_order: str = "", hot_limit: int | None = None):
        self.con = con
        self.params: dict = {"start": start, "end": end}
        columns = ["feature", "time"] + [f["name"] for f in q.schema]
        select = ", ".join(quote(c) for c in columns)
        where = "time >= $start AND time < $end"
        if q.features and len(q.features) <= 64:
            # One bound parameter per feature: DuckDB pushes the IN list into
            # the Parquet scan and skips the row groups of other features.
            names = [f"feature_{i}" for i in range(len(q.features))]
            where += " AND feature IN (" + ", ".join(f"${n}" for n in names) + ")"
            self.params.update(zip(names, q.features))
        elif q.features:
            where += " AND feature IN (SELECT unnest($features))"
            self.params["features"] = q.features
        if q.after is not None and not q.aggregated:
            where += " AND (time, feature) > ($after_time, $after_feature)"
            self.params.update(after_time=q.after[0], after_feature=q.after[1])
        elif q.after is not None:
            # Buckets after the cursor's bucket only (the bucket itself may
            # continue with later features).
            where += " AND time >= $after_time"
            self.params["after_time"] = q.after[0]

        parts = []
        files = archive.files_between(q.resource_id, start, end)
        target = store.arrow_schema(q.schema)
        if files:
            archived = archive.archive_select(con, files, target, self.params)
            parts.append(f"SELECT {select} FROM {archived} WHERE {where}")

        first, last = store.hot_range(q.resource_id, start, end)
        # Where rows may lie: the UTC offsets of the query's zone are only
        # needed there.
        bounds = [(max(f.start, start), min(month_after(f.start), end)) for f in files]
        if first is not None:
            bounds.append((first, min(last + datetime.timedelta(microseconds=1), end)))
        self.span = (min(b[0] for b in bounds), max(b[1] for b in bounds)) if bounds else (start, start)
        self.bucketing = buckets(q.aggregate, q.start, q.tz, self.span) if q.aggregated else None
        # An aggregate reads the hot rows after the archive's last time
        # aggregated by PostgreSQL (they cannot be archived rows again):
        # one row per bucket comes out. Those before it (late rows of an
        # archived month, a compaction interrupted) come as rows, checked
        # against the archive.
        self.partials: str | None = None
        raw_end = end
        if self.bucketing is not None and first is not None:
            cut = max(start, _archived_until(files) or start)
            if last >= cut:
                try:
                    sql, bound, schema = hot_partials_sql(q, self.bucketing, cut, end)
                except OverflowError:  # offsets at the ends of datetimes: rows, as before
                    pass
                else:
                    con.register("hot_partials", pa.RecordBatchReader.from_batches(
                        schema, store.pg_batches(sql, bound, schema, server_side=False)))
                    self.partials = "hot_partials"
                    raw_end = cut
        if first is not None and first < raw_end:
            reader = pa.RecordBatchReader.from_batches(target, store.hot_batches(
                q.resource_id, q.schema, start, raw_end, q.features,
                after=q.after if not q.aggregated else None, order=hot_order, limit=hot_limit))
            con.register("hot_rows", reader)
            hot = f"SELECT {select} FROM hot_rows h WHERE {where}"
            overlap = files and any(f.start <= last and first < month_after(f.start) for f in files)
            if overlap:
                hot += (f" AND NOT EXISTS (SELECT 1 FROM {archived} a WHERE a.feature = h.feature"
                        " AND a.time = h.time)")
            parts.append(hot)
        if not parts:
            # No row in the range: an empty relation of the same columns,
            # whose condition still names every bound parameter (DuckDB
            # refuses parameters a statement does not use).
            empty = ", ".join(f"NULL::{archive.duck_type(target.field(c).type)} AS {quote(c)}" for c in columns)
            parts.append(
                f"SELECT {select} FROM (SELECT {empty}) AS nothing WHERE false AND {where}")
        self.sql = "(" + " UNION ALL ".join(parts) + ")"


def _archived_until(files: list[archive.MonthFile]) -> datetime.datetime | None:
    """Just after the last archived time of `files` (from the statistics
    of the latest file holding rows), None when they hold none."""
    for month_file in reversed(files):
        _low, high = archive.time_bounds(month_file.path)
        if high is not None:
            return high + datetime.timedelta(microseconds=1)
    return None


# Buckets in a zone other than UTC give each row its offset from the zone's
# changes over the rows' span (two a year in Europe): up to this span.
MAX_ZONED_SPAN = datetime.timedelta(days=400 * 365)


@dataclass
class Buckets:
    """How a query's rows fall into its buckets (the one place that decides
    it): `key` groups the rows of a bucket, `back` is the bucket's start
    (naive UTC) from its key `b`; with `offset`, the rows first get the UTC
    offset of their time as `tz_offset` (microseconds); `params` are the
    bound parameters of these expressions."""
    key: str
    back: str
    offset: str | None = None
    params: dict = field(default_factory=dict)
    # What they were made of, for `postgres` (the same buckets in SQL of
    # PostgreSQL): the aggregate, the zone's offset at the span's start and
    # its changes (zones.segments), none in UTC.
    aggregate: str = "hour"
    first: int = 0
    changes: list = field(default_factory=list)

    def postgres(self, bound: dict) -> tuple[str | None, str, str]:
        """The same buckets over the hot rows in PostgreSQL: (the row's
        offset as an interval, `tz_off`, or None in UTC; the key grouping
        a bucket's rows, over `"time"` and `tz_off`; the bucket's start,
        naive UTC, from its key `w`). Offsets and instants are added to
        `bound` (parameters `pg_tz_*`). Local days, weeks and months are
        grouped on their local midnight, converted to UTC once per bucket
        as `_wall_to_utc` does; minutes and hours on the UTC instant of
        their local start (the hour that comes twice is two buckets).
        Raises OverflowError at the very ends of datetimes."""
        if self.first == 0 and not self.changes:
            return None, f"date_trunc('{self.aggregate}', \"time\")", "w"
        micro = datetime.timedelta(microseconds=1)
        bound["pg_tz_o0"] = self.first * micro
        offset = "%(pg_tz_o0)s"
        if self.changes:
            whens = []
            for i, (instant, after) in enumerate(self.changes, 1):
                bound[f"pg_tz_t{i}"], bound[f"pg_tz_o{i}"] = instant, after * micro
                whens.append(f'WHEN "time" < %(pg_tz_t{i})s THEN %(pg_tz_o{i - 1})s')
            offset = f"CASE {' '.join(whens)} ELSE %(pg_tz_o{len(self.changes)})s END"
        local = f"date_trunc('{self.aggregate}', \"time\" + tz_off)"
        if self.aggregate in ("minute", "hour"):
            return offset, f"{local} - tz_off", "w"
        whens, before = [], self.first
        for i, (instant, after) in enumerate(self.changes, 1):
            bound[f"pg_tz_w{i}"] = instant + before * micro
            whens.append(f"WHEN w < %(pg_tz_w{i})s THEN w - %(pg_tz_o{i - 1})s")
            if after > before:
                bound[f"pg_tz_u{i}"], bound[f"pg_tz_g{i}"] = instant, instant + after * micro
                whens.append(f"WHEN w < %(pg_tz_g{i})s THEN %(pg_tz_u{i})s")
            before = after
        back = f"CASE {' '.join(whens)} ELSE w - %(pg_tz_o{len(self.changes)})s END" if whens \
            else "w - %(pg_tz_o0)s"
        return offset, local, back


def buckets(aggregate: str, start: datetime.datetime, tz: zoneinfo.ZoneInfo,
            span: tuple[datetime.datetime, datetime.datetime]) -> Buckets:
    """The buckets of `aggregate` in zone `tz` for rows within `span` (naive
    UTC). In UTC (or a zone whose offset is 0 over the span), fixed-size
    buckets of UTC time. Otherwise buckets of local time: a minute or hour
    is that of the row's local time and offset (the hour that comes twice
    when the clocks go back is two buckets); a day, week (from Monday) or
    month starts at its local midnight (in Europe/Paris, the last Sunday of
    March is a day of 23 hours, the last Sunday of October of 25), found
    from the transitions of the zone (zones.segments)."""
    if not zones.is_utc(tz) and span[1] - span[0] > MAX_ZONED_SPAN:
        raise _error("tz", tk._("The rows of this range span more than %d years: query them in UTC, "
                                "or a shorter range") % (MAX_ZONED_SPAN.days // 365))
    # A bucket starts at most a month before the rows it holds.
    first, changes = (0, []) if zones.is_utc(tz) else \
        zones.segments(tz, minus(span[0], datetime.timedelta(days=32)), span[1])
    if first == 0 and not changes:
        key, back = _utc_bucket(aggregate, start)
        return Buckets(key, back, aggregate=aggregate)
    made = {"aggregate": aggregate, "first": first, "changes": changes}
    params: dict = {"tz_o0": first}
    offset = "$tz_o0"
    if changes:
        whens = []
        for i, (instant, after) in enumerate(changes, 1):
            params[f"tz_t{i}"], params[f"tz_o{i}"] = instant, after
            whens.append(f"WHEN time < $tz_t{i} THEN $tz_o{i - 1}")
        offset = f"CASE {' '.join(whens)} ELSE $tz_o{len(changes)} END"
    day = 86_400_000_000
    fixed = {"minute": 60_000_000, "hour": 3_600_000_000}
    local = "(epoch_us(time) + tz_offset)"
    # Integer buckets need local times after 1970 (// rounds towards zero).
    if start.year > 1970 and aggregate in fixed:
        size = fixed[aggregate]
        key = f"{local} // {size} * {size} - tz_offset"
        return Buckets(key, "make_timestamp(b)", offset, params, **made)
    if aggregate in fixed:
        return Buckets(f"epoch_us(date_trunc('{aggregate}', make_timestamp({local}))) - tz_offset",
                       "make_timestamp(b)", offset, params, **made)
    if start.year > 1970 and aggregate == "day":
        key, wall = f"{local} // {day}", f"b * {day}"
    elif start.year > 1970 and aggregate == "week":  # 1970-01-01 was a Thursday
        key, wall = f"({local} // {day} + 3) // 7", f"(b * 7 - 3) * {day}"
    else:
        key, wall = f"date_trunc('{aggregate}', make_timestamp({local}))", "epoch_us(b)"
    back = f"make_timestamp({_wall_to_utc(wall, first, changes, params)})"
    return Buckets(key, back, offset, params, **made)


def _wall_to_utc(wall: str, first: int, changes: list, params: dict) -> str:
    """SQL of the UTC instant (microseconds) of the local time `wall`
    (microseconds): the first of two, and the instant of the change for a
    time the clocks skip."""
    whens, before, w = [], first, f"({wall})"
    for i, (instant, after) in enumerate(changes, 1):
        at = int((instant - datetime.datetime(1970, 1, 1)) / datetime.timedelta(microseconds=1))
        params[f"tz_w{i}"] = at + before
        whens.append(f"WHEN {w} < $tz_w{i} THEN {w} - $tz_o{i - 1}")
        if after > before:
            params[f"tz_u{i}"], params[f"tz_g{i}"] = at, at + after
            whens.append(f"WHEN {w} < $tz_g{i} THEN $tz_u{i}")
        before = after
    if not whens:
        return f"{w} - $tz_o0"
    return f"CASE {' '.join(whens)} ELSE {w} - $tz_o{len(changes)} END"


def _utc_bucket(aggregate: str, start: datetime.datetime) -> tuple[str, str]:
    """(key, start of the bucket from its key) in UTC: fixed-size buckets
    group on an integer (microseconds since 1970 divided by the bucket's
    length, faster than date_trunc); weeks start on Monday; months use
    date_trunc."""
    day = 86_400_000_000
    fixed = {"minute": 60_000_000, "hour": 3_600_000_000, "day": day}
    if start.year < 1970 or aggregate == "month":
        return f"date_trunc('{aggregate}', time)", "b"
    if aggregate == "week":  # 1970-01-01 was a Thursday
        return f"(epoch_us(time) // {day} + 3) // 7", f"make_timestamp((b * 7 - 3) * {day})"
    size = fixed[aggregate]
    return f"epoch_us(time) // {size}", f"make_timestamp(b * {size})"


@dataclass
class Partial:
    """A column of a bucket's partial aggregate: computed over raw rows in
    DuckDB (`duck`) or over the hot rows in PostgreSQL (`pg`, over the
    typed column `c<i>` of the field), of Arrow type `type`."""
    name: str
    duck: str
    pg: str
    type: pa.DataType


def partials(q: Query) -> tuple[list[Partial], list[str]]:
    """The partial aggregates of `q`'s buckets (sums and counts for avg,
    min, max, count, the time and value of first and last) and the final
    expressions that combine the partials of a bucket into its answer.
    Text compares in code point order in both engines (`COLLATE "C"`).
    A bucket's first (last) value is that of its earliest (latest) time;
    across features, a tie of times goes to the first (last) feature, as
    in the reference. Partials of the two engines never share a time (the
    hot rows PostgreSQL aggregates come after every row DuckDB reads)."""
    parts: list[Partial] = []
    finals: list[str] = []
    for i, f in enumerate(q.fields):
        type_, col, c = f["type"], quote(f["name"]), f"c{i}"
        value = f"CAST({col} AS INTEGER)" if type_ == "bool" else col
        pg_value = f"{c}::int" if type_ == "bool" else c
        arrow = store.ARROW_TYPES[type_]
        for fn in q.functions:
            if not _applies(fn, type_):
                continue
            p = f"p{len(finals)}"
            if fn in ("avg", "sum"):
                pg_sum = f"sum({pg_value})" if type_ == "float" else f"sum({pg_value})::bigint"
                parts.append(Partial(f"{p}_s", f"sum({value})", pg_sum,
                                     pa.float64() if type_ == "float" else pa.int64()))
                if fn == "avg":
                    parts.append(Partial(f"{p}_n", f"count({col})", f"count({c})", pa.int64()))
                    final = (f"CASE WHEN sum({p}_n) > 0 "
                             f"THEN CAST(sum({p}_s) AS DOUBLE) / sum({p}_n) END")
                else:
                    final = f"sum({p}_s)" if type_ == "float" else f"CAST(sum({p}_s) AS BIGINT)"
            elif fn in ("min", "max"):
                pg = {"bool": f"bool_{'and' if fn == 'min' else 'or'}({c})",
                      "text": f'{fn}({c} COLLATE "C")'}.get(type_, f"{fn}({c})")
                parts.append(Partial(f"{p}_m", f"{fn}({col})", pg, arrow))
                final = f"{fn}({p}_m)"
            elif fn == "count":
                parts.append(Partial(f"{p}_n", f"count({col})", f"count({c})", pa.int64()))
                final = f"CAST(sum({p}_n) AS BIGINT)"
            else:
                extreme, arg, desc = (("min", "arg_min", "") if fn == "first"
                                      else ("max", "arg_max", " DESC"))
                ties = "" if q.per_feature else f", feature{desc}"
                parts.append(Partial(f"{p}_t", f"{extreme}(time) FILTER (WHERE {col} IS NOT NULL)",
                                     f'{extreme}("time") FILTER (WHERE {c} IS NOT NULL)',
                                     pa.timestamp("us")))
                order = "time" if q.per_feature else "(time, feature)"
                parts.append(Partial(
                    f"{p}_v", f"{arg}({col}, {order}) FILTER (WHERE {col} IS NOT NULL)",
                    f'(array_agg({c} ORDER BY "time"{desc}{ties})'
                    f" FILTER (WHERE {c} IS NOT NULL))[1]", arrow))
                final = f"{arg}({p}_v, {p}_t) FILTER (WHERE {p}_t IS NOT NULL)"
            finals.append(f"{final} AS {quote(f['name'] + '_' + fn)}")
    return parts, finals


def hot_partials_sql(q: Query, bucketing: Buckets, start: datetime.datetime,
                     end: datetime.datetime) -> tuple[str, dict, pa.Schema]:
    """The SELECT of PostgreSQL aggregating the hot rows of [start, end)
    into `q`'s buckets (per feature or not): the partials of `partials(q)`
    with the bucket's start as `time`, every value bound. Its answer holds
    one row per bucket (and feature), whatever the rows."""
    bound: dict = {"rid": q.resource_id, "start": start, "end": end}
    offset, key, back = bucketing.postgres(bound)
    columns = [f'("values"->>%(f{i})s)::{store.PG_CASTS[f["type"]]} AS c{i}'
               for i, f in enumerate(q.fields)]
    bound.update({f"f{i}": f["name"] for i, f in enumerate(q.fields)})
    if offset:
        columns.append(f"{offset} AS tz_off")
    rows = ('SELECT feature, "time", ' + ", ".join(columns)
            + ' FROM history_row WHERE resource_id = %(rid)s'
            ' AND "time" >= %(start)s AND "time" < %(end)s')
    if q.features:
        rows += " AND feature = ANY(%(features)s)"
        bound["features"] = list(q.features)
    if q.after is not None:
        rows += ' AND "time" >= %(after_time)s'
        bound["after_time"] = q.after[0]
    parts, _finals = partials(q)
    feature = ", feature" if q.per_feature else ""
    grouped = (f"SELECT {key} AS w{feature}, " + ", ".join(f"{p.pg} AS {p.name}" for p in parts)
               + f" FROM ({rows}) AS r GROUP BY w{feature}")
    sql = (f"SELECT {back} AS time{feature}, " + ", ".join(p.name for p in parts)
           + f" FROM ({grouped}) AS g")
    schema = pa.schema([pa.field("time", pa.timestamp("us"))]
                       + ([pa.field("feature", pa.string())] if q.per_feature else [])
                       + [pa.field(p.name, p.type) for p in parts])
    return sql, bound, schema


def select_sql(q: Query, sources: Sources, limit: bool) -> tuple[str, dict]:
    """The SELECT answering `q` over `sources` (their rows and, for an
    aggregate, the hot partials PostgreSQL computed), ordered by (time,
    feature), with the keyset condition and the limit. An aggregate
    computes each bucket's partials over the rows, adds those of
    PostgreSQL, and combines them."""
    params: dict = {}
    source = sources.sql
    if not q.aggregated:
        cols = ", ".join(["time", "feature"] + [quote(f["name"]) for f in q.fields])
        sql = f"SELECT {cols} FROM {source} ORDER BY time, feature"
    else:
        parts, finals = partials(q)
        keys = "time, feature" if q.per_feature else "time"
        bucketing = sources.bucketing
        params.update(bucketing.params)
        if bucketing.offset:
            source = f"(SELECT {bucketing.offset} AS tz_offset, * FROM {source})"
        by = "b, feature" if q.per_feature else "b"
        feature = ", feature" if q.per_feature else ""
        partial = (f"SELECT {bucketing.back} AS time{feature}, "
                   + ", ".join(f"{p.duck} AS {p.name}" for p in parts)
                   + f" FROM (SELECT {bucketing.key} AS b, * FROM {source}) GROUP BY {by}")
        if sources.partials:
            partial += f" UNION ALL SELECT * FROM {sources.partials}"
        sql = (f"SELECT * FROM (SELECT time{feature}, {', '.join(finals)} "
               f"FROM ({partial}) AS partials GROUP BY {keys}) AS buckets")
        if q.after is not None:
            if q.per_feature:
                sql += " WHERE (time, feature) > ($c_time, $c_feature)"
                params.update(c_time=q.after[0], c_feature=q.after[1])
            else:
                sql += " WHERE time > $c_time"
                params["c_time"] = q.after[0]
        sql += f" ORDER BY {keys}"
    if limit:
        sql += " LIMIT $limit"
        params["limit"] = q.limit + 1
    return sql, params


def local_iso(value: datetime.datetime, tz: zoneinfo.ZoneInfo) -> str:
    """A naive UTC time as ISO 8601 in `tz`, with its offset (in UTC at the
    very ends of datetimes, where the local time would not fit)."""
    utc = value.replace(tzinfo=datetime.timezone.utc)
    try:
        return utc.astimezone(tz).isoformat()
    except OverflowError:
        return utc.isoformat()


def _jsonable(value, tz: zoneinfo.ZoneInfo):
    if isinstance(value, datetime.datetime):
        return local_iso(value, tz)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def run(q: Query) -> dict:
    """The answer of history_query: fields, records, next_cursor."""
    con = connect()
    try:
        hot_limit = q.limit + 1 if not q.aggregated else None
        sources = Sources(con, q, q.start, q.end, hot_order="time" if hot_limit else "", hot_limit=hot_limit)
        sql, params = select_sql(q, sources, limit=True)
        result = con.execute(sql, {**sources.params, **params})
        names = [d[0] for d in result.description]
        rows = result.fetchall()
    finally:
        con.close()
    next_cursor = None
    if len(rows) > q.limit:
        rows = rows[: q.limit]
        last = dict(zip(names, rows[-1]))
        next_cursor = encode_cursor(last["time"], str(last.get("feature", "")), q.resource_id)
    records = [{n: _jsonable(v, q.tz) for n, v in zip(names, row)} for row in rows]
    return {"fields": q.output_fields(), "records": records, "next_cursor": next_cursor}


def month_windows(start: datetime.datetime, end: datetime.datetime) -> Iterator[tuple]:
    cursor = start
    while cursor < end:
        stop = min(month_after(cursor), end)
        yield cursor, stop
        cursor = stop


def stream(q: Query, batch_rows: int = 65_536) -> Iterator[pa.RecordBatch]:
    """Every record of `q` (no limit, no cursor), in (time, feature) order, as
    Arrow record batches. Without aggregate the range is read a month at a
    time, so memory holds one month's sort at most (DuckDB spills beyond its
    memory limit)."""
    windows = month_windows(q.start, q.end) if not q.aggregated else [(q.start, q.end)]
    for start, end in windows:
        con = connect()
        try:
            sources = Sources(con, q, start, end)
            sql, params = select_sql(q, sources, limit=False)
            reader = con.execute(sql, {**sources.params, **params}).fetch_record_batch(batch_rows)
            for batch in reader:
                if batch.num_rows:
                    yield batch
        finally:
            con.close()


def arrow_output_schema(q: Query) -> pa.Schema:
    types = {"int": pa.int64(), "float": pa.float64(), "text": pa.string(), "bool": pa.bool_(),
             "timestamp": pa.timestamp("us", tz=q.tz.key)}
    return pa.schema([pa.field(f["id"], types[f["type"]]) for f in q.output_fields()])


# --- coverage -----------------------------------------------------------------

def coverage(resource_id: str) -> dict:
    """First and last time, rows per tier and months of a history. A row in
    both tiers (a late row already archived, a compaction interrupted
    before its delete) counts once, as archived: `rows` is the number of
    distinct (feature, time), `hot_rows` those only in the hot tier."""
    hot = store.hot_stats(resource_id)
    files = archive.month_files(resource_id, with_rows=True)
    firsts, lasts = [], []
    if hot["first"] is not None:
        firsts.append(hot["first"])
        lasts.append(hot["last"])
    for f in files:
        lo, hi = archive.time_bounds(f.path)
        if lo is not None:
            firsts.append(lo)
            lasts.append(hi)
    months = sorted({f.label for f in files} | {m.strftime("%Y-%m") for m in hot["months"]})
    archived = sum(f.rows or 0 for f in files)
    both = [f for f in files if f.start in hot["per_month"]]
    hot_only = hot["rows"] - sum(archived_again(resource_id, f) for f in both)
    return {
        "first": min(firsts).isoformat() if firsts else None,
        "last": max(lasts).isoformat() if lasts else None,
        "rows": hot_only + archived,
        "hot_rows": hot_only,
        "archived_rows": archived,
        "months": months,
    }


def archived_again(resource_id: str, month_file: archive.MonthFile) -> int:
    """Hot rows of an archived month whose (feature, time) its file holds
    already."""
    start, end = month_file.start, month_after(month_file.start)
    keys = store.arrow_schema([])
    con = connect()
    try:
        params: dict = {}
        archived = archive.archive_select(con, [month_file], keys, params)
        con.register("hot_keys", pa.RecordBatchReader.from_batches(
            keys, store.hot_batches(resource_id, [], start, end)))
        return con.execute(
            f"SELECT count(*) FROM hot_keys h WHERE EXISTS (SELECT 1 FROM {archived} a "
            "WHERE a.feature = h.feature AND a.time = h.time)", params).fetchone()[0]
    finally:
        con.close()
