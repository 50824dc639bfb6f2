"""The loader of uploaded CSV files into the DataStore (loader.py), on the
real DataStore: the job queued by an upload, types, encodings and
separators, a re-upload, bad files, and what the resource page shows to whom."""

from __future__ import annotations

import html

import ckan.plugins.toolkit as tk
import pytest
from ckan.lib import jobs
from ckan.tests import factories, helpers
from ckanext.dataviz import loader
from ckanext.grandlyon_access.testing.pytest_plugin import actor_of

EDITOR = "csv-editor"


@pytest.fixture
def dataset(clean_db, clean_index, clean_queues):
    factories.User(name=EDITOR)
    org = factories.Organization(users=[{"name": EDITOR, "capacity": "editor"}])
    return helpers.call_action("package_create", context={"user": EDITOR}, name="csv-data",
                               title="CSV data", owner_org=org["id"], access_level="open",
                               license_id="lo-2.0")


@pytest.fixture
def upload(create_with_upload, dataset):
    """Uploads CONTENT as FILENAME: a new resource, or with `id` a new file
    for that resource."""

    def do(content: bytes | str, filename: str = "data.csv", **fields) -> dict:
        if "id" in fields:
            fields.setdefault("action", "resource_update")
        else:
            fields.setdefault("package_id", dataset["id"])
        return create_with_upload(content, filename, context={"user": EDITOR}, **fields)

    return do


def run_jobs() -> list[dict]:
    """Runs the queued jobs in this process, as `ckan jobs worker` would."""
    results = []
    for job in jobs.get_queue().jobs:
        assert job.func_name == "ckanext.dataviz.loader.load_resource"
        results.append(job.func(*job.args))
        job.delete()
    return results


def table(resource_id: str) -> tuple[dict[str, str], list[dict]]:
    """The DataStore table: ({field: type}, rows without _id)."""
    result = helpers.call_action("datastore_search", resource_id=resource_id, limit=1000,
                                 sort="_id")
    fields = {f["id"]: f["type"] for f in result["fields"] if f["id"] != "_id"}
    return fields, [{k: v for k, v in row.items() if k != "_id"} for row in result["records"]]


def has_table(resource_id: str) -> bool:
    try:
        helpers.call_action("datastore_search", resource_id=resource_id, limit=0)
        return True
    except tk.ObjectNotFound:
        return False


def test_an_uploaded_csv_is_queued_then_loaded_with_its_types(upload):
    resource = upload("station,code,bikes,rate,seen,lat,note\n"
                      "Bellecour,01000,12,0.5,2024-03-01T10:00:00,45.757,ok\n"
                      "Part-Dieu,69003,-3,2,2024-03-02,45.760,\n"
                      "Gerland,69007,,1e2,2024-03-02 08:30,45.72,\"a, b\"\n")
    assert loader.status(resource["id"])["status"] == "pending"
    [result] = run_jobs()
    assert result["status"] == "loaded" and result["rows"] == 3
    assert result["encoding"] == "utf-8" and result["delimiter"] == ","
    fields, rows = table(resource["id"])
    assert fields == {"station": "text", "code": "text", "bikes": "int8", "rate": "numeric",
                      "seen": "timestamp", "lat": "numeric", "note": "text"}
    assert [r["station"] for r in rows] == ["Bellecour", "Part-Dieu", "Gerland"]
    assert rows[0]["code"] == "01000" and rows[1]["bikes"] == -3 and rows[2]["bikes"] is None
    assert rows[1]["seen"].startswith("2024-03-02T00:00") and rows[2]["note"] == "a, b"
    assert float(rows[2]["rate"]) == 100.0
    assert helpers.call_action("resource_show", id=resource["id"])["datastore_active"] is True


@pytest.mark.parametrize("content, encoding", [
    ("\ufeffcommune;vélos;taux\nÉcully;3;1,5\nBron;4;2,25\n".encode(), "utf-8-sig"),
    ("commune;vélos;taux\nÉcully;3;1,5\nBron;4;2,25\n".encode("latin-1"), "cp1252"),
    ("commune\tvélos\ttaux\nÉcully\t3\t1.5\nBron\t4\t2.25\n".encode(), "utf-8"),
])
def test_encodings_and_separators(upload, content, encoding):
    resource = upload(content)
    [result] = run_jobs()
    assert result["status"] == "loaded" and result["encoding"] == encoding
    fields, rows = table(resource["id"])
    assert fields == {"commune": "text", "vélos": "int8", "taux": "numeric"}
    assert rows[0]["commune"] == "Écully" and float(rows[1]["taux"]) == 2.25


def test_a_reupload_replaces_the_table_and_other_edits_do_not_reload(upload):
    resource = upload("a,b\n1,x\n2,y\n3,z\n")
    run_jobs()
    helpers.call_action("resource_patch", context={"user": EDITOR}, id=resource["id"],
                        description="Edited without a new file")
    assert jobs.get_queue().jobs == []
    upload("a,c\n10,2024-01-01\n20,2024-01-02\n", "data-v2.csv", id=resource["id"],
           format="CSV")
    assert loader.status(resource["id"])["status"] == "pending"
    [result] = run_jobs()
    assert result["rows"] == 2
    fields, rows = table(resource["id"])
    assert fields == {"a": "int8", "c": "timestamp"}
    assert [r["a"] for r in rows] == [10, 20]


def test_an_upload_inside_package_update_is_loaded_and_other_updates_do_not_reload(
        create_with_upload, dataset):
    """API clients may send a file within package_update (CKAN calls no
    resource hook then)."""
    from ckan.tests.pytest_ckan.fixtures import FakeFileStorage
    import io

    def update(**fields) -> dict:
        return helpers.call_action("package_patch", context={"user": EDITOR}, id=dataset["id"],
                                   **fields)

    upload = FakeFileStorage(io.BytesIO(b"a;b\n1;x\n2;y\n"), "api.csv")
    created = update(resources=[{"name": "API", "url": "api.csv", "upload": upload,
                                 "format": "CSV"}])
    resource_id = created["resources"][0]["id"]
    assert loader.status(resource_id)["status"] == "pending"
    [result] = run_jobs()
    assert result["status"] == "loaded" and result["rows"] == 2
    assert table(resource_id)[1] == [{"a": 1, "b": "x"}, {"a": 2, "b": "y"}]
    # A metadata edit that sends the resources back as they are: no new load.
    update(title="Renamed", resources=created["resources"])
    assert jobs.get_queue().jobs == []
    assert loader.status(resource_id)["status"] == "loaded"


def test_an_upload_replaced_by_a_link_loses_its_table(upload, dataset):
    resource = upload("a,b\n1,x\n")
    run_jobs()
    assert has_table(resource["id"])
    helpers.call_action("resource_patch", context={"user": EDITOR}, id=resource["id"],
                        url="https://data.example.org/other.csv", url_type="", clear_upload="true")
    assert not has_table(resource["id"])
    assert loader.status(resource["id"]) is None
    assert jobs.get_queue().jobs == []


def test_a_table_written_through_the_datastore_api_is_kept(dataset):
    """Only tables the loader made are dropped with a former upload."""
    resource = helpers.call_action("resource_create", context={"user": EDITOR},
                                   package_id=dataset["id"], url="https://data.example.org/x.csv",
                                   format="CSV")
    helpers.call_action("datastore_create", resource_id=resource["id"], force=True,
                        fields=[{"id": "a", "type": "int"}], records=[{"a": 1}])
    helpers.call_action("resource_patch", context={"user": EDITOR}, id=resource["id"],
                        description="Edited")
    assert has_table(resource["id"])


def test_only_uploaded_csv_files_are_loaded(upload, dataset):
    upload('{"a": 1}', "data.json", format="JSON")
    helpers.call_action("resource_create", context={"user": EDITOR}, package_id=dataset["id"],
                        url="https://example.org/remote.csv", format="CSV")
    assert jobs.get_queue().jobs == []


def test_header_names_are_made_valid_datastore_fields():
    assert loader.field_names([" _id ", "", "a\"b", "x", "x", "y" * 80]) == [
        "id", "column_2", "a'b", "x", "x_2", "y" * 63]


@pytest.mark.parametrize("content, code, params", [
    (b"", "empty", {}),
    (b"a,b,c\n", "no_rows", {}),
    (b"a,b,c\n1,2,3\n4,5\n6,7,8\n", "ragged", {"line": 3, "found": 2, "expected": 3}),
    (b"PK\x03\x04\x00\x00binary\x00zip", "not_text", {}),
])
def test_bad_files_fail_clearly_and_leave_no_table(upload, content, code, params):
    resource = upload("a,b,c\n1,2,3\n")
    run_jobs()
    assert has_table(resource["id"])
    upload(content, "bad.csv", id=resource["id"], format="CSV")
    [result] = run_jobs()
    assert result["status"] == "failed" and result["error"] == code
    assert result["error_params"] == params
    assert not has_table(resource["id"]), "a bad file leaves no (old or half) table"
    assert helpers.call_action("resource_show", id=resource["id"])["datastore_active"] is False


@pytest.mark.ckan_config("ckanext.dataviz.loader.batch_rows", 10)
def test_a_late_datastore_failure_leaves_no_half_table(upload):
    # A number Python reads and PostgreSQL's numeric cannot hold: the 15th
    # row (in the second batch) fails after the first batch was written.
    rows = [f"{i},{i}.5\n" for i in range(25)]
    rows[14] = "14,1e999999\n"
    resource = upload("n,x\n" + "".join(rows))
    [result] = run_jobs()
    assert result["status"] == "failed" and result["error"] == "datastore"
    assert not has_table(resource["id"])


def test_timestamps_with_an_offset_are_stored_in_utc(upload):
    """The DataStore's `timestamp` has no time zone: PostgreSQL would drop the
    offset and store 10:00 for both."""
    resource = upload("seen\n2024-03-01T10:00:00Z\n2024-03-01T10:00:00+02:00\n2024-03-01 10:00\n")
    run_jobs()
    assert [row["seen"] for row in table(resource["id"])[1]] == [
        "2024-03-01T10:00:00", "2024-03-01T08:00:00", "2024-03-01T10:00:00"]


def test_the_resource_page_tells_editors_in_french_and_nobody_else(app, upload, dataset):
    resource = upload("a,b\n1,2\n3\n")
    url = f"/dataset/{dataset['name']}/resource/{resource['id']}"
    token = actor_of(helpers.call_action("user_show", id=EDITOR)).token
    page = app.get(url, headers={"Authorization": token}).get_data(as_text=True)
    assert "Chargement dans le DataStore : en attente" in page
    run_jobs()
    page = html.unescape(app.get(url, headers={"Authorization": token}).get_data(as_text=True))
    assert ("Chargement dans le DataStore : échec : la ligne 3 a 1 valeur(s) alors que "
            "l'en-tête en a 2 — mettez entre guillemets") in page
    upload("a,b\n1,2\n3,4\n", id=resource["id"], format="CSV")
    run_jobs()
    page = app.get(url, headers={"Authorization": token}).get_data(as_text=True)
    assert "Chargement dans le DataStore : chargé : 2 lignes" in page
    assert "Chargement dans le DataStore" not in app.get(url).get_data(as_text=True)


def test_a_gated_dataset_s_table_stays_gated(app, upload, dataset):
    helpers.call_action("package_patch", context={"user": EDITOR}, id=dataset["id"],
                        access_level="restricted")
    resource = upload("station,bikes\nsecret-station,3\n")
    run_jobs()
    assert table(resource["id"])[1][0]["station"] == "secret-station"
    answer = app.post("/api/3/action/datastore_search", json={"resource_id": resource["id"]})
    assert answer.status_code == 403
    assert "secret-station" not in answer.get_data(as_text=True)
