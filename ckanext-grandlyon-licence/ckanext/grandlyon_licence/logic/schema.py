"""Schemas of the plugin's actions (used with @validate)."""

from __future__ import annotations

from ckan.logic.schema import validator_args
from ckan.types import Schema, Validator, ValidatorFactory

from . import validators as v


@validator_args
def licence_list(ignore: Validator) -> Schema:
    return {"__extras": [ignore]}


@validator_args
def licence_show(
    not_missing: Validator,
    not_empty: Validator,
    ignore_empty: Validator,
    unicode_safe: Validator,
    strip_value: Validator,
) -> Schema:
    return {
        "id": [not_missing, unicode_safe, strip_value, not_empty],
        "version": [ignore_empty, unicode_safe, strip_value],
    }


@validator_args
def licence_sign(
    not_missing: Validator,
    not_empty: Validator,
    ignore_empty: Validator,
    unicode_safe: Validator,
    strip_value: Validator,
) -> Schema:
    """licence_id and version; the details the licence asks for are the other
    top-level keys (left in `__extras` and checked against the licence)."""
    return {
        "licence_id": [not_missing, unicode_safe, strip_value, not_empty],
        "version": [ignore_empty, unicode_safe, strip_value],
    }


@validator_args
def signature_list(
    ignore_missing: Validator,
    ignore_empty: Validator,
    unicode_safe: Validator,
    strip_value: Validator,
    boolean_validator: Validator,
    default: ValidatorFactory,
    natural_number_validator: Validator,
    ignore: Validator,
) -> Schema:
    return {
        "licence_id": [ignore_empty, unicode_safe, strip_value],
        "user": [ignore_empty, unicode_safe, strip_value],
        "current_only": [default(False), unicode_safe, boolean_validator],
        "include_revoked": [default(False), unicode_safe, boolean_validator],
        # CKAN's natural_number_validator fails (500) on "", " " and []: empty
        # and blank values are dropped first.
        "limit": [ignore_empty, unicode_safe, strip_value, ignore_empty, natural_number_validator],
        "offset": [ignore_empty, unicode_safe, strip_value, ignore_empty, natural_number_validator],
        "__extras": [ignore],
    }


@validator_args
def signature_revoke(
    not_missing: Validator, not_empty: Validator, unicode_safe: Validator, strip_value: Validator
) -> Schema:
    return {
        "id": [not_missing, unicode_safe, strip_value, not_empty],
        "reason": [not_missing, unicode_safe, strip_value, not_empty],
    }


def version_publish() -> Schema:
    """A licence of the registry, its new version (trimmed), never published
    before for that licence, and optionally its text per language."""
    return {
        "licence_id": [v.licence_of_registry],
        "version": [v.licence_version_text],
        "text": [v.licence_text_by_language],
        "__after": [v.licence_version_is_new],
    }
