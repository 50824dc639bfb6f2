"""`ckan grandlyon-access ...`: what a sysadmin does on the server."""

from __future__ import annotations

import contextlib

import ckan.plugins.toolkit as tk
import click
import flask
from ckanext.grandlyon_access import tokens
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


def _require_expiring_tokens() -> None:
    if not tokens.enabled():
        raise click.ClickException(
            "API tokens do not expire here: add expire_api_token to ckan.plugins first")


@contextlib.contextmanager
def _request_context():
    """Links and languages of the mails need a request: the `ckan` command's
    app makes one (a test may already be in one)."""
    if flask.has_request_context():
        yield
        return
    with click.get_current_context().meta["flask_app"].test_request_context():
        yield


@grandlyon_access.command("backfill-token-expiry",
                          short_help="Give API tokens without expiry the default lifetime.")
def backfill_token_expiry_command():
    """Gives every API token that has no expiry (made before the
    expire_api_token plugin was on) the default lifetime from now. Run once
    on upgrade; running it again changes nothing."""
    _require_expiring_tokens()
    click.echo(f"tokens given an expiry: {tokens.backfill()}")


@grandlyon_access.command("notify-expiring-tokens",
                          short_help="E-mail the owners of API tokens that expire soon.")
def notify_expiring_tokens_command():
    """E-mails the owner of each API token that expires within
    ckanext.grandlyon_access.api_token.notify_before_days, once per token
    (recorded on the token: a rerun sends nothing twice)."""
    _require_expiring_tokens()
    with _request_context():
        counts = tokens.notify_expiring()
    click.echo(f"notices sent: {counts['sent']}, owners without e-mail: "
               f"{counts['without_email']}, failed (tried again next run): {counts['failed']}")


@grandlyon_access.command("two-factor-reset", short_help="Reset a user's two-factor sign-in.")
@click.argument("user")
def two_factor_reset_command(user: str):
    """Removes the second factor and recovery codes of USER (a name or id),
    who may then log in with the password alone and is told by e-mail; the
    reset is written to the account log (site/twofactor.py)."""
    app = click.get_current_context().meta["flask_app"]
    with app.test_request_context():
        try:
            result = tk.get_action("grandlyon_access_two_factor_reset")({"ignore_auth": True},
                                                                         {"id": user})
        except tk.ObjectNotFound:
            raise click.ClickException(f"no such user: {user}")
    click.echo(f"two-factor sign-in reset: {user}" if result["reset"]
               else f"{user} had no two-factor sign-in (nothing to reset)")
