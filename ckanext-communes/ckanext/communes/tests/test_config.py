from __future__ import annotations

import pytest

from ckanext.communes import config


def test_territory_is_empty_by_default():
    assert config.territory() == ""


@pytest.mark.ckan_config("ckanext.communes.territory", "Métropole d'Exemple")
def test_territory_is_read_from_the_config():
    assert config.territory() == "Métropole d'Exemple"
