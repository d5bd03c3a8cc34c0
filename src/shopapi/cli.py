"""`flask` commands: database migrations, the purge of expired rows, signing keys and the
table of settings."""

from __future__ import annotations

from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from . import db, setting, signing
from .config import Settings

db_cli = AppGroup("db", help="Database migrations.")


@db_cli.command("upgrade")
@click.argument("revision", default="head")
def upgrade(revision: str) -> None:
    """Apply migrations up to REVISION (default: the newest)."""
    settings: Settings = current_app.extensions["settings"]
    db.upgrade(settings.database_url, revision)
    click.echo(f"database at {revision}")


# A plugin command (entry point `flask.commands` in pyproject.toml), not an app command:
# it must run where the app cannot start yet, in production before its first key exists.
keys_cli = click.Group("keys", help="Keys that sign access tokens (JWT_ALGORITHM=EdDSA).")


@keys_cli.command("generate")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
def generate(path: Path) -> None:
    """Write a new Ed25519 private key to PATH (PEM, readable by its owner only); prints
    its kid. An existing file is never replaced."""
    try:
        kid = signing.write_new_key(path)
    except FileExistsError:
        raise click.ClickException(f"{path} exists; a key file is never overwritten") from None
    except OSError as error:
        raise click.ClickException(f"cannot write {path}: {error.strerror}") from None
    click.echo(kid)
    click.echo(
        f"Wrote {path}. To publish it before it signs, add it last to JWT_PRIVATE_KEY_FILES; "
        f"to sign with it, put it first.",
        err=True,
    )


# A plugin command too: it reads only the declarations, never the environment.
settings_cli = click.Group("settings", help="The settings the service reads.")


@settings_cli.command("table")
@click.option(
    "--write",
    "document",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Put the table in this Markdown file, between its markers, instead of printing it.",
)
def settings_table(document: Path | None) -> None:
    """Print the Markdown table of every setting: variable, default and meaning."""
    generated = setting.table(Settings)
    if document is None:
        click.echo(generated, nl=False)
        return
    try:
        updated = setting.replace_table(document.read_text(encoding="utf-8"), generated)
    except ValueError as error:
        raise click.ClickException(f"{document}: {error}") from None
    document.write_text(updated, encoding="utf-8")
    count = sum(1 for _ in setting.declared(Settings))
    click.echo(f"wrote the table of {count} settings to {document}")


def register(app: Flask) -> None:
    from .purge import purge_command, purge_idempotency_keys

    app.cli.add_command(db_cli)
    app.cli.add_command(purge_command)
    app.cli.add_command(purge_idempotency_keys)
