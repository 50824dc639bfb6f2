"""Saved maps: validation (errors name the field), who edits them (owners:
the organisation's editors and admins, the owning user, sysadmins), what a
viewer sees of their layers (no data, no id of a dataset they may not see),
the list on a dataset page, the map page, its embed, and the view form."""

from __future__ import annotations

import html
import json
import re

import pytest
from ckan.tests import helpers

from ckanext.dataviz.logic import schema
from ckanext.dataviz.tests import test_map_world as world_module
from ckanext.dataviz.tests.test_map_world import api

map_world = world_module.map_world

ValidationError = helpers.logic.ValidationError
NotAuthorized = helpers.logic.NotAuthorized


def layer(world, level: str, which: str = "geo_id", **style) -> dict:
    return {"resource_id": world.datasets[level][which], "title": f"Layer {level}",
            "style": style or {"mode": "simple"}}


def create(world, who="editor", **fields):
    fields.setdefault("title", "A map")
    fields.setdefault("layers", [layer(world, "open")])
    return world.call("dataviz_map_create", who, **fields)


# --- validation ------------------------------------------------------------------------

@pytest.mark.parametrize("fields, key", [
    ({"title": ""}, "title"),
    ({"layers": []}, "layers"),
    ({"layers": "not json"}, "layers"),
    ({"layers": [{"title": "no resource"}]}, "layers.0.resource_id"),
    ({"layers": [{"resource_id": "x", "style": {"mode": "heatmap"}}]}, "layers.0.style.mode"),
    ({"layers": [{"resource_id": "x", "style": {"mode": "categories"}}]}, "layers.0.style.field"),
    ({"layers": [{"resource_id": "x", "style": {"color": "red"}}]}, "layers.0.style.color"),
    ({"layers": [{"resource_id": "x", "style": {"mode": "graduated", "field": "v", "classes": 12}}]},
     "layers.0.style.classes"),
    ({"layers": [{"resource_id": "x", "style": {"method": "jenks"}}]}, "layers.0.style.method"),
    ({"layers": [{"resource_id": "x", "style": "[]"}]}, "layers.0.style"),
    ({"layers": [{"resource_id": "x", "source": {"kind": "shapefile"}}]}, "layers.0.source.kind"),
    ({"bbox": [5, 45, 4, 46]}, "bbox"),
    ({"bbox": "a,b,c,d"}, "bbox"),
    ({"bbox": [4.7, 45.6, 4.9, 95]}, "bbox"),
    ({"name": "Not A Slug!"}, "name"),
    ({"private": "xxxx"}, "private"),
    ({"private": [True]}, "private"),
    ({"legend": "maybe"}, "legend"),
])
def test_a_bad_map_names_the_field(fields, key):
    data = {"title": "T", "layers": [{"resource_id": "x"}], **fields}
    _clean, errors = schema.check_map(data, schema.map_create())
    assert key in errors, errors
    assert all(isinstance(m, str) and m for m in errors[key])


@pytest.mark.parametrize("given, meant", [
    ("true", True), ("on", True), ("1", True), (1, True), (True, True),
    ("false", False), ("off", False), ("0", False), (0, False), (False, False), (None, False),
    ("", False)])
def test_a_map_flag_takes_the_usual_words_for_yes_and_no(given, meant):
    clean, errors = schema.check_map({"title": "T", "layers": [{"resource_id": "x"}],
                                      "private": given}, schema.map_create())
    assert errors == {} and clean["private"] is meant


def test_a_good_map_gets_defaults():
    clean, errors = schema.check_map({"title": " Vélos ", "layers": json.dumps([
        {"resource_id": "r", "style": {"mode": "graduated", "field": "v", "popup_fields": "a, b"}}]),
        "bbox": "4.7,45.6,4.9,45.9"}, schema.map_create())
    assert errors == {}
    assert clean["title"] == "Vélos" and clean["bbox"] == [4.7, 45.6, 4.9, 45.9]
    style = clean["layers"][0]["style"]
    assert style["classes"] == 5 and style["method"] == "quantile" and style["popup_fields"] == ["a", "b"]


def test_create_refuses_a_bad_map_over_the_api(app, map_world):
    status, body, _ = api(app, map_world, "editor", "dataviz_map_create", title="",
                          layers=[{"resource_id": map_world.datasets["open"]["geo_id"],
                                   "style": {"mode": "heatmap"}}], bbox=[1, 2])
    assert status == 409
    assert {"title", "layers.0.style.mode", "bbox"} <= set(body["error"])


def test_each_layer_must_be_visible_to_the_creator(map_world):
    with pytest.raises(ValidationError) as error:
        create(map_world, "outsider", layers=[layer(map_world, "open"), layer(map_world, "hidden"),
                                              {"resource_id": "nope"}])
    assert set(error.value.error_dict) == {"layers.1.resource_id", "layers.2.resource_id"}
    # Data access is not needed to compose a map: the viewers' access decides.
    saved = create(map_world, "outsider", title="Outsider map", layers=[layer(map_world, "restricted")])
    assert saved["owner_user_id"] == map_world.actors["outsider"].id


def test_anonymous_cannot_save(app, map_world):
    status, _body, _ = api(app, map_world, "anonymous", "dataviz_map_create", title="x",
                           layers=[layer(map_world, "open")])
    assert status == 403


# --- ownership --------------------------------------------------------------------------

def test_an_organisation_map_is_edited_by_its_editors_and_admins(map_world):
    saved = create(map_world, "editor", title="Org map", owner_org="map-publisher")
    assert saved["owner_org"] == map_world.org["id"] and saved["name"] == "org-map"
    for who in ("editor", "admin", "sysadmin"):
        updated = map_world.call("dataviz_map_update", who, id=saved["name"], title=f"By {who}")
        assert updated["title"] == f"By {who}"
    for who in ("member", "outsider", "grantee", "anonymous"):
        with pytest.raises(NotAuthorized):
            map_world.call("dataviz_map_update", who, id=saved["id"], title="hijack")
        with pytest.raises(NotAuthorized):
            map_world.call("dataviz_map_delete", who, id=saved["id"])
    assert map_world.call("dataviz_map_show", "anonymous", id=saved["id"])["title"] == "By sysadmin"


def test_a_user_map_is_edited_by_its_user(app, map_world):
    saved = create(map_world, "grantee", title="Grantee map")
    assert map_world.call("dataviz_map_update", "grantee", id=saved["id"],
                          description="mine")["description"] == "mine"
    for who in ("editor", "admin", "outsider"):
        status, _b, _ = api(app, map_world, who, "dataviz_map_update", id=saved["id"], title="x")
        assert status == 403, who
    status, _b, _ = api(app, map_world, "grantee", "dataviz_map_delete", id=saved["id"])
    assert status == 200
    status, _b, _ = api(app, map_world, "grantee", "dataviz_map_show", id=saved["id"])
    assert status == 404


def test_only_editors_of_an_organisation_give_it_a_map(map_world):
    with pytest.raises(NotAuthorized):
        create(map_world, "member", owner_org="map-publisher")
    saved = create(map_world, "outsider", title="To move")
    with pytest.raises(NotAuthorized):
        map_world.call("dataviz_map_update", "outsider", id=saved["id"], owner_org="map-publisher")
    moved = map_world.call("dataviz_map_update", "outsider", id=saved["id"], owner_org="other-publisher")
    assert moved["owner_org"] == map_world.other_org["id"] and moved["owner_user_id"] is None


def test_names_are_unique(map_world):
    first = create(map_world, title="Same title")
    second = create(map_world, title="Same title")
    assert first["name"] != second["name"]
    with pytest.raises(ValidationError) as error:
        create(map_world, name=first["name"])
    assert "name" in error.value.error_dict


# --- what viewers see -----------------------------------------------------------------------

def _multi(world):
    return create(world, "editor", title="Every level", owner_org="map-publisher", layers=[
        layer(world, level) for level in ("open", "licensed", "restricted", "hidden", "private")])


def test_layers_show_what_the_viewer_may_see(app, map_world):
    saved = _multi(map_world)
    expected = world_module.ACCESS
    for who, row in expected.items():
        status, body, text = api(app, map_world, who, "dataviz_map_show", id=saved["id"])
        assert status == 200, who
        shown = body["result"]["layers"]
        for level, entry in zip(("open", "licensed", "restricted", "hidden", "private"), shown,
                                strict=True):
            ds = map_world.datasets[level]
            access = row[level]
            assert entry["available"] is (access == "D"), (who, level)
            if access == "-":
                assert entry["hidden"] is True and "resource_id" not in entry
                for secret in (ds["id"], ds["name"], ds["title"], ds["geo_id"], f"Layer {level}"):
                    assert secret not in text, (who, level, secret)
            elif access == "M":
                assert entry["next_step"] in ("login", "sign", "request"), (who, level)
                assert entry["source"] == {}
        assert "secret-" not in text


def test_next_steps(map_world):
    saved = _multi(map_world)
    steps = {who: [entry.get("next_step") for entry in
                   map_world.call("dataviz_map_show", who, id=saved["id"])["layers"]]
             for who in ("anonymous", "outsider", "signer")}
    assert steps["anonymous"][1:3] == ["login", "login"]
    assert steps["outsider"][1:3] == ["sign", "request"]
    assert steps["signer"][1:3] == [None, "request"]


def test_a_private_map_is_seen_by_its_organisation_only(app, map_world):
    saved = create(map_world, "editor", title="Private map", owner_org="map-publisher", private=True)
    for who in ("editor", "admin", "member", "sysadmin"):
        assert api(app, map_world, who, "dataviz_map_show", id=saved["name"])[0] == 200, who
    for who in ("anonymous", "outsider", "grantee"):
        status, body, text = api(app, map_world, who, "dataviz_map_show", id=saved["name"])
        missing = api(app, map_world, who, "dataviz_map_show", id="no-such-map")
        assert status == 404 and body["error"] == missing[1]["error"], who
        assert "Private map" not in text
        listed = api(app, map_world, who, "dataviz_map_list", method="get",
                     package_id=map_world.datasets["open"]["name"])[2]
        assert saved["id"] not in listed, who


def test_maps_listed_on_a_dataset(app, map_world):
    saved = create(map_world, "editor", title="Listed map", owner_org="map-publisher",
                   layers=[layer(map_world, "open"), layer(map_world, "hidden")])
    status, body, _ = api(app, map_world, "anonymous", "dataviz_map_list", method="get",
                          package_id=map_world.datasets["open"]["id"])
    assert status == 200 and saved["id"] in [m["id"] for m in body["result"]]
    hidden = api(app, map_world, "anonymous", "dataviz_map_list", method="get",
                 package_id=map_world.datasets["hidden"]["name"])
    missing = api(app, map_world, "anonymous", "dataviz_map_list", method="get",
                  package_id="no-such-dataset")
    assert hidden[0] == missing[0] == 404 and hidden[1]["error"] == missing[1]["error"]
    grantee = api(app, map_world, "grantee", "dataviz_map_list", method="get",
                  package_id=map_world.datasets["hidden"]["name"])
    assert saved["id"] in grantee[2]
    page = app.get(f"/dataset/{map_world.datasets['open']['name']}")
    assert "Listed map" in page.get_data(as_text=True)


@pytest.mark.parametrize("params,field", [
    ({"offset": "abc"}, "offset"), ({"offset": "-1"}, "offset"), ({"offset": "1.5"}, "offset"),
    ({"limit": "0"}, "limit"), ({"limit": "-1"}, "limit"), ({"limit": "x"}, "limit"),
])
def test_a_bad_page_of_the_list_names_its_parameter(app, map_world, params, field):
    """Found by the outside probe of issue 21: a bad offset was reported
    under `limit`, and a limit of 0 or -1 listed a map."""
    status, body, _ = api(app, map_world, "anonymous", "dataviz_map_list", method="get",
                          **params)
    assert status == 409 and list(body["error"]) == ["__type", field] or \
        set(body["error"]) - {"__type"} == {field}, body


def test_a_limit_beyond_the_most_gives_the_most(app, map_world):
    status, _body, _ = api(app, map_world, "anonymous", "dataviz_map_list", method="get",
                           limit="501")
    assert status == 200


# --- pages ---------------------------------------------------------------------------------

def test_map_page_and_embed(app, map_world):
    saved = _multi(map_world)
    for url in (f"/dataviz/map/{saved['name']}", f"/dataviz/embed/map/{saved['id']}"):
        res = app.get(url)
        text = res.get_data(as_text=True)
        assert res.status_code == 200, url
        assert "Every level" in text and "data-dataviz-map" in text
        assert "secret-" not in text
        for level in ("hidden", "private"):
            ds = map_world.datasets[level]
            for secret in (ds["id"], ds["name"], ds["title"], ds["geo_id"]):
                assert secret not in text, (url, secret)
        assert 'data-layer-unavailable="login"' in text
    embed = app.get(f"/dataviz/embed/map/{saved['id']}")
    assert "frame-ancestors *" in embed.headers.get("Content-Security-Policy", "")
    page = app.get(f"/dataviz/map/{saved['name']}").get_data(as_text=True)
    assert f"/dataviz/embed/map/{saved['id']}" in page and "&lt;iframe" in page
    assert app.get("/dataviz/map/no-such-map").status_code == 404
    quoted = create(map_world, title='Quote " <b>bold</b>')
    page = app.get(f"/dataviz/map/{quoted['name']}").get_data(as_text=True)
    # The code a user copies from the <textarea> escapes the title once.
    copied = html.unescape(re.search(r"<textarea[^>]*data-dataviz-embed-code>(.*?)</textarea>",
                                     page, re.S).group(1))
    assert 'title="Quote &quot; &lt;b&gt;bold&lt;/b&gt;"' in copied
    assert "<b>bold</b>" not in page
    assert app.get("/dataviz/embed/map/no-such-map").status_code == 404


def test_builder_creates_and_edits(app, map_world):
    token = {"Authorization": map_world.actors["editor"].token}
    assert app.get("/dataviz/map/new", headers=token).status_code == 200
    layers = json.dumps([layer(map_world, "open", mode="categories", field="kind")])
    res = app.post("/dataviz/map/new", headers=token, data={
        "title": "Built map", "owner_org": map_world.org["id"], "bbox": "4.7, 45.6, 4.95, 45.9",
        "legend": "true", "layers": layers}, follow_redirects=False)
    assert res.status_code == 302, res.get_data(as_text=True)[:1000]
    saved = map_world.call("dataviz_map_show", "editor", id="built-map")
    assert saved["bbox"] == [4.7, 45.6, 4.95, 45.9] and saved["layers"][0]["style"]["field"] == "kind"
    bad = app.post("/dataviz/map/built-map/edit", headers=token, data={
        "title": "", "layers": "[]"}, follow_redirects=False)
    assert bad.status_code == 200 and "error-block" in bad.get_data(as_text=True)
    outsider = {"Authorization": map_world.actors["outsider"].token}
    assert app.get("/dataviz/map/built-map/edit", headers=outsider).status_code == 403
    assert app.post("/dataviz/map/built-map/delete", headers=outsider).status_code == 403
    assert app.post("/dataviz/map/built-map/delete", headers=token,
                    follow_redirects=False).status_code == 302
    assert app.get("/dataviz/map/built-map").status_code == 404


# --- the resource view ---------------------------------------------------------------------

def test_map_view_form_validates_and_renders(app, map_world):
    ds = map_world.datasets["open"]
    with pytest.raises(ValidationError) as error:
        map_world.call("resource_view_create", "editor", resource_id=ds["geo_id"],
                       view_type="dataviz_map", title="Bad", mode="graduated", field="")
    assert "field" in error.value.error_dict
    view = map_world.call("resource_view_create", "editor", resource_id=ds["geo_id"],
                          view_type="dataviz_map", title="Points map", mode="categories",
                          field="kind", popup_fields="name, kind")
    res = app.get(f"/dataset/{ds['name']}/resource/{ds['geo_id']}/view/{view['id']}")
    text = res.get_data(as_text=True)
    assert res.status_code == 200 and "data-dataviz-map" in text and "dataviz-map-config" in text
    embed = app.get(f"/dataviz/embed/view/{view['id']}")
    assert embed.status_code == 200 and "data-dataviz-map" in embed.get_data(as_text=True)
    gated = map_world.datasets["licensed"]
    gated_view = map_world.call("resource_view_create", "editor", resource_id=gated["geo_id"],
                                view_type="dataviz_map", title="Gated map")
    for url in (f"/dataset/{gated['name']}/resource/{gated['geo_id']}/view/{gated_view['id']}",
                f"/dataviz/embed/view/{gated_view['id']}"):
        res = app.get(url)
        text = res.get_data(as_text=True)
        assert res.status_code == 200, url
        assert "data-dataviz-map" not in text and "secret-" not in text
        assert "data-dataviz-access=\"login\"" in text, url


def test_map_view_form_page(app, map_world):
    ds = map_world.datasets["open"]
    token = {"Authorization": map_world.actors["editor"].token}
    res = app.get(f"/dataset/{ds['name']}/resource/{ds['geo_id']}/new_view",
                  query_string={"view_type": "dataviz_map"}, headers=token)
    text = res.get_data(as_text=True)
    assert res.status_code == 200
    for field in ("kind", "layer_name", "lat_field", "lon_field", "mode", "field", "color",
                  "classes", "method", "max_radius", "cluster", "popup_fields"):
        assert f'id="field-{field}"' in text, field
