"""Validators of the history plugin's feed declarations."""

from __future__ import annotations

import json
import re
from typing import Any

import ckan.lib.navl.dictization_functions as df
import ckan.plugins.toolkit as tk
from ckanext.grandlyon_access.shared import OutboundError, check_url
from ckanext.history import config

FORMATS = ("geojson", "json", "csv")
TYPES = ("int", "float", "text", "bool", "timestamp")
STORE_MODES = ("changes", "every")
# A field name becomes a key of stored rows, a column of downloads and a name
# in queries: letters, digits and underscores, not starting with a digit.
IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
# Columns every row of a history already has.
RESERVED = ("time", "feature", "resource_id", "values")
MAX_FIELDS = 100
# How a chart puts the features of a numeric field together by default: the
# total (counts, such as available bikes) or the average (rates, levels).
ACROSS = ("avg", "sum")
NUMERIC = ("int", "float", "bool")
TITLE_KEYS = ("title_fr", "title_en")
# A field's unit: in each language ("vélos", "bikes"), or one for both.
UNIT_KEYS = ("unit_fr", "unit_en", "unit")
# A numeric field may hold the features' position (WGS84 degrees): maps
# through time place the features with it.
COORDINATES = ("lat", "lon")
MAX_TITLE = 100
MAX_UNIT = 20


TRUE = ("true", "1", "yes", "on", "t", "y")
FALSE = ("false", "0", "no", "off", "f", "n")


def history_boolean(value: Any) -> bool:
    """True or false, said as JSON or as text (a web form's "on" included);
    anything else is refused, not read as false (CKAN's boolean_validator
    reads "maybe" as false, which would stop a feed without a word)."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower() if value is not None else ""
    if text in TRUE:
        return True
    if text in FALSE:
        return False
    raise tk.Invalid(tk._("Must be true or false"))


def history_identifier(value: Any) -> str:
    """A field name of a feed: a safe identifier."""
    if not isinstance(value, str) or not IDENTIFIER.match(value.strip()):
        raise tk.Invalid(tk._(
            "Use letters, digits and underscores only, starting with a letter or an "
            "underscore (at most 63 characters)"))
    return value.strip()


def history_optional_identifier(value: Any) -> Any:
    """Empty, or a safe identifier (an empty time field means the fetch time)."""
    if value is df.missing or value is None or (isinstance(value, str) and not value.strip()):
        return ""
    return history_identifier(value)


def _parse_fields_text(text: str) -> list[dict[str, str]]:
    """`name:type` pairs separated by commas or new lines (the web form), or JSON."""
    text = text.strip()
    if text.startswith("["):
        try:
            return json.loads(text)
        except ValueError:
            raise tk.Invalid(tk._("The list of fields is not valid JSON")) from None
    fields = []
    for part in re.split(r"[,\n]", text):
        part = part.strip()
        if not part:
            continue
        name, _sep, type_ = part.partition(":")
        fields.append({"name": name.strip(), "type": type_.strip() or "text"})
    return fields


def history_feed_fields(value: Any) -> list[dict[str, str]]:
    """The value fields of a feed: a non-empty list of `{"name", "type"}`
    with safe, distinct names and a type among int, float, text, bool,
    timestamp. Also accepted: a JSON string, or `name:type` pairs."""
    if isinstance(value, str):
        value = _parse_fields_text(value)
    if not isinstance(value, list) or not value:
        raise tk.Invalid(tk._("Give at least one value field, as a list of names and types"))
    if len(value) > MAX_FIELDS:
        raise tk.Invalid(tk._("At most {n} value fields").format(n=MAX_FIELDS))
    fields, seen = [], set()
    for item in value:
        if not isinstance(item, dict):
            raise tk.Invalid(tk._("Each value field needs a name and a type"))
        name = item.get("name")
        if not isinstance(name, str) or not IDENTIFIER.match(name.strip()):
            raise tk.Invalid(tk._(
                "Field name \"{name}\": use letters, digits and underscores only, starting "
                "with a letter or an underscore").format(name=str(name)[:80]))
        name = name.strip()
        if name.lower() in RESERVED:
            raise tk.Invalid(tk._("Field name \"{name}\" is reserved: time, feature, "
                                  "resource_id and values are columns of every history"
                                  ).format(name=name))
        if name in seen:
            raise tk.Invalid(tk._("Field name \"{name}\" is given twice").format(name=name))
        seen.add(name)
        type_ = item.get("type")
        if type_ not in TYPES:
            raise tk.Invalid(tk._(
                "Field \"{name}\": choose a type among int, float, text, bool, timestamp"
            ).format(name=name))
        fields.append({"name": name, "type": type_, **_field_labels(item, name, type_)})
    if sum(1 for f in fields if f.get("label")) > 1:
        raise tk.Invalid(tk._("Only one field can name the features (label)"))
    for axis in COORDINATES:
        if sum(1 for f in fields if f.get("coordinate") == axis) > 1:
            raise tk.Invalid(tk._("Only one field can hold the features' {axis}").format(axis=axis))
    return fields


def _field_labels(item: dict[str, Any], name: str, type_: str) -> dict[str, str]:
    """The optional words of a field for people: `title_fr`, `title_en`
    (at most 100 characters), `unit_fr`, `unit_en` or `unit` for both
    languages (at most 20) and, for a numeric field,
    `across` (avg or sum: how a chart puts all features together; charts
    read a missing one as avg) and, for one text field, `label`: true when
    it holds the features' names (charts offer them to choose features),
    and for a number field `coordinate`: lat or lon when it holds the
    features' latitude or longitude in degrees (a GeoJSON feed fills it
    from a Point geometry when the properties lack it; maps through time
    place the features with it). Empty values are left out."""
    out = {}
    for key, limit in ((TITLE_KEYS[0], MAX_TITLE), (TITLE_KEYS[1], MAX_TITLE),
                       *((unit, MAX_UNIT) for unit in UNIT_KEYS)):
        value = item.get(key)
        if value is None or value == "":
            continue
        if not isinstance(value, str) or len(value.strip()) > limit:
            raise tk.Invalid(tk._(
                "Field \"{name}\": {key} must be a text of at most {n} characters"
            ).format(name=name, key=key, n=limit))
        if value.strip():
            out[key] = value.strip()
    across = item.get("across")
    if across not in (None, ""):
        if type_ not in NUMERIC or across not in ACROSS:
            raise tk.Invalid(tk._(
                "Field \"{name}\": across is avg or sum, for a numeric field only"
            ).format(name=name))
        out["across"] = across
    label = item.get("label")
    if label not in (None, False, "", "false"):
        if type_ != "text" or label not in (True, "true"):
            raise tk.Invalid(tk._(
                "Field \"{name}\": label is true for the text field that names the features"
            ).format(name=name))
        out["label"] = True
    coordinate = item.get("coordinate")
    if coordinate not in (None, ""):
        if type_ not in ("int", "float") or coordinate not in COORDINATES:
            raise tk.Invalid(tk._(
                "Field \"{name}\": coordinate is lat or lon, for a number field only"
            ).format(name=name))
        out["coordinate"] = coordinate
    return out


def history_feed_url(value: Any) -> str:
    """A URL the portal may fetch (the outbound guard of grandlyon_access)."""
    if not isinstance(value, str) or not value.strip():
        raise tk.Invalid(tk._("Missing value"))
    value = value.strip()
    if len(value) > 2000:
        raise tk.Invalid(tk._("The address is too long"))
    try:
        check_url(value)
    except OutboundError as error:
        raise tk.Invalid(" ".join((error.reason, tk._(
            "Give the public http or https address of the feed; an address inside your "
            "network must first be allowed by the portal's administrators.")))) from None
    return value


def history_choice(values: tuple[str, ...]):
    """A validator: one of `values` (CKAN's one_of says so in English only,
    and lets an empty value through)."""
    def validator(value: Any) -> str:
        if value not in values:
            raise tk.Invalid(tk._("Choose one of: {values}").format(values=", ".join(values)))
        return value
    return validator


MAX_RETENTION_DAYS = 36500


def history_retention_days(value: Any) -> int | None:
    """Days the hot tier keeps a feed's rows: a whole number from 1 to
    MAX_RETENTION_DAYS, or empty (on update: the configured retention
    applies). One message for any other value (a fraction, text, a number
    too large for the database: each failed as a 500 or twice)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    text = str(value).strip() if not isinstance(value, bool) else ""
    if not text.isdigit() or not 1 <= int(text) <= MAX_RETENTION_DAYS:
        raise tk.Invalid(tk._("Give a whole number of days between 1 and {high}").format(
            high=MAX_RETENTION_DAYS))
    return int(text)


def history_feed_interval(value: Any, context) -> int:
    """Seconds between two polls, within the configured bounds."""
    value = tk.get_validator("int_validator")(value, context)
    if value is None:
        raise tk.Invalid(tk._("Missing value"))
    low, high = config.feed_min_interval(), config.feed_max_interval()
    if not low <= value <= high:
        raise tk.Invalid(tk._("Choose an interval between {low} and {high} seconds").format(
            low=low, high=high))
    return value
