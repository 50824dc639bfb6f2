from __future__ import annotations

from typing import Any

import ckan.plugins as p
import ckan.plugins.toolkit as tk
from ckan.authz import get_local_functions
from ckan.lib.plugins import DefaultPermissionLabels, DefaultTranslation

from ckanext.grandlyon_access import gate, inputguard, policy, resilience, search
from ckanext.grandlyon_access.logic import action, auth, datastore, surfaces


# Chained actions of surfaces that exist only with another plugin: chaining
# an action nobody defines stops CKAN at start-up. (The DataStore's are in
# logic/datastore.py, with their auth functions.)
_CHAINS_NEEDING = {
    "harvest": ("harvest_object_show", "harvest_object_list"),
    "activity": ("package_activity_list", "organization_activity_list", "group_activity_list",
                 "user_activity_list", "recently_changed_packages_activity_list",
                 "dashboard_activity_list", "activity_show", "activity_data_show",
                 "activity_diff"),
}


def _datastore_wrapped(table: dict[str, Any]) -> dict[str, Any]:
    return datastore.wrapped("datastore" in tk.aslist(tk.config.get("ckan.plugins")),
                             tk.asbool(tk.config.get("ckan.datastore.sqlsearch.enabled")), table)


def _actions() -> dict[str, Any]:
    """The plugin's actions (logic/action.py), the chained actions that gate
    CKAN's own surfaces (logic/surfaces.py) less those of plugins this
    configuration does not load, and the DataStore's (logic/datastore.py)."""
    loaded = set(tk.aslist(tk.config.get("ckan.plugins")))
    absent = {name for plugin, names in _CHAINS_NEEDING.items() if plugin not in loaded
              for name in names}
    surface_chains = {name: getattr(surfaces, name) for name in surfaces.__all__
                      if name not in absent}
    return {**dict(get_local_functions(action)), **surface_chains,
            **_datastore_wrapped(datastore.ACTIONS)}


def _auth_functions() -> dict[str, Any]:
    """The plugin's auth functions (logic/auth.py) and the DataStore's
    chained ones (logic/datastore.py)."""
    return {**{name: getattr(auth, name) for name in auth.__all__},
            **_datastore_wrapped(datastore.AUTH_FUNCTIONS)}


@tk.blanket.actions(_actions)
@tk.blanket.auth_functions(_auth_functions)
@tk.blanket.validators
@tk.blanket.helpers
@tk.blanket.blueprints
@tk.blanket.config_declarations
class GrandlyonAccessPlugin(p.SingletonPlugin, DefaultTranslation, DefaultPermissionLabels):
    """Access levels (open, licensed, restricted), circles, grants and access
    requests: the portal's one access policy (see policy.py)."""

    p.implements(p.IConfigurer)
    p.implements(p.IFacets, inherit=True)
    p.implements(p.IPackageController, inherit=True)
    p.implements(p.IPermissionLabels)
    p.implements(p.IMiddleware, inherit=True)
    p.implements(p.ITranslation)

    # IConfigurer

    def update_config(self, config: Any) -> None:
        tk.add_template_directory(config, "templates")
        tk.add_resource("assets", "grandlyon_access")

    # IFacets: the dataset search filters by access level.

    def dataset_facets(self, facets_dict: dict[str, Any], package_type: str) -> dict[str, Any]:
        return search.add_access_facet(facets_dict)

    # IPackageController: no gated origin URL leaves through a dataset dict
    # or the search index.

    def after_dataset_show(self, context: Any, pkg_dict: dict[str, Any]) -> dict[str, Any]:
        return gate.hide_origin_urls(context, pkg_dict)

    def before_dataset_index(self, pkg_dict: dict[str, Any]) -> dict[str, Any]:
        return gate.index_without_origin_urls(pkg_dict)

    def after_dataset_search(self, search_results: dict[str, Any],
                             search_params: dict[str, Any]) -> dict[str, Any]:
        return search.label_access_facet(search_results)

    # IPermissionLabels: a hidden restricted dataset is seen by its grantees
    # only; grants live in the user's labels, so a change of membership or
    # an expiry needs no reindex.

    def get_dataset_labels(self, dataset_obj: Any) -> list[str]:
        labels = super().get_dataset_labels(dataset_obj)
        if labels == ["public"] and policy.is_hidden(dataset_obj):
            owner = (f"member-{dataset_obj.owner_org}" if dataset_obj.owner_org
                     else f"creator-{dataset_obj.creator_user_id}")
            return [policy.GRANTEE_LABEL.format(dataset_obj.id), owner]
        return labels

    def get_user_dataset_labels(self, user_obj: Any) -> list[str]:
        return policy.cached_per_request(("user_labels", getattr(user_obj, "id", None)),
                                         lambda: self._user_dataset_labels(user_obj))

    def _user_dataset_labels(self, user_obj: Any) -> list[str]:
        labels = super().get_user_dataset_labels(user_obj)
        if user_obj and not user_obj.is_anonymous:
            labels.extend(policy.GRANTEE_LABEL.format(pid)
                          for pid in policy.granted_package_ids(user_obj.id))
        return labels

    # IMiddleware: the resource download routes go through the policy; a
    # search outage answers 503 with what to do (resilience.py).

    def make_middleware(self, app: Any, config: Any) -> Any:
        if hasattr(app, "before_request"):
            app.before_request(policy.start_request_cache)
            app.before_request(inputguard.refuse_nul)
            app.before_request(inputguard.drop_foreign_targets)
            app.before_request(inputguard.refuse_mismatched_activity)
            app.before_request(inputguard.confirm_state_changes)
            inputguard.accept_confirmations(app)
            app.before_request(gate.check_download)
            resilience.install(app)
        return app
