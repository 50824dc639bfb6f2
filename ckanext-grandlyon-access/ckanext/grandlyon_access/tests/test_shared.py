"""The facade other extensions use (shared.py): the data-read check with its
one fallback, the read record, the access status, the outbound client."""

from __future__ import annotations

import ckan.model as model
import ckan.plugins as plugins
import pytest
from ckan.plugins import toolkit as tk

from ckanext.grandlyon_access import shared as access
from ckanext.grandlyon_access.model import AccessLog


def context_of(name: str = "") -> dict:
    return {"user": name, "auth_user_obj": model.User.get(name) if name else None}


def test_the_facade_names_what_it_offers():
    assert set(access.__all__) <= set(dir(access))
    assert access.ACCESS_LEVELS == ("open", "licensed", "restricted")
    assert access.fetch is not None and issubclass(access.OutboundError, Exception)


def test_open_data_is_read_by_anyone(world):
    resource = access.check_data_read(context_of(), world.datasets["open"]["file_id"])
    assert resource.id == world.datasets["open"]["file_id"]


def test_gated_data_of_a_visible_dataset_is_forbidden(world):
    with pytest.raises(tk.NotAuthorized):
        access.check_data_read(context_of(world.outsider.name),
                               world.datasets["restricted"]["file_id"])


@pytest.mark.parametrize("resource", ["hidden", "missing", "nul", "empty"])
def test_a_hidden_or_missing_resource_is_not_found(world, resource):
    resource_id = {"hidden": world.datasets["hidden"]["file_id"], "missing": "no-such-id",
                   "nul": "a\x00b", "empty": ""}[resource]
    with pytest.raises(tk.ObjectNotFound):
        access.check_data_read(context_of(world.outsider.name), resource_id)


def test_the_owning_organisation_reads_gated_data(world):
    access.check_data_read(context_of(world.editor.name), world.datasets["hidden"]["file_id"])


def test_the_status_says_what_to_do(world):
    status = access.access_status(context_of(), world.datasets["restricted"]["id"])
    assert status["data"] is False and status["next_step"] == "login"


def test_a_gated_read_is_recorded_and_an_open_one_is_not(world):
    def count() -> int:
        return model.Session.query(AccessLog).count()

    before = count()
    access.record_data_read(context_of(world.grantee.name), world.datasets["open"]["file_id"],
                            "chart")
    assert count() == before
    access.record_data_read(context_of(world.editor.name),
                            world.datasets["restricted"]["file_id"], "chart")
    assert count() == before + 1


def test_without_the_access_plugin_package_show_decides(world):
    """The one fallback: the distribution installed, the plugin off."""
    plugins.unload("grandlyon_access")
    try:
        assert not access.access_plugin_loaded()
        restricted = world.datasets["restricted"]["file_id"]
        assert access.check_data_read(context_of(), restricted).id == restricted
        assert access.access_status(context_of(), world.datasets["restricted"]["id"])["data"]
    finally:
        plugins.load("grandlyon_access")
    assert access.access_plugin_loaded()
