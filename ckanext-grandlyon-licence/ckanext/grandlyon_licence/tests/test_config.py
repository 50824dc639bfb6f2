from __future__ import annotations

import os

import pytest
from ckanext.grandlyon_licence import config


def test_registry_points_at_the_portal_licences_file():
    # config/portal.ini names the licence registry next to it.
    assert os.path.basename(config.registry_path()) == "licences.yaml"
    assert os.path.isfile(config.registry_path())


@pytest.mark.ckan_config("ckanext.grandlyon_licence.registry", "")
def test_registry_may_be_left_empty():
    assert config.registry_path() == ""
