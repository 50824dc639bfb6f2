"""A ckanext-dcat profile that adds the portal's access conditions to its
DCAT-AP catalogue: dct:accessRights from the EU access-right vocabulary per
access level, and the dataset's licence (dct:license) on the dataset itself.

Registered as the RDF profile `communes_access` (after `euro_dcat_ap_2` in
`ckanext.dcat.rdf.profiles`). The resource URLs it serialises are those the
requesting user is shown: the portal's gated download route for data the
user may not read (the access plugin rewrites them in package_show and
package_search), never the origin.
"""

from __future__ import annotations

import ckan.plugins.toolkit as tk
from ckanext.dcat.profiles import RDFProfile
from ckanext.dcat.profiles.base import DCT
from rdflib import URIRef
from rdflib.namespace import RDF

ACCESS_RIGHT = "http://publications.europa.eu/resource/authority/access-right/"
ACCESS_RIGHTS = {"open": "PUBLIC", "licensed": "RESTRICTED", "restricted": "NON_PUBLIC"}


def access_right_uri(dataset_dict: dict) -> str:
    """The EU access right of a dataset: PUBLIC (open), RESTRICTED (licensed:
    reached after signing its licence), NON_PUBLIC (restricted: granted users
    only). A private dataset is never public."""
    level = dataset_dict.get("access_level") or "open"
    if dataset_dict.get("private"):
        level = "restricted"
    return ACCESS_RIGHT + ACCESS_RIGHTS.get(level, "NON_PUBLIC")


def licence_uri(dataset_dict: dict) -> str:
    if dataset_dict.get("license_url"):
        return dataset_dict["license_url"]
    licence_id = dataset_dict.get("license_id")
    if not licence_id:
        return ""
    return tk.config["ckan.site_url"].rstrip("/") + "/licence/" + licence_id


class CommunesAccessProfile(RDFProfile):
    def graph_from_dataset(self, dataset_dict, dataset_ref):
        g = self.g
        for node in list(g.objects(dataset_ref, DCT.accessRights)):
            g.remove((dataset_ref, DCT.accessRights, node))
        right = URIRef(access_right_uri(dataset_dict))
        g.add((dataset_ref, DCT.accessRights, right))
        g.add((right, RDF.type, DCT.RightsStatement))
        licence = licence_uri(dataset_dict)
        if licence and not list(g.objects(dataset_ref, DCT.license)):
            g.add((dataset_ref, DCT.license, URIRef(licence)))
            g.add((URIRef(licence), RDF.type, DCT.LicenseDocument))

    def graph_from_catalog(self, catalog_dict, catalog_ref):
        pass
