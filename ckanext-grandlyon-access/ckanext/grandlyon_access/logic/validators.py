"""Validators of the access plugin (dataset fields and action input)."""

from __future__ import annotations

import datetime
from typing import Any

import ckan.lib.navl.dictization_functions as df
import ckan.model as model
import ckan.plugins.toolkit as tk
from ckan.logic.validators import isodate

from ckanext.grandlyon_access import config, policy
from ckanext.grandlyon_access.model import Circle, utcnow
from ckanext.grandlyon_access.site import throttle
from ckanext.grandlyon_licence import shared as licences


def grandlyon_access_level(value: Any) -> str:
    """`open`, `licensed` or `restricted`; empty means the configured default."""
    if value is df.missing or value is None or value == "":
        return config.default_level()
    if value not in policy.LEVELS:
        raise tk.Invalid(tk._("Choose an access level among: open, licensed, restricted"))
    return value


def grandlyon_access_level_needs_licence(key, data, errors, context) -> None:
    """A `licensed` dataset needs a licence that must be signed."""
    if data.get(key) != "licensed":
        return
    licence_id = data.get(("license_id",))
    if not licence_id or not licences.licence_requires_signature(licence_id):
        errors[key].append(tk._(
            "A licensed dataset needs a licence that users must sign: choose such a licence"
        ))


def grandlyon_access_bool(value: Any) -> str:
    """Stores a yes/no field as "true" or "false"."""
    if value is df.missing or value is None or value == "":
        return "false"
    return "true" if tk.asbool(value) else "false"


def grandlyon_access_future_date(value: Any, context) -> datetime.datetime:
    """An ISO date or date-time in the future (the end of a grant)."""
    when = isodate(value, context)
    if when is None:  # CKAN's isodate lets "" through as None
        raise tk.Invalid(tk._("The expiry date must be in the future"))
    if isinstance(when, datetime.datetime) and when.tzinfo is not None:
        when = when.astimezone(datetime.timezone.utc).replace(tzinfo=None)
    if when <= utcnow():
        raise tk.Invalid(tk._("The expiry date must be in the future"))
    return when


def grandlyon_access_circle_name_available(value: str, context) -> str:
    if model.Session.query(Circle).filter(Circle.name == value).first():
        raise tk.Invalid(tk._("A circle with this name already exists"))
    return value


def grandlyon_access_max_length(length: int):
    """A validator factory: text of at most `length` characters."""

    def validator(value: Any) -> Any:
        if isinstance(value, str) and len(value) > length:
            raise tk.Invalid(tk._("At most {n} characters").format(n=length))
        return value

    return validator


# The largest row offset PostgreSQL takes (a bigint).
MAX_OFFSET = 2 ** 63 - 1


def grandlyon_access_offset(value: Any) -> Any:
    """An offset the database can take (after natural_number_validator):
    a larger one failed in PostgreSQL with a 500."""
    if isinstance(value, int) and value > MAX_OFFSET:
        raise tk.Invalid(tk._("Must be at most {maximum}").format(maximum=MAX_OFFSET))
    return value


def grandlyon_access_throttle_kinds(value: Any) -> list[str]:
    """Doors of the throttling (site/throttle.py), as a list or one
    space- or comma-separated text; empty means all of them."""
    kinds = tk.aslist(value.replace(",", " ")) if isinstance(value, str) else value
    if not isinstance(kinds, list) or any(k not in throttle.KINDS for k in kinds):
        raise tk.Invalid(tk._("Must be a list of: {kinds}").format(kinds=", ".join(throttle.KINDS)))
    return kinds or list(throttle.KINDS)
