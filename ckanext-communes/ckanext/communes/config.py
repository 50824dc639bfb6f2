"""Options of the communes plugin and their typed getters.

Declared in config_declaration.yaml; read at call time, never at import.
"""

from __future__ import annotations

import ckan.plugins.toolkit as tk


def territory() -> str:
    """Name of the territory the communes belong to."""
    return tk.config["ckanext.communes.territory"]


def image_max_bytes() -> int:
    """Largest logo or banner upload, in bytes."""
    return tk.config["ckanext.communes.image.max_bytes"]


def boundary_max_bytes() -> int:
    """Largest GeoJSON boundary, in bytes."""
    return tk.config["ckanext.communes.boundary.max_bytes"]


def widget_max_page_size() -> int:
    """Most datasets a widget shows per page."""
    return tk.config["ckanext.communes.widget.max_page_size"]


def host_names_enabled() -> bool:
    """Whether the Host header selects a commune's white-label view."""
    return tk.config["ckanext.communes.host_names.enabled"]


def harvest_default_licence() -> str:
    """Licence of a harvested dataset whose remote licence is unknown."""
    return tk.config["ckanext.communes.harvest.default_licence"]


def harvest_timeout() -> int:
    """Seconds to wait for a remote portal."""
    return tk.config["ckanext.communes.harvest.timeout"]


def harvest_max_bytes() -> int:
    """Largest remote answer read by a harvester, in bytes."""
    return tk.config["ckanext.communes.harvest.max_bytes"]


def harvest_max_pages() -> int:
    """Most pages of a remote catalogue read in one job."""
    return tk.config["ckanext.communes.harvest.max_pages"]


def harvest_deadline() -> int:
    """Seconds one remote request may take in all, however slowly it answers."""
    return tk.config["ckanext.communes.harvest.deadline"]


def harvest_retries() -> int:
    """How many times a request answered 429 or 503 is tried again."""
    return tk.config["ckanext.communes.harvest.retries"]


def harvest_max_wait() -> int:
    """Longest wait, in seconds, before trying a rate-limited request again."""
    return tk.config["ckanext.communes.harvest.max_wait"]


def harvest_max_withdraw() -> str:
    """How many datasets one harvest job may withdraw, by default: a number
    or a percentage of the source's datasets ("20%")."""
    return tk.config["ckanext.communes.harvest.max_withdraw"]


def dcat_mappings_path() -> str:
    """The portal's DCAT-AP mapping file ("": the shipped defaults alone)."""
    return tk.config["ckanext.communes.dcat.mappings"]


def dcat_publisher_uri() -> str:
    """IRI of the DCAT-AP catalogue's publisher (default: `<site URL>/#publisher`,
    an IRI of its own: the site URL names the catalogue and its homepage)."""
    return (tk.config["ckanext.communes.dcat.publisher_uri"]
            or tk.config["ckan.site_url"].rstrip("/") + "/#publisher")


def dcat_publisher_name() -> str:
    """Name of the DCAT-AP catalogue's publisher (default: the site title)."""
    return tk.config["ckanext.communes.dcat.publisher_name"] or tk.config["ckan.site_title"]


def dcat_publisher_type() -> str:
    """ADMS publisher type IRI of the catalogue's publisher ("" for none)."""
    return tk.config["ckanext.communes.dcat.publisher_type"]


def dcat_languages() -> list[str]:
    """EU language IRIs of the DCAT-AP catalogue."""
    return list(tk.config["ckanext.communes.dcat.languages"])


def dcat_theme_taxonomies() -> list[str]:
    """Theme taxonomy IRIs of the DCAT-AP catalogue."""
    return list(tk.config["ckanext.communes.dcat.theme_taxonomies"])
