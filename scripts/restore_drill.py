"""The restore drill: back a portal up the way docker/README.md says, wipe
it, restore it, and check that everything is back.

    python scripts/restore_drill.py --ini .stack/ckan.ini --backup /tmp/backup

Steps (each printed as it runs):

1. What is there before: every table of both databases (row count and a
   digest of its rows), every file of the storage folder and of the history
   archive (SHA-256), and what the portal answers as a sysadmin: the
   datasets package_search finds, every DataStore table's rows through
   datastore_search (the read-only account reads them), every history's
   coverage (history_show) and its first 30 days through history_query.
2. The backup, as in docker/README.md: `pg_dump -Fc` of both databases, a
   tar.gz of the uploads and of the archive.
3. The wipe: every object of both databases (DROP OWNED BY the portal's
   database account, which owns them all), the files, the search index.
4. The restore: `pg_restore`, the files, `search-index rebuild`.
5. What is there after, compared with step 1. Any difference is printed
   and the exit status is 1.

The history archive on object storage (`ckanext.history.archive.path =
s3://...`) is the bucket's to back up (versioning or a copy with the S3
tool): the drill says so and checks the files it can reach.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Callable
from urllib.parse import urlsplit

import ckan.model as model
import ckan.plugins.toolkit as tk
import psycopg2
from ckan.cli import load_config
from ckan.config.middleware import make_app
from ckan.lib import search

Facts = dict[str, Any]


def say(message: str) -> None:
    print(f"==> {message}", flush=True)


def pg_tool(name: str) -> str:
    """A PostgreSQL client program of the server's version (PORTAL_PG_BIN,
    as scripts/stack.sh finds them), else the one on the PATH."""
    folder = os.environ.get("PORTAL_PG_BIN", "/usr/lib/postgresql/15/bin")
    path = Path(folder) / name
    return str(path) if path.exists() else name


class Portal:
    """What the drill needs of a portal, read from its ckan.ini through
    CKAN's own configuration loader (so `use = config:...` chains count)."""

    def __init__(self, ini: str) -> None:
        self.config = load_config(ini)
        self.app = make_app(self.config)
        self.databases = {"ckan": self.config["sqlalchemy.url"],
                          "datastore": self.config["ckan.datastore.write_url"]}
        self.storage = Path(self.config["ckan.storage_path"])
        archive = self.config.get("ckanext.history.archive.path") or ""
        self.archive_on_s3 = archive.startswith("s3://")
        self.archive = None if self.archive_on_s3 or not archive else Path(archive)
        if self.archive is not None and self.storage in self.archive.parents:
            self.archive = None  # inside the storage folder: saved with it

    def folders(self) -> dict[str, Path]:
        found = {"storage": self.storage}
        if self.archive is not None:
            found["archive"] = self.archive
        return found

    def call(self, action: str, **data: Any) -> Any:
        with self.app._wsgi_app.test_request_context():
            site_user = tk.get_action("get_site_user")({"ignore_auth": True}, {})["name"]
            return tk.get_action(action)({"user": site_user, "ignore_auth": True}, data)

    def release(self) -> None:
        """Closes the drill's own database connections (a wipe waits for them)."""
        model.Session.remove()
        model.meta.engine.dispose()


# --- what is there ---------------------------------------------------------------------

def table_digests(url: str) -> dict[str, str]:
    """`schema.table` -> "rows digest" of every table of the database
    (partitions counted in their parent: their own rows are the same)."""
    result = {}
    with psycopg2.connect(url) as connection, connection.cursor() as cursor:
        cursor.execute("""
            SELECT n.nspname, c.relname FROM pg_class c
            JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
              AND n.nspname NOT IN ('pg_catalog', 'information_schema')
              AND n.nspname NOT LIKE 'pg_toast%'
            ORDER BY 1, 2""")
        for schema, table in cursor.fetchall():
            name = f'"{schema}"."{table}"'
            # A sum of the rows' digests: the same whatever the rows' order,
            # in constant memory (a table of millions of history rows).
            cursor.execute(f"SELECT count(*), coalesce(sum(('x' || substr(md5(t::text), 1, 15))"
                           f"::bit(60)::bigint::numeric), 0) FROM {name} t")
            count, digest = cursor.fetchone()
            result[f"{schema}.{table}"] = f"{count} {digest}"
    return result


def file_digests(folder: Path) -> dict[str, str]:
    result = {}
    if not folder.exists():
        return result
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        result[str(path.relative_to(folder))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return result


def answers(portal: Portal) -> Facts:
    """What the portal answers a sysadmin: datasets found by the search,
    DataStore rows, history rows."""
    found = portal.call("package_search", q="*:*", rows=1000, include_private=True,
                        include_drafts=True, fl="name,metadata_modified")
    facts: Facts = {"search": sorted((d["name"], d["metadata_modified"])
                                     for d in found["results"])}
    datastore, histories = {}, {}
    with psycopg2.connect(portal.databases["ckan"]) as connection, connection.cursor() as cur:
        cur.execute("SELECT id FROM resource WHERE state = 'active' AND extras LIKE "
                    "'%\"datastore_active\": true%' ORDER BY id")
        tables = [row[0] for row in cur.fetchall()]
        cur.execute("SELECT to_regclass('history_schema') IS NOT NULL")
        has_history = cur.fetchone()[0]
        resources = []
        if has_history:
            cur.execute("SELECT resource_id FROM history_schema ORDER BY resource_id")
            resources = [row[0] for row in cur.fetchall()]
    for resource_id in tables:
        rows = portal.call("datastore_search", resource_id=resource_id, limit=32000,
                           sort="_id")
        datastore[resource_id] = [rows["total"], rows["records"]]
    for resource_id in resources:
        coverage = portal.call("history_show", resource_id=resource_id)["coverage"]
        records = []
        if coverage.get("first"):
            first = datetime.fromisoformat(coverage["first"])
            end = min(first + timedelta(days=30),
                      datetime.fromisoformat(coverage["last"]) + timedelta(seconds=1))
            records = portal.call("history_query", resource_id=resource_id,
                                  start=first.isoformat(), end=end.isoformat(), limit=1000,
                                  tz="UTC")["records"]
        histories[resource_id] = [coverage, records]
    facts["datastore"], facts["history"] = datastore, histories
    return facts


def state(portal: Portal, answers_first: bool) -> Facts:
    """Tables, files and answers. Reading data is logged (the access log):
    before the backup the answers come first, so that their log lines are
    in the backup; after the restore, last."""
    found: Facts = {"answers": answers(portal)} if answers_first else {}
    found["tables"] = {name: table_digests(url) for name, url in portal.databases.items()}
    found["files"] = {name: file_digests(path) for name, path in portal.folders().items()}
    if not answers_first:
        found["answers"] = answers(portal)
    return found


def differences(before: Facts, after: Facts, where: str = "") -> list[str]:
    """What differs between two states, one line each."""
    if isinstance(before, dict) and isinstance(after, dict):
        found = []
        for key in sorted(set(before) | set(after), key=str):
            if key not in after:
                found.append(f"{where}{key}: missing after the restore")
            elif key not in before:
                found.append(f"{where}{key}: new after the restore")
            else:
                found += differences(before[key], after[key], f"{where}{key} / ")
        return found
    return [] if before == after else [f"{where.rstrip(' /')}: {before!r:.120} != {after!r:.120}"]


# --- backup, wipe, restore ---------------------------------------------------------------

def run(command: list[str], **kwargs: Any) -> None:
    subprocess.run(command, check=True, **kwargs)


def backup(portal: Portal, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, url in portal.databases.items():
        run([pg_tool("pg_dump"), "-Fc", "-f", str(folder / f"{name}.dump"), "-d", url])
    for name, path in portal.folders().items():
        with tarfile.open(folder / f"{name}.tgz", "w:gz") as archive:
            if path.exists():
                archive.add(path, arcname=".")


def wipe(portal: Portal) -> None:
    portal.release()
    for url in portal.databases.values():
        user = urlsplit(url).username
        with psycopg2.connect(url) as connection, connection.cursor() as cursor:
            cursor.execute(f'DROP OWNED BY "{user}" CASCADE')
    for path in portal.folders().values():
        if path.exists():
            shutil.rmtree(path)
    _search_index(portal, "clear")


def restore(portal: Portal, folder: Path) -> None:
    for name, url in portal.databases.items():
        run([pg_tool("pg_restore"), "--exit-on-error", "-d", url, str(folder / f"{name}.dump")])
    for name, path in portal.folders().items():
        path.mkdir(parents=True, exist_ok=True)
        with tarfile.open(folder / f"{name}.tgz", "r:gz") as archive:
            archive.extractall(path, filter="data")
    _search_index(portal, "rebuild")


def _search_index(portal: Portal, what: str) -> None:
    with portal.app._wsgi_app.test_request_context():
        if what == "clear":
            search.clear_all()
        else:
            search.rebuild(defer_commit=True)
            search.commit()


def timed(label: str, step: Callable[[], Any]) -> Any:
    say(label)
    began = time.monotonic()
    result = step()
    print(f"    {time.monotonic() - began:.1f} s", flush=True)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ini", required=True, help="the portal's ckan.ini")
    parser.add_argument("--backup", required=True, help="an empty folder for the backup")
    args = parser.parse_args(argv)
    folder = Path(args.backup)
    if folder.exists() and any(folder.iterdir()):
        parser.error(f"{folder} is not empty: the drill writes a new backup there")
    portal = Portal(args.ini)
    if portal.archive_on_s3:
        say("the history archive is on object storage: back its bucket up with your S3 tool "
            "(the drill checks the databases and the local files)")
    before = timed("what is there before", lambda: state(portal, answers_first=True))
    timed(f"backup into {folder}", lambda: backup(portal, folder))
    timed("wipe: both databases, the files, the search index", lambda: wipe(portal))
    timed("restore", lambda: restore(portal, folder))
    after = timed("what is there after", lambda: state(portal, answers_first=False))
    found = differences(before, after)
    tables = sum(len(t) for t in before["tables"].values())
    files = sum(len(f) for f in before["files"].values())
    print(f"checked: {tables} tables, {files} files, {len(before['answers']['search'])} "
          f"datasets found, {len(before['answers']['datastore'])} DataStore tables, "
          f"{len(before['answers']['history'])} histories")
    if found:
        print("DIFFERENT after the restore:")
        for line in found[:50]:
            print("  " + line)
        return 1
    print("the restore gave back everything")
    return 0


if __name__ == "__main__":
    sys.exit(main())
