"""Options of the grandlyon_licence plugin and their typed getters.

Declared in config_declaration.yaml; read at call time, never at import.
"""

from __future__ import annotations

import ckan.plugins.toolkit as tk


def registry_path() -> str:
    """Path of the licence registry file (YAML) that seeds the registry in
    the database, or an empty string (CKAN's own licences)."""
    return tk.config["ckanext.grandlyon_licence.registry"] or ""
