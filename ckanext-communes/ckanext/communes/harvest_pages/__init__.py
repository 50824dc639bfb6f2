"""ckanext-harvest's pages as the portal shows them (harvest_pages/templates/):
its English words translated, the harvesters' messages in the reader's
language and what to do when a job failed. No copy of its templates:

- source/new.html, source/admin_base.html, source/job/read.html and
  source/job/list.html extend ckanext-harvest's (`{% ckan_extends %}`) and
  replace only the block that changes (the aside, the source's actions, the
  job report, the job list's counts);
- source/new_source_form.html, snippets/job_details.html and
  snippets/job_error_summary.html are the portal's own (ckanext-harvest's
  have no block around what changes), with the same field names;
  snippets/communes_job_counts.html is the counts both job pages show.

ckanext-harvest comes before this plugin in `ckan.plugins`, so its
templates would win over this plugin's own directory; `put_first` puts
this directory just before ckanext-harvest's, which changes nothing for
any other template (and `ckan_extends` from here finds ckanext-harvest's,
the next directory in the search path)."""

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
