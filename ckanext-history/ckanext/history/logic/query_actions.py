"""Actions and auth functions of the history plugin (see get_actions)."""

from __future__ import annotations


def get_actions() -> dict:
    return {}


def get_auth_functions() -> dict:
    return {}
