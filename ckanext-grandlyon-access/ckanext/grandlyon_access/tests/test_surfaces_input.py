"""The CKAN actions the access plugin wraps never send an id that is not
text to the database before CKAN's own validation reads it.

Found by CKAN's own tests run with the suite on (`./portal test-ckan`:
TestFollowCommon::test_validation, TestPackageActivityList::
test_error_bad_search): `follow_dataset` with `id=3` and
`package_activity_list` with `id=<a function>` reached PostgreSQL through
the policy's dataset lookup ("operator does not exist: text = integer")
where CKAN answers a validation error.
"""

from __future__ import annotations

import traceback

import pytest
import sqlalchemy.exc
from ckan.tests import helpers
from ckanext.grandlyon_access.logic import surfaces
from ckanext.grandlyon_access.testing.pytest_plugin import make_actor

WRAPPED = sorted(name for area in surfaces.AREAS for name in area.ACTIONS)
NOT_TEXT = [3, ["x"], {"a": 1}, True, id, "x\x00y"]
SUITE = "/ckanext/grandlyon_access/"
CKAN_ACTIONS = ("/ckan/logic/", "/ckanext/datastore/logic/", "/ckanext/activity/logic/",
                "/ckanext/harvest/logic/")


@pytest.fixture(scope="module")
def user(portal_for_module):
    return make_actor()


def test_the_wrapped_actions_are_found():
    assert {"follow_dataset", "package_show", "package_activity_list",
            "datastore_search"} <= set(WRAPPED)


@pytest.mark.parametrize("action", WRAPPED)
def test_an_id_that_is_not_text_does_not_reach_the_database_through_the_suite(user, action):
    wrong = []
    for value in NOT_TEXT:
        try:
            helpers.call_action(action, context={"user": user.name}, id=value,
                                resource_id=value)
        except sqlalchemy.exc.StatementError as error:
            # Wrong when the suite's code is the last to act before the
            # database; CKAN's own action looking a bad id up fails so on
            # stock CKAN too.
            frames = [f.filename for f in traceback.extract_tb(error.__traceback__)]
            last_suite = max(i for i, f in enumerate(frames) if SUITE in f)
            if not any(part in f for f in frames[last_suite + 1:] for part in CKAN_ACTIONS):
                wrong.append((value, str(error.orig)[:80]))
        except Exception:  # noqa: BLE001  (CKAN's answers: validation, missing, denied)
            pass
        finally:
            helpers.model.Session.rollback()
    assert wrong == []
