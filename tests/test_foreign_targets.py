"""Pages that CKAN answers badly for forged input, with the suite on.

- Where to go after logging in, out or signing (`came_from`, `next`): CKAN's
  `url_is_local` accepts `/\\evil.example`, which browsers follow to another
  site. Only paths of the portal are followed, on CKAN's login and logout and
  on the licence page.
- CKAN's activity pages answer 500 for ids that do not belong together
  (`/dataset/<id>/resources/<rid>/history/<activity id>`,
  `/dataset/changes_multiple?new_id=&old_id=`): they answer 404.
"""

from __future__ import annotations

import uuid
from urllib.parse import quote

import ckan.model as model
import ckan.plugins as plugins
import ckan.plugins.toolkit as tk
import pytest
from ckan.tests import factories
from ckanext.activity.model import Activity
from ckanext.grandlyon_access.site.inputguard import is_same_site
from ckanext.grandlyon_licence.tests.conftest import MOBILITES_DETAILS, csrf_token

PASSWORD = "Correct-Horse-42"
FOREIGN = [
    "/\\evil.example.org", "/\\/evil.example.org", "\\\\evil.example.org", "//evil.example.org",
    "https://evil.example.org/", "/\t/evil.example.org", "/\n/evil.example.org",
    "javascript:alert(1)", "/ /evil.example.org", "http:/\\evil.example.org",
]


@pytest.mark.parametrize("target", FOREIGN)
def test_a_target_off_the_portal_is_not_same_site(target):
    assert not is_same_site(target)


@pytest.mark.parametrize("target", ["/dataset/x?q=1", "/fr/licence/mobilites", "/"])
def test_a_path_of_the_portal_is_same_site(target):
    assert is_same_site(target)


def test_an_absolute_url_of_the_portal_is_same_site():
    assert is_same_site(tk.config["ckan.site_url"].rstrip("/") + "/dataset/x")


@pytest.fixture(scope="module")
def people(reset_portal_db, reset_index):
    plugins.load_all()
    reset_portal_db()
    reset_index()
    user = factories.User(password=PASSWORD)
    org = factories.Organization(users=[{"name": user["name"], "capacity": "admin"}])
    first = factories.Dataset(owner_org=org["id"], resources=[{"url": "https://x.example/a.csv"}])
    other = factories.Dataset(owner_org=org["id"], resources=[{"url": "https://x.example/b.csv"}])
    context = {"user": user["name"], "ignore_auth": True}
    tk.get_action("package_patch")(context, {"id": first["id"], "notes": "changed once"})
    tk.get_action("package_patch")(context, {"id": first["id"], "notes": "changed twice"})
    tk.get_action("package_patch")(context, {"id": other["id"], "notes": "changed"})
    group = tk.get_action("group_create")(dict(context), {"name": "themes-x"})

    def activities(object_id: str) -> list[dict]:
        return tk.get_action("package_activity_list")({"ignore_auth": True}, {"id": object_id})

    hidden = factories.Dataset(owner_org=org["id"], access_level="restricted",
                               access_hidden="true", license_id="lo-2.0")
    tk.get_action("package_patch")(context, {"id": hidden["id"], "notes": "secret change"})
    sysadmin = factories.Sysadmin(password=PASSWORD)
    source = tk.get_action("harvest_source_create")(
        {"user": sysadmin["name"], "ignore_auth": True},
        {"name": "portail-commune", "title": "Portail", "url": "https://portail.example.org",
         "source_type": "opendatasoft", "owner_org": org["id"], "frequency": "MANUAL"})
    group_activity = tk.get_action("group_activity_list")({"ignore_auth": True},
                                                          {"id": group["id"]})[0]
    yield {"user": user, "first": first, "other": other, "group_activity": group_activity,
           "first_activities": activities(first["id"]),
           "other_activities": activities(other["id"]),
           "hidden_activities": [{"id": a.id} for a in model.Session.query(Activity)
                                 .filter_by(object_id=hidden["id"])
                                 .order_by(Activity.timestamp.desc())], "org": org,
           "sysadmin": sysadmin, "source": source}
    plugins.unload_all()


@pytest.fixture(autouse=True)
def _portal_plugins(people):
    """The module loads the configured plugins once, with its people."""


@pytest.mark.parametrize("target", FOREIGN[:4])
def test_logging_in_never_sends_the_user_to_another_site(app, people, target):
    client = app.test_client()
    res = client.post(f"/user/login?came_from={quote(target)}",
                      data={"login": people["user"]["name"], "password": PASSWORD},
                      follow_redirects=False)
    assert res.status_code == 302
    location = res.headers["Location"]
    assert "evil" not in location and location.startswith(("/", tk.config["ckan.site_url"]))


def test_logging_in_still_goes_back_to_a_page_of_the_portal(app, people):
    client = app.test_client()
    res = client.post("/user/login?came_from=/dataset/", follow_redirects=False,
                      data={"login": people["user"]["name"], "password": PASSWORD})
    assert res.status_code == 302 and res.headers["Location"].endswith("/dataset/")


@pytest.mark.parametrize("target", FOREIGN[:4])
def test_logging_out_never_sends_the_user_to_another_site(app, people, target):
    client = app.test_client()
    client.post("/user/login", data={"login": people["user"]["name"], "password": PASSWORD})
    res = client.get(f"/user/_logout?came_from={quote(target)}", follow_redirects=False)
    assert res.status_code == 302 and "evil" not in res.headers["Location"]


@pytest.mark.parametrize("target", FOREIGN[:4])
def test_signing_a_licence_never_sends_the_signer_to_another_site(app, people, target):
    signer = factories.User(password=PASSWORD)
    client = app.test_client()
    client.post("/user/login", data={"login": signer["name"], "password": PASSWORD})
    page = client.get(f"/licence/mobilites?came_from={quote(target)}").get_data(as_text=True)
    assert 'name="version"' in page and 'name="came_from"' not in page
    res = client.post("/licence/mobilites", follow_redirects=False, data={
        "version": "1.0", "accept": "1", "came_from": target, "_csrf_token": csrf_token(page),
        **MOBILITES_DETAILS})
    assert res.status_code == 302 and res.headers["Location"].endswith("/licence/mobilites")


def test_a_resource_history_of_another_dataset_is_not_found(app, people):
    resource_id = people["first"]["resources"][0]["id"]
    foreign = people["other_activities"][0]["id"]
    res = app.get(f"/dataset/{people['first']['id']}/resources/{resource_id}/history/{foreign}")
    assert res.status_code == 404


@pytest.mark.parametrize("activity", ["group", "missing", "nul"])
def test_a_resource_history_with_a_wrong_activity_is_not_found(app, people, activity):
    activity_id = {"group": people["group_activity"]["id"], "missing": str(uuid.uuid4()),
                   "nul": "%00"}[activity]
    resource_id = people["first"]["resources"][0]["id"]
    res = app.get(f"/dataset/{people['first']['name']}/resources/{resource_id}/history/"
                  f"{activity_id}")
    assert res.status_code in (400, 404)


def test_a_resource_history_of_the_dataset_still_shows(app, people):
    resource_id = people["first"]["resources"][0]["id"]
    own = people["first_activities"][0]["id"]
    res = app.get(f"/dataset/{people['first']['name']}/resources/{resource_id}/history/{own}")
    assert res.status_code == 200


@pytest.mark.parametrize("pair", ["two-datasets", "missing-new", "missing-old", "none", "group",
                                  "reversed-without-current"])
def test_changes_of_activities_that_do_not_belong_together_are_not_found(app, people, pair):
    first, other = people["first_activities"], people["other_activities"]
    query = {
        "two-datasets": f"new_id={first[0]['id']}&old_id={other[-1]['id']}",
        "missing-new": f"new_id={uuid.uuid4()}&old_id={first[-1]['id']}",
        "missing-old": f"new_id={first[0]['id']}&old_id={uuid.uuid4()}",
        "none": "",
        "group": f"new_id={people['group_activity']['id']}&old_id={first[-1]['id']}",
        "reversed-without-current": f"new_id={first[-1]['id']}&old_id={first[0]['id']}",
    }[pair]
    assert app.get(f"/dataset/changes_multiple?{query}").status_code == 404


def test_changes_between_two_activities_of_a_dataset_still_show(app, people):
    first = people["first_activities"]
    client = app.test_client()
    client.post("/user/login", data={"login": people["user"]["name"], "password": PASSWORD})
    res = client.get(f"/dataset/changes_multiple?new_id={first[0]['id']}&old_id={first[-1]['id']}")
    assert res.status_code == 200 and "changed twice" in res.get_data(as_text=True)


def test_changes_of_a_dataset_the_user_may_not_see_are_not_found(app, people):
    hidden = people["hidden_activities"]
    res = app.get(f"/dataset/changes_multiple?new_id={hidden[0]['id']}&old_id={hidden[-1]['id']}")
    assert res.status_code == 404


def test_changes_of_an_organisation_and_a_dataset_are_not_found(app, people):
    org_activity = tk.get_action("organization_activity_list")(
        {"ignore_auth": True}, {"id": people["org"]["id"]})[0]
    query = f"new_id={org_activity['id']}&old_id={people['hidden_activities'][-1]['id']}"
    assert app.get(f"/organization/changes_multiple?{query}").status_code == 404
    assert app.get(f"/group/changes_multiple?{query}").status_code == 404


@pytest.mark.parametrize("value", ["99999999999999999999", "-5", "abc", "nan", "1e400"])
def test_an_activity_page_refuses_times_no_date_holds(app, people, value):
    res = app.get(f"/dataset/activity/{people['first']['name']}?after={value}")
    assert res.status_code == 400 and "after" in res.get_data(as_text=True)


def test_an_activity_page_pages_by_time(app, people):
    res = app.get(f"/dataset/activity/{people['first']['name']}?after=1700000000")
    assert res.status_code == 200


# --- links of ckanext-harvest that change data --------------------------------------------

def sysadmin_client(app, people):
    client = app.test_client()
    client.post("/user/login", data={"login": people["sysadmin"]["name"], "password": PASSWORD})
    return client


def source_state(people) -> str:
    return model.Session.query(model.Package.state).filter_by(
        id=people["source"]["id"]).scalar()


@pytest.mark.parametrize("route", ["delete/{id}", "delete/{id}?clear=True", "clear/{id}",
                                   "refresh/{id}"])
def test_a_harvest_link_opened_from_elsewhere_changes_nothing(app, people, route):
    client = sysadmin_client(app, people)
    url = "/harvest/" + route.format(id=people["source"]["id"])
    res = client.get(url, headers={"Referer": "https://evil.example.org/"})
    page = res.get_data(as_text=True)
    assert res.status_code == 200 and 'method="post"' in page and "_csrf_token" in page
    assert source_state(people) == "active"
    assert tk.get_action("harvest_job_list")(
        {"ignore_auth": True}, {"source_id": people["source"]["id"]}) == []
    # A forged form without the session's token is refused.
    assert client.post(url).status_code == 400
    assert source_state(people) == "active"


def test_the_confirmation_form_does_what_the_link_said(app, people):
    client = sysadmin_client(app, people)
    url = f"/harvest/refresh/{people['source']['id']}"
    page = client.get(url).get_data(as_text=True)
    res = client.post(url, data={"_csrf_token": csrf_token(page)}, follow_redirects=False)
    assert res.status_code == 302
    jobs = tk.get_action("harvest_job_list")({"ignore_auth": True},
                                             {"source_id": people["source"]["id"]})
    assert len(jobs) == 1
