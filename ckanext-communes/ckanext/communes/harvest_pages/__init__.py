"""ckanext-harvest's pages as the portal shows them: copies of a few of its
templates (harvest_pages/templates/), with its English words translated,
the harvesters' messages in the reader's language and what to do when a
job failed.

ckanext-harvest comes before this plugin in `ckan.plugins`, so its
templates would win over this plugin's own directory; `put_first` puts
this directory just before ckanext-harvest's, which changes nothing for
any other template."""

from __future__ import annotations

import os
from typing import Any

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "templates")


def put_first(config: Any) -> None:
    """Puts harvest_pages/templates just before ckanext-harvest's templates
    in the template search path (once CKAN has computed it)."""
    paths = [p for p in config.get("computed_template_paths") or [] if p != HERE]
    harvest = next((i for i, p in enumerate(paths)
                    if p.rstrip(os.sep).endswith(os.path.join("ckanext", "harvest", "templates"))),
                   None)
    if harvest is None:
        return
    paths.insert(harvest, HERE)
    config["computed_template_paths"] = paths
