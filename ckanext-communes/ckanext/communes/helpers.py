"""Template helpers of the communes plugin."""

from __future__ import annotations

import re
from typing import Any, Optional

import ckan.plugins.toolkit as tk
from ckanext.communes import communes
from ckanext.communes.harvesters.base import (
    GATHER_MESSAGES,
    MAPPING_NOTES,
    NOTE_WITHDRAWN,
    iso_date,
    job_notes,
    message_in_language,
)
from flask import g
from markupsafe import Markup

DEFAULT_PRIMARY = "#1f4e79"
DEFAULT_SECONDARY = "#f2f2f2"


def communes_current() -> Optional[dict[str, Any]]:
    """The commune whose identity the current page shows (white-label view,
    by path or host name), or None."""
    return getattr(g, "communes_commune", None)


def communes_host_mode() -> bool:
    """Whether the current request came under one of a commune's host names."""
    return bool(getattr(g, "communes_host_mode", False))


def communes_style(org: dict[str, Any]) -> Markup:
    """The CSS custom properties of a commune, built from validated colours
    only (#rgb or #rrggbb): nothing else from the commune reaches the CSS."""
    primary = communes.colour(org.get("primary_color"), DEFAULT_PRIMARY)
    secondary = communes.colour(org.get("secondary_color"), DEFAULT_SECONDARY)
    return Markup(f":root{{--commune-primary:{primary};--commune-secondary:{secondary};}}")


def communes_image_src(value: Any) -> str:
    """The address of a commune's logo or banner (https URL or uploaded file)."""
    return communes.image_src(value)


def communes_dataset_url(org: dict[str, Any], dataset_name: str) -> str:
    """A dataset's page that keeps the commune's identity."""
    if communes_host_mode():
        return tk.h.url_for("dataset.read", id=dataset_name)
    return tk.h.url_for("communes.dataset", name=org["name"], id=dataset_name)


def communes_home_url(org: dict[str, Any]) -> str:
    """The commune's white-label home (/ under its host name)."""
    if communes_host_mode():
        return "/"
    return tk.h.url_for("communes.home", name=org["name"])


def communes_access_levels() -> dict[str, str]:
    """Labels of the access levels (badges of the white-label view)."""
    return {"open": tk._("Open"), "licensed": tk._("Licensed"),
            "restricted": tk._("Restricted")}


# The messages the harvesters record (in the workers, which have no request
# and so no language: they are stored in English), most specific first. The
# job report shows them in the reader's language.
HARVEST_MESSAGES = (
    "{url}: the remote portal answered HTTP {status}",
    "{url}: the remote portal answered an HTML page instead of JSON",
    "{url}: the answer is not valid JSON ({error})",
    "{url}: not an OpenDataSoft catalogue page (no total_count and results)",
    "{url}: a catalogue entry has no dataset_id",
    "{url}: not a CKAN package_search answer",
    "{url}: not a udata page of datasets (no data)",
    "{url}: a dataset has no id",
    "{url}: the next page ({next}) is not on the same portal or was already read",
    "{url}: more than {pages} pages; the catalogue seems to page without end",
    "{url}: unexpected answer ({error})",
    "Dataset {remote_id} not imported: {fields}",
    "Dataset {remote_id} not imported: {error}",
    "{url}: {reason}",
)


def _message_pattern(msgid: str) -> re.Pattern[str]:
    parts = re.split(r"\{(\w+)\}", msgid)
    regex = "".join(f"(?P<{part}>.*?)" if i % 2 else re.escape(part)
                    for i, part in enumerate(parts))
    return re.compile(f"^{regex}$", re.DOTALL)


# Notes a harvester writes on a dataset besides the mapping's.
DATASET_NOTES = (NOTE_WITHDRAWN,)


def _value_in_language(value: str) -> str:
    """A value of a message: an ISO date as the portal shows dates; a
    recorded sentence (a refusal's reason) in the reader's language."""
    if iso_date(value) and len(value) >= 10:
        return communes_harvest_datetime(value)
    return message_in_language(value)


def communes_harvest_message(message: Any) -> str:
    """A message recorded by a harvester of this extension (stored in
    English), line by line in the reader's language, its dates formatted;
    other lines as they were recorded."""
    lines = []
    for line in str(message or "").split("\n"):
        # A line that is a message of its own (advice, what was kept) first:
        # a pattern such as "{url}: {reason}" would match it too.
        if line and tk._(line) != line:
            lines.append(tk._(line))
            continue
        for msgid in GATHER_MESSAGES + MAPPING_NOTES + DATASET_NOTES + HARVEST_MESSAGES:
            match = _message_pattern(msgid).match(line)
            if match:
                values = {k: _value_in_language(v) for k, v in match.groupdict().items()}
                line = tk._(msgid).format(**values)
                break
        else:
            line = message_in_language(line)
        lines.append(line)
    return "\n".join(lines)


def communes_harvest_job_notes(job_id: str) -> list[dict[str, str]]:
    """The mapping notes of a job's datasets (they were imported), each in
    the reader's language, for the job report."""
    return [{"guid": guid, "message": communes_harvest_message(note)}
            for guid, note in job_notes(job_id)]


def communes_harvest_datetime(value: Any) -> str:
    """A remote or harvest date (ISO 8601 text) as the portal shows dates, in
    the reader's language and the portal's time zone; other text as is."""
    text = str(value or "")
    if not iso_date(text):
        return text
    with_hours = "T" in text or " " in text.strip()
    try:
        return tk.h.render_datetime(text.replace("Z", "+00:00"), with_hours=with_hours)
    except (ValueError, TypeError):
        return text


def communes_sidebar_organization(org_id: str) -> dict[str, Any]:
    """The organisation a dataset page's sidebar shows (logo, title,
    description), read once per request and without its dataset count;
    {} when the visitor may not see it, as CKAN's get_organization."""
    cache = g.setdefault("communes_sidebar_organizations", {})
    if org_id not in cache:
        cache[org_id] = communes.organization(org_id, include_dataset_count=False) or {}
    return cache[org_id]
