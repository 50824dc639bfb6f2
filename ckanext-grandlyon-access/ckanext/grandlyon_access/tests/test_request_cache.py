"""The user's grants and labels are computed once per reading request
(policy.cached_per_request): a request that may write sees its own changes,
and the next request sees every change."""

from __future__ import annotations

import contextlib

import ckan.model as model
from ckan.tests import helpers

from ckanext.grandlyon_access import policy


@contextlib.contextmanager
def web_request(app, path: str, method: str):
    """A request context as the web server makes one: its before_request
    hooks have run (the cache starts there)."""
    with app.flask_app.test_request_context(path, method=method):
        app.flask_app.preprocess_request()
        yield


def _grant(world) -> None:
    helpers.call_action("grandlyon_access_grant_create", context={"user": world.sysadmin.name},
                        package_id=world.datasets["restricted"]["id"], user=world.outsider.name)


def test_a_reading_request_keeps_its_first_answer(world, app):
    ds = world.datasets["restricted"]["id"]
    with web_request(app, "/dataset/x", "GET"):
        assert not policy.has_active_grant(world.outsider.id, ds)
        _grant(world)
        assert not policy.has_active_grant(world.outsider.id, ds)  # the same request
    with web_request(app, "/dataset/x", "GET"):
        assert policy.has_active_grant(world.outsider.id, ds)  # the next one


def test_a_writing_request_sees_its_own_grant(world, app):
    ds = world.datasets["restricted"]["id"]
    with web_request(app, "/api/3/action/x", "POST"):
        assert not policy.has_active_grant(world.outsider.id, ds)
        _grant(world)
        assert policy.has_active_grant(world.outsider.id, ds)


def test_the_cache_is_per_user(world, app):
    ds = world.datasets["restricted"]["id"]
    _grant(world)
    with web_request(app, "/dataset/x", "GET"):
        assert policy.has_active_grant(world.outsider.id, ds)
        assert not policy.has_active_grant(world.member.id, ds)
        outsider = model.User.get(world.outsider.name)
        member = model.User.get(world.member.name)
        from ckan.lib.plugins import get_permission_labels
        assert (policy.GRANTEE_LABEL.format(ds)
                in get_permission_labels().get_user_dataset_labels(outsider))
        assert (policy.GRANTEE_LABEL.format(ds)
                not in get_permission_labels().get_user_dataset_labels(member))


def test_a_gated_download_is_logged_even_when_the_request_fails_later(world, app):
    """The access log is written on a connection of its own."""
    from ckanext.grandlyon_access.model import AccessLog

    _grant(world)
    res = world.datasets["restricted"]["resources"][0]["id"]
    app.get(f"/dataset/ds-restricted/resource/{res}/download", headers=world.outsider.headers,
            follow_redirects=False)
    model.Session.rollback()
    rows = model.Session.query(AccessLog).filter(AccessLog.resource_id == res).all()
    assert [(r.user_id, r.surface) for r in rows] == [(world.outsider.id, "download")]


def test_datasets_and_resources_are_looked_up_once_per_reading_request(world, app):
    ds = world.datasets["restricted"]
    res = ds["resources"][0]["id"]
    with web_request(app, "/dataset/x", "GET"):
        by_name = policy.package_by_ref("ds-restricted")
        assert by_name.id == ds["id"]
        assert policy.package_by_ref("ds-restricted") is by_name
        assert policy.package_of({"resource_id": res}).id == ds["id"]
        assert policy.package_by_ref("no-such-dataset") is None
        helpers.call_action("package_create", context={"user": world.sysadmin.name},
                            name="no-such-dataset", owner_org=ds["owner_org"])
        assert policy.package_by_ref("no-such-dataset") is None  # the same request
    with web_request(app, "/api/3/action/x", "POST"):
        assert policy.package_by_ref("no-such-dataset").name == "no-such-dataset"


def test_managers_are_still_found_through_their_labels(world, app):
    """The manager check is skipped only for users with no role in the
    owning organisation."""
    package = model.Package.get("ds-restricted")
    for who, manages in ((world.editor, True), (world.member, False), (world.outsider, False)):
        with web_request(app, "/dataset/x", "GET"):
            user = model.User.get(who.name)
            assert policy._manages(user, package) is manages, who.name


def test_a_request_context_without_the_web_hooks_keeps_nothing(world, app):
    """ckanext-harvest's command-line jobs run in a GET request context of
    their own, for the whole job: nothing is kept there."""
    ds = world.datasets["restricted"]["id"]
    with app.flask_app.test_request_context("/", method="GET"):
        assert not policy.has_active_grant(world.outsider.id, ds)
        assert policy.package_by_ref("created-later") is None
        _grant(world)
        helpers.call_action("package_create", context={"user": world.sysadmin.name},
                            name="created-later", owner_org=world.datasets["restricted"]["owner_org"])
        assert policy.has_active_grant(world.outsider.id, ds)
        assert policy.package_by_ref("created-later").name == "created-later"
