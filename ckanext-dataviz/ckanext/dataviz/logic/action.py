"""Actions of the dataviz plugin.

- `dataviz_chart_data`: the points of a chart over a DataStore resource,
  aggregated by the database, after the access policy
  (`grandlyon_access_data_read`; `package_show` without the access plugin).
- `dataviz_map_layer_data`: the features of one layer (a resource), after the
  access policy. A resource the user may not see is missing (404); one whose
  data they may not read is forbidden (403) and sends no feature.
- `dataviz_map_create/update/show/list/delete`: saved maps (who may do what:
  see auth.py). A layer whose dataset the viewer may not see is shown as
  unavailable, without any id or title; one whose data they may not read
  names the next step (log in, sign, request) and nothing of its data.

Each action checks its parameters with a navl schema (schema.py), then asks
its auth function. What the old order of checks put after the access
decision stays after it: a chart's configuration against the resource's
columns, a layer's source, a saved map's fields after its auth function.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

import ckan.model as model
import ckan.plugins.toolkit as tk
from ckan.logic import validate
from ckan.types import Context, DataDict
from ckanext.dataviz.chart import query
from ckanext.dataviz.logic import auth, schema
from ckanext.dataviz.logic import validators as v
from ckanext.dataviz.maps import layers as map_layers
from ckanext.dataviz.model import DatavizMap, utcnow
from ckanext.grandlyon_access import shared as access

__all__ = [
    "dataviz_chart_data",
    "dataviz_map_layer_data",
    "dataviz_map_create",
    "dataviz_map_update",
    "dataviz_map_show",
    "dataviz_map_list",
    "dataviz_map_delete",
]


# --- charts ----------------------------------------------------------------------------

def _chart_source(data_dict: DataDict) -> tuple[str, dict[str, Any]]:
    """(resource_id, chart configuration) of a view_id, or as validated."""
    view_id = data_dict.get("view_id")
    if view_id:
        view = model.ResourceView.get(str(view_id))
        if view is None:
            raise tk.ObjectNotFound(tk._("Resource not found"))
        return view.resource_id, dict(view.config or {})
    return str(data_dict["resource_id"]), data_dict["config"]


@tk.side_effect_free
@validate(schema.chart_data)
def dataviz_chart_data(context: Context, data_dict: DataDict) -> dict[str, Any]:
    """The points of a chart over a DataStore resource, aggregated by the
    database; only what is drawn is returned.

    :param view_id: a `dataviz_chart` view (its saved configuration), or
    :param resource_id: a DataStore resource, with
    :param config: the chart configuration (object or JSON text; see
        ckanext.dataviz.chart.spec), or its keys given directly
    :returns: ``{"fields": [{"id", "type", "axis"}], "series": [{"name",
        "points": [[x, y], ...]}], "truncated": bool, "chart": the checked
        configuration}``
    """
    resource_id, chart = _chart_source(data_dict)
    tk.check_access("dataviz_chart_data", context, {"resource_id": resource_id})
    access.check_data_read(context, resource_id)
    fields = query.datastore_fields(resource_id)
    if fields is None:
        raise tk.ValidationError({"resource_id": [
            tk._("This resource has no DataStore table to chart.")]})
    spec, errors = schema.check_chart(chart, fields)
    if errors:
        raise tk.ValidationError(errors)
    answer = query.run(resource_id, spec, fields)
    access.record_data_read(context, resource_id, "chart")
    return answer


# --- layer data ------------------------------------------------------------------------

@tk.side_effect_free
@validate(schema.map_layer_data)
def dataviz_map_layer_data(context: Context, data_dict: DataDict) -> dict[str, Any]:
    """The features of a map layer, as GeoJSON.

    :param resource_id: the layer's resource
    :param kind: optional, ``geojson``, ``wfs``, ``ogc`` or ``table``
        (guessed from the resource's format and URL otherwise)
    :param layer_name: the WFS typeName or OGC API collection
    :param lat_field: the latitude column of a table (guessed otherwise)
    :param lon_field: the longitude column of a table (guessed otherwise)
    :returns: a FeatureCollection with ``truncated`` (more features than
        ``ckanext.dataviz.map.max_features``) and ``skipped`` (rows without
        usable coordinates)
    """
    resource_id = data_dict["resource_id"]
    auth.check_data_read(context, resource_id)
    tk.check_access("dataviz_map_layer_data", context, {"resource_id": resource_id})
    errors: dict[str, list[str]] = {}
    source = v.clean_source(v.whole_values(data_dict, v.SOURCE_KEYS), "", errors)
    if errors:
        raise tk.ValidationError(errors)
    resource = tk.get_action("resource_show")(
        {"user": context.get("user"), "auth_user_obj": context.get("auth_user_obj")},
        {"id": resource_id})
    try:
        collection = map_layers.load(resource, source, context)
    except map_layers.LayerError as error:
        raise tk.ValidationError({error.field: [error.message]}) from None
    collection["resource_id"] = resource_id
    access.record_data_read(context, resource_id, "map")
    return collection


# --- saved maps ----------------------------------------------------------------------

def _get_map(context: Context, ref: str) -> DatavizMap:
    """The map named by id or name that the user may read; NotFound otherwise
    (a private map looks missing)."""
    saved = model.Session.get(DatavizMap, ref) or \
        model.Session.query(DatavizMap).filter_by(name=ref).first()
    if saved is None or not (context.get("ignore_auth") or auth.may_read(context, saved)):
        raise tk.ObjectNotFound(tk._("Map not found"))
    return saved


def _slug(title: str) -> str:
    text = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode().lower()
    text = re.sub(r"[^a-z0-9]+", "-", text).strip("-")[:80]
    return text if len(text) >= 2 else "map"


def _unique_name(base: str) -> str:
    name, n = base, 1
    while model.Session.query(DatavizMap.id).filter_by(name=name).first():
        n += 1
        name = f"{base}-{n}"
    return name


def _owner_org(ref: str | None, errors: dict[str, Any]) -> str | None:
    """The id of the organisation `ref` (id or name), None without one."""
    if not ref:
        return None
    org = model.Group.get(ref)
    if org is None or not org.is_organization or org.state != "active":
        errors["owner_org"] = [tk._("No such organisation.")]
        return None
    return org.id


def _check_layers(context: Context, layers: list[dict[str, Any]],
                  errors: dict[str, Any]) -> None:
    """Each layer's resource exists and its dataset is visible to the user;
    the layer keeps the dataset's id (for the dataset page's list of maps)."""
    for index, layer in enumerate(layers):
        if not layer.get("resource_id"):
            continue
        package = auth.resource_package(layer["resource_id"])
        if not auth.sees_dataset(context, package):
            errors[f"layers.{index}.resource_id"] = [
                tk._("No resource with this id that you may see.")]
            continue
        layer["package_id"] = package.id


def _check_name(name: str | None, current: str | None, errors: dict[str, Any]) -> None:
    if name and name != current and model.Session.query(DatavizMap.id).filter_by(
            name=name).first():
        errors["name"] = [tk._("That name is already in use.")]


def _viewer_layer(context: Context, layer: dict[str, Any]) -> dict[str, Any]:
    """A layer as the viewer may see it."""
    seen = auth.layer_access(context, layer.get("resource_id") or "")
    if not seen["seen"]:
        return {"available": False, "hidden": True, "title": tk._("Unavailable layer"),
                "next_step": None}
    package = seen["package"]
    resource = model.Resource.get(layer["resource_id"])
    out = {
        "resource_id": layer["resource_id"], "package_id": package.id,
        "package_name": package.name, "package_title": package.title or package.name,
        "title": layer.get("title") or resource.name or package.title or package.name,
        "source": layer.get("source") or {}, "style": layer.get("style") or {},
        "available": seen["data"], "hidden": False,
    }
    if not seen["data"]:
        out["next_step"] = seen.get("next_step")
        out["licence_id"] = seen.get("licence_id")
        out["source"] = {}
    return out


def _iso(value) -> str | None:
    return value.isoformat() if value else None


def _map_dict(context: Context, saved: DatavizMap, with_layers: bool = True) -> dict[str, Any]:
    owner = model.Group.get(saved.owner_org) if saved.owner_org else None
    user = model.User.get(saved.owner_user_id) if saved.owner_user_id else None
    out = {
        "id": saved.id, "name": saved.name, "title": saved.title,
        "description": saved.description, "owner_org": saved.owner_org,
        "owner_org_name": owner.name if owner else None,
        "owner_org_title": (owner.title or owner.name) if owner else None,
        "owner_user_id": saved.owner_user_id,
        "owner_user_name": user.name if user else None,
        "private": saved.private, "legend": saved.legend, "bbox": saved.bbox,
        "created": _iso(saved.created), "modified": _iso(saved.modified),
        "layer_count": len(saved.layers or []),
        "can_edit": auth.may_edit(context, saved),
    }
    if with_layers:
        out["layers"] = [_viewer_layer(context, layer) for layer in saved.layers or []]
    return out


def dataviz_map_create(context: Context, data_dict: DataDict) -> dict[str, Any]:
    """Saves a map.

    :param title: the map's title (required)
    :param name: its URL name (optional: made from the title)
    :param description: text (markdown)
    :param owner_org: the organisation owning it (its editors and admins
        edit it); without it the map belongs to the user
    :param layers: a list of ``{"resource_id", "title", "source": {"kind",
        "layer_name", "lat_field", "lon_field"}, "style": {"mode" (simple,
        categories, graduated, proportional), "color", "field", "classes",
        "method" (quantile, equal), "max_radius", "cluster", "popup_fields"}}``
    :param bbox: the initial extent ``[west, south, east, north]``
    :param legend: show the legend (default true)
    :param private: seen by its owners only (default false)
    """
    tk.check_access("dataviz_map_create", context, data_dict)
    clean, errors = schema.check_map(data_dict, schema.map_create())
    owner_org = _owner_org(clean.get("owner_org"), errors)
    _check_layers(context, clean["layers"], errors)
    _check_name(clean.get("name"), None, errors)
    if errors:
        raise tk.ValidationError(errors)
    user = auth.user_of(context)
    saved = DatavizMap(
        name=clean.get("name") or _unique_name(_slug(clean["title"])),
        title=clean["title"], description=clean["description"],
        owner_org=owner_org, owner_user_id=None if owner_org else user.id,
        creator_user_id=user.id, private=clean["private"], legend=clean["legend"],
        layers=clean["layers"], bbox=clean["bbox"])
    model.Session.add(saved)
    model.Session.commit()
    return _map_dict(context, saved)


def dataviz_map_update(context: Context, data_dict: DataDict) -> dict[str, Any]:
    """Changes a saved map: the fields given (see dataviz_map_create) replace
    the saved ones.

    :param id: the map's id or name
    """
    ref, errors = tk.navl_validate({"id": data_dict.get("id")}, schema.map_ref(), {})
    if errors:
        raise tk.ValidationError(errors)
    saved = _get_map(context, ref["id"])
    asked = {"id": saved.id}
    if "owner_org" in data_dict:
        asked["owner_org"] = data_dict["owner_org"]
    tk.check_access("dataviz_map_update", context, asked)
    clean, errors = schema.check_map(data_dict, schema.map_update())
    if "owner_org" in clean:
        clean["owner_org"] = _owner_org(clean["owner_org"], errors)
    if "layers" in clean:
        _check_layers(context, clean["layers"], errors)
    _check_name(clean.get("name"), saved.name, errors)
    if errors:
        raise tk.ValidationError(errors)
    for key, value in clean.items():
        if key == "owner_org":
            if value:
                saved.owner_org, saved.owner_user_id = value, None
            elif saved.owner_org:
                saved.owner_org, saved.owner_user_id = None, auth.user_of(context).id
            continue
        setattr(saved, key, value)
    saved.modified = utcnow()
    model.Session.commit()
    return _map_dict(context, saved)


@tk.side_effect_free
@validate(schema.map_ref)
def dataviz_map_show(context: Context, data_dict: DataDict) -> dict[str, Any]:
    """A saved map as the user may see it (see the module's docstring).

    :param id: the map's id or name
    """
    saved = _get_map(context, data_dict["id"])
    tk.check_access("dataviz_map_show", context, {"id": saved.id})
    return _map_dict(context, saved)


@tk.side_effect_free
@validate(schema.map_list)
def dataviz_map_list(context: Context, data_dict: DataDict) -> list[dict[str, Any]]:
    """Saved maps the user may see, newest first.

    :param package_id: only maps with a layer of this dataset (id or name;
        a dataset the user may not see is missing)
    :param owner_org: only maps of this organisation (id or name)
    :param mine: only maps the user may edit
    :param limit: at most this many (default 50, at most 500)
    :param offset: skip this many
    """
    tk.check_access("dataviz_map_list", context, data_dict)
    query = model.Session.query(DatavizMap)
    if data_dict.get("package_id"):
        package = model.Package.get(data_dict["package_id"])
        if package is None or package.state != "active" or \
                not auth.sees_dataset(context, package):
            raise tk.ObjectNotFound(tk._("Dataset not found"))
        query = query.filter(DatavizMap.layers.contains([{"package_id": package.id}]))
    if data_dict.get("owner_org"):
        org = model.Group.get(data_dict["owner_org"])
        query = query.filter(DatavizMap.owner_org == (org.id if org else ""))
    page, errors = tk.navl_validate(
        {key: data_dict[key] for key in ("limit", "offset") if key in data_dict},
        schema.map_page(), {})
    if errors:
        raise tk.ValidationError(errors)
    limit, offset, mine = page["limit"], page["offset"], data_dict["mine"]
    found = []
    for saved in query.order_by(DatavizMap.modified.desc()):
        if not (context.get("ignore_auth") or auth.may_read(context, saved)):
            continue
        if mine and not auth.may_edit(context, saved):
            continue
        found.append(saved)
        if len(found) >= offset + limit:
            break
    return [_map_dict(context, saved, with_layers=False) for saved in found[offset:]]


@validate(schema.map_ref)
def dataviz_map_delete(context: Context, data_dict: DataDict) -> None:
    """Deletes a saved map.

    :param id: the map's id or name
    """
    saved = _get_map(context, data_dict["id"])
    tk.check_access("dataviz_map_delete", context, {"id": saved.id})
    model.Session.delete(saved)
    model.Session.commit()
