"""What the chained actions of every area share: the policy's decisions
for one user (`Asker`), "answer as for a missing object", and the gating of
origin URLs in dataset dicts."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import ckan.model as model
import ckan.plugins.toolkit as tk
import sqlalchemy as sa
from ckan.types import Context, DataDict
from ckanext.grandlyon_access import gate, policy

ActionFunc = Callable[[Context, DataDict], Any]


def viewer_context(context: Context) -> dict[str, Any]:
    """A fresh context of the user of `context`, for the policy: without
    `ignore_auth` (CKAN sets it on contexts it passes on, e.g. followee_list)
    and with the user object, which permission labels need (callers often
    give only the name; views give "" for anonymous)."""
    name = context.get("user") or ""
    user = context.get("auth_user_obj")
    if not isinstance(user, model.User):
        user = model.User.get(name) if name else None
    return {"model": model, "user": name, "auth_user_obj": user}


class Asker:
    """The policy's decisions for one user, asked once per dataset."""

    def __init__(self, context: Context) -> None:
        self.context = viewer_context(context)
        self._decisions: dict[str, policy.Decision] = {}

    def decision(self, package: model.Package) -> policy.Decision:
        if package.id not in self._decisions:
            self._decisions[package.id] = policy.decide(dict(self.context), package)
        return self._decisions[package.id]

    def sees(self, package: model.Package | None) -> bool:
        return package is not None and self.decision(package).metadata

    def reads(self, package: model.Package | None) -> bool:
        return package is not None and self.decision(package).data

    def unseen_ids(self) -> set[str]:
        """Ids of the datasets (any state) whose metadata the user may not
        see, among those the policy can hide: private or hidden ones."""
        hidden = sa.select(model.PackageExtra.package_id).where(
            model.PackageExtra.key == "access_hidden")
        candidates = model.Session.query(model.Package).filter(sa.or_(
            model.Package.private.is_(True), model.Package.id.in_(hidden)))
        return {package.id for package in candidates if not self.sees(package)}


def dataset(ref: str | None) -> model.Package | None:
    return policy.package_by_ref(ref)


def package_of_resource(resource_id: str | None) -> model.Package | None:
    return policy.package_of({"resource_id": resource_id}) if resource_id else None


def missing_id() -> str:
    return str(uuid.uuid4())


def as_missing(next_action: ActionFunc, context: Context, data_dict: DataDict,
                key: str = "id") -> Any:
    """Answers exactly as the action answers for an object that does not
    exist: by asking it about an id that does not exist."""
    return next_action(context, dict(data_dict, **{key: missing_id()}))


def gate_urls(pkg_dict: dict[str, Any]) -> dict[str, Any]:
    """The dataset dict with its resources' URLs turned into the portal's
    download route (gate.py), whatever level the dict itself says."""
    return gate._rewrite(pkg_dict)


def gate_resource(package: model.Package, res_dict: dict[str, Any]) -> dict[str, Any]:
    if res_dict.get("id") and res_dict.get("url_type") != "upload":
        res_dict["url"] = gate.gated_url(package.name, res_dict, package.type or "dataset")
    return res_dict



def denied_as_missing(next_action: ActionFunc, context: Context, data_dict: DataDict) -> Any:
    try:
        return next_action(context, data_dict)
    except tk.NotAuthorized:
        raise tk.ObjectNotFound() from None


def gate_dataset_dict(asker: Asker, pkg_dict: dict[str, Any]) -> None:
    """A dataset dict that did not go through package_show (followed
    datasets, activity snapshots): relationships only to datasets the user
    may see, and no origin URL without data access."""
    gate.hide_unseen_relationships(dict(asker.context), pkg_dict)
    package = dataset(pkg_dict.get("id"))
    if package is not None:
        gate_urls_for(asker, package, pkg_dict)


def gate_urls_for(asker: Asker, package: model.Package, pkg_dict: dict[str, Any]) -> None:
    """No origin URL to a user without data access; to a reader who does not
    manage the dataset, none of the files the data proxy streams (proxy.py)."""
    decision = asker.decision(package)
    if not decision.data:
        gate_urls(pkg_dict)
    elif decision.reason != "manager":
        gate.hide_streamed(pkg_dict, decision.level)


def dataset_missing_for(context: Context, data_dict: DataDict) -> bool:
    package = dataset(data_dict.get("id"))
    return package is not None and not Asker(context).sees(package)
