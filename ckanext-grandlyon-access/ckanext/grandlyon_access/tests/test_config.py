from __future__ import annotations

import pytest

from ckanext.grandlyon_access import config


def test_default_level_is_open():
    assert config.default_level() == "open"


@pytest.mark.ckan_config("ckanext.grandlyon_access.default_level", "restricted")
def test_default_level_is_read_from_the_config():
    assert config.default_level() == "restricted"
