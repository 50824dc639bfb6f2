"""Chained actions and auth functions that close CKAN's own doors to gated
data: each one asks the policy (policy.py) for the datasets it would reveal.
One module per area of CKAN, one function per CKAN action, named after it;
each module says in a table what its chains do, and holds `ACTIONS`,
`AUTH_FUNCTIONS` and the plugin it needs loaded (`NEEDS_PLUGIN`). The access
plugin registers `actions()` and `auth_functions()` beside its own.

| Area | Module | Needs |
| --- | --- | --- |
| datasets, resources, their lists, organisations and groups | `datasets.py` | |
| tags | `tags.py` | |
| resource views | `views.py` | |
| following | `following.py` | |
| activity streams | `activity.py` | `activity` |
| harvest objects | `harvest.py` | `harvest` |
| DataStore (actions and their auth functions) | `datastore.py` | `datastore` |

Besides these chains, the policy reaches CKAN through the plugin's other
interfaces (plugin.py): permission labels (search and package_show of
hidden datasets), dataset dicts and the search index without origin URLs
(gate.py), and the download routes (gate.check_download).

What they enforce (tests/test_access_matrix.py holds one row per surface):

- a dataset whose metadata the user may not see is missing: lists leave it
  out, and an action naming it (or its resource, view, activity, harvest
  object, DataStore table) answers exactly as for an id that does not exist;
- a dataset whose data the user may not read shows no origin URL: resource
  URLs become the portal's download route (gate.py), also in the snapshots
  that activities keep, whatever the level was when they were taken.

Datasets can only be hidden from a user by CKAN's `private` flag or by the
policy's `access_hidden`: lists ask the policy about those datasets only.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from types import ModuleType
from typing import Any

import ckan.plugins.toolkit as tk
from ckanext.grandlyon_access.shared import is_storable_text

from . import activity, datasets, datastore, following, harvest, tags, views

AREAS: tuple[ModuleType, ...] = (datasets, tags, views, following, activity, harvest, datastore)


# The keys by which CKAN's actions name one object (a dataset, resource,
# view, activity, tag, table...): always text.
ID_KEYS = ("id", "id2", "resource_id", "object_id")


def _ids_as_text(action: Callable) -> Callable:
    """The chained action, refusing an id that is not text (a number, a
    list, an object: a parameter repeated in a query string is a list; text
    PostgreSQL cannot hold) with
    a validation error naming it, before anything looks it up: CKAN failed
    on them in the database with a 500, and a lookup that unpacked them
    answered otherwise for a hidden object than for a missing one."""
    @functools.wraps(action)
    def wrapper(next_action: Callable, context: Any, data_dict: Any) -> Any:
        if isinstance(data_dict, dict):
            wrong = {key: [tk._("Give one identifier, as text")] for key in ID_KEYS
                     if key in data_dict and data_dict[key] is not None
                     and not (isinstance(data_dict[key], str)
                              and is_storable_text(data_dict[key]))}
            if wrong:
                raise tk.ValidationError(wrong)
        return action(next_action, context, data_dict)
    return wrapper


def _configured(table: str) -> dict[str, Any]:
    """`table` (ACTIONS or AUTH_FUNCTIONS) of every area whose plugin this
    configuration loads."""
    loaded = set(tk.aslist(tk.config.get("ckan.plugins")))
    out: dict[str, Any] = {}
    for area in AREAS:
        if area.NEEDS_PLUGIN and area.NEEDS_PLUGIN not in loaded:
            continue
        functions = getattr(area, table)
        functions = area.configured(functions) if hasattr(area, "configured") else functions
        if table == "ACTIONS":
            functions = {name: _ids_as_text(fn) for name, fn in functions.items()}
        out.update(functions)
    return out


def actions() -> dict[str, Any]:
    """The chained actions of this configuration."""
    return _configured("ACTIONS")


def auth_functions() -> dict[str, Any]:
    """The chained auth functions of this configuration."""
    return _configured("AUTH_FUNCTIONS")
