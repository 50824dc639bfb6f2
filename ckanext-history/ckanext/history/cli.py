"""`ckan history ...`: ingest (the feed worker), import, compact."""

from __future__ import annotations

import click

__all__ = ["history"]


@click.group(short_help="History of real-time data: ingest, import, compact.")
def history():
    """History of real-time data."""


from .ingest import ingest_command  # noqa: E402  (history-B: the feed worker)

history.add_command(ingest_command)
