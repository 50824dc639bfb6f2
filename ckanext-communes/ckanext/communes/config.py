"""Options of the communes plugin and their typed getters.

Declared in config_declaration.yaml; read at call time, never at import.
"""

from __future__ import annotations

import ckan.plugins.toolkit as tk


def territory() -> str:
    """Name of the territory the communes belong to."""
    return tk.config["ckanext.communes.territory"]
