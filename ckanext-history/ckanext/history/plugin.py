from __future__ import annotations

import logging

import ckan.model as model
import ckan.plugins as p
import ckan.plugins.toolkit as tk
from ckan.lib.plugins import DefaultTranslation
from ckanext.history import map_view, subscriptions
from ckanext.history.logic import action, auth
from ckanext.history.views import history

log = logging.getLogger(__name__)


@tk.blanket.config_declarations
@tk.blanket.helpers
@tk.blanket.actions(action.get_actions)
@tk.blanket.auth_functions(auth.get_auth_functions)
@tk.blanket.blueprints(lambda: [history])
@tk.blanket.cli
class HistoryPlugin(p.SingletonPlugin, DefaultTranslation):
    """History of real-time data: feed ingest, hot PostgreSQL tier, Parquet archive queried with DuckDB."""

    p.implements(p.IConfigurer)
    p.implements(p.ITranslation)
    p.implements(p.IResourceController, inherit=True)
    p.implements(p.ISignal)
    p.implements(p.IResourceView, inherit=True)

    # IResourceController: a deleted resource's history goes with it (its
    # feed stops, its rows and files are removed). Resources that vanish
    # another way are pruned by `ckan history compact`.

    def before_resource_delete(self, context, resource, resources) -> None:
        context.setdefault("history_deleted_resources", []).append(resource.get("id"))

    def after_resource_delete(self, context, resources) -> None:
        for resource_id in context.pop("history_deleted_resources", []):
            if not resource_id:
                continue
            try:
                action.delete_history(resource_id)
            except Exception:  # the resource is deleted already: never a failed delete
                log.exception("history of deleted resource %s kept for `ckan history compact` "
                              "to prune", resource_id)
                model.Session.rollback()

    # ISignal: a purged dataset's histories go with it (subscriptions.py).

    def get_signal_subscriptions(self):
        return subscriptions.get_subscriptions()

    # IConfigurer: the history page and the link from the resource page,
    # the map view's script.

    def update_config(self, config) -> None:
        tk.add_template_directory(config, "templates")
        tk.add_resource("assets", "history")

    # IResourceView: the map through time (`history_map`, map_view.py), for
    # a history whose feed declares coordinates; needs the dataviz plugin.

    def info(self) -> dict:
        return map_view.info()

    def can_view(self, data_dict) -> bool:
        return map_view.can_view(data_dict)

    def setup_template_variables(self, context, data_dict) -> dict:
        return map_view.setup_template_variables(context, data_dict)

    def view_template(self, context, data_dict) -> str:
        return "history/map_view.html"

    def form_template(self, context, data_dict) -> str:
        return "history/map_view_form.html"
