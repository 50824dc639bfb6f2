"""The licence registry's tables: reading, seeding and publishing, in SQL.

Every function runs on its own connection of CKAN's engine and commits its
own transaction, apart from the request's `model.Session`: reading the
registry never joins (nor breaks) a caller's transaction, and a published
version is committed before the action answers.

Each write (a seed that changed something, a published version) sets a new
`stamp` in the one row of `grandlyon_licence_revision`, in the same
transaction. A web process reads that stamp (`read_stamp`, one tiny query)
and loads the licences again only when it changed (registry.current), so a
version published by one process is seen by every other on its next request.

Seeding and publishing take a PostgreSQL advisory lock: two processes that
find the tables empty at the same time seed them once.

Licences come in and go out as plain dictionaries (registry.py turns them
into its `Licence`): id, position, title, url, signature_required,
signer_details, ckan_fields, version (the current one) and text (its text).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from typing import Any

import sqlalchemy as sa
from ckan import model as ckan_model
from sqlalchemy.dialects.postgresql import insert

from .model import (
    GrandlyonLicence,
    GrandlyonLicenceRevision,
    GrandlyonLicenceSignature,
    GrandlyonLicenceVersion,
    utcnow,
)

licence_table = GrandlyonLicence.__table__
version_table = GrandlyonLicenceVersion.__table__
revision_table = GrandlyonLicenceRevision.__table__
signature_table = GrandlyonLicenceSignature.__table__
# The note of a version known only from its signatures (signed while the
# registry was a file that has changed since): its text was not kept.
SIGNED_ONLY_NOTE = "signed before the registry was kept in the database; text not kept"

# pg_advisory_xact_lock key of the registry's writers ("glic" in ASCII).
WRITE_LOCK = 0x676C6963
METADATA_KEYS = ("title", "url", "signature_required", "signer_details", "ckan_fields")


class UnknownLicence(LookupError):
    """No licence with this id in the registry."""


class VersionExists(ValueError):
    """The licence already had this version (published at `published_at`)."""

    def __init__(self, licence_id: str, version: str, published_at: Any):
        super().__init__(f"licence {licence_id} already had version {version}")
        self.published_at = published_at


def _engine() -> sa.engine.Engine:
    return ckan_model.meta.engine


# --- reading -------------------------------------------------------------------------


def read_stamp() -> str | None:
    """The registry's revision stamp; None while it was never seeded.
    Raises sqlalchemy's ProgrammingError when the tables do not exist."""
    with _engine().connect() as conn:
        return conn.execute(
            sa.select(revision_table.c.stamp).where(revision_table.c.id == 1)
        ).scalar()


def read_licences() -> list[dict[str, Any]]:
    """Every licence with its current version's text, in registry order."""
    query = (
        sa.select(licence_table, version_table.c.text)
        .select_from(
            licence_table.join(
                version_table,
                sa.and_(
                    version_table.c.licence_id == licence_table.c.id,
                    version_table.c.version == licence_table.c.current_version,
                ),
            )
        )
        .order_by(licence_table.c.position, licence_table.c.id)
    )
    with _engine().connect() as conn:
        rows = conn.execute(query).mappings().all()
    return [{**dict(row), "version": row["current_version"]} for row in rows]


def read_versions(licence_id: str) -> list[dict[str, Any]]:
    """Every version of a licence, newest first: version, text,
    published_at, published_by, note."""
    query = (
        sa.select(version_table)
        .where(version_table.c.licence_id == licence_id)
        .order_by(version_table.c.published_at.desc(), version_table.c.version.desc())
    )
    with _engine().connect() as conn:
        return [dict(row) for row in conn.execute(query).mappings()]


def read_version(licence_id: str, version: str) -> dict[str, Any] | None:
    """One version of a licence (see read_versions), or None."""
    query = sa.select(version_table).where(
        version_table.c.licence_id == licence_id, version_table.c.version == version
    )
    with _engine().connect() as conn:
        row = conn.execute(query).mappings().first()
    return dict(row) if row else None


# --- writing -------------------------------------------------------------------------


def _lock(conn: sa.engine.Connection) -> None:
    conn.execute(sa.select(sa.func.pg_advisory_xact_lock(WRITE_LOCK)))


def _bump(conn: sa.engine.Connection) -> None:
    """A new stamp for the registry (first one: revision 1)."""
    now, stamp = utcnow(), uuid.uuid4().hex
    statement = insert(revision_table).values(id=1, revision=1, stamp=stamp, changed_at=now)
    conn.execute(
        statement.on_conflict_do_update(
            index_elements=[revision_table.c.id],
            set_={
                "revision": revision_table.c.revision + 1,
                "stamp": stamp,
                "changed_at": now,
            },
        )
    )


def _insert_version(
    conn: sa.engine.Connection,
    licence_id: str,
    version: str,
    text: Mapping[str, str],
    published_by: str | None,
    note: str,
) -> None:
    conn.execute(
        version_table.insert().values(
            licence_id=licence_id,
            version=version,
            text=dict(text),
            published_at=utcnow(),
            published_by=published_by,
            note=note,
        )
    )


def seed(
    entries: Iterable[Mapping[str, Any]], note: str, only_if_unseeded: bool
) -> dict[str, list]:
    """Brings the registry in line with `entries` (the registry file):
    a licence it lacks is added with its version; a licence whose version
    it never had gets that version as its new current one; the other
    fields of a licence (title, url, signer details...) take the file's
    values. Never removes a licence or a version, never changes a stored
    version's text, never goes back to an older version.

    `only_if_unseeded`: do nothing when the registry was seeded before (the
    automatic seed on first use). Safe to run from several processes at once.

    A version that users signed but the registry never had (signed while
    the registry was a file, before it changed) is recorded too, at its
    first signature's time, without text: it stays in the history and its
    number cannot be published again (its signatures would count again).

    :returns: {"added": [ids], "versions": ["id version"], "updated": [ids],
        "text_differs": ["id version"], "signed_only": ["id version"]}
        (text_differs: a stored version whose text is not the file's:
        publish a new version to change a text)
    """
    report: dict[str, list] = {
        "added": [], "versions": [], "updated": [], "text_differs": [], "signed_only": []}
    with _engine().begin() as conn:
        _lock(conn)
        seeded = conn.execute(
            sa.select(revision_table.c.id).where(revision_table.c.id == 1)
        ).first()
        if seeded and only_if_unseeded:
            return report
        stored = {row["id"]: row for row in conn.execute(sa.select(licence_table)).mappings()}
        versions = {
            (row["licence_id"], row["version"]): row["text"]
            for row in conn.execute(sa.select(version_table)).mappings()
        }
        for entry in entries:
            _seed_one(conn, entry, stored.get(entry["id"]), versions, note, report)
        _record_signed_versions(conn, set(stored) | set(report["added"]), report)
        if not seeded or any(report[key] for key in ("added", "versions", "updated",
                                                     "signed_only")):
            _bump(conn)
    return report


def _seed_one(
    conn: sa.engine.Connection,
    entry: Mapping[str, Any],
    row: Mapping[str, Any] | None,
    versions: Mapping[tuple[str, str], Any],
    note: str,
    report: dict[str, list],
) -> None:
    licence_id, version, now = entry["id"], entry["version"], utcnow()
    metadata = {key: entry[key] for key in METADATA_KEYS}
    if row is None:
        conn.execute(
            licence_table.insert().values(
                id=licence_id,
                position=entry["position"],
                current_version=version,
                created_at=now,
                updated_at=now,
                **metadata,
            )
        )
        _insert_version(conn, licence_id, version, entry["text"], None, note)
        report["added"].append(licence_id)
        return
    changes = {key: value for key, value in metadata.items() if row[key] != value}
    if row["position"] != entry["position"]:
        changes["position"] = entry["position"]
    if (licence_id, version) not in versions:
        _insert_version(conn, licence_id, version, entry["text"], None, note)
        changes["current_version"] = version
        report["versions"].append(f"{licence_id} {version}")
    elif versions[(licence_id, version)] != dict(entry["text"]):
        report["text_differs"].append(f"{licence_id} {version}")
    if changes:
        conn.execute(
            licence_table.update()
            .where(licence_table.c.id == licence_id)
            .values(updated_at=now, **changes)
        )
        if set(changes) - {"current_version"}:
            report["updated"].append(licence_id)


def _record_signed_versions(
    conn: sa.engine.Connection, licence_ids: set[str], report: dict[str, list]
) -> None:
    """Records the versions of these licences that were signed but that the
    registry lacks (see seed)."""
    if not licence_ids:
        return
    known = sa.select(version_table.c.version).where(
        version_table.c.licence_id == signature_table.c.licence_id,
        version_table.c.version == signature_table.c.licence_version,
    )
    signed = conn.execute(
        sa.select(
            signature_table.c.licence_id,
            signature_table.c.licence_version,
            sa.func.min(signature_table.c.signed_at),
        )
        .where(signature_table.c.licence_id.in_(sorted(licence_ids)), ~known.exists())
        .group_by(signature_table.c.licence_id, signature_table.c.licence_version)
        .order_by(signature_table.c.licence_id, signature_table.c.licence_version)
    ).all()
    for licence_id, version, first_signed in signed:
        conn.execute(
            version_table.insert().values(
                licence_id=licence_id,
                version=version,
                text={},
                published_at=first_signed,
                published_by=None,
                note=SIGNED_ONLY_NOTE,
            )
        )
        report["signed_only"].append(f"{licence_id} {version}")


def publish(
    licence_id: str,
    version: str,
    text: Mapping[str, str] | None,
    published_by: str | None,
    note: str = "",
) -> None:
    """Makes `version` the current version of a licence, with `text` (the
    languages it gives replace the current version's, the others are kept).
    Raises UnknownLicence, or VersionExists when the licence had it before."""
    with _engine().begin() as conn:
        _lock(conn)
        row = (
            conn.execute(sa.select(licence_table).where(licence_table.c.id == licence_id))
            .mappings()
            .first()
        )
        if row is None:
            raise UnknownLicence(licence_id)
        earlier = (
            conn.execute(
                sa.select(version_table.c.version, version_table.c.published_at).where(
                    version_table.c.licence_id == licence_id
                )
            )
            .mappings()
            .all()
        )
        same = next((e for e in earlier if e["version"] == version), None)
        if same is not None:
            raise VersionExists(licence_id, version, same["published_at"])
        current_text = conn.execute(
            sa.select(version_table.c.text).where(
                version_table.c.licence_id == licence_id,
                version_table.c.version == row["current_version"],
            )
        ).scalar()
        _insert_version(
            conn, licence_id, version, {**(current_text or {}), **(text or {})}, published_by, note
        )
        conn.execute(
            licence_table.update()
            .where(licence_table.c.id == licence_id)
            .values(current_version=version, updated_at=utcnow())
        )
        _bump(conn)
