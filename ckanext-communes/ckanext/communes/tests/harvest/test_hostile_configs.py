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


# --- one source per remote portal (finding 5) ------------------------------------------------

def test_a_second_source_on_the_same_portal_is_refused(app, commune, token):
    first = create(app, token, commune, "", url="https://Data.Commune.example/", name="first")
    assert first.status_code == 200

    for lang, words in (("en", "Another harvest source already harvests this portal"),
                        ("fr", "Une autre source moissonne déjà ce portail")):
        res = create(app, token, commune, json.dumps({"page_size": 10}), lang=lang,
                     url="https://data.commune.EXAMPLE:443", name=f"second-{lang}")
        assert res.status_code == 409, res.get_data(as_text=True)[:300]
        message = " ".join(res.get_json()["error"]["url"])
        assert words in message and '"A source"' in message.replace("« ", '"').replace(
            " »", '"'), message
    # Another type of this extension on the same portal: refused as well.
    res = create(app, token, commune, json.dumps({"remote_organization": "x"}),
                 source_type="udata", url="https://data.commune.example", name="third")
    assert res.status_code == 409

    # Another portal (or path) is accepted; moving it onto the first portal is refused.
    other = create(app, token, commune, "", url="https://data.commune.example/other",
                   name="other")
    assert other.status_code == 200
    res = app.post("/api/3/action/harvest_source_patch", headers={"Authorization": token},
                   json={"id": other.get_json()["result"]["id"],
                         "url": "https://data.commune.example"})
    assert res.status_code == 409 and "url" in res.get_json()["error"]
    # Saving the first source again is not a duplicate of itself.
    res = app.post("/api/3/action/harvest_source_patch", headers={"Authorization": token},
                   json={"id": first.get_json()["result"]["id"], "title": "Renamed"})
    assert res.status_code == 200, res.get_data(as_text=True)[:300]


# --- one waiting job per source (finding 6) --------------------------------------------------

def test_a_second_job_on_a_waiting_source_is_a_409_in_the_readers_language(app, commune,
                                                                         token):
    source = create(app, token, commune, "").get_json()["result"]

    def job(lang):
        return app.post(f"/{lang}/api/3/action/harvest_job_create",
                        headers={"Authorization": token},
                        json={"source_id": source["id"], "run": False})

    assert job("en").status_code == 200
    for lang, words in (("en", "A job is already waiting or running for this harvest source"),
                        ("fr", "Une moisson attend déjà ou est en cours pour cette source")):
        res = job(lang)
        assert res.status_code == 409, res.get_data(as_text=True)[:300]
        assert words in " ".join(res.get_json()["error"]["source_id"])
