"""What other extensions may use of the access plugin (besides its actions
and the auth function `grandlyon_access_data_read`).

    try:
        from ckanext.grandlyon_access.shared import record_data_read
    except ImportError:  # the access plugin is not installed
        def record_data_read(context, resource_id, surface): pass

    tk.check_access("grandlyon_access_data_read", context, {"resource_id": rid})
    ...serve the data...
    record_data_read(context, rid, "history")   # audit log, gated datasets only
"""

from __future__ import annotations

from typing import Any, Optional

from ckanext.grandlyon_access import audit

__all__ = ["record_data_read"]


def record_data_read(context: dict[str, Any], resource_id: Optional[str], surface: str) -> None:
    """Writes a read of a resource's data to the access log when its dataset
    is not open (the log of who read licensed and restricted data). `surface`
    names where the data left (e.g. "history", "chart", "map")."""
    audit.record_if_gated(context, resource_id, surface)
