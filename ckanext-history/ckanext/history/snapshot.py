"""A history's features at one step of time, for maps through time
(the action `history_snapshot`).

A step is one bucket of `history_query` (a minute, hour, day, week or
month of the zone `tz`): the snapshot of the step holding `time` is the
query of that bucket alone, per feature, with one function of one numeric
field, and the last position (the fields the feed declares `coordinate`:
lat, lon) and name (its `label` field) of each feature within the step.
One query a step, answered by the archive and the hot rows together; a
feature without a reading in the step (a changes-only feed whose values
did not change) is not in it.

Bad input is refused with a tk.ValidationError naming the parameter (409
in the action API), as history_query does.
"""

from __future__ import annotations

import datetime
import math
import zoneinfo
from typing import Any

import ckan.plugins.toolkit as tk

from . import query, store

STEPS = ("minute", "hour", "day", "week", "month")
PARAMETERS = ("time", "step", "field", "function", "tz")
UTC = datetime.timezone.utc


def _error(key: str, message: str) -> tk.ValidationError:
    return tk.ValidationError({key: [message]})


def _utc(local: datetime.datetime) -> datetime.datetime:
    """A local wall time (aware, fold 0 for a time passed twice) as naive UTC."""
    return local.astimezone(UTC).replace(tzinfo=None)


def step_bounds(moment: datetime.datetime, step: str,
                tz: zoneinfo.ZoneInfo) -> tuple[datetime.datetime, datetime.datetime]:
    """[start, end) in naive UTC of the step of `tz` holding `moment`
    (naive UTC), as history_query buckets it: a minute or hour of the local
    clock with its offset (the hour that comes twice is two steps), a day,
    week (from Monday) or month from its local midnight (a local day may
    last 23 or 25 hours). Raises OverflowError at the ends of datetimes."""
    local = moment.replace(tzinfo=UTC).astimezone(tz)
    if step in ("minute", "hour"):
        size = datetime.timedelta(minutes=1) if step == "minute" else datetime.timedelta(hours=1)
        start = _utc(local.replace(second=0, microsecond=0) if step == "minute"
                     else local.replace(minute=0, second=0, microsecond=0))
        return start, start + size
    day = datetime.datetime(local.year, local.month, local.day)
    if step == "day":
        first, after = day, day + datetime.timedelta(days=1)
    elif step == "week":
        first = day - datetime.timedelta(days=day.weekday())
        after = first + datetime.timedelta(days=7)
    else:
        first = day.replace(day=1)
        after = (first + datetime.timedelta(days=32)).replace(day=1)
    return _utc(first.replace(tzinfo=tz)), _utc(after.replace(tzinfo=tz))


def _choice(data_dict: dict, key: str, choices: tuple[str, ...], default: str) -> str:
    value = data_dict.get(key)
    if value in (None, ""):
        return default
    text = str(value).strip().lower()
    if text not in choices:
        raise _error(key, tk._("Choose one of: {values}").format(values=", ".join(choices)))
    return text


def _value_field(data_dict: dict, schema: list[dict], roles: dict[str, dict]) -> dict:
    """The numeric field asked (`field`), by default the first numeric
    field that is no coordinate."""
    numeric = [f for f in schema if f["type"] in query.NUMERIC]
    name = data_dict.get("field")
    if name in (None, ""):
        plain = [f for f in numeric if not roles.get(f["name"], {}).get("coordinate")]
        if not plain:
            raise _error("field", tk._("This history has no number field to show"))
        return plain[0]
    chosen = next((f for f in numeric if f["name"] == name), None)
    if chosen is None:
        raise _error("field", tk._("Choose a number field among: {values}").format(
            values=", ".join(f["name"] for f in numeric)[:500]))
    return chosen


def _number(value: Any) -> float | int | None:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def take(data_dict: dict, schema: list[dict], feed_fields: list[dict]) -> dict[str, Any]:
    """The answer of history_snapshot for `data_dict` (its resource_id
    checked already) over the history's `schema`; `feed_fields` are the
    feed's declared fields (their `coordinate` and `label`)."""
    for key in data_dict:
        if key not in PARAMETERS and key != "resource_id":
            raise _error(str(key)[:100], tk._("Unknown parameter: choose among %s")
                         % ", ".join(PARAMETERS))
    tz = query.parse_zone(data_dict.get("tz"))
    step = _choice(data_dict, "step", STEPS, "hour")
    function = _choice(data_dict, "function", query.FUNCTIONS, "avg")
    known = {f["name"] for f in schema}
    roles = {f["name"]: f for f in feed_fields if f.get("name") in known}
    field = _value_field(data_dict, schema, roles)
    if data_dict.get("time") in (None, ""):
        moment = store.utcnow().replace(microsecond=0)
    else:
        moment = query.parse_moment(data_dict["time"], "time", tz)
    try:
        start, end = step_bounds(moment, step, tz)
    except OverflowError:
        raise _error("time", tk._("Out of range: give a time between 0001-01-02 and "
                                  "9999-12-30")) from None

    lat = next((n for n, f in roles.items() if f.get("coordinate") == "lat"), None)
    lon = next((n for n, f in roles.items() if f.get("coordinate") == "lon"), None)
    label = next((n for n, f in roles.items() if f.get("label")), None)
    names = list(dict.fromkeys(n for n in (field["name"], lat, lon, label) if n))
    q = query.parse({"resource_id": data_dict["resource_id"],
                     "start": start.replace(tzinfo=UTC), "end": end.replace(tzinfo=UTC),
                     "tz": tz.key, "aggregate": step, "per_feature": True,
                     "fields": names, "functions": list(dict.fromkeys([function, "last"]))},
                    schema)
    value_key = f"{field['name']}_{function}"
    features = []
    for batch in query.stream(q):
        for record in batch.to_pylist():
            if record["time"] != start:
                continue  # a bucket of the range is the step's only
            features.append({
                "id": record["feature"],
                "name": record.get(f"{label}_last") if label else None,
                "value": _number(record.get(value_key)),
                "lat": _number(record.get(f"{lat}_last")) if lat else None,
                "lon": _number(record.get(f"{lon}_last")) if lon else None,
            })
    values = [f["value"] for f in features if f["value"] is not None]
    return {
        "time": query.local_iso(start, tz),
        "end": query.local_iso(end, tz),
        "step": step,
        "tz": tz.key,
        "field": field["name"],
        "function": function,
        "positioned": bool(lat and lon),
        "min": min(values) if values else None,
        "max": max(values) if values else None,
        "features": features,
    }
