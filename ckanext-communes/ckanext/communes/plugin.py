from __future__ import annotations

from typing import Any

import ckan.plugins as p
import ckan.plugins.toolkit as tk
from ckan.lib.plugins import DefaultTranslation
from ckanext.communes import dcat_mapping, harvest_pages, views
from ckanext.communes.dcat_profile import profiles_in_order
from ckanext.communes.harvesters.base import source_as_shown

PROFILES_OPTION = "ckanext.dcat.rdf.profiles"


@tk.blanket.actions
@tk.blanket.auth_functions
@tk.blanket.validators
@tk.blanket.helpers
@tk.blanket.blueprints
@tk.blanket.config_declarations
class CommunesPlugin(p.SingletonPlugin, DefaultTranslation):
    """A white-label view of the portal per commune, embeddable widgets and harvesters of commune portals."""

    p.implements(p.IConfigurer)
    p.implements(p.IConfigurable)
    p.implements(p.IMiddleware, inherit=True)
    p.implements(p.ITranslation)
    p.implements(p.IPackageController, inherit=True)

    # IConfigurer

    def update_config(self, config: Any) -> None:
        tk.add_template_directory(config, "templates")
        tk.add_public_directory(config, "public")

    # IConfigurable: once the template path is computed, this plugin's
    # copies of ckanext-harvest's pages go before ckanext-harvest's own; a
    # DCAT-AP mapping file that cannot be read stops CKAN at start, naming
    # itself (not the first catalogue request); the suite's RDF profile is
    # put last in ckanext.dcat.rdf.profiles.

    def configure(self, config: Any) -> None:
        harvest_pages.put_first(config)
        dcat_mapping.current()
        profiles = config.get(PROFILES_OPTION)
        if profiles:
            config[PROFILES_OPTION] = " ".join(profiles_in_order(profiles))

    # IMiddleware: the host names of the communes, the only cross-origin
    # answers of the portal (the widget's script and search), and a 404 for
    # an RDF format ckanext-dcat does not know.

    def make_middleware(self, app: Any, config: Any) -> Any:
        if hasattr(app, "before_request"):
            app.before_request(views.host_identity)
            app.before_request(views.dcat_known_format)
            app.after_request(views.cors_headers)
        return app

    # IPackageController: a harvest source saved with a config key that
    # ckanext-harvest copied over its organisation is shown with it.

    def after_dataset_show(self, context: Any, pkg_dict: dict[str, Any]) -> dict[str, Any]:
        return source_as_shown(pkg_dict)

    def before_dataset_view(self, pkg_dict: dict[str, Any]) -> dict[str, Any]:
        return source_as_shown(pkg_dict)
