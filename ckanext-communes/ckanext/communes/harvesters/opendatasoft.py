"""Harvester of OpenDataSoft portals through the Explore API v2.1.

The source URL is the portal's address (https://data.commune.example); the
catalogue is read from /api/explore/v2.1/catalog/datasets, `limit`/`offset`
paged, and each dataset becomes a dataset of the source's organisation with
its exports (CSV, JSON, GeoJSON for geographic data) and attachments as
resources.

Extra source configuration: `"where"` (an ODSQL filter on the catalogue,
e.g. `"publisher = \\"Ville d'Exemple\\""`), `"page_size"` (at most 100).
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import quote, urlencode

import ckan.plugins.toolkit as tk

from ckanext.communes import config as communes_config

from .base import (OBJECT, OBJECT_LIST, OPTIONAL_OBJECT, OPTIONAL_TEXT, TEXT, TEXT_LIST,
                   TEXT_OR_TEXT_LIST, CommunesHarvester, Listing, Remote, RemoteError, check_text,
                   dig, endless_paging,
                   failure_advice, get_json, html_to_text, validate_common_config)

API = "/api/explore/v2.1"


def portal_base(source_url: str) -> str:
    """The portal's address, whether the source names it or its API."""
    url = source_url.rstrip("/")
    for suffix in (API + "/catalog/datasets", API + "/catalog", API):
        if url.endswith(suffix):
            return url[: -len(suffix)]
    return url


def _as_list(value) -> list[str]:
    if not value:
        return []
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value if v]


def _bbox_of(reference):
    """A bbox given inside `geographic_reference` (an object), if any."""
    return reference.get("bbox") or reference.get("geometry") if isinstance(reference, dict) \
        else None


class OpenDataSoftHarvester(CommunesHarvester):
    # ODS "visibility": a restricted dataset is reserved to the remote
    # portal's authorised users; "domain" says nothing about access.
    access_builtin = {"domain": None, "restricted": "restricted"}

    def info(self):
        return {
            "name": "opendatasoft",
            "title": "OpenDataSoft (Explore API v2.1)",
            "description": tk._("Harvests the catalogue of an OpenDataSoft portal "
                                "(Explore API v2.1) into the source's organisation"),
            "form_config_interface": "Text",
        }

    config_checks = {"where": check_text}
    record_shape = {
        "metas": OBJECT, "metas.default": OBJECT, "metas.default.title": TEXT,
        "metas.default.description": OPTIONAL_TEXT, "metas.default.keyword": TEXT_OR_TEXT_LIST,
        "metas.default.theme": TEXT_OR_TEXT_LIST, "metas.default.territory": TEXT_OR_TEXT_LIST,
        "metas.default.license": OPTIONAL_TEXT, "metas.default.license_url": OPTIONAL_TEXT,
        "metas.default.publisher": OPTIONAL_TEXT, "metas.dcat": OPTIONAL_OBJECT,
        "attachments": OBJECT_LIST, "features": TEXT_LIST, "visibility": OPTIONAL_TEXT,
    }

    def validate_config(self, config_str):
        conf = validate_common_config(config_str, self.config_checks)
        if conf.get("page_size", 100) > 100:
            raise ValueError(tk._('"page_size" must be at most 100 for OpenDataSoft'))
        return config_str

    def remote_records(self, source_url: str, conf: dict,
                       listing: Listing) -> Iterator[tuple[str, dict]]:
        """The catalogue in a stable order (`order_by=dataset_id`), each page
        checked by `listing` against `total_count`."""
        base = portal_base(source_url)
        limit = int(conf.get("page_size") or 100)
        offset = 0
        for _page in range(communes_config.harvest_max_pages()):
            params = {"limit": limit, "offset": offset, "order_by": "dataset_id"}
            if conf.get("where"):
                params["where"] = conf["where"]
            url = f"{base}{API}/catalog/datasets?{urlencode(params)}"
            page = get_json(url)
            if not isinstance(page, dict) or not isinstance(page.get("results"), list) \
                    or not isinstance(page.get("total_count"), int):
                raise RemoteError(tk._("{url}: not an OpenDataSoft catalogue page (no "
                                       "total_count and results)").format(url=url),
                                  failure_advice("shape"))
            identified = listing.entries(url, page["results"], "dataset_id", page["total_count"])
            for record in identified:
                yield record["dataset_id"], record
            offset += limit
            if not page["results"] or offset >= page["total_count"]:
                if len(page["results"]) >= limit:  # full: is the total true?
                    params["offset"] = offset
                    after = f"{base}{API}/catalog/datasets?{urlencode(params)}"
                    listing.beyond(after, dig(get_json(after), "results"), "dataset_id")
                return
        raise endless_paging(source_url)

    def describe(self, record: dict, source_url: str, conf: dict) -> Remote:
        base = portal_base(source_url)
        dataset_id = record["dataset_id"]
        meta = (record.get("metas") or {}).get("default") or {}
        dcat = (record.get("metas") or {}).get("dcat") or {}
        quoted = quote(dataset_id, safe="")
        api = f"{base}{API}/catalog/datasets/{quoted}"
        resources = []
        if record.get("has_records", True):
            exports = [("csv", "CSV"), ("json", "JSON")]
            if "geo" in (record.get("features") or []):
                exports.append(("geojson", "GeoJSON"))
            for export, fmt in exports:
                resources.append({"name": tk._("Export {format}").format(format=fmt),
                                  "url": f"{api}/exports/{export}", "format": fmt})
        for attachment in record.get("attachments") or []:
            if not isinstance(attachment, dict) or not attachment.get("id"):
                continue
            url = attachment.get("href") or attachment.get("url") or ""
            if not url.startswith(("http://", "https://")):
                url = f"{api}/attachments/{quote(attachment['id'], safe='')}"
            resources.append({"name": attachment.get("title") or attachment["id"], "url": url,
                              "format": (attachment.get("mimetype") or "").split("/")[-1].upper()})
        territory = _as_list(meta.get("territory")) or _as_list(meta.get("geographic_reference"))
        return Remote(
            remote_id=dataset_id,
            name_hint=dataset_id,
            title=meta.get("title") or dataset_id,
            notes=html_to_text(meta.get("description") or ""),
            keywords=_as_list(meta.get("keyword")),
            themes=_as_list(meta.get("theme")),
            licence=meta.get("license") or "",
            licence_url=meta.get("license_url") or "",
            licence_title=meta.get("license") or "",
            access=record.get("visibility") or "",
            modified=meta.get("modified") or meta.get("metadata_processed") or "",
            issued=meta.get("data_processed") or "",
            frequency=str(dcat.get("accrualperiodicity") or ""),
            spatial=meta.get("bbox") or meta.get("geographic_area") or _bbox_of(
                meta.get("geographic_reference")),
            spatial_text=", ".join(territory),
            publisher=meta.get("publisher") or "",
            remote_url=f"{base}/explore/dataset/{quoted}/",
            resources=resources,
        )
