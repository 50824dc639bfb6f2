"""The data of a map layer, read by the portal for the browser.

A layer is one resource: a GeoJSON file (uploaded or at its URL), a WFS
service (GetFeature, outputFormat=application/json), an OGC API Features
collection (`/collections/<c>/items?f=json`, paged by its `next` links), or a
table with latitude and longitude columns (in the DataStore, or a CSV file).
Remote addresses are fetched through the portal's outbound guard; every
problem becomes a `LayerError` naming the field at fault, which the action
turns into a ValidationError (HTTP 409) and the map into a message.

The caller has already asked the access policy (see logic/action.py).
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from typing import Any, Optional
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import ckan.plugins.toolkit as tk
from ckan.lib import uploader
from ckanext.dataviz import config
from ckanext.grandlyon_access import shared as access

GEOMETRY_TYPES = ("Point", "MultiPoint", "LineString", "MultiLineString", "Polygon",
                  "MultiPolygon", "GeometryCollection")
# Nesting depth of `coordinates` per geometry type (a position is depth 1).
_DEPTH = {"Point": 1, "MultiPoint": 2, "LineString": 2, "MultiLineString": 3,
          "Polygon": 3, "MultiPolygon": 4}
LAT_NAMES = ("lat", "latitude", "y", "lat_wgs84", "latitude_wgs84")
LON_NAMES = ("lon", "lng", "long", "longitude", "x", "lon_wgs84", "longitude_wgs84")
WFS_PARAMS = ("service", "version", "request", "typename", "typenames", "outputformat",
              "count", "maxfeatures", "srsname")
OGC_PAGE = 1000
MAX_PAGES = 50


class LayerError(Exception):
    """A layer whose data cannot be shown: `field` names what is at fault."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


def kind_of(resource: dict[str, Any], source: dict[str, Any]) -> str:
    """geojson, wfs, ogc or table: from the layer's own choice, the resource's
    format, then its URL."""
    chosen = (source.get("kind") or "").lower()
    if chosen in ("geojson", "wfs", "ogc", "table"):
        return chosen
    fmt = (resource.get("format") or "").strip().lower()
    url = (resource.get("url") or "").lower()
    if fmt in ("wfs",) or "service=wfs" in url:
        return "wfs"
    if fmt in ("ogc api features", "ogc api - features", "oapif", "ogcapi") or "/collections" in url:
        return "ogc"
    if resource.get("datastore_active") or fmt in ("csv", "tsv", "text/csv"):
        return "table"
    return "geojson"


def load(resource: dict[str, Any], source: dict[str, Any], context: dict[str, Any]) -> dict[str, Any]:
    """The layer's FeatureCollection, with `truncated` and `skipped` counts."""
    kind = kind_of(resource, source)
    limit = config.map_max_features()
    if kind == "wfs":
        collection = _wfs(resource, source, limit)
    elif kind == "ogc":
        collection = _ogc(resource, source, limit)
    elif kind == "table":
        collection = _table(resource, source, context, limit)
    else:
        collection = validate_geojson(_parse_json(_read(resource), "url"))
    features = collection["features"]
    truncated = collection.get("truncated", False) or len(features) > limit
    return {"type": "FeatureCollection", "features": features[:limit], "kind": kind,
            "truncated": truncated, "skipped": collection.get("skipped", 0)}


# --- reading the resource ----------------------------------------------------------

def _fetch(url: str) -> bytes:
    try:
        answer = access.fetch(url, max_bytes=config.map_max_bytes(),
                       headers={"Accept": "application/geo+json, application/json, */*"})
    except access.OutboundError as error:
        raise LayerError("url", tk._("The layer's source could not be read: {}").format(error.reason))
    if answer.status >= 400:
        raise LayerError("url", tk._("The layer's source answered with the error {}.").format(answer.status))
    return answer.content


def _read(resource: dict[str, Any]) -> bytes:
    """The bytes of an uploaded file, or of the resource's URL."""
    if resource.get("url_type") == "upload":
        path = uploader.get_resource_uploader(resource).get_path(resource["id"])
        if not os.path.isfile(path):
            raise LayerError("url", tk._("The layer's file is missing."))
        if os.path.getsize(path) > config.map_max_bytes():
            raise LayerError("url", tk._("The layer's file is too large for a map."))
        with open(path, "rb") as fh:
            return fh.read()
    url = resource.get("url") or ""
    if not url:
        raise LayerError("url", tk._("The resource has no URL."))
    return _fetch(url)


def _parse_json(body: bytes, field: str) -> Any:
    try:
        return json.loads(body.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError):
        raise LayerError(field, tk._("The layer's source is not valid JSON."))


# --- GeoJSON -----------------------------------------------------------------------

def _check_position(position: Any) -> None:
    if (not isinstance(position, list) or len(position) < 2
            or not all(isinstance(c, (int, float)) and not isinstance(c, bool) and math.isfinite(c)
                       for c in position)):
        raise LayerError("geojson", tk._("A coordinate of the GeoJSON is not a pair of numbers."))
    lon, lat = position[0], position[1]
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise LayerError("geojson", tk._(
            "The GeoJSON's coordinates are not longitudes and latitudes (WGS 84)."))


def _check_coordinates(coords: Any, depth: int) -> None:
    if depth == 1:
        _check_position(coords)
        return
    if not isinstance(coords, list):
        raise LayerError("geojson", tk._("The coordinates of a GeoJSON geometry are malformed."))
    for item in coords:
        _check_coordinates(item, depth - 1)


def validate_geometry(geometry: Any) -> None:
    if geometry is None:
        return
    if not isinstance(geometry, dict) or geometry.get("type") not in GEOMETRY_TYPES:
        raise LayerError("geojson", tk._("A GeoJSON geometry has an unknown type."))
    if geometry["type"] == "GeometryCollection":
        parts = geometry.get("geometries")
        if not isinstance(parts, list):
            raise LayerError("geojson", tk._("A GeoJSON geometry collection has no geometries."))
        for part in parts:
            validate_geometry(part)
        return
    if "coordinates" not in geometry:
        raise LayerError("geojson", tk._("A GeoJSON geometry has no coordinates."))
    _check_coordinates(geometry["coordinates"], _DEPTH[geometry["type"]])


def validate_geojson(data: Any) -> dict[str, Any]:
    """A FeatureCollection of valid features, from a FeatureCollection, a
    Feature or a bare geometry; LayerError("geojson", ...) otherwise."""
    if not isinstance(data, dict) or "type" not in data:
        raise LayerError("geojson", tk._("The layer's source is not GeoJSON (no type)."))
    kind = data["type"]
    if kind == "FeatureCollection":
        features = data.get("features")
        if not isinstance(features, list):
            raise LayerError("geojson", tk._("The GeoJSON FeatureCollection has no list of features."))
    elif kind == "Feature":
        features = [data]
    elif kind in GEOMETRY_TYPES:
        features = [{"type": "Feature", "geometry": data, "properties": {}}]
    else:
        raise LayerError("geojson", tk._("The layer's source is not GeoJSON (type {}).").format(
            json.dumps(str(kind)[:40])))
    clean = []
    for feature in features:
        if not isinstance(feature, dict) or feature.get("type") != "Feature":
            raise LayerError("geojson", tk._("An item of the GeoJSON features is not a Feature."))
        validate_geometry(feature.get("geometry"))
        properties = feature.get("properties")
        if properties is not None and not isinstance(properties, dict):
            raise LayerError("geojson", tk._("The properties of a GeoJSON feature are not an object."))
        clean.append({"type": "Feature", "geometry": feature.get("geometry"),
                      "properties": properties or {}})
    return {"type": "FeatureCollection", "features": clean}


# --- WFS and OGC API Features ------------------------------------------------------

def _with_query(url: str, params: dict[str, Any], drop: tuple[str, ...] = ()) -> str:
    parts = urlsplit(url)
    kept = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
            if k.lower() not in drop and k.lower() not in {p.lower() for p in params}]
    return urlunsplit(parts._replace(query=urlencode(kept + list(params.items()))))


def wfs_url(url: str, layer_name: str, limit: int) -> str:
    """The GetFeature request of a WFS service URL (any request it names)."""
    if not layer_name:
        for key, value in parse_qsl(urlsplit(url).query):
            if key.lower() in ("typename", "typenames"):
                layer_name = value
    if not layer_name:
        raise LayerError("layer_name", tk._("Name the WFS layer (typeName) to show."))
    return _with_query(url, {"SERVICE": "WFS", "VERSION": "2.0.0", "REQUEST": "GetFeature",
                             "TYPENAMES": layer_name, "OUTPUTFORMAT": "application/json",
                             "SRSNAME": "EPSG:4326", "COUNT": str(limit)}, drop=WFS_PARAMS)


def _wfs(resource: dict[str, Any], source: dict[str, Any], limit: int) -> dict[str, Any]:
    """GetFeature pages: a server answering fewer features than asked (its
    own cap) while it matched more is asked again from STARTINDEX."""
    base = wfs_url(resource.get("url") or "", (source.get("layer_name") or "").strip(), limit)
    features: list = []
    matched: Any = None
    for _page in range(MAX_PAGES):
        url = base if not features else _with_query(
            base, {"COUNT": str(limit - len(features)), "STARTINDEX": str(len(features))})
        page = _parse_json(_fetch(url), "url")
        got = validate_geojson(page)["features"]
        features.extend(got)
        matched = page.get("numberMatched", page.get("totalFeatures"))
        if not got or not isinstance(matched, int) or len(features) >= min(matched, limit):
            break
    truncated = isinstance(matched, int) and matched > min(len(features), limit)
    return {"features": features[:limit], "truncated": truncated}


def ogc_items_url(url: str, layer_name: str, limit: int) -> str:
    """The items of an OGC API Features collection, from the URL of the
    service, of the collection or of its items."""
    parts = urlsplit(url)
    path = parts.path.rstrip("/")
    if path.endswith("/items"):
        pass
    elif "/collections/" in path:
        path = path + "/items"
    elif layer_name:
        base = path[: -len("/collections")] if path.endswith("/collections") else path
        path = f"{base}/collections/{quote(layer_name, safe=':')}/items"
    else:
        raise LayerError("layer_name", tk._("Name the OGC API Features collection to show."))
    return _with_query(urlunsplit(parts._replace(path=path)),
                       {"f": "json", "limit": str(min(limit, OGC_PAGE))})


def _ogc(resource: dict[str, Any], source: dict[str, Any], limit: int) -> dict[str, Any]:
    url: Optional[str] = ogc_items_url(resource.get("url") or "",
                                       (source.get("layer_name") or "").strip(), limit)
    features: list = []
    seen = set()
    while url and len(features) < limit and url not in seen and len(seen) < MAX_PAGES:
        seen.add(url)
        page = _parse_json(_fetch(url), "url")
        features.extend(validate_geojson(page)["features"])
        url = None
        for link in page.get("links") or []:
            if isinstance(link, dict) and link.get("rel") == "next" and link.get("href"):
                url = link["href"]
    return {"features": features[:limit], "truncated": len(features) > limit or bool(url)}


# --- tables with coordinates -------------------------------------------------------

def _number(value: Any) -> Optional[float]:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, str) and value.strip():
        try:
            number = float(value.strip().replace(",", "."))
        except ValueError:
            return None
        return number if math.isfinite(number) else None
    return None


def _pick(columns: list[str], asked: str, names: tuple[str, ...], field: str) -> str:
    """The column named by the layer (validated against the table's
    columns), or the first column with a usual name."""
    if asked:
        if asked not in columns:
            raise LayerError(field, tk._("The column {} is not in the table.").format(
                json.dumps(asked[:60])))
        return asked
    for column in columns:
        if column.lower() in names:
            return column
    raise LayerError(field, tk._("Choose the table's column that holds the {}.").format(
        tk._("latitude") if field == "lat_field" else tk._("longitude")))


def _points(rows: list[dict[str, Any]], lat: str, lon: str) -> dict[str, Any]:
    features, skipped = [], 0
    for row in rows:
        y, x = _number(row.get(lat)), _number(row.get(lon))
        if y is None or x is None or not (-90 <= y <= 90 and -180 <= x <= 180):
            skipped += 1
            continue
        properties = {k: v for k, v in row.items() if k not in (lat, lon, "_id", "_full_text")}
        features.append({"type": "Feature", "geometry": {"type": "Point", "coordinates": [x, y]},
                         "properties": properties})
    return {"features": features, "skipped": skipped}


def _table(resource: dict[str, Any], source: dict[str, Any], context: dict[str, Any],
           limit: int) -> dict[str, Any]:
    lat_asked = (source.get("lat_field") or "").strip()
    lon_asked = (source.get("lon_field") or "").strip()
    if resource.get("datastore_active"):
        ctx = {"user": context.get("user"), "auth_user_obj": context.get("auth_user_obj")}
        info = tk.get_action("datastore_info")(dict(ctx), {"id": resource["id"]})
        columns = [f["id"] for f in info.get("fields", [])]
        lat = _pick(columns, lat_asked, LAT_NAMES, "lat_field")
        lon = _pick(columns, lon_asked, LON_NAMES, "lon_field")
        # Identifiers are checked against the table's columns above; the
        # DataStore quotes them and binds the values.
        answer = tk.get_action("datastore_search")(dict(ctx), {
            "resource_id": resource["id"], "limit": limit + 1,
            "fields": [c for c in columns if c not in ("_full_text",)]})
        rows = answer.get("records", [])
        result = _points(rows[:limit], lat, lon)
        result["truncated"] = len(rows) > limit
        return result
    text = _read(resource).decode("utf-8-sig", errors="replace")
    sample = text[:4096]
    try:
        dialect = csv.Sniffer().sniff(sample, delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.DictReader(io.StringIO(text), dialect=dialect)
    columns = list(reader.fieldnames or [])
    lat = _pick(columns, lat_asked, LAT_NAMES, "lat_field")
    lon = _pick(columns, lon_asked, LON_NAMES, "lon_field")
    rows = []
    for row in reader:
        rows.append(row)
        if len(rows) > limit:
            break
    result = _points(rows[:limit], lat, lon)
    result["truncated"] = len(rows) > limit
    return result
