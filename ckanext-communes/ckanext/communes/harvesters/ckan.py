"""A thin layer over ckanext-harvest's CKAN harvester for commune portals
that run CKAN: every request goes through the portal's outbound guard, and
each dataset gets the portal's licence, access level and provenance fields.

Source type `communes_ckan`; its configuration is the CKAN harvester's (see
ckanext-harvest: `organizations_filter_include`, `default_tags`,
`remote_groups`, ...) plus the keys of the commune harvesters
(`default_access_level`, `access_levels` (of the remote `access_level`
field, when the remote portal has one), `licences`, `default_licence`).
Datasets always go to the source's organisation unless `remote_orgs` says
otherwise.
"""

from __future__ import annotations

import datetime
import json

import ckan.plugins.toolkit as tk
from ckanext.harvest.harvesters.ckanharvester import CKANHarvester, ContentFetchError

from ckanext.communes import config as communes_config

from .base import (ACCESS_LEVELS, Remote, map_access, map_licence, parse_config,
                   validate_common_config)


class CommunesCKANHarvester(CKANHarvester):
    access_builtin = {level: level for level in ACCESS_LEVELS}

    def info(self):
        return {
            "name": "communes_ckan",
            "title": tk._("CKAN (commune portal)"),
            "description": tk._("Harvests a commune's CKAN portal into the source's "
                                "organisation, with the portal's licences and access levels"),
            "form_config_interface": "Text",
        }

    def validate_config(self, config):
        validate_common_config(config)
        return super().validate_config(config)

    def _get_content(self, url):
        from ckanext.grandlyon_access.outbound import OutboundError, fetch

        headers = {}
        if self.config.get("user_agent"):
            headers["User-Agent"] = str(self.config["user_agent"])
        if self.config.get("api_key"):
            headers["Authorization"] = self.config["api_key"]
        try:
            answer = fetch(url, headers=headers, timeout=communes_config.harvest_timeout(),
                           max_bytes=communes_config.harvest_max_bytes())
        except OutboundError as error:
            raise ContentFetchError(f"{url}: {error.reason}")
        if answer.status != 200:
            raise ContentFetchError(f"{url}: HTTP {answer.status}")
        return answer.text

    def modify_package_dict(self, package_dict, harvest_object):
        conf = parse_config(harvest_object.source.config)
        source = harvest_object.source
        license_id = package_dict.get("license_id") or ""
        remote = Remote(remote_id=package_dict.get("id", ""), title=package_dict.get("title", ""),
                        licence=license_id, licence_url=package_dict.get("license_url") or "",
                        access=package_dict.get("access_level") or "")
        notes: list[str] = []
        licence_id = map_licence(remote, conf, notes)
        base = source.url.rstrip("/")
        remote_name = package_dict.get("name") or package_dict.get("id")
        package_dict.update(
            license_id=licence_id,
            access_level=map_access(remote, conf, self.access_builtin, licence_id, notes),
            access_hidden="false",
            provenance_source=source.title or base,
            provenance_source_url=base,
            provenance_remote_id=package_dict.get("id", ""),
            provenance_remote_url=f"{base}/dataset/{remote_name}",
            provenance_remote_modified=package_dict.get("metadata_modified") or "",
            provenance_harvested=datetime.datetime.utcnow().replace(microsecond=0).isoformat(),
            provenance_notes="\n".join(notes),
            provenance_withdrawn="",
        )
        for key in ("extras",):
            package_dict[key] = [e for e in package_dict.get(key) or []
                                 if e.get("key") not in package_dict]
        if isinstance(package_dict.get("spatial"), dict):
            package_dict["spatial"] = json.dumps(package_dict["spatial"])
        return package_dict
