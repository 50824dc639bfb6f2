from __future__ import annotations

import ckan.plugins as p
import ckan.plugins.toolkit as tk


@tk.blanket.config_declarations
class GrandlyonAccessPlugin(p.SingletonPlugin):
    """Access levels (open, licensed, restricted), circles, grants and access requests: the portal's one access policy."""
