"""Actions and auth functions (see get_actions)."""

from __future__ import annotations


def get_actions() -> dict:
    return {}


def get_auth_functions() -> dict:
    return {}
