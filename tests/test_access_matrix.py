"""The access matrix: every surface of the portal that can reveal a dataset,
asked over HTTP by every kind of user, after indexing.

Each row is one surface, one actor and (for item surfaces) one dataset. A row
says what the actor gets from the policy (see ACCESS) and asserts it:

- data allowed: the rows and the origin URL are served;
- metadata only: the dataset is listed and shown, but no origin URL and no
  row leaves; its data answers 403 (or a URL rewritten to /download);
- nothing: the dataset looks missing: the same 404 as a dataset that does not
  exist, and no name, id, title, origin URL or row in any answer.

A completeness check walks every registered action and every URL rule and
fails when one is not classified below (COVERED, NEEDS_RIGHTS, NO_DATASET_DATA).

Every row must pass: a leak found later is closed in logic/surfaces.py,
logic/datastore.py or gate.py, not marked as expected.

The world is built once for the module (a few seconds of indexing per world
would make hundreds of rows take minutes); rows only read, except the follow
rows, which are idempotent.
"""

from __future__ import annotations

import dataclasses
import datetime
import io
import json
import re
from collections.abc import Callable
from typing import Any

import ckan.lib.search as search
import ckan.logic as logic
import ckan.model as model
import pytest
from ckan.tests import factories, helpers
from ckan.tests.pytest_ckan.fixtures import FakeFileStorage
from ckanext.grandlyon_access.testing.pytest_plugin import ORIGIN, PASSWORD
from ckanext.grandlyon_access.testing.pytest_plugin import World as FiveLevelWorld

MISSING = "ds-does-not-exist"
MISSING_ID = "00000000-0000-4000-8000-000000000000"

DATASETS = ("open", "licensed", "restricted", "hidden", "private", "turned")
LEVEL_OF = {"turned": "open"}  # created at this level (then made hidden)

# What the policy gives each actor, per dataset: D = data (and metadata),
# M = metadata only, - = nothing (the dataset looks missing).
#   open: access_level open; licensed: licence `mobilites` (must be signed);
#   restricted: visible metadata; hidden: restricted + access_hidden;
#   private: CKAN's private=true (level open: private wins over the level);
#   turned: created open (its first activities say so), then made hidden.
# The grantee holds personal grants on restricted, hidden and private; the
# circle `partenaires` is granted restricted and hidden; `expired` was in the
# circle until yesterday; `signer` signed the current version of mobilites.
ACCESS_TABLE = """
              open licensed restricted hidden private turned
  anonymous    D      M        M         -       -      -
  outsider     D      M        M         -       -      -
  member       D      M        M         M       D      M
  editor       D      D        D         D       D      D
  admin        D      D        D         D       D      D
  sysadmin     D      D        D         D       D      D
  grantee      D      M        D         D       -      -
  circle       D      M        D         D       -      -
  expired      D      M        M         -       -      -
  signer       D      D        M         -       -      -
  unsigned     D      M        M         -       -      -
"""


def _parse_access(table: str) -> dict[str, dict[str, str]]:
    lines = [line.split() for line in table.strip().splitlines()]
    header, rows = lines[0], lines[1:]
    assert tuple(header) == DATASETS
    return {row[0]: dict(zip(header, row[1:], strict=True)) for row in rows}


ACCESS = _parse_access(ACCESS_TABLE)
ACTORS = tuple(ACCESS)
LOGGED_IN = tuple(a for a in ACTORS if a != "anonymous")
COOKIE_ACTORS = ("outsider", "member", "grantee", "circle", "signer")
USERS = {
    "outsider": "outsider", "member": "org-member", "editor": "org-editor",
    "admin": "org-admin", "sysadmin": "root", "grantee": "grantee",
    "circle": "circle-member", "expired": "circle-expired", "signer": "signer",
    "unsigned": "unsigned",
}


def access(actor: str, ds: str) -> str:
    return ACCESS[actor][ds]


# Linked files of licensed and restricted datasets (hidden and turned are
# restricted) are streamed by the portal's data proxy: their readers get
# the portal's download route, never the origin; only those who manage
# the dataset see the origin (to edit it).
STREAMED = ("licensed", "restricted", "hidden", "turned")
MANAGERS = ("editor", "admin", "sysadmin")


def sees_origin(actor: str, ds: str) -> bool:
    return reads(actor, ds) and (ds not in STREAMED or actor in MANAGERS)


def sees(actor: str, ds: str) -> bool:
    return access(actor, ds) != "-"


def reads(actor: str, ds: str) -> bool:
    return access(actor, ds) == "D"


# --- the world ----------------------------------------------------------------------

@dataclasses.dataclass
class Dataset:
    key: str
    id: str
    name: str
    title: str
    file_id: str
    table_id: str
    upload_id: str
    view_id: str
    harvest_object_id: str
    first_activity: str = ""
    last_activity: str = ""

    @property
    def origin(self) -> str:
        return ORIGIN.format(self.key)

    @property
    def row(self) -> str:
        return f"secret-{self.key}"

    @property
    def tag(self) -> str:
        return f"tag-{self.key}"

    @property
    def uploaded(self) -> str:
        return f"secret-upload-{self.key}"

    def identifiers(self) -> list[str]:
        """What must never appear where the dataset looks missing."""
        return [self.id, self.name, self.title, self.file_id, self.table_id, self.upload_id,
                self.tag]


class World(FiveLevelWorld):
    """Users, an organisation, a group, a circle, grants, a signature and the
    datasets of ACCESS_TABLE (the shared five-level world, plus `turned`),
    each with an external file, a DataStore table with a datatables view, a
    harvest object, two activities, a relationship from ds-open, and
    followed by every logged-in actor (a follow made when the dataset was
    visible stays after the access ends)."""

    def __init__(self) -> None:
        super().__init__(users=USERS, datasets={key: LEVEL_OF.get(key, key) for key in DATASETS},
                         org={"title": "Publisher", "is_commune": "true"},
                         email="{name}@example.org")
        for key in DATASETS[1:]:
            self.call("package_relationship_create", subject="ds-open", object=f"ds-{key}",
                      type="links_to")
        self._grant()
        self._follow()
        self._harvest()
        search.rebuild()
        for ds in self.datasets.values():
            self._activities(ds)

    def prepare(self) -> None:
        self.group = factories.Group(name="themes", title="Themes",
                                     users=[{"name": "root", "capacity": "admin"}])

    def make_dataset(self, key: str, **fields: Any) -> Dataset:
        dataset = super().make_dataset(key, tag_string=f"velo,tag-{key}", **fields)
        upload = self.call(
            "resource_create", "editor", package_id=dataset["id"], name="upload",
            url="rows.csv", upload=FakeFileStorage(io.BytesIO(f"station\nsecret-upload-{key}\n"
                                                              .encode()), "rows.csv"))
        self.call("member_create", id="themes", object=dataset["id"], object_type="package",
                  capacity="public")
        if key == "turned":
            self.call("package_patch", "editor", id=dataset["id"],
                      access_level="restricted", access_hidden="true")
        else:
            self.call("package_patch", "editor", id=dataset["id"], notes="Version 2")
        views = self.call("resource_view_list", id=dataset["table_id"])
        if not views:
            views = [self.call("resource_view_create", resource_id=dataset["table_id"],
                               view_type="datatables_view", title="Table")]
        return Dataset(key, dataset["id"], dataset["name"], dataset["title"],
                       dataset["file_id"], dataset["table_id"], upload["id"],
                       views[0]["id"], "")

    def _grant(self) -> None:
        from ckanext.grandlyon_access.model import CircleMember

        for key in ("restricted", "hidden", "private"):
            self.grant(key, "grantee")
        circle = self.call("grandlyon_access_circle_create", name="partenaires",
                           title="Partenaires")
        for name in ("circle-member", "circle-expired"):
            self.call("grandlyon_access_circle_member_create", circle_id="partenaires", user=name)
        for key in ("restricted", "hidden"):
            self.call("grandlyon_access_grant_create", "admin", package_id=f"ds-{key}",
                      circle_id=circle["id"])
        expired = model.Session.query(CircleMember).filter_by(
            user_id=self.actors["expired"].id).one()
        expired.expires = datetime.datetime.utcnow() - datetime.timedelta(days=1)
        model.Session.commit()
        self.sign("signer", organisation="Transports du Rhône",
                  intended_use="Calculateur d'itinéraires")

    def _follow(self) -> None:
        for key in LOGGED_IN:
            for ds in self.datasets.values():
                model.Session.add(model.UserFollowingDataset(self.actors[key].id, ds.id))
        model.Session.commit()

    def _harvest(self) -> None:
        from ckanext.harvest.model import HarvestJob, HarvestObject, HarvestSource

        source = HarvestSource(url="https://commune.example.org/", type="communes_ckan", title="Commune")
        source.save()
        job = HarvestJob(source=source, status="Finished")
        job.save()
        for ds in self.datasets.values():
            content = json.dumps({"name": ds.name, "title": ds.title,
                                  "resources": [{"url": ds.origin}]})
            obj = HarvestObject(guid=ds.name, job=job, source=source, package_id=ds.id,
                                content=content, current=True, state="COMPLETE",
                                import_finished=datetime.datetime.utcnow())
            obj.save()
            ds.harvest_object_id = obj.id

    def _activities(self, ds: Dataset) -> None:
        from ckanext.activity.model import Activity

        ids = [a.id for a in model.Session.query(Activity).filter_by(object_id=ds.id)
               .filter(Activity.activity_type.like("%package")).order_by(Activity.timestamp)]
        ds.first_activity, ds.last_activity = ids[0], ids[-1]


@pytest.fixture(autouse=True)
def _portal_plugins():
    """Replaces the per-test plugin loading of the root conftest: the module
    loads the configured plugins once, with its world."""


@pytest.fixture(scope="module")
def world(portal_for_module):
    return World()


@pytest.fixture(scope="module")
def web(world):
    """CKAN's test app (what the `app` fixture returns), built once for the
    module's world."""
    return helpers._get_test_app()


# --- asking -------------------------------------------------------------------------

class Answer:
    def __init__(self, res=None, status: int = 0, body: str = "", url: str = ""):
        self.status = res.status_code if res is not None else status
        self.body = res.get_data(as_text=True) if res is not None else body
        self.headers = res.headers if res is not None else {}
        try:
            self.json = json.loads(self.body)
        except ValueError:
            self.json = None
        if url and self.json is None:
            # A page names its own URL (language links, forms): not a leak.
            self.body = self.body.replace(url.split("?")[0], "")

    @property
    def result(self) -> Any:
        return self.json["result"]

    @property
    def error(self) -> Any:
        return self.json["error"]


def api(web, world: World, who: str, action: str, **params) -> Answer:
    res = web.post(f"/api/3/action/{action}", json=params,
                   headers=world.actors[who].headers)
    return Answer(res)


def _raised(error: Exception) -> Answer:
    """A view that lets an action's NotAuthorized or NotFound through (the
    test app propagates it; a server answers it with an error page)."""
    status = 404 if isinstance(error, logic.NotFound) else 403
    return Answer(status=status, body=str(error))


def get(web, world: World, who: str, url: str, client=None, **kwargs) -> Answer:
    kwargs.setdefault("follow_redirects", False)
    try:
        if client is not None:
            return Answer(client.get(url, **kwargs), url=url)
        return Answer(web.get(url, headers=world.actors[who].headers, **kwargs), url=url)
    except (logic.NotAuthorized, logic.NotFound) as error:
        return _raised(error)


def post_form(web, world: World, who: str, url: str, data: dict, client=None) -> Answer:
    """A form POST: by token (exempt from CSRF) or, for anonymous and cookie
    actors, with the session's CSRF token."""
    try:
        if client is None and who != "anonymous":
            return Answer(web.post(url, data=data, headers=world.actors[who].headers,
                                   follow_redirects=False), url=url)
        client = client or web.test_client()
        page = client.get("/dataset/")
        data = dict(data, _csrf_token=_csrf(page.get_data(as_text=True)))
        return Answer(client.post(url, data=data, follow_redirects=False), url=url)
    except (logic.NotAuthorized, logic.NotFound) as error:
        return _raised(error)


def _csrf(html: str) -> str:
    match = re.search(r'<meta name="_csrf_token" content="([^"]+)"', html)
    assert match, "no CSRF token in the page"
    return match.group(1)


def login(web, world: World, who: str):
    """A test client holding the session cookie of `who`, logged in through
    the login form as a browser would."""
    client = web.test_client()
    page = client.get("/user/login")
    res = client.post("/user/login", data={
        "login": world.actors[who].name, "password": PASSWORD,
        "_csrf_token": _csrf(page.get_data(as_text=True))}, follow_redirects=False)
    assert res.status_code == 302, res.get_data(as_text=True)[:500]
    me = client.get("/api/3/action/user_show", follow_redirects=False).get_json()
    assert me["success"] and me["result"]["name"] == world.actors[who].name
    return client


# --- assertions ---------------------------------------------------------------------

def assert_hides(text: str, ds: Dataset) -> None:
    """Nothing of the dataset: no name, id, title, tag, origin, row."""
    for secret in ds.identifiers() + [ds.origin, ds.row]:
        assert secret not in text, f"{ds.key}: {secret!r} leaks"


def assert_no_data(text: str, ds: Dataset) -> None:
    assert ds.origin not in text, f"{ds.key}: origin URL leaks"
    assert ds.row not in text, f"{ds.key}: a row leaks"


def assert_listing(text: str, world: World, who: str, listed: Callable[[str], bool]) -> None:
    """A list surface: each dataset the actor sees (and `listed` expects) is
    there, no dataset the actor may not see is, no gated data leaks."""
    for key, ds in world.datasets.items():
        if not sees(who, key):
            assert_hides(text, ds)
            continue
        if listed(key):
            assert ds.name in text or ds.id in text, f"{key} should be listed for {who}"
        if not reads(who, key):
            assert_no_data(text, ds)


def same_error(denied: Answer, missing: Answer, *replace: tuple[str, str]) -> None:
    """Denied looks like missing: same status and same error."""
    assert denied.status == missing.status, (denied.status, missing.status, denied.body[:300])
    if denied.json is not None or missing.json is not None:
        text = json.dumps(denied.json.get("error") if denied.json else denied.body)
        for real, fake in replace:
            text = text.replace(real, fake)
        assert text == json.dumps(missing.json.get("error") if missing.json else missing.body)


# --- item surfaces: one row per actor and dataset -------------------------------------

def row_package_show(web, world, who, ds):
    shown = api(web, world, who, "package_show", id=ds.name)
    told = api(web, world, who, "grandlyon_access_show", id=ds.name)
    if not sees(who, ds.key):
        same_error(shown, api(web, world, who, "package_show", id=MISSING))
        same_error(told, api(web, world, who, "grandlyon_access_show", id=MISSING))
        assert_hides(shown.body + told.body, ds)
        return
    assert told.status == 200 and told.result["data"] is reads(who, ds.key)
    assert shown.status == 200 and shown.result["title"] == ds.title
    url = shown.result["resources"][0]["url"]
    if sees_origin(who, ds.key):
        assert url == ds.origin
    else:
        if not reads(who, ds.key):
            assert_no_data(shown.body, ds)
        assert ds.origin not in shown.body
        assert url.endswith(f"/dataset/{ds.name}/resource/{ds.file_id}/download")


def row_resource_show(web, world, who, ds):
    shown = api(web, world, who, "resource_show", id=ds.file_id)
    if not sees(who, ds.key):
        same_error(shown, api(web, world, who, "resource_show", id=MISSING_ID))
        assert_hides(shown.body, ds)
        return
    assert shown.status == 200
    if sees_origin(who, ds.key):
        assert shown.result["url"] == ds.origin
    else:
        if not reads(who, ds.key):
            assert_no_data(shown.body, ds)
        assert ds.origin not in shown.body
        assert shown.result["url"].endswith(f"/resource/{ds.file_id}/download")


def row_resource_views(web, world, who, ds):
    listed = api(web, world, who, "resource_view_list", id=ds.table_id)
    shown = api(web, world, who, "resource_view_show", id=ds.view_id)
    if not sees(who, ds.key):
        same_error(listed, api(web, world, who, "resource_view_list", id=MISSING_ID))
        same_error(shown, api(web, world, who, "resource_view_show", id=MISSING_ID))
        assert_hides(listed.body + shown.body, ds)
        return
    assert listed.status == 200 and [v["id"] for v in listed.result] == [ds.view_id]
    assert shown.status == 200 and shown.result["resource_id"] == ds.table_id
    if not reads(who, ds.key):
        assert_no_data(listed.body + shown.body, ds)


def _data_row(answer: Answer, missing: Answer, who: str, ds: Dataset, *replace) -> None:
    if reads(who, ds.key):
        assert answer.status == 200, answer.body[:300]
        assert ds.row in answer.body
    elif sees(who, ds.key):
        assert answer.status == 403, answer.body[:300]
        assert_no_data(answer.body, ds)
    else:
        same_error(answer, missing, *replace)
        # The error repeats the id asked for, as it does for a missing table.
        assert_hides(answer.body.replace(ds.table_id, ""), ds)


def row_datastore_search(web, world, who, ds):
    _data_row(api(web, world, who, "datastore_search", resource_id=ds.table_id),
              api(web, world, who, "datastore_search", resource_id=MISSING_ID),
              who, ds, (ds.table_id, MISSING_ID))


def row_datastore_info(web, world, who, ds):
    info = api(web, world, who, "datastore_info", id=ds.table_id)
    missing = api(web, world, who, "datastore_info", id=MISSING_ID)
    if reads(who, ds.key):
        assert info.status == 200 and info.result["fields"]
    elif sees(who, ds.key):
        assert info.status == 403
    else:
        same_error(info, missing, (ds.table_id, MISSING_ID))
        assert_hides(info.body.replace(ds.table_id, ""), ds)


def row_datastore_search_sql(web, world, who, ds):
    # PostgreSQL quotes the start of a missing table's name: compare with a
    # missing table whose name starts the same.
    missing = ds.table_id[:-1] + ("1" if ds.table_id[-1] == "0" else "0")
    _data_row(api(web, world, who, "datastore_search_sql", sql=f'SELECT * FROM "{ds.table_id}"'),
              api(web, world, who, "datastore_search_sql", sql=f'SELECT * FROM "{missing}"'),
              who, ds, (ds.table_id, missing))


def row_datastore_dump(web, world, who, ds):
    dump = get(web, world, who, f"/datastore/dump/{ds.table_id}")
    missing = get(web, world, who, f"/datastore/dump/{MISSING_ID}")
    if reads(who, ds.key):
        assert dump.status == 200 and ds.row in dump.body
    else:
        assert dump.status in (403, 404)
        assert_no_data(dump.body, ds)
        if not sees(who, ds.key):
            assert dump.status == missing.status
            assert_hides(dump.body, ds)


def row_download(web, world, who, ds, client=None):
    other_type = get(web, world, who, f"/harvest/{ds.name}/resource/{ds.file_id}/download",
                     client)
    if not reads(who, ds.key):
        assert other_type.status in (403, 404)
        assert_no_data(other_type.body + str(other_type.headers), ds)
    res = get(web, world, who, f"/dataset/{ds.name}/resource/{ds.file_id}/download", client)
    if reads(who, ds.key) and ds.key in STREAMED:
        # Streamed by the proxy: the origin (which does not resolve here)
        # is never named, not in a Location, not in the error page.
        assert res.status == 502 and "Location" not in res.headers
        assert ds.origin not in res.body + str(res.headers)
    elif reads(who, ds.key):
        assert res.status == 302 and res.headers["Location"] == ds.origin
    elif sees(who, ds.key):
        assert res.status == 403
        assert_no_data(res.body + str(res.headers), ds)
    else:
        missing = get(web, world, who, f"/dataset/{MISSING}/resource/{MISSING_ID}/download", client)
        assert res.status == missing.status == 404
        assert_hides(res.body, ds)


def row_download_upload(web, world, who, ds, client=None):
    """An uploaded file: its URL is the portal's own route; the file itself
    only for users with data access."""
    url = f"/dataset/{ds.name}/resource/{ds.upload_id}/download/rows.csv"
    res = get(web, world, who, url, client)
    if reads(who, ds.key):
        assert res.status == 200 and ds.uploaded in res.body
        return
    assert ds.uploaded not in res.body
    if sees(who, ds.key):
        assert res.status == 403
    else:
        missing = get(web, world, who,
                      f"/dataset/{MISSING}/resource/{MISSING_ID}/download/rows.csv", client)
        assert res.status == missing.status == 404
        assert_hides(res.body, ds)


DATATABLES_FORM = {"draw": "1", "search[value]": "", "start": "0", "length": "10",
                   "order[0][column]": "0", "order[0][dir]": "asc"}


def row_datatables_ajax(web, world, who, ds):
    res = post_form(web, world, who, f"/datatables/ajax/{ds.view_id}", DATATABLES_FORM)
    if reads(who, ds.key):
        assert res.status == 200 and ds.row in res.body
    elif sees(who, ds.key):
        assert res.status == 403
        assert_no_data(res.body, ds)
    else:
        missing = post_form(web, world, who, f"/datatables/ajax/{MISSING_ID}", DATATABLES_FORM)
        assert res.status == missing.status == 404
        assert_hides(res.body, ds)


def row_datatables_filtered_download(web, world, who, ds):
    params = {"search": {"value": ""}, "order": [{"column": 0, "dir": "asc"}],
              "visible": [True, True, True], "columns": []}
    form = {"params": json.dumps(params), "format": "csv"}
    res = post_form(web, world, who, f"/datatables/filtered-download/{ds.view_id}", form)
    if res.status == 302:
        res = get(web, world, who, res.headers["Location"])
    if reads(who, ds.key):
        assert res.status == 200 and ds.row in res.body
    else:
        assert res.status in (403, 404)
        assert_no_data(res.body, ds)
        if not sees(who, ds.key):
            assert res.status == 404
            assert_hides(res.body, ds)


def row_dataset_pages(web, world, who, ds, client=None):
    pages = [f"/dataset/{ds.name}", f"/dataset/{ds.id}",
             f"/dataset/{ds.name}/resource/{ds.file_id}",
             f"/dataset/{ds.name}/resource/{ds.table_id}/view/{ds.view_id}",
             f"/dataset/groups/{ds.name}"]
    for url in pages:
        res = get(web, world, who, url, client, follow_redirects=True)
        if not sees(who, ds.key):
            assert res.status == 404, url
            assert_hides(res.body, ds)
            continue
        assert res.status == 200, (url, res.status)
        if not reads(who, ds.key):
            assert_no_data(res.body, ds)
    # The same pages under another dataset type's routes (harvest sources).
    for url in (f"/harvest/{ds.name}/resource/{ds.file_id}",
                f"/harvest/{ds.name}/resource/{ds.table_id}/view/{ds.view_id}"):
        res = get(web, world, who, url, client, follow_redirects=True)
        if not sees(who, ds.key):
            assert res.status == 404, url
            assert_hides(res.body, ds)
        elif not reads(who, ds.key):
            assert_no_data(res.body, ds)


def row_api_by_cookie(web, world, who, ds, client):
    """package_show through the session cookie (a GET: a POST with a cookie
    needs a CSRF token)."""
    shown = Answer(client.get(f"/api/3/action/package_show?id={ds.name}"))
    if not sees(who, ds.key):
        assert shown.status == 404
        assert_hides(shown.body, ds)
    elif sees_origin(who, ds.key):
        assert shown.result["resources"][0]["url"] == ds.origin
    else:
        if not reads(who, ds.key):
            assert_no_data(shown.body, ds)
        assert ds.origin not in shown.body


def row_package_activity_list(web, world, who, ds):
    listed = api(web, world, who, "package_activity_list", id=ds.name)
    if not sees(who, ds.key):
        same_error(listed, api(web, world, who, "package_activity_list", id=MISSING))
        assert_hides(listed.body, ds)
        return
    assert listed.status == 200 and len(listed.result) >= 2
    if not reads(who, ds.key):
        assert_no_data(listed.body, ds)


def row_activity_detail(web, world, who, ds):
    """activity_show, activity_data_show (of the first activity, a snapshot of
    the dataset as created) and activity_diff (of the last one)."""
    answers = [
        api(web, world, who, "activity_show", id=ds.first_activity, include_data=True),
        api(web, world, who, "activity_data_show", id=ds.first_activity),
        api(web, world, who, "activity_diff", id=ds.last_activity, object_type="package"),
    ]
    missing = [
        api(web, world, who, "activity_show", id=MISSING_ID, include_data=True),
        api(web, world, who, "activity_data_show", id=MISSING_ID),
        api(web, world, who, "activity_diff", id=MISSING_ID, object_type="package"),
    ]
    for answer, nothing in zip(answers, missing, strict=True):
        if not sees(who, ds.key):
            same_error(answer, nothing)
            assert_hides(answer.body, ds)
        elif reads(who, ds.key):
            assert answer.status in (200, 403)  # stock: the data needs edit rights
        else:
            assert answer.status in (200, 403)
            assert_no_data(answer.body, ds)
    if world.actors[who].key in ("editor", "admin", "sysadmin"):
        assert answers[1].status == 200 and ds.origin in answers[1].body


def row_activity_pages(web, world, who, ds):
    pages = [f"/dataset/activity/{ds.name}",
             f"/dataset/{ds.name}/history/{ds.first_activity}",
             f"/dataset/{ds.name}/resources/{ds.file_id}/history/{ds.first_activity}",
             f"/dataset/changes/{ds.last_activity}"]
    for url in pages:
        res = get(web, world, who, url, follow_redirects=True)
        if not sees(who, ds.key):
            assert res.status == 404, (url, res.status)
            assert_hides(res.body, ds)
        elif not reads(who, ds.key):
            assert res.status in (200, 403), (url, res.status)
            assert_no_data(res.body, ds)
        else:
            assert res.status in (200, 403), (url, res.status)


def row_follow(web, world, who, ds):
    """follow_dataset, am_following_dataset, dataset_follower_count: a hidden
    dataset answers as a missing one."""
    calls = [("follow_dataset", {}), ("am_following_dataset", {}),
             ("dataset_follower_count", {}), ("dataset_follower_list", {})]
    if not sees(who, ds.key):
        calls.append(("unfollow_dataset", {}))  # the world's follows stay
    for action, extra in calls:
        answer = api(web, world, who, action, id=ds.name, **extra)
        if not sees(who, ds.key):
            same_error(answer, api(web, world, who, action, id=MISSING, **extra),
                       (ds.name, MISSING))
            assert_hides(answer.body, ds)
        elif who != "anonymous" and action != "dataset_follower_list":  # sysadmins only
            assert answer.status == 200, (action, answer.body[:300])


def row_harvest_object(web, world, who, ds):
    shown = api(web, world, who, "harvest_object_show", id=ds.harvest_object_id)
    missing = api(web, world, who, "harvest_object_show", id=MISSING_ID)
    pages = [get(web, world, who, f"/harvest/object/{ds.harvest_object_id}"),
             get(web, world, who, f"/dataset/harvest_object/{ds.id}")]
    if not sees(who, ds.key):
        same_error(shown, missing, (ds.harvest_object_id, MISSING_ID))
    elif reads(who, ds.key):
        assert shown.status == 200 and ds.origin in shown.body
    else:
        assert shown.status == 403
    for answer in [shown] + pages:
        if not reads(who, ds.key):
            assert_no_data(answer.body, ds)
        if not sees(who, ds.key):
            assert_hides(answer.body, ds)
            assert answer.status in (403, 404)


def row_package_relationships_list(web, world, who, ds):
    """ds-open links to every dataset."""
    own = api(web, world, who, "package_relationships_list", id=ds.name)
    from_open = api(web, world, who, "package_relationships_list", id="ds-open", id2=ds.name)
    if not sees(who, ds.key):
        same_error(own, api(web, world, who, "package_relationships_list", id=MISSING))
        same_error(from_open, api(web, world, who, "package_relationships_list", id="ds-open",
                                  id2=MISSING))
        all_of_open = api(web, world, who, "package_relationships_list", id="ds-open")
        assert_hides(own.body + from_open.body + all_of_open.body, ds)
    else:
        assert own.status == 200
        assert from_open.status == 200 and len(from_open.result) == (ds.key != "open")


def row_dcat_dataset(web, world, who, ds):
    """The dataset's DCAT RDF (ckanext-dcat, through package_show): a hidden
    dataset is missing, gated data shows the download route only."""
    for url in (f"/dataset/{ds.name}.ttl", f"/dataset_series/{ds.name}.rdf"):
        res = get(web, world, who, url)
        if not sees(who, ds.key):
            missing = get(web, world, who, url.replace(ds.name, MISSING))
            assert res.status == missing.status == 404, (url, res.status)
            assert_hides(res.body, ds)
            continue
        assert res.status == 200, (url, res.status)
        assert ds.id in res.body
        if sees_origin(who, ds.key):
            assert ds.origin in res.body
        else:
            if not reads(who, ds.key):
                assert_no_data(res.body, ds)
            assert ds.origin not in res.body
            assert f"/dataset/{ds.name}/resource/{ds.file_id}/download" in res.body


def row_commune_dataset_page(web, world, who, ds):
    """A dataset page in the commune's white-label view (ckanext-communes;
    the publisher is a commune): missing like a missing dataset when the
    actor may not see it, no gated data otherwise."""
    res = get(web, world, who, f"/commune/publisher/dataset/{ds.name}")
    if not sees(who, ds.key):
        missing = get(web, world, who, f"/commune/publisher/dataset/{MISSING}")
        assert res.status == missing.status == 404, res.status
        assert_hides(res.body, ds)
        return
    assert res.status == 200, res.status
    assert "commune-header" in res.body
    if not reads(who, ds.key):
        assert_no_data(res.body, ds)


def row_dataviz_chart(web, world, who, ds):
    """dataviz_chart_data answers like the DataStore; the embed page of a view
    shows what to do and no row without access, and looks missing when the
    dataset is not visible."""
    config = {"chart_type": "bar", "x": "station", "y": "bikes"}
    _data_row(api(web, world, who, "dataviz_chart_data", resource_id=ds.table_id, config=config),
              api(web, world, who, "dataviz_chart_data", resource_id=MISSING_ID, config=config),
              who, ds, (ds.table_id, MISSING_ID))
    embed = get(web, world, who, f"/dataviz/embed/view/{ds.view_id}")
    if not sees(who, ds.key):
        missing = get(web, world, who, f"/dataviz/embed/view/{MISSING_ID}")
        assert embed.status == missing.status == 404
        assert_hides(embed.body, ds)
        return
    assert embed.status == 200, embed.body[:300]
    assert "frame-ancestors *" in embed.headers.get("Content-Security-Policy", "")
    if not reads(who, ds.key):
        assert "data-dataviz-access" in embed.body
        assert_no_data(embed.body, ds)


def row_dataviz_map_layer(web, world, who, ds):
    """dataviz_map_layer_data (the features of a map layer; here the table's
    `bikes` column as latitude and longitude) answers like the DataStore."""
    params = {"lat_field": "bikes", "lon_field": "bikes"}
    _data_row(api(web, world, who, "dataviz_map_layer_data", resource_id=ds.table_id, **params),
              api(web, world, who, "dataviz_map_layer_data", resource_id=MISSING_ID, **params),
              who, ds, (ds.table_id, MISSING_ID))


# History (ckanext-history): a history on each dataset's file resource, made
# on first use (idempotent), whose one row names the dataset's secret.
HISTORY_RANGE = {"start": "2026-03-01T00:00:00", "end": "2026-03-02T00:00:00"}


def _history_of(ds: Dataset) -> None:
    from ckanext.history import store

    if store.get_schema(ds.file_id) is None:
        store.ensure_schema(ds.file_id, [{"name": "bikes", "type": "int"}])
        store.write_rows(ds.file_id, [{"feature": ds.row, "time": datetime.datetime(2026, 3, 1, 8),
                                       "values": {"bikes": 7}}])


def row_history_query(web, world, who, ds):
    _history_of(ds)
    _data_row(api(web, world, who, "history_query", resource_id=ds.file_id, **HISTORY_RANGE),
              api(web, world, who, "history_query", resource_id=MISSING_ID, **HISTORY_RANGE),
              who, ds, (ds.file_id, MISSING_ID))


def row_history_snapshot(web, world, who, ds):
    """history_snapshot (the features of a map through time at one step)."""
    _history_of(ds)
    step = {"time": "2026-03-01T08:30:00Z", "step": "hour"}
    _data_row(api(web, world, who, "history_snapshot", resource_id=ds.file_id, **step),
              api(web, world, who, "history_snapshot", resource_id=MISSING_ID, **step),
              who, ds, (ds.file_id, MISSING_ID))


def row_history_show(web, world, who, ds):
    _history_of(ds)
    shown = api(web, world, who, "history_show", resource_id=ds.file_id)
    missing = api(web, world, who, "history_show", resource_id=MISSING_ID)
    if reads(who, ds.key):
        assert shown.status == 200 and shown.result["coverage"]["rows"] == 1
    elif sees(who, ds.key):
        assert shown.status == 403
        assert_no_data(shown.body, ds)
    else:
        same_error(shown, missing, (ds.file_id, MISSING_ID))
        assert_hides(shown.body.replace(ds.file_id, ""), ds)


def row_history_download(web, world, who, ds, client=None):
    _history_of(ds)
    for route in ("download?format=csv&start=2026-03-01&end=2026-03-02", "month/2026-03.jsonl"):
        res = get(web, world, who, f"/dataset/{ds.name}/resource/{ds.file_id}/history/{route}", client)
        if reads(who, ds.key):
            assert res.status == 200 and ds.row in res.body
        elif sees(who, ds.key):
            assert res.status == 403
            assert_no_data(res.body + str(res.headers), ds)
        else:
            missing = get(web, world, who, f"/dataset/{MISSING}/resource/{MISSING_ID}/history/{route}",
                          client)
            assert res.status == missing.status == 404
            assert_hides(res.body, ds)


# History feeds (ckanext-history): a feed on each dataset's file resource whose
# source is the dataset's secret origin URL, made on first use (idempotent).
EDITING = ("editor", "admin", "sysadmin")


def _feed_of(ds: Dataset) -> None:
    from ckanext.history.model import Feed

    _history_of(ds)
    if model.Session.query(Feed).filter_by(resource_id=ds.file_id).first() is None:
        model.Session.add(Feed(resource_id=ds.file_id, package_id=ds.id, url=ds.origin,
                               format="geojson", feature_id_field="number",
                               fields=[{"name": "bikes", "type": "int"}], enabled=False))
        model.Session.commit()


def row_history_feed_show(web, world, who, ds):
    _feed_of(ds)
    shown = api(web, world, who, "history_feed_show", resource_id=ds.file_id)
    missing = api(web, world, who, "history_feed_show", resource_id=MISSING_ID)
    if reads(who, ds.key):
        assert shown.status == 200 and shown.result["fields"] == [{"name": "bikes", "type": "int"}]
        assert (ds.origin in shown.body) == (who in EDITING)
    elif sees(who, ds.key):
        assert shown.status == 403
        assert_no_data(shown.body, ds)
    else:
        same_error(shown, missing, (ds.file_id, MISSING_ID))
        assert_hides(shown.body.replace(ds.file_id, ""), ds)


def row_history_page(web, world, who, ds, client=None):
    _feed_of(ds)
    url = f"/dataset/{ds.name}/resource/{ds.file_id}/history"
    res = get(web, world, who, url, client)
    if reads(who, ds.key):
        assert res.status == 200 and "history-page" in res.body
        assert (ds.origin in res.body) == (who in EDITING)
        assert ds.row not in res.body
    elif sees(who, ds.key):
        assert res.status == 403
        assert_no_data(res.body, ds)
    else:
        missing = get(web, world, who, f"/dataset/{MISSING}/resource/{MISSING_ID}/history", client)
        assert res.status == missing.status == 404
        assert_hides(res.body, ds)


ITEM_ROWS: dict[str, Callable] = {
    "package_show": row_package_show,
    "resource_show": row_resource_show,
    "resource_view_show+list": row_resource_views,
    "datastore_search": row_datastore_search,
    "datastore_info": row_datastore_info,
    "datastore_search_sql": row_datastore_search_sql,
    "/datastore/dump": row_datastore_dump,
    "/download": row_download,
    "/download upload": row_download_upload,
    "/datatables/ajax": row_datatables_ajax,
    "/datatables/filtered-download": row_datatables_filtered_download,
    "dataset pages": row_dataset_pages,
    "package_activity_list": row_package_activity_list,
    "activity_show+data_show+diff": row_activity_detail,
    "activity pages": row_activity_pages,
    "follow_dataset+am_following+follower_count": row_follow,
    "harvest_object_show+/harvest/object": row_harvest_object,
    "package_relationships_list": row_package_relationships_list,
    "dcat_dataset_show+/dataset/<id>.<format>": row_dcat_dataset,
    "/commune/<name>/dataset/<id>": row_commune_dataset_page,
    "dataviz_chart_data+embed": row_dataviz_chart,
    "dataviz_map_layer_data": row_dataviz_map_layer,
    "history_query": row_history_query,
    "history_snapshot": row_history_snapshot,
    "history_show": row_history_show,
    "/history/download": row_history_download,
    "history_feed_show": row_history_feed_show,
    "/history page": row_history_page,
}


def _item_params():
    for surface in ITEM_ROWS:
        for who in ACTORS:
            for ds in DATASETS:
                yield pytest.param(surface, who, ds, id=f"{surface}-{who}-{ds}")


@pytest.mark.parametrize("surface,who,ds", list(_item_params()))
def test_item(web, world, surface, who, ds):
    ITEM_ROWS[surface](web, world, who, world.datasets[ds])


# --- cookie rows: a browser session instead of a token ---------------------------------

@pytest.fixture(scope="module")
def sessions(web, world):
    return {who: login(web, world, who) for who in COOKIE_ACTORS}


COOKIE_ROWS: dict[str, Callable] = {
    "dataset pages": row_dataset_pages,
    "/download": row_download,
    "/download upload": row_download_upload,
    "package_show": row_api_by_cookie,
    "/history/download": row_history_download,
    "/history page": row_history_page,
}


def _cookie_params():
    for surface in COOKIE_ROWS:
        for who in COOKIE_ACTORS:
            for ds in DATASETS:
                yield pytest.param(surface, who, ds, id=f"cookie {surface}-{who}-{ds}")


@pytest.mark.parametrize("surface,who,ds", list(_cookie_params()))
def test_cookie(web, world, sessions, surface, who, ds):
    COOKIE_ROWS[surface](web, world, who, world.datasets[ds], client=sessions[who])


# --- list surfaces: one row per actor, every dataset checked --------------------------

def _public(key: str) -> bool:
    return key != "private"


def list_package_search(web, world, who):
    found = api(web, world, who, "package_search", q="*:*", rows=100)
    assert found.status == 200
    visible = [k for k in DATASETS if sees(who, k) and _public(k)]
    assert found.result["count"] == len(visible)
    return found.body, _public


def list_package_search_fl(web, world, who):
    found = api(web, world, who, "package_search", q="*:*", rows=100,
                fl="id,name,res_url,data_dict,validated_data_dict,permission_labels")
    assert found.status == 200
    return found.body, _public


def list_package_search_private_facets(web, world, who):
    found = api(web, world, who, "package_search", q="*:*", rows=100, include_private=True,
                **{"facet.field": ["name", "tags", "res_url", "organization", "groups"],
                   "facet.limit": -1})
    assert found.status == 200
    visible = [k for k in DATASETS if sees(who, k)]
    assert found.result["count"] == len(visible)
    return found.body, lambda k: True


def list_search_queries(web, world, who):
    """Queries that would find a gated dataset by its origin URL or rows."""
    bodies = []
    # The index holds the origin URLs of open datasets only (private is open-level).
    findable = {f"ds-{k}" for k in ("open", "private") if sees(who, k)}
    for q in ('res_url:"https://origin.example.org/secret/hidden.csv"', "origin.example.org",
              '"secret-hidden"', "urls:*origin*", "res_url:*secret*"):
        found = api(web, world, who, "package_search", q=q, include_private=True)
        assert found.status == 200
        assert {r["name"] for r in found.result["results"]} <= findable, q
        bodies.append(found.body)
    return "".join(bodies), lambda k: False


def list_package_list(web, world, who):
    listed = api(web, world, who, "package_list")
    assert listed.status == 200
    return listed.body, _public


def list_current_package_list_with_resources(web, world, who):
    listed = api(web, world, who, "current_package_list_with_resources", limit=100)
    assert listed.status == 200
    return listed.body, _public


def list_autocomplete(web, world, who):
    auto = api(web, world, who, "package_autocomplete", q="ds-", limit=100)
    util = get(web, world, who, "/api/2/util/dataset/autocomplete?incomplete=ds-&limit=100")
    assert auto.status == util.status == 200
    return auto.body + util.body, _public


def list_resource_search(web, world, who):
    by_name = api(web, world, who, "resource_search", query="name:file")
    by_url = api(web, world, who, "resource_search", query="url:origin.example.org")
    tables = api(web, world, who, "resource_search", query="name:table")
    assert by_name.status == by_url.status == tables.status == 200
    bodies = by_name.body + by_url.body + tables.body
    for answer in (by_name, tables):
        ids = {r["package_id"] for r in answer.result["results"]}
        assert ids == {ds.id for k, ds in world.datasets.items() if sees(who, k) and _public(k)}
    return bodies, _public


def list_organization_show(web, world, who):
    shown = api(web, world, who, "organization_show", id="publisher", include_datasets=True)
    assert shown.status == 200
    visible = [k for k in DATASETS if sees(who, k)
               and (_public(k) or who in ("member", "editor", "admin", "sysadmin"))]
    assert shown.result["package_count"] == len(visible)
    return shown.body, lambda k: k in visible


def list_organization_list(web, world, who):
    listed = api(web, world, who, "organization_list", all_fields=True,
                 include_dataset_count=True)
    groups = api(web, world, who, "group_list", all_fields=True, include_dataset_count=True)
    assert listed.status == groups.status == 200
    visible = [k for k in DATASETS if sees(who, k)
               and (_public(k) or who in ("member", "editor", "admin", "sysadmin"))]
    assert listed.result[0]["package_count"] == len(visible)
    assert groups.result[0]["package_count"] == len(
        [k for k in DATASETS if sees(who, k) and _public(k)])
    return listed.body + groups.body, lambda k: False


def list_group_show(web, world, who):
    shown = api(web, world, who, "group_show", id="themes", include_datasets=True)
    package_show = api(web, world, who, "group_package_show", id="themes", limit=100)
    assert shown.status == package_show.status == 200
    return shown.body + package_show.body, _public


def list_member_list(web, world, who):
    org = api(web, world, who, "member_list", id="publisher", object_type="package")
    group = api(web, world, who, "member_list", id="themes", object_type="package")
    assert org.status == group.status == 200
    return org.body + group.body, lambda k: True


def list_tag_show(web, world, who):
    velo = api(web, world, who, "tag_show", id="velo", include_datasets=True)
    assert velo.status == 200
    bodies = velo.body
    for key, ds in world.datasets.items():
        own = api(web, world, who, "tag_show", id=ds.tag, include_datasets=True)
        if not sees(who, key):
            same_error(own, api(web, world, who, "tag_show", id="tag-does-not-exist"),
                       (ds.tag, "tag-does-not-exist"))
        bodies += own.body
    return bodies, _public


def list_tags(web, world, who):
    tags = api(web, world, who, "tag_list")
    found = api(web, world, who, "tag_search", query="tag-")
    auto = api(web, world, who, "tag_autocomplete", query="tag-")
    util = get(web, world, who, "/api/2/util/tag/autocomplete?incomplete=tag-")
    assert tags.status == found.status == auto.status == util.status == 200
    return tags.body + found.body + auto.body + util.body, lambda k: False


def list_user_show(web, world, who):
    shown = api(web, world, who, "user_show", id="org-editor", include_datasets=True)
    if who in ("editor", "sysadmin"):
        assert shown.status == 200
        return shown.body, lambda k: True
    assert shown.status in (200, 403)
    return shown.body, lambda k: False


def list_followees(web, world, who):
    if who == "anonymous":
        answer = api(web, world, who, "dataset_followee_list", id="outsider")
        return answer.body, lambda k: False
    me = world.actors[who].name
    datasets = api(web, world, who, "dataset_followee_list", id=me)
    everything = api(web, world, who, "followee_list", id=me)
    assert datasets.status == everything.status == 200
    seen = len([k for k in DATASETS if sees(who, k)])
    assert len(datasets.result) == seen
    for action in ("dataset_followee_count", "followee_count"):
        count = api(web, world, who, action, id=me)
        assert count.status == 200 and count.result <= seen, action
    return datasets.body + everything.body, lambda k: True


def _activity_ids(answer: Answer) -> set[str]:
    if answer.status != 200:
        return set()
    return {a["object_id"] for a in answer.result}


def list_org_group_activity(web, world, who):
    org = api(web, world, who, "organization_activity_list", id="publisher", limit=100)
    group = api(web, world, who, "group_activity_list", id="themes", limit=100)
    assert org.status == group.status == 200
    return org.body + group.body, lambda k: False


def list_recent_and_dashboard(web, world, who):
    recent = api(web, world, who, "recently_changed_packages_activity_list", limit=100)
    assert recent.status == 200
    body = recent.body
    if who != "anonymous":
        dashboard = api(web, world, who, "dashboard_activity_list", limit=100)
        new = api(web, world, who, "dashboard_new_activities_count")
        assert dashboard.status == new.status == 200
        assert new.result <= len(dashboard.result)
        body += dashboard.body
    return body, lambda k: False


def list_user_activity(web, world, who):
    listed = api(web, world, who, "user_activity_list", id="org-editor", limit=100)
    assert listed.status in (200, 403)
    return listed.body, lambda k: False


def list_feeds(web, world, who):
    urls = ["/feeds/dataset.atom", "/feeds/custom.atom?q=ds", "/feeds/organization/publisher.atom",
            "/feeds/group/themes.atom", "/feeds/tag/velo.atom"]
    answers = [get(web, world, who, url) for url in urls]
    assert all(a.status == 200 for a in answers)
    return "".join(a.body for a in answers), _public


def list_web_pages(web, world, who):
    urls = ["/dataset/", "/dataset/?q=secret", "/organization/publisher", "/group/themes",
            "/organization/activity/publisher", "/group/activity/themes", "/user/org-editor",
            "/", "/organization/", "/group/"]
    if who != "anonymous":
        urls += ["/dashboard/", "/dashboard/datasets", f"/user/{world.actors[who].name}",
                 f"/user/activity/{world.actors[who].name}"]
    bodies = []
    for url in urls:
        res = get(web, world, who, url, follow_redirects=True)
        assert res.status in (200, 403), (url, res.status)
        bodies.append(res.body)
    return "".join(bodies), lambda k: False


def list_datastore_catalogue(web, world, who):
    """The DataStore's catalogue of tables names every table (resource id)."""
    meta = api(web, world, who, "datastore_search", resource_id="_table_metadata", limit=1000)
    sql = api(web, world, who, "datastore_search_sql",
              sql='SELECT name FROM "_table_metadata"')
    return meta.body + sql.body, lambda k: False


def list_harvest_objects(web, world, who):
    listed = api(web, world, who, "harvest_object_list", only_current=False)
    body = listed.body
    for key, ds in world.datasets.items():
        if not sees(who, key):
            assert ds.harvest_object_id not in body, f"{key}: harvest object listed"
    return body, lambda k: False


def list_dcat_catalogue(web, world, who):
    """The DCAT catalogue (ckanext-dcat, through package_search) in three
    formats, by URL and by action, and a query on the origin URLs."""
    bodies = [get(web, world, who, f"/catalog.{fmt}") for fmt in ("ttl", "rdf", "jsonld")]
    bodies.append(get(web, world, who, "/catalog.ttl?q=origin.example.org"))
    for action in ("dcat_catalog_show", "dcat_catalog_search"):
        bodies.append(api(web, world, who, action, format="ttl"))
    assert all(b.status == 200 for b in bodies), [b.status for b in bodies]
    return "".join(b.body for b in bodies[:3] + bodies[4:]) + bodies[3].body, _public


def list_catalogue_csv(web, world, who):
    """The catalogue as CSV (site/catalogue_export.py, through package_search
    with private datasets): every dataset the actor sees, gated files by
    their download route; the current search (a query on the origin URLs)."""
    whole = get(web, world, who, "/catalogue.csv")
    searched = get(web, world, who, "/catalogue.csv?q=origin.example.org&sort=name+asc")
    assert whole.status == searched.status == 200
    return whole.body + searched.body, lambda k: True


def list_communes(web, world, who):
    """The commune's white-label home (as the actor sees it), the widget's
    search (as an anonymous visitor sees it, whoever asks: open datasets only
    give download links), its iframe and builder pages, the list of communes."""
    home = get(web, world, who, "/commune/publisher")
    widget = api(web, world, who, "communes_widget_search", commune="publisher", page_size=20)
    pages = [get(web, world, who, url) for url in (
        "/commune/", "/commune/publisher/widget", "/commune/publisher/widget-builder")]
    listed = api(web, world, who, "communes_list")
    assert home.status == widget.status == listed.status == 200
    assert all(p.status == 200 for p in pages)
    assert {d["name"] for d in widget.result["results"]} == {
        f"ds-{k}" for k in DATASETS if sees("anonymous", k) and _public(k)}
    assert all(not d["resources"] for d in widget.result["results"]
               if d["access_level"] != "open")
    body = home.body + widget.body + listed.body + "".join(p.body for p in pages)
    return body, lambda k: sees("anonymous", k) and _public(k)


def list_history_feed_count(web, world, who):
    """history_feed_count (the home page's figure) counts the feeds of the
    datasets the actor sees, never those of hidden or private ones."""
    for ds in world.datasets.values():
        _feed_of(ds)
    counted = api(web, world, who, "history_feed_count")
    assert counted.status == 200
    assert counted.result == sum(1 for key in world.datasets if sees(who, key)), counted.result
    return counted.body, lambda k: False


LIST_ROWS: dict[str, Callable] = {
    "package_search": list_package_search,
    "package_search fl=res_url,data_dict,validated_data_dict": list_package_search_fl,
    "package_search include_private+facets": list_package_search_private_facets,
    "package_search by origin URL or row": list_search_queries,
    "package_list": list_package_list,
    "current_package_list_with_resources": list_current_package_list_with_resources,
    "package_autocomplete+/api/2/util/dataset/autocomplete": list_autocomplete,
    "resource_search": list_resource_search,
    "organization_show include_datasets": list_organization_show,
    "organization_list+group_list counts": list_organization_list,
    "group_show+group_package_show": list_group_show,
    "member_list object_type=package": list_member_list,
    "tag_show include_datasets": list_tag_show,
    "tag_list+tag_search+tag_autocomplete": list_tags,
    "user_show include_datasets": list_user_show,
    "dataset_followee_list+followee_list": list_followees,
    "organization_activity_list+group_activity_list": list_org_group_activity,
    "recently_changed+dashboard_activity_list": list_recent_and_dashboard,
    "user_activity_list": list_user_activity,
    "feeds": list_feeds,
    "web pages": list_web_pages,
    "datastore _table_metadata": list_datastore_catalogue,
    "harvest_object_list": list_harvest_objects,
    "dcat catalogue": list_dcat_catalogue,
    "catalogue csv": list_catalogue_csv,
    "history_feed_count": list_history_feed_count,
    "communes: white-label home, widget search, iframe, builder, list": list_communes,
}


def _list_params():
    for surface in LIST_ROWS:
        for who in ACTORS:
            yield pytest.param(surface, who, id=f"{surface}-{who}")


@pytest.mark.parametrize("surface,who", list(_list_params()))
def test_list(web, world, surface, who):
    body, listed = LIST_ROWS[surface](web, world, who)
    assert_listing(body, world, who, listed)


# --- completeness ---------------------------------------------------------------------

# Actions: each covered by a matrix row (its name in ITEM_ROWS or LIST_ROWS), or
# classified with the reason it serves no dataset data to someone without rights.
COVERED_ACTIONS: dict[str, str] = {
    "package_show": "package_show",
    "dcat_dataset_show": "dcat_dataset_show+/dataset/<id>.<format>",
    "dcat_catalog_show": "dcat catalogue",
    "dcat_catalog_search": "dcat catalogue",
    "grandlyon_access_show": "package_show",
    "resource_show": "resource_show",
    "resource_view_show": "resource_view_show+list",
    "resource_view_list": "resource_view_show+list",
    "datastore_search": "datastore_search",
    "datastore_info": "datastore_info",
    "datastore_search_sql": "datastore_search_sql",
    "package_activity_list": "package_activity_list",
    "activity_show": "activity_show+data_show+diff",
    "activity_data_show": "activity_show+data_show+diff",
    "activity_diff": "activity_show+data_show+diff",
    "follow_dataset": "follow_dataset+am_following+follower_count",
    "unfollow_dataset": "follow_dataset+am_following+follower_count",
    "am_following_dataset": "follow_dataset+am_following+follower_count",
    "dataset_follower_count": "follow_dataset+am_following+follower_count",
    "dataset_follower_list": "follow_dataset+am_following+follower_count",
    "harvest_object_show": "harvest_object_show+/harvest/object",
    "package_relationships_list": "package_relationships_list",
    "package_search": "package_search",
    "package_list": "package_list",
    "current_package_list_with_resources": "current_package_list_with_resources",
    "package_autocomplete": "package_autocomplete+/api/2/util/dataset/autocomplete",
    "resource_search": "resource_search",
    "organization_show": "organization_show include_datasets",
    "organization_list": "organization_list+group_list counts",
    "group_list": "organization_list+group_list counts",
    "group_show": "group_show+group_package_show",
    "group_package_show": "group_show+group_package_show",
    "member_list": "member_list object_type=package",
    "tag_show": "tag_show include_datasets",
    "tag_list": "tag_list+tag_search+tag_autocomplete",
    "tag_search": "tag_list+tag_search+tag_autocomplete",
    "tag_autocomplete": "tag_list+tag_search+tag_autocomplete",
    "user_show": "user_show include_datasets",
    "dataset_followee_list": "dataset_followee_list+followee_list",
    "followee_list": "dataset_followee_list+followee_list",
    "dataset_followee_count": "dataset_followee_list+followee_list",
    "followee_count": "dataset_followee_list+followee_list",
    "organization_activity_list": "organization_activity_list+group_activity_list",
    "group_activity_list": "organization_activity_list+group_activity_list",
    "recently_changed_packages_activity_list": "recently_changed+dashboard_activity_list",
    "dashboard_activity_list": "recently_changed+dashboard_activity_list",
    "dashboard_new_activities_count": "recently_changed+dashboard_activity_list",
    "user_activity_list": "user_activity_list",
    "harvest_object_list": "harvest_object_list",
    "communes_widget_search": "communes: white-label home, widget search, iframe, builder, list",
    "communes_list": "communes: white-label home, widget search, iframe, builder, list",
    "dataviz_chart_data": "dataviz_chart_data+embed",
    "dataviz_map_layer_data": "dataviz_map_layer_data",
    "history_query": "history_query",
    "history_snapshot": "history_snapshot",
    "history_show": "history_show",
    "history_feed_show": "history_feed_show",
    "history_feed_count": "history_feed_count",
}

NEEDS_RIGHTS: dict[str, tuple[str, ...]] = {
    "saved maps: their owners write them (an organisation's editors and admins, the owning "
    "user, sysadmins); show and list give only maps and layers the viewer may see, no data "
    "(tests in ckanext-dataviz, test_map_actions.py)": (
        "dataviz_map_create", "dataviz_map_update", "dataviz_map_delete", "dataviz_map_show",
        "dataviz_map_list"),
    "writes a dataset, its resources or views: the dataset's editors (package_update)": (
        "package_create", "package_update", "package_patch", "package_delete", "package_revise",
        "package_resource_reorder", "package_owner_org_update",
        "package_create_default_resource_views", "package_relationship_create",
        "package_relationship_update", "package_relationship_delete",
        "package_collaborator_create", "package_collaborator_delete",
        "package_collaborator_list", "resource_create", "resource_update", "resource_patch",
        "resource_delete", "resource_create_default_resource_views", "resource_view_create",
        "resource_view_update", "resource_view_delete", "resource_view_reorder",
        "bulk_update_private", "bulk_update_public", "bulk_update_delete"),
    "writes DataStore tables or functions: the resource's editors, sysadmins": (
        "datastore_create", "datastore_upsert", "datastore_delete", "datastore_records_delete",
        "datastore_run_triggers", "datastore_function_create", "datastore_function_delete"),
    "writes organisations, groups and their members: their admins": (
        "organization_create", "organization_update", "organization_patch",
        "organization_delete", "organization_purge", "organization_member_create",
        "organization_member_delete", "group_create", "group_update", "group_patch",
        "group_delete", "group_purge", "group_member_create", "group_member_delete",
        "member_create", "member_delete"),
    "accounts and API tokens: the user themself, sysadmins": (
        "user_create", "user_update", "user_patch", "user_delete", "user_invite",
        "api_token_create", "api_token_revoke", "api_token_list",
        "dashboard_mark_activities_old"),
    "site administration, background jobs, purges: sysadmins (or internal, ignore_auth)": (
        "config_option_update", "config_option_show", "config_option_list", "job_list",
        "job_show", "job_cancel", "job_clear", "task_status_show", "task_status_update",
        "task_status_update_many", "task_status_delete", "term_translation_update",
        "term_translation_update_many", "vocabulary_create", "vocabulary_update",
        "vocabulary_delete", "tag_create", "tag_delete", "resource_view_clear",
        "dataset_purge", "send_email_notifications", "activity_create", "get_site_user"),
    "harvest sources, jobs and logs: the source's editors, sysadmins": (
        "harvest_source_create", "harvest_source_update", "harvest_source_patch",
        "harvest_source_delete", "harvest_source_clear", "harvest_source_index_clear",
        "harvest_source_reindex", "harvest_source_job_history_clear",
        "harvest_sources_reindex", "harvest_sources_job_history_clear", "harvest_job_create",
        "harvest_job_create_all", "harvest_jobs_run", "harvest_job_abort", "harvest_job_show",
        "harvest_job_report", "harvest_job_list", "harvest_abort_failed_jobs",
        "harvest_send_job_to_gather_queue", "harvest_objects_import", "harvest_object_create",
        "harvest_source_show_status", "harvest_get_notifications_recipients",
        "harvest_log_list"),
    "circles, grants, requests, audit log, throttling unlock, two-factor reset: sysadmins, "
    "the dataset's editors or admins, or the requester (tests in ckanext-grandlyon-access)": (
        "grandlyon_access_throttle_unlock", "grandlyon_access_two_factor_reset",
        "grandlyon_access_circle_create", "grandlyon_access_circle_update",
        "grandlyon_access_circle_delete", "grandlyon_access_circle_list",
        "grandlyon_access_circle_show", "grandlyon_access_circle_member_create",
        "grandlyon_access_circle_member_delete", "grandlyon_access_grant_create",
        "grandlyon_access_grant_delete", "grandlyon_access_grant_list",
        "grandlyon_access_request_create", "grandlyon_access_request_list",
        "grandlyon_access_request_decide", "grandlyon_access_log_list"),
    "history feeds: the dataset's editors (package_update); tests in ckanext-history "
    "test_feed_actions.py per actor and access level": (
        "history_feed_create", "history_feed_update", "history_feed_delete"),
    "pages and news: sysadmins write them (tests in ckanext-grandlyon-access "
    "test_editorial.py)": (
        "grandlyon_access_editorial_create", "grandlyon_access_editorial_update",
        "grandlyon_access_editorial_delete"),
    "licence signatures: the signer, sysadmins; new licence versions: sysadmins": (
        "grandlyon_licence_sign", "grandlyon_licence_signature_list",
        "grandlyon_licence_signature_revoke", "grandlyon_licence_version_publish"),
}

NO_DATASET_DATA: dict[str, tuple[str, ...]] = {
    "users, their follows and autocompletion (user_show is a row)": (
        "user_list", "user_autocomplete", "user_follower_count", "user_follower_list",
        "user_followee_count", "user_followee_list", "am_following_user", "follow_user",
        "unfollow_user"),
    "organisations and groups themselves, their follows (their datasets are rows)": (
        "organization_autocomplete", "group_autocomplete", "organization_list_for_user",
        "group_list_authz", "member_roles_list", "organization_follower_count",
        "organization_follower_list", "organization_followee_count",
        "organization_followee_list", "group_follower_count", "group_follower_list",
        "group_followee_count", "group_followee_list", "am_following_group", "follow_group",
        "unfollow_group"),
    "the site's vocabularies, licences, schemas, status and help": (
        "status_show", "help_show", "license_list", "vocabulary_list", "vocabulary_show",
        "term_translation_show", "scheming_dataset_schema_list",
        "scheming_dataset_schema_show", "scheming_organization_schema_list",
        "scheming_organization_schema_show", "grandlyon_licence_list",
        "grandlyon_licence_show"),
    "pages and news written by sysadmins, no dataset; a draft is missing to anyone but "
    "sysadmins (tests in ckanext-grandlyon-access test_editorial.py)": (
        "grandlyon_access_editorial_show", "grandlyon_access_editorial_list"),
    "resource formats: a shared vocabulary (CSV, JSON...), no name, id or row": (
        "format_autocomplete",),
    "the user's own collaborations (collaborators are off in this portal)": (
        "package_collaborator_list_for_user",),
    "harvest sources (their URL and configuration) and the installed harvesters": (
        "harvest_source_show", "harvest_source_list", "harvesters_info_show"),
    "not API actions: ckanext-harvest's mail helpers and an exception class, exported by "
    "its action modules; called over the API they fail before doing anything": (
        "InactiveSource", "get_mail_extra_vars", "prepare_summary_mail", "prepare_error_mail",
        "send_summary_email", "send_error_email", "send_mail"),
    "not API actions: ckanext-harvest's auth functions, which it also registers as actions "
    "when its auth functions load first (its plugin's _get_logic_functions shares a default "
    "dict); they return an auth result": (
        "auth_allow_anonymous_access", "harvest_sources_clear"),
}

# Registered or not depending on the order plugins' functions load (see above).
SOMETIMES_REGISTERED = {"auth_allow_anonymous_access", "harvest_sources_clear"}

# URL rules: each covered by a row, or classified.
_V12 = "<int(min=1, max=2):ver>"
COVERED_RULES: dict[str, str] = {
    "/api/<int(min=3, max=3):ver>/action/<logic_function>": "every action row",
    "/api/action/<logic_function>": "every action row",
    "/dataset/<id>": "dataset pages",
    "/dataset/<id>/resource/<resource_id>": "dataset pages",
    "/dataset/<id>/resource/<resource_id>/view/<view_id>": "dataset pages",
    "/dataset/groups/<id>": "dataset pages",
    "/harvest/<id>/resource/<resource_id>": "dataset pages",
    "/harvest/<id>/resource/<resource_id>/view/<view_id>": "dataset pages",
    "/dataset/<id>/resource/<resource_id>/download": "/download",
    "/dataset/<id>/resource/<resource_id>/download/<filename>": "/download",
    "/harvest/<id>/resource/<resource_id>/download": "/download",
    "/harvest/<id>/resource/<resource_id>/download/<filename>": "/download",
    "/datastore/dump/<resource_id>": "/datastore/dump",
    "/dataset/<id>/resource/<resource_id>/history/download": "/history/download",
    "/dataset/<id>/resource/<resource_id>/history/month/<month>.<fmt>": "/history/download",
    "/dataset/<id>/resource/<resource_id>/history": "/history page",
    "/datatables/ajax/<resource_view_id>": "/datatables/ajax",
    "/datatables/filtered-download/<resource_view_id>": "/datatables/filtered-download",
    "/dataset/activity/<id>": "activity pages",
    "/dataset/<id>/history/<activity_id>": "activity pages",
    "/dataset/<id>/resources/<resource_id>/history/<activity_id>": "activity pages",
    "/dataset/changes/<id>": "activity pages",
    "/dataset/follow/<id>": "follow_dataset+am_following+follower_count",
    "/dataset/unfollow/<id>": "follow_dataset+am_following+follower_count",
    "/harvest/object/<id>": "harvest_object_show+/harvest/object",
    "/dataset/harvest_object/<id>": "harvest_object_show+/harvest/object",
    f"/api/{_V12}/util/dataset/autocomplete":
        "package_autocomplete+/api/2/util/dataset/autocomplete",
    "/api/util/dataset/autocomplete": "package_autocomplete+/api/2/util/dataset/autocomplete",
    f"/api/{_V12}/util/tag/autocomplete": "tag_list+tag_search+tag_autocomplete",
    "/api/util/tag/autocomplete": "tag_list+tag_search+tag_autocomplete",
    "/feeds/dataset.atom": "feeds",
    "/feeds/custom.atom": "feeds",
    "/feeds/organization/<string:id>.atom": "feeds",
    "/feeds/group/<string:id>.atom": "feeds",
    "/feeds/tag/<string:id>.atom": "feeds",
    "/": "web pages",
    "/dataset/": "web pages",
    "/organization/": "web pages",
    "/organization/<id>": "web pages",
    "/organization/activity/<id>": "web pages",
    "/group/": "web pages",
    "/group/<id>": "web pages",
    "/group/activity/<id>": "web pages",
    "/user/<id>": "web pages",
    "/user/activity/<id>": "web pages",
    "/dashboard/": "web pages",
    "/dashboard/datasets": "web pages",
    "/commune/": "communes: white-label home, widget search, iframe, builder, list",
    "/commune/<name>": "communes: white-label home, widget search, iframe, builder, list",
    "/commune/<name>/widget": "communes: white-label home, widget search, iframe, builder, list",
    "/commune/<name>/widget-builder":
        "communes: white-label home, widget search, iframe, builder, list",
    "/commune/<name>/dataset/<id>": "/commune/<name>/dataset/<id>",
    "/catalog.<_format>": "dcat catalogue",
    "/catalogue.csv": "catalogue csv",
    "/dataset/<_id>.<_format>": "dcat_dataset_show+/dataset/<id>.<format>",
    "/dataset_series/<_id>.<_format>": "dcat_dataset_show+/dataset/<id>.<format>",
    "/dataviz/embed/view/<view_id>": "dataviz_chart_data+embed",
}

RULES_NEEDING_RIGHTS: dict[str, tuple[str, ...]] = {
    "the map builder: logged-in users, a saved map's owners (tests in ckanext-dataviz)": (
        "/dataviz/map/new", "/dataviz/map/<id>/edit", "/dataviz/map/<id>/delete"),
    "dataset, resource and view forms: the dataset's editors": (
        "/dataset/new", "/dataset/edit/<id>", "/dataset/delete/<id>", "/dataset/resources/<id>",
        "/dataset/<id>/resource/new", "/dataset/<id>/resource/<resource_id>/edit",
        "/dataset/<id>/resource/<resource_id>/delete",
        "/dataset/<id>/resource/<resource_id>/new_view",
        "/dataset/<id>/resource/<resource_id>/edit_view/<view_id>",
        "/dataset/<id>/resource/<resource_id>/views",
        "/dataset/<id>/resource/<resource_id>/view",
        "/dataset/<id>/dictionary/<resource_id>", "/dataset/followers/<id>",
        "/dataset/changes_multiple"),
    "organisation and group administration: their admins or editors": (
        "/organization/new", "/organization/edit/<id>", "/organization/delete/<id>",
        "/organization/bulk_process/<id>", "/organization/members/<id>",
        "/organization/manage_members/<id>", "/organization/member_new/<id>",
        "/organization/member_delete/<id>", "/organization/member_dump/<id>",
        "/organization/admins/<id>", "/organization/followers/<id>",
        "/group/new", "/group/edit/<id>", "/group/delete/<id>", "/group/bulk_process/<id>",
        "/group/members/<id>", "/group/manage_members/<id>", "/group/member_new/<id>",
        "/group/member_delete/<id>", "/group/member_dump/<id>", "/group/admins/<id>",
        "/group/followers/<id>"),
    "harvest sources and their jobs: the source's editors": (
        "/harvest/new", "/harvest/edit/<id>", "/harvest/delete/<id>", "/harvest/admin/<id>",
        "/harvest/clear/<id>", "/harvest/refresh/<id>", "/harvest/<source>/job",
        "/harvest/<source>/job/<id>", "/harvest/<source>/job/<id>/abort",
        "/harvest/<source>/job/last", "/harvest/resources/<id>", "/harvest/groups/<id>",
        "/harvest/followers/<id>", "/harvest/<id>/resource/new",
        "/harvest/<id>/resource/<resource_id>/edit",
        "/harvest/<id>/resource/<resource_id>/delete",
        "/harvest/<id>/resource/<resource_id>/new_view",
        "/harvest/<id>/resource/<resource_id>/edit_view/<view_id>",
        "/harvest/<id>/resource/<resource_id>/views"),
    "accounts: the user themself, sysadmins": (
        "/user/edit", "/user/edit/<id>", "/user/delete/<id>", "/user/<id>/api-tokens",
        "/user/<id>/api-tokens/<jti>/revoke", "/user/sysadmin"),
    "two-factor sign-in: the user themself (a pending sign-in's user for verify and enrol), "
    "reset by sysadmins (tests in ckanext-grandlyon-access test_two_factor.py)": (
        "/user/<id>/two-factor", "/user/<id>/two-factor/reset", "/user/two-factor/verify",
        "/user/two-factor/enrol"),
    "site administration: sysadmins": (
        "/ckan-admin/", "/ckan-admin/config", "/ckan-admin/reset_config", "/ckan-admin/trash",
        "/ckan-admin/licence-signatures", "/ckan-admin/licence-signatures/<id>/revoke",
        "/ckan-admin/licences/version",
        "/ckan-admin/access/circles", "/ckan-admin/access/circles/<id>",
        "/ckan-admin/access/log"),
    "history feed form (POST): the dataset's editors (tests in ckanext-history "
    "test_web_history.py)": (
        "/dataset/<id>/resource/<resource_id>/history/feed",
        "/dataset/<id>/resource/<resource_id>/history/feed/delete"),
    "pages and news: their list and forms for sysadmins (tests in ckanext-grandlyon-access "
    "test_editorial.py)": (
        "/ckan-admin/editorial", "/ckan-admin/editorial/new", "/ckan-admin/editorial/<id>/edit",
        "/ckan-admin/editorial/<id>/delete"),
    "access requests and grants (POST): the requester, the dataset's editors or admins "
    "(tests in ckanext-grandlyon-access)": (
        "/dataset/<id>/access/request", "/dataset/<id>/access/request/<request_id>/decide",
        "/dataset/<id>/access/grants", "/dataset/<id>/access/grants/<grant_id>/delete"),
}

RULES_WITHOUT_DATASET_DATA: dict[str, tuple[str, ...]] = {
    "saved map pages and embeds: the layers the viewer may see, no data (features come from "
    "dataviz_map_layer_data; tests in ckanext-dataviz)": (
        "/dataviz/map/<id>", "/dataviz/embed/map/<id>"),
    "site pages, static files, assets, translations, locale redirects": (
        "/about", "/robots.txt", "/<path:filename>", "/webassets/<path:path>", "/api/",
        f"/api/{_V12}/i18n/<lang>", "/api/i18n/<lang>", "/api/<int(min=1, max=3):ver>",
        "/testing/primer", "/util/redirect", "/no/", "/no/<path:path>", "/zh_CN/",
        "/zh_CN/<path:path>", "/zh_TW/", "/zh_TW/<path:path>"),
    "a template snippet rendered from the query string: it reads no dataset": (
        f"/api/{_V12}/util/snippet/<snippet_path>", "/api/util/snippet/<snippet_path>"),
    "autocompletion of users, organisations, groups and formats": (
        f"/api/{_V12}/util/user/autocomplete", "/api/util/user/autocomplete",
        f"/api/{_V12}/util/organization/autocomplete", "/api/util/organization/autocomplete",
        f"/api/{_V12}/util/group/autocomplete", "/api/util/group/autocomplete",
        f"/api/{_V12}/util/resource/format_autocomplete",
        "/api/util/resource/format_autocomplete"),
    "logging in and out, accounts, user lists and follows": (
        "/user/login", "/user/_logout", "/user/logged_out_redirect", "/user/register",
        "/user/reset", "/user/reset/<id>", "/user/me", "/user/", "/user/followers/<id>",
        "/user/follow/<id>", "/user/unfollow/<id>", "/user/<id>/groups",
        "/user/<id>/organizations", "/dashboard/groups", "/dashboard/organizations"),
    "organisations and groups themselves (about pages, follows, their own activity diffs)": (
        "/organization/about/<id>", "/organization/follow/<id>", "/organization/unfollow/<id>",
        "/organization/changes/<id>", "/organization/changes_multiple", "/group/about/<id>",
        "/group/follow/<id>", "/group/unfollow/<id>", "/group/changes/<id>",
        "/group/changes_multiple"),
    "harvest sources: their list and pages (URL, configuration), follows": (
        "/harvest/", "/harvest/<id>", "/harvest/about/<id>", "/harvest/follow/<id>",
        "/harvest/unfollow/<id>", "/harvest/<id>/resource/<resource_id>/view"),
    "pages and news written by sysadmins, their Atom feed; drafts are missing to anyone "
    "but sysadmins (tests in ckanext-grandlyon-access test_editorial.py)": (
        "/pages/", "/pages/<name>", "/news/", "/news/<name>", "/news/feed.atom"),
    "licences: the registry's texts; signing is the user's own": (
        "/licence/", "/licence/<id>", "/licence/mine"),
    "the communes' widget script (a static file)": ("/communes/widget.js",),
}


def _classified(covered: dict[str, str], *groups: dict[str, tuple[str, ...]]) -> set[str]:
    names = set(covered)
    for group in groups:
        for members in group.values():
            names.update(members)
    return names


def test_covered_surfaces_name_matrix_rows():
    rows = set(ITEM_ROWS) | set(LIST_ROWS) | {"every action row"}
    named = set(COVERED_ACTIONS.values()) | set(COVERED_RULES.values())
    assert sorted(named - rows) == []


def test_every_action_is_classified(world):
    logic.get_action("package_show")  # fills the registry after plugins load
    registered = set(logic._actions)
    classified = _classified(COVERED_ACTIONS, NEEDS_RIGHTS, NO_DATASET_DATA)
    assert sorted(registered - classified) == [], "actions missing from the matrix"
    gone = classified - registered - SOMETIMES_REGISTERED
    assert sorted(gone) == [], "classified actions no longer registered"


def test_every_url_rule_is_classified(web):
    rules = {rule.rule for rule in web.flask_app.url_map.iter_rules()}
    classified = _classified(COVERED_RULES, RULES_NEEDING_RIGHTS, RULES_WITHOUT_DATASET_DATA)
    assert sorted(rules - classified) == [], "URL rules missing from the matrix"
    assert sorted(classified - rules) == [], "classified URL rules no longer registered"
