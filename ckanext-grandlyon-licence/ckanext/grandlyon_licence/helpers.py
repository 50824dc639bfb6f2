"""Template helpers of the grandlyon_licence plugin."""

from __future__ import annotations

from . import registry

__all__ = ["grandlyon_licence_localized", "grandlyon_licence_detail_label"]


def grandlyon_licence_localized(value: dict[str, str] | None) -> str:
    """The text of a {fr: ..., en: ...} mapping in the request's language."""
    return registry.localize(value)


def grandlyon_licence_detail_label(licence_id: str, name: str) -> str:
    """The label, in the request's language, of a signer detail of a licence
    (the detail's name when the registry no longer has it)."""
    licence = registry.get_licence(licence_id)
    detail = licence.detail(name) if licence else None
    return registry.localize(detail.label) if detail else name
