"""Harvester of udata portals (data.gouv.fr and others) through API v1.

The source URL is the portal's address (https://www.data.gouv.fr); the source
configuration names the commune's organisation on that portal
(`"remote_organization": "<id or slug>"`; not `organization`, the name of the
source's own organisation field). Its datasets are read from
/api/1/organizations/<organization>/datasets/, following `next_page`
(on the same site only).

udata `access_type` maps onto the access level: open -> open,
open_with_account -> licensed (restricted when the dataset's licence is not
one to sign), restricted -> restricted; `"access_levels"` in the source
configuration overrides this.
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import quote, urlencode

import ckan.plugins.toolkit as tk

from ckanext.communes import config as communes_config

from .base import (OBJECT_LIST, OPTIONAL_OBJECT, OPTIONAL_TEXT, TEXT, TEXT_LIST, TEXT_OR_OBJECT,
                   CommunesHarvester, Listing, Remote, RemoteError, check_required_text,
                   check_text_map, endless_paging, failure_advice, get_json, latest_date,
                   same_site)


def site_base(source_url: str) -> str:
    url = source_url.rstrip("/")
    marker = url.find("/api/1")
    return url[:marker] if marker >= 0 else url


class UdataHarvester(CommunesHarvester):
    access_builtin = {"open": "open", "open_with_account": "licensed",
                      "restricted": "restricted"}

    def info(self):
        return {
            "name": "udata",
            "title": "udata (data.gouv.fr API v1)",
            "description": tk._("Harvests the datasets of one organisation of a udata portal "
                                "(such as data.gouv.fr) into the source's organisation"),
            "form_config_interface": "Text",
        }

    config_checks = {"remote_organization": check_required_text, "zone_names": check_text_map}
    required_keys = ("remote_organization",)
    record_shape = {
        "title": TEXT, "slug": OPTIONAL_TEXT, "description": OPTIONAL_TEXT, "page": OPTIONAL_TEXT,
        "tags": TEXT_LIST, "resources": OBJECT_LIST, "organization": OPTIONAL_OBJECT,
        "license": TEXT_OR_OBJECT, "access_type": OPTIONAL_TEXT, "spatial": OPTIONAL_OBJECT,
        "spatial.zones": (lambda v: v is None or isinstance(v, list) and all(
            isinstance(z, (str, dict)) for z in v), "a list of strings or objects"),
        "temporal_coverage": OPTIONAL_OBJECT,
    }

    def remote_records(self, source_url: str, conf: dict,
                       listing: Listing) -> Iterator[tuple[str, dict]]:
        """The organisation's datasets following `next_page`, each page
        checked by `listing` against `total`."""
        organization = str(conf.get("remote_organization") or "").strip()
        if not organization:
            raise RemoteError(tk._('The source configuration names no "remote_organization"'))
        base = site_base(source_url)
        params = {"page": 1, "page_size": int(conf.get("page_size") or 50)}
        url = (f"{base}/api/1/organizations/{quote(organization, safe='')}/datasets/?"
               f"{urlencode(params)}")
        seen_urls = set()
        for _page in range(communes_config.harvest_max_pages()):
            seen_urls.add(url)
            page = get_json(url)
            if not isinstance(page, dict) or not isinstance(page.get("data"), list) \
                    or not isinstance(page.get("total"), int):
                raise RemoteError(tk._("{url}: not a udata page of datasets (no data and "
                                       "total)").format(url=url), failure_advice("shape"))
            identified = listing.entries(url, page["data"], "id", page["total"])
            for record in identified:
                if record.get("private") or record.get("deleted") or record.get("archived"):
                    continue
                yield record["id"], record
            following = page.get("next_page")
            if not following:
                return
            if not isinstance(following, str) or not same_site(following, base) \
                    or following in seen_urls:
                raise RemoteError(tk._("{url}: the next page ({next}) is not on the same "
                                       "portal or was already read").format(url=url,
                                                                            next=following),
                                  failure_advice("listing"))
            url = following
        raise endless_paging(source_url)

    def describe(self, record: dict, source_url: str, conf: dict) -> Remote:
        temporal = record.get("temporal_coverage") or {}
        spatial = record.get("spatial") or {}
        zones = [z.get("name") or z.get("id") or z.get("code") if isinstance(z, dict) else str(z)
                 for z in (spatial.get("zones") if isinstance(spatial, dict) else None) or []]
        resources = []
        for resource in record.get("resources") or []:
            if not isinstance(resource, dict) or not resource.get("url"):
                continue
            resources.append({"name": resource.get("title") or resource.get("id") or "",
                              "description": resource.get("description") or "",
                              "url": resource["url"],
                              "format": (resource.get("format") or "").upper(),
                              "size": resource.get("filesize"),
                              "mimetype": resource.get("mime") or "",
                              # udata's stable id: the resource keeps its id
                              # here when its URL changes.
                              "remote_id": str(resource.get("id") or "")})
        organization = record.get("organization") or {}
        license_value = record.get("license") or ""
        if isinstance(license_value, dict):
            license_value = license_value.get("id") or license_value.get("title") or ""
        return Remote(
            remote_id=record["id"],
            name_hint=record.get("slug") or "",
            title=record.get("title") or record["id"],
            notes=record.get("description") or "",
            keywords=[t for t in record.get("tags") or [] if isinstance(t, str)],
            licence=license_value,
            access=record.get("access_type") or "",
            # last_modified moves with the metadata, last_update with the data.
            modified=latest_date(record.get("last_modified") or "",
                                 record.get("last_update") or ""),
            issued=record.get("created_at") or "",
            frequency=str(record.get("frequency") or ""),
            temporal_start=(temporal.get("start") or "") if isinstance(temporal, dict) else "",
            temporal_end=(temporal.get("end") or "") if isinstance(temporal, dict) else "",
            spatial=spatial.get("geom") if isinstance(spatial, dict) else None,
            zones=[str(z) for z in zones if z],
            publisher=organization.get("name") or "" if isinstance(organization, dict) else "",
            remote_url=record.get("page") or "",
            resources=resources,
        )
