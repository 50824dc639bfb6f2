"""Validators of the commune fields of the organisation schema
(config/schemas/organization.yaml) and of the widget's input.

Every error says which value is wrong and what is expected, in the user's
language; nothing invalid is stored.
"""

from __future__ import annotations

import json
import math
import re
from datetime import date, datetime
from typing import Any
from urllib.parse import urlparse, urlsplit

import ckan.lib.navl.dictization_functions as df
import ckan.model as model
import ckan.plugins.toolkit as tk
from ckan.logic.validators import if_empty_guess_format

from ckanext.communes import config
from ckanext.communes.dcat_mapping import current as dcat_mappings

__all__ = [
    "communes_bool", "communes_insee_code", "communes_colour", "communes_image_url",
    "communes_web_url", "communes_host_names", "communes_boundary", "communes_widget_page_size",
    "communes_max_length", "communes_dcat_frequency", "communes_resource_url",
    "communes_guess_format", "communes_byte_size", "communes_temporal_date",
    "communes_temporal_end", "communes_licence_id", "communes_stripped",
]

COLOUR = re.compile(r"^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")
# INSEE codes: 5 digits, or Corsica's 2A/2B followed by 3 digits.
INSEE = re.compile(r"^(?:\d{5}|2[AB]\d{3})$")
HOST_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".gif", ".webp")
UPLOADED_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,200}$")
RESOURCE_URL_SCHEMES = ("http", "https", "ftp")
# Spaces and control characters (newline, tab, NUL, DEL, C1): an address
# holding one is published raw in the RDF catalogue and breaks it.
BAD_URL_CHARACTERS = re.compile(r"[\s\x00-\x1f\x7f-\x9f]")


def _empty(value: Any) -> bool:
    return value is df.missing or value is None or (isinstance(value, str) and not value.strip())


def communes_bool(value: Any) -> str:
    """Stores a yes/no field as "true" or "false"."""
    if _empty(value):
        return "false"
    return "true" if tk.asbool(value) else "false"


def communes_insee_code(value: Any) -> Any:
    """The commune's INSEE code: five characters (digits, or 2A/2B and three digits)."""
    if _empty(value):
        return ""
    value = str(value).strip().upper()
    if not INSEE.match(value):
        raise tk.Invalid(tk._("An INSEE code is five characters: five digits, or 2A or 2B "
                              "followed by three digits (e.g. 69266)"))
    return value


def communes_colour(value: Any) -> Any:
    """A colour written #rgb or #rrggbb (nothing else reaches the page's CSS)."""
    if _empty(value):
        return ""
    value = str(value).strip()
    if not COLOUR.match(value):
        raise tk.Invalid(tk._("A colour is written #rgb or #rrggbb (e.g. #c8102e)"))
    return value.lower()


def communes_image_url(value: Any) -> Any:
    """An https URL of an image, or the name of a file uploaded to the portal
    (PNG, JPEG, GIF or WebP). SVG is refused: it may carry scripts."""
    if _empty(value):
        return ""
    value = str(value).strip()
    lowered = value.lower().split("?")[0].split("#")[0]
    if lowered.endswith((".svg", ".svgz")):
        raise tk.Invalid(tk._("SVG images are refused (they may carry scripts): use PNG, "
                              "JPEG, WebP or GIF"))
    if "://" in value or value.startswith("//") or ":" in value.split("/")[0]:
        parsed = urlparse(value)
        if parsed.scheme != "https" or not parsed.hostname:
            raise tk.Invalid(tk._("An image is an https:// address or a file uploaded to "
                                  "the portal"))
        return value
    if not UPLOADED_NAME.match(value) or not lowered.endswith(IMAGE_EXTENSIONS):
        raise tk.Invalid(tk._("An image is an https:// address or a file uploaded to the "
                              "portal (PNG, JPEG, WebP or GIF)"))
    return value


def communes_web_url(value: Any) -> Any:
    """An http(s) address (a commune's web site)."""
    if _empty(value):
        return ""
    value = str(value).strip()
    parsed = urlparse(value)
    if parsed.scheme not in ("http", "https") or not parsed.hostname or " " in value:
        raise tk.Invalid(tk._("A web address starts with https:// or http://"))
    return value


def parse_host_names(value: Any) -> list[str]:
    """The host names of a stored or submitted value (a list, or a text
    separated by commas, spaces or new lines)."""
    if _empty(value):
        return []
    if isinstance(value, (list, tuple)):
        items = [str(v) for v in value]
    else:
        items = re.split(r"[\s,]+", str(value))
    return [item.strip().lower().rstrip(".") for item in items if item.strip()]


def valid_host_name(name: str) -> bool:
    if len(name) > 253 or "." not in name:
        return False
    labels = name.split(".")
    return all(HOST_LABEL.match(label) for label in labels) and not labels[-1].isdigit()


def _other_communes_host_names(own_id: str | None) -> dict[str, str]:
    """Host name -> title of the organisations (other than `own_id`) that claim it."""
    query = (
        model.Session.query(model.Group.id, model.Group.title, model.Group.name,
                            model.GroupExtra.value)
        .join(model.GroupExtra, model.GroupExtra.group_id == model.Group.id)
        .filter(model.GroupExtra.key == "host_names")
        .filter(model.GroupExtra.state == "active")
        .filter(model.Group.state == "active")
    )
    taken: dict[str, str] = {}
    for group_id, title, name, value in query:
        if group_id == own_id:
            continue
        for host in parse_host_names(value):
            taken[host] = title or name
    return taken


def communes_host_names(key, data, errors, context) -> None:
    """Host names under which the commune's view is served: valid names
    (e.g. data.ville-exemple.fr), each claimed by one commune only. Stored
    as one text, comma-separated."""
    value = data.get(key)
    names = parse_host_names(value)
    if not names:
        data[key] = ""
        return
    bad = [n for n in names if not valid_host_name(n)]
    if bad:
        errors[key].append(tk._("Not a valid host name: {names} (e.g. data.ville-exemple.fr)")
                           .format(names=", ".join(bad)))
        return
    site = urlparse(tk.config.get("ckan.site_url") or "").hostname
    if site and site in names:
        errors[key].append(tk._("{name} is the portal's own host name").format(name=site))
        return
    own = data.get(("id",))
    if not own:
        group = context.get("group")
        own = getattr(group, "id", None)
    if own is df.missing:
        own = None
    if own:
        found = model.Group.get(own)
        own = found.id if found else own
    taken = _other_communes_host_names(own)
    clashes = [n for n in names if n in taken]
    if clashes:
        errors[key].append(tk._("Host name already used by another commune: {names}")
                           .format(names=", ".join(f"{n} ({taken[n]})" for n in clashes)))
        return
    data[key] = ",".join(dict.fromkeys(names))


def _ring_ok(ring: Any) -> bool:
    if not isinstance(ring, list) or len(ring) < 4:
        return False
    for point in ring:
        if not (isinstance(point, list) and len(point) in (2, 3)
                and all(isinstance(c, (int, float)) and not isinstance(c, bool)
                        and math.isfinite(c) for c in point)):
            return False
        if not (-180 <= point[0] <= 180 and -90 <= point[1] <= 90):
            return False
    return ring[0][:2] == ring[-1][:2]


def _polygon_ok(coords: Any) -> bool:
    return isinstance(coords, list) and bool(coords) and all(_ring_ok(r) for r in coords)


def geometry_of(value: Any) -> dict[str, Any] | None:
    """The Polygon or MultiPolygon of a GeoJSON text (geometry, Feature or a
    FeatureCollection of one feature), or None."""
    try:
        geo = json.loads(value) if isinstance(value, str) else value
    except ValueError:
        return None
    if isinstance(geo, dict) and geo.get("type") == "FeatureCollection":
        features = geo.get("features") or []
        geo = features[0] if len(features) == 1 else None
    if isinstance(geo, dict) and geo.get("type") == "Feature":
        geo = geo.get("geometry")
    if not isinstance(geo, dict):
        return None
    kind, coords = geo.get("type"), geo.get("coordinates")
    if kind == "Polygon" and _polygon_ok(coords):
        return {"type": kind, "coordinates": coords}
    if kind == "MultiPolygon" and isinstance(coords, list) and coords and all(
            _polygon_ok(p) for p in coords):
        return {"type": kind, "coordinates": coords}
    return None


def communes_boundary(value: Any) -> Any:
    """The commune's boundary: a GeoJSON Polygon or MultiPolygon in
    longitude/latitude (WGS 84), stored as compact JSON."""
    if _empty(value):
        return ""
    text = value if isinstance(value, str) else json.dumps(value)
    if len(text.encode("utf-8")) > config.boundary_max_bytes():
        raise tk.Invalid(tk._("The boundary is larger than {n} bytes: simplify it")
                         .format(n=config.boundary_max_bytes()))
    geometry = geometry_of(text)
    if geometry is None:
        raise tk.Invalid(tk._("The boundary must be a GeoJSON Polygon or MultiPolygon in "
                              "longitude and latitude, with closed rings"))
    return json.dumps(geometry, separators=(",", ":"))


def communes_widget_page_size(value: Any) -> int:
    """A number of datasets per page, from 1 to the configured maximum."""
    if _empty(value):
        return 5
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise tk.Invalid(tk._("A page size is a whole number"))
    if not 1 <= number <= config.widget_max_page_size():
        raise tk.Invalid(tk._("A page size is between 1 and {n}")
                         .format(n=config.widget_max_page_size()))
    return number


def communes_max_length(length: int):
    """A validator factory: text of at most `length` characters."""

    def validator(value: Any) -> Any:
        if isinstance(value, str) and len(value) > length:
            raise tk.Invalid(tk._("At most {n} characters").format(n=length))
        return value

    return validator


def communes_dcat_frequency(value: Any) -> Any:
    """An update frequency as the EU frequency IRI: the form offers the IRIs;
    a text the DCAT-AP mapping file knows ("annual", "monthly": API callers,
    harvesters, older datasets) is stored as its IRI. The field's
    `scheming_choices` then checks it is one of the offered values."""
    if _empty(value):
        return ""
    value = str(value).strip()
    return dcat_mappings().frequency(value) or value


def resource_url_problem(value: str, uploaded: bool) -> str | None:
    """Why a resource address cannot be stored (a translated message), or
    None. An uploaded file (url_type "upload") is stored by CKAN as its
    file name, or shown back as the portal's download URL; any other
    address is an absolute http, https or ftp URL with a host."""
    if BAD_URL_CHARACTERS.search(value):
        return tk._("A resource URL cannot hold spaces, tabs, new lines or control "
                    "characters: encode them (%20) or remove them")
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError on a port out of range
    except ValueError:
        return tk._("This resource URL cannot be read (e.g. an unclosed [ or a bad "
                    "port): check it")
    scheme = parts.scheme.lower()
    if uploaded and not scheme:
        return None
    if scheme not in RESOURCE_URL_SCHEMES or not parts.hostname:
        return tk._("A resource URL starts with https://, http:// or ftp:// and names "
                    "a host")
    return None


def unreadable_resource_url(resource: dict[str, Any]) -> str | None:
    """Why the `url` of a resource dict cannot even be parsed, or None
    (checked before CKAN's uploader parses it, see logic/action.py)."""
    value = resource.get("url")
    if not isinstance(value, str) or not value:
        return None
    try:
        urlsplit(value.strip()).port  # noqa: B018
    except ValueError:
        return resource_url_problem(value.strip(), False)
    return None


# What `datastore_create` gives a resource it creates with its table and no
# address (ckanext/datastore/logic/action.py).
DATASTORE_ONLY_URL = "_datastore_only_resource"


def communes_resource_url(key, data, errors, context) -> None:
    """A resource's address (the dataset schema's resource `url`): refused
    when it cannot be parsed, holds whitespace or control characters, or
    uses another scheme than http, https or ftp (`javascript:`, `data:`,
    `file:`). An empty address is left to the other validators, and so is
    the placeholder of a DataStore-only resource."""
    value = data.get(key)
    if _empty(value) or value == DATASTORE_ONLY_URL:
        return
    uploaded = data.get(key[:-1] + ("url_type",)) == "upload"
    problem = resource_url_problem(str(value), uploaded)
    if problem:
        errors[key].append(problem)


def communes_guess_format(key, data, errors, context) -> None:
    """CKAN's `if_empty_guess_format`, which runs before the resource's
    `url` is validated (fields are validated in name order): an address it
    cannot parse leaves the format empty, `communes_resource_url` names it."""
    try:
        if_empty_guess_format(key, data, errors, context)
    except ValueError:
        pass


def communes_byte_size(value: Any) -> Any:
    """A resource's size in bytes: a whole number, 0 or more (published as
    dcat:byteSize, an xsd:nonNegativeInteger); empty is no size."""
    if _empty(value):
        return None
    try:
        number = int(str(value).strip())
    except ValueError:
        raise tk.Invalid(tk._("A size is a whole number of bytes (0 or more)")) from None
    if number < 0:
        raise tk.Invalid(tk._("A size is a whole number of bytes (0 or more)"))
    return number


def temporal_moment(value: Any) -> date | datetime | None:
    """An ISO 8601 date (2026-12-06) or date and time, or None."""
    if not isinstance(value, str) or len(value.strip()) < 10:
        return None
    text = value.strip()
    try:
        if len(text) == 10:
            return date.fromisoformat(text)
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def communes_temporal_date(value: Any) -> Any:
    """A bound of the temporal coverage: an ISO 8601 date (2020-01-01) or
    date and time, published typed xsd:date or xsd:dateTime."""
    if _empty(value):
        return ""
    if temporal_moment(value) is None:
        raise tk.Invalid(tk._("A date is written as in ISO 8601: 2020-01-31 (or "
                              "2020-01-31T08:00:00)"))
    return str(value).strip()


def communes_stripped(value: Any) -> Any:
    """A text without the spaces around it (a title of spaces is then empty,
    and the next validator gives it the dataset's name); anything else, a
    missing value among them, as it is."""
    return value.strip() if isinstance(value, str) else value


def communes_licence_id(value: Any) -> Any:
    """A licence of the portal's registry (license_list), or none: a
    licence unknown to the portal would be published without its terms
    (no title, no address, no EU licence IRI in DCAT-AP)."""
    if _empty(value):
        return ""
    text = str(value).strip()
    if text not in model.Package.get_license_register():
        raise tk.Invalid(tk._("Unknown licence: {licence}. Choose one of the portal's "
                              "licences.").format(licence=text[:100]))
    return text


def communes_temporal_end(key, data, errors, context) -> None:
    """The end of the temporal coverage is not before its start (read here
    as given: fields are validated in name order, the end first)."""
    end = temporal_moment(data.get(key))
    start = temporal_moment(data.get(key[:-1] + ("temporal_start",)))
    if end is None or start is None:
        return
    as_date = lambda m: m.date() if isinstance(m, datetime) else m  # noqa: E731
    if as_date(end) < as_date(start):
        errors[key].append(tk._("The end of the temporal coverage is before its start"))
