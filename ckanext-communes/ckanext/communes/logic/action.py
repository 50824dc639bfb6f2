"""Actions of the communes plugin.

- `communes_widget_search`: what an embedded widget shows of a commune's
  datasets, searched as an anonymous visitor (the only action the portal
  answers cross-origin, with widget.js);
- `communes_list`: the communes and their public identity;
- chained `harvest_job_create`: a job asked while one is already waiting
  for the source (or for an inactive source) is a 409 saying so, in the
  reader's language, instead of ckanext-harvest's 500;
- chained `organization_create` / `organization_update`: uploaded logos and
  banners must be PNG, JPEG, WebP or GIF images (first bytes checked) no
  larger than `ckanext.communes.image.max_bytes`; the banner is stored like
  the logo;
- chained `package_update` / `resource_create`: a resource URL that cannot
  be parsed (an unclosed IPv6 bracket, a bad port) is a 409 naming `url`
  before CKAN's uploader parses it (it would fail with a 500); the dataset
  schema's `communes_resource_url` checks the rest;
- chained `dcat_catalog_show` and `dcat_dataset_show`: the `communes_access`
  RDF profile runs last whatever order `profiles` names (`profiles_in_order`);
  the catalogue's pages list datasets in creation order (`CATALOGUE_ORDER`).
- chained `dcat_catalog_show` (the RDF catalogue, /catalog.<format>):
  ckanext-dcat builds the hydra paging IRIs from the decoded query
  parameters (a space or `|` made the Turtle invalid); while it does, the
  request's parameters are seen percent-encoded (after the search has read
  them decoded from `data_dict`). `modified_since` is an ISO 8601 date or
  time, with a time zone (Z, +01:00) or without (UTC): it is given to
  ckanext-dcat in UTC without its offset; anything else is a 400 naming it.
  A `page` beyond `CATALOGUE_MAX_PAGE` is a 400 naming it (Solr failed on
  the offset of page 21474838). A search CKAN refuses (a Solr syntax
  error, local parameters `{!...}` as package_search refuses them) is a
  400 naming `q` or `fq`, not a 500.
"""

from __future__ import annotations

import os
from datetime import datetime, timezone
from importlib.metadata import entry_points
from typing import Any
from urllib.parse import quote

from flask import has_request_context
from werkzeug.datastructures import ImmutableMultiDict

import ckan.lib.uploader as uploader
import ckan.model as model
import ckan.plugins.toolkit as tk
from ckan.lib.search import SearchError
from ckan.types import Action, Context, DataDict

from ckanext.communes import communes, config
from ckanext.harvest.logic import HarvestJobExists, HarvestSourceInactiveError
from ckanext.communes.logic import schema
from ckanext.communes.dcat_profile import profiles_in_order
from ckanext.communes.logic.validators import unreadable_resource_url
from ckanext.grandlyon_access import shared as access

__all__ = ["communes_widget_search", "communes_list", "organization_create",
           "organization_update", "harvest_job_create", "package_update", "resource_create",
           "dcat_catalog_show", "dcat_dataset_show", "package_search",
           "harvest_source_show_status"]

# ckanext-dcat pages the catalogue in the order of the last change
# (`metadata_modified desc`): a dataset edited while a harvester pages
# through moves to page 1, and the harvester misses it (and sees another
# twice). The catalogue is paged in creation order instead (set in the
# context by dcat_catalog_show, read by package_search).
CATALOGUE_ORDER = "communes_catalogue_order"
CATALOGUE_SORT = "metadata_created asc, name asc"
# How CKAN's search query says Solr refused a query; the context key of the
# search that finds which parameter it was.
SOLR_FAILED = "SOLR returned an error"
NAMING_THE_PARAMETER = "communes_naming_the_search_parameter"

UPLOAD_FIELDS = {"image_upload": "image_url", "banner_upload": "banner_url"}


def _file_of(value: Any):
    stream = getattr(value, "stream", None)
    if stream is None or not getattr(value, "filename", None):
        return None
    return stream


def _check_uploads(data_dict: DataDict) -> None:
    """Refuses an uploaded logo or banner that is not a small PNG, JPEG, WebP
    or GIF, naming the field."""
    errors: dict[str, list[str]] = {}
    for field in UPLOAD_FIELDS:
        stream = _file_of(data_dict.get(field))
        if stream is None:
            continue
        head = stream.read(16)
        stream.seek(0, os.SEEK_END)
        size = stream.tell()
        stream.seek(0)
        if access.image_kind(head) is None:
            errors[field] = [tk._("The file is not a PNG, JPEG, WebP or GIF image (SVG is "
                                  "refused: it may carry scripts)")]
        elif size > config.image_max_bytes():
            errors[field] = [tk._("The image is larger than {n} bytes").format(
                n=config.image_max_bytes())]
    if errors:
        raise tk.ValidationError(errors)


def _with_banner(next_action: Action, context: Context, data_dict: DataDict) -> Any:
    _check_uploads(data_dict)
    banner = None
    if _file_of(data_dict.get("banner_upload")) is not None:
        banner = uploader.get_uploader("group")
        banner.update_data_dict(data_dict, "banner_url", "banner_upload", "clear_banner_upload")
    else:
        data_dict.pop("banner_upload", None)
    result = next_action(context, data_dict)
    if banner is not None:
        banner.upload(uploader.get_max_image_size())
    return result


@tk.chained_action
def organization_create(next_action: Action, context: Context, data_dict: DataDict) -> Any:
    return _with_banner(next_action, context, data_dict)


@tk.chained_action
def organization_update(next_action: Action, context: Context, data_dict: DataDict) -> Any:
    return _with_banner(next_action, context, data_dict)


@tk.chained_action
def package_update(next_action: Action, context: Context, data_dict: DataDict) -> Any:
    resources = data_dict.get("resources")
    if isinstance(resources, list):
        problems = [unreadable_resource_url(r) if isinstance(r, dict) else None
                    for r in resources]
        if any(problems):
            raise tk.ValidationError({"resources": [
                {"url": [problem]} if problem else {} for problem in problems]})
    return next_action(context, data_dict)


@tk.chained_action
def resource_create(next_action: Action, context: Context, data_dict: DataDict) -> Any:
    problem = unreadable_resource_url(data_dict)
    if problem:
        raise tk.ValidationError({"url": [problem]})
    return next_action(context, data_dict)


# Pages of the RDF catalogue: 10 million datasets at ckanext-dcat's 100 a
# page; Solr's offset is a 32-bit integer.
CATALOGUE_MAX_PAGE = 100_000


def _page(value: Any) -> Any:
    """The page asked, or a 400 naming `page` when it is not a whole number
    from 1 to `CATALOGUE_MAX_PAGE` (ckanext-dcat answered a 409 in English
    with a Python dict for 0, -1 or 1.5)."""
    text = str(value).strip()
    if not text.isdigit() or not 1 <= int(text) <= CATALOGUE_MAX_PAGE:
        return tk.abort(400, tk._("page must be a number from 1 to {n}")
                        .format(n=CATALOGUE_MAX_PAGE))
    return int(text)


def _modified_since(value: Any) -> str:
    """An ISO 8601 date or time as a UTC time without offset (what
    ckanext-dcat puts in its Solr range), or a 400 naming the parameter."""
    try:
        if not isinstance(value, str) or len(value) > 40:
            raise ValueError(value)
        moment = datetime.fromisoformat(value.strip())
        if moment.tzinfo is not None:
            moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
    except (ValueError, OverflowError):
        return tk.abort(400, tk._(
            "modified_since must be an ISO 8601 date or time, e.g. 2026-12-06 or "
            "2026-12-06T08:00:00Z"))
    return moment.isoformat()


@tk.chained_action
@tk.side_effect_free
def dcat_catalog_show(next_action: Action, context: Context, data_dict: DataDict) -> Any:
    data_dict = dict(data_dict, profiles=_known_profiles(data_dict.get("profiles")))
    context[CATALOGUE_ORDER] = True  # type: ignore[literal-required]
    if data_dict.get("page"):
        data_dict["page"] = _page(data_dict["page"])
    if data_dict.get("modified_since"):
        data_dict["modified_since"] = _modified_since(data_dict["modified_since"])
    try:
        if not has_request_context():
            return next_action(context, data_dict)
        request = tk.request
        decoded = request.args
        request.args = ImmutableMultiDict(
            [(key, quote(value, safe="")) for key, value in decoded.items(multi=True)])
        try:
            return next_action(context, data_dict)
        finally:
            request.args = decoded
    except SearchError as error:
        return tk.abort(400, tk._("The search of {name} cannot be run: check its syntax "
                                  "(local parameters {{!...}} are refused)")
                        .format(name=_failing_search_parameter(context, data_dict, error)))


@tk.chained_action
@tk.side_effect_free
def package_search(next_action: Action, context: Context, data_dict: DataDict) -> Any:
    """The catalogue's order (`CATALOGUE_ORDER`); a query Solr cannot parse
    is a Search Error naming `q` or `fq`, without Solr's own message (which
    spells out the filters the portal adds: site id, permission labels)."""
    if context.get(CATALOGUE_ORDER) and data_dict.get("sort") == "metadata_modified desc":
        data_dict = dict(data_dict, sort=CATALOGUE_SORT)
    try:
        return next_action(context, data_dict)
    except SearchError as error:
        if context.get(NAMING_THE_PARAMETER) or SOLR_FAILED not in str(error):
            raise
        name = _failing_search_parameter(context, data_dict, error)
        raise SearchError(tk._("The search of {name} cannot be run: check its syntax "
                               "(local parameters {{!...}} are refused)")
                          .format(name=name)) from None


@tk.chained_action
@tk.side_effect_free
def dcat_dataset_show(next_action: Action, context: Context, data_dict: DataDict) -> Any:
    return next_action(context, dict(
        data_dict, profiles=_known_profiles(data_dict.get("profiles"))))


def _known_profiles(profiles: Any) -> Any:
    """`profiles_in_order`, or a 400 naming `profiles` when one is not an
    installed RDF profile (ckanext-dcat answered a 409 in English)."""
    names = profiles_in_order(profiles)
    known = {entry.name for entry in entry_points(group="ckan.rdf.profiles")}
    unknown = [name for name in names or [] if name not in known]
    if unknown:
        return tk.abort(400, tk._("profiles: unknown RDF profile {names}; the portal's are "
                                  "{known}").format(names=", ".join(unknown)[:200],
                                                    known=", ".join(sorted(known))))
    return names


def _failing_search_parameter(context: Context, data_dict: DataDict, error: Exception) -> str:
    """`q` or `fq`: the one CKAN names in `error`, else the one a search
    alone fails with."""
    for name in ("fq", "q"):
        if f"param '{name}'" in str(error):
            return name
    if not data_dict.get("q"):
        return "fq"
    try:
        tk.get_action("package_search")(
            {"ignore_auth": True, NAMING_THE_PARAMETER: True},  # type: ignore[typeddict-item]
            {"q": data_dict["q"], "rows": 0})
    except SearchError:
        return "q"
    return "fq"


@tk.chained_action
@tk.side_effect_free
def harvest_source_show_status(next_action: Action, context: Context,
                               data_dict: DataDict) -> Any:
    """ckanext-harvest's status of a source, whose `total_datasets` counts
    the source's datasets the caller may see (the search run as them):
    ckanext-harvest leaves out private datasets only, so a hidden one was
    counted for everyone."""
    status = next_action(context, data_dict)
    if status.get("total_datasets"):
        source = model.Package.get(data_dict.get("id") or "")
        source_id = source.id if source is not None else data_dict.get("id")
        status["total_datasets"] = tk.get_action("package_search")(
            {"user": context.get("user"), "auth_user_obj": context.get("auth_user_obj")},
            {"fq": f'+harvest_source_id:"{source_id}"', "rows": 0,
             "include_private": True})["count"]
    return status


@tk.chained_action
def harvest_job_create(next_action: Action, context: Context, data_dict: DataDict) -> Any:
    try:
        return next_action(context, data_dict)
    except HarvestJobExists:
        raise tk.ValidationError({"source_id": [tk._(
            "A job is already waiting or running for this harvest source: wait for it to "
            "finish (or stop it from the source's page) before starting another one.")]}) from None
    except HarvestSourceInactiveError:
        raise tk.ValidationError({"source_id": [tk._(
            "This harvest source is inactive: make it active before starting a job.")]}) from None


def _identity(org: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": org["name"], "title": org.get("title") or org["name"],
        "primary_color": communes.colour(org.get("primary_color"), ""),
        "secondary_color": communes.colour(org.get("secondary_color"), ""),
        "logo": communes.image_src(org.get("image_url")),
        "url": tk.url_for("communes.home", name=org["name"], _external=True),
    }


def _widget_item(pkg: dict[str, Any]) -> dict[str, Any]:
    level = pkg.get("access_level") or "open"
    formats = sorted({(r.get("format") or "").upper() for r in pkg.get("resources") or []
                      if r.get("format")})
    item = {
        "name": pkg["name"], "title": pkg.get("title") or pkg["name"],
        "excerpt": tk.h.markdown_extract(pkg.get("notes") or "", extract_length=200),
        "formats": formats, "access_level": level,
        "url": tk.url_for("dataset.read", id=pkg["name"], _external=True),
        "resources": [],
    }
    if level == "open" and access.may_read_dataset_data(communes.context(user=""), pkg["id"]):
        item["resources"] = [
            {"name": r.get("name") or "", "format": (r.get("format") or "").upper(),
             "url": r.get("url") or ""}
            for r in pkg.get("resources") or []
            if (r.get("url") or "").startswith(("https://", "http://"))
        ]
    return item


@tk.side_effect_free
@tk.validate(schema.widget_search)
def communes_widget_search(context: Context, data_dict: DataDict) -> dict[str, Any]:
    """Searches a commune's datasets as an anonymous visitor sees them: what
    an embedded widget shows (title, excerpt, formats, access level, the
    dataset page, and download links of open datasets only).

    :param commune: the commune's name
    :param q: words to search (optional)
    :param tags: tags the datasets must all have, comma-separated (optional)
    :param page: page number, from 1 (optional)
    :param page_size: datasets per page (default 5, at most
        ckanext.communes.widget.max_page_size)
    """
    tk.check_access("communes_widget_search", context, data_dict)
    anonymous = communes.context(user="")
    org = communes.show(data_dict["commune"], anonymous)
    if org is None:
        raise tk.ObjectNotFound(tk._("Commune not found"))
    page = min(max(int(data_dict.get("page") or 1), 1), 1000)
    size = data_dict["page_size"]
    fq = [f"owner_org:{communes.solr_quote(org['id'])}"]
    for tag in (t.strip() for t in (data_dict.get("tags") or "").split(",")):
        if tag:
            fq.append(f"tags:{communes.solr_quote(tag)}")
    found = tk.get_action("package_search")(communes.context(user=""), {
        "q": data_dict.get("q") or "", "fq": " ".join(fq), "rows": size,
        "start": (page - 1) * size, "sort": "score desc, metadata_modified desc",
        "include_private": False,
    })
    return {
        "commune": _identity(org), "count": found["count"], "page": page, "page_size": size,
        "results": [_widget_item(pkg) for pkg in found["results"]],
    }


@tk.side_effect_free
def communes_list(context: Context, data_dict: DataDict) -> list[dict[str, Any]]:
    """The communes (organisations marked as communes) with their public
    identity: name, title, logo, colours, INSEE code, boundary (GeoJSON
    geometry or null)."""
    tk.check_access("communes_list", context, data_dict)
    # organization_list gives at most 25 organisations with all their fields
    # (ckan.group_and_organization_list_all_fields_max): read them by pages.
    orgs: list[dict[str, Any]] = []
    page_size = tk.config.get("ckan.group_and_organization_list_all_fields_max") or 25
    while True:
        page = tk.get_action("organization_list")(
            {"model": model, "user": context.get("user") or ""},
            {"all_fields": True, "include_extras": True, "include_dataset_count": False,
             "limit": page_size, "offset": len(orgs)})
        orgs.extend(page)
        if len(page) < page_size or len(orgs) > 10000:
            break
    result = []
    for org in orgs:
        extras = org.get("extras")
        if isinstance(extras, list):
            org = {**{e["key"]: e["value"] for e in extras if "key" in e}, **org}
        if not communes.is_commune(org):
            continue
        result.append({**_identity(org), "insee_code": org.get("insee_code") or "",
                       "boundary": communes.boundary(org)})
    return sorted(result, key=lambda c: c["title"].lower())
