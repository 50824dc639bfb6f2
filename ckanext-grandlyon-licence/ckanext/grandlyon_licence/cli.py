"""`ckan grandlyon-licence ...`: the licence registry from the command line."""

from __future__ import annotations

import click

from . import config, registry

__all__ = ["grandlyon_licence"]


@click.group("grandlyon-licence", short_help="Licence registry: seed it from its file.")
def grandlyon_licence():
    """The licence registry kept in the database."""


@grandlyon_licence.command("seed", short_help="Seed the licence registry from its file.")
def seed_command():
    """Brings the database's licence registry in line with the file named
    by ckanext.grandlyon_licence.registry: adds the licences it lacks, and
    the file's version of a licence when the database never had it (it
    becomes current); the file's titles, url and signer details replace the
    stored ones. Never removes a licence or a version, never changes a
    published version's text. Safe to run again, and while the portal runs
    (the first use of an empty registry seeds it too)."""
    path = config.registry_path()
    if not path:
        raise click.ClickException(
            "ckanext.grandlyon_licence.registry is empty: name the licence registry file "
            "(see config/licences.yaml) in the ini file first.")
    try:
        report = registry.seed(path)
    except registry.RegistryError as error:
        raise click.ClickException(str(error)) from error
    for licence_id in report["added"]:
        click.echo(f"{licence_id}: added")
    for entry in report["versions"]:
        click.echo("{}: version {} published, now current".format(*entry.split(" ", 1)))
    for licence_id in report["updated"]:
        click.echo(f"{licence_id}: title, url, signer details or CKAN fields updated")
    for entry in report["signed_only"]:
        click.echo("{}: version {} was signed before; recorded, without its text".format(
            *entry.split(" ", 1)))
    for entry in report["text_differs"]:
        click.echo(
            "{}: the file's text of version {} differs from the published one, which is "
            "kept; publish a new version to change the text".format(*entry.split(" ", 1)),
            err=True)
    if not any(report.values()):
        click.echo(f"the licence registry already matches {path}")
