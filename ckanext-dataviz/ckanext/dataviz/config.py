"""Options of the dataviz plugin and their typed getters.

Declared in config_declaration.yaml; read at call time, never at import.
"""

from __future__ import annotations

import ckan.plugins.toolkit as tk


def basemap_tile_url() -> str:
    """URL template of the basemap tiles, or an empty string."""
    return tk.config["ckanext.dataviz.basemap.tile_url"]


def basemap_attribution() -> str:
    """Attribution text of the basemap."""
    return tk.config["ckanext.dataviz.basemap.attribution"]


def map_max_features() -> int:
    """Most features one map layer sends to the browser."""
    return tk.config["ckanext.dataviz.map.max_features"]


def map_max_bytes() -> int:
    """Largest file a map layer reads, in bytes."""
    return tk.config["ckanext.dataviz.map.max_bytes"]


def chart_max_points() -> int:
    """The most points a chart answer carries (ckanext.dataviz.chart.max_points)."""
    return tk.config["ckanext.dataviz.chart.max_points"]


def chart_timeout_ms() -> int:
    """Statement timeout of a chart's aggregation query, in milliseconds."""
    return tk.config["ckanext.dataviz.chart.timeout_ms"]


def loader_enabled() -> bool:
    """Whether uploaded CSV files are loaded into the DataStore."""
    return tk.config["ckanext.dataviz.loader.enabled"]


def loader_batch_rows() -> int:
    """Rows written to the DataStore in one call by the loader."""
    return tk.config["ckanext.dataviz.loader.batch_rows"]


def loader_timeout() -> int:
    """Seconds a load job may run before the worker stops it."""
    return tk.config["ckanext.dataviz.loader.timeout"]


def time_zone() -> str:
    """The portal's time zone (CKAN's `ckan.display_timezone`; `server` or
    empty is UTC): the zone of history charts that name none."""
    name = str(tk.config["ckan.display_timezone"] or "").strip()
    return "UTC" if name in ("", "server") else name
