"""Fixtures shared by the cross-extension tests."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="session")
def ckan_ini(request) -> str:
    """Absolute path of the ini file the test session runs with."""
    return os.path.abspath(request.config.getoption("--ckan-ini"))


@pytest.fixture(scope="session")
def ckan_command(ckan_ini):
    """Runs the `ckan` command line of this environment against the test ini.

    Returns a callable taking the command's arguments; it returns the
    CompletedProcess, with stdout and stderr as text.
    """
    ckan = os.path.join(os.path.dirname(sys.executable), "ckan")

    def run(*args: str, timeout: int = 180) -> subprocess.CompletedProcess:
        return subprocess.run(
            [ckan, "-c", ckan_ini, *args],
            capture_output=True, text=True, timeout=timeout, cwd=REPO,
        )

    return run
