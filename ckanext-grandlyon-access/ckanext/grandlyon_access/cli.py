"""`ckan grandlyon-access ...`: what a sysadmin does on the server."""

from __future__ import annotations

import ckan.plugins.toolkit as tk
import click
from ckanext.grandlyon_access.site import throttle

__all__ = ["grandlyon_access"]


@click.group("grandlyon-access", short_help="Access to data: throttled accounts.")
def grandlyon_access():
    """Access to data and the doors to accounts."""


@grandlyon_access.command("unlock", short_help="Clear the throttling of an account or address.")
@click.option("--account", default=None, help="A user name or e-mail address (or any login text).")
@click.option("--address", default=None, help="A client IP address.")
@click.option("--kind", "kinds", multiple=True, type=click.Choice(throttle.KINDS),
              help="Only this door (repeatable; default: all of them).")
def unlock_command(account: str | None, address: str | None, kinds: tuple[str, ...]):
    """Clears the counters of failed logins, password reset requests,
    registrations and access requests of ACCOUNT and/or ADDRESS, so they
    may try again at once (site/throttle.py)."""
    if not account and not address:
        raise click.UsageError("give --account, --address or both")
    data = {"account": account or "", "address": address or "", "kinds": list(kinds)}
    result = tk.get_action("grandlyon_access_throttle_unlock")({"ignore_auth": True}, data)
    for cleared in result["cleared"]:
        click.echo(f"cleared: {cleared}")
    if not result["cleared"]:
        click.echo("nothing to clear: no counter held anything")
