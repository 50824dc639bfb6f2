from __future__ import annotations

import ckan.plugins as p
import ckan.plugins.toolkit as tk


@tk.blanket.config_declarations
class HistoryPlugin(p.SingletonPlugin):
    """History of real-time data: feed ingest, hot PostgreSQL tier, Parquet archive queried with DuckDB."""
