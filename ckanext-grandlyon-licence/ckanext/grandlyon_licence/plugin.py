from __future__ import annotations

from typing import Any

import ckan.plugins as p
import ckan.plugins.toolkit as tk
from ckan.lib.plugins import DefaultTranslation

from . import (
    model,  # noqa: F401  (the signature table joins CKAN's metadata)
    registry,
)


@tk.blanket.config_declarations
@tk.blanket.actions
@tk.blanket.auth_functions
@tk.blanket.helpers
@tk.blanket.blueprints
@tk.blanket.cli
class GrandlyonLicencePlugin(DefaultTranslation, p.SingletonPlugin):
    """Versioned licence registry and online signatures of licences."""

    p.implements(p.IConfigurer)
    p.implements(p.IConfigurable)
    p.implements(p.ITranslation)
    p.implements(p.IPackageController, inherit=True)

    # IConfigurer
    def update_config(self, config: Any) -> None:
        tk.add_template_directory(config, "templates")

    # IConfigurable
    def configure(self, config: Any) -> None:
        # Validates the registry file (a mistake stops CKAN, naming the file
        # and the licence) and makes the registry CKAN's licence register.
        registry.install()

    # IPackageController: licence titles in the language of the request, also
    # for datasets read from the search index.
    def after_dataset_show(self, context: Any, pkg_dict: dict[str, Any]) -> None:
        registry.localize_license_titles([pkg_dict])

    def after_dataset_search(
        self, search_results: dict[str, Any], search_params: Any
    ) -> dict[str, Any]:
        registry.localize_license_titles(search_results.get("results") or [])
        return search_results
