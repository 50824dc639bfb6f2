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
