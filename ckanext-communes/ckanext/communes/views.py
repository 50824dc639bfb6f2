"""Web routes of the communes plugin: the list of communes, each commune's
white-label view (by path, or by host name through `host_identity`), its
dataset pages, the widget script, the iframe widget and the widget builder."""

from __future__ import annotations

import os
import re
from typing import Any, Optional
from urllib.parse import urlencode, urlparse

import ckan.model as model
import ckan.plugins.toolkit as tk
from flask import Blueprint, Response, g, request

from ckanext.communes import communes as commune_lib
from ckanext.communes import config
from ckanext.communes.logic.validators import COLOUR
from ckanext.dcat.utils import CONTENT_TYPES

communes = Blueprint("communes", __name__)

HERE = os.path.dirname(os.path.abspath(__file__))
WIDGET_JS = os.path.join(HERE, "public", "communes", "widget.js")
FACETS = ("tags", "res_format", "access_level", "license_id")
WIDGET_PATHS = ("/communes/widget.js",)
CORS_ACTIONS = ("communes_widget_search",)
LANGS = ("fr", "en")
DATASET_PAGE = re.compile(r"^/dataset/([^/]+)$")
# ckanext-dcat's routes with an output format (`_format`).
DCAT_FORMAT_ENDPOINTS = ("dcat.read_catalog", "dcat.read_dataset", "dcat.read_dataset_series")
TAG_LIST = re.compile(r"^[^<>\"'`\x00-\x1f]{0,500}$")


def _not_found() -> Any:
    return tk.abort(404, tk._("Commune not found"))


def _facet_titles() -> dict[str, str]:
    return {"tags": tk._("Tags"), "res_format": tk._("Formats"),
            "access_level": tk._("Access"), "license_id": tk._("Licences")}


def home_page(org: dict[str, Any]) -> str:
    """The commune's white-label home: identity, introduction, and a search
    of its datasets (as the current user may see them) with facets and pages."""
    q = request.args.get("q", "")[:200]
    try:
        page = max(int(request.args.get("page", "1")), 1)
    except ValueError:
        page = 1
    page = min(page, 1000)
    rows = 20
    fq = [f"owner_org:{commune_lib.solr_quote(org['id'])}"]
    selected: list[tuple[str, str]] = []
    for field in FACETS:
        for value in request.args.getlist(field):
            if value and len(value) <= 200:
                fq.append(f"{field}:{commune_lib.solr_quote(value)}")
                selected.append((field, value))
    data = {
        "q": q, "fq": " ".join(fq), "rows": rows, "start": (page - 1) * rows,
        "facet.field": list(FACETS), "facet.limit": 20, "include_private": True,
        "sort": "score desc, metadata_modified desc",
    }
    try:
        found = tk.get_action("package_search")(commune_lib.context(), data)
    except tk.ValidationError:
        found = {"count": 0, "results": [], "search_facets": {}}

    def page_url(number: int) -> str:
        args = [(k, v) for k, v in request.args.items(multi=True) if k != "page"]
        return "?" + urlencode(args + [("page", str(number))])

    def toggle_url(field: str, value: str) -> str:
        args = [(k, v) for k, v in request.args.items(multi=True) if k != "page"]
        if (field, value) in args:
            args.remove((field, value))
        else:
            args.append((field, value))
        return "?" + urlencode(args)

    pages = max((found["count"] + rows - 1) // rows, 1)
    return tk.render("communes/home.html", {
        "commune": org, "q": q, "found": found, "page": page, "pages": pages,
        "selected": selected, "facet_titles": _facet_titles(), "page_url": page_url,
        "toggle_url": toggle_url,
    })


@communes.route("/commune/")
def index():
    """All communes, with their logos and a map of their boundaries."""
    listed = tk.get_action("communes_list")(commune_lib.context(), {})
    return tk.render("communes/index.html", {
        "communes": listed, "territory": config.territory(),
        "map": _map_shapes(listed),
    })


def _map_shapes(listed: list[dict[str, Any]]) -> dict[str, Any]:
    """SVG paths of the communes' boundaries, projected (equirectangular,
    scaled by the cosine of the mean latitude) into a 600-wide box."""
    polygons = []
    for item in listed:
        geometry = item.get("boundary")
        if not geometry:
            continue
        rings = (geometry["coordinates"] if geometry["type"] == "Polygon"
                 else [r for p in geometry["coordinates"] for r in p])
        polygons.append((item, rings))
    points = [pt for _item, rings in polygons for ring in rings for pt in ring]
    if not points:
        return {"shapes": [], "width": 0, "height": 0}
    import math

    min_x, max_x = min(p[0] for p in points), max(p[0] for p in points)
    min_y, max_y = min(p[1] for p in points), max(p[1] for p in points)
    k = math.cos(math.radians((min_y + max_y) / 2))
    span_x, span_y = max((max_x - min_x) * k, 1e-9), max(max_y - min_y, 1e-9)
    width = 600
    scale = width / span_x
    height = max(int(span_y * scale), 1)
    shapes = []
    for item, rings in polygons:
        d = " ".join(
            "M" + " L".join(f"{(x - min_x) * k * scale:.1f},{(max_y - y) * scale:.1f}"
                            for x, y, *_ in ring) + " Z"
            for ring in rings)
        shapes.append({"commune": item, "d": d,
                       "fill": item.get("primary_color") or "#1f4e79"})
    return {"shapes": shapes, "width": width, "height": height}


@communes.route("/commune/<name>")
def home(name: str):
    org = commune_lib.show(name)
    if org is None:
        return _not_found()
    g.communes_commune = org
    return home_page(org)


@communes.route("/commune/<name>/dataset/<id>")
def dataset(name: str, id: str):
    """A dataset page of the commune, with the commune's identity. A dataset
    of another organisation, or one the user may not see, is missing."""
    from ckan.views.dataset import read

    org = commune_lib.show(name)
    if org is None:
        return _not_found()
    try:
        pkg = tk.get_action("package_show")(commune_lib.context(), {"id": id})
    except (tk.ObjectNotFound, tk.NotAuthorized):
        return tk.abort(404, tk._("Dataset not found"))
    if pkg.get("owner_org") != org["id"]:
        return tk.abort(404, tk._("Dataset not found"))
    g.communes_commune = org
    return read(pkg.get("type") or "dataset", pkg["name"])


def widget_options(args: Any, org: dict[str, Any]) -> dict[str, str]:
    """The widget's options from query parameters, validated (invalid ones
    are dropped: the widget uses its defaults)."""
    options = {"commune": org["name"]}
    q = args.get("q", "")
    if q and len(q) <= 200 and TAG_LIST.match(q):
        options["q"] = q
    tags = args.get("tags", "")
    if tags and TAG_LIST.match(tags):
        options["tags"] = tags
    size = args.get("page-size", "")
    if size.isdigit() and 1 <= int(size) <= config.widget_max_page_size():
        options["page-size"] = size
    colour = args.get("primary-color", "")
    if COLOUR.match(colour):
        options["primary-color"] = colour
    lang = args.get("lang", "")
    if lang in LANGS:
        options["lang"] = lang
    return options


@communes.route("/commune/<name>/widget")
def widget_frame(name: str):
    """The widget as a page, for sites that forbid scripts (an iframe): the
    same options as the script's attributes, as query parameters. The only
    page of the portal that other sites may frame."""
    org = commune_lib.show(name, commune_lib.context(user=""))
    if org is None:
        return _not_found()
    options = widget_options(request.args, org)
    html = tk.render("communes/widget_frame.html", {
        "commune": org, "options": options,
        "script": tk.url_for("communes.widget_js"),
    })
    response = Response(html, content_type="text/html; charset=utf-8")
    response.headers["Content-Security-Policy"] = "frame-ancestors *"
    g.communes_frameable = True
    return response


@communes.route("/commune/<name>/widget-builder")
def widget_builder(name: str):
    """Builds the widget's snippet (script and iframe versions) with a live
    preview. Public: it only writes a snippet."""
    org = commune_lib.show(name)
    if org is None:
        return _not_found()
    g.communes_commune = org
    return tk.render("communes/widget_builder.html", {
        "commune": org,
        "script_src": tk.url_for("communes.widget_js"),
        "script": tk.url_for("communes.widget_js", _external=True),
        "frame": tk.url_for("communes.widget_frame", name=org["name"], _external=True),
        "max_page_size": config.widget_max_page_size(),
    })


@communes.route("/communes/widget.js")
def widget_js():
    """The widget's script, served to any site (CORS: *)."""
    with open(WIDGET_JS, "rb") as f:
        body = f.read()
    response = Response(body, content_type="text/javascript; charset=utf-8")
    response.headers["Cache-Control"] = "public, max-age=3600"
    return response


# --- request hooks (registered by the plugin) -------------------------------------

def _site_host() -> str:
    """The portal's own host name (no port): never a commune's."""
    return (urlparse(tk.config.get("ckan.site_url") or "").hostname or "").lower()


def host_identity() -> Optional[Any]:
    """Before every request: under one of a commune's host names, the pages
    show the commune's identity and / is the commune's white-label home."""
    if not config.host_names_enabled():
        return None
    host = urlparse("//" + (request.host or "")).hostname or ""
    if not host or host == _site_host() or request.path.startswith(("/api/", "/webassets/",
                                                                     "/base/", "/uploads/")):
        return None
    name = commune_lib.name_for_host(host)
    if name is None:
        return None
    org = commune_lib.show(name)
    if org is None:
        return None
    g.communes_commune = org
    g.communes_host_mode = True
    if request.method == "GET" and request.path in ("/", "/dataset", "/dataset/"):
        return home_page(org)
    match = DATASET_PAGE.match(request.path)
    if request.method == "GET" and match:
        package = model.Package.get(match.group(1))
        if package is not None and package.owner_org != org["id"]:
            # Another organisation's dataset: shown by the portal itself.
            site = (tk.config.get("ckan.site_url") or "").rstrip("/")
            return tk.redirect_to(site + request.full_path.rstrip("?"))
    return None


def _is_cors_request() -> bool:
    path = request.path
    if path in WIDGET_PATHS:
        return True
    for action in CORS_ACTIONS:
        if path in (f"/api/3/action/{action}", f"/api/action/{action}"):
            return True
    return False


def cors_headers(response: Response) -> Response:
    """After every request: the widget's script and its search action answer
    any origin, without credentials (no cookie is read or set for them);
    nothing else of the portal is cross-origin. The iframe widget may be
    framed by any site."""
    if _is_cors_request():
        response.headers["Access-Control-Allow-Origin"] = "*"
        response.headers["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
        response.headers["Access-Control-Allow-Headers"] = "Content-Type"
        response.headers["Access-Control-Max-Age"] = "86400"
        response.headers.pop("Access-Control-Allow-Credentials", None)
        response.headers.pop("Set-Cookie", None)
        response.headers["Vary"] = "Origin"
    if getattr(g, "communes_frameable", False):
        response.headers.pop("X-Frame-Options", None)
    return response


def dcat_known_format() -> Optional[Any]:
    """Before every request: an RDF catalogue or dataset asked in a format
    ckanext-dcat does not serialise (/catalog.json, /dataset/x.nt, .TTL)
    is a 404, as a missing dataset is, not ckanext-dcat's 500."""
    if request.endpoint not in DCAT_FORMAT_ENDPOINTS:
        return None
    fmt = (request.view_args or {}).get("_format")
    if fmt is not None and fmt not in CONTENT_TYPES:
        return tk.abort(404)
    return None
