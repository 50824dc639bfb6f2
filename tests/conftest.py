"""Fixtures shared by the cross-extension tests (besides the suite's pytest
plugin, ckanext.grandlyon_access.testing.pytest_plugin: actors, the
five-level world, the live portal, `ckan_ini`)."""

from __future__ import annotations

import os
import subprocess

import pytest
from ckanext.grandlyon_access.testing.pytest_plugin import ckan_bin

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="session")
def ckan_command(ckan_ini):
    """Runs the `ckan` command line of this environment against the test ini.

    Returns a callable taking the command's arguments; it returns the
    CompletedProcess, with stdout and stderr as text.
    """
    def run(*args: str, timeout: int = 180) -> subprocess.CompletedProcess:
        return subprocess.run(
            [ckan_bin(), "-c", ckan_ini, *args],
            capture_output=True, text=True, timeout=timeout, cwd=REPO,
        )

    return run
