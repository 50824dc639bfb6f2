from __future__ import annotations

import ckan.plugins as p
import ckan.plugins.toolkit as tk


@tk.blanket.config_declarations
class CommunesPlugin(p.SingletonPlugin):
    """A white-label view of the portal per commune, embeddable widgets and harvesters of commune portals."""
