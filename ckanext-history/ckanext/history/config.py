"""Options of the history plugin and their typed getters.

Declared in config_declaration.yaml; read at call time, never at import.
"""

from __future__ import annotations

import os

import ckan.plugins.toolkit as tk


def archive_path() -> str:
    """Location of the Parquet archive (folder or s3:// URL)."""
    path = tk.config["ckanext.history.archive.path"]
    if path:
        return path
    storage = tk.config["ckan.storage_path"] or ""
    return os.path.join(storage, "history") if storage else ""


def hot_retention_days() -> int:
    """Days of rows kept in the hot tier once archived."""
    return tk.config["ckanext.history.hot_retention_days"]


def hot_aggregate_work_mem() -> str:
    """PostgreSQL work_mem of a query aggregating hot rows (e.g. 64MB)."""
    return tk.config["ckanext.history.hot_aggregate_work_mem"]


# Queries (history_query, downloads) and DuckDB.

def query_default_limit() -> int:
    """Records of a history_query page when no limit is given."""
    return tk.config["ckanext.history.query.default_limit"]


def query_max_limit() -> int:
    """Largest limit of a history_query page."""
    return tk.config["ckanext.history.query.max_limit"]


def query_max_points() -> int:
    """Most time buckets an aggregated query may span."""
    return tk.config["ckanext.history.query.max_points"]


def query_max_range_days() -> int:
    """Longest range, in days, of a query without aggregate."""
    return tk.config["ckanext.history.query.max_range_days"]


def duckdb_memory_limit() -> str:
    """DuckDB's memory limit for one query (e.g. 1GB)."""
    return tk.config["ckanext.history.duckdb.memory_limit"]


def duckdb_threads() -> int:
    """DuckDB threads for one query."""
    return tk.config["ckanext.history.duckdb.threads"]


# Feeds and their ingest worker.

def feed_min_interval() -> int:
    """Shortest polling interval of a feed, in seconds."""
    return tk.config["ckanext.history.feed.min_interval_seconds"]


def feed_max_interval() -> int:
    """Longest polling interval of a feed, in seconds."""
    return tk.config["ckanext.history.feed.max_interval_seconds"]


def ingest_timeout() -> int:
    """Seconds to wait for a feed's source."""
    return tk.config["ckanext.history.ingest.timeout"]


def ingest_max_bytes() -> int:
    """Largest feed body read, in bytes."""
    return tk.config["ckanext.history.ingest.max_bytes"]


def ingest_max_seconds() -> int:
    """Longest time one poll may spend fetching a feed's answer, in seconds."""
    return int(tk.config["ckanext.history.ingest.max_seconds"])


def ingest_max_backoff() -> int:
    """Longest wait before retrying a failing feed, in seconds."""
    return tk.config["ckanext.history.ingest.max_backoff_seconds"]


def ingest_idle_seconds() -> int:
    """Longest sleep of the worker when no feed is due."""
    return tk.config["ckanext.history.ingest.idle_seconds"]


# Time zones.

def time_zone() -> str:
    """The portal's time zone (CKAN's `ckan.display_timezone`): the zone of
    history queries, downloads and charts that name none. `server` or
    empty is UTC."""
    name = str(tk.config["ckan.display_timezone"] or "").strip()
    return "UTC" if name in ("", "server") else name
