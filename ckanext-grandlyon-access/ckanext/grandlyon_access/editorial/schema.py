"""Validation of the editorial actions' input."""

from __future__ import annotations

import re
from typing import Any

import ckan.lib.navl.dictization_functions as df
import ckan.plugins.toolkit as tk
from ckan.logic.schema import validator_args
from ckanext.grandlyon_access.editorial.model import KINDS, STATES

# A slug: lower-case letters, digits and single hyphens, 2 to 100 characters.
SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){1,99}$")
TITLE_MAX = 200
BODY_MAX = 100_000


def editorial_slug(value: Any) -> str:
    """The address of a page or an article: lower-case letters, digits and
    hyphens (e.g. `terms-of-use`)."""
    value = str(value).strip()
    if not SLUG.match(value):
        raise tk.Invalid(tk._("An address is 2 to 100 lower-case letters, digits and hyphens "
                              "(e.g. terms-of-use), starting and ending with a letter or "
                              "a digit"))
    return value


def _one_of(allowed: tuple[str, ...]):
    def check(value: Any) -> str:
        if value not in allowed:
            raise tk.Invalid(tk._("Choose one of: {values}").format(values=", ".join(allowed)))
        return value
    return check


def _max_length(limit: int):
    def check(value: Any) -> str:
        if len(value) > limit:
            raise tk.Invalid(tk._("At most {n} characters").format(n=limit))
        return value
    return check


def _one_title(key, data, errors, context) -> None:
    """A page has a title in at least one language."""
    titles = [data.get((name,)) for name in ("title_fr", "title_en")]
    if not any(t and t is not df.missing and str(t).strip() for t in titles):
        errors[("title_fr",)].append(tk._("Give a title in French or in English"))


def _text(ignore_missing, unicode_safe, limit: int) -> list:
    return [ignore_missing, unicode_safe, _max_length(limit)]


@validator_args
def create(not_empty, ignore_missing, unicode_safe, boolean_validator, default):
    return {
        "kind": [not_empty, unicode_safe, _one_of(KINDS)],
        "name": [not_empty, unicode_safe, editorial_slug],
        "state": [default("draft"), unicode_safe, _one_of(STATES)],
        "title_fr": _text(ignore_missing, unicode_safe, TITLE_MAX),
        "title_en": _text(ignore_missing, unicode_safe, TITLE_MAX),
        "body_fr": _text(ignore_missing, unicode_safe, BODY_MAX),
        "body_en": _text(ignore_missing, unicode_safe, BODY_MAX),
        "clear_image": [ignore_missing, boolean_validator],
        "__before": [_one_title],
    }


@validator_args
def update(not_empty, ignore_missing, unicode_safe, boolean_validator):
    return {
        "id": [not_empty, unicode_safe],
        "name": [ignore_missing, unicode_safe, editorial_slug],
        "state": [ignore_missing, unicode_safe, _one_of(STATES)],
        "title_fr": _text(ignore_missing, unicode_safe, TITLE_MAX),
        "title_en": _text(ignore_missing, unicode_safe, TITLE_MAX),
        "body_fr": _text(ignore_missing, unicode_safe, BODY_MAX),
        "body_en": _text(ignore_missing, unicode_safe, BODY_MAX),
        "clear_image": [ignore_missing, boolean_validator],
    }


@validator_args
def show(ignore_missing, unicode_safe):
    """By `id`, or by `kind` and `name`."""
    return {
        "id": [ignore_missing, unicode_safe],
        "kind": [ignore_missing, unicode_safe, _one_of(KINDS)],
        "name": [ignore_missing, unicode_safe],
    }


@validator_args
def delete(not_empty, unicode_safe):
    return {"id": [not_empty, unicode_safe]}


@validator_args
def list_(ignore_missing, unicode_safe, boolean_validator, default, natural_number_validator):
    return {
        "kind": [ignore_missing, unicode_safe, _one_of(KINDS)],
        "include_drafts": [default(False), boolean_validator],
        "limit": [default(20), natural_number_validator, _max_value(100)],
        "offset": [default(0), natural_number_validator],
    }


def _max_value(limit: int):
    def check(value: Any) -> int:
        value = int(value)
        if value > limit:
            raise tk.Invalid(tk._("At most {n}").format(n=limit))
        return value
    return check
