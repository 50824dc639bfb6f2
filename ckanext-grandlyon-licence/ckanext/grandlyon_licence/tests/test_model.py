"""The tables and their migrations."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from ckan import model
from ckanext.grandlyon_licence.model import GrandlyonLicenceSignature, utcnow
from sqlalchemy.exc import IntegrityError

TABLE = "grandlyon_licence_signature"


def inspector():
    return sa.inspect(model.Session.get_bind())


def signature(**fields) -> GrandlyonLicenceSignature:
    values = dict(user_id="u1", licence_id="mobilites", licence_version="1.0", signed_at=utcnow())
    values.update(fields)
    return GrandlyonLicenceSignature(**values)


@pytest.mark.usefixtures("clean_db")
def test_the_migration_creates_the_table_with_its_index():
    columns = {c["name"] for c in inspector().get_columns(TABLE)}
    assert columns == {
        "id",
        "user_id",
        "licence_id",
        "licence_version",
        "signed_at",
        "details",
        "revoked_at",
        "revoked_by",
        "revoke_reason",
    }
    indexes = {i["name"]: i["column_names"] for i in inspector().get_indexes(TABLE)}
    assert indexes["grandlyon_licence_signature_user_licence_idx"] == ["user_id", "licence_id"]
    assert inspector().get_foreign_keys(TABLE) == []


@pytest.mark.usefixtures("clean_db")
def test_one_valid_signature_per_user_and_version():
    model.Session.add(signature())
    model.Session.commit()
    model.Session.add(signature())
    with pytest.raises(IntegrityError):
        model.Session.commit()
    model.Session.rollback()

    model.Session.query(GrandlyonLicenceSignature).update({"revoked_at": utcnow()})
    model.Session.add(signature())
    model.Session.add(signature(licence_version="2.0"))
    model.Session.commit()
    assert model.Session.query(GrandlyonLicenceSignature).count() == 3


@pytest.mark.usefixtures("clean_db")
def test_the_migration_goes_down_and_up_again(migrate_db_for):
    migrate_db_for("grandlyon_licence", version="base", forward=False)
    model.Session.remove()
    assert not inspector().has_table(TABLE)
    migrate_db_for("grandlyon_licence")
    model.Session.remove()
    assert inspector().has_table(TABLE)


REGISTRY_TABLES = {
    "grandlyon_licence_licence",
    "grandlyon_licence_version",
    "grandlyon_licence_revision",
}


@pytest.mark.usefixtures("clean_db")
def test_the_registry_migration_goes_down_alone_keeping_the_signatures(migrate_db_for):
    model.Session.add(signature())
    model.Session.commit()
    assert REGISTRY_TABLES <= set(inspector().get_table_names())
    assert {fk["referred_table"] for fk in inspector().get_foreign_keys(
        "grandlyon_licence_version")} == {"grandlyon_licence_licence"}

    migrate_db_for("grandlyon_licence", version="5c2e9a41d7b3", forward=False)
    model.Session.remove()
    assert not REGISTRY_TABLES & set(inspector().get_table_names())
    assert model.Session.query(GrandlyonLicenceSignature).count() == 1
    migrate_db_for("grandlyon_licence")
    model.Session.remove()
    assert REGISTRY_TABLES <= set(inspector().get_table_names())
