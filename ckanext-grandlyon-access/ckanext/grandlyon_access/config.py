"""Options of the grandlyon_access plugin and their typed getters.

Declared in config_declaration.yaml; read at call time, never at import.
"""

from __future__ import annotations

import ckan.plugins.toolkit as tk


def default_level() -> str:
    """Access level of a dataset whose publisher chose none."""
    return tk.config["ckanext.grandlyon_access.default_level"]


def outbound_allow() -> list[str]:
    """Hosts, addresses or networks fetched from even when private."""
    return tk.config["ckanext.grandlyon_access.outbound.allow"]


def outbound_max_bytes() -> int:
    """Largest remote body read, in bytes."""
    return tk.config["ckanext.grandlyon_access.outbound.max_bytes"]


def outbound_deadline() -> int:
    """Seconds a remote request may take in all."""
    return tk.config["ckanext.grandlyon_access.outbound.deadline"]
