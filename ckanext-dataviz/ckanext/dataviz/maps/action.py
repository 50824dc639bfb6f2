"""Actions and auth functions of maps (see get_actions).

- `dataviz_map_layer_data`: the features of one layer (a resource), after the
  access policy (`grandlyon_access_data_read`; `package_show` without the
  access plugin). A resource the user may not see is missing (404); one whose
  data they may not read is forbidden (403) and sends no feature.
- `dataviz_map_create/update/show/list/delete`: saved maps, owned by an
  organisation (its editors and admins edit them) or a user; sysadmins edit
  every map. A private map is seen by its owners only (and the members of
  its organisation). A layer whose dataset the viewer may not see is shown
  as unavailable, without any id or title; one whose data they may not read
  names the next step (log in, sign, request) and nothing of its data.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any, Optional

import ckan.authz as authz
import ckan.model as model
import ckan.plugins.toolkit as tk
from ckan.types import AuthResult, Context, DataDict

from ckanext.grandlyon_access import shared as access

from ckanext.dataviz.maps import layers as map_layers
from ckanext.dataviz.maps import schema
from ckanext.dataviz.model import DatavizMap, utcnow

LIST_LIMIT = 50
LIST_MAX = 500


# --- who -----------------------------------------------------------------------------

def _user(context: Context) -> Optional[model.User]:
    user = context.get("auth_user_obj")
    if isinstance(user, model.User):
        return user
    name = context.get("user")
    return model.User.get(name) if name else None


def _auth_context(context: Context) -> dict[str, Any]:
    user = _user(context)
    return {"model": model, "user": user.name if user else "",
            "auth_user_obj": user if user else model.AnonymousUser()}


def _is_org_editor(user: Optional[model.User], org_id: Optional[str]) -> bool:
    return bool(user and org_id and authz.has_user_permission_for_group_or_org(
        org_id, user.name, "update_dataset"))


def may_edit(context: Context, saved: DatavizMap) -> bool:
    """Sysadmins; the editors and admins of the owning organisation; the
    owning user."""
    user = _user(context)
    if user is None:
        return False
    if user.sysadmin:
        return True
    if saved.owner_org:
        return _is_org_editor(user, saved.owner_org)
    return saved.owner_user_id == user.id


def may_read(context: Context, saved: DatavizMap) -> bool:
    if not saved.private or may_edit(context, saved):
        return True
    user = _user(context)
    return bool(user and saved.owner_org and authz.has_user_permission_for_group_or_org(
        saved.owner_org, user.name, "read"))


def _get_map(context: Context, ref: Any) -> DatavizMap:
    """The map named by id or name that the user may read; NotFound otherwise
    (a private map looks missing)."""
    if not ref or not isinstance(ref, str):
        raise tk.ValidationError({"id": [tk._("Missing value")]})
    saved = model.Session.get(DatavizMap, ref) or \
        model.Session.query(DatavizMap).filter_by(name=ref).first()
    if saved is None or not (context.get("ignore_auth") or may_read(context, saved)):
        raise tk.ObjectNotFound(tk._("Map not found"))
    return saved


# --- the policy for one resource -----------------------------------------------------

def resource_package(resource_id: str) -> Optional[model.Package]:
    resource = model.Resource.get(resource_id) if resource_id else None
    if resource is None or resource.state != "active":
        return None
    package = model.Package.get(resource.package_id)
    return package if package is not None and package.state == "active" else None


def sees_dataset(context: Context, package: Optional[model.Package]) -> bool:
    if package is None:
        return False
    return authz.is_authorized("package_show", _auth_context(context),
                               {"id": package.id})["success"]


def layer_access(context: Context, resource_id: str) -> dict[str, Any]:
    """What the viewer may do with a layer's resource: ``seen`` (metadata),
    ``data``, and without data the ``next_step`` and ``licence_id``."""
    package = resource_package(resource_id)
    if not sees_dataset(context, package):
        return {"seen": False, "data": False}
    status = access.access_status(_auth_context(context), package.id)
    return {"seen": True, "data": bool(status["data"]), "next_step": status.get("next_step"),
            "licence_id": status.get("licence_id"), "package": package}


def check_data_read(context: Context, resource_id: str) -> None:
    """The access policy for a resource's data (one check for charts and
    maps): NotFound when the dataset is missing or hidden from the user,
    NotAuthorized when its data is gated."""
    access.check_data_read(_auth_context(context), resource_id)


# --- layer data ------------------------------------------------------------------------

@tk.side_effect_free
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
    resource_id = data_dict.get("resource_id")
    if not resource_id or not isinstance(resource_id, str):
        raise tk.ValidationError({"resource_id": [tk._("Missing value")]})
    check_data_read(context, resource_id)
    tk.check_access("dataviz_map_layer_data", context, {"resource_id": resource_id})
    errors: dict[str, list[str]] = {}
    source = schema.clean_source({k: data_dict.get(k) for k in
                                  ("kind", "layer_name", "lat_field", "lon_field")}, "", errors)
    if errors:
        raise tk.ValidationError(errors)
    resource = tk.get_action("resource_show")(
        {"user": context.get("user"), "auth_user_obj": context.get("auth_user_obj")},
        {"id": resource_id})
    try:
        collection = map_layers.load(resource, source, context)
    except map_layers.LayerError as error:
        raise tk.ValidationError({error.field: [error.message]})
    collection["resource_id"] = resource_id
    access.record_data_read(context, resource_id, "map")
    return collection


# --- saved maps ----------------------------------------------------------------------

def _slug(title: str) -> str:
    text = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode().lower()
    text = re.sub(r"[^a-z0-9]+", "-", text).strip("-")[:80]
    return text if len(text) >= 2 else "map"


def _unique_name(base: str, exclude_id: Optional[str] = None) -> str:
    name, n = base, 1
    while True:
        query = model.Session.query(DatavizMap.id).filter_by(name=name)
        if exclude_id:
            query = query.filter(DatavizMap.id != exclude_id)
        if not query.first():
            return name
        n += 1
        name = f"{base}-{n}"


def _owner_org(context: Context, ref: Optional[str], errors: dict[str, list[str]]) -> Optional[str]:
    if not ref:
        return None
    org = model.Group.get(ref)
    if org is None or not org.is_organization or org.state != "active":
        errors["owner_org"] = [tk._("No such organisation.")]
        return None
    return org.id


def _check_layers(context: Context, layers: list[dict[str, Any]],
                  errors: dict[str, list[str]]) -> None:
    """Each layer's resource exists and its dataset is visible to the user;
    the layer keeps the dataset's id (for the dataset page's list of maps)."""
    for index, layer in enumerate(layers):
        if not layer.get("resource_id"):
            continue
        package = resource_package(layer["resource_id"])
        if not sees_dataset(context, package):
            errors[f"layers.{index}.resource_id"] = [
                tk._("No resource with this id that you may see.")]
            continue
        layer["package_id"] = package.id


def _raise(errors: dict[str, list[str]]) -> None:
    if errors:
        raise tk.ValidationError(errors)


def viewer_layer(context: Context, layer: dict[str, Any]) -> dict[str, Any]:
    """A layer as the viewer may see it."""
    access = layer_access(context, layer.get("resource_id") or "")
    if not access["seen"]:
        return {"available": False, "hidden": True, "title": tk._("Unavailable layer"),
                "next_step": None}
    package = access["package"]
    resource = model.Resource.get(layer["resource_id"])
    out = {
        "resource_id": layer["resource_id"], "package_id": package.id,
        "package_name": package.name, "package_title": package.title or package.name,
        "title": layer.get("title") or resource.name or package.title or package.name,
        "source": layer.get("source") or {}, "style": layer.get("style") or {},
        "available": access["data"], "hidden": False,
    }
    if not access["data"]:
        out["next_step"] = access.get("next_step")
        out["licence_id"] = access.get("licence_id")
        out["source"] = {}
    return out


def _iso(value) -> Optional[str]:
    return value.isoformat() if value else None


def map_dict(context: Context, saved: DatavizMap, with_layers: bool = True) -> dict[str, Any]:
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
        "can_edit": may_edit(context, saved),
    }
    if with_layers:
        out["layers"] = [viewer_layer(context, layer) for layer in saved.layers or []]
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
    clean, errors = schema.clean_map(data_dict)
    owner_org = _owner_org(context, clean.get("owner_org"), errors)
    _check_layers(context, clean.get("layers", []), errors)
    if clean.get("name") and model.Session.query(DatavizMap.id).filter_by(name=clean["name"]).first():
        errors["name"] = [tk._("That name is already in use.")]
    _raise(errors)
    user = _user(context)
    saved = DatavizMap(
        name=clean.get("name") or _unique_name(_slug(clean["title"])),
        title=clean["title"], description=clean["description"],
        owner_org=owner_org, owner_user_id=None if owner_org else user.id,
        creator_user_id=user.id, private=clean["private"], legend=clean["legend"],
        layers=clean["layers"], bbox=clean["bbox"])
    model.Session.add(saved)
    model.Session.commit()
    return map_dict(context, saved)


def dataviz_map_update(context: Context, data_dict: DataDict) -> dict[str, Any]:
    """Changes a saved map: the fields given (see dataviz_map_create) replace
    the saved ones.

    :param id: the map's id or name
    """
    saved = _get_map(context, data_dict.get("id"))
    tk.check_access("dataviz_map_update", context, {"id": saved.id, **{
        k: v for k, v in data_dict.items() if k == "owner_org"}})
    clean, errors = schema.clean_map(data_dict, partial=True)
    if "owner_org" in clean:
        clean["owner_org"] = _owner_org(context, clean["owner_org"], errors)
    if "layers" in clean:
        _check_layers(context, clean["layers"], errors)
    if clean.get("name") and clean["name"] != saved.name and model.Session.query(
            DatavizMap.id).filter_by(name=clean["name"]).first():
        errors["name"] = [tk._("That name is already in use.")]
    _raise(errors)
    for key, value in clean.items():
        if key == "owner_org":
            if value:
                saved.owner_org, saved.owner_user_id = value, None
            elif saved.owner_org:
                saved.owner_org, saved.owner_user_id = None, _user(context).id
            continue
        setattr(saved, key, value)
    saved.modified = utcnow()
    model.Session.commit()
    return map_dict(context, saved)


@tk.side_effect_free
def dataviz_map_show(context: Context, data_dict: DataDict) -> dict[str, Any]:
    """A saved map as the user may see it (see the module's docstring).

    :param id: the map's id or name
    """
    saved = _get_map(context, data_dict.get("id"))
    tk.check_access("dataviz_map_show", context, {"id": saved.id})
    return map_dict(context, saved)


@tk.side_effect_free
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
    for key in ("package_id", "owner_org"):
        if data_dict.get(key) is not None and not isinstance(data_dict[key], str):
            raise tk.ValidationError({key: [tk._("Must be a name or an id")]})
    try:
        mine = bool(data_dict.get("mine")) and tk.asbool(data_dict["mine"])
    except ValueError:
        raise tk.ValidationError({"mine": [tk._("Must be true or false")]})
    query = model.Session.query(DatavizMap)
    if data_dict.get("package_id"):
        package = model.Package.get(data_dict["package_id"])
        if package is None or package.state != "active" or not sees_dataset(context, package):
            raise tk.ObjectNotFound(tk._("Dataset not found"))
        query = query.filter(DatavizMap.layers.contains([{"package_id": package.id}]))
    if data_dict.get("owner_org"):
        org = model.Group.get(data_dict["owner_org"])
        query = query.filter(DatavizMap.owner_org == (org.id if org else ""))
    try:
        limit = min(int(data_dict.get("limit", LIST_LIMIT)), LIST_MAX)
        offset = max(int(data_dict.get("offset", 0)), 0)
    except (TypeError, ValueError):
        raise tk.ValidationError({"limit": [tk._("Must be a whole number")]})
    found = []
    for saved in query.order_by(DatavizMap.modified.desc()):
        if not (context.get("ignore_auth") or may_read(context, saved)):
            continue
        if mine and not may_edit(context, saved):
            continue
        found.append(saved)
        if len(found) >= offset + limit:
            break
    return [map_dict(context, saved, with_layers=False) for saved in found[offset:]]


def dataviz_map_delete(context: Context, data_dict: DataDict) -> None:
    """Deletes a saved map.

    :param id: the map's id or name
    """
    saved = _get_map(context, data_dict.get("id"))
    tk.check_access("dataviz_map_delete", context, {"id": saved.id})
    model.Session.delete(saved)
    model.Session.commit()


# --- auth ------------------------------------------------------------------------------

def _deny(message: str) -> AuthResult:
    return {"success": False, "msg": message}


def dataviz_map_create_auth(context: Context, data_dict: DataDict) -> AuthResult:
    """Logged-in users save their own maps; an organisation's map needs its
    editors or admins."""
    user = _user(context)
    if user is None:
        return _deny(tk._("Log in to save a map"))
    org = data_dict.get("owner_org")
    if org and not user.sysadmin:
        group = model.Group.get(org) if isinstance(org, str) else None
        if group is None or not _is_org_editor(user, group.id):
            return _deny(tk._("Only the organisation's editors and admins save its maps"))
    return {"success": True}


def _editors(context: Context, data_dict: DataDict) -> AuthResult:
    saved = model.Session.get(DatavizMap, data_dict.get("id") or "")
    if saved is None:
        return _deny(tk._("Map not found"))
    if not may_edit(context, saved):
        return _deny(tk._("Only the map's owners change it"))
    new_org = data_dict.get("owner_org")
    user = _user(context)
    if new_org and not user.sysadmin:
        group = model.Group.get(new_org) if isinstance(new_org, str) else None
        if group is None or not _is_org_editor(user, group.id):
            return _deny(tk._("Only the organisation's editors and admins save its maps"))
    return {"success": True}


@tk.auth_allow_anonymous_access
def dataviz_map_show_auth(context: Context, data_dict: DataDict) -> AuthResult:
    saved = model.Session.get(DatavizMap, data_dict.get("id") or "")
    if saved is None or not may_read(context, saved):
        return _deny(tk._("Map not found"))
    return {"success": True}


@tk.auth_allow_anonymous_access
def dataviz_map_list_auth(context: Context, data_dict: DataDict) -> AuthResult:
    return {"success": True}


@tk.auth_allow_anonymous_access
def dataviz_map_layer_data_auth(context: Context, data_dict: DataDict) -> AuthResult:
    """The access policy decides in the action (check_data_read), before this."""
    try:
        check_data_read(context, data_dict.get("resource_id") or "")
    except tk.ObjectNotFound:
        return _deny(tk._("Resource not found"))
    except tk.NotAuthorized as error:
        return _deny(str(error))
    return {"success": True}


def get_actions() -> dict:
    return {
        "dataviz_map_layer_data": dataviz_map_layer_data,
        "dataviz_map_create": dataviz_map_create,
        "dataviz_map_update": dataviz_map_update,
        "dataviz_map_show": dataviz_map_show,
        "dataviz_map_list": dataviz_map_list,
        "dataviz_map_delete": dataviz_map_delete,
    }


def get_auth_functions() -> dict:
    return {
        "dataviz_map_layer_data": dataviz_map_layer_data_auth,
        "dataviz_map_create": dataviz_map_create_auth,
        "dataviz_map_update": _editors,
        "dataviz_map_delete": _editors,
        "dataviz_map_show": dataviz_map_show_auth,
        "dataviz_map_list": dataviz_map_list_auth,
    }
