"""The resource view `history_map`, a map through time: a history's
features on a map, coloured and sized by a numeric field's value at a
chosen step, with a time slider and play; the same values as a table for
screen readers. The browser asks `history_snapshot` once a step (no raw
rows); its script is `assets/history_map.js`.

The view reuses ckanext-dataviz (which must be loaded with the history
plugin for the view to be offered), without importing its code: its
Leaflet bundle (`dataviz/map-js`, which sets the global `L`, and
`dataviz/map-css`), its basemap options (`ckanext.dataviz.basemap.*`: no
tiles when empty, as offline), its bare page (`dataviz/embed/base.html`),
its next-step snippet for viewers without access, and its embed route
(`/dataviz/embed/view/<view_id>`, which renders any view plugin's
template).

Offered for a resource whose feed declares a latitude and a longitude
field (`coordinate`: lat, lon).
"""

from __future__ import annotations

import datetime
from typing import Any

import ckan.model as model
import ckan.plugins as p
import ckan.plugins.toolkit as tk
from ckan.types import Context, DataDict
from ckanext.grandlyon_access import shared as access
from ckanext.history import query, store, zones
from ckanext.history.logic import validators as v
from ckanext.history.model import Feed

VIEW_STEPS = ("hour", "day")
NAME = "history_map"


def info() -> dict[str, Any]:
    ignore_missing = tk.get_validator("ignore_missing")
    unicode_safe = tk.get_validator("unicode_safe")
    return {
        "name": NAME,
        "title": tk._("Map through time"),
        "default_title": tk._("Map through time"),
        "icon": "map-location-dot",
        "iframed": True,
        "always_available": False,
        "preview_enabled": False,
        "full_page_edit": False,
        "schema": {
            "field": [ignore_missing, unicode_safe, v.history_optional_identifier],
            "step": [ignore_missing, unicode_safe, v.history_choice(VIEW_STEPS)],
            "function": [ignore_missing, unicode_safe, v.history_choice(query.FUNCTIONS)],
        },
    }


def _feed_fields(resource_id: str) -> list[dict[str, Any]]:
    feed = model.Session.query(Feed).filter(Feed.resource_id == resource_id).one_or_none()
    return list(feed.fields or []) if feed is not None else []


def positioned(fields: list[dict[str, Any]]) -> bool:
    """Does a feed declare both a latitude and a longitude field?"""
    axes = {f.get("coordinate") for f in fields}
    return {"lat", "lon"} <= axes


def can_view(data_dict: DataDict) -> bool:
    resource = data_dict.get("resource") or {}
    if not p.plugin_loaded("dataviz") or not resource.get("id"):
        return False
    return positioned(_feed_fields(resource["id"]))


def _zone_name() -> str:
    """The page's `tz` when it names a zone (a link may show another), else
    the portal's."""
    asked = tk.request.args.get("tz", "") if tk.request else ""
    try:
        return zones.zone(asked).key
    except zones.UnknownZone:
        return query.parse_zone(None).key


def unit_in(field: dict[str, Any], lang: str) -> str:
    """A field's unit in `lang`: its `unit_<lang>`, else its `unit` for both
    languages, else the other language's, else ""."""
    other = "en" if lang == "fr" else "fr"
    return (field.get(f"unit_{lang}") or field.get("unit") or field.get(f"unit_{other}")
            or "")


def value_fields(fields: list[dict[str, Any]], lang: str) -> list[dict[str, str]]:
    """The numeric fields a map may show (no coordinate), titled in `lang`
    (else the other language's title, else the name), with their unit."""
    other = "en" if lang == "fr" else "fr"
    return [{"name": f["name"], "unit": unit_in(f, lang),
             "title": f.get(f"title_{lang}") or f.get(f"title_{other}") or f["name"]}
            for f in fields if f.get("type") in query.NUMERIC and not f.get("coordinate")]


def _last_day(resource_id: str, tz_name: str) -> str:
    """The local date (ISO) of the history's latest reading, today without any."""
    last = query.coverage(resource_id).get("last")
    moment = datetime.datetime.fromisoformat(last) if last else store.utcnow()
    local = moment.replace(tzinfo=datetime.timezone.utc).astimezone(zones.zone(tz_name))
    return local.date().isoformat()


def basemap() -> dict[str, str]:
    """The basemap of the portal's maps: the options that ckanext-dataviz
    declares (read as configuration: an extension reaches another's code
    only through a `shared` facade, which dataviz has not). No URL: no
    tiles, the features on a plain background (offline, an intranet)."""
    return {"url": tk.config.get("ckanext.dataviz.basemap.tile_url") or "",
            "attribution": tk.config.get("ckanext.dataviz.basemap.attribution") or ""}


def messages() -> dict[str, str]:
    """The script's words, in the page's language ({name} placeholders)."""
    _ = tk._
    return {
        "loading": _("Loading the values of {time}…"),
        "ready": _("{time}: {count} features with a value"),
        "empty": _("{time}: no reading in this step"),
        "error": _("The values could not be loaded: {reason}"),
        "network": _("the portal did not answer"),
        "play": _("Play"),
        "pause": _("Pause"),
        "caption": _("{field} at {time}, per feature ({function})"),
        "feature": _("Feature"),
        "value": _("Value"),
        "no_value": _("no value"),
        "no_position": _("{n} features have no position and are only in the table."),
        "legend": _("Legend: {field}, from {min} to {max}"),
        "map_label": _("Map of {field} at {time}. Use the arrow keys to pan, + and - to zoom."),
        "functions": {"avg": _("average"), "min": _("minimum"), "max": _("maximum"),
                      "sum": _("sum"), "count": _("number of readings"),
                      "first": _("first value"), "last": _("last value")},
    }


def setup_template_variables(context: Context, data_dict: DataDict) -> dict[str, Any]:
    resource = data_dict["resource"]
    view = data_dict.get("resource_view") or {}
    out = access.view_access(resource["id"], data_dict["package"]["id"])
    out["dataviz_embed_url"] = (tk.url_for("dataviz.embed_view", view_id=view["id"], _external=True)
                                if view.get("id") else "")
    if not out["dataviz_allowed"]:
        return out
    lang = (tk.h.lang() or "fr").split("_")[0]
    tz_name = _zone_name()
    fields = value_fields(_feed_fields(resource["id"]), lang)
    chosen = view.get("field") if any(f["name"] == view.get("field") for f in fields) else None
    out["history_map"] = {
        "api": tk.url_for("api.action", ver=3, logic_function="history_snapshot"),
        "resource_id": resource["id"],
        "title": view.get("title") or resource.get("name") or "",
        "tz": tz_name,
        "lang": lang,
        "fields": fields,
        "field": chosen or (fields[0]["name"] if fields else ""),
        "step": view.get("step") if view.get("step") in VIEW_STEPS else "hour",
        "function": view.get("function") if view.get("function") in query.FUNCTIONS else "avg",
        "day": _last_day(resource["id"], tz_name),
        "basemap": basemap(),
        "messages": messages(),
    }
    out["history_map_steps"] = [("hour", tk._("Hours of the day")),
                                ("day", tk._("Days from this date (31)"))]
    out["history_map_functions"] = [(fn, messages()["functions"][fn]) for fn in query.FUNCTIONS]
    return out
