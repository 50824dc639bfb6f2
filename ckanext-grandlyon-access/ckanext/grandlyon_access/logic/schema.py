"""Validation schemas of the access plugin's actions."""

from __future__ import annotations

from ckan.logic.schema import validator_args


@validator_args
def show(not_empty, unicode_safe):
    return {"id": [not_empty, unicode_safe]}


@validator_args
def circle_create(not_empty, unicode_safe, name_validator, ignore_missing,
                  grandlyon_access_circle_name_available):
    return {
        "name": [not_empty, unicode_safe, name_validator, grandlyon_access_circle_name_available],
        "title": [not_empty, unicode_safe],
        "description": [ignore_missing, unicode_safe],
    }


@validator_args
def circle_update(not_empty, unicode_safe, ignore_missing):
    return {
        "id": [not_empty, unicode_safe],
        "title": [ignore_missing, not_empty, unicode_safe],
        "description": [ignore_missing, unicode_safe],
    }


@validator_args
def circle_member(not_empty, unicode_safe, ignore_empty, grandlyon_access_future_date):
    return {
        "circle_id": [not_empty, unicode_safe],
        "user": [not_empty, unicode_safe],
        "expires": [ignore_empty, grandlyon_access_future_date],
    }


@validator_args
def grant_create(not_empty, unicode_safe, ignore_missing, ignore_empty, grandlyon_access_future_date):
    return {
        "package_id": [not_empty, unicode_safe],
        "circle_id": [ignore_missing, unicode_safe],
        "user": [ignore_missing, unicode_safe],
        "expires": [ignore_empty, grandlyon_access_future_date],
    }


@validator_args
def package_only(not_empty, unicode_safe):
    return {"package_id": [not_empty, unicode_safe]}


@validator_args
def request_create(not_empty, unicode_safe, ignore_missing, grandlyon_access_max_length):
    return {
        "package_id": [not_empty, unicode_safe],
        "message": [not_empty, unicode_safe, grandlyon_access_max_length(2000)],
    }


@validator_args
def request_list(ignore_missing, unicode_safe, one_of):
    return {
        "package_id": [ignore_missing, unicode_safe],
        "status": [ignore_missing, one_of(["pending", "approved", "rejected"])],
    }


@validator_args
def request_decide(not_empty, unicode_safe, ignore_missing, ignore_empty, one_of, grandlyon_access_max_length,
                   grandlyon_access_future_date):
    return {
        "id": [not_empty, unicode_safe],
        "decision": [not_empty, one_of(["approve", "reject"])],
        "reason": [ignore_missing, unicode_safe, grandlyon_access_max_length(2000)],
        "expires": [ignore_empty, grandlyon_access_future_date],
    }


@validator_args
def log_list(ignore_missing, ignore_empty, unicode_safe, strip_value, isodate, natural_number_validator,
             limit_to_configured_maximum, grandlyon_access_offset):
    return {
        "package_id": [ignore_missing, unicode_safe],
        "user": [ignore_missing, unicode_safe],
        "licence_id": [ignore_missing, unicode_safe],
        "since": [ignore_missing, isodate],
        "until": [ignore_missing, isodate],
        # CKAN's natural_number_validator fails (500) on "", " " and []: empty
        # and blank values are dropped first.
        "limit": [ignore_empty, unicode_safe, strip_value, ignore_empty, natural_number_validator,
                  limit_to_configured_maximum("ckan.search.rows_max", 1000)],
        "offset": [ignore_empty, unicode_safe, strip_value, ignore_empty, natural_number_validator,
                   grandlyon_access_offset],
    }


@validator_args
def throttle_unlock(ignore_missing, unicode_safe, grandlyon_access_throttle_kinds):
    return {
        "account": [ignore_missing, unicode_safe],
        "address": [ignore_missing, unicode_safe],
        "kinds": [ignore_missing, grandlyon_access_throttle_kinds],
    }


@validator_args
def two_factor_reset(not_empty, unicode_safe):
    return {"id": [not_empty, unicode_safe]}
