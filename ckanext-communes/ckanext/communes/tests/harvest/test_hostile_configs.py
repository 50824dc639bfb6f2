"""Hostile source configurations and duplicate sources: refused with a 409
naming the key (or saying the configuration is not valid JSON), never a
503 from the search index nor a message of Python's internals."""

from __future__ import annotations

import json
from typing import Any

import pytest
from ckan.tests import factories

pytestmark = pytest.mark.ckan_config("ckanext.grandlyon_access.outbound.allow", "127.0.0.1")

INTERNALS = ("maximum recursion", "4300 digits", "must be str, bytes", "Traceback", "Solr",
             "search service")


@pytest.fixture
def token():
    return factories.APIToken(user=factories.Sysadmin()["name"])["token"]


def create(app, token, commune, config: Any, source_type: str = "opendatasoft",
           url: str = "https://example.org/", name: str = "a-source", lang: str = "en"):
    return app.post(f"/{lang}/api/3/action/harvest_source_create",
                    headers={"Authorization": token, "Accept-Language": lang},
                    json={"name": name, "title": "A source", "url": url,
                          "source_type": source_type, "owner_org": commune["id"],
                          "config": config})


@pytest.mark.parametrize("config,words", [
    (json.dumps({"where": "x" * 40000}), ('"where" is too long', "at most 2048")),
    (json.dumps({"where": "x" * 2049}), ('"where" is too long',)),
    (json.dumps({"where": "a\u0000b"}), ('"where" must not contain NUL',)),
    (json.dumps({"licences": {"x" * 3000: "lo-2.0"}}), ('"licences.xxx', 'is too long')),
    (json.dumps({"where": "w" * 2000, "licences": {k * 2000: "lo-2.0" for k in "abcd"}}),
     ("The configuration is too large", "at most 8192")),
    ("[" * 5000, ("not valid JSON", "nested too deeply")),
    ('{"page_size": 1' + "0" * 5000 + "}", ("not valid JSON", "number is too long")),
    ({"page_size": 10}, ("must be JSON text",)),
    ('{"page_size": 1e400}', ('"page_size" is not a finite number',)),
])
def test_a_hostile_config_is_refused_naming_the_key(app, commune, token, config, words):
    res = create(app, token, commune, config)

    assert res.status_code == 409, res.get_data(as_text=True)[:300]
    message = str(res.get_json()["error"]["config"])
    assert all(word in message for word in words), message
    assert not any(word in message for word in INTERNALS), message


def test_a_hostile_config_is_refused_in_french(app, commune, token):
    res = create(app, token, commune, json.dumps({"where": "x" * 40000}), lang="fr")

    assert res.status_code == 409
    message = str(res.get_json()["error"]["config"])
    assert "« where » est trop long (40000 caractères ; au plus 2048)" in message, message
