"""Chained actions that close CKAN's own doors to gated data: each one asks
the policy (policy.py) for the datasets it would reveal. One function per
CKAN action, named after it; registered with the plugin's other actions."""

from __future__ import annotations
