"""Harvester of commune portals that run CKAN (action API v3), with the same
mapping, provenance, incremental re-harvests and withdrawal as the other
commune harvesters.

Source type `communes_ckan` (ckanext-harvest's own `ckan` harvester stays
available, but it reaches remote hosts without the portal's outbound guard
and validates datasets with CKAN's default schema, dropping this portal's
fields). The source URL is the remote CKAN's address; extra configuration:

    {"remote_organization": "<remote organisation name>",  # only its datasets
     "fq": "<extra Solr filter>",                    # e.g. "tags:mobilite"
     "page_size": 100}

The remote `license_id` (or `license_url`/`license_title`) is mapped onto
the portal's registry; a remote `access_level` (another portal of this suite)
is kept (`"access_levels"` may override it); groups are themes.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from urllib.parse import quote, urlencode

import ckan.plugins.toolkit as tk

from ckanext.communes import config as communes_config

from .base import (ACCESS_LEVELS, OBJECT_LIST, OPTIONAL_OBJECT, OPTIONAL_TEXT, TEXT,
                   CommunesHarvester, Listing, Remote, RemoteError, check_text, dig,
                   endless_paging, failure_advice,
                   get_json)


def _spatial(pkg: dict):
    value = pkg.get("spatial")
    if not value:
        for extra in pkg.get("extras") or []:
            if isinstance(extra, dict) and extra.get("key") == "spatial":
                value = extra.get("value")
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return None
    return value


def _in_organization(pkg: dict, organization) -> bool:
    """Whether the remote package belongs to `organization` (name or id;
    any package when None or empty)."""
    if not organization:
        return True
    owner = pkg.get("organization")
    if isinstance(owner, dict):
        return organization in (owner.get("name"), owner.get("id"))
    return organization == pkg.get("owner_org")


class CommunesCKANHarvester(CommunesHarvester):
    access_builtin = {level: level for level in ACCESS_LEVELS}

    def info(self):
        return {
            "name": "communes_ckan",
            "title": tk._("CKAN (commune portal)"),
            "description": tk._("Harvests a commune's CKAN portal into the source's "
                                "organisation, with the portal's licences and access levels"),
            "form_config_interface": "Text",
        }

    config_checks = {"remote_organization": check_text, "fq": check_text}
    # CKAN's title may be empty (the name stands for it).
    record_shape = {
        "name": TEXT, "title": OPTIONAL_TEXT, "notes": OPTIONAL_TEXT, "tags": OBJECT_LIST,
        "groups": OBJECT_LIST, "resources": OBJECT_LIST, "extras": OBJECT_LIST,
        "organization": OPTIONAL_OBJECT, "license_id": OPTIONAL_TEXT,
        "license_title": OPTIONAL_TEXT, "license_url": OPTIONAL_TEXT,
        "access_level": OPTIONAL_TEXT,
    }

    def remote_records(self, source_url: str, conf: dict,
                       listing: Listing) -> Iterator[tuple[str, dict]]:
        """package_search sorted on id, each page checked by `listing`
        against `count`."""
        rows = int(conf.get("page_size") or 100)
        filters = []
        if conf.get("remote_organization"):
            filters.append(f'organization:"{conf["remote_organization"]}"')
        if conf.get("fq"):
            filters.append(conf["fq"])
        start = 0
        for _page in range(communes_config.harvest_max_pages()):
            params = {"rows": rows, "start": start, "sort": "id asc"}
            if filters:
                params["fq"] = " ".join(filters)
            url = f"{source_url}/api/3/action/package_search?{urlencode(params)}"
            answer = get_json(url)
            result = answer.get("result") if isinstance(answer, dict) else None
            if not isinstance(result, dict) or not isinstance(result.get("results"), list) \
                    or not isinstance(result.get("count"), int):
                raise RemoteError(tk._("{url}: not a CKAN package_search answer").format(url=url),
                                  failure_advice("shape"))
            identified = listing.entries(url, result["results"], "id", result["count"])
            for pkg in identified:
                # A deleted or draft package is as good as absent; a package
                # of another organisation than the one configured (a remote
                # that ignores the filter) is not this source's.
                if pkg.get("type", "dataset") != "dataset" or pkg.get("private") \
                        or pkg.get("state", "active") != "active" \
                        or not _in_organization(pkg, conf.get("remote_organization")):
                    continue
                yield pkg["id"], pkg
            start += rows
            if not result["results"] or start >= result["count"]:
                if len(result["results"]) >= rows:  # full: is the count true?
                    params["start"] = start
                    after = f"{source_url}/api/3/action/package_search?{urlencode(params)}"
                    listing.beyond(after, dig(get_json(after), "result", "results"), "id")
                return
        raise endless_paging(source_url)

    def describe(self, record: dict, source_url: str, conf: dict) -> Remote:
        name = record.get("name") or record["id"]
        organization = record.get("organization") or {}
        # Every resource with an address: the mapping leaves out (with a note)
        # those whose address is not http(s).
        resources = [{"name": r.get("name") or "", "description": r.get("description") or "",
                      "url": r["url"], "format": r.get("format") or "",
                      "size": r.get("size"), "mimetype": r.get("mimetype") or ""}
                     for r in record.get("resources") or []
                     if isinstance(r, dict) and isinstance(r.get("url"), str) and r["url"]]
        return Remote(
            remote_id=record["id"],
            name_hint=name,
            title=record.get("title") or name,
            notes=record.get("notes") or "",
            keywords=[t.get("display_name") or t.get("name") for t in record.get("tags") or []
                      if isinstance(t, dict) and (t.get("display_name") or t.get("name"))],
            themes=[g.get("title") or g.get("name") for g in record.get("groups") or []
                    if isinstance(g, dict) and (g.get("title") or g.get("name"))]
            + [t for t in (record.get("theme") if isinstance(record.get("theme"), list) else [])
               if isinstance(t, str)],
            licence=record.get("license_id") or record.get("license_title") or "",
            licence_url=record.get("license_url") or "",
            licence_title=record.get("license_title") or "",
            access=record.get("access_level") or "",
            hidden=str(record.get("access_hidden")).lower() == "true",
            modified=record.get("metadata_modified") or "",
            frequency=record.get("frequency") or "",
            temporal_start=record.get("temporal_start") or "",
            temporal_end=record.get("temporal_end") or "",
            spatial=_spatial(record),
            spatial_text=record.get("spatial_text") or "",
            publisher=(organization.get("title") if isinstance(organization, dict) else "")
            or record.get("author") or "",
            remote_url=f"{source_url}/dataset/{quote(name, safe='')}",
            resources=resources,
        )
