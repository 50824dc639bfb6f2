from __future__ import annotations

import ckan.plugins as p
import ckan.plugins.toolkit as tk
from ckan.lib.plugins import DefaultTranslation
from ckanext.dataviz import loader
from ckanext.dataviz.views import dataviz


def _blueprints() -> list:
    return [dataviz]


def _helpers() -> dict:
    def dataviz_datastore_load(resource_id: str) -> dict | None:
        """The last load of the resource's CSV into the DataStore, with its
        message in the reader's language, for the dataset's editors; None
        for anyone else, and when none was asked."""
        try:
            tk.check_access("resource_update", {}, {"id": resource_id})
        except (tk.NotAuthorized, tk.ObjectNotFound):
            return None
        load = loader.status(resource_id)
        if load is not None:
            load["message"] = loader.status_message(load)
        return load

    return {"dataviz_datastore_load": dataviz_datastore_load}


@tk.blanket.config_declarations
@tk.blanket.actions
@tk.blanket.auth_functions
@tk.blanket.blueprints(_blueprints)
@tk.blanket.helpers(_helpers)
class DatavizPlugin(p.SingletonPlugin, DefaultTranslation):
    """Chart, map and history views, a map builder and embeds, and the
    loading of uploaded CSV files into the DataStore (loader.py).

    The resource views themselves are the plugins `dataviz_chart` and
    `dataviz_history` (chart/plugin.py) and `dataviz_map` (maps/plugin.py).
    """

    p.implements(p.IConfigurer, inherit=True)
    p.implements(p.ITranslation)
    p.implements(p.IResourceController, inherit=True)
    p.implements(p.IPackageController, inherit=True)

    def update_config(self, config_) -> None:
        tk.add_template_directory(config_, "templates")
        tk.add_resource("assets", "dataviz")

    # An uploaded CSV file is loaded into the DataStore. resource_create
    # defers package_update's commit (`defer_commit`): its resource hook
    # queues the load once the resource is committed. Every other change
    # (resource_update and _patch, package_update and _patch, API clients
    # sending files) ends in a committing package_update, after its files
    # are written: after_dataset_update looks at all the dataset's resources.
    def after_resource_create(self, context, resource) -> None:
        loader.enqueue_if_needed(resource)

    def after_dataset_update(self, context, pkg_dict) -> None:
        if not context.get("defer_commit") and pkg_dict.get("id"):
            loader.enqueue_for_dataset(pkg_dict["id"])

    def before_resource_delete(self, context, resource, resources) -> None:
        loader.forget(resource["id"], commit=False)  # resource_delete commits
