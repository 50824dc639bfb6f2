"""The audit log of reads of gated data: who read what, when, through which
surface. Written by the surfaces once access was granted; read through the
action `grandlyon_access_log_list`."""

from __future__ import annotations

from typing import Any, Optional

import ckan.model as model

from ckanext.grandlyon_access import policy
from ckanext.grandlyon_access.model import AccessLog, utcnow


def record(context: dict[str, Any], package_id: str, resource_id: Optional[str], surface: str) -> None:
    """Writes one read, committed on a connection of its own: the request's
    session (and the objects it has loaded for the rest of the request) is
    left as it was, so the read is logged even if the request fails later."""
    user = policy.user_of(context)
    with model.meta.engine.begin() as connection:
        connection.execute(AccessLog.__table__.insert().values(
            at=utcnow(), user_id=user.id if user else None, package_id=package_id,
            resource_id=resource_id, surface=surface))


def record_if_gated(context: dict[str, Any], resource_id: Optional[str], surface: str) -> None:
    """Records a read of a resource's data when its dataset is not open."""
    if not resource_id:
        return
    package = policy.package_of({"resource_id": resource_id})
    if package is not None and policy.level_of(package) in policy.GATED_LEVELS:
        record(context, package.id, resource_id, surface)
