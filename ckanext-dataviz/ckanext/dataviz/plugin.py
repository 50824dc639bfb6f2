from __future__ import annotations

import ckan.plugins as p
import ckan.plugins.toolkit as tk
from ckan.lib.plugins import DefaultTranslation


def _actions() -> dict:
    from .chart import action as chart_action
    from .maps import action as map_action

    return {**chart_action.get_actions(), **map_action.get_actions()}


def _auth_functions() -> dict:
    from .chart import action as chart_action
    from .maps import action as map_action

    return {**chart_action.get_auth_functions(), **map_action.get_auth_functions()}


def _blueprints() -> list:
    from .views import dataviz

    return [dataviz]


@tk.blanket.config_declarations
@tk.blanket.actions(_actions)
@tk.blanket.auth_functions(_auth_functions)
@tk.blanket.blueprints(_blueprints)
class DatavizPlugin(p.SingletonPlugin, DefaultTranslation):
    """Chart, map and history views, a map builder and embeds.

    The resource views themselves are the plugins `dataviz_chart` and
    `dataviz_history` (chart/plugin.py) and `dataviz_map` (maps/plugin.py).
    """

    p.implements(p.IConfigurer, inherit=True)
    p.implements(p.ITranslation)

    def update_config(self, config_) -> None:
        tk.add_template_directory(config_, "templates")
        tk.add_resource("assets", "dataviz")
