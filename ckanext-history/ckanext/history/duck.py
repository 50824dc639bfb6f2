"""DuckDB connections of the history plugin: the archive's compaction and
the queries over both tiers read through them."""

from __future__ import annotations

import tempfile
import threading

import duckdb

from . import config

_local = threading.local()


def connect() -> duckdb.DuckDBPyConnection:
    """A DuckDB connection for one query: a cursor on this thread's
    in-memory database (opening a database costs ~20 ms; a cursor nothing).
    Registered relations live on the cursor and go with it."""
    settings = (config.duckdb_threads(), config.duckdb_memory_limit())
    base = getattr(_local, "db", None)
    if base is None or getattr(_local, "settings", None) != settings:
        if base is not None:
            base.close()
        base = duckdb.connect(config={
            "threads": settings[0],
            "memory_limit": settings[1],
            "temp_directory": tempfile.gettempdir(),
            # Parquet footers cached across queries (invalidated when a file changes).
            "enable_object_cache": True,
        })
        _local.db, _local.settings = base, settings
    return base.cursor()
