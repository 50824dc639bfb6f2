from __future__ import annotations

import pytest

from ckanext.dataviz import config


def test_basemap_is_blank_by_default():
    assert config.basemap_tile_url() == ""
    assert config.basemap_attribution() == ""


@pytest.mark.ckan_config("ckanext.dataviz.basemap.tile_url", "http://tiles.intranet/{z}/{x}/{y}.png")
@pytest.mark.ckan_config("ckanext.dataviz.basemap.attribution", "Tiles: intranet")
def test_basemap_is_read_from_the_config():
    assert config.basemap_tile_url() == "http://tiles.intranet/{z}/{x}/{y}.png"
    assert config.basemap_attribution() == "Tiles: intranet"
