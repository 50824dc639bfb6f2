"""Schemas of the communes plugin's actions."""

from __future__ import annotations

from typing import Any

from ckan.logic.schema import validator_args


@validator_args
def widget_search(ignore_missing, ignore_empty, unicode_safe, strip_value, not_empty,
                  natural_number_validator, communes_widget_page_size,
                  communes_max_length) -> dict[str, Any]:
    return {
        "commune": [not_empty, unicode_safe, communes_max_length(100)],
        "q": [ignore_missing, unicode_safe, communes_max_length(200)],
        "tags": [ignore_missing, unicode_safe, communes_max_length(500)],
        # CKAN's natural_number_validator fails on "" and " ": blank is no page.
        "page": [ignore_empty, unicode_safe, strip_value, ignore_empty, natural_number_validator],
        "page_size": [communes_widget_page_size],
    }

