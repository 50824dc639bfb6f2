"""The dataset search's facet on the access level.

Facet counts come from the same Solr query as the results: CKAN's
package_search adds the user's permission labels to that query, so a hidden
restricted dataset counts only for those who may see it.
"""

from __future__ import annotations

from typing import Any

import ckan.plugins.toolkit as tk
from ckanext.grandlyon_access import helpers

FACET_FIELD = "access_level"


def add_access_facet(facets_dict: dict[str, Any]) -> dict[str, Any]:
    """The facets of the dataset search with the access level's."""
    facets_dict[FACET_FIELD] = tk._("Access level")
    return facets_dict


def label_access_facet(search_results: dict[str, Any]) -> dict[str, Any]:
    """Names the access level facet's items in the user's language (the
    index holds the level's code: open, licensed, restricted)."""
    facet = (search_results.get("search_facets") or {}).get(FACET_FIELD)
    for item in (facet or {}).get("items") or []:
        item["display_name"] = helpers.grandlyon_access_level_label(item["name"])
    return search_results
