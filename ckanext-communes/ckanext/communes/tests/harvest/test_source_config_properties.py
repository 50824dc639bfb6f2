"""Property-based tests of harvest source configurations over the API: any
JSON (or not JSON) config, with empty and NUL-bearing strings, huge and
non-finite numbers, keys known and unknown, is either accepted (and the
source then shows) or refused with a 409 on `config` naming the key (a 400
when the request holds a NUL character: the portal's input guard); never
a 500."""

from __future__ import annotations

import itertools
import json

import pytest
from ckan.tests import factories
from ckanext.communes.harvesters.base import COMMON_KEYS
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.ckan_config("ckanext.grandlyon_access.outbound.allow", "127.0.0.1")

KEYS = sorted(COMMON_KEYS) + ["where", "remote_organization", "fq", "zone_names",
                              "organization", "title", "owner_org", "resources", ""]
texts = st.text(alphabet=st.characters(codec="utf-8"), max_size=12) | st.sampled_from(
    ["", "\x00", "lo-2.0", "open", "restricted", "delete", "groups", "20%", "\x00lo-2.0"])
scalars = (st.none() | st.booleans() | texts
           | st.integers(min_value=-(10 ** 30), max_value=10 ** 30)
           | st.sampled_from([0, 1, 100, 1000, 10 ** 400])
           | st.floats(allow_nan=True, allow_infinity=True))
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3)
                      | st.dictionaries(texts | st.sampled_from(KEYS), inner, max_size=3),
                      max_leaves=8)
configs = (st.dictionaries(st.sampled_from(KEYS) | texts, values, max_size=4).map(json.dumps)
           | values.map(json.dumps)
           | st.sampled_from(["", "{", "[]", "null", '{"page_size": 1e999}', "{\x00}",
                              '{"where": "\\u0000"}', '{"remote_organization": "\\u0000"}']))

NAMES = itertools.count()


@pytest.fixture
def api(app, commune):
    token = factories.APIToken(user=factories.Sysadmin()["name"])["token"]
    return app, {"Authorization": token}, commune


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture,
                                 HealthCheck.too_slow])
@given(source_type=st.sampled_from(["opendatasoft", "udata", "communes_ckan"]), config=configs)
def test_any_config_is_accepted_or_a_409_naming_the_key(api, source_type, config):
    app, headers, commune = api
    name = f"prop-{next(NAMES)}"
    res = app.post("/api/3/action/harvest_source_create", headers=headers, json={
        "name": name, "title": "Source", "url": f"https://example.org/{name}",
        "source_type": source_type, "owner_org": commune["id"], "config": config})

    if "\x00" in config:
        # The portal's input guard refuses a NUL character in any request.
        assert res.status_code == 400, (res.status_code, config)
        return
    assert res.status_code in (200, 409), (res.status_code, config)
    if res.status_code == 409:
        error = res.get_json()["error"]
        assert set(error) - {"__type", "message"} == {"config"}, error
        message = " ".join(error["config"])
        try:
            parsed = json.loads(config) if config else None
        except ValueError:
            parsed = None
        if isinstance(parsed, dict) and parsed:
            assert any(f"{key[:100]}" in message for key in parsed), (message, config)
        return
    shown = app.get(f"/api/3/action/harvest_source_show?id={name}", headers=headers)
    assert shown.status_code == 200
    assert shown.get_json()["result"]["organization"]["id"] == commune["id"]
    assert app.get(f"/harvest/{name}", headers=headers).status_code == 200
