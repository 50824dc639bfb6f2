from __future__ import annotations

import os

import pytest

from ckanext.history import config


def test_archive_defaults_to_a_folder_in_the_storage_path(ckan_config):
    assert config.archive_path() == os.path.join(ckan_config["ckan.storage_path"], "history")


@pytest.mark.ckan_config("ckanext.history.archive.path", "s3://archive/history")
def test_archive_path_is_read_from_the_config():
    assert config.archive_path() == "s3://archive/history"


def test_hot_retention_is_an_integer_with_a_default():
    assert config.hot_retention_days() == 35
