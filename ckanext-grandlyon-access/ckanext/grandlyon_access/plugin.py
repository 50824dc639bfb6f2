from __future__ import annotations

from typing import Any

import ckan.plugins as p
import ckan.plugins.toolkit as tk
from ckan.authz import get_local_functions
from ckan.lib.plugins import DefaultPermissionLabels, DefaultTranslation
from ckanext.grandlyon_access import gate, helpers, policy, search, tokens
from ckanext.grandlyon_access.editorial import action as editorial_action
from ckanext.grandlyon_access.editorial import auth as editorial_auth
from ckanext.grandlyon_access.editorial import helpers as editorial_helpers
from ckanext.grandlyon_access.editorial import images as editorial_images
from ckanext.grandlyon_access.logic import action, auth, surfaces
from ckanext.grandlyon_access.site import (
    api_help,
    catalogue_export,
    headers,
    home,
    inputguard,
    plurals,
    resilience,
    sessions,
    throttle,
    twofactor_views,
)


def _actions() -> dict[str, Any]:
    """The plugin's actions (logic/action.py, editorial/action.py) and the
    chained actions that gate CKAN's own surfaces (logic/surfaces/, one
    module per area)."""
    return {**dict(get_local_functions(action)), **surfaces.actions(),
            **{name: getattr(editorial_action, name) for name in editorial_action.__all__}}


def _auth_functions() -> dict[str, Any]:
    """The plugin's auth functions (logic/auth.py) and the chained ones of
    CKAN's surfaces (logic/surfaces/)."""
    return {**{name: getattr(auth, name) for name in auth.__all__}, **surfaces.auth_functions(),
            **{name: getattr(editorial_auth, name) for name in editorial_auth.__all__}}


def _helpers() -> dict[str, Any]:
    """The plugin's template helpers (helpers.py, editorial/helpers.py, the
    catalogue export's and the API help's in site/)."""
    return {**{name: getattr(module, name)
               for module in (helpers, editorial_helpers) for name in module.__all__},
            **catalogue_export.template_helpers(), **api_help.template_helpers()}


@tk.blanket.actions(_actions)
@tk.blanket.auth_functions(_auth_functions)
@tk.blanket.validators
@tk.blanket.helpers(_helpers)
@tk.blanket.blueprints
@tk.blanket.config_declarations
@tk.blanket.cli
class GrandlyonAccessPlugin(p.SingletonPlugin, DefaultTranslation, DefaultPermissionLabels):
    """Access levels (open, licensed, restricted), circles, grants and access
    requests: the portal's one access policy (see policy.py)."""

    p.implements(p.IConfigurer)
    p.implements(p.IConfigurable)
    p.implements(p.IFacets, inherit=True)
    p.implements(p.IPackageController, inherit=True)
    p.implements(p.IPermissionLabels)
    p.implements(p.IMiddleware, inherit=True)
    p.implements(p.ITranslation)
    p.implements(p.IApiToken, inherit=True)
    p.implements(p.IAuthenticator, inherit=True)

    # IConfigurer

    def update_config(self, config: Any) -> None:
        tk.add_template_directory(config, "templates")
        tk.add_resource("assets", "grandlyon_access")
        editorial_images.set_upload_types(config)

    def update_config_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        """The home page's settings at /ckan-admin/config (site/home.py)."""
        return home.config_schema(schema)

    # IConfigurable: overrides of other plugins' templates (site/headers.py).

    def configure(self, config: Any) -> None:
        headers.put_templates_first(config)

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

    # IAuthenticator: a right password asks for the second factor of a user
    # who has one or must have one (site/twofactor_views.py).

    def login(self) -> Any:
        return twofactor_views.password_step()

    # IApiToken: with CKAN's expire_api_token, a token has a default and a
    # maximum lifetime, and one past its recorded expiry is refused
    # (tokens.py).

    def create_api_token_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        return tokens.create_schema(schema)

    def preprocess_api_token(self, data: Any) -> Any:
        return tokens.refuse_expired(data)

    # IMiddleware: the resource download routes go through the policy; a
    # search outage answers 503 with what to do; every response carries the
    # security headers; logins and account requests are throttled (site/).

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
            plurals.install(app)
            throttle.install(app)
            sessions.install(app)
            home.install(app)
            app.after_request(headers.add_security_headers)
        return app
