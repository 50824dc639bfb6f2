"""CKAN's own messages that CKAN 2.11 leaves untranslated in French and that
the portal shows on the way to data (registering, a resource's page, the
API token page). Listed here, they are extracted into this plugin's
catalogue, which CKAN merges over its own."""

from __future__ import annotations


def N_(message: str) -> str:
    """Marks a message for extraction; translated where CKAN shows it."""
    return message


CORE_MESSAGES = (
    N_("API Token created: <code style=\"word-break:break-all;\">{token}</code> {copy}<br>"
       "Make sure to copy it now, you won't be able to see it again!"),
    N_("API Tokens"),
    N_("Dataset description:"),
    N_("Profile picture"),
    N_("Profile picture URL"),
)
