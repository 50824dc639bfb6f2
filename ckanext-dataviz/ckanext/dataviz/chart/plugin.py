"""The resource views `dataviz_chart` (a chart of a DataStore table) and
`dataviz_history` (a chart of a resource's history feed).

Both need the `dataviz` plugin loaded too (templates, assets, the chart
data action and the embed route).
"""

from __future__ import annotations

import functools
import zoneinfo
from typing import Any

import ckan.plugins as p
import ckan.plugins.toolkit as tk
from ckanext.dataviz import config
from ckanext.dataviz.chart import query, spec
from ckanext.dataviz.logic import schema
from ckanext.grandlyon_access import shared as access


def _context() -> dict[str, Any]:
    user = tk.current_user
    authenticated = bool(getattr(user, "is_authenticated", False))
    return {"user": user.name if authenticated else "",
            "auth_user_obj": user if authenticated else None}


def _embed_url(view_id: str | None) -> str:
    if not view_id:
        return ""
    return tk.url_for("dataviz.embed_view", view_id=view_id, _external=True)


class DatavizChartView(p.SingletonPlugin):
    """A chart (line, bar, area, pie, scatter) of a DataStore resource,
    aggregated by the database."""

    p.implements(p.IResourceView, inherit=True)
    p.implements(p.ITemplateHelpers)

    def info(self) -> dict[str, Any]:
        return {
            "name": "dataviz_chart",
            "title": tk._("Chart"),
            "default_title": tk._("Chart"),
            "icon": "chart-line",
            "iframed": True,
            "preview_enabled": False,
            "full_page_edit": True,
            "schema": schema.chart_view(),
        }

    def can_view(self, data_dict: dict[str, Any]) -> bool:
        return bool(tk.asbool(data_dict["resource"].get("datastore_active")))

    def setup_template_variables(self, context, data_dict) -> dict[str, Any]:
        resource = data_dict["resource"]
        view = data_dict.get("resource_view") or {}
        out = access.view_access(resource["id"], data_dict["package"]["id"])
        out["dataviz_embed_url"] = _embed_url(view.get("id"))
        return out

    def view_template(self, context, data_dict) -> str:
        return "dataviz/chart/view.html"

    def form_template(self, context, data_dict) -> str:
        return "dataviz/chart/form.html"

    def get_helpers(self) -> dict[str, Any]:
        return {"dataviz_chart_fields": dataviz_chart_fields,
                "dataviz_chart_choices": dataviz_chart_choices,
                "dataviz_chart_field_options": dataviz_chart_field_options,
                "dataviz_chart_strings": dataviz_chart_strings,
                "dataviz_history_available": history_available}


def dataviz_chart_fields(resource_id: str) -> list[dict[str, Any]]:
    """The DataStore fields of a resource with their kind (number, time,
    bool, text), for the chart form; [] without a table."""
    fields = query.datastore_fields(resource_id) or []
    return [dict(f, kind=spec.kind(f["type"])) for f in fields]


def dataviz_chart_field_options(resource_id: str) -> list[tuple[str, str]]:
    """(value, label) of each DataStore field, for the form's selects."""
    return [(f["id"], f"{f['id']} ({f['type']})") for f in dataviz_chart_fields(resource_id)]


def dataviz_chart_strings() -> dict[str, Any]:
    """The strings of the chart scripts, in the user's language
    (%(name)s placeholders are filled by the scripts)."""
    _ = tk._
    return {
        "types": {"line": _("Line chart"), "bar": _("Bar chart"), "area": _("Area chart"),
                  "pie": _("Pie chart"), "scatter": _("Scatter chart")},
        "summary": _("%(type)s of %(y)s by %(x)s: %(series)s series, %(points)s points."),
        "truncated": _("Only the first %(points)s points are shown."),
        "error": _("The chart could not be drawn: %(message)s"),
        "empty": _("No data matches this chart."),
        "table": _("The data of this chart as a table"),
        "copied": _("Copied"),
        "period": _("Period"),
        "no_history": _("No history in this period."),
        "no_feature": _("No feature is named \u201c%(name)s\u201d: choose one of the suggestions."),
        "remove_feature": _("Remove %(name)s"),
        "across_sum": _("Total of all features"),
        "across_avg": _("Average of all features"),
        "too_many_features": _("At most %(n)s features can be compared: the first %(n)s are "
                               "drawn. Remove some to choose others."),
    }


def dataviz_chart_choices() -> dict[str, list[tuple[str, str]]]:
    """The choices of the chart form, labelled in the user's language."""
    _ = tk._
    return {
        "chart_type": [("line", _("Line")), ("bar", _("Bar")), ("area", _("Area")),
                       ("pie", _("Pie")), ("scatter", _("Scatter"))],
        "aggregate": [("none", _("None (raw rows)")), ("sum", _("Sum")),
                      ("avg", _("Average")), ("min", _("Minimum")), ("max", _("Maximum")),
                      ("count", _("Count of rows"))],
        "bucket": [("", _("No time bucket")), ("day", _("Day")), ("week", _("Week")),
                   ("month", _("Month")), ("year", _("Year"))],
        "sort": [("x", _("Horizontal axis, ascending")), ("-x", _("Horizontal axis, descending")),
                 ("y", _("Value, ascending")), ("-y", _("Value, descending"))],
    }


def history_available() -> bool:
    """Whether an action `history_query` is registered (ckanext-history)."""
    try:
        tk.get_action("history_query")
        return True
    except (KeyError, Exception):
        return False


@functools.lru_cache(maxsize=1)
def _zone_names() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones()) - {"localtime", "Factory", "posixrules"}


def history_chart_zone() -> str:
    """The zone of a history chart: the page's `tz` parameter when it is an
    IANA name (a link may show another zone), else the portal's. The chart
    sends it to history_query, which buckets and labels times in it."""
    asked = tk.request.args.get("tz", "") if tk.request else ""
    return asked if asked in _zone_names() else config.time_zone()


NUMERIC_HISTORY_TYPES = ("int", "float", "bool")


def _history_feed_fields(resource_id: str) -> list[dict[str, Any]]:
    try:
        feed = tk.get_action("history_feed_show")({"ignore_auth": True},
                                                  {"resource_id": resource_id})
    except (KeyError, tk.ObjectNotFound, tk.ValidationError):
        return []
    return feed.get("fields") or []


def history_label_field(resource_id: str) -> str:
    """The text field of a resource's history feed that names its features
    (`label`: true), "" when none: the chart offers those names."""
    return next((f["name"] for f in _history_feed_fields(resource_id) if f.get("label")), "")


def history_chart_fields(resource_id: str, lang: str) -> list[dict[str, str]]:
    """The numeric fields of a resource's history feed as a chart shows
    them: `name`, `title` in `lang` (else the other language's, else the
    name), `unit` in `lang` (`unit_<lang>`, else `unit`, else the other
    language's, "" when none) and `across`, how all features are put
    together by default (`sum` or `avg`, avg when the feed does not say)."""
    other = "en" if lang == "fr" else "fr"
    out = []
    for field in _history_feed_fields(resource_id):
        if field.get("type") not in NUMERIC_HISTORY_TYPES:
            continue
        title = (field.get(f"title_{lang}") or field.get(f"title_{other}") or field["name"])
        unit = (field.get(f"unit_{lang}") or field.get("unit") or field.get(f"unit_{other}")
                or "")
        out.append({"name": field["name"], "title": title, "unit": unit,
                    "across": field.get("across") or "avg"})
    return out


class DatavizHistoryView(p.SingletonPlugin):
    """A chart of a resource's history (ckanext-history's history_query):
    period, aggregation and features chosen by the reader."""

    p.implements(p.IResourceView, inherit=True)

    def info(self) -> dict[str, Any]:
        return {
            "name": "dataviz_history",
            "title": tk._("History chart"),
            "default_title": tk._("History"),
            "icon": "clock-rotate-left",
            "iframed": True,
            "schema": schema.history_view(),
        }

    def can_view(self, data_dict: dict[str, Any]) -> bool:
        if not history_available():
            return False
        try:
            tk.get_action("history_feed_show")(
                {"ignore_auth": True}, {"resource_id": data_dict["resource"]["id"]})
            return True
        except Exception:
            return False

    def setup_template_variables(self, context, data_dict) -> dict[str, Any]:
        resource = data_dict["resource"]
        view = data_dict.get("resource_view") or {}
        out = access.view_access(resource["id"], data_dict["package"]["id"])
        out["dataviz_embed_url"] = _embed_url(view.get("id"))
        out["dataviz_history_ready"] = history_available()
        out["dataviz_history_tz"] = history_chart_zone()
        lang = (tk.h.lang() or "fr").split("_")[0]
        fields = history_chart_fields(resource["id"], lang) if out["dataviz_allowed"] else []
        # The fields the view names come first, in its order; the others follow.
        named = [n.strip() for n in str(view.get("fields") or "").split(",") if n.strip()]
        fields.sort(key=lambda f: named.index(f["name"]) if f["name"] in named else len(named))
        out["dataviz_history_fields"] = fields
        out["dataviz_history_label_field"] = (history_label_field(resource["id"])
                                              if out["dataviz_allowed"] else "")
        return out

    def view_template(self, context, data_dict) -> str:
        return "dataviz/chart/history_view.html"

    def form_template(self, context, data_dict) -> str:
        return "dataviz/chart/history_form.html"
