"""`ckan history ...`: ingest (the feed worker), import, compact."""

from __future__ import annotations

import click

__all__ = ["history"]


@click.group(short_help="History of real-time data: ingest, import, compact.")
def history():
    """History of real-time data."""
