"""Reactions of the history plugin to core actions (CKAN signals).

`dataset_purge` removes a dataset and its resources from the database
without telling the resource plugins (no `after_resource_delete`): once it
succeeded, the histories of the resources that are gone (feeds, gaps, rows,
archive files) are removed, as deleting them does. A failure here never
fails the purge; `ckan history compact` prunes what is left.
"""

from __future__ import annotations

import logging
from typing import Any

import ckan.model as model
import ckan.plugins.toolkit as tk
from ckan import types

from .logic import action

log = logging.getLogger(__name__)


def get_subscriptions() -> types.SignalMapping:
    return {tk.signals.action_succeeded: [{"sender": "dataset_purge", "receiver": dataset_purged}]}


def dataset_purged(sender: str, **kwargs: Any) -> None:
    """Removes the histories whose resource no longer exists."""
    try:
        gone = action.prune(purged_only=True)
    except Exception:  # the dataset is purged already: never a failed purge
        model.Session.rollback()
        log.exception(
            "histories of the purged dataset %s kept for `ckan history compact` to prune",
            (kwargs.get("data_dict") or {}).get("id"),
        )
        return
    if gone:
        log.info(
            "dataset %s purged: histories of %s removed",
            (kwargs.get("data_dict") or {}).get("id"),
            ", ".join(gone),
        )
