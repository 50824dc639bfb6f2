from __future__ import annotations

import ckan.plugins as p
import ckan.plugins.toolkit as tk


@tk.blanket.config_declarations
class GrandlyonLicencePlugin(p.SingletonPlugin):
    """Versioned licence registry and online signatures of licences."""
