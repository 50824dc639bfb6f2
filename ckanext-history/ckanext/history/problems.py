"""What went wrong with a feed's poll, said to people in their language.

The ingest worker records a problem as JSON, in the feed (its last poll)
and in the gap a failed poll opens:

    {"code": "field_missing", "params": {"field": "available_bikes", "count": 3},
     "details": [{"code": "older", "params": {"count": 2, "example": "12", ...}}]}

`code` names what happened; `details` lists the features a poll left out,
by reason. Nothing is translated when it is recorded (the worker has no
reader): `explain` turns a problem into sentences in the reader's language
when a page or an API answer shows it (what happened, what was kept, what
the sysadmin or the publisher can do), and `english` into the English line
of the worker's log and of the API's `reason`.
"""

from __future__ import annotations

import string
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import ckan.plugins.toolkit as tk

__all__ = ["explain", "english", "problem"]


def N_(message: str) -> str:
    """Marks a message for extraction (babel); translated when shown."""
    return message


@dataclass(frozen=True)
class Kind:
    what: str
    kept: str
    todo: str


NOTHING_KEPT = N_(
    "Nothing from this poll was stored; the history stored before is kept "
    "unchanged, and the time until the next good poll is recorded as a gap."
)
RETRIES = N_(
    "Nothing to do if it does not last: the worker tries again by itself, waiting "
    "longer after each failure. If it lasts, check the feed's address with the "
    "source's publisher."
)
FIELDS_TODO = N_(
    "If the source changed its data, change the feed's value fields on this page "
    "to match it (or ask the source's publisher to restore them); storing resumes "
    "with the first poll that matches."
)

# Polls that failed: nothing of them was stored.
KINDS: dict[str, Kind] = {
    "unreachable": Kind(N_("The source could not be reached."), NOTHING_KEPT, RETRIES),
    "timeout": Kind(
        N_("The source did not answer within {seconds} seconds."), NOTHING_KEPT, RETRIES
    ),
    "too_slow": Kind(
        N_("The source sent its answer too slowly: it was not complete after {seconds} seconds."),
        NOTHING_KEPT,
        N_(
            "If the source is just slow, the sysadmin can raise "
            "ckanext.history.ingest.max_seconds; otherwise ask the source's publisher."
        ),
    ),
    "too_large": Kind(
        N_(
            "The answer was larger than the limit of {max_bytes} bytes (a compressed answer "
            "counts once decompressed)."
        ),
        NOTHING_KEPT,
        N_(
            "If the feed really is that large, the sysadmin can raise "
            "ckanext.history.ingest.max_bytes; otherwise ask the source's publisher."
        ),
    ),
    "refused": Kind(
        N_(
            "The portal refused to fetch the feed's address (not http or https, or on a private "
            "or local network)."
        ),
        NOTHING_KEPT,
        N_(
            "Give the public address of the feed, or ask the sysadmin to allow this one "
            "(ckanext.grandlyon_access.outbound.allow)."
        ),
    ),
    "redirects": Kind(N_("The source redirected too many times."), NOTHING_KEPT, RETRIES),
    "http_status": Kind(
        N_("The source answered with the HTTP error {status}."), NOTHING_KEPT, RETRIES
    ),
    "html": Kind(
        N_(
            "The source sent a web page (HTML) instead of {format}, while saying all was well "
            "(HTTP {status})."
        ),
        NOTHING_KEPT,
        N_(
            "This is often a maintenance or login page: open the feed's address in a browser. "
            "The worker tries again by itself."
        ),
    ),
    "encoding": Kind(
        N_("The answer is not valid UTF-8 text (first wrong byte at position {position})."),
        NOTHING_KEPT,
        N_("Ask the source's publisher to send UTF-8; the worker tries again by itself."),
    ),
    "malformed": Kind(
        N_("The answer is not valid {format} (cut short or garbled)."), NOTHING_KEPT, RETRIES
    ),
    "not_collection": Kind(
        N_("The answer is JSON, but not a GeoJSON FeatureCollection."), NOTHING_KEPT, FIELDS_TODO
    ),
    "not_array": Kind(
        N_("The answer is JSON, but holds no array of records."), NOTHING_KEPT, FIELDS_TODO
    ),
    "empty": Kind(N_("The answer is empty."), NOTHING_KEPT, RETRIES),
    "no_features": Kind(
        N_("The answer holds no feature, while the history holds {known}: the source lost its data?"),
        NOTHING_KEPT,
        RETRIES,
    ),
    "no_id_column": Kind(
        N_(
            "The CSV has no column {field} identifying the features: renamed or removed at the "
            "source?"
        ),
        NOTHING_KEPT,
        FIELDS_TODO,
    ),
    "id_missing": Kind(
        N_(
            "None of the {count} features carries the identifier field {field}: renamed or "
            "removed at the source?"
        ),
        NOTHING_KEPT,
        FIELDS_TODO,
    ),
    "time_missing": Kind(
        N_(
            "None of the {count} features carries the time field {field}: renamed or removed at "
            "the source?"
        ),
        NOTHING_KEPT,
        FIELDS_TODO,
    ),
    "time_unreadable": Kind(
        N_(
            "The time field {field} holds no readable time in any of the {count} features "
            "(e.g. {example})."
        ),
        NOTHING_KEPT,
        FIELDS_TODO,
    ),
    "field_missing": Kind(
        N_(
            "None of the {count} features carries the field {field}: renamed or removed at the "
            "source?"
        ),
        NOTHING_KEPT,
        FIELDS_TODO,
    ),
    "field_type": Kind(
        N_(
            "The field {field} is not of type {type} in any of the {count} features "
            "(e.g. {example}): its type changed at the source?"
        ),
        NOTHING_KEPT,
        FIELDS_TODO,
    ),
    "field_empty": Kind(
        N_(
            "The field {field} is empty in all {count} features, while the values stored last "
            "hold it: removed at the source?"
        ),
        NOTHING_KEPT,
        FIELDS_TODO,
    ),
    "no_usable_feature": Kind(
        N_("None of the {count} features of the answer could be stored:"),
        NOTHING_KEPT,
        N_(
            "See the reasons above: the source's clock or data is wrong. Tell the source's "
            "publisher; storing resumes with the first poll that holds correct features."
        ),
    ),
    "internal": Kind(
        N_("The ingest worker met an unexpected error ({error})."),
        NOTHING_KEPT,
        N_("The sysadmin can read the details in the worker's log."),
    ),
    # A poll that succeeded but left features out.
    "features_skipped": Kind(
        N_("{skipped} of the {count} features of the last poll were not stored:"),
        N_("The other features were stored; nothing stored before was changed."),
        N_(
            "Usually the source's own data: tell the source's publisher. Each feature is stored "
            "again with its next correct value."
        ),
    ),
}

# Why features were left out of a poll (the details of a problem).
DETAILS: dict[str, str] = {
    "bad_id": N_(
        "{count} without a usable identifier in {field} (empty, longer than 200 "
        "characters or holding a NUL character)"
    ),
    "bad_time": N_(
        "{count} whose time in {field} cannot be read (e.g. feature {example}: {value})"
    ),
    "future_time": N_(
        "{count} with a time more than a day ahead of the portal's clock "
        "(e.g. feature {example}: {value})"
    ),
    "missing_field": N_("{count} without the field {field} (e.g. feature {example})"),
    "bad_value": N_(
        "{count} whose field {field} is not of type {type} (e.g. feature {example}: {value})"
    ),
    "duplicate": N_(
        "{count} sent more than once with other values for the same time (e.g. feature {example})"
    ),
    "older": N_(
        "{count} with a time before the last one stored: the source's clock went back? "
        "(e.g. feature {example}: {value}, stored up to {latest})"
    ),
    "same_time": N_(
        "{count} with other values but the same time as the last one stored "
        "(e.g. feature {example} at {value})"
    ),
    "not_object": N_("{count} that are not objects"),
}


class _Blank(dict):
    def __missing__(self, key: str) -> str:
        return "?"


def _format(message: str, params: dict[str, Any] | None) -> str:
    values = _Blank({k: _short(v) for k, v in (params or {}).items()})
    return string.Formatter().vformat(message, (), values)


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else str(value)
    return text if len(text) <= 80 else text[:77] + "..."


def problem(code: str, details: list[dict] | None = None, **params: Any) -> dict:
    """A problem as recorded (JSON)."""
    out: dict[str, Any] = {
        "code": code,
        "params": {k: v for k, v in params.items() if v is not None},
    }
    if details:
        out["details"] = details
    return out


def explain(value: dict | None, translate: Callable[[str], str] | None = None) -> dict | None:
    """{"what", "kept", "todo", "details": [...]} of a recorded problem, in
    the language of `translate` (CKAN's, by default: the reader's)."""
    if not isinstance(value, dict) or value.get("code") not in KINDS:
        return None
    translate = translate or tk._
    kind = KINDS[value["code"]]
    details = []
    for detail in value.get("details") or []:
        message = DETAILS.get((detail or {}).get("code"))
        if message:
            details.append(_format(translate(message), detail.get("params")))
    return {
        "what": _format(translate(kind.what), value.get("params")),
        "kept": translate(kind.kept),
        "todo": translate(kind.todo),
        "details": details,
    }


def english(value: dict | None) -> str:
    """One English line: what happened and the details."""
    said = explain(value, translate=lambda message: message)
    if said is None:
        return ""
    return " ".join([said["what"], "; ".join(said["details"])]).strip()
