"""`ckan history ...`: ingest (the feed worker), import, compact."""

from __future__ import annotations

import os

import click

from . import archive, importer, store
from .ingest import ingest_command
from .logic import action

__all__ = ["history"]


@click.group(short_help="History of real-time data: ingest, import, compact.")
def history():
    """History of real-time data."""


history.add_command(ingest_command)  # the feed worker (ingest.py)


# --- compact -------------------------------------------------------------------------

@history.command("compact", short_help="Move rows older than the hot retention into the Parquet archive.")
@click.option("--resource", "resource_id", default=None, help="Only this resource (default: every history).")
def compact_command(resource_id):
    """Moves each history's hot rows older than its retention
    (the feed's hot_retention_days, else ckanext.history.hot_retention_days)
    into the archive's monthly Parquet files. Safe to interrupt and rerun.
    First removes the histories of resources deleted or purged since."""
    if not resource_id:
        for rid in action.prune():
            click.echo(f"{rid}: resource deleted, its history removed")
    try:
        results = archive.compact_all(resource_id)
    except OSError as error:  # e.g. the archive's disk is full
        raise click.ClickException(
            f"the archive could not be written ({error.strerror or error}); the rows are kept in "
            f"the hot tier and nothing was lost. Free space where ckanext.history.archive.path "
            f"points, then run `ckan history compact` again.")
    for rid, result in results.items():
        months = ", ".join(result["months"]) or "-"
        click.echo(f"{rid}: {result['rows']} rows archived ({months})")


# --- import --------------------------------------------------------------------------

IMPORT_FORMATS = ("auto", "csv", "jsonl", "parquet")


def import_file(resource_id: str, path: str, fmt: str = "auto", feature_field: str = "feature",
                time_field: str = "time", batch_rows: int = 5000, progress=None,
                stop_after_batches: int | None = None) -> dict:
    """Imports one file (CSV with a header, JSON lines, or Parquet) into a
    history through store.write_rows, a batch at a time (memory holds one
    batch). Restartable: every row is stored at most once (unique (resource,
    feature, time), the archive included), and the position after each stored
    batch is remembered (history_import), so a rerun skips what was done; a
    finished file is skipped. Rows that cannot be stored as declared are
    refused and counted (importer.check_rows); a file lacking a declared
    column is refused before anything is stored. Returns {"read", "stored",
    "refused" (importer.Refusals), "skipped_file"}.
    `stop_after_batches` (tests) stops as a killed import would."""
    fields = store.get_schema(resource_id)
    if fields is None:
        raise click.ClickException(f"{resource_id}: no history declared for this resource (create its feed first)")
    if fmt == "auto":
        fmt = importer.guess_format(path)
    refusals = importer.Refusals()
    key = importer.file_key(resource_id, path)
    state = importer.progress(key)
    if state and state["finished"]:
        return {"read": 0, "stored": 0, "refused": refusals, "skipped_file": True}
    columns = importer.columns(path, fmt)
    if columns is not None:
        missing = [name for name in [feature_field, time_field] + [f["name"] for f in fields]
                   if name not in columns]
        if missing:
            raise click.ClickException(
                f"{path}: no column {', '.join(missing)} (the file has {', '.join(columns) or 'none'}); "
                f"nothing imported. Name the columns with --feature-field and --time-field, or add a "
                f"declared field as an empty column to import the rows without its values.")
    offset = state["offset"] if state else 0
    rows_done = state["rows"] if state else 0
    read = stored = batches = 0
    size = os.path.getsize(path)
    now = store.utcnow()
    reader = importer.read_batches(path, fmt, batch_rows, offset=offset, rows_done=rows_done)
    for rows, new_offset in reader:
        out = importer.check_rows(rows, rows_done + 1, fields, feature_field, time_field, now, refusals)
        stored += store.write_rows(resource_id, importer.not_archived(resource_id, out), fields=fields)
        read += len(rows)
        rows_done += len(rows)
        importer.save_progress(key, resource_id, path, new_offset, rows_done, finished=False)
        if progress is not None:
            progress.update((new_offset - offset) if fmt != "parquet" else len(rows))
        offset = new_offset
        batches += 1
        if stop_after_batches is not None and batches >= stop_after_batches:
            return {"read": read, "stored": stored, "refused": refusals, "skipped_file": False,
                    "stopped": True}
    importer.save_progress(key, resource_id, path, size, rows_done, finished=True)
    return {"read": read, "stored": stored, "refused": refusals, "skipped_file": False}


@history.command("import", short_help="Import rows into a history from CSV, JSON lines or Parquet files.")
@click.argument("resource_id")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--format", "fmt", type=click.Choice(IMPORT_FORMATS), default="auto",
              help="File format (default: from the extension).")
@click.option("--feature-field", default="feature", show_default=True, help="Column of the feature id.")
@click.option("--time-field", default="time", show_default=True,
              help="Column of the time (ISO 8601; naive = UTC).")
@click.option("--batch-size", default=5000, show_default=True, type=click.IntRange(1, 100000))
def import_command(resource_id, files, fmt, feature_field, time_field, batch_size):
    """Imports FILES into the history of RESOURCE_ID (whose feed declares the
    fields). Rows already stored are skipped; an interrupted import resumes
    where it stopped when run again. Rows that cannot be stored as declared
    (no feature, a time that is not one, before 1900 or more than a day
    ahead, a value not of its field's type) are refused and reported; the
    command then exits with status 1, after importing the others."""
    refused = 0
    for path in files:
        kind = importer.guess_format(path) if fmt == "auto" else fmt
        length = importer.parquet_rows(path) if kind == "parquet" else os.path.getsize(path)
        with click.progressbar(length=length, label=os.path.basename(path)) as bar:
            result = import_file(resource_id, path, kind, feature_field, time_field, batch_size, progress=bar)
        if result["skipped_file"]:
            click.echo(f"{path}: already imported")
        else:
            already = result["read"] - result["stored"] - result["refused"].total
            click.echo(f"{path}: {result['read']} rows read, {result['stored']} new, "
                       f"{already} already stored, {result['refused'].total} refused")
        for line in result["refused"].lines():
            click.echo(f"{path}: {line}", err=True)
        refused += result["refused"].total
    if refused:
        raise click.ClickException(f"{refused} rows refused (see above); the others are imported. "
                                   f"Correct those rows and import them again.")

