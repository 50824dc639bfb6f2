"""dataviz_map_layer_data: GeoJSON validation, DataStore and CSV
coordinates, WFS and OGC API Features through a local server replaying
recorded answers (and refused by default: private address), and the access
policy over HTTP for every level and actor."""

from __future__ import annotations

import json

import pytest
from ckan.tests import helpers

from ckanext.dataviz.maps import layers
from ckanext.dataviz.tests import test_map_world as world_module
from ckanext.dataviz.tests.test_map_world import ACCESS, LEVELS, POINTS, api, upload

map_world = world_module.map_world
remote = world_module.remote

MISSING_ID = "00000000-0000-4000-8000-000000000000"


# --- GeoJSON validation (no stack needed beyond translations) ----------------------

@pytest.mark.parametrize("data, message", [
    ({"features": []}, "no type"),
    ({"type": "Topology"}, "Topology"),
    ({"type": "FeatureCollection"}, "no list of features"),
    ({"type": "FeatureCollection", "features": [{"type": "Point"}]}, "not a Feature"),
    ({"type": "Feature", "geometry": {"type": "Circle", "coordinates": [1, 2]}}, "unknown type"),
    ({"type": "Feature", "geometry": {"type": "Point"}}, "no coordinates"),
    ({"type": "Feature", "geometry": {"type": "Point", "coordinates": ["4.8", 45]}}, "pair of numbers"),
    ({"type": "Feature", "geometry": {"type": "LineString", "coordinates": 5}}, "malformed"),
    ({"type": "Feature", "geometry": {"type": "LineString", "coordinates": [1, 2]}}, "pair of numbers"),
    ({"type": "Feature", "geometry": {"type": "Point", "coordinates": [845000, 6520000]}}, "WGS 84"),
    ({"type": "Feature", "geometry": {"type": "Point", "coordinates": [1, 2]}, "properties": [1]},
     "not an object"),
])
def test_malformed_geojson_is_refused_naming_the_field(data, message):
    with pytest.raises(layers.LayerError) as error:
        layers.validate_geojson(data)
    assert error.value.field == "geojson"
    assert message in error.value.message


def test_geojson_of_every_shape_is_accepted():
    polygon = [[[4.8, 45.7], [4.9, 45.7], [4.9, 45.8], [4.8, 45.7]]]
    collection = layers.validate_geojson({"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": polygon}, "properties": None},
        {"type": "Feature", "geometry": {"type": "MultiPolygon", "coordinates": [polygon]}},
        {"type": "Feature", "geometry": None, "properties": {"a": 1}},
        {"type": "Feature", "geometry": {"type": "GeometryCollection", "geometries": [
            {"type": "Point", "coordinates": [4.8, 45.7, 170.0]}]}},
    ]})
    assert len(collection["features"]) == 4
    assert collection["features"][0]["properties"] == {}
    assert layers.validate_geojson({"type": "Point", "coordinates": [4.8, 45.7]})["features"][0][
        "geometry"]["type"] == "Point"


def test_wfs_and_ogc_urls():
    url = layers.wfs_url("https://geo.example.org/wfs?SERVICE=WFS&REQUEST=GetCapabilities&map=x",
                         "ns:layer", 100)
    assert "REQUEST=GetFeature" in url and "TYPENAMES=ns%3Alayer" in url and "map=x" in url
    assert "GetCapabilities" not in url and "OUTPUTFORMAT=application%2Fjson" in url
    assert "typeName=a%3Ab" in layers.wfs_url("https://g.example.org/wfs?typeName=a:b", "", 10) or \
        "TYPENAMES=a%3Ab" in layers.wfs_url("https://g.example.org/wfs?typeName=a:b", "", 10)
    with pytest.raises(layers.LayerError) as error:
        layers.wfs_url("https://g.example.org/wfs", "", 10)
    assert error.value.field == "layer_name"
    assert layers.ogc_items_url("https://o.example.org/api/collections/c", "", 50) == \
        "https://o.example.org/api/collections/c/items?f=json&limit=50"
    assert layers.ogc_items_url("https://o.example.org/api/", "arrets", 5000).startswith(
        "https://o.example.org/api/collections/arrets/items?f=json&limit=1000")
    assert layers.ogc_items_url("https://o.example.org/api", "a/../b?x=1#y", 10).startswith(
        "https://o.example.org/api/collections/a%2F..%2Fb%3Fx%3D1%23y/items?")
    with pytest.raises(layers.LayerError) as error:
        layers.ogc_items_url("https://o.example.org/api", "", 10)
    assert error.value.field == "layer_name"


# --- sources through the action -------------------------------------------------------

def layer_data(world, who="sysadmin", **params):
    return world.call("dataviz_map_layer_data", who, **params)


def test_uploaded_geojson(map_world):
    result = layer_data(map_world, resource_id=map_world.datasets["open"]["geo_id"])
    assert result["type"] == "FeatureCollection" and result["kind"] == "geojson"
    assert len(result["features"]) == len(POINTS)
    assert result["features"][0]["properties"]["name"] == "secret-open-0"
    assert result["truncated"] is False


def test_datastore_coordinates_are_found_and_rows_without_them_skipped(map_world):
    result = layer_data(map_world, resource_id=map_world.datasets["open"]["table_id"])
    assert result["kind"] == "table"
    assert len(result["features"]) == len(POINTS) and result["skipped"] == 1
    first = result["features"][0]
    assert first["geometry"]["coordinates"] == [POINTS[0][0], POINTS[0][1]]
    assert first["properties"] == {"station": "secret-open-0", "bikes": POINTS[0][3]}


def test_datastore_unknown_column_is_refused_naming_the_field(map_world):
    with pytest.raises(helpers.logic.ValidationError) as error:
        layer_data(map_world, resource_id=map_world.datasets["open"]["table_id"],
                   lat_field='latitude"; DROP TABLE x; --')
    assert "lat_field" in error.value.error_dict
    with pytest.raises(helpers.logic.ValidationError) as error:
        layer_data(map_world, resource_id=map_world.datasets["open"]["table_id"], lon_field="bikes2")
    assert "lon_field" in error.value.error_dict


def test_an_unknown_kind_is_refused_under_the_parameter_s_own_name(map_world):
    """The parameters of a layer's data are top-level: errors name them as
    given (`kind`), not as a saved map's layer source (`source.kind`)."""
    with pytest.raises(helpers.logic.ValidationError) as error:
        layer_data(map_world, resource_id=map_world.datasets["open"]["table_id"],
                   kind="shapefile", layer_name="x" * 300)
    assert set(error.value.error_dict) == {"kind", "layer_name"}


@pytest.mark.ckan_config("ckanext.dataviz.map.max_features", "2")
def test_features_are_capped(map_world):
    for rid in (map_world.datasets["open"]["geo_id"], map_world.datasets["open"]["table_id"]):
        result = layer_data(map_world, resource_id=rid)
        assert len(result["features"]) == 2 and result["truncated"] is True


def test_uploaded_csv_with_coordinates(map_world):
    csv = "nom;lat;lon\nA;45.76;4.83\nB;45,77;4,88\nC;;\n".encode()
    res = upload("map-editor", map_world.datasets["open"]["id"], "csv", csv, "points.csv", "CSV")
    result = layer_data(map_world, resource_id=res["id"])
    assert [f["properties"]["nom"] for f in result["features"]] == ["A", "B"]
    assert result["features"][1]["geometry"]["coordinates"] == [4.88, 45.77]


def test_malformed_uploaded_geojson_is_a_clear_error(map_world):
    bad = upload("map-editor", map_world.datasets["open"]["id"], "bad", b'{"type": "Feature"',
                 "bad.geojson", "GeoJSON")
    with pytest.raises(helpers.logic.ValidationError) as error:
        layer_data(map_world, resource_id=bad["id"])
    assert "not valid JSON" in error.value.error_dict["url"][0]


def _remote_resource(world, url: str, fmt: str) -> str:
    return world.call("resource_create", "editor", package_id=world.datasets["open"]["id"],
                      name=fmt, url=url, format=fmt)["id"]


@pytest.mark.ckan_config("ckanext.grandlyon_access.outbound.allow", "127.0.0.1")
def test_wfs_getfeature_from_a_recorded_server(map_world, remote):
    rid = _remote_resource(map_world, remote.url("/wfs?SERVICE=WFS&REQUEST=GetCapabilities"), "WFS")
    result = layer_data(map_world, resource_id=rid, layer_name="velov:stations")
    assert result["kind"] == "wfs"
    assert [f["properties"]["nom"] for f in result["features"]] == ["Station 0", "Station 1", "Station 2"]
    wfs = [r for r in remote.requests if r.startswith("/wfs")]
    assert len(wfs) == 2 and all("REQUEST=GetFeature" in r for r in wfs)
    assert "STARTINDEX=2" in wfs[1]
    with pytest.raises(helpers.logic.ValidationError) as error:
        layer_data(map_world, resource_id=rid)
    assert "layer_name" in error.value.error_dict
    with pytest.raises(helpers.logic.ValidationError) as error:
        layer_data(map_world, resource_id=rid, layer_name="velov:unknown")
    assert "400" in error.value.error_dict["url"][0]


@pytest.mark.ckan_config("ckanext.grandlyon_access.outbound.allow", "127.0.0.1")
@pytest.mark.ckan_config("ckanext.dataviz.map.max_features", "2")
def test_wfs_stops_at_the_cap(map_world, remote):
    rid = _remote_resource(map_world, remote.url("/wfs"), "WFS")
    result = layer_data(map_world, resource_id=rid, layer_name="velov:stations")
    assert len(result["features"]) == 2 and result["truncated"] is True
    assert len(remote.requests) == 1 and "COUNT=2" in remote.requests[0]


@pytest.mark.ckan_config("ckanext.grandlyon_access.outbound.allow", "127.0.0.1")
def test_ogc_api_features_pages_are_followed(map_world, remote):
    rid = _remote_resource(map_world, remote.url("/ogc/collections/arrets"), "OGC API Features")
    result = layer_data(map_world, resource_id=rid)
    assert result["kind"] == "ogc"
    assert [f["properties"]["numero"] for f in result["features"]] == [0, 1, 2, 3, 4]
    assert len([r for r in remote.requests if "/ogc/" in r]) == 3


@pytest.mark.ckan_config("ckanext.grandlyon_access.outbound.allow", "127.0.0.1")
@pytest.mark.ckan_config("ckanext.dataviz.map.max_features", "3")
def test_ogc_paging_stops_at_the_cap(map_world, remote):
    rid = _remote_resource(map_world, remote.url("/ogc/collections/arrets/items"), "OGC API Features")
    result = layer_data(map_world, resource_id=rid)
    assert len(result["features"]) == 3 and result["truncated"] is True


@pytest.mark.ckan_config("ckanext.grandlyon_access.outbound.allow", "127.0.0.1")
def test_remote_malformed_geojson_and_server_errors(map_world, remote):
    bad = _remote_resource(map_world, remote.url("/bad.geojson"), "GeoJSON")
    with pytest.raises(helpers.logic.ValidationError) as error:
        layer_data(map_world, resource_id=bad)
    assert "pair of numbers" in error.value.error_dict["geojson"][0]
    broken = _remote_resource(map_world, remote.url("/broken"), "GeoJSON")
    with pytest.raises(helpers.logic.ValidationError) as error:
        layer_data(map_world, resource_id=broken)
    assert "500" in error.value.error_dict["url"][0]


def test_private_addresses_are_refused_by_default(map_world, remote):
    for url in (remote.url("/wfs"), "http://169.254.169.254/latest/meta-data/"):
        rid = _remote_resource(map_world, url, "WFS")
        with pytest.raises(helpers.logic.ValidationError) as error:
            layer_data(map_world, resource_id=rid, layer_name="velov:stations")
        assert "private or local network" in error.value.error_dict["url"][0]
    assert remote.requests == []


@pytest.mark.ckan_config("ckanext.grandlyon_access.outbound.allow", "127.0.0.1")
def test_unreachable_wfs_is_a_clear_error(map_world, remote):
    port = remote.port
    remote.close()
    rid = _remote_resource(map_world, f"http://127.0.0.1:{port}/wfs", "WFS")
    with pytest.raises(helpers.logic.ValidationError) as error:
        layer_data(map_world, resource_id=rid, layer_name="velov:stations")
    assert "could not be reached" in error.value.error_dict["url"][0]


# --- the access policy over HTTP ----------------------------------------------------

def test_layer_data_follows_the_policy_for_every_level(app, map_world):
    for who, row in ACCESS.items():
        missing = api(app, map_world, who, "dataviz_map_layer_data", method="get",
                      resource_id=MISSING_ID)
        assert missing[0] == 404
        for level in LEVELS:
            ds = map_world.datasets[level]
            for rid in (ds["geo_id"], ds["table_id"]):
                status, body, text = api(app, map_world, who, "dataviz_map_layer_data",
                                         method="get", resource_id=rid)
                expected = row[level]
                where = (who, level, rid == ds["table_id"])
                if expected == "D":
                    assert status == 200, (where, text[:300])
                    assert f"secret-{level}-0" in text
                    continue
                assert f"secret-{level}" not in text, where
                if expected == "M":
                    assert status == 403, (where, status)
                else:
                    assert status == 404, (where, status)
                    assert json.dumps(body["error"]) == json.dumps(missing[1]["error"]), where
                    for secret in (ds["id"], ds["name"], ds["title"]):
                        assert secret not in text, where


def test_layer_data_needs_a_resource_id(app, map_world):
    status, body, _ = api(app, map_world, "anonymous", "dataviz_map_layer_data", method="get")
    assert status == 409 and "resource_id" in body["error"]
