"""Time zones of history queries: the zone a query names (`tz`, an IANA
name; the portal's `ckan.display_timezone` by default), the reading of local
times in it, and the UTC offsets in force over a range, from which
query.py's buckets follow the zone across DST changes.

Times are stored in UTC (naive datetimes). A zone's offsets over a range are
a list of segments: the offset at the range's start, then each transition
(the UTC instant it happens, the offset after it). They come from Python's
zoneinfo (the system's IANA database, else the tzdata package), found by
scanning each year a week at a time and narrowing each change to the second;
a year's transitions are computed once per process.
"""

from __future__ import annotations

import datetime
import functools
import zoneinfo

UTC = datetime.timezone.utc
MICROSECOND = datetime.timedelta(microseconds=1)
# IANA names are short (the longest is 32 characters).
MAX_NAME = 64


class UnknownZone(ValueError):
    """Not the name of an IANA time zone."""


class NonexistentTime(ValueError):
    """A local time skipped by the clocks (spring forward)."""


class AmbiguousTime(ValueError):
    """A local time that happens twice (the clocks go back); `offsets` are
    the two offsets it may carry, e.g. ("+02:00", "+01:00")."""

    def __init__(self, offsets: tuple[str, str]):
        super().__init__(offsets)
        self.offsets = offsets


# Files of the zone database that are no zone of the world (`localtime` is
# the server's own, whatever it is).
NOT_ZONES = frozenset({"localtime", "Factory", "posixrules", "posix", "right"})


@functools.lru_cache(maxsize=1)
def _known_names() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones()) - NOT_ZONES


def zone(name: object) -> zoneinfo.ZoneInfo:
    """The IANA zone called `name`; raises UnknownZone for anything else
    (an empty or long text, a path, an offset such as +01:00, a name the
    database does not hold)."""
    if not isinstance(name, str) or not name or len(name) > MAX_NAME or name not in _known_names():
        raise UnknownZone(name)
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        raise UnknownZone(name) from None


def is_utc(tz: zoneinfo.ZoneInfo) -> bool:
    return tz.key in ("UTC", "Etc/UTC", "Etc/Universal", "Universal", "Zulu", "Etc/Zulu")


def offset_text(offset: datetime.timedelta) -> str:
    """+02:00, -03:30 (seconds of historical offsets dropped)."""
    sign = "-" if offset < datetime.timedelta(0) else "+"
    minutes = abs(int(offset.total_seconds())) // 60
    return f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def to_utc(local: datetime.datetime, tz: zoneinfo.ZoneInfo) -> datetime.datetime:
    """A time as naive UTC: with an offset, exact; naive, read as a local
    time of `tz`. A local time the clocks skip raises NonexistentTime, one
    they pass twice AmbiguousTime. OverflowError beyond the limits of
    datetimes."""
    if local.tzinfo is not None:
        return local.astimezone(UTC).replace(tzinfo=None)
    first = local.replace(tzinfo=tz, fold=0)
    second = local.replace(tzinfo=tz, fold=1)
    utc_first = first.astimezone(UTC)
    if utc_first == second.astimezone(UTC):
        return utc_first.replace(tzinfo=None)
    if utc_first.astimezone(tz).replace(tzinfo=None) != local:
        raise NonexistentTime(local)
    raise AmbiguousTime((offset_text(first.utcoffset()), offset_text(second.utcoffset())))


def _offset_at(tz: zoneinfo.ZoneInfo, utc: datetime.datetime) -> int:
    """The offset (microseconds) of `tz` at the naive UTC instant `utc`."""
    try:
        return utc.replace(tzinfo=UTC).astimezone(tz).utcoffset() // MICROSECOND
    except OverflowError:
        # At the very ends of datetimes: the offset of a day inside them.
        inside = (
            utc + datetime.timedelta(days=2) if utc.year == 1 else utc - datetime.timedelta(days=2)
        )
        return inside.replace(tzinfo=UTC).astimezone(tz).utcoffset() // MICROSECOND


@functools.lru_cache(maxsize=4096)
def _year_transitions(name: str, year: int) -> tuple[tuple[datetime.datetime, int], ...]:
    """The transitions of zone `name` during UTC year `year`: (the naive UTC
    instant of the change, the offset in microseconds from then on)."""
    tz = zoneinfo.ZoneInfo(name)
    # Offsets change months apart: a week's step finds every change.
    day = datetime.timedelta(days=7)
    cursor = datetime.datetime(year, 1, 1)
    stop = datetime.datetime(year + 1, 1, 1) if year < 9999 else datetime.datetime.max
    before = _offset_at(tz, cursor)
    out = []
    while cursor < stop:
        step = min(cursor + day, stop) if stop - cursor > day else stop
        after = _offset_at(tz, step)
        if after != before:
            low, high = cursor, step  # offset `before` at low, `after` at high
            while high - low > datetime.timedelta(seconds=1):
                middle = low + (high - low) / 2
                middle = middle.replace(microsecond=0)
                if middle <= low:
                    break
                if _offset_at(tz, middle) == before:
                    low = middle
                else:
                    high = middle
            out.append((high, after))
            before = after
        cursor = step
    return tuple(out)


def segments(
    tz: zoneinfo.ZoneInfo, start: datetime.datetime, end: datetime.datetime
) -> tuple[int, list[tuple[datetime.datetime, int]]]:
    """The offsets of `tz` over the naive UTC range [start, end): (the offset
    at `start` in microseconds, [(instant of a transition, offset after it)])
    with start < instant < end."""
    first = _offset_at(tz, start)
    changes = []
    for year in range(start.year, end.year + 1):
        changes.extend((t, o) for t, o in _year_transitions(tz.key, year) if start < t < end)
    return first, changes
