"""The access policy over HTTP, after indexing: what each kind of user gets
from a dataset at each level, through the API and the download route."""

from __future__ import annotations

import datetime
import html

import ckan.model as model
import pytest
from ckan.tests import helpers

from ckanext.grandlyon_access.model import CircleMember

ORIGIN = "https://origin.example.org/secret/{}.csv"


def api(app, action, who=None, expect=200, **params):
    headers = who.headers if who else {}
    res = app.post(f"/api/3/action/{action}", json=params, headers=headers, status=expect)
    return res.get_json()


def in_two_weeks() -> str:
    return (datetime.date.today() + datetime.timedelta(days=14)).isoformat()


def test_open_dataset_shows_its_origin_to_everyone(app, world):
    shown = api(app, "package_show", id="ds-open")["result"]
    assert shown["resources"][0]["url"] == ORIGIN.format("open")
    res = app.get(f"/dataset/ds-open/resource/{world.datasets['open']['file_id']}/download",
                  follow_redirects=False)
    assert res.status_code == 302 and res.headers["Location"] == ORIGIN.format("open")
    rows = api(app, "datastore_search", resource_id=world.datasets["open"]["table_id"])["result"]
    assert rows["records"][0]["station"] == "secret-open"


@pytest.mark.parametrize("who", [None, "outsider", "member"])
def test_restricted_data_is_withheld_but_metadata_shown(app, world, who):
    who = getattr(world, who) if who else None
    ds = world.datasets["restricted"]
    shown = api(app, "package_show", who, id="ds-restricted")["result"]
    assert shown["title"] == "Dataset restricted"
    assert ORIGIN.format("restricted") not in str(shown)
    assert shown["resources"][0]["url"].endswith(f"/dataset/ds-restricted/resource/{ds['file_id']}/download")

    res = app.get(f"/dataset/ds-restricted/resource/{ds['file_id']}/download",
                  headers=who.headers if who else {}, follow_redirects=False, status=403)
    assert ORIGIN.format("restricted") not in res.body
    text = html.unescape(res.body)
    assert "Demander l'accès" in text or "Se connecter" in text

    denied = api(app, "datastore_search", who, expect=403, resource_id=ds["table_id"])
    assert "secret-restricted" not in str(denied)
    sql = api(app, "datastore_search_sql", who, expect=403,
              sql=f'SELECT * FROM "{ds["table_id"]}"')
    assert "secret-restricted" not in str(sql)


def test_search_index_holds_no_gated_origin(app, world):
    found = api(app, "package_search", q="*:*", fl="id,name,res_url,data_dict,validated_data_dict",
                rows=10)["result"]
    assert found["count"] == 2  # the hidden dataset is not listed
    text = str(found)
    assert ORIGIN.format("open") in text
    assert ORIGIN.format("restricted") not in text


@pytest.mark.parametrize("who", ["admin", "editor", "sysadmin"])
def test_publishers_and_sysadmins_reach_everything(app, world, who):
    who = getattr(world, who)
    for name in ("restricted", "hidden"):
        ds = world.datasets[name]
        shown = api(app, "package_show", who, id=f"ds-{name}")["result"]
        assert shown["resources"][0]["url"] == ORIGIN.format(name)
        rows = api(app, "datastore_search", who, resource_id=ds["table_id"])["result"]
        assert rows["records"][0]["station"] == f"secret-{name}"


def test_hidden_dataset_looks_missing(app, world):
    for who in (None, world.outsider):
        headers = who.headers if who else {}
        missing = api(app, "package_show", who, expect=404, id="ds-hidden")
        nothing = api(app, "package_show", who, expect=404, id="ds-does-not-exist")
        assert missing["error"] == nothing["error"]
        app.get("/dataset/ds-hidden", headers=headers, status=404)
        file_id = world.datasets["hidden"]["file_id"]
        app.get(f"/dataset/ds-hidden/resource/{file_id}/download", headers=headers, status=404)
        found = api(app, "package_search", who, q="name:ds-hidden")["result"]
        assert found["count"] == 0


def test_the_list_of_datastore_tables_is_for_sysadmins(app, world):
    """`_table_metadata` names every table, hidden datasets' ones too."""
    hidden_table = world.datasets["hidden"]["table_id"]
    for who in (None, world.outsider, world.editor):
        missing = api(app, "datastore_search", who, expect=404, resource_id="_table_metadata")
        assert hidden_table not in str(missing)
        assert "_table_metadata" in missing["error"]["message"]
        headers = who.headers if who else {}
        sql = app.post("/api/3/action/datastore_search_sql", headers=headers,
                       json={"sql": 'SELECT name FROM "_table_metadata"'})
        assert sql.status_code in (403, 404) and hidden_table not in sql.get_data(as_text=True)
    # Filtered by name: the test database keeps the tables of earlier runs.
    rows = api(app, "datastore_search", world.sysadmin, resource_id="_table_metadata",
               filters={"name": hidden_table})["result"]["records"]
    assert [row["name"] for row in rows] == [hidden_table]


def test_org_members_see_hidden_metadata_but_not_the_data(app, world):
    shown = api(app, "package_show", world.member, id="ds-hidden")["result"]
    assert ORIGIN.format("hidden") not in str(shown)
    api(app, "datastore_search", world.member, expect=403,
        resource_id=world.datasets["hidden"]["table_id"])


def test_personal_grant_opens_data_and_hidden_metadata(app, world):
    api(app, "grandlyon_access_grant_create", world.admin, package_id="ds-hidden",
        user=world.grantee.name, expires=in_two_weeks())
    api(app, "grandlyon_access_grant_create", world.editor, package_id="ds-restricted",
        user=world.grantee.name)

    for name in ("restricted", "hidden"):
        ds = world.datasets[name]
        # The data proxy streams the file (proxy.py, test_proxy.py): the
        # origin, unreachable here, is neither shown nor redirected to.
        shown = api(app, "package_show", world.grantee, id=f"ds-{name}")["result"]
        assert ORIGIN.format(name) not in str(shown)
        assert shown["resources"][0]["url"].endswith(f"/resource/{ds['file_id']}/download")
        res = app.get(f"/dataset/ds-{name}/resource/{ds['file_id']}/download",
                      headers=world.grantee.headers, follow_redirects=False)
        assert res.status_code == 502 and "Location" not in res.headers
        assert ORIGIN.format(name) not in res.body
        rows = api(app, "datastore_search", world.grantee, resource_id=ds["table_id"])["result"]
        assert rows["records"][0]["station"] == f"secret-{name}"
    found = api(app, "package_search", world.grantee, q="name:ds-hidden")["result"]
    assert found["count"] == 1

    logged = api(app, "grandlyon_access_log_list", world.sysadmin, user=world.grantee.name)["result"]
    surfaces = sorted((r["surface"], r["package_id"]) for r in logged["results"])
    ids = {world.datasets[n]["id"] for n in ("restricted", "hidden")}
    assert {p for _s, p in surfaces} == ids
    assert {s for s, _p in surfaces} == {"download", "datastore"}


def test_an_offset_beyond_the_database_is_refused_naming_it(app, world):
    """Found by the outside probe of issue 21: 2**63 failed in PostgreSQL (500)."""
    answer = api(app, "grandlyon_access_log_list", world.sysadmin, expect=409,
                 offset=str(2 ** 63))
    assert "offset" in answer["error"]
    api(app, "grandlyon_access_log_list", world.sysadmin, offset=str(2 ** 63 - 1))


def test_circle_membership_grants_until_it_expires(app, world):
    circle = api(app, "grandlyon_access_circle_create", world.sysadmin,
                 name="partenaires", title="Partenaires mobilité")["result"]
    api(app, "grandlyon_access_circle_member_create", world.sysadmin,
        circle_id="partenaires", user=world.outsider.name)
    api(app, "grandlyon_access_grant_create", world.admin, package_id="ds-hidden",
        circle_id=circle["id"])
    table = world.datasets["hidden"]["table_id"]
    api(app, "datastore_search", world.outsider, resource_id=table)

    member = model.Session.query(CircleMember).filter_by(user_id=world.outsider.id).one()
    member.expires = datetime.datetime.utcnow() - datetime.timedelta(minutes=1)
    model.Session.commit()

    api(app, "package_show", world.outsider, expect=404, id="ds-hidden")
    api(app, "datastore_search", world.outsider, expect=404, resource_id=table)


def test_only_sysadmins_manage_circles(app, world):
    for who in (None, world.admin, world.outsider):
        api(app, "grandlyon_access_circle_create", who, expect=403, name="c1", title="C1")
    api(app, "grandlyon_access_circle_list", world.admin, expect=403)
    assert api(app, "grandlyon_access_circle_list", world.sysadmin)["result"] == []


def test_outsiders_cannot_grant(app, world):
    res = api(app, "grandlyon_access_grant_create", world.outsider, expect=403,
              package_id="ds-restricted", user=world.outsider.name)
    assert res["success"] is False
    api(app, "grandlyon_access_grant_create", world.member, expect=403,
        package_id="ds-restricted", user=world.member.name)
    assert api(app, "grandlyon_access_grant_list", world.admin,
               package_id="ds-restricted")["result"] == []


def test_access_show_tells_the_next_step(app, world):
    assert api(app, "grandlyon_access_show", id="ds-open")["result"]["data"] is True
    anon = api(app, "grandlyon_access_show", id="ds-restricted")["result"]
    assert (anon["data"], anon["next_step"]) == (False, "login")
    outsider = api(app, "grandlyon_access_show", world.outsider, id="ds-restricted")["result"]
    assert (outsider["data"], outsider["next_step"]) == (False, "request")
    api(app, "grandlyon_access_show", world.outsider, expect=404, id="ds-hidden")


def test_request_flow(app, world):
    created = api(app, "grandlyon_access_request_create", world.outsider,
                  package_id="ds-restricted", message="Étude de la fréquentation")["result"]
    assert created["status"] == "pending"
    dup = api(app, "grandlyon_access_request_create", world.outsider, expect=409,
              package_id="ds-restricted", message="encore")
    assert "package_id" in dup["error"]

    mine = api(app, "grandlyon_access_request_list", world.outsider)["result"]
    assert [r["id"] for r in mine] == [created["id"]]
    api(app, "grandlyon_access_request_list", world.outsider, expect=403, package_id="ds-restricted")
    pending = api(app, "grandlyon_access_request_list", world.admin,
                  package_id="ds-restricted", status="pending")["result"]
    assert [r["id"] for r in pending] == [created["id"]]

    api(app, "grandlyon_access_request_decide", world.editor, expect=403,
        id=created["id"], decision="approve")
    no_reason = api(app, "grandlyon_access_request_decide", world.admin, expect=409,
                    id=created["id"], decision="reject")
    assert "reason" in no_reason["error"]
    approved = api(app, "grandlyon_access_request_decide", world.admin,
                   id=created["id"], decision="approve", expires=in_two_weeks())["result"]
    assert approved["status"] == "approved" and approved["grant_id"]
    again = api(app, "grandlyon_access_request_decide", world.admin, expect=409,
                id=created["id"], decision="reject", reason="non")
    assert "id" in again["error"]

    rows = api(app, "datastore_search", world.outsider,
               resource_id=world.datasets["restricted"]["table_id"])["result"]
    assert rows["total"] == 1


def test_bad_requests_store_nothing(app, world):
    api(app, "grandlyon_access_request_create", world.outsider, expect=409,
        package_id="ds-open", message="pourquoi")
    api(app, "grandlyon_access_request_create", world.outsider, expect=409,
        package_id="ds-restricted", message="")
    api(app, "grandlyon_access_request_create", world.outsider, expect=404,
        package_id="ds-hidden", message="je sais qu'il existe")
    api(app, "grandlyon_access_request_create", None, expect=403,
        package_id="ds-restricted", message="anonyme")
    assert api(app, "grandlyon_access_request_list", world.outsider)["result"] == []


def test_access_level_is_validated(app, world):
    bad = api(app, "package_create", world.sysadmin, expect=409, name="bad-level",
              owner_org=world.org["id"], access_level="secret")
    assert "access_level" in bad["error"]
    assert not model.Package.get("bad-level")


def test_past_expiry_is_refused(app, world):
    res = api(app, "grandlyon_access_grant_create", world.admin, expect=409,
              package_id="ds-restricted", user=world.grantee.name, expires="2001-01-01")
    assert "expires" in res["error"]
    assert helpers.call_action("grandlyon_access_grant_list", package_id="ds-restricted") == []


def test_licensed_data_opens_once_the_current_licence_is_signed(app, world):
    ds = world.make_dataset("licensed", access_level="licensed", license_id="mobilites")
    anon = api(app, "grandlyon_access_show", id="ds-licensed")["result"]
    assert (anon["data"], anon["next_step"]) == (False, "login")
    before = api(app, "grandlyon_access_show", world.outsider, id="ds-licensed")["result"]
    assert (before["data"], before["next_step"], before["licence_id"]) == (False, "sign", "mobilites")
    api(app, "datastore_search", world.outsider, expect=403, resource_id=ds["table_id"])

    api(app, "grandlyon_licence_sign", world.outsider, licence_id="mobilites",
        organisation="Labo", intended_use="Recherche sur les mobilités")
    after = api(app, "grandlyon_access_show", world.outsider, id="ds-licensed")["result"]
    assert after["data"] is True
    shown = api(app, "package_show", world.outsider, id="ds-licensed")["result"]
    assert shown["resources"][0]["url"].endswith(f"/resource/{ds['file_id']}/download")
    assert ORIGIN.format("licensed") not in str(shown)  # streamed by the data proxy
    rows = api(app, "datastore_search", world.outsider, resource_id=ds["table_id"])["result"]
    assert rows["records"][0]["station"] == "secret-licensed"


def test_licensed_needs_a_licence_that_must_be_signed(app, world):
    bad = api(app, "package_create", world.sysadmin, expect=409, name="bad-licensed",
              owner_org=world.org["id"], access_level="licensed", license_id="lo-2.0")
    assert "access_level" in bad["error"]
    assert not model.Package.get("bad-licensed")


def test_unknown_circle_or_user_is_named_and_nothing_stored(app, world):
    res = api(app, "grandlyon_access_grant_create", world.admin, expect=409,
              package_id="ds-restricted", circle_id="no-such-circle")
    assert "circle_id" in res["error"]
    res = api(app, "grandlyon_access_grant_create", world.admin, expect=409,
              package_id="ds-restricted", user="no-such-user")
    assert "user" in res["error"]
    res = api(app, "grandlyon_access_circle_member_create", world.sysadmin, expect=404,
              circle_id="no-such-circle", user=world.outsider.name)
    assert helpers.call_action("grandlyon_access_grant_list", package_id="ds-restricted") == []
