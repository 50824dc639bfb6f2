"""Every auth function of the history plugin through CKAN's `call_auth`, as
CKAN's own tests check theirs: reading a history is reading the data (the
access policy's table), writing a feed is editing the dataset. The HTTP
matrix (test_query_access, test_feed_actions) checks the actions' answers;
these check the decisions themselves."""

from __future__ import annotations

import pytest
from ckanext.grandlyon_access.testing.pytest_plugin import auth_allows, auth_context
from ckanext.history.logic import auth

from .feed_world import ACCESS, EDITORS, LEVELS, World

READS = ("history_query", "history_snapshot", "history_show", "history_feed_show")
WRITES = ("history_feed_create", "history_feed_update", "history_feed_delete")
COUNTS = ("history_feed_count",)
COVERED = READS + WRITES + COUNTS  # read by tests/test_auth_coverage.py


@pytest.fixture(scope="module")
def world(portal_for_module):
    """One world for the module: auth checks write nothing."""
    return World()


def allowed(name: str, who: str, world: World, resource_id: str) -> bool:
    return auth_allows(name, auth_context(world.actors[who].name or ""),
                       resource_id=resource_id)


def test_the_suite_defines_these_auth_functions_and_no_other():
    assert sorted(auth.get_auth_functions()) == sorted(READS + WRITES + COUNTS)


def test_anyone_counts_the_feeds_of_what_they_see(world):
    """The count itself keeps to what the caller sees (the access matrix's
    row `history_feed_count`)."""
    assert all(auth_allows("history_feed_count", auth_context(world.actors[who].name or ""))
               for who in ACCESS)


@pytest.mark.parametrize("name", READS)
def test_reading_a_history_is_reading_the_data(world, name):
    wrong = [(who, level) for who, levels in ACCESS.items() for level in LEVELS
             if allowed(name, who, world, world.rid(level)) != (levels[level] == "D")]
    assert wrong == []


@pytest.mark.parametrize("name", WRITES)
def test_writing_a_feed_is_editing_the_dataset(world, name):
    wrong = [(who, level) for who in ACCESS for level in LEVELS
             if allowed(name, who, world, world.rid(level)) != (who in EDITORS)]
    assert wrong == []


@pytest.mark.parametrize("name", READS + WRITES)
def test_a_missing_or_malformed_resource_is_refused(world, name):
    for resource_id in ("", "no-such-resource", "a\x00b", None):
        assert not allowed(name, "editor", world, resource_id)
