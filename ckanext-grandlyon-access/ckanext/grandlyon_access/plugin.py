from __future__ import annotations

from typing import Any

import ckan.plugins as p
import ckan.plugins.toolkit as tk
from ckan.authz import get_local_functions
from ckan.lib.plugins import DefaultPermissionLabels, DefaultTranslation

from ckanext.grandlyon_access import gate, policy
from ckanext.grandlyon_access.logic import action, surfaces


def _actions() -> dict[str, Any]:
    """The plugin's actions (logic/action.py) and the chained actions that
    gate CKAN's own surfaces (logic/surfaces.py)."""
    return {**dict(get_local_functions(action)), **dict(get_local_functions(surfaces))}


@tk.blanket.actions(_actions)
@tk.blanket.auth_functions
@tk.blanket.validators
@tk.blanket.helpers
@tk.blanket.blueprints
@tk.blanket.config_declarations
class GrandlyonAccessPlugin(p.SingletonPlugin, DefaultTranslation, DefaultPermissionLabels):
    """Access levels (open, licensed, restricted), circles, grants and access
    requests: the portal's one access policy (see policy.py)."""

    p.implements(p.IConfigurer)
    p.implements(p.IPackageController, inherit=True)
    p.implements(p.IPermissionLabels)
    p.implements(p.IMiddleware, inherit=True)
    p.implements(p.ITranslation)

    # IConfigurer

    def update_config(self, config: Any) -> None:
        tk.add_template_directory(config, "templates")

    # IPackageController: no gated origin URL leaves through a dataset dict
    # or the search index.

    def after_dataset_show(self, context: Any, pkg_dict: dict[str, Any]) -> dict[str, Any]:
        return gate.hide_origin_urls(context, pkg_dict)

    def before_dataset_index(self, pkg_dict: dict[str, Any]) -> dict[str, Any]:
        return gate.index_without_origin_urls(pkg_dict)

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
        labels = super().get_user_dataset_labels(user_obj)
        if user_obj is not None and not user_obj.is_anonymous:
            labels.extend(policy.GRANTEE_LABEL.format(pid)
                          for pid in policy.granted_package_ids(user_obj.id))
        return labels

    # IMiddleware: the resource download routes go through the policy.

    def make_middleware(self, app: Any, config: Any) -> Any:
        if hasattr(app, "before_request"):
            app.before_request(gate.check_download)
        return app
