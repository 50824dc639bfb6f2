"""The known-failures file of `./portal test-ckan` stays readable: one test a
line, each with its reason, none twice (the run itself is `./portal
test-ckan`, not part of `./portal test`)."""

from __future__ import annotations

import importlib.util
import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))


def _harness():
    spec = importlib.util.spec_from_file_location(
        "ckan_core_harness_under_test", os.path.join(HERE, "ckan_core_harness.py"))
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclass looks itself up there
    spec.loader.exec_module(module)
    return module


harness = _harness()


def test_every_line_names_a_test_of_the_three_folders_once_with_a_reason():
    known = harness.read_known_failures()
    assert known
    patterns = [failure.pattern for failure in known]
    assert len(patterns) == len(set(patterns))
    folders = ("ckan/tests/logic/action/", "ckanext/datastore/tests/", "ckanext/activity/tests/")
    for failure in known:
        assert failure.pattern.startswith(folders), failure.line
        assert "::" in failure.pattern, failure.line
        assert len(failure.reason) > 20, failure.line


def test_a_line_without_a_reason_is_refused(tmp_path):
    path = tmp_path / "known.txt"
    path.write_text("# a comment\n\nckan/tests/logic/action/test_get.py::test_x\n")
    with pytest.raises(pytest.UsageError, match="known.txt:3"):
        harness.read_known_failures(str(path))


def test_star_matches_any_text_and_brackets_are_plain():
    failure = harness.KnownFailure("ckan/tests/x.py::TestA::test_b[*]", "a reason here", 1)
    assert failure.regex.match("ckan/tests/x.py::TestA::test_b[organization]")
    assert not failure.regex.match("ckan/tests/x.py::TestA::test_bc")
    exact = harness.KnownFailure("ckan/tests/x.py::test_b", "a reason here", 2)
    assert not exact.regex.match("ckan/tests/x.py::test_b_more")


def test_the_xfail_reason_names_the_decision_and_what_makes_the_test_run():
    reason = harness.xfail_reason("the schema requires an organisation")
    assert "the schema requires an organisation" in reason
    assert "runs again when that decision changes" in reason
    assert "known-failures.txt" in reason
